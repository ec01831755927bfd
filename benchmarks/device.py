"""One trained checkpoint through every deployed form for SSCMA-Micro v2 (its RTMDet model class: XIAO ESP32-S3,
a self-built Grove V2 firmware), scored on a dataset with the firmware's own decode (the stock Grove V2
firmware: benchmarks/firmware_ap.py).

    .venv/bin/python benchmarks/device.py work_dirs/demo/epoch_60.pth --data datasets/demo_shapes [--split val]

Exports int8 TFLite and Vela (tools/export.py: the board fit and Vela's report), then prints AP / AP50 of
the .pth, of the int8 file under LiteRT (XNNPACK) and under TFLite Micro's kernels (tools/test.py's path),
and of the int8 file decoded by the independent model of SSCMA-Micro in tests/deploy/sscma_firmware.py
(stretch, RGB, pixel - 128, its argmax, NMS and score threshold 0.001), with the TFLite Micro tensor arena.
The table also goes to OUT_DIR/device.md.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def firmware_module():
    spec = importlib.util.spec_from_file_location("sscma_firmware", ROOT / "tests" / "deploy" / "sscma_firmware.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sscma_firmware"] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


def firmware_ap(path: Path, coco) -> tuple[float, float]:
    """AP / AP50 of the firmware's detections on a CocoDetection."""
    from ai_edge_litert.interpreter import Interpreter

    from sscma_rtmdet.evaluation.coco_eval import evaluate_detector

    fw = firmware_module()
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    contract = fw.accept(interp)
    stats = evaluate_detector(coco, lambda img: fw.to_pixels(fw.detect(interp, contract, img, 0.001), img.shape[1],
                                                             img.shape[0]))["stats"]
    return stats[0], stats[1]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", required=True, type=click.Path(exists=True), help="Dataset root (any layout --data takes).")
@click.option("--split", default="val", show_default=True, type=click.Choice(["val", "test"]))
@click.option("--out-dir", type=click.Path(file_okay=False), help="[default: next to the checkpoint]")
def main(checkpoint, data, split, out_dir):
    from sscma_rtmdet.workflows.settings import resolve_settings
    from sscma_rtmdet.data.build import build_coco
    from sscma_rtmdet.evaluation.evaluate import evaluate
    from sscma_rtmdet.runtime.tflm import arena_bytes
    from sscma_rtmdet.utils.fileio import atomic_write_text

    ckpt = Path(checkpoint)
    out = Path(out_dir) if out_dir else ckpt.parent
    log = subprocess.run([sys.executable, str(ROOT / "tools" / "export.py"), str(ckpt), "--format", "tflite", "vela",
                          "--board", "grove_vision_ai_v2_sscma2", "--out-dir", str(out)], capture_output=True, text=True)
    if log.returncode:
        raise click.ClickException(f"export failed:\n{log.stderr[-3000:]}")
    int8 = out / f"{ckpt.stem}_int8.tflite"
    cfg = resolve_settings(None, {}, ckpt, data)
    coco = build_coco(cfg, split)
    rows = []
    for name, path, runtime in (("pth", ckpt, "litert"), ("int8, LiteRT (XNNPACK)", int8, "litert"),
                                ("int8, TFLite Micro kernels", int8, "tflm")):
        stats = evaluate(cfg, path, coco, runtime=runtime, progress=False, log=None, classwise=False)["stats"]
        rows.append((name, stats[0], stats[1]))
    rows.append(("int8, SSCMA-Micro's decoder (model of the firmware)", *firmware_ap(int8, coco)))
    lines = [f"{ckpt} on {data} ({split}, {len(coco)} images)", "", "| file / runtime | AP | AP50 |", "|---|---|---|"]
    lines += [f"| {n} | {a:.3f} | {a50:.3f} |" for n, a, a50 in rows]
    board = [ln for ln in log.stdout.splitlines() if ln.startswith(("board:", "Vela", "SRAM", "estimated"))]
    lines += ["", f"TFLite Micro tensor arena: {arena_bytes(int8) / 1024:,.0f} KiB", *board]
    table = "\n".join(lines)
    click.echo(table)
    atomic_write_text(out / "device.md", table + "\n")


if __name__ == "__main__":
    main()
