"""YOLO label files: one object per line, `class cx cy w h` normalised to 0..1, or a segmentation polygon
`class x1 y1 x2 y2 x3 y3 ...` (its bounding box is taken).

Value checks follow Ultralytics' own (every coordinate within 0..1): a value outside by at most
`COORD_TOL` is clipped with a counted warning, one further out is an error naming the file and line. A
box whose corners reach past the image edge (cx - w/2 < 0 with every value in range) is clipped to the
image and counted, as Ultralytics clips it too.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from ...errors import DataError
from .common import Notes

COORD_TOL = 1e-3  # a rounding or exporter slip, not a wrong unit; further out is pixel coordinates or a bug
_ROUNDING = 1e-6  # 6-decimal exports overshoot 1.0 by up to 5e-7 at a border: not worth a warning
_MAX_LABEL_BYTES = 10 * 2**20


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last `/images/` component becomes `/labels/`, the suffix `.txt`."""
    s = os.path.abspath(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if sa in s:
        s = sb.join(s.rsplit(sa, 1))
    return Path(s).with_suffix(".txt")


def _numbers(tokens: list[str], where: str) -> list[float]:
    out = []
    for tok in tokens:
        try:
            v = float(tok)
        except ValueError:
            raise DataError(f"{where}: non-numeric value {tok!r}; a line is 'class cx cy w h' "
                            "(numbers separated by spaces)") from None
        if not math.isfinite(v):
            raise DataError(f"{where}: value {tok!r} is not a finite number")
        out.append(v)
    return out


def _class_index(tok: str, value: float, where: str, names: list[str], yaml_name: str) -> int:
    if value != int(value):
        raise DataError(f"{where}: class index {tok!r} is not an integer")
    cls = int(value)
    if not 0 <= cls < len(names):
        raise DataError(f"{where}: class {cls} but {yaml_name} names {len(names)} classes "
                        f"(0..{len(names) - 1}: {', '.join(names)}); fix the label or add the class to names")
    return cls


def _checked_coords(coords: list[float], tokens: list[str], where: str, notes: Notes) -> list[float]:
    """Coordinates within 0..1 (clipped when within COORD_TOL outside, counted); further out: DataError."""
    out = []
    for v, tok in zip(coords, tokens):
        if v < -COORD_TOL or v > 1 + COORD_TOL:
            raise DataError(f"{where}: coordinate {tok} is outside 0..1; YOLO labels are normalised by the "
                            "image width and height (pixel coordinates must be divided by them)")
        if v < -_ROUNDING or v > 1 + _ROUNDING:
            notes.add("coordinates slightly outside 0..1 clipped", where)
        out.append(min(max(v, 0.0), 1.0))
    return out


def parse_line(line: str, where: str, names: list[str], yaml_name: str,
               notes: Notes) -> tuple[int, tuple[float, float, float, float]] | None:
    """One label line -> (class, normalised xyxy) or None for a blank line; a malformed one: DataError."""
    tokens = line.split()
    if not tokens:
        return None
    n = len(tokens)
    if n < 5:
        raise DataError(f"{where}: expected 'class cx cy w h' (5 numbers), got {n}")
    if n > 5 and (n % 2 == 0 or n < 7):
        raise DataError(f"{where}: expected 'class cx cy w h' (5 numbers) or a polygon "
                        f"'class x1 y1 x2 y2 x3 y3 ...' (an odd count, 7 or more), got {n}")
    values = _numbers(tokens, where)
    cls = _class_index(tokens[0], values[0], where, names, yaml_name)
    c = _checked_coords(values[1:], tokens[1:], where, notes)
    if n == 5:
        cx, cy, w, h = c
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    else:
        box = (min(c[0::2]), min(c[1::2]), max(c[0::2]), max(c[1::2]))
    # a box touching the border overshoots by the export's rounding: not a box reaching past the image
    return cls, tuple(min(max(v, 0.0), 1.0) if -_ROUNDING <= v <= 1 + _ROUNDING else v for v in box)


def read_label_file(path: Path, where: str, names: list[str], yaml_name: str,
                    notes: Notes) -> list[tuple[int, int, tuple[float, float, float, float]]]:
    """Every object of one label file: [(line number, class, normalised xyxy)]; `where` names the file."""
    if path.stat().st_size > _MAX_LABEL_BYTES:
        raise DataError(f"{where}: label file over {_MAX_LABEL_BYTES // 2**20} MB; is this a label file?")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read label file {where}: {e}") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        obj = parse_line(line, f"{where}:{lineno}", names, yaml_name, notes)
        if obj is not None:
            out.append((lineno, *obj))
    return out
