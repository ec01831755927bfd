"""Run log: readable text lines to stdout and `<work_dir>/<timestamp>.log`, scalars to TensorBoard."""
from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path


def setup_logger(work_dir: Path | None, enabled: bool = True, name: str = "sscma_rtmdet.run") -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO if enabled else logging.ERROR)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%m/%d %H:%M:%S")
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(fmt)
    logger.addHandler(out)
    if work_dir is not None and enabled:
        work_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(work_dir / f"{time.strftime('%Y%m%d_%H%M%S')}.log")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    return logger


class Scalars:
    """TensorBoard writer that does nothing on non-main ranks or when tensorboard is missing."""

    def __init__(self, log_dir: Path | None):
        self.writer = None
        if log_dir is None:
            return
        import sys
        import types

        # tensorboard imports TensorFlow when it is installed (seconds, GBs); its own no-TF switch is the
        # presence of `tensorboard.compat.notf`, which selects the built-in stub for event files.
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # pragma: no cover - tensorboard is a pinned dependency
            return
        self.writer = SummaryWriter(str(log_dir))

    def add(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
