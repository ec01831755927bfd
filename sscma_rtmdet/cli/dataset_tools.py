"""`sscma-rtmdet dataset-stats ROOT` and `sscma-rtmdet convert-dataset ROOT OUT`: any dataset the toolkit
reads (Roboflow COCO, YOLO / Ultralytics data.yaml, Pascal VOC)."""
from __future__ import annotations

import click

from .common import CONTEXT, friendly_errors


@click.command("dataset-stats", context_settings=CONTEXT)
@click.argument("root", type=click.Path(exists=True))
@friendly_errors
def dataset_stats(root):
    """Print, per split of the dataset at ROOT: images, images without boxes, boxes per class, a histogram
    of box sizes, and warnings (tiny boxes, empty images, classes missing from val, rare classes)."""
    from ..data.stats import stats_report

    click.echo(stats_report(root))


@click.command("convert-dataset", context_settings=CONTEXT)
@click.argument("root", type=click.Path(exists=True))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="Write into a non-empty OUT_DIR.")
@friendly_errors
def convert_dataset(root, out_dir, overwrite):
    """Write the dataset at ROOT (YOLO / Ultralytics data.yaml, Pascal VOC, or COCO) as a Roboflow-layout
    COCO copy in OUT_DIR (train/, valid/, test/ with _annotations.coco.json; images hard-linked). Lossless:
    the class order and names are kept. Training reads YOLO and VOC directly too (--data ROOT); this is
    for other tools, or to look at the COCO the toolkit sees."""
    from ..data.formats import convert_dataset as convert
    from ..utils.safety import refuse_overwrite

    refuse_overwrite(out_dir, "OUT_DIR", folders=[root])
    for split, info in convert(root, out_dir, overwrite=overwrite).items():
        click.echo(f"{split}: {info['images']} images, {info['annotations']} boxes -> {info['folder']}")
