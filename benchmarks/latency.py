"""Median single-image latency of each model format on this CPU (1 and 2 threads), nano at 192 and 320.

    .venv/bin/python benchmarks/latency.py [--config configs/rtmdet_nano_8xb32_300e_coco_relu.py]
        [--sizes 192 320] [--runs 30] [--checkpoint CKPT]

Without --checkpoint the model has random weights (latency does not depend on them). The calibration
images for int8 are random noise here, so only the timings are meaningful. Network only: no decode/NMS.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sscma_rtmdet.config import load_config  # noqa: E402
from sscma_rtmdet.data.preprocess import Preprocess  # noqa: E402
from sscma_rtmdet.models import build_model  # noqa: E402


def median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def export_all(model, pre, imgsz, out: Path) -> dict[str, Path]:
    from sscma_rtmdet.export.onnx_export import export_onnx
    from sscma_rtmdet.export.tflite_export import export_tflite

    onnx_path = out / "m.onnx"
    export_onnx(model, pre, imgsz, onnx_path, num_classes=model.num_classes)
    rng = np.random.default_rng(0)
    calib = rng.uniform(0, 255, (8, *imgsz, 3)).astype(np.float32)
    files = {"onnx": onnx_path}
    files.update(export_tflite(onnx_path, out / "m", ("float32", "float16", "int8"), calib, verify_samples=0))
    return files


@click.command()
@click.option("--config", default="configs/rtmdet_nano_8xb32_300e_coco_relu.py", show_default=True)
@click.option("--sizes", multiple=True, type=int, default=(192, 320), show_default=True)
@click.option("--runs", default=30, show_default=True)
def main(config, sizes, runs):
    from sscma_rtmdet.export.onnx_export import ExportWrapper
    from sscma_rtmdet.inference.backends import load_backend

    rows = []
    for size in sizes:
        cfg = load_config(config, ["num_classes=3", f"imgsz=({size},{size})"])
        model = build_model(cfg.model).eval()
        pre = Preprocess.from_config(cfg.preprocess)
        x_nhwc = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            files = export_all(model, pre, (size, size), Path(tmp))
            for threads in (1, 2):
                torch.set_num_threads(threads)
                wrapper = ExportWrapper(model, pre, True).eval()
                x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()

                def run_torch():
                    with torch.no_grad():
                        wrapper(x)
                rows.append((size, threads, "pth (torch)", median_ms(run_torch, runs)))
                for kind, path in files.items():
                    backend = load_backend(path, threads=threads)
                    rows.append((size, threads, kind, median_ms(lambda b=backend: b(x_nhwc), runs)))
    print(f"{'imgsz':>6} {'threads':>8}  {'format':<12} {'median ms':>10}")
    for size, threads, kind, ms in rows:
        print(f"{size:>6} {threads:>8}  {kind:<12} {ms:>10.2f}")


if __name__ == "__main__":
    main()
