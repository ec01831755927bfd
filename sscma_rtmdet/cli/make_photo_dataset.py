"""`tools/make_photo_dataset.py OUT`: write the photo-objects benchmark set (Roboflow COCO layout)."""
from __future__ import annotations

import time

import click

from .common import friendly_errors


@click.command(context_settings=dict(help_option_names=["-h", "--help"]))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--seed", default=0, show_default=True, help="Same seed -> byte-identical dataset.")
@click.option("--num-train", default=300, type=click.IntRange(0), show_default=True,
              help="Images in train/.")
@click.option("--num-valid", default=100, type=click.IntRange(0), show_default=True,
              help="Images in valid/.")
@click.option("--num-test", default=0, type=click.IntRange(0), show_default=True,
              help="Images in test/ (none written when 0).")
@click.option("--overwrite", is_flag=True,
              help="Write into a non-empty OUT_DIR, replacing its train/ valid/ test/ folders.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@friendly_errors
def main(out_dir, seed, num_train, num_valid, num_test, overwrite, no_progress):
    """Write a realistic small detection set into OUT_DIR: 10 kinds of small objects (disc, square,
    triangle, star, cross, ring, hexagon, arrow, crescent, diamond) on real photos, with clutter,
    occlusion and scale variation.

    The photos come from the scikit-image wheel (requirements/bench.txt; no network). Layout:
    OUT_DIR/{train,valid[,test]}/ with JPEGs and _annotations.coco.json (category 0 is the Roboflow
    placeholder "photo-objects"; the classes have ids 1-10).
    """
    from tqdm import tqdm

    from ..synth.photo_objects import CLASSES, load_photos, make_photo_objects_dataset
    from ..synth.writer import format_summary

    load_photos()  # a missing scikit-image is reported before the progress bar appears
    start = time.perf_counter()
    with tqdm(total=num_train + num_valid + num_test, disable=no_progress, desc="images") as bar:
        summary = make_photo_objects_dataset(out_dir, seed=seed, num_train=num_train, num_valid=num_valid,
                                             num_test=num_test, overwrite=overwrite, progress=bar.update)
    click.echo(f"wrote photo-objects dataset to {out_dir} (seed {seed}) in "
               f"{time.perf_counter() - start:.1f}s")
    click.echo(format_summary(summary, CLASSES))
