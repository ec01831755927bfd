"""Does `tools/test.py` report the AP the stock Grove Vision AI V2 firmware gets? One trained checkpoint per row:

    .venv/bin/python benchmarks/firmware_ap.py CKPT [CKPT ...] [--data ROOT] [--out-dir DIR]

Each checkpoint is exported the README's way (`--format tflite vela`: the stock firmware's YOLOv8 layout),
then scored four ways on its validation split: the `.pth` under the same firmware profile (`--board
grove_vision_ai_v2`), the `.pth` under its own target, the int8 file through `tools/test.py`, and the int8 file
through the independent model of the firmware in tests/deploy/sscma_v1_firmware.py (its resize, its decode,
integer boxes in frame pixels, its NMS; score threshold 0 %). Prints a table with the differences.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "deploy"))
AP = re.compile(r"bbox_mAP_copypaste: ([\d.-]+) ([\d.-]+)")


def _tool(*args) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise click.ClickException(f"{' '.join(map(str, args))} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr


def _ap(text: str) -> float:
    return float(AP.findall(text)[-1][0])


def firmware_ap(int8: Path, data: Path | None, ckpt: Path) -> float:
    """COCO AP of the independent firmware model's detections on the split tools/test.py scores."""
    from ai_edge_litert.interpreter import Interpreter

    import sscma_v1_firmware as fw
    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.data.build import build_coco
    from sscma_rtmdet.data.sources import dataset_options
    from sscma_rtmdet.evaluation.coco_eval import evaluate_detector
    from sscma_rtmdet.runtime.checkpoint import load_checkpoint_file, stored_config

    cfg = load_config("configs/_base_/rtmdet_base.py", dataset_options(data)) if data else \
        stored_config(load_checkpoint_file(ckpt), ckpt)
    coco = build_coco(cfg, "val")
    interp = Interpreter(model_path=str(int8))
    interp.allocate_tensors()
    contract = fw.accept(interp)
    return evaluate_detector(coco, lambda img: fw.to_xyxy(fw.detect(interp, contract, img, score_thr=0),
                                                          img.shape[1], img.shape[0]))["stats"][0]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--data", type=click.Path(file_okay=False), help="Dataset [default: the one each was trained on].")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Where the exports go [default: next to each].")
def main(checkpoints, data, out_dir):
    rows = ["| checkpoint | .pth, own target | .pth, stock Grove V2 decode | int8, tools/test.py | int8, firmware "
            "model | firmware - test.py | int8 - .pth |", "|---|---|---|---|---|---|---|"]
    extra = ["--data", data] if data else []
    for ck in map(Path, checkpoints):
        out = Path(out_dir) / ck.parent.name if out_dir else ck.parent
        _tool("tools/export.py", ck, "--format", "tflite", "vela", "--out-dir", out, "--no-verify")
        int8 = out / f"{ck.stem}_int8.tflite"
        own = _ap(_tool("tools/test.py", ck, *extra, "--no-progress"))
        pth = _ap(_tool("tools/test.py", ck, *extra, "--board", "grove_vision_ai_v2", "--no-progress"))
        ours = _ap(_tool("tools/test.py", int8, *extra, "--no-progress"))
        theirs = firmware_ap(int8, Path(data) if data else None, ck)
        rows.append(f"| {ck.parent.name}/{ck.name} | {own:.3f} | {pth:.3f} | {ours:.3f} | {theirs:.3f} | "
                    f"{theirs - ours:+.3f} | {ours - pth:+.3f} |")
        click.echo(rows[-1])
    click.echo("\n".join(rows))


if __name__ == "__main__":
    main()
