"""What the user typed: the one reader of `Config.overrides` (the `--cfg-options` / API keys given when a config
was loaded, top-level or dotted). A typed value wins over fitted values, over a target's decode defaults and
over a model file's record, and a model file's record must agree with it; untyped values are defaults."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def typed_names(cfg) -> frozenset[str]:
    """Every key the user typed, as given (`max_epochs`, `test_cfg.score_thr`, `model.head.share_conv`)."""
    return frozenset(getattr(cfg, "overrides", ()) or ())


def was_typed(cfg, name: str) -> bool:
    """`name` (top-level) or a key inside it was typed."""
    return any(k == name or k.startswith(name + ".") for k in typed_names(cfg))


def typed_value(cfg, name: str) -> Any | None:
    """cfg[name] when the user typed `name` itself, else None (a config default)."""
    return cfg.get(name) if name in typed_names(cfg) else None


def typed_test_cfg(cfg) -> dict:
    """test_cfg keys the user typed (all of test_cfg when it was given whole) with their values."""
    base = dict(cfg.get("test_cfg") or {})
    typed = typed_names(cfg)
    keys = set(base) if "test_cfg" in typed else {k.split(".", 1)[1] for k in typed if k.startswith("test_cfg.")}
    return {k: base[k] for k in keys if k in base}


def mark_untyped(cfg, names: Iterable[str]) -> None:
    """Forget that `names` were typed: values a tool filled in (e.g. from a model file) stay defaults."""
    cfg.overrides = typed_names(cfg) - frozenset(names)
