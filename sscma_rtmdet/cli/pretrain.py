"""tools/pretrain.py: make the toolkit's own pretrained weights (pretrained/*.pth) from generated data."""
from __future__ import annotations

from pathlib import Path

import click

from .common import cfg_options_option, friendly_errors, progress_option

SETS = {"glyphs": (3000, 200), "broad": (6000, 300)}  # --set -> default train / valid images when generated


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The weights file to write, e.g. pretrained/rtmdet_nano_silu_broad.pth.")
@click.option("--set", "set_name", type=click.Choice(sorted(SETS)), default="glyphs", show_default=True,
              help="Generated set: glyphs (36 characters on procedural textures) or broad (72 classes: glyphs, "
                   "shapes, objects of parts, cut-outs; distractors, occlusion, blur, noise).")
@click.option("--data", type=click.Path(file_okay=False),
              help="Dataset folder (generated if missing) [default: datasets/<set>].")
@click.option("--num-train", type=click.IntRange(min=8),
              help="Training images when the dataset is generated [default: glyphs 3000, broad 6000].")
@click.option("--num-valid", type=click.IntRange(min=1),
              help="Validation images when the dataset is generated [default: glyphs 200, broad 300].")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="Processes generating the dataset (the same bytes with any number).")
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(min=1))
@click.option("--imgsz", nargs=2, default=(192, 192), show_default=True, type=click.IntRange(min=32),
              metavar="H W")
@click.option("--work-dir", type=click.Path(file_okay=False),
              help="Training run folder [default: work_dirs/pretrain/<out name>]; re-running resumes it.")
@click.option("--base-lr", default=0.002, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="AdamW lr at batch 32 (used exactly; from scratch needs more than the nano recipe's 5e-4).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", type=click.IntRange(min=1),
              help="torch CPU threads while training (sets train_threads) [default: torch's, one per core]; 1 on "
                   "a CPU shared with other jobs, where threads waiting for each other burn the cores.")
@cfg_options_option
@progress_option
@friendly_errors
def main(config, out, set_name, data, num_train, num_valid, workers, epochs, imgsz, work_dir, base_lr, batch_size,
         seed, threads, cfg_options, no_progress):
    """Pretrain CONFIG's detector on a generated set (no photos of the benchmarks, no download) and write its
    weights to OUT for `load_from`.

    \b
    OUT keeps the EMA weights (backbone, neck, head; the per-class layers are skipped when loaded for another
    class count) in float16, with the recipe (this command, dataset, epochs, final val AP) in its metadata.
    The nano configs ship pretrained/ files made by glyph runs and then, from those, broad runs, e.g.:
      python tools/pretrain.py configs/rtmdet_nano_8xb32_300e_coco_relu.py --set broad --epochs 32 \\
        --out pretrained/rtmdet_nano_relu_broad.pth \\
        --cfg-options load_from=pretrained/rtmdet_nano_relu_glyphs.pth stage2_num_epochs=2
    (pretrained/README.md has each file's command). Any config can be pretrained, the MobileNetV4 one too.
    """
    import sys

    from .common import run_config
    from ..engine.pretrained import slim_state_dict
    from ..engine.trainer import Trainer, TrainOptions
    from ..runtime import checkpoint as ckpt_io

    from ..synth import generated_set

    module, make = generated_set(set_name)
    num_train, num_valid = num_train or SETS[set_name][0], num_valid or SETS[set_name][1]
    data = Path(data or f"datasets/{set_name}").resolve()
    if not (data / "valid" / "_annotations.coco.json").exists():
        click.echo(f"== generating the {set_name} set in {data} ({num_train} + {num_valid} images, {workers} workers)")
        make(data, num_train=num_train, num_valid=num_valid, workers=workers)
    h, w = imgsz
    threads_opt = [f"train_threads={threads}"] if threads else []
    cfg = run_config(config, [f"imgsz=({h},{w})", f"max_epochs={epochs}", f"batch_size={batch_size}",
                              f"base_lr={base_lr}", "load_from=None", *threads_opt, *cfg_options], data=str(data))
    work = Path(work_dir or Path("work_dirs") / "pretrain" / Path(out).stem)
    metrics = Trainer(cfg, TrainOptions(work_dir=work, config_path=config, resume="auto", seed=seed,
                                        progress=not no_progress)).train()
    final = ckpt_io.load_checkpoint_file(work / f"epoch_{epochs}.pth")
    recipe = {"command": " ".join(["python tools/pretrain.py", *sys.argv[1:]]),
              "dataset": f"sscma_rtmdet/synth/{set_name}.py", "num_train": num_train, "num_valid": num_valid,
              "epochs": epochs, "base_lr": base_lr, "batch_size": batch_size, "imgsz": [h, w], "seed": seed,
              "val_bbox_mAP": (final["meta"].get("metrics") or metrics or {}).get("coco/bbox_mAP")}
    ckpt = ckpt_io.make_checkpoint(state_dict=slim_state_dict(final["state_dict"]), config=cfg,
                                   deployment=final["meta"]["deployment"], epoch=epochs,
                                   iteration=final["meta"]["iter"], extra={"pretrain": recipe})
    path = ckpt_io.save_checkpoint(ckpt, out)
    click.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB): {recipe}")


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
