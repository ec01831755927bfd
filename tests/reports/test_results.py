"""results.csv: exact round trip, empty cells, a column that appears later, resumed epochs, lazy package."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from _shared import REPO

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.reports import RESULT_COLUMNS, append_results_row, epoch_row, read_results

METRICS = {"coco/bbox_mAP": 0.1234567891234, "coco/bbox_mAP_50": 0.3, "coco/bbox_mAP_75": 0.05,
           "coco/bbox_mAP_s": -1.0, "coco/bbox_mAP_m": 0.2, "coco/bbox_mAP_l": 0.25}


def _losses(e):
    return {"loss": 2.0 / e, "loss_cls": 1.0 / e + 1e-9, "loss_bbox": 1.0 / e}


def test_rows_round_trip_exactly_with_empty_cells_when_not_validated(tmp_path):
    csv = tmp_path / "work" / "results.csv"
    for e in range(1, 4):
        append_results_row(csv, epoch_row(e, 0.004 * e / 3, _losses(e), METRICS if e == 2 else None))
    rows = read_results(csv)
    assert [list(r) for r in rows] == [list(RESULT_COLUMNS)] * 3
    assert csv.read_text().splitlines()[0] == ",".join(RESULT_COLUMNS)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and isinstance(rows[0]["epoch"], int)
    for e, r in enumerate(rows, 1):
        assert r["lr"] == 0.004 * e / 3  # repr() round-trips floats bit for bit
        assert {k: r[k] for k in ("loss", "loss_cls", "loss_bbox")} == _losses(e)
    assert rows[1]["AP"] == 0.1234567891234 and rows[1]["AP_s"] == -1.0 and rows[1]["AP50"] == 0.3
    assert all(rows[i][k] is None for i in (0, 2) for k in ("AP", "AP50", "AP75", "AP_s", "AP_m", "AP_l"))
    assert csv.read_text().splitlines()[1].endswith(",,,,,,")  # not validated: six empty cells


def test_a_new_column_widens_the_header_and_keeps_old_rows(tmp_path):
    csv = tmp_path / "results.csv"
    append_results_row(csv, {"epoch": 1, "lr": 0.01, "loss": 1.5})
    append_results_row(csv, {"epoch": 2, "lr": 0.02, "loss": 1.25, "AP": 0.5, "time_s": 12})
    append_results_row(csv, {"epoch": 3, "loss": 1.0})
    assert csv.read_text().splitlines()[0] == "epoch,lr,loss,AP,time_s"
    assert read_results(csv) == [
        {"epoch": 1, "lr": 0.01, "loss": 1.5, "AP": None, "time_s": None},
        {"epoch": 2, "lr": 0.02, "loss": 1.25, "AP": 0.5, "time_s": 12},
        {"epoch": 3, "lr": None, "loss": 1.0, "AP": None, "time_s": None}]
    assert not [p.name for p in tmp_path.iterdir() if p.name != "results.csv"]  # no temp files left


def test_numpy_scalars_nan_and_a_repeated_epoch(tmp_path):
    csv = tmp_path / "results.csv"
    append_results_row(csv, {"epoch": np.int64(1), "lr": np.float32(0.5), "loss": float("nan"), "note": "x"})
    append_results_row(csv, {"epoch": 2, "lr": 0.25, "loss": 3.0, "note": "y"})
    append_results_row(csv, {"epoch": 2, "lr": 0.25, "loss": 2.5, "note": "resumed"})  # replaces epoch 2
    rows = read_results(csv)
    assert rows[0] == {"epoch": 1, "lr": 0.5, "loss": None, "note": "x"}
    assert rows[1] == {"epoch": 2, "lr": 0.25, "loss": 2.5, "note": "resumed"} and len(rows) == 2


def test_missing_and_malformed_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_results(tmp_path / "results.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,lr\n1,0.1,7\n")
    with pytest.raises(UserError, match="longer than its header"):
        read_results(bad)
    with pytest.raises(UserError, match="bad.csv"):
        append_results_row(bad, {"epoch": 2})


def test_epoch_row_maps_evaluate_coco_metrics():
    row = epoch_row(5, 1e-3, {"loss": 1.0, "loss_cls": 0.5, "loss_bbox": 0.25}, METRICS)
    assert tuple(row) == RESULT_COLUMNS and row["AP50"] == 0.3 and row["AP_l"] == 0.25
    assert math.isclose(row["AP"], METRICS["coco/bbox_mAP"])


def test_importing_the_package_imports_no_plotting_or_cocotools():
    code = ("import sys, sscma_rtmdet.reports as r; r.__all__; "
            "print(sorted(m for m in ('matplotlib', 'pycocotools', 'cv2', 'torch') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(REPO))  # this checkout, not an installed copy
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         cwd=REPO, env=env)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
