"""`--cfg-options` parsing and checking against the config they override.

`parse_cfg_options(["imgsz=(192,192)", "data_root=/data/x/"])` turns `KEY=VALUE` tokens into a dict;
`check_overrides(overrides, reference, filename)` verifies every key exists in the config (with a
"did you mean" hint) and that every value has the config's own type, returning the coerced values.
"""
from __future__ import annotations

import ast
import difflib
from typing import Any

from ..errors import ConfigError

__all__ = ["parse_cfg_options", "check_overrides", "split_key"]


def parse_cfg_options(options: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """Parse `KEY=VALUE` tokens (later tokens win).

    VALUE goes through `ast.literal_eval` (`True`, `None`, `[1,2]`, `(192,192)`, `192,192`); a comma list
    that is not one literal but whose parts are (e.g. `192, 'a'`) becomes a tuple; anything else stays the
    raw string (`/data/x/`, `relu`, `train/`).
    """
    out: dict[str, Any] = {}
    for token in options or ():
        if not isinstance(token, str) or "=" not in token:
            raise ConfigError(f"--cfg-options {token!r}: expected KEY=VALUE (e.g. num_classes=2, "
                              f"imgsz='(192,192)')")
        key, raw = token.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--cfg-options {token!r}: empty key; write KEY=VALUE, dotted keys like "
                              f"model.head.num_classes=2")
        out[key] = _parse_value(raw.strip())
    return out


def as_overrides(cfg_options: Any) -> dict:
    """`cfg_options` as given to load_config (None, "k=v", ["k=v", ...] or a dict) -> {key: value}."""
    if cfg_options is None:
        return {}
    if isinstance(cfg_options, dict):
        return dict(cfg_options)
    if isinstance(cfg_options, str):
        cfg_options = [cfg_options]
    if isinstance(cfg_options, (list, tuple)):
        return parse_cfg_options(list(cfg_options))
    raise ConfigError(f"cfg_options must be a list of 'KEY=VALUE' strings or a dict, got "
                      f"{type(cfg_options).__name__}")


