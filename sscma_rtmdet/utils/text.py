"""Text from files the user does not control (class names, file names) made safe to print: an ANSI escape
code would recolour or clear the terminal, a newline would forge a result line."""
from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (ESC and CSI start terminal escape sequences)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(m: re.Match) -> str:
    return f"\\x{ord(m.group()):02x}"


def printable(value, keep_newlines: bool = False) -> str:
    """`str(value)` with every control character written as a visible `\\xNN` escape (`\\n` and `\\t` kept
    with `keep_newlines`, for messages whose own lines are meant)."""
    return (_CONTROL_KEEP_LINES if keep_newlines else _CONTROL).sub(_escape, str(value))
