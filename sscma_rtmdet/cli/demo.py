"""tools/demo.py: the whole workflow on the embedded demo dataset, ending in one comparison table."""
from __future__ import annotations

from pathlib import Path

import click

from .common import friendly_errors

DEFAULT_CONFIG = "configs/rtmdet_nano_8xb32_300e_coco_relu.py"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", default=DEFAULT_CONFIG, show_default=True, type=click.Path(dir_okay=False))
@click.option("--data", default="datasets/demo_shapes", show_default=True, type=click.Path(file_okay=False),
              help="Demo dataset folder (generated if missing).")
@click.option("--work-dir", default="work_dirs/demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--epochs", default=60, show_default=True, type=click.IntRange(min=1))
@click.option("--imgsz", nargs=2, default=(192, 192), show_default=True, type=click.IntRange(min=32),
              metavar="H W")
@click.option("--format", "formats", multiple=True, default=("onnx", "tflite", "vela"), show_default=True,
              metavar="FMT", help="Export formats, as tools/export.py takes them (several may follow one flag).")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1))
@friendly_errors
def main(config, data, work_dir, epochs, imgsz, formats, threads):
    """Generate the demo dataset, train, export (ONNX, TFLite fp32/fp16/int8, Vela) and evaluate every
    file with the same COCO pipeline. Re-running continues an interrupted training and re-uses finished
    steps; the table is also written to WORK_DIR/results.md."""
    import torch

    from .common import run_config
    from ..synth.demo import ensure_demo_dataset
    from ..runtime.checkpoint import load_checkpoint_file
    from ..engine.trainer import Trainer, TrainOptions
    from ..export.pipeline import ExportRequest, export_checkpoint
    from ..utils.fileio import atomic_write_text

    torch.set_num_threads(threads)
    data, work = Path(data).resolve(), Path(work_dir)
    ensure_demo_dataset(data)
    h, w = imgsz
    cfg = run_config(config, [f"imgsz=({h},{w})", f"max_epochs={epochs}", "num_workers=2"], data=str(data))
    final = work / f"epoch_{epochs}.pth"
    if not (final.exists() and load_checkpoint_file(final)["meta"]["epoch"] == epochs):
        click.echo(f"== train {Path(config).name} for {epochs} epochs at {h}x{w} -> {work}")
        Trainer(cfg, TrainOptions(work_dir=work, config_path=config, resume="auto")).train()
    else:  # trained before: the head is built for the dataset's classes, as the trainer builds it
        from ..data.build import build_coco
        classes = len(build_coco(cfg, "train").classes)
        cfg["num_classes"] = classes
        cfg.model.head["num_classes"] = classes
    click.echo(f"== export {final}")
    files = export_checkpoint(cfg, ExportRequest(checkpoint=final, formats=tuple(formats),
                                                 log=click.echo))
    rows = evaluate_all(cfg, final, files, threads)
    table = format_table(rows)
    click.echo(table)
    atomic_write_text(work / "results.md", table + "\n")


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


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
