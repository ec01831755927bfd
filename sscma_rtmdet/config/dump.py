"""Write a loaded config as one flat, loadable Python file; `config_to_data` gives the plain data that
checkpoints store (never text: a model file's config is data, rebuilt without executing anything)."""
from __future__ import annotations

import math
import os
import pprint
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..utils.fileio import atomic_write_text
from .config import to_plain

FLATTENED_HEADER = "# Flattened sscma-rtmdet config"

__all__ = ["config_to_data", "config_to_text", "dump_config"]

_WIDTH = 100


def _check_literal(value: Any, where: str) -> None:
    """Raise ConfigError unless `value` is built from literals that `repr` writes back loadably."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"config value {where} = {value!r} cannot be written to a config file; "
                              f"use a finite number")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_literal(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_literal(key, f"{where} key")
            _check_literal(item, f"{where}.{key}")
        return
    raise ConfigError(f"config value {where} is a {type(value).__name__}, which cannot be written to a "
                      f"config file; use plain numbers, strings, lists, tuples and dicts")


def _assignment(name: str, value: Any) -> str:
    prefix = f"{name} = "
    text = pprint.pformat(value, width=max(_WIDTH - len(prefix), 40), sort_dicts=False)
    # Continuation lines sit inside brackets, so indenting them under the value stays valid Python.
    return prefix + text.replace("\n", "\n" + " " * len(prefix))


def config_to_data(cfg: dict) -> dict:
    """`cfg` as plain nested dicts/lists/tuples of numbers and strings (what checkpoints store).

    `Config(config_to_data(cfg))` rebuilds it; nothing in it is ever executed."""
    plain = to_plain(cfg)
    for name, value in plain.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ConfigError(f"config key {name!r} is not a valid top-level config name")
        _check_literal(value, name)
    return plain


def config_to_text(cfg: dict) -> str:
    """Flat Python source for `cfg`: a header comment, then one `name = value` per top-level key."""
    plain = config_to_data(cfg)
    source = getattr(cfg, "filename", None)
    header = FLATTENED_HEADER + (f" (from {source})" if source else "") + \
             "; load it with sscma_rtmdet.config.load_config.\n"
    lines = [_assignment(name, value) for name, value in plain.items()]
    return header + "\n".join(lines) + "\n"


def dump_config(cfg: dict, path: str | os.PathLike) -> Path:
    """Write `config_to_text(cfg)` to `path` atomically; returns the path."""
    path = Path(path)
    if path.suffix != ".py":
        raise ConfigError(f"config dump path {path} must end in .py so it can be loaded again")
    return atomic_write_text(path, config_to_text(cfg))


def default_work_dir(config_path: str) -> str:
    """`work_dirs/<config file stem>`: where a run of `config_path` writes unless told otherwise."""
    return os.path.join("work_dirs", os.path.splitext(os.path.basename(config_path))[0])


def _places(obj: Any, value: Any, prefix: str = "") -> list[str]:
    """Dotted paths inside dicts/lists of `obj` whose value equals `value` (same type; a tuple like imgsz
    matches as a whole)."""
    if prefix and type(obj) is type(value) and obj == value:
        return [prefix]
    if isinstance(obj, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple)):
        items = [(f"{prefix}.{i}", v) for i, v in enumerate(obj)]
    else:
        return [prefix] if type(obj) is type(value) and obj == value else []
    return [p for key, v in items for p in _places(v, value, key)]


def check_flattened(path: Path, first: str, checked: dict, reference: dict) -> None:
    """A flattened config (written by a run) holds derived values as plain copies: `max_epochs=2` would leave
    schedule.max_epochs at 60. Refuse a top-level override whose old value is copied elsewhere."""
    if not first.startswith(FLATTENED_HEADER):
        return
    origin = first[first.find("(from ") + 6:first.find(")")] if "(from " in first else None
    for key, value in checked.items():
        if "." in key or isinstance(reference.get(key), dict) or reference.get(key) == value:
            continue
        copies = [p for name, v in reference.items() if name != key for p in _places(v, reference[key], name)]
        if copies:
            shown = ", ".join(copies[:4]) + (f" and {len(copies) - 4} more" if len(copies) > 4 else "")
            hint = f"load the original config ({origin}) with the same --cfg-options" if origin else \
                "load the original config with the same --cfg-options"
            raise ConfigError(
                f"--cfg-options {key}=...: {path} is a flattened config written by a run, where {key} is also "
                f"copied into {shown}; those copies would keep the old value. Either {hint}, or set "
                f"each copy with a dotted key (e.g. {copies[0]}=...).")
