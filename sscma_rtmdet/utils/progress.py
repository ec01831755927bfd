"""Progress for long loops: a tqdm bar on a terminal, periodic plain lines when stderr is redirected.

A redirected tqdm writes every redraw into the log as one endless line of carriage returns; instead, when
stderr is not a terminal, one line per PLAIN_EVERY_S seconds (and one at the end) goes through `log`.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Iterable

PLAIN_EVERY_S = 30.0


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def progress_bar(items: Iterable, desc: str = "", enabled: bool = True, total: int | None = None,
                 log: Callable[[str], None] | None = None, **tqdm_kw):
    """Iterate `items` with progress shown as fits the output: tqdm on a terminal, else plain lines."""
    if not enabled:
        return iter(items)
    if is_terminal():
        from tqdm import tqdm
        return iter(tqdm(items, desc=desc, total=total, leave=False, dynamic_ncols=True, **tqdm_kw))
    return _plain(items, desc, total, log or (lambda m: print(m, file=sys.stderr, flush=True)))


def _plain(items: Iterable, desc: str, total: int | None, log) -> Iterable:
    total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    start = last = time.monotonic()
    n = 0
    for item in items:
        yield item
        n += 1
        now = time.monotonic()
        if now - last >= PLAIN_EVERY_S:
            last = now
            of = f"/{total}" if total else ""
            log(f"{desc}: {n}{of} ({now - start:.0f}s)")
    if time.monotonic() - start >= PLAIN_EVERY_S:
        log(f"{desc}: {n} done ({time.monotonic() - start:.0f}s)")
