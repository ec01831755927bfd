"""Matplotlib on the Agg canvas, without pyplot: no display needed, no global figure list to leak into."""
from __future__ import annotations

import os
from pathlib import Path

from ..utils.fileio import atomic_write


def new_figure(width: float, height: float, **kw):
    """A matplotlib Figure of width x height inches (100 dpi) with constrained layout, on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained", **kw)
    FigureCanvasAgg(fig)  # Agg always: never a GUI backend, whatever MPLBACKEND or pyplot say
    return fig


def save_png(fig, out_png: str | os.PathLike) -> Path:
    """Write `fig` as a PNG through a temp file + rename; returns the path."""
    path = Path(out_png)
    with atomic_write(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return path
