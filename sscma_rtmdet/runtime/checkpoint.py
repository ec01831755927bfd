"""Self-describing checkpoints, written atomically.

A checkpoint holds `state_dict` (the EMA weights: the ones evaluated and exported), the resolved config as
plain data (nested dicts/lists of numbers and strings; `stored_config` rebuilds it, nothing in a model file
is ever executed), `meta` (the deployment record -- classes, imgsz, preprocessing, target, decode settings --
epoch/iter, metrics), toolkit version, and, for resuming, the raw model, optimizer, EMA and RNG states. Everything loads with `torch.load(weights_only=True)`.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch

from ..config import Config, config_to_data
from ..errors import CheckpointError
from ..models.arch import describe, differences
from ..utils.fileio import atomic_save_torch
from ..version import __version__

FORMAT = "sscma_rtmdet/1"
# torch.save stores tensors uncompressed, so a .pth's zip members add up to about its own size; a file whose
# members claim far more is a decompression bomb (1.5 MB inflating to 1.8 GB), refused before reading any.
MAX_INFLATION = 4
_INFLATION_SLACK = 16 << 20


def make_checkpoint(*, state_dict: dict, config: dict, deployment: dict, epoch: int, iteration: int,
                    resume: dict | None = None, metrics: dict | None = None, extra: dict | None = None) -> dict:
    """A checkpoint dict; `deployment` is runtime.deployment.Deployment.to_dict() (imgsz, preprocess,
    classes, target, decode settings), the same record export sidecars carry."""
    meta = {"deployment": dict(deployment), "epoch": epoch, "iter": iteration, "metrics": metrics or {}}
    meta.update(extra or {})
    return {"format": FORMAT, "version": __version__, "state_dict": state_dict, "config": config_to_data(config),
            "meta": meta, "resume": resume}


def checkpoint_classes(ckpt: dict) -> list[str]:
    """Class names a checkpoint of ours was trained on (deployment record, or an older version's meta)."""
    meta = ckpt.get("meta") or {}
    dep = meta.get("deployment") or {}
    return list(dep.get("classes") or meta.get("classes") or [])


def save_checkpoint(ckpt: dict, path: str | os.PathLike) -> Path:
    return atomic_save_torch(ckpt, path)


def load_checkpoint_file(path: str | os.PathLike) -> dict:
    """Load any checkpoint file (ours or mmdet's) onto the CPU with a clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.suffix.lower() == ".py":
        raise CheckpointError(f"{path} is a config (a Python file), not a checkpoint: give the checkpoint too, "
                              f"CONFIG.py CHECKPOINT.pth (train one with tools/train.py {path.name})")
    check_inflation(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # torch's text advises weights_only=False, which would run the file
        raise CheckpointError(f"cannot read checkpoint {path}: {_unpickling_reason(str(e))}") from None
    except Exception as e:  # corrupt / truncated / not a torch file
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(ckpt).__name__}, expected a dict")
    check_format(ckpt, path)
    return ckpt


def _unpickling_reason(message: str) -> str:
    """Why torch.load(weights_only=True) refused a file, without its advice to load it unsafely."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    if found:
        return (f"it holds Python objects besides tensors and plain data (it calls {found.group(1)} when loaded, "
                "so it could run code): refused. Checkpoints of sscma-rtmdet and mmdetection hold none; use one "
                "from a trusted source")
    return "not a torch checkpoint (its pickle holds something other than tensors and plain data)"


def check_format(ckpt: dict, path) -> None:
    """CheckpointError for a checkpoint of another sscma-rtmdet format (a newer version's)."""
    fmt = ckpt.get("format")
    if not isinstance(fmt, str) or not fmt.startswith("sscma_rtmdet/") or fmt == FORMAT:
        return
    written = f", written by sscma-rtmdet {ckpt['version']}" if isinstance(ckpt.get("version"), str) else ""
    raise CheckpointError(f"checkpoint {path} has format {fmt!r}{written}; this is sscma-rtmdet {__version__}, "
                          f"which reads {FORMAT!r}: it was written by a newer version of sscma-rtmdet, upgrade "
                          "to use it")


def check_inflation(path: Path) -> None:
    """CheckpointError when the zip members of `path` claim more than MAX_INFLATION x its size (a legacy,
    non-zip torch file is left to torch.load)."""
    import zipfile

    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as zf:
            claimed = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    if claimed > MAX_INFLATION * size + _INFLATION_SLACK:
        raise CheckpointError(f"checkpoint {path} is {size / 2**20:.1f} MiB but its members inflate to "
                              f"{claimed / 2**20:.0f} MiB (more than {MAX_INFLATION}x): not a file torch.save "
                              "writes (a decompression bomb?); refused before loading it")


def is_ours(ckpt: dict) -> bool:
    return ckpt.get("format") == FORMAT


def stored_config(ckpt: dict, path, required: bool = True):
    """The Config a checkpoint of ours was trained with, rebuilt from plain data (never executed).

    Older checkpoints hold the config as Python text: that is refused when `required` (running it would run
    whatever code a model file carries) and gives None otherwise."""

    data = ckpt.get("config")
    if isinstance(data, dict) and all(isinstance(k, str) for k in data):
        return Config(data, filename=str(path))
    if not required:
        return None
    if isinstance(data, str):
        raise CheckpointError(
            f"{path} stores its config as Python text (written by an older sscma-rtmdet). Code inside a model "
            "file is never executed, so it cannot rebuild its model on its own: pass the training config "
            f"(tools/test.py CONFIG {path}, tools/infer.py --config CONFIG, Detector(path, config=CONFIG)), or "
            "re-save it with a current version (resume or retrain) to store the config as data")
    raise CheckpointError(f"{path} holds no usable config (found {type(data).__name__}); pass the training "
                          "config (tools/test.py CONFIG CHECKPOINT)")


def check_architecture(ckpt: dict, path, cfg, allow: bool = False, log=None) -> None:
    """A checkpoint of ours must describe the same network as `cfg.model` (activation, widths, head options).

    Raises CheckpointError naming both; with `allow` it only warns through `log` (default: warnings)."""

    stored = stored_config(ckpt, path, required=False) if is_ours(ckpt) else None
    if stored is None or "model" not in stored:
        return
    diffs = differences(stored["model"], cfg["model"])
    if not diffs:
        return
    msg = (f"{path} was trained as {describe(stored['model'])} but the config ({cfg.filename or 'given'}) "
           f"builds {describe(cfg['model'])}:\n  " + "\n  ".join(diffs))
    if not allow:
        raise CheckpointError(msg + "\nuse the config the checkpoint was trained with, or pass "
                              "--allow-arch-mismatch to load its weights into this model anyway")
    if log is None:
        import warnings
        warnings.warn(msg + "\n(--allow-arch-mismatch: loading anyway)", stacklevel=2)
    else:
        log(msg + "\n(--allow-arch-mismatch: loading anyway)")


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


def _resume_candidates(work_dir: Path) -> list[Path]:
    """last.pth, then epoch_N.pth and best_*_epoch_N.pth by descending N (newest training state first);
    at equal N the plain epoch file comes first, as the name a user expects to see."""
    numbered = [(int(m.group(1)), p) for p in work_dir.glob("*.pth")
                if (m := re.fullmatch(r"(?:epoch|best_\w+_epoch)_(\d+)\.pth", p.name))]
    last = [work_dir / "last.pth"] if (work_dir / "last.pth").is_file() else []
    return last + [p for _, p in sorted(numbered, key=lambda t: (-t[0], t[1].name.startswith("best"), t[1].name))]


def load_resumable(work_dir: str | os.PathLike, log=None) -> tuple[Path | None, dict | None]:
    """(path, checkpoint) of the newest readable checkpoint with training state in `work_dir`, else
    (None, None). An unreadable one (a truncated last.pth) is skipped and `log` says which file is used."""
    skipped = []
    for path in _resume_candidates(Path(work_dir)):
        try:
            ckpt = load_checkpoint_file(path)
        except CheckpointError as e:
            skipped.append(f"{path.name} ({str(e).split(': ', 1)[-1][:120]})")
            continue
        if not (is_ours(ckpt) and ckpt.get("resume")):
            skipped.append(f"{path.name} (no training state)")
            continue
        if skipped and log is not None:
            log(f"--resume: skipped unreadable {'; '.join(skipped)}; resuming from {path.name}, the newest "
                "readable checkpoint")
        return path, ckpt
    if skipped:
        raise CheckpointError(f"--resume: no readable checkpoint in {work_dir}: {'; '.join(skipped)}; start "
                              "a fresh run (without --resume) or pass --resume PATH")
    return None, None


# atomic_write's temp names: "." + stem + "." + 8 mkstemp characters + suffix
_TEMP = re.compile(r"\.(?:last|epoch_\d+|best_\w+|qat_start)\.[a-z0-9_]{8}\.pth")


def clean_stale_temp(work_dir: str | os.PathLike) -> list[Path]:
    """Delete checkpoint temp files a killed save left behind (e.g. `.epoch_3.k2j4_x9a.pth`); returns them."""
    work_dir = Path(work_dir)
    stale = [p for p in work_dir.glob(".*.pth") if _TEMP.fullmatch(p.name) and p.is_file()] \
        if work_dir.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
