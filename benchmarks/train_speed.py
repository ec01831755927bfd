"""Training speed of each speed option against the settings before them, measured side by side.

    .venv/bin/python benchmarks/train_speed.py [--device cpu|cuda] [--case nano192] [--rounds 3] [--epochs 1]
        [--baseline-repo DIR] [--variant NAME ...] [--data DIR]

Every variant is one fresh process running the trainer's own epoch loop (Trainer._train_epoch: DataLoader
workers, augmentation, forward, criterion, backward, AdamW, EMA) on the learning benchmark's photo set
(generated under --data when missing): two untimed warm-up steps, then --epochs timed epochs. Variants run
in interleaved rounds (A, B, C, A, B, C, ...) and each ratio is taken within a round, so the load that other
jobs put on a shared machine falls on every variant alike; the table gives the median ratio and its range.
"train img/s" is images over the timed epochs' wall time; "step img/s" counts the time inside the step only.

Variants: `before` = every speed option of engine/speed.py off (the settings before issue 20: NCHW,
for-loop AdamW, no image cache, float32, torch's default threads), `+option` = that option alone on top of it,
`defaults` = the config's defaults now (bfloat16 autocast where the CPU has AMX/AVX512-BF16; the bfloat16
variant is skipped on CPUs without it), `defaults + compile` = torch.compile on top (not a default: slower
here). `--baseline-repo` adds `repo-before` (that checkout's code, e.g. the commit before the speed work) as
the reference. `--device cuda` runs the GPU cases (AMP, compile); it is an
error without a usable GPU.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
BEFORE = dict(channels_last=False, optimizer_impl="for-loop", image_cache_mb=0, precision="float32")
CASES = {  # name: (config, imgsz, batch)
    "nano192": ("rtmdet_nano_8xb32_300e_coco_relu.py", 192, 32),
    "nano192-silu": ("rtmdet_nano_8xb32_300e_coco.py", 192, 32),
    "tiny640": ("rtmdet_tiny_8xb32_300e_coco.py", 640, 32),
}
CPU_VARIANTS = {
    "before": dict(BEFORE),
    "+channels_last": dict(BEFORE, channels_last=True),
    "+fused AdamW": dict(BEFORE, optimizer_impl="fused"),
    "+image cache": dict(BEFORE, image_cache_mb=1024),
    "+bfloat16 autocast": dict(BEFORE, precision="bfloat16"),
    "defaults": {},
    "defaults, float32": dict(precision="float32"),
    "defaults + compile": dict(compile_model=True),
    "defaults, 1 thread": dict(train_threads=1),
    "defaults, 1 worker": dict(num_workers=1),
    "defaults, 0 workers": dict(num_workers=0),
}
GPU_VARIANTS = {
    "AMP off": dict(amp=False),
    "defaults (AMP)": dict(amp=True),
    "AMP + compile": dict(amp=True, compile_model=True),
}
SMOKE = dict(imgsz=64, batch=4)  # --smoke: the same code path at toy sizes (tests; CPU)


def child(spec: dict) -> dict:
    """One variant in this process: warm-up epoch, then timed epochs. Returns the measurement."""
    sys.path.insert(0, spec["repo"])
    import torch

    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.engine.trainer import Trainer, TrainOptions

    data, over = spec["data"], dict(spec["overrides"])
    amp = over.pop("amp", True)
    opts = [f"data_root={data}/", f"num_classes={spec.get('num_classes', 10)}", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/",
            "max_epochs=50", f"imgsz=({spec['imgsz']},{spec['imgsz']})", f"batch_size={spec['batch']}",
            "log_interval=1000"] + [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in over.items()]
    cfg = load_config(Path(spec["repo"]) / "configs" / spec["config"], opts)
    with tempfile.TemporaryDirectory() as work:
        tr = Trainer(cfg, TrainOptions(work_dir=Path(work), config_path=spec["config"], progress=False,
                                       device=spec["device"], amp=amp))
        tr.fit_schedule()
        step_s, real_step = [], tr._step
        sync = torch.cuda.synchronize if spec["device"].startswith("cuda") else (lambda: None)

        def timed_step(batch):
            start = time.perf_counter()
            out = real_step(batch)  # returns Python floats: the step has finished on the device
            step_s.append(time.perf_counter() - start)
            return out
        tr._step = timed_step
        tr.opts.stop_after_iters = 2  # warm-up steps: allocator, oneDNN primitives, compile
        tr._train_epoch(0)
        tr.opts.stop_after_iters = None
        pipeline = _pipeline_speed(tr) if spec.get("pipeline") else None
        del step_s[:]
        sync()
        start = time.perf_counter()
        for epoch in range(1, 1 + spec["epochs"]):
            tr._train_epoch(epoch)
        sync()
        wall = time.perf_counter() - start
    images = len(step_s) and len(tr.train_set) * spec["epochs"]
    return dict(train=images / wall, step=images / sum(step_s), steps=len(step_s),
                threads=torch.get_num_threads(), pipeline=pipeline)


def _pipeline_speed(tr) -> float:
    """Images/s of the training DataLoader alone (its workers, augmentation, collate), one epoch."""
    start, n = time.perf_counter(), 0
    for batch in tr._loader(0):
        n += len(batch["inputs"])
    return n / (time.perf_counter() - start)


def run_child(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, PYTHONWARNINGS="ignore"))
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        raise click.ClickException(f"variant {spec['name']} failed (exit {res.returncode}):\n{res.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def table(names: list[str], runs: dict[str, list[dict]], ref: str) -> str:
    pipe = any(r.get("pipeline") for rs in runs.values() for r in rs)
    lines = [f"{'variant':<32}{'train img/s':>12}{'step img/s':>12}" + (f"{'data img/s':>12}" if pipe else "")
             + f"{'ratio (median, range)':>28}"]
    for name in names:
        train = [r["train"] for r in runs[name]]
        ratios = [r["train"] / b["train"] for r, b in zip(runs[name], runs[ref])]
        rng = f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        data = f"{statistics.median(r['pipeline'] for r in runs[name]):>12.1f}" if pipe else ""
        lines.append(f"{name:<32}{statistics.median(train):>12.1f}"
                     f"{statistics.median(r['step'] for r in runs[name]):>12.1f}{data}{rng:>28}")
    return "\n".join(lines)


def check_device(device: str) -> None:
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise click.UsageError("--device cuda: no usable CUDA GPU here (torch.cuda.is_available() is False); "
                                   "run it on a GPU machine, or use --device cpu")


def _native_bf16() -> bool:
    sys.path.insert(0, str(ROOT))
    from sscma_rtmdet.engine.speed import cpu_has_bf16
    return cpu_has_bf16()


def ensure_data(data: Path, smoke: bool) -> Path:
    """The photo set (or, for --smoke, 16 demo images) under `data`, generated when missing."""
    sys.path.insert(0, str(ROOT))
    if smoke:
        from sscma_rtmdet.synth.demo import make_demo_dataset
        data = data.parent / "smoke"
        if not (data / "valid" / "_annotations.coco.json").exists():
            make_demo_dataset(data, seed=0, num_train=16, num_valid=2, num_test=1)
    elif not (data / "valid" / "_annotations.coco.json").exists():
        from sscma_rtmdet.synth.photo_objects import make_photo_objects_dataset
        make_photo_objects_dataset(data)
    return data


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--case", "cases", multiple=True, type=click.Choice(list(CASES)), help="[default: nano192]")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(min=1), help="Timed epochs per run.")
@click.option("--variant", "variants", multiple=True, help="Run only these variants (names as printed).")
@click.option("--baseline-repo", type=click.Path(file_okay=False, exists=True),
              help="Also run this checkout's trainer (its own defaults) as 'repo-before', the reference.")
@click.option("--data", default=str(Path(tempfile.gettempdir()) / "sscma_speed_data" / "photo"), show_default=True,
              type=click.Path(file_okay=False))
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds per variant run.")
@click.option("--gpu-variants", is_flag=True, help="The GPU variant set (AMP, compile) also on --device cpu.")
@click.option("--workers", type=click.IntRange(min=0),
              help="DataLoader workers of every variant [default: the config's on CPU, all cores on CUDA].")
@click.option("--smoke", is_flag=True, help="Toy sizes (64x64, batch 4, 16 images), compile variants skipped: "
                                            "checks the script's path on a CPU in a minute.")
@click.option("--child", "child_json", hidden=True)
def main(device, cases, rounds, epochs, variants, baseline_repo, data, timeout, gpu_variants, workers, smoke,
         child_json):
    if child_json:
        click.echo("RESULT " + json.dumps(child(json.loads(child_json))))
        return
    check_device(device)
    data = ensure_data(Path(data).resolve(), smoke)
    table_of = GPU_VARIANTS if device == "cuda" or gpu_variants else CPU_VARIANTS
    unknown = set(variants) - set(table_of)
    if unknown:
        raise click.UsageError(f"--variant {sorted(unknown)}: unknown; choose from {list(table_of)}")
    chosen = {k: v for k, v in table_of.items() if (not variants or k in variants)
              and not (smoke and v.get("compile_model"))}
    if device == "cpu" and not _native_bf16():
        chosen = {k: v for k, v in chosen.items() if v.get("precision") != "bfloat16"}
        click.echo("note: this CPU has no native bfloat16 (AMX/AVX512-BF16): the bfloat16 variant is left out "
                   "and 'defaults' run in float32")
    if workers is None and device == "cuda":
        workers = os.cpu_count() or 2
    extra = {} if workers is None else {"num_workers": workers}
    for case in cases or ("nano192",):
        config, imgsz, batch = CASES[case]
        imgsz, batch = (SMOKE["imgsz"], SMOKE["batch"]) if smoke else (imgsz, batch)
        specs = [dict(name=n, repo=str(ROOT), overrides={**extra, **o}, pipeline=device == "cuda",
                      num_classes=3 if smoke else 10) for n, o in chosen.items()]
        if baseline_repo:
            specs.insert(0, dict(name="repo-before", repo=str(Path(baseline_repo).resolve()), overrides=extra,
                                 pipeline=device == "cuda", num_classes=3 if smoke else 10))
        runs: dict[str, list[dict]] = {s["name"]: [] for s in specs}
        click.echo(f"== {case}: {config} {imgsz}x{imgsz} batch {batch}, {device}, {rounds} interleaved rounds of "
                   f"{len(specs)} variants, {epochs} timed epoch(s) of {data} after 2 warm-up steps")
        for r in range(rounds):
            for s in specs:
                s = dict(s, data=str(data), config=config, imgsz=imgsz, batch=batch, device=device, epochs=epochs)
                runs[s["name"]].append(res := run_child(s, timeout))
                click.echo(f"   round {r + 1} {s['name']}: train {res['train']:.1f} img/s, step {res['step']:.1f} "
                           f"img/s ({res['threads']} threads)")
        click.echo(table([s["name"] for s in specs], runs, specs[0]["name"]))
        click.echo("ratios: train img/s over the first row's, taken within each round (interleaved A/B rounds, so "
                   "other jobs' load on a shared machine falls on every variant alike)")


if __name__ == "__main__":
    main()
