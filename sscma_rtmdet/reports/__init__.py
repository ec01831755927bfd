"""Results people look at: results.csv, training curves, PR curves, confusion matrix, picture grids.

Importing this package is cheap (no matplotlib, no pycocotools): every name loads its module on first use.
Plots are drawn on matplotlib's Agg canvas (no display, no pyplot global state).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "RESULT_COLUMNS": "results", "append_results_row": "results", "epoch_row": "results",
    "read_results": "results",
    "plot_training": "plots", "pr_curves": "plots", "per_class_ap_bars": "plots", "PRCurves": "plots",
    "confusion_matrix": "confusion", "plot_confusion_matrix": "confusion",
    "prediction_grid": "pictures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):  # PEP 562: load the module behind a name only when it is used
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
