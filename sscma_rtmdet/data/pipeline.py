"""Training pipelines from config: `build_pipeline([dict(type=..., ...), ...])` -> `Compose`.

The per-sample transforms are in transforms.py, the cached mosaic/mixup in mix.py; this module only
names and chains them (so neither of those needs to know the other).
"""
from __future__ import annotations

import inspect
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError
from .mix import CachedMixUp, CachedMosaic
from .preprocess import DEFAULT_PAD_VALUE
from .transforms import LetterResize, Pad, RandomCrop, RandomFlip, RandomResize, YOLOXHSVRandomAug


class Compose:
    """Runs transforms in order; stops and returns None as soon as one returns None."""

    def __init__(self, transforms: list[Callable]):
        self.transforms = list(transforms)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict | None:
        for t in self.transforms:
            sample = t(sample, rng)
            if sample is None:
                return None
        return sample

    def reset(self) -> None:
        """Empty the mosaic/mixup caches, so an epoch's samples depend only on (seed, epoch, order)."""
        for t in self.transforms:
            if hasattr(t, "cache"):
                t.cache.items.clear()

    def __repr__(self) -> str:
        return f"Compose({[type(t).__name__ for t in self.transforms]})"


def _registry() -> dict[str, type]:
    return {c.__name__: c for c in (CachedMosaic, RandomResize, RandomCrop, YOLOXHSVRandomAug, RandomFlip,
                                    Pad, CachedMixUp, LetterResize)}


def build_pipeline(cfgs: Sequence[dict] | None, name: str = "train_pipeline",
                   pad_value: int = DEFAULT_PAD_VALUE) -> Compose:
    """list of dict(type=..., **kwargs) -> Compose; mistakes raise ConfigError naming `name[i].type`.
    Transforms that pad take `pad_value` (the preprocess's) unless their dict sets `pad_val`."""
    if cfgs is None:
        return Compose([])
    if not isinstance(cfgs, (list, tuple)):
        raise ConfigError(f"{name} must be a list of dicts with a 'type', got {type(cfgs).__name__}")
    registry, out = _registry(), []
    for i, cfg in enumerate(cfgs):
        if hasattr(cfg, "to_dict"):
            cfg = cfg.to_dict()
        cfg = dict(cfg) if isinstance(cfg, dict) else cfg
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise ConfigError(f"{name}[{i}] must be a dict with a 'type' key, got {cfg!r}")
        kind = cfg.pop("type")
        if kind not in registry:
            raise ConfigError(f"{name}[{i}].type={kind!r} is unknown; known types: {sorted(registry)}")
        params = inspect.signature(registry[kind].__init__).parameters
        allowed = [p for p in params if p != "self"]
        unknown = sorted(set(cfg) - set(allowed))
        if unknown:
            raise ConfigError(f"{name}[{i}].type={kind!r}: unknown option(s) {unknown}; allowed: {allowed}")
        if "pad_val" in allowed:
            cfg.setdefault("pad_val", pad_value)
        try:
            out.append(registry[kind](**cfg))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{name}[{i}].type={kind!r}: {e}") from None
    return Compose(out)
