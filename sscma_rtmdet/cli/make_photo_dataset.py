"""`tools/make_photo_dataset.py OUT`: write a learning benchmark's set (Roboflow COCO layout)."""
from __future__ import annotations

import time

import click

from .common import friendly_errors, seed_option

SETS = {"photo_objects": 300, "everyday": 400}  # --set -> default train images


@click.command(context_settings=dict(help_option_names=["-h", "--help"]))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--set", "set_name", type=click.Choice(sorted(SETS)), default="photo_objects", show_default=True,
              help="photo_objects: 10 flat shape classes; everyday: 8 objects of parts among look-alikes.")
@seed_option("Same seed -> byte-identical dataset.")
@click.option("--num-train", type=click.IntRange(0), help="Images in train/ [default: 300, everyday 400].")
@click.option("--num-valid", default=100, type=click.IntRange(0), show_default=True,
              help="Images in valid/.")
@click.option("--num-test", default=0, type=click.IntRange(0), show_default=True,
              help="Images in test/ (none written when 0).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Processes rendering the images (the same bytes with any number).")
@click.option("--overwrite", is_flag=True,
              help="Write into a non-empty OUT_DIR, replacing its train/ valid/ test/ folders.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@friendly_errors
def main(out_dir, set_name, seed, num_train, num_valid, num_test, workers, overwrite, no_progress):
    """Write a realistic small detection set into OUT_DIR, on real photos with clutter, occlusion and scale
    variation: photo_objects (10 kinds of small objects: disc, square, triangle, star, cross, ring, hexagon,
    arrow, crescent, diamond) or everyday (mug, bottle, key, umbrella, bulb, car, fish, tree, each among
    look-alikes that are no class).

    The photos come from the scikit-image wheel (requirements/bench.txt; no network). Layout:
    OUT_DIR/{train,valid[,test]}/ with JPEGs and _annotations.coco.json (category 0 is the Roboflow
    placeholder named after the set; the classes have ids 1..K).
    """
    from tqdm import tqdm

    from ..synth import generated_set
    from ..synth.photos import load_photos
    from ..synth.writer import format_summary

    module, make = generated_set(set_name)
    num_train = SETS[set_name] if num_train is None else num_train
    load_photos()  # a missing scikit-image is reported before the progress bar appears
    start = time.perf_counter()
    with tqdm(total=num_train + num_valid + num_test, disable=no_progress, desc="images") as bar:
        summary = make(out_dir, seed=seed, num_train=num_train, num_valid=num_valid, num_test=num_test,
                       overwrite=overwrite, progress=bar.update, workers=workers)
    click.echo(f"wrote {module.DATASET_NAME} dataset to {out_dir} (seed {seed}) in "
               f"{time.perf_counter() - start:.1f}s")
    click.echo(format_summary(summary, module.CLASSES))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
