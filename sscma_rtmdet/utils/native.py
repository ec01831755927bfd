"""Native libraries' chatter off the terminal: TensorFlow, the TFLite converter and LiteRT write start-up
lines straight to file descriptors 1 and 2 (absl, C++ logging), past Python's sys.stdout/sys.stderr.

`quiet_native()` sends both descriptors to a temp file for the duration of a block; the text is shown only
when the block raises (then it is the clue) or with SSCMA_VERBOSE=1.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile

_DEPTH = [0]  # nested blocks share the outer redirection


def verbose() -> bool:
    return os.environ.get("SSCMA_VERBOSE", "") not in ("", "0")


@contextlib.contextmanager
def quiet_native():
    if verbose() or _DEPTH[0]:
        _DEPTH[0] += 1
        try:
            yield
        finally:
            _DEPTH[0] -= 1
        return
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1), os.dup2(sink.fileno(), 2)
        _DEPTH[0] += 1
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            _DEPTH[0] -= 1
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])
            if failed:
                sink.seek(0)
                text = sink.read()[-4000:].decode(errors="replace").strip()
                if text:
                    print(f"[native output before the error]\n{text}", file=sys.stderr)
