"""Single-image latency of each model format on this CPU, with XNNPACK's share of each .tflite file.

    .venv/bin/python benchmarks/latency.py [--config configs/rtmdet_nano_8xb32_300e_coco_relu.py]
        [--sizes 192 320] [--threads 1 2] [--runs 30] [--repeats 5]

Prints the CPU and its vector ISA, then per size and thread count, for each format: the latency of its
fastest round and the median over rounds (a round = the median of `--runs` calls; formats take turns
round by round, so a load change hits all of them alike; on a shared machine other processes only ever
add time, so the fastest round is the estimate and the ratios use it), how many graph nodes LiteRT's
XNNPACK delegate runs and in how many partitions, and the speed-up over ONNX Runtime float32 and TFLite
float32.
The model has random weights (latency does not depend on them) and int8 calibrates on noise, so only the
timings mean something. Network only: input (de)quantization included, no decode/NMS.
"""
from __future__ import annotations

import platform
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

ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
             "amx_int8", "asimd", "asimddp", "i8mm", "sve")


def cpu_isa() -> str:
    """'<model name>, <cores> cores, ISA: <vector flags>' from /proc/cpuinfo (Linux), else platform info."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.processor() or platform.machine()} (no /proc/cpuinfo)"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    name = fields.get("model name") or fields.get("Hardware") or platform.machine()
    cores = text.count("processor\t:") or text.count("processor :")
    return f"{name}, {cores} cores, ISA: {' '.join(f for f in ISA_FLAGS if f in flags) or 'none of ' + str(ISA_FLAGS)}"


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

    from sscma_rtmdet.runtime.deployment import Deployment

    onnx_path = out / "m.onnx"
    export_onnx(model, Deployment.for_model(model, pre, imgsz), onnx_path)  # target generic: the BGR graph
    rng = np.random.default_rng(0)
    calib = rng.uniform(0, 255, (8, *imgsz, 3)).astype(np.float32)
    files = {"onnx": onnx_path}
    files.update(export_tflite(onnx_path, out / "m", ("float32", "float16", "int8"), calib, verify_samples=0))
    return files


def time_formats(fns: dict, runs: int, repeats: int) -> dict[str, list[float]]:
    """{format: [median ms of each round]}; every round times every format once, in turn."""
    rounds = {kind: [] for kind in fns}
    for _ in range(repeats):
        for kind, fn in fns.items():
            rounds[kind].append(median_ms(fn, runs))
    return rounds


def runners(model, pre, files: dict, x_nhwc: np.ndarray, threads: int) -> dict:
    from sscma_rtmdet.runtime.wrapper import ExportWrapper
    from sscma_rtmdet.runtime.backends import load_backend

    torch.set_num_threads(threads)
    wrapper = ExportWrapper(model, pre, True).eval()
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()

    def run_torch():
        with torch.no_grad():
            wrapper(x)
    fns = {"pth": run_torch}
    for kind, path in files.items():
        fns[kind] = lambda b=load_backend(path, threads=threads): b(x_nhwc)
    return fns


def report(size: int, threads: int, rounds: dict, delegation: dict) -> list[str]:
    best = {kind: min(v) for kind, v in rounds.items()}
    lines = []
    for kind, v in rounds.items():
        d = delegation.get(kind)
        xnn = f"{d.delegated}/{d.total} in {d.partitions}" if d else "-"
        lines.append(f"{size:>6} {threads:>7}  {kind:<8} {best[kind]:>8.2f} {statistics.median(v):>8.2f} "
                     f"{xnn:>15} {best['onnx'] / best[kind]:>7.2f}x {best['float32'] / best[kind]:>7.2f}x")
    lines.append(f"{'':>6} {'':>7}  int8 vs ONNX Runtime fp32: {best['onnx'] / best['int8']:.2f}x faster, "
                 f"vs TFLite fp32: {best['float32'] / best['int8']:.2f}x faster")
    return lines


@click.command()
@click.option("--config", default="configs/rtmdet_nano_8xb32_300e_coco_relu.py", show_default=True)
@click.option("--sizes", multiple=True, type=int, default=(192, 320), show_default=True)
@click.option("--threads", "thread_counts", multiple=True, type=int, default=(1, 2), show_default=True)
@click.option("--runs", default=30, show_default=True, help="timed calls per format per round")
@click.option("--repeats", default=5, show_default=True, help="rounds per format (best and median shown)")
def main(config, sizes, thread_counts, runs, repeats):
    from sscma_rtmdet.export.xnnpack import xnnpack_delegation

    print(f"CPU: {cpu_isa()}")
    lines = []
    for size in sizes:
        cfg = load_config(config, ["num_classes=3", f"imgsz=({size},{size})"])
        model = build_model(cfg.model).eval()
        pre = Preprocess.from_config(cfg.preprocess)
        x_nhwc = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            files = export_all(model, pre, (size, size), Path(tmp))
            for threads in thread_counts:
                delegation = {k: xnnpack_delegation(p, threads) for k, p in files.items() if p.suffix == ".tflite"}
                rounds = time_formats(runners(model, pre, files, x_nhwc, threads), runs, repeats)
                lines += report(size, threads, rounds, delegation)
    print(f"{'imgsz':>6} {'threads':>7}  {'format':<8} {'best ms':>8} {'median':>8} {'XNNPACK nodes':>15} "
          f"{'vs ORT':>8} {'vs fp32':>8}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
