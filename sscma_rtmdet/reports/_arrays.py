"""Per-image detection / ground-truth dicts as numpy arrays (inputs may be numpy or torch)."""
from __future__ import annotations

from typing import Mapping

import numpy as np


def to_numpy(x) -> np.ndarray:
    """numpy view of an array-like; a torch tensor is detached and moved to the CPU first."""
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu()
    return np.asarray(x)


def entry_arrays(entry: Mapping, with_scores: bool) -> tuple[np.ndarray, ...]:
    """boxes (K, 4) float64, labels (K,) int64[, scores (K,) float64] of one image's dict."""
    boxes = to_numpy(entry["boxes"]).astype(np.float64).reshape(-1, 4)
    labels = to_numpy(entry["labels"]).astype(np.int64).reshape(-1)
    if not with_scores:
        return boxes, labels
    return boxes, labels, to_numpy(entry["scores"]).astype(np.float64).reshape(-1)
