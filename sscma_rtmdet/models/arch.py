"""A model's architecture as data: compare a checkpoint's stored `model` dict with a config's.

Two configs describe the same network when every constructor option of backbone, neck and head agrees,
defaults filled in (a checkpoint that omits `split_pool` equals one that says `split_pool=False`). The
class count is left out: callers check it with its own message.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from .builder import REGISTRY

PARTS = ("backbone", "neck", "head")
IGNORED = {("head", "num_classes"), ("neck", "in_channels"), ("head", "in_channels")}


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def resolved(model_cfg: Mapping) -> dict[str, dict]:
    """{part: {option: value}} with the constructor's defaults filled in (unknown types kept as given)."""

    out = {}
    for part in PARTS:
        given = dict(model_cfg.get(part) or {}) if isinstance(model_cfg, Mapping) else {}
        given = {k: _plain(v) for k, v in given.items() if not str(k).startswith("_")}
        factory = REGISTRY.get(part, {}).get(given.get("type"))
        if factory is not None:
            params = inspect.signature(factory().__init__).parameters.values()
            defaults = {p.name: _plain(p.default) for p in params
                        if p.default is not inspect.Parameter.empty and p.name != "self"}
            given = {**defaults, **given}
        out[part] = {k: v for k, v in given.items() if (part, k) not in IGNORED}
    return out


def differences(stored: Mapping, current: Mapping) -> list[str]:
    """`model.part.option: stored vs current` for every option that differs (empty list: same network)."""
    a, b = resolved(stored), resolved(current)
    diffs = []
    for part in PARTS:
        for key in sorted(set(a[part]) | set(b[part])):
            va, vb = a[part].get(key, "<unset>"), b[part].get(key, "<unset>")
            if va != vb:
                diffs.append(f"model.{part}.{key}: {va!r} in the checkpoint vs {vb!r} in the config")
    return diffs


def describe(model_cfg: Mapping | None) -> str:
    """One line naming a model, e.g. `CSPNeXt(deepen 0.33, widen 0.25, act silu) + CSPNeXtPAFPN(64) +
    RTMDetSepBNHead(3 classes, share_conv=True)`."""
    if not isinstance(model_cfg, Mapping):
        return "unknown model (no stored config)"
    bb, neck, head = (dict(model_cfg.get(p) or {}) for p in PARTS)
    bb_opts = ", ".join(f"{name} {bb[key]}" for key, name in
                        (("deepen_factor", "deepen"), ("widen_factor", "widen"), ("act", "act")) if key in bb)
    return (f"{bb.get('type', '?')}({bb_opts}) + {neck.get('type', '?')}({neck.get('out_channels', '?')}) + "
            f"{head.get('type', '?')}({head.get('num_classes', '?')} classes, share_conv="
            f"{head.get('share_conv', '?')}, act {head.get('act', '?')})")
