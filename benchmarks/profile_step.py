"""Where a training step goes: phases (manual timers, no profiler) and operator kinds (torch.profiler).

    .venv/bin/python benchmarks/profile_step.py [--config configs/rtmdet_nano_8xb32_300e_coco_relu.py]
        [--imgsz 192] [--batch 32] [--steps 6] [--threads 2] [--repo DIR] [--data DIR]

The step is the trainer's own objects (model, criterion, AdamW, EMA, Preprocess) run phase by phase on real
augmented batches of the learning benchmark's photo set (generated under --data when missing; mosaic/mixup
pipeline, epoch 0). Phase times are medians over --steps steps timed with perf_counter only; the operator
split (convolutions by kind, BN, activations, ...) comes from one torch.profiler pass over the same steps and
is given as shares of its forward / backward phases (the profiler's own overhead inflates small ops).
`--repo` imports another checkout (e.g. the code before a change) for before/after tables.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from collections import defaultdict
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("data", "normalize", "forward", "assigner", "loss", "backward", "grad_norm", "optimizer", "ema")


def _trainer(repo: Path, config: str, imgsz: int, batch: int, data: Path, work: Path):
    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.engine.trainer import Trainer, TrainOptions

    opts = [f"data_root={data}/", "num_classes=10", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/",
            "max_epochs=50", f"imgsz=({imgsz},{imgsz})", f"batch_size={batch}", "num_workers=0"]
    cfg = load_config(repo / "configs" / Path(config).name, opts)
    tr = Trainer(cfg, TrainOptions(work_dir=work, config_path=Path(config).name, progress=False))
    tr.fit_schedule()
    return tr


def _step(tr, batch: dict, t: dict, rec):
    """One training step, phase by phase (the trainer's _step without guards, in its speed settings:
    memory format and autocast); times added to t."""
    import torch

    from sscma_rtmdet.engine.guards import grad_norm

    crit = tr.criterion

    def phase(name, fn):
        start = time.perf_counter()
        with rec(name):
            out = fn()
        t[name] = t.get(name, 0.0) + time.perf_counter() - start
        return out

    model = getattr(tr, "train_model", None)
    model = tr.model if model is None else model
    inputs = phase("normalize", lambda: tr.preprocess.normalize(batch["inputs"]))
    speed = getattr(tr, "speed", None)  # engine/speed.py (absent in checkouts before it)
    if speed is not None:
        inputs = speed.inputs(inputs)

    def forward():
        with speed.autocast() if speed is not None else nullcontext():
            c, b = model(inputs)
        return [x.float() for x in c], [x.float() for x in b]
    cls, box = phase("forward", forward)
    targets = crit._targets
    assign_s = [0.0]

    def timed_targets(*a, **k):  # the assigner (all images of the batch) inside the criterion call
        start = time.perf_counter()
        with rec("assigner"):
            out = targets(*a, **k)
        assign_s[0] += time.perf_counter() - start
        return out
    crit._targets = timed_targets
    try:
        out = phase("loss", lambda: crit(list(cls), list(box), batch["gt_boxes"], batch["gt_labels"],
                                         tuple(inputs.shape[-2:])))
    finally:
        del crit._targets
    t["loss"] -= assign_s[0]
    t["assigner"] = t.get("assigner", 0.0) + assign_s[0]
    tr.optimizer.zero_grad(set_to_none=True)
    phase("backward", lambda: out["loss"].backward())
    phase("grad_norm", lambda: grad_norm(tr.model.parameters()))
    phase("optimizer", tr.optimizer.step)
    phase("ema", lambda: tr.ema.update(tr.model))


def conv_kind(shapes) -> str | None:
    """'depthwise', '1x1' or 'dense kxk' from aten::convolution[_backward] input shapes (weight (O, I/g, kh, kw))."""
    shapes = [s for s in shapes if isinstance(s, (list, tuple))]
    weights = [s for s in shapes if len(s) == 4]
    if len(weights) < 2:
        return None
    w = weights[1] if len(weights) == 2 else weights[2]  # forward: (input, weight); backward: (grad, input, weight)
    if w[1] == 1 and w[2] > 1:
        return "conv depthwise"
    return "conv 1x1" if w[2] == 1 and w[3] == 1 else f"conv dense {w[2]}x{w[3]}"


OP_KINDS = {
    "aten::batch_norm": "BN", "autograd::engine::evaluate_function: NativeBatchNormBackward0": "BN",
    "autograd::engine::evaluate_function: MkldnnBatchNormBackward0": "BN",
    "aten::relu": "activation", "aten::relu_": "activation", "aten::silu": "activation", "aten::silu_": "activation",
    "aten::hardsigmoid": "activation", "aten::sigmoid": "activation",
    "autograd::engine::evaluate_function: ReluBackward0": "activation",
    "autograd::engine::evaluate_function: SiluBackward0": "activation",
    "autograd::engine::evaluate_function: HardsigmoidBackward0": "activation",
    "autograd::engine::evaluate_function: SigmoidBackward0": "activation",
}


def op_split(prof) -> dict[str, dict[str, float]]:
    """{phase: {kind: seconds}} from profiler events: top-level conv / BN / activation ops in each phase."""
    events = [e for e in prof.events() if e.device_type.name == "CPU"]
    spans = [(e.name, e.time_range.start, e.time_range.end) for e in events if e.name in PHASES]
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in events:
        kind = OP_KINDS.get(e.name)
        if e.name in ("aten::convolution", "aten::convolution_backward"):
            kind = conv_kind(e.input_shapes)
        if kind is None:
            continue
        for name, a, b in spans:
            if a <= e.time_range.start and e.time_range.end <= b:
                # convolution_backward sits inside its evaluate_function; count the aten op only once
                out[name][kind] += (e.time_range.end - e.time_range.start) / 1e6
                break
    for name, a, b in spans:
        out[name]["_total"] += (b - a) / 1e6
    return out


def profile(tr, batches: list, steps: int) -> tuple[dict, dict]:
    import torch
    from torch.profiler import ProfilerActivity, record_function

    from sscma_rtmdet.engine.optim import set_lr

    tr.model.train()
    set_lr(tr.optimizer, 1e-4)
    warm = {}
    for b in batches[:2]:
        _step(tr, b, warm, lambda n: nullcontext())
    times = []
    for i in range(steps):
        t: dict = {}
        _step(tr, batches[i % len(batches)], t, lambda n: nullcontext())
        times.append(t)
    phases = {k: statistics.median(t.get(k, 0.0) for t in times) for k in PHASES if k != "data"}
    with torch.profiler.profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for i in range(min(steps, 3)):
            _step(tr, batches[i % len(batches)], {}, record_function)
    return phases, op_split(prof)


def format_tables(phases: dict, split: dict, data_s: float, batch: int) -> str:
    total = sum(phases.values())
    lines = ["| phase | ms / step | share |", "|---|---|---|"]
    for k in PHASES:
        v = data_s if k == "data" else phases[k]
        lines.append(f"| {k} | {v * 1000:.0f} | {100 * v / (total + data_s):.1f}% |")
    lines.append(f"| **step (without data)** | **{total * 1000:.0f}** | {batch / total:.1f} img/s |")
    lines += ["", "| operator kind (profiler) | forward | backward |", "|---|---|---|"]
    kinds = sorted({k for p in ("forward", "backward") for k in split.get(p, {}) if k != "_total"})
    for k in kinds + ["other"]:
        row = []
        for p in ("forward", "backward"):
            d = split.get(p, {})
            tot = d.get("_total", 0.0) or 1e-9
            v = tot - sum(v for kk, v in d.items() if kk != "_total") if k == "other" else d.get(k, 0.0)
            row.append(f"{100 * v / tot:.1f}%")
        lines.append(f"| {k} | {row[0]} | {row[1]} |")
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", default="configs/rtmdet_nano_8xb32_300e_coco_relu.py", show_default=True)
@click.option("--imgsz", default=192, show_default=True)
@click.option("--batch", default=32, show_default=True)
@click.option("--steps", default=6, show_default=True, help="Timed steps (medians); the profiler sees 3.")
@click.option("--threads", default=2, show_default=True, help="torch intra-op threads.")
@click.option("--repo", default=str(ROOT), show_default=True, type=click.Path(file_okay=False, exists=True))
@click.option("--data", default="/tmp/sscma_speed_data/photo", show_default=True, type=click.Path(file_okay=False))
def main(config, imgsz, batch, steps, threads, repo, data):
    repo, data = Path(repo).resolve(), Path(data)
    sys.path.insert(0, str(repo))
    import torch

    from sscma_rtmdet.synth.photo_objects import make_photo_objects_dataset

    torch.set_num_threads(threads)
    if not (data / "valid" / "_annotations.coco.json").exists():
        make_photo_objects_dataset(data)
    with tempfile.TemporaryDirectory() as work:
        tr = _trainer(repo, config, imgsz, batch, data, Path(work))
        it = iter(tr._loader(0))
        start = time.perf_counter()
        batches = [next(it) for _ in range(min(steps, 4))]
        data_s = (time.perf_counter() - start) / len(batches)
        phases, split = profile(tr, batches, steps)
    click.echo(f"{Path(config).name} {imgsz}x{imgsz} batch {batch}, {threads} threads, repo {repo}")
    click.echo(format_tables(phases, split, data_s, batch))


if __name__ == "__main__":
    main()
