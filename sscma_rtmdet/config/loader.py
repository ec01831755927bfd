"""Python config files in the mmdetection style, loaded by our own executor (no mmengine).

Semantics
---------
* `_base_ = 'path.py'` (or a list of paths) names the base files, relative to the file itself. Bases load
  first; their final namespaces merge in order (a later base wins, dicts deep-merge).
* A file runs statement by statement (`ast`) in a namespace pre-filled with its bases' namespaces, so it
  can read base values by name (`imgsz`, `max_epochs`).
* **Pins** are names whose value is fixed from outside. After every top-level statement of every file
  (bases included) the pins are re-applied, so values derived later (`stage2_epoch`, `neck_channels`,
  `train_dataloader.dataset.pipeline`) see the pinned value wherever they are computed. Priority:
  1. top-level `--cfg-options` names (a dict value deep-merges into the config's dict);
  2. plain (non-dict) values assigned by a child file, pushed into its bases, transitively
     (grandchild > child > base). Found by a fixed point: run the bases with the pins known so far, run the
     child, collect its plain assignments, repeat until they stop changing (at most 10 rounds). A name whose
     child assignment reads its own inherited value (`x = x + [...]`, `x += 1`) is not pushed, since it
     would never settle: the child's value just replaces the base's.
* A dict assigned by a child deep-merges into the inherited dict (child keys win, recursively); a dict
  holding `_delete_=True` replaces instead. `_delete_` never reaches the result.
* Dotted `--cfg-options` (`model.head.num_classes=3`, `train_pipeline.2.size=(96,96)`) set a leaf after
  every statement where the root name and the whole path exist (objects referenced later, e.g. the
  dataloader's `pipeline`, are the same list and see it), and once more on the final config.
* Names starting with `_`, modules, functions and classes are not config values.
* Override keys must exist in the config and match its types: they are checked against a load without
  overrides (see `options.check_overrides`).
"""
from __future__ import annotations

import ast
import copy
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .config import Config
from .dump import check_flattened
from ..utils.paths import resolve_config_path
from .options import as_overrides, check_overrides, split_key

__all__ = ["load_config", "load_config_from_text", "merge_dicts"]

_MAX_ROUNDS = 10
_MISSING = object()
_NOT_CONFIG = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


@dataclass
class _Step:
    stmt: ast.stmt
    code: types.CodeType
    targets: frozenset      # names bound by an assignment statement
    merges: bool            # plain `=`: a dict result deep-merges into the inherited dict


@dataclass
class _Parsed:
    path: Path
    bases: list[Path]
    steps: list[_Step]
    pushable: frozenset     # names whose plain values become pins of the bases
    first_line: str = ""    # the header of a flattened config


def merge_dicts(base: dict, override: dict) -> dict:
    """New dict: `override` deep-merged into `base` (override wins; `_delete_=True` replaces)."""
    if override.get("_delete_"):
        return {k: v for k, v in override.items() if k != "_delete_"}
    out = dict(base)
    for key, value in override.items():
        if key == "_delete_":
            continue
        old = out.get(key)
        out[key] = merge_dicts(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
    return out


def _strip_delete(value: Any, seen: set) -> None:
    """Remove `_delete_` keys in place from every dict reachable through dicts/lists/tuples."""
    if id(value) in seen or not isinstance(value, (dict, list, tuple)):
        return
    seen.add(id(value))
    if isinstance(value, dict):
        value.pop("_delete_", None)
        value = list(value.values())
    for item in value:
        _strip_delete(item, seen)


def _assigned_names(stmt: ast.stmt) -> frozenset:
    if isinstance(stmt, ast.Assign):
        nodes = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        nodes = [stmt.target]
    else:
        return frozenset()
    return frozenset(n.id for node in nodes for n in ast.walk(node)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))


