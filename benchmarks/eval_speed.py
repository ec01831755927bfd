"""Evaluation speed of `tools/test.py`'s path: images/s of model + decode, and end to end, per model file.

    .venv/bin/python benchmarks/eval_speed.py CKPT.pth [MODEL.tflite ...] --data DIR [--rounds 3]
        [--threads 2] [--baseline-repo DIR] [--target generic]

Each measurement is one fresh process calling `evaluate()` (the function behind tools/test.py) on the
dataset's valid split: "model+decode img/s" is what tools/test.py prints (prepared batch -> network -> decode
-> NMS), "end to end img/s" is images over the whole call (loader workers, COCO scoring included). Rounds are
interleaved so a shared machine's load falls on every row alike; medians are printed with ratios to the
first row. `--baseline-repo` adds that checkout's `.pth` path (its own evaluate() on the same weights, its
own decode: for a checkout before the device target that is mmdetection's multi-label decode, so
compare it with `--target generic`, which scores our file with that decode too).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]


def _options(data: str, num_classes: int) -> list[str]:
    return [f"data_root={data}/", f"num_classes={num_classes}", "val_ann_file=valid/_annotations.coco.json",
            "val_img_prefix=valid/", "train_ann_file=train/_annotations.coco.json", "train_img_prefix=train/"]


def child(spec: dict) -> dict:
    """One measurement in this process (spec: repo, file, data, threads, num_classes, target, baseline)."""
    sys.path.insert(0, spec["repo"])
    import torch

    torch.set_num_threads(spec["threads"])
    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.evaluation.evaluate import evaluate

    config = Path(spec["repo"]) / "configs" / spec["config"]
    opts, model = _options(spec["data"], spec["num_classes"]), spec["file"]
    if spec.get("target") or spec.get("baseline"):  # scored as a module, with the config's deployment
        ckpt = torch.load(spec["file"], map_location="cpu", weights_only=False)
        h, w = ckpt["meta"]["deployment"]["imgsz"]
        opts.append(f"imgsz=({h},{w})")
        opts += [f"target={spec['target']!r}"] if spec.get("target") else []
        cfg = load_config(config, opts)
        from sscma_rtmdet.models.builder import build_model  # that checkout's model class

        model = build_model(cfg.model)
        model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
        model.eval()
    else:
        cfg = load_config(config, opts)
    start = time.perf_counter()
    res = evaluate(cfg, model, threads=spec["threads"], progress=False)
    wall = time.perf_counter() - start
    return dict(ips=res["images_per_second"], e2e=len(res["results"]) / wall, ap=res["metrics"]["coco/bbox_mAP"])


def run_child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="3"))
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise click.ClickException(f"{spec['name']} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, exists=True))
@click.option("--data", type=click.Path(file_okay=False, exists=True), help="COCO dataset root (Roboflow layout).")
@click.option("--config", default="rtmdet_nano_8xb32_300e_coco_relu.py", show_default=True,
              help="Config name under configs/ (the baseline builds its model from it).")
@click.option("--num-classes", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--target", help="Score every file of ours with this target's decode (e.g. generic).")
@click.option("--baseline-repo", type=click.Path(file_okay=False, exists=True),
              help="Also score the first .pth's weights with that checkout's evaluate() (first row).")
@click.option("--child", "child_json", hidden=True)
def main(files, data, config, num_classes, rounds, threads, target, baseline_repo, child_json):
    if child_json:
        click.echo("RESULT " + json.dumps(child(json.loads(child_json))))
        return
    if not files or not data:
        raise click.UsageError("give at least one model file (.pth, .onnx or .tflite) and --data DIR")
    base = dict(data=str(Path(data).resolve()), threads=threads, num_classes=num_classes, config=config)
    specs = [dict(base, name=f"this: {Path(f).name}", repo=str(ROOT), file=str(Path(f).resolve()),
                  target=target if f.endswith(".pth") else None) for f in files]
    pth = next((f for f in files if f.endswith(".pth")), None)
    if baseline_repo and pth:
        specs.insert(0, dict(base, name=f"{Path(baseline_repo).name}: {Path(pth).name}",
                             repo=str(Path(baseline_repo).resolve()), file=str(Path(pth).resolve()), baseline=True))
    runs: dict[str, list[dict]] = {s["name"]: [] for s in specs}
    for r in range(rounds):
        for s in specs:
            runs[s["name"]].append(run_child(s))
            m = runs[s["name"]][-1]
            click.echo(f"   round {r + 1} {s['name']}: {m['ips']:.1f} img/s model+decode, {m['e2e']:.1f} end to "
                       f"end, AP {m['ap']:.4f}", err=True)
    ref = runs[specs[0]["name"]]
    click.echo(f"{'file':<44}{'model+decode img/s':>20}{'end to end img/s':>18}{'ratio':>8}{'AP':>8}")
    for s in specs:
        rs = runs[s["name"]]
        ratio = statistics.median(a["ips"] / b["ips"] for a, b in zip(rs, ref))
        click.echo(f"{s['name']:<44}{statistics.median(m['ips'] for m in rs):>20.1f}"
                   f"{statistics.median(m['e2e'] for m in rs):>18.1f}{ratio:>7.2f}x{rs[-1]['ap']:>8.4f}")
    click.echo(f"{threads} threads, {rounds} interleaved rounds, medians; ratio: model+decode over the first row")


if __name__ == "__main__":
    main()
