"""`Config`: a dict with attribute access (`cfg.model.head.num_classes`), nested dicts wrapped too."""
from __future__ import annotations

from typing import Any

__all__ = ["Config", "to_plain"]


def _wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, Config):
        return Config(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def to_plain(value: Any) -> Any:
    """Recursively turn Config/dict into plain dicts (lists and tuples keep their type)."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    return value


class Config(dict):
    """Dict of config values; keys also read/write as attributes.

    Dicts inside (also inside lists/tuples) become `Config`s, each an independent copy, so editing
    `cfg.train_dataloader.dataset.pipeline` never changes `cfg.train_pipeline`. `filename` is the file the
    config came from (None for nested ones); `overrides` the option names the user gave when loading it
    (`--cfg-options` keys, top-level or dotted), so fitted values can leave them alone. Keys that clash with dict methods (`items`, `get`, ...) are
    reachable with `cfg['items']`.
    """

    def __init__(self, data: dict | None = None, filename: str | None = None):
        super().__init__()
        object.__setattr__(self, "filename", None if filename is None else str(filename))
        object.__setattr__(self, "overrides", frozenset())
        for key, value in (data or {}).items():
            self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, _wrap(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("filename", "overrides"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def update(self, *args, **kwargs) -> None:  # dict.update bypasses __setitem__
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> "Config":
        out = Config(to_plain(self), self.filename)
        object.__setattr__(out, "overrides", self.overrides)
        return out

    def to_dict(self) -> dict:
        """Plain nested dicts/lists/tuples (no Config inside)."""
        return to_plain(self)