def _reads_itself(stmt: ast.stmt, names: frozenset) -> bool:
    if isinstance(stmt, ast.AugAssign):
        return True
    value = getattr(stmt, "value", None)
    return value is not None and any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in names
                                     for n in ast.walk(value))


def _base_paths(stmt: ast.stmt, path: Path) -> list[Path]:
    bad = ConfigError(f"{path}:{stmt.lineno}: _base_ must be a path string or a list of path strings")
    try:
        value = ast.literal_eval(stmt.value) if getattr(stmt, "value", None) is not None else None
    except ValueError:
        raise bad from None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise bad
    out = []
    for item in items:
        base = Path(os.path.normpath(path.parent / os.path.expanduser(item)))
        if not base.is_file():
            raise ConfigError(f"{path}:{stmt.lineno}: _base_ file {item!r} not found (looked for {base}); "
                              f"base paths are relative to {path.parent}")
        out.append(base)
    return out


def _parse(path: Path, source: str | None = None) -> _Parsed:
    if source is None:
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        tree = ast.parse(source, filename=str(path))
        bases, steps, pushable, selfref = [], [], set(), set()
        for stmt in tree.body:
            names = _assigned_names(stmt)
            if "_base_" in names:
                bases = _base_paths(stmt, path)
                continue
            code = compile(ast.Module(body=[stmt], type_ignores=[]), str(path), "exec")
            steps.append(_Step(stmt, code, names, isinstance(stmt, (ast.Assign, ast.AnnAssign))))
            pushable |= names
            if _reads_itself(stmt, names):
                selfref |= names
    except SyntaxError as e:
        raise ConfigError(f"{path}:{e.lineno}: syntax error in config: {e.msg}") from None
    return _Parsed(path, bases, steps, frozenset(n for n in pushable - selfref if not n.startswith("_")),
                   source.split("\n", 1)[0])


def _has_path(obj: Any, parts: list) -> bool:
    for part in parts:
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, (list, tuple)) and isinstance(part, int) and part < len(obj):
            obj = obj[part]
        else:
            return False
    return True


def _set_path(obj: Any, parts: list, value: Any) -> Any:
    """Set the leaf at `parts` (dicts/lists in place, tuples rebuilt); return the (new) container."""
    if not parts:
        return merge_dicts(obj, value) if isinstance(obj, dict) and isinstance(value, dict) else value
    head, rest = parts[0], parts[1:]
    child = _set_path(obj[head], rest, value)
    if isinstance(obj, tuple):
        return obj[:head] + (child,) + obj[head + 1:]
    obj[head] = child
    return obj


def _apply_pins(ns: dict, pins: dict, dotted: list, applied: dict) -> None:
    for name, value in pins.items():
        if name not in ns or ns[name] is applied.get(name, _MISSING):
            continue  # identity check: keep objects that later statements already reference
        cur = ns[name]
        new = merge_dicts(cur, value) if isinstance(value, dict) and isinstance(cur, dict) else value
        ns[name] = applied[name] = new
    for parts, value in dotted:
        if parts[0] in ns and _has_path(ns[parts[0]], parts[1:]):
            ns[parts[0]] = _set_path(ns[parts[0]], parts[1:], value)


def _config_values(ns: dict) -> dict:
    out = {k: v for k, v in ns.items() if not k.startswith("_") and not isinstance(v, _NOT_CONFIG)}
    _strip_delete(out, set())
    return out


