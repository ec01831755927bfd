"""results.csv in the work dir: one row per epoch (lr, losses, and COCO metrics when validated).

The header is the union of every row's keys in first-seen order, so a column that appears later (a new
metric) is added by rewriting the file with the wider header; older rows get empty cells there. Every
write goes through a temp file + rename, so a crash never leaves half a file behind.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import UserError
from ..utils.fileio import atomic_write_text

LOSS_COLUMNS = ("loss", "loss_cls", "loss_bbox")
# evaluate_coco's metric names -> results.csv columns
METRIC_COLUMNS = {"coco/bbox_mAP": "AP", "coco/bbox_mAP_50": "AP50", "coco/bbox_mAP_75": "AP75",
                  "coco/bbox_mAP_s": "AP_s", "coco/bbox_mAP_m": "AP_m", "coco/bbox_mAP_l": "AP_l"}
RESULT_COLUMNS = ("epoch", "lr", *LOSS_COLUMNS, *METRIC_COLUMNS.values())


def epoch_row(epoch: int, lr: float, losses: Mapping[str, float],
              metrics: Mapping[str, float] | None = None) -> dict:
    """A results.csv row with every RESULT_COLUMNS key: metric cells are None (empty) when not validated.

    `losses` holds loss / loss_cls / loss_bbox (epoch means); `metrics` evaluate_coco's 'coco/bbox_mAP'...
    """
    row = {"epoch": int(epoch), "lr": float(lr)}
    row.update({k: losses.get(k) for k in LOSS_COLUMNS})
    row.update({col: (metrics or {}).get(name) for name, col in METRIC_COLUMNS.items()})
    return row


def _cell(value: Any) -> str:
    """CSV text of a value: '' for None/nan, repr for floats (round-trips exactly), str otherwise."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar, 0-d tensor
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _parse(text: str) -> Any:
    """Inverse of _cell: '' -> None, integers -> int, numbers -> float, anything else stays text."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows as raw text) of a results csv; UserError naming the file when it is not one."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"cannot read {path} ({type(e).__name__}: {e}); delete it to start a new one") from e
    if any(None in r for r in rows):  # DictReader files extra cells under the key None
        raise UserError(f"{path} has rows longer than its header; delete it to start a new one")
    return header, rows


def append_results_row(csv_path: str | os.PathLike, row: Mapping[str, Any]) -> Path:
    """Add `row` to the results csv (created on first use) and return its path.

    A row whose 'epoch' is already in the file replaces that row (a resumed run repeats the epoch it
    crashed in). New keys widen the header; keys missing from `row` are empty cells.
    """
    path = Path(csv_path)
    header, rows = _read_table(path) if path.exists() else ([], [])
    header += [k for k in row if k not in header]
    new = {k: _cell(v) for k, v in row.items()}
    if "epoch" in new:
        rows = [r for r in rows if r.get("epoch") != new["epoch"]]
    rows.append(new)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


def read_results(csv_path: str | os.PathLike) -> list[dict]:
    """Rows of a results csv as dicts (header order): numbers parsed, empty cells None."""
    path = Path(csv_path)
    if not path.is_file():
        raise UserError(f"{path} not found: results.csv is written by training, one row per epoch")
    header, rows = _read_table(path)
    return [{k: _parse(r.get(k) or "") for k in header} for r in rows]
