"""`tools/make_demo_dataset.py OUT`: write the synthetic shapes dataset (Roboflow COCO layout)."""
from __future__ import annotations

import time

import click

from .common import friendly_errors, seed_option


@click.command(context_settings=dict(help_option_names=["-h", "--help"]))
@click.argument("out_dir", type=click.Path(file_okay=False))
@seed_option("Same seed -> byte-identical dataset.")
@click.option("--num-train", default=240, show_default=True, help="Images in train/.")
@click.option("--num-valid", default=60, show_default=True, help="Images in valid/.")
@click.option("--num-test", default=60, show_default=True, help="Images in test/.")
@click.option("--imgsz-range", nargs=2, type=int, default=(240, 400), show_default=True,
              metavar="MIN MAX", help="Each image side (H and W drawn separately) lies in [MIN, MAX] px.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Processes rendering the images (the same bytes with any number).")
@click.option("--overwrite", is_flag=True,
              help="Write into a non-empty OUT_DIR, replacing its train/ valid/ test/ folders.")
@friendly_errors
def main(out_dir, seed, num_train, num_valid, num_test, imgsz_range, workers, overwrite):
    """Write a small detection dataset of circles, squares and triangles into OUT_DIR.

    Layout: OUT_DIR/{train,valid,test}/ with JPEGs and _annotations.coco.json (category 0 is the
    Roboflow placeholder "shapes"; classes circle, square, triangle have ids 1-3).
    """
    from ..synth.demo import CLASSES, make_demo_dataset
    from ..synth.writer import format_summary

    start = time.perf_counter()
    summary = make_demo_dataset(out_dir, seed=seed, num_train=num_train, num_valid=num_valid,
                                num_test=num_test, imgsz_range=tuple(imgsz_range), overwrite=overwrite,
                                workers=workers)
    click.echo(f"wrote demo dataset to {out_dir} (seed {seed}) in {time.perf_counter() - start:.1f}s")
    click.echo(format_summary(summary, CLASSES))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
