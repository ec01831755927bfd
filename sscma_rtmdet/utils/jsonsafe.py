"""JSON from files the user does not control, parsed with a nesting limit.

The C decoder recurses once per nesting level and stops only at the interpreter's recursion limit; onnx2tf
raises that limit to 2**31 - 1 on import, and then a file nested 100000 deep overflows the C stack (a
segfault) instead of raising RecursionError. COCO files and sidecars nest a few levels; MAX_DEPTH is far above.
"""
from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Iterator

MAX_DEPTH = 500


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


@contextlib.contextmanager
def _nesting_limit() -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(min(old, _stack_depth() + MAX_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def loads(text: str | bytes) -> Any:
    """json.loads; RecursionError (not a crash) for nesting beyond about MAX_DEPTH levels."""
    with _nesting_limit():
        return json.loads(text)


def load(fp) -> Any:
    """json.load of an open file, with loads' nesting limit."""
    return loads(fp.read())
