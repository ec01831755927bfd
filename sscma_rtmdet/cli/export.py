"""tools/export.py: checkpoint -> ONNX / TFLite float32, float16, int8 / Vela (Ethos-U55)."""
from __future__ import annotations

import click

from .common import cfg_options_option, friendly_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@cfg_options_option
@click.option("--imgsz", nargs=2, type=click.IntRange(min=32), metavar="H W",
              help="Input size (multiples of 32) [default: the config's imgsz].")
@click.option("--format", "formats", multiple=True, default=("onnx", "tflite"), show_default=True,
              metavar="FMT", help="onnx, tflite (float32+float16+int8) and/or vela (int8 compiled for "
              "Ethos-U55-64, Grove Vision AI V2); several may follow one flag.")
@click.option("--out-dir", type=click.Path(file_okay=False), help="[default: next to the checkpoint]")
@click.option("--calib-images", type=click.Path(exists=True, file_okay=False),
              help="Folder of calibration images (recursive) [default: the config's training images].")
@click.option("--calib-num", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of calibration images for int8.")
@click.option("--no-fold-normalization", is_flag=True,
              help="Keep (x-mean)/std outside the graph (input is normalised float); default folds it in so "
                   "the int8 model takes raw pixels.")
@click.option("--no-verify", is_flag=True,
              help="Skip every accuracy check (each TFLite file against ONNX, every file against torch, the "
                   "constant/saturated-output checks); an int8 file that is not fully integer is then a warning. "
                   "Evaluate the files with tools/test.py instead.")
@click.option("--allow-arch-mismatch", is_flag=True,
              help="Load a checkpoint trained with another architecture (activation, widths, head options) "
                   "than the config's; the default refuses it.")
@friendly_errors
def main(config, checkpoint, cfg_options, imgsz, formats, out_dir, calib_images, calib_num,
         no_fold_normalization, no_verify, allow_arch_mismatch):
    """Export CHECKPOINT (trained with CONFIG) for deployment.

    From work_dirs/x/epoch_50.pth it writes epoch_50.onnx, epoch_50_float32.tflite, epoch_50_float16.tflite,
    epoch_50_int8.tflite (full integer) and with vela epoch_50_int8_vela.tflite, each with a .json sidecar
    (input size/layout, colour order, mean/std, letterbox, strides, output names, classes, quantization).
    Outputs are per level: score_s8/16/32 (sigmoid) and box_s8/16/32 (l,t,r,b * stride). Every file is then
    checked against the torch model; a broken one (e.g. saturated int8 scores) fails the export.
    """
    from pathlib import Path

    from ..config import load_config
    from ..export.pipeline import ExportRequest, export_checkpoint
    from ..runtime.torch_model import resolve_model_path

    cfg = load_config(config, list(cfg_options))
    req = ExportRequest(checkpoint=resolve_model_path(checkpoint, config), formats=tuple(formats),
                        imgsz=tuple(imgsz) if imgsz else None, out_dir=Path(out_dir) if out_dir else None,
                        calib_images=Path(calib_images) if calib_images else None, calib_num=calib_num,
                        fold_normalization=not no_fold_normalization, verify=not no_verify, log=click.echo,
                        allow_arch_mismatch=allow_arch_mismatch)
    files = export_checkpoint(cfg, req)  # ExportError/VelaError are UserErrors: `error: ...`, exit 2
    click.echo("written: " + ", ".join(str(p) for p in files.values()))