def _merge_namespaces(namespaces: list[dict]) -> dict:
    out: dict = {}
    for ns in namespaces:
        for key, value in ns.items():
            old = out.get(key)
            out[key] = merge_dicts(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _same(a: dict, b: dict) -> bool:
    try:
        return a.keys() == b.keys() and all(type(a[k]) is type(b[k]) and bool(a[k] == b[k]) for k in a)
    except Exception:  # exotic values with odd __eq__: treat as changed; the round cap still applies
        return False


class _Loader:
    """One load: parses each file once, then runs the fixed point over the `_base_` tree."""

    def __init__(self):
        self.cache: dict[Path, _Parsed] = {}

    def parsed(self, path: Path) -> _Parsed:
        if path not in self.cache:
            self.cache[path] = _parse(path)
        return self.cache[path]

    def load(self, path: Path, pins: dict, dotted: list, stack: tuple = ()) -> dict:
        """Final config namespace of `path` with `pins`/`dotted` applied (a fresh dict every call)."""
        key = path.resolve()
        if key in stack:
            chain = " -> ".join(str(p) for p in stack + (key,))
            raise ConfigError(f"circular _base_ chain: {chain}; remove one of these _base_ entries")
        parsed = self.parsed(path)
        child_pins: dict = {}
        for _ in range(_MAX_ROUNDS):
            inherited = {**child_pins, **pins}
            bases = [self.load(b, inherited, dotted, stack + (key,)) for b in parsed.bases]
            ns = self._run(parsed, _merge_namespaces(bases), pins, dotted)
            if not parsed.bases:
                return ns
            found = {n: ns[n] for n in parsed.pushable
                     if n in ns and n not in pins and not isinstance(ns[n], dict)}
            if _same(found, child_pins):
                return ns
            child_pins = found
        raise ConfigError(f"{path}: the values of {sorted(child_pins)} never settle when pushed into the "
                          f"base files; compute them without reading names that depend on them")

    @staticmethod
    def _run(parsed: _Parsed, base_ns: dict, pins: dict, dotted: list) -> dict:
        ns = dict(base_ns)
        pins, dotted, applied = copy.deepcopy(pins), copy.deepcopy(dotted), {}
        _apply_pins(ns, pins, dotted, applied)
        for step in parsed.steps:
            before = {n: ns[n] for n in step.targets if isinstance(ns.get(n), dict)} if step.merges else {}
            try:
                exec(step.code, ns)
            except Exception as e:
                raise ConfigError(f"{parsed.path}:{step.stmt.lineno}: {type(e).__name__}: {e}") from None
            for name, old in before.items():
                new = ns.get(name)
                if isinstance(new, dict) and new is not old:
                    ns[name] = merge_dicts(old, new)
            _apply_pins(ns, pins, dotted, applied)
        return _config_values(ns)


def _load(path: Path, cfg_options: Any, loader: _Loader) -> Config:
    overrides = as_overrides(cfg_options)
    reference = loader.load(path, {}, [])
    if not overrides:
        return Config(reference, filename=str(path))
    checked = check_overrides(overrides, reference, str(path))
    check_flattened(path, loader.parsed(path).first_line, checked, reference)
    names = {k: v for k, v in checked.items() if "." not in k}
    dotted = [(split_key(k), v) for k, v in checked.items() if "." in k]
    ns = loader.load(path, names, dotted)
    _apply_pins(ns, {}, copy.deepcopy(dotted), {})
    cfg = Config(ns, filename=str(path))
    cfg.overrides = frozenset(checked)
    return cfg


def load_config(path: str | os.PathLike, cfg_options: list[str] | dict | None = None) -> Config:
    """Load a `.py` config (with its `_base_` chain) and apply `cfg_options` (`["k=v", ...]` or a dict).

    A path that does not exist is looked up among the packaged configs (`configs/NAME.py`, any folder)."""
    path = resolve_config_path(path)
    if path.suffix != ".py":
        raise ConfigError(f"config {path} must be a Python file ending in .py")
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass a path like "
                          f"configs/rtmdet_nano_8xb32_300e_coco.py")
    return _load(path, cfg_options, _Loader())


def load_config_from_text(text: str, name: str = "<config>",
                          cfg_options: list[str] | dict | None = None) -> Config:
    """Load config source `text` (e.g. from a checkpoint); `name` labels errors and anchors `_base_` paths."""
    path = Path(name)
    loader = _Loader()
    loader.cache[path] = _parse(path, text)
    return _load(path, cfg_options, loader)
