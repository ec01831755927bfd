"""Does the tutorial command learn? AP per epoch budget on a realistic small dataset (not the demo set).

    .venv/bin/python benchmarks/learning.py [--dataset photo_objects|everyday] [--data DIR] [--epochs 50 --epochs 100]
        [--config configs/rtmdet_nano_8xb32_300e_coco.py --config configs/rtmdet_nano_8xb32_300e_coco_relu.py]
        [--work-dir work_dirs/learning] [--int8] [--repo DIR] [--set precision='float32']

Two benchmarks of different kinds, each generated if missing (into datasets/<name> unless --data):
`photo_objects` (the default; `tools/make_photo_dataset.py`: 300 + 100 photos from the scikit-image wheel,
10 flat shape classes with colour families, clutter, occlusion) and `everyday` (synth/everyday.py: 400 + 100
photos, 8 objects made of parts among look-alike distractors). Each run is the README's train command,
unchanged except for the dataset paths and `--work-dir`: nano at 192x192, batch 32, CPU. The table shows the
final epoch's AP / AP50 (the EMA weights in epoch_N.pth), the best validation and the wall time;
`--int8` also exports the final checkpoint to int8 TFLite and scores it. `--repo` runs another checkout's
tools/ (e.g. a worktree of an older commit) on the same data, for before/after numbers.
Results go to WORK_DIR/results.md (one row per run, appended atomically).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VAL_LINE = re.compile(r"Epoch\(val\) \[(\d+)\].*?coco/bbox_mAP: ([\d.]+) coco/bbox_mAP_50: ([\d.]+)")
AP_LINE = re.compile(r"bbox_mAP_copypaste: ([\d.]+) ([\d.]+)")


def tutorial_options(data: Path, epochs: int, num_classes: int) -> list[str]:
    """The README tutorial's --cfg-options for `data` (Roboflow layout)."""
    return [f"data_root={data}/", f"num_classes={num_classes}", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/",
            f"max_epochs={epochs}", "imgsz=(192,192)"]


def run(cmd: list[str], cwd: Path, log: Path) -> float:
    """Run `cmd`, output to `log`; returns wall seconds; raises on failure (naming the log)."""
    t = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.call(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    if rc != 0:
        raise click.ClickException(f"{' '.join(cmd[:3])} ... failed (exit {rc}); see {log}")
    return time.perf_counter() - t


def val_curve(log_text: str) -> list[tuple[int, float, float]]:
    """(epoch, AP, AP50) of every validation in a training log."""
    return [(int(e), float(a), float(a50)) for e, a, a50 in VAL_LINE.findall(log_text)]


DATASETS = ("photo_objects", "everyday")  # sets of sscma_rtmdet.synth; a run's folder is WORK_DIR/<tag>[_<set>]_...


def one_run(repo: Path, config: str, data: Path, epochs: int, work: Path, num_classes: int, int8: bool,
            extra: tuple[str, ...] = ()) -> dict:
    py = sys.executable
    work.mkdir(parents=True, exist_ok=True)
    opts = tutorial_options(data, epochs, num_classes) + list(extra)
    ckpt = work / f"epoch_{epochs}.pth"
    seconds = None
    if not ckpt.exists():
        seconds = run([py, "tools/train.py", config, "--cfg-options", *opts, "--work-dir", str(work),
                       "--no-progress"], repo, work / "train_stdout.log")
    curve = val_curve((work / "train_stdout.log").read_text())
    final = next(((a, a50) for e, a, a50 in curve if e == epochs), (float("nan"), float("nan")))
    best = max(curve, key=lambda c: c[1]) if curve else (0, float("nan"), float("nan"))
    row = dict(config=Path(config).name, epochs=epochs, ap=final[0], ap50=final[1], best_ap=best[1],
               best_epoch=best[0], minutes=None if seconds is None else seconds / 60,
               curve=" ".join(f"{e}:{a:.3f}" for e, a, _ in curve))
    if int8:
        run([py, "tools/export.py", config, str(ckpt), "--cfg-options", *opts, "--imgsz", "192", "192",
             "--format", "tflite"], repo, work / "export.log")
        tfl = work / f"epoch_{epochs}_int8.tflite"
        run([py, "tools/test.py", config, str(tfl), "--cfg-options", *opts], repo, work / "test_int8.log")
        ap = AP_LINE.findall((work / "test_int8.log").read_text())
        row["int8_ap"] = float(ap[-1][0]) if ap else float("nan")
    return row


def format_rows(rows: list[dict]) -> str:
    lines = ["| repo | dataset | config | epochs | AP | AP50 | best AP (epoch) | int8 AP | wall min | AP by epoch |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mins = "" if r["minutes"] is None else f"{r['minutes']:.1f}"
        int8 = f"{r['int8_ap']:.3f}" if "int8_ap" in r else ""
        lines.append(f"| {r['repo']} | {r['dataset']} | {r['config']} | {r['epochs']} | {r['ap']:.3f} | "
                     f"{r['ap50']:.3f} | {r['best_ap']:.3f} ({r['best_epoch']}) | {int8} | {mins} | {r['curve']} |")
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dataset", type=click.Choice(DATASETS), default="photo_objects", show_default=True)
@click.option("--data", type=click.Path(file_okay=False), help="Dataset folder [default: datasets/<dataset>].")
@click.option("--config", "configs", multiple=True, show_default=True,
              default=("configs/rtmdet_nano_8xb32_300e_coco.py", "configs/rtmdet_nano_8xb32_300e_coco_relu.py"))
@click.option("--epochs", "epoch_list", multiple=True, type=click.IntRange(min=1), default=(50,), show_default=True)
@click.option("--work-dir", default="work_dirs/learning", show_default=True, type=click.Path(file_okay=False))
@click.option("--repo", default=str(ROOT), show_default=True, type=click.Path(file_okay=False, exists=True),
              help="Checkout whose tools/ run (same Python).")
@click.option("--int8", is_flag=True, help="Also export int8 TFLite and score it.")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE",
              help="Extra --cfg-options for every run (e.g. precision='float32' for an A/B); tagged in folder names.")
def main(dataset, data, configs, epoch_list, work_dir, repo, int8, extra):
    from sscma_rtmdet.synth import generated_set
    from sscma_rtmdet.utils.fileio import atomic_write_text

    module, make = generated_set(dataset)
    data = Path(data or f"datasets/{dataset}").resolve()
    repo, work = Path(repo).resolve(), Path(work_dir).resolve()
    if not (data / "valid" / "_annotations.coco.json").exists():
        make(data, workers=2)
    tag = ("this" if repo == ROOT else repo.name) + "".join(
        "_" + "".join(ch for ch in e if ch.isalnum() or ch in "=.") for e in extra)
    prefix = tag if dataset == "photo_objects" else f"{tag}_{dataset}"  # photo_objects: the folders of before
    rows = []
    for config in configs:
        for epochs in epoch_list:
            sub = work / f"{prefix}_{Path(config).stem}_e{epochs}"
            click.echo(f"== {tag}: {dataset}, {config}, {epochs} epochs -> {sub}")
            row = one_run(repo, config, data, epochs, sub, num_classes=len(module.CLASSES), int8=int8,
                          extra=extra)
            rows.append(dict(row, repo=tag, dataset=dataset))
            click.echo(format_rows(rows[-1:]))
    table = format_rows(rows)
    click.echo(table)
    out = work / "results.md"
    old = out.read_text() if out.exists() else ""
    atomic_write_text(out, old + table + "\n\n")


if __name__ == "__main__":
    main()
