"""Where the toolkit's own files live: configs and pretrained weights in the package (so a wheel install
trains), caches in the user's cache folder (never in the install or the repository)."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CONFIGS_DIR = PACKAGE_DIR / "configs"
PRETRAINED_DIR = PACKAGE_DIR / "pretrained"


def cache_dir(*parts: str) -> Path:
    """`$SSCMA_RTMDET_CACHE`, else `$XDG_CACHE_HOME/sscma-rtmdet`, else `~/.cache/sscma-rtmdet`, plus parts."""
    root = os.environ.get("SSCMA_RTMDET_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "sscma-rtmdet")
    return Path(root).joinpath(*parts)


def packaged(path: str | os.PathLike, folder: Path, prefix: str) -> Path | None:
    """`configs/x.py` (or `x.py`) -> the packaged file `folder/x.py` when it exists, else None."""
    p = Path(path)
    parts = p.parts[1:] if p.parts and p.parts[0] == prefix else p.parts
    if not parts or p.is_absolute() or ".." in parts:
        return None
    candidate = folder.joinpath(*parts)
    return candidate if candidate.is_file() else None


def resolve_config_path(path: str | os.PathLike) -> Path:
    """A config as given if it exists, else the packaged one of that name (`configs/NAME.py` works from any
    folder, also after `pip install`)."""
    p = Path(path).expanduser()
    if p.exists():
        return p
    return packaged(p, CONFIGS_DIR, "configs") or p
