"""Self-describing checkpoints, written atomically.

A checkpoint holds `state_dict` (the EMA weights: the ones evaluated and exported), the resolved config as
text, class names, preprocessing, imgsz, epoch/iter, toolkit version, and, for resuming, the raw model,
optimizer, EMA and RNG states.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from .. import __version__
from ..errors import CheckpointError
from ..utils.fileio import atomic_save_torch

FORMAT = "sscma_rtmdet/1"


def make_checkpoint(*, state_dict: dict, config_text: str, classes: list[str], preprocess: dict,
                    imgsz, epoch: int, iteration: int, resume: dict | None = None,
                    metrics: dict | None = None) -> dict:
    return {
        "format": FORMAT, "version": __version__, "state_dict": state_dict, "config": config_text,
        "meta": {"classes": list(classes), "num_classes": len(classes), "preprocess": dict(preprocess),
                 "imgsz": list(imgsz), "epoch": epoch, "iter": iteration, "metrics": metrics or {}},
        "resume": resume,
    }


def save_checkpoint(ckpt: dict, path: str | os.PathLike) -> Path:
    return atomic_save_torch(ckpt, path)


def load_checkpoint_file(path: str | os.PathLike) -> dict:
    """Load any checkpoint file (ours or mmdet's) onto the CPU with a clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt / truncated / not a torch file
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(ckpt).__name__}, expected a dict")
    return ckpt


def is_ours(ckpt: dict) -> bool:
    return ckpt.get("format") == FORMAT


def find_latest(work_dir: str | os.PathLike) -> Path | None:
    """The newest resumable checkpoint in a work dir: `last.pth` if present, else the highest epoch_N."""
    work_dir = Path(work_dir)
    last = work_dir / "last.pth"
    if last.is_file():
        return last
    epochs = [(int(m.group(1)), p) for p in work_dir.glob("epoch_*.pth")
              if (m := re.fullmatch(r"epoch_(\d+)\.pth", p.name))]
    return max(epochs)[1] if epochs else None


def prune_epoch_checkpoints(work_dir: str | os.PathLike, keep: int, protect: set[Path] = frozenset()):
    """Keep the newest `keep` periodic epoch_N.pth files (keep <= 0 keeps all)."""
    if keep <= 0:
        return
    epochs = sorted((int(m.group(1)), p) for p in Path(work_dir).glob("epoch_*.pth")
                    if (m := re.fullmatch(r"epoch_(\d+)\.pth", p.name)))
    for _, p in epochs[:-keep]:
        if p not in protect:
            p.unlink(missing_ok=True)
