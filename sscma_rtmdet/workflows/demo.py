"""The demo workflow (tools/demo.py, scripts/demo.sh): the embedded demo dataset, train, export every format,
evaluate every file, one comparison table."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DEFAULT_CONFIG = "configs/rtmdet_nano_8xb32_300e_coco_relu.py"


@dataclass
class DemoRequest:
    config: str = DEFAULT_CONFIG
    data: Path = Path("datasets/demo_shapes")
    work_dir: Path = Path("work_dirs/demo")
    epochs: int = 60
    imgsz: tuple[int, int] = (192, 192)
    formats: tuple[str, ...] = ("onnx", "tflite", "vela")
    threads: int = 2
    log: Callable[[str], None] = print


def run_demo(req: DemoRequest) -> str:
    """Generate the dataset if missing, train (resuming; skipped when the last epoch exists), export and score
    every file; returns the table (also written to WORK_DIR/results.md)."""
    import torch

    from ..engine.trainer import Trainer, TrainOptions
    from ..export.pipeline import ExportRequest, export_checkpoint
    from ..runtime.checkpoint import load_checkpoint_file
    from ..synth.demo import ensure_demo_dataset
    from ..utils.fileio import atomic_write_text
    from .settings import resolve_settings

    torch.set_num_threads(req.threads)
    data, work = Path(req.data).resolve(), Path(req.work_dir)
    ensure_demo_dataset(data)
    h, w = req.imgsz
    cfg = resolve_settings(req.config, {"imgsz": (h, w), "max_epochs": req.epochs, "num_workers": 2}, data=str(data))
    final = work / f"epoch_{req.epochs}.pth"
    if not (final.exists() and load_checkpoint_file(final)["meta"]["epoch"] == req.epochs):
        req.log(f"== train {Path(req.config).name} for {req.epochs} epochs at {h}x{w} -> {work}")
        Trainer(cfg, TrainOptions(work_dir=work, config_path=req.config, resume="auto")).train()
    else:  # trained before: the head is built for the dataset's classes, as the trainer builds it
        from ..data.build import build_coco
        classes = len(build_coco(cfg, "train").classes)
        cfg["num_classes"] = classes
        cfg.model.head["num_classes"] = classes
    req.log(f"== export {final}")
    files = export_checkpoint(cfg, ExportRequest(checkpoint=final, formats=tuple(req.formats), log=req.log))
    table = format_table(evaluate_all(cfg, final, files, req.threads))
    req.log(table)
    atomic_write_text(work / "results.md", table + "\n")
    return table


def evaluate_all(cfg, ckpt: Path, files: dict, threads: int) -> list[dict]:
    """AP/AP50 on the valid split and batch-1 latency for the checkpoint and each runnable export."""
    import time

    import numpy as np

    from ..data.build import build_coco
    from ..evaluation.evaluate import evaluate

    coco = build_coco(cfg, "val")
    rows = []
    runs = [("pth", ckpt, "litert")] + [(k, Path(p), "litert") for k, p in files.items()]
    if "int8" in files and _has_tflm():
        runs.append(("int8 (TFLite Micro kernels)", Path(files["int8"]), "tflm"))
    board = "grove_vision_ai_v2" if "vela" in files else None  # the .pth as the exported files decode
    for kind, path, runtime in runs:
        if kind == "vela":
            rows.append(dict(format="vela (NPU)", file=path, ap=None, ap50=None, ms=None))
            continue
        res = evaluate(cfg, path, coco, threads=threads, batch_size=1, num_workers=0, classwise=False,
                       runtime=runtime, progress=False, board=board if kind == "pth" else None)
        stats, predictor = res["stats"], res["predictor"]
        batch = next(iter(res["loader"]))["inputs"]
        times = []
        for _ in range(12):
            t = time.perf_counter()
            predictor(batch)
            times.append(time.perf_counter() - t)
        rows.append(dict(format=kind, file=path, ap=stats[0], ap50=stats[1], ms=1000 * float(np.median(times[2:]))))
    return rows


def _has_tflm() -> bool:
    import importlib.util

    return importlib.util.find_spec("tflite_micro") is not None


def format_table(rows: list[dict]) -> str:
    lines = ["| format | file | size | AP | AP50 | latency (ms, batch 1, CPU) |", "|---|---|---|---|---|---|"]
    for r in rows:
        size = Path(r["file"]).stat().st_size / 1024
        ap = "NPU only" if r["ap"] is None else f"{r['ap']:.3f}"
        ap50 = "" if r["ap50"] is None else f"{r['ap50']:.3f}"
        ms = "" if r["ms"] is None else f"{r['ms']:.1f}"
        lines.append(f"| {r['format']} | {Path(r['file']).name} | {size:,.0f} KiB | {ap} | {ap50} | {ms} |")
    return "\n".join(lines)