def _parse_value(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if "," in raw:
        try:
            return tuple(ast.literal_eval(p.strip()) for p in raw.split(","))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    return raw


def split_key(key: str) -> list[str | int]:
    """`'train_pipeline.2.size'` -> `['train_pipeline', 2, 'size']` (all-digit parts become indices)."""
    return [int(p) if p.isdigit() else p for p in key.split(".")]


def _suggest(name: str, choices) -> str:
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    return f"known keys: {shown}"


def _resolve(key: str, reference: dict, filename: str) -> Any:
    """Walk `key`'s dotted path in `reference`; return the config's value there."""
    parts = split_key(key)
    cur: Any = reference
    for depth, part in enumerate(parts):
        where = ".".join(str(p) for p in parts[:depth])
        if isinstance(cur, dict):
            if part not in cur:
                scope = f" under {where!r}" if where else ""
                raise ConfigError(f"--cfg-options {key}: {str(part)!r} is not defined{scope} in {filename}; "
                                  f"{_suggest(str(part), cur.keys())}")
            cur = cur[part]
        elif isinstance(cur, (list, tuple)):
            if not isinstance(part, int) or part >= len(cur):
                raise ConfigError(f"--cfg-options {key}: {where!r} in {filename} is a {type(cur).__name__} "
                                  f"of {len(cur)} items; use an index 0..{len(cur) - 1}, got {part!r}")
            cur = cur[part]
        else:
            raise ConfigError(f"--cfg-options {key}: {where!r} in {filename} is {type(cur).__name__} "
                              f"{cur!r}, it has no field {part!r}")
    return cur


class _Mismatch(Exception):
    def __init__(self, where: str, ref: Any, val: Any):
        super().__init__(where)
        self.where, self.ref, self.val = where, ref, val


def _coerce(ref: Any, val: Any, where: str = "") -> Any:
    """Return `val` converted to `ref`'s type (int->float, list<->tuple) or raise _Mismatch."""
    if ref is None:
        return val
    if isinstance(val, str) and not isinstance(ref, str):
        # A value quoted twice (e.g. "imgsz='(192,192)'" passed from Python) is still meant as a literal.
        parsed = _parse_value(val)
        if not isinstance(parsed, str):
            return _coerce(ref, parsed, where)
    if isinstance(ref, bool) or isinstance(val, bool):
        if isinstance(ref, bool) and isinstance(val, bool):
            return val
        raise _Mismatch(where, ref, val)
    if isinstance(ref, float) and isinstance(val, (int, float)):
        return float(val)
    if isinstance(ref, (list, tuple)):
        if not isinstance(val, (list, tuple)):
            raise _Mismatch(where, ref, val)
        if len(val) == len(ref):
            items = [_coerce(r, v, f"{where}[{i}]") for i, (r, v) in enumerate(zip(ref, val))]
        elif ref and all(type(r) is type(ref[0]) for r in ref):
            items = [_coerce(ref[0], v, f"{where}[{i}]") for i, v in enumerate(val)]
        else:
            items = list(val)
        return type(ref)(items)
    if isinstance(ref, dict):
        if not isinstance(val, dict):
            raise _Mismatch(where, ref, val)
        return {k: (_coerce(ref[k], v, f"{where}.{k}") if k in ref else v) for k, v in val.items()}
    if isinstance(val, type(ref)):
        return val
    raise _Mismatch(where, ref, val)


def _type_error(key: str, given: Any, err: _Mismatch) -> ConfigError:
    inner = f" (at {key}{err.where})" if err.where else ""
    msg = (f"--cfg-options {key}={given!r}: expected {type(err.ref).__name__} like the config's "
           f"{err.ref!r}, got {type(err.val).__name__} {err.val!r}{inner}")
    if isinstance(err.ref, (list, tuple, dict)) and isinstance(err.val, str):
        msg += ("; the value is not a Python literal, so it was read as a string (write dicts as "
                "{'type': 'Pad', 'size': (192, 192)}, not dict(...), and quote the whole value for the shell)")
    elif isinstance(err.ref, (list, tuple)) and not isinstance(err.val, (list, tuple, dict)):
        example = "(" + ",".join(repr(err.val) for _ in err.ref) + ")" if err.ref else "()"
        if isinstance(err.ref, list):
            example = "[" + example[1:-1] + "]"
        msg += f"; write it as {key}='{example}'"
    elif isinstance(err.ref, str):
        msg += f"; quote it, e.g. {key}=\"'{err.val}'\""
    return ConfigError(msg)


# Names whose value may be switched off with None although the config sets one (load_from=None: random init).
NULLABLE = frozenset({"load_from"})


def check_overrides(overrides: dict[str, Any], reference: dict, filename: str) -> dict[str, Any]:
    """Check each override key exists in `reference` and coerce its value to the config's type.

    Returns a new dict with the same keys and coerced values; raises ConfigError on the first problem.
    """
    checked: dict[str, Any] = {}
    for key, val in overrides.items():
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise ConfigError(f"--cfg-options: bad key {key!r}; use names like num_classes or "
                              f"model.head.num_classes")
        ref = _resolve(key, reference, filename)
        if val is None and key in NULLABLE:
            checked[key] = None
            continue
        try:
            checked[key] = _coerce(ref, val)
        except _Mismatch as err:
            raise _type_error(key, val, err) from None
    return checked


def apply_overrides(cfg, overrides: dict[str, Any]):
    """Set checked `overrides` (top-level or dotted) directly on a loaded Config (e.g. one stored in a model
    file, whose derived values are plain copies: builders read the primary names). Returns cfg with
    `cfg.overrides` extended."""
    checked = check_overrides(dict(overrides), cfg, cfg.filename or "the model's stored config")
    for key, value in checked.items():
        parts = split_key(key)
        cur = cfg
        for part in parts[:-1]:
            cur = cur[part]
        cur[parts[-1]] = value
    cfg.overrides = frozenset(cfg.overrides) | frozenset(checked)
    return cfg
