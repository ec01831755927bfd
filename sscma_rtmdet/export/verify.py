"""Every exported file against the torch model it came from, on real (calibration) images: the error table
`tools/export.py` prints, and the checks that refuse a broken file (constant or saturated scores)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..runtime.backends import TorchBackend, load_backend
from ..runtime.deployment import Deployment
from .tflite_export import FOREGROUND_SCORE, ExportError, object_mask

# A file's score output is "constant" (broken) only when torch's spread exceeds this: a lightly trained
# model's scores can legitimately vary by less than one int8/float16 step.
CONSTANT_SPREAD = 1e-3


def _box_errors_at_objects(ref: dict, got: dict) -> dict[str, float]:
    """Max abs box error at positions the reference scores >= FOREGROUND_SCORE (outputs (N,C,H,W))."""
    out = {}
    for name, r in ref.items():
        fg = object_mask(ref, name)
        if fg is not None and fg.any():
            out[name] = float(np.abs(got[name] - r)[fg].max())
    return out


def report_against_torch(model, dep: Deployment, fold_normalization: bool, files: dict[str, Path],
                         samples: np.ndarray, log) -> dict:
    """Max abs error per output of each exported file vs the torch model; raises on a broken file."""
    ref = TorchBackend(model, dep, fold_normalization)(samples)
    table, problems = {}, []
    for kind, path in files.items():
        if kind == "vela":  # Ethos-U custom op: runs only on the NPU
            continue
        got = load_backend(path)(samples)
        table[kind] = {n: float(np.abs(got[n] - r).max()) for n, r in ref.items()}
        if kind == "int8":
            table["int8 @obj"] = _box_errors_at_objects(ref, got)
        problems += broken_scores(path, ref, got, dep.layout)
    names = list(ref)
    log("max abs error vs torch (on calibration images):")
    log(f"{'format':<9}" + "".join(f"{n:>11}" for n in names))
    for kind, errs in table.items():
        log(f"{kind:<9}" + "".join(f"{errs[n]:>11.4g}" if n in errs else f"{'-':>11}" for n in names))
    if "int8 @obj" in table:
        log(f"('int8 @obj': box errors where torch scores >= {FOREGROUND_SCORE}; elsewhere int8 distances may be far "
            "off without effect, as those positions yield no detection)")
    if problems:
        raise ExportError("exported file(s) are broken:\n  " + "\n  ".join(problems))
    return table


def broken_scores(path: Path, ref: dict, got: dict, layout: str) -> list[str]:
    """Constant or saturated score outputs (a conversion that lost the signal)."""
    out = []
    top = 0.999 if layout == "nchw" else 6.9  # sigmoid scores, or logits (logit(0.999))
    for n, r in ref.items():
        if not n.startswith("score"):
            continue
        if np.ptp(got[n]) == 0 and np.ptp(r) > CONSTANT_SPREAD:
            out.append(f"{path.name}: output {n} is constant ({got[n].flat[0]:.4g})")
        if (got[n] >= top).mean() > 0.5 > (r >= top).mean():
            out.append(f"{path.name}: output {n} is saturated")
    return out
