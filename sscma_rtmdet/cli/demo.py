"""tools/demo.py: the whole workflow on the embedded demo dataset, ending in one comparison table."""
from __future__ import annotations

from pathlib import Path

import click

from ..workflows.demo import DEFAULT_CONFIG
from .common import friendly_errors, imgsz_option, threads_option, work_dir_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", default=DEFAULT_CONFIG, show_default=True, type=click.Path(dir_okay=False))
@click.option("--data", default="datasets/demo_shapes", show_default=True, type=click.Path(file_okay=False),
              help="Demo dataset folder (generated if missing).")
@work_dir_option("work_dirs/demo")
@click.option("--epochs", default=60, show_default=True, type=click.IntRange(min=1))
@imgsz_option((192, 192))
@click.option("--format", "formats", multiple=True, default=("onnx", "tflite", "vela"), show_default=True,
              metavar="FMT", help="Export formats, as tools/export.py takes them (several may follow one flag).")
@threads_option
@friendly_errors
def main(config, data, work_dir, epochs, imgsz, formats, threads):
    """Generate the demo dataset, train, export (ONNX, TFLite fp32/fp16/int8, Vela) and evaluate every
    file with the same COCO pipeline. Re-running continues an interrupted training and re-uses finished
    steps; the table is also written to WORK_DIR/results.md."""
    from ..workflows.demo import DemoRequest, run_demo

    run_demo(DemoRequest(config, Path(data), Path(work_dir), epochs, tuple(imgsz), tuple(formats), threads, click.echo))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
