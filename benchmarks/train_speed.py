"""Training throughput on this machine: the data pipeline alone (DataLoader with the config's default
workers) vs full training steps (forward + loss + backward + AdamW + EMA), in images/s.

    .venv/bin/python benchmarks/train_speed.py [--steps 5] [--threads 2]

Cases: nano at 192x192 batch 32 and tiny at 640x640 batch 8 (the issue's reference points). The demo
dataset is generated in a temp folder. The pipeline is not the bottleneck when its images/s exceeds the
training step's.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sscma_rtmdet.config import load_config  # noqa: E402
from sscma_rtmdet.synth.demo import make_demo_dataset  # noqa: E402

CASES = [("rtmdet_nano_8xb32_300e_coco.py", (192, 192), 32), ("rtmdet_tiny_8xb32_300e_coco.py", (640, 640), 8)]


def _cfg(name, imgsz, batch, data):
    repo = Path(__file__).resolve().parents[1]
    return load_config(repo / "configs" / name, [
        f"data_root={data}/", "num_classes=3", "train_ann_file=train/_annotations.coco.json",
        "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/",
        f"imgsz={imgsz}", f"batch_size={batch}"])


def pipeline_speed(cfg, batches: int) -> float:
    from sscma_rtmdet.data.coco import CocoDetection
    from sscma_rtmdet.data.loader import TrainDataset, build_dataloader
    from sscma_rtmdet.data.pipeline import build_pipeline

    ds = cfg.train_dataloader["dataset"]
    coco = CocoDetection(ds["data_root"], ds["ann_file"], ds["img_prefix"], num_classes=3)
    train = TrainDataset(coco, build_pipeline(cfg.train_pipeline))
    loader = build_dataloader(train, cfg.batch_size, cfg.num_workers, shuffle=True)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            n += len(next(it)["inputs"])
        except StopIteration:
            break
    return n / (time.perf_counter() - start)


def step_speed(cfg, steps: int) -> float:
    from sscma_rtmdet.criterion import build_criterion
    from sscma_rtmdet.engine.ema import ExpMomentumEMA
    from sscma_rtmdet.engine.optim import build_optimizer
    from sscma_rtmdet.models import build_model

    model = build_model(cfg.model).train()
    crit, opt, ema = build_criterion(cfg.criterion, 3), build_optimizer(model, cfg.optimizer), ExpMomentumEMA(model)
    h, w = cfg.imgsz
    x = torch.randn(cfg.batch_size, 3, h, w)
    boxes = [torch.tensor([[0.1 * w, 0.1 * h, 0.4 * w, 0.5 * h], [0.5 * w, 0.4 * h, 0.9 * w, 0.9 * h]])] * len(x)
    labels = [torch.tensor([0, 1])] * len(x)

    def step():
        out = crit(*model(x), boxes, labels, (h, w))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        ema.update(model)
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(x) / (time.perf_counter() - start)


@click.command()
@click.option("--steps", default=5, show_default=True, help="Timed training steps per case.")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
def main(steps, threads):
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        make_demo_dataset(Path(tmp), seed=0, num_train=96, num_valid=4, num_test=2)
        rows = []
        for name, imgsz, batch in CASES:
            cfg = _cfg(name, imgsz, batch, tmp)
            data = pipeline_speed(cfg, batches=max(2, 96 // batch - 1))
            train = step_speed(cfg, steps)
            rows.append((name.split("_8x")[0], f"{imgsz[0]}x{imgsz[1]}", batch, cfg.num_workers, data, train))
    print(f"{'model':<14}{'imgsz':>9}{'batch':>7}{'workers':>9}{'pipeline img/s':>16}{'train img/s':>13}  bottleneck")
    for m, size, b, wk, data, train in rows:
        print(f"{m:<14}{size:>9}{b:>7}{wk:>9}{data:>16.1f}{train:>13.1f}  {'pipeline' if data < train else 'model'}")


if __name__ == "__main__":
    main()
