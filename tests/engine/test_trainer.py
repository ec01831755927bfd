import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _train_utils import CONFIG, small_dataset, tutorial_options

from sscma_rtmdet.config import load_config
from sscma_rtmdet.runtime.checkpoint import load_checkpoint_file
from sscma_rtmdet.engine.guards import TrainingDiverged
from sscma_rtmdet.engine.trainer import Trainer, TrainOptions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("demo"))


def _train(data, work_dir, stop=None, resume=None, **extra):
    cfg = load_config(CONFIG, tutorial_options(data, **extra))
    opts = TrainOptions(work_dir=work_dir, config_path=str(CONFIG), resume=resume, progress=False,
                        stop_after_iters=stop)
    return Trainer(cfg, opts).train()


def test_tutorial_command_writes_checkpoints_config_log_and_scalars(data, tmp_path):
    """The tutorial's command line, verbatim apart from smaller sizes, run from a fresh folder."""
    cmd = [sys.executable, str(REPO / "tools" / "train.py"), str(CONFIG), "--cfg-options",
           *tutorial_options(data), "--no-progress"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    wd = tmp_path / "work_dirs" / "rtmdet_nano_8xb32_300e_coco"
    names = {p.name for p in wd.iterdir()}
    assert {"epoch_2.pth", "last.pth", "best.pth", "results.csv", "plots", "rtmdet_nano_8xb32_300e_coco.py",
            "tf_logs"} <= names
    assert not any(n.startswith("best_coco_bbox_mAP_epoch_") for n in names)  # one stable best.pth
    assert any(n.endswith(".log") for n in names)
    assert "bbox_mAP_copypaste" in res.stdout
    _results_csv_matches_the_log(wd, res.stdout + res.stderr)
    ckpt = load_checkpoint_file(wd / "epoch_2.pth")
    dep = ckpt["meta"]["deployment"]
    assert dep["classes"] == ["circle", "square", "triangle"] and dep["target"] == "sscma-micro"
    assert ckpt["meta"]["epoch"] == 2 and dep["imgsz"] == [64, 64]
    assert ckpt["meta"]["schedule"]["lr"] > 0 and ckpt["resume"]  # the final epoch file can be resumed
    assert load_checkpoint_file(wd / "best.pth")["resume"] is None  # best.pth: weights only
    assert ckpt["config"]["num_classes"] == 3 and ckpt["config"]["model"]["head"]["num_classes"] == 3
    assert list(wd.glob("tf_logs/events.out.tfevents.*"))
    dumped = load_config(wd / "rtmdet_nano_8xb32_300e_coco.py")
    assert dumped.model.head.num_classes == 3 and dumped.imgsz == (64, 64)


def _results_csv_matches_the_log(wd, log: str) -> None:
    """results.csv holds one row per epoch whose AP/AP50 are the validation lines of the log; plots exist."""
    import csv
    import re

    rows = {int(r["epoch"]): r for r in csv.DictReader((wd / "results.csv").open())}
    logged = {int(e): (float(a), float(a50)) for e, a, a50 in
              re.findall(r"Epoch\(val\) \[(\d+)\] coco/bbox_mAP: ([\d.]+) coco/bbox_mAP_50: ([\d.]+)", log)}
    assert sorted(rows) == [1, 2] and logged and set(logged) <= set(rows)
    for epoch, (ap, ap50) in logged.items():
        assert abs(float(rows[epoch]["AP"]) - ap) < 1e-4 and abs(float(rows[epoch]["AP50"]) - ap50) < 1e-4
    for r in rows.values():
        assert float(r["lr"]) > 0 and float(r["loss"]) > 0
        assert abs(float(r["loss"]) - float(r["loss_cls"]) - float(r["loss_bbox"])) < 1e-4 * float(r["loss"])
    assert {"training.png", "pr_curve.png", "confusion_matrix.png", "per_class_ap.png",
            "val_predictions.png"} <= {p.name for p in (wd / "plots").iterdir()}


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_resume_after_kill_matches_uninterrupted_run(data, tmp_path, precision):
    extra = dict(max_epochs=3, val_interval=10, batch_size=2, precision=precision)  # 4 iterations per epoch
    _train(data, tmp_path / "full", **extra)
    # "Kill" in the middle of epoch 2 (iteration 6 of 12), then resume from the work dir.
    assert _train(data, tmp_path / "cut", stop=6, **extra) == {"stopped": True}
    assert not (tmp_path / "cut" / "epoch_3.pth").exists()
    _train(data, tmp_path / "cut", resume="auto", **extra)
    a = load_checkpoint_file(tmp_path / "full" / "last.pth")
    b = load_checkpoint_file(tmp_path / "cut" / "last.pth")
    assert a["meta"]["iter"] == b["meta"]["iter"] == 12
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    for k, v in a["resume"]["model"].items():
        assert torch.equal(v, b["resume"]["model"][k]), k


def test_non_finite_loss_stops_without_saving(data, tmp_path, monkeypatch):
    from sscma_rtmdet.criterion import RTMDetCriterion

    real = RTMDetCriterion.__call__

    def nan_after_first(self, *a, **k):
        out = real(self, *a, **k)
        nan_after_first.calls += 1
        if nan_after_first.calls > 1:
            out["loss"] = out["loss"] * float("nan")
        return out
    nan_after_first.calls = 0
    monkeypatch.setattr(RTMDetCriterion, "__call__", nan_after_first)
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 1, iteration 2"):
        _train(data, tmp_path / "wd", max_epochs=1)
    assert not list((tmp_path / "wd").glob("*.pth"))


def test_num_classes_mismatch_is_a_clear_cli_error(data, tmp_path):
    opts = [o for o in tutorial_options(data) if not o.startswith("num_classes")] + ["num_classes=2"]
    res = subprocess.run([sys.executable, str(REPO / "tools" / "train.py"), str(CONFIG), "--cfg-options", *opts,
                          "--work-dir", str(tmp_path / "wd")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "error:" in res.stderr and "3" in res.stderr and "2" in res.stderr and "Traceback" not in res.stderr
