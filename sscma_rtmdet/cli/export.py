"""tools/export.py: checkpoint -> ONNX / TFLite float32, float16, int8 / Vela (Ethos-U55), checked."""
from __future__ import annotations

import click

from ..export.calibration import DEFAULT_CALIB_NUM
from .common import (CONTEXT, arch_mismatch_option, cfg_options_option, config_and_model, data_option,
                     friendly_errors, imgsz_option)


@click.command(context_settings=CONTEXT)
@click.argument("args", nargs=-1, required=True, metavar="[CONFIG] CHECKPOINT")
@data_option
@cfg_options_option
@imgsz_option(help="Input size (multiples of 32) [default: the size the checkpoint was trained at].")
@click.option("--format", "formats", multiple=True, default=("onnx", "tflite"), show_default=True,
              metavar="FMT", help="onnx, tflite (float32+float16+int8) and/or vela (int8 compiled for "
              "Ethos-U55-64, Grove Vision AI V2); several may follow one flag.")
@click.option("--layout", type=click.Choice(["sscma", "nchw", "yolov8"]), default=None,
              help="Output layout [default: the firmware's (--board): yolov8 for the stock Grove Vision AI V2 "
                   "firmware (one [1, 4+C, N] output), sscma for SSCMA-Micro v2 (six [1, H*W, C]), nchw for "
                   "generic (per-level maps)].")
@click.option("--board", default=None, metavar="NAME",
              help="The board and its firmware (sscma_rtmdet/targets.py BOARDS): grove_vision_ai_v2 (stock "
                   "firmware), grove_vision_ai_v2_sscma2 (SSCMA-Micro v2) or xiao_esp32s3; picks the layout and "
                   "decode, and fails the export when the file does not fit or its firmware would not run it "
                   "[default: grove_vision_ai_v2 with vela; else the checkpoint's target, a report for each "
                   "board].")
@click.option("--out-dir", type=click.Path(file_okay=False), help="[default: next to the checkpoint]")
@click.option("--calib-images", type=click.Path(exists=True, file_okay=False),
              help="Folder of calibration images (recursive) [default: the training images].")
@click.option("--calib-num", type=click.IntRange(min=1), default=DEFAULT_CALIB_NUM, show_default=True,
              help="Number of calibration images for int8.")
@click.option("--no-fold-normalization", is_flag=True,
              help="Keep (x-mean)/std outside the graph (input is normalised float in the training colour "
                   "order); default folds it in so the int8 model takes pixels (q = pixel - 128).")
@click.option("--no-verify", is_flag=True,
              help="Skip every accuracy check (each TFLite file against ONNX, every file against torch, the "
                   "constant/saturated-output checks); an int8 file that is not fully integer is then a warning. "
                   "Evaluate the files with tools/test.py instead.")
@arch_mismatch_option
@friendly_errors
def main(args, data, cfg_options, imgsz, formats, layout, board, out_dir, calib_images, calib_num,
         no_fold_normalization, no_verify, allow_arch_mismatch):
    """Export CHECKPOINT for deployment; CONFIG and --cfg-options are optional checks.

    From work_dirs/x/epoch_50.pth it writes epoch_50.onnx, epoch_50_float32.tflite, epoch_50_float16.tflite,
    epoch_50_int8.tflite (full integer) and with vela epoch_50_int8_vela.tflite, each with a .json sidecar
    (the deployment record: input size, resize, colour order, classes, decode; layout; quantization).
    A checkpoint trained for target sscma-micro (the nano configs) gives files Seeed's SSCMA-Micro firmware
    runs: RGB input, int8 pixel - 128, six [1, H*W, C] outputs (logits, grid-unit boxes). Every file is then
    checked against the torch model, and the int8 / Vela file against the board's memory.
    """
    from pathlib import Path

    from ..config.options import parse_cfg_options
    from ..export.pipeline import ExportRequest
    from ..workflows.export import export

    config, checkpoint = config_and_model(args, "CHECKPOINT")
    req = ExportRequest(checkpoint=checkpoint, formats=tuple(formats), imgsz=tuple(imgsz) if imgsz else None,
                        layout=layout, board=board, out_dir=Path(out_dir) if out_dir else None,
                        calib_images=Path(calib_images) if calib_images else None, calib_num=calib_num,
                        fold_normalization=not no_fold_normalization, verify=not no_verify, log=click.echo,
                        allow_arch_mismatch=allow_arch_mismatch)
    files = export(req, config, parse_cfg_options(list(cfg_options)), data)
    click.echo("written: " + ", ".join(str(p) for p in files.values()))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
