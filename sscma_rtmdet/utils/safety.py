"""Output paths that never destroy what the user owns: no tool writes over a file it read or into a dataset."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from ..errors import UserError


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def refuse_overwrite(out: str | os.PathLike, option: str, inputs: Iterable[str | os.PathLike] = (),
                     folders: Iterable[str | os.PathLike] = ()) -> Path:
    """`out` (a file or folder the tool writes) must not be one of `inputs` nor lie inside / contain one of
    `folders` (datasets, the model's folder of inputs). UserError naming the option otherwise."""
    target = Path(out).expanduser().resolve()
    for f in inputs:
        if Path(f).expanduser().resolve() == target:
            raise UserError(f"{option} {out} is an input of this command; write to another path")
    for d in folders:
        d = Path(d).expanduser().resolve()
        if _inside(target, d) or _inside(d, target):
            raise UserError(f"{option} {out} overlaps the dataset/input folder {d}; the tool would write over "
                            "files it reads. Choose a folder outside it")
    return target


def check_writable(folder: str | os.PathLike, option: str) -> Path:
    """Create `folder` if needed and prove a file can be written there (before any long work)."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write_test_"):
            pass
    except OSError as e:
        raise UserError(f"{option} {folder}: cannot write there ({e.strerror or e}); choose a writable folder") \
            from None
    return folder


def output_name(source: Path, root: Path | None, suffix: str = ".jpg") -> Path:
    """Relative output path for a drawing of `source`: its path under `root` (sub-folders kept), and the
    source's own extension kept in the name unless it already is `suffix`, so x.jpg, x.bmp and a/x.jpg never
    collide."""
    rel = Path(source.name) if root is None else source.resolve().relative_to(root.resolve())
    return rel if rel.suffix.lower() == suffix else rel.with_name(rel.name + suffix)
