"""The work dir of a run: who may write it (one run at a time, no silent reuse), what is kept there
(best.pth, last.pth, epoch_N.pth) and the results people look at (results.csv, plots/).

    best.pth      the best validated EMA weights (stable name; the tutorial's epoch_N.pth stays too)
    last.pth      the newest state with everything --resume needs (optimizer, EMA, RNG)
    epoch_N.pth   every save_interval epochs and the last: weights and meta; the resume state only in the
                  final one, or in all with save_resume_state (a 41 MB file becomes 10 MB)
    results.csv   one row per epoch (losses, lr, AP when validated); plots/ curves and evaluation pictures
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import UserError

LOCK_NAME = ".lock"
BEST, LAST = "best.pth", "last.pth"
RUN_FILES = ("last.pth", "best.pth", "results.csv")


class WorkDirLock:
    """An exclusive lock on the work dir for the life of a run (a second run into it is refused)."""

    def __init__(self, work_dir: Path):
        self.path = Path(work_dir) / LOCK_NAME
        self.fd = None

    def acquire(self) -> "WorkDirLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(self.fd)
            self.fd = None
            raise UserError(f"work dir {self.path.parent} is in use by a running training (pid {owner}); wait for "
                            "it, or train into another --work-dir") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def check_reuse(work_dir: Path, config_name: str, resume: bool, exist_ok: bool) -> None:
    """A work dir that already holds a run is continued with --resume or overwritten with --exist-ok;
    anything else is refused before it is touched (a new run would replace its config and checkpoints)."""
    work_dir = Path(work_dir)
    if resume or exist_ok or not work_dir.is_dir():
        return
    found = sorted(p.name for p in work_dir.iterdir() if p.name in RUN_FILES or
                   (p.suffix == ".pth" and p.name.startswith("epoch_")))
    if not found:
        return
    configs = sorted(p.name for p in work_dir.glob("*.py"))
    other = f" (its config: {', '.join(configs)})" if configs and config_name not in configs else ""
    raise UserError(f"work dir {work_dir} already holds a run{other}: {', '.join(found[:4])}; continue it with "
                    "--resume, train over it with --exist-ok, or pick another --work-dir")


def epoch_file(work_dir: Path, epoch: int) -> Path:
    return Path(work_dir) / f"epoch_{epoch}.pth"


def slim(ckpt: dict) -> dict:
    """The checkpoint without its resume state (weights, config, deployment, metrics only)."""
    return {k: (None if k == "resume" else v) for k, v in ckpt.items()}


def early_stop(patience, val_epochs: list[int], best: dict, epoch: int, log) -> bool:
    """True when `patience` validations in a row (the last at `epoch`) brought no new best AP; never when
    patience is None or 0."""
    if not patience or best.get("epoch") is None:
        return False
    since = [e for e in val_epochs if best["epoch"] < e <= epoch]
    if len(since) < int(patience):
        return False
    log(f"early stop at epoch {epoch}: no better coco/bbox_mAP in {len(since)} validations (patience "
        f"{patience}); best {best['metric']:.4f} at epoch {best['epoch']}")
    return True
