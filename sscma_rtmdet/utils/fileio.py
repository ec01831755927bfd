"""Atomic writes: a crash or Ctrl-C never leaves a half-written checkpoint or export behind."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds.

    The temp file keeps the target's suffix (some writers, e.g. TFLite/ONNX tools, check it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix or ".tmp",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OSError as e:  # a write that failed without naming its file (disk full): name the target
            if e.filename is None and e.errno is not None:
                raise OSError(e.errno, e.strerror, str(path)) from None
            raise
        if tmp_path.exists():  # mkstemp makes 0600 files: give the result the mode the user's umask asks for
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save_torch(obj, path: str | os.PathLike) -> Path:
    """torch.save through a temp file + rename."""
    import torch

    with atomic_write(path) as tmp, open(tmp, "wb", buffering=0) as f:
        try:
            torch.save(obj, f)  # unbuffered: a full disk raises OSError (ENOSPC) at the write that fails
        except RuntimeError as e:  # torch's zip writer then fails on closing ("unexpected pos"): the OS error
            cause = _os_error_in(e)
            if cause is None:
                raise
            raise OSError(cause.errno, cause.strerror, str(path)) from None
    return Path(path)


def _os_error_in(exc: BaseException) -> OSError | None:
    """The OSError with an errno that `exc` was raised while handling, if any (torch hides it as the context)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_write(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
