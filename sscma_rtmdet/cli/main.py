"""The console command: `sscma-rtmdet COMMAND ...` (also `python -m sscma_rtmdet`); tools/*.py are aliases.

Commands load their module on first use, so `sscma-rtmdet --help` answers without importing torch.
"""
from __future__ import annotations

import importlib
import sys

import click

from .common import CONTEXT, expand_cfg_options, tool_main

#: command -> (module in sscma_rtmdet.cli, one-line help)
COMMANDS = {
    "train": ("train", "Train a detector (best.pth, results.csv, plots/)."),
    "test": ("test", "COCO evaluation of a .pth/.onnx/.tflite, scored as its runtime runs it."),
    "export": ("export", "Export a checkpoint: ONNX, TFLite float32/float16/int8, Vela; board fit."),
    "infer": ("infer", "Draw detections on images, a folder or a video."),
    "quantize": ("quantization", "Quantization-aware training from the PTQ start, int8 export."),
    "demo": ("demo", "The whole workflow on the embedded demo dataset."),
    "info": ("model_info", "Parameters, FLOPs and the deployment record of a config or model file."),
    "dataset-stats": ("dataset_tools", "Images, boxes per class, box sizes and warnings of a dataset."),
    "convert-dataset": ("dataset_tools", "Write a YOLO or VOC dataset as Roboflow-layout COCO."),
    "browse": ("browse_dataset", "PNGs of augmented training samples."),
    "pretrain": ("pretrain", "Pretrain a detector on a generated set (the shipped weights)."),
    "make-demo-dataset": ("make_demo_dataset", "Write the demo dataset."),
    "make-photo-dataset": ("make_photo_dataset", "Write the learning benchmark's dataset."),
}
ALIASES = {"quantization": "quantize", "model-info": "info", "model_info": "info", "browse-dataset": "browse"}


def load_command(name: str) -> click.Command:
    module, _ = COMMANDS[name]
    mod = importlib.import_module(f"sscma_rtmdet.cli.{module}")
    return getattr(mod, name.replace("-", "_"), None) if name in ("dataset-stats", "convert-dataset") else mod.main


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        name = ALIASES.get(name, name)
        return load_command(name) if name in COMMANDS else None

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()], col_max=20)


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.version_option(package_name="sscma-rtmdet", message="sscma-rtmdet %(version)s")
def cli():
    """Train, quantize, export and evaluate RTMDet detectors for edge devices (Grove Vision AI V2,
    XIAO ESP32-S3, CPUs). `sscma-rtmdet COMMAND --help` for each command."""


def console() -> None:
    """Entry point of the `sscma-rtmdet` script."""
    tool_main(cli, expand_cfg_options(sys.argv[1:]), "sscma-rtmdet")


def run(name: str) -> None:
    """Entry of tools/<name>.py: the command with the tools' multi-value options."""
    tool_main(load_command(name), expand_cfg_options(sys.argv[1:]), sys.argv[0])
