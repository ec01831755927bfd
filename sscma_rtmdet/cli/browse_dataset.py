"""`tools/browse_dataset.py CONFIG`: write PNGs of augmented training samples with their boxes drawn."""
from __future__ import annotations

import os

import click

from .common import cfg_options_option, friendly_errors, seed_option

_PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
            (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0)]


def draw_sample(img, boxes, labels, classes):
    """Copy of img (h,w,3) uint8 BGR with boxes (n,4) xyxy and class names drawn."""
    import cv2

    out = img.copy()
    for box, label in zip(boxes, labels):
        colour = _PALETTE[int(label) % len(_PALETTE)]
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1)
        name = classes[int(label)] if 0 <= int(label) < len(classes) else str(int(label))
        cv2.putText(out, name, (x1, max(y1 - 2, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return out


@click.command(context_settings=dict(help_option_names=["-h", "--help"]))
@click.argument("config", type=click.Path(dir_okay=False))
@cfg_options_option
@click.option("--out-dir", default="work_dirs/browse_dataset", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the PNGs.")
@click.option("--num", default=20, show_default=True, type=click.IntRange(min=1), help="Samples to write.")
@click.option("--stage", default="1", show_default=True, type=click.Choice(["1", "2"]),
              help="1: mosaic/mixup pipeline; 2: the plain stage-2 pipeline.")
@seed_option("Augmentation seed.")
@friendly_errors
def main(config, cfg_options, out_dir, num, stage, seed):
    """Save augmented training samples of CONFIG (boxes and class names drawn) as PNGs in --out-dir."""
    import cv2

    from ..config import load_config
    from ..data.build import build_coco, imgsz_of, preprocess_of
    from ..data.loader import TrainDataset
    from ..data.pipeline import build_pipeline
    from ..utils.fileio import atomic_write_bytes

    cfg = load_config(config, list(cfg_options))
    coco = build_coco(cfg, "train")
    pre = preprocess_of(cfg)
    stage2 = build_pipeline(cfg.train_pipeline_stage2, "train_pipeline_stage2", pre.pad_value)
    dataset = TrainDataset(coco, build_pipeline(cfg.train_pipeline, "train_pipeline", pre.pad_value), stage2,
                           seed=seed, stretch_to=imgsz_of(cfg) if pre.resize == "stretch" else None)
    dataset.set_epoch(0, use_stage2=stage == "2")
    os.makedirs(out_dir, exist_ok=True)
    for i in range(min(num, len(dataset))):
        sample = dataset[i]
        img = draw_sample(sample["img"], sample["boxes"], sample["labels"], coco.classes)
        ok, buf = cv2.imencode(".png", img)
        if not ok:
            raise click.ClickException(f"could not encode sample {i} as PNG")
        atomic_write_bytes(os.path.join(out_dir, f"sample_{i:04d}_img{sample['img_id']}.png"), buf.tobytes())
    click.echo(f"wrote {min(num, len(dataset))} stage-{stage} samples to {out_dir}")


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
