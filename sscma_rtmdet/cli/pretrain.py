"""tools/pretrain.py: make the toolkit's own pretrained weights (pretrained/*.pth) from generated data."""
from __future__ import annotations

from pathlib import Path

import click

from .common import friendly_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The weights file to write, e.g. pretrained/rtmdet_nano_silu_glyphs.pth.")
@click.option("--data", default="datasets/glyphs", show_default=True, type=click.Path(file_okay=False),
              help="Glyph dataset folder (generated if missing).")
@click.option("--num-train", default=3000, show_default=True, type=click.IntRange(min=8),
              help="Training images when the dataset is generated.")
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(min=1))
@click.option("--imgsz", nargs=2, default=(192, 192), show_default=True, type=click.IntRange(min=32),
              metavar="H W")
@click.option("--work-dir", type=click.Path(file_okay=False),
              help="Training run folder [default: work_dirs/pretrain/<out name>]; re-running resumes it.")
@click.option("--base-lr", default=0.002, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="AdamW lr at batch 32 (used exactly; from scratch needs more than the nano recipe's 5e-4).")
@click.option("--seed", default=0, show_default=True, type=int)
@friendly_errors
def main(config, out, data, num_train, epochs, imgsz, work_dir, base_lr, seed):
    """Pretrain CONFIG's detector on the generated glyph set (36 classes: 0-9, A-Z, on procedural
    textures; no photos, no download) and write its weights to OUT for `load_from`.

    \b
    OUT keeps the EMA weights (backbone, neck, head; the per-class layers are skipped when loaded for another
    class count) in float16,
    with the recipe (this command, dataset, epochs, final val AP) in its metadata. The nano configs ship
    pretrained/ files made by:
      python tools/pretrain.py configs/rtmdet_nano_8xb32_300e_coco.py --out pretrained/rtmdet_nano_silu_glyphs.pth
      python tools/pretrain.py configs/rtmdet_nano_8xb32_300e_coco_relu.py \\
        --out pretrained/rtmdet_nano_relu_glyphs.pth
    """
    import sys

    from ..config import load_config
    from ..synth.glyphs import make_glyph_dataset
    from ..runtime import checkpoint as ckpt_io
    from ..engine.pretrained import slim_state_dict
    from ..engine.trainer import Trainer, TrainOptions

    data = Path(data).resolve()
    if not (data / "valid" / "_annotations.coco.json").exists():
        click.echo(f"== generating the glyph set in {data}")
        make_glyph_dataset(data, num_train=num_train)
    h, w = imgsz
    cfg = load_config(config, [
        f"data_root={data}/", "num_classes=36", "train_ann_file=train/_annotations.coco.json",
        "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/",
        f"imgsz=({h},{w})", f"max_epochs={epochs}", "batch_size=32", f"base_lr={base_lr}", "load_from=None"])
    work = Path(work_dir or Path("work_dirs") / "pretrain" / Path(out).stem)
    metrics = Trainer(cfg, TrainOptions(work_dir=work, config_path=config, resume="auto", seed=seed)).train()
    final = ckpt_io.load_checkpoint_file(work / f"epoch_{epochs}.pth")
    recipe = {"command": " ".join(["python tools/pretrain.py", *sys.argv[1:]]), "dataset": "data/glyphs.py",
              "num_train": num_train, "epochs": epochs, "base_lr": base_lr, "imgsz": [h, w], "seed": seed,
              "val_bbox_mAP": (final["meta"].get("metrics") or metrics or {}).get("coco/bbox_mAP")}
    ckpt = ckpt_io.make_checkpoint(
        state_dict=slim_state_dict(final["state_dict"]), config=cfg, classes=final["meta"]["classes"],
        preprocess=final["meta"]["preprocess"], imgsz=(h, w), epoch=epochs, iteration=final["meta"]["iter"])
    ckpt["meta"]["pretrain"] = recipe
    path = ckpt_io.save_checkpoint(ckpt, out)
    click.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB): {recipe}")
