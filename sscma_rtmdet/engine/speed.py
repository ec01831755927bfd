"""How a training step runs fast: memory format, torch.compile, threads, the optimizer kernel and the data
loader's pinning/cache, read from the config (configs/_base_/rtmdet_base.py, "speed"). Defaults are the
measured best on a 2-core AVX2 CPU (docs/speed.md, benchmarks/train_speed.py); none changes what is learned
beyond float rounding, and each run stays bit-exact on resume with the same settings.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError

OPTIMIZER_IMPLS = ("fused", "foreach", "for-loop")


@dataclass(frozen=True)
class SpeedSettings:
    channels_last: bool = True  # NHWC activations/weights: oneDNN's and cuDNN's fast convolution layout
    compile_model: bool = False  # torch.compile (inductor) of the training forward
    train_threads: int | None = None  # torch intra-op threads while training (None: torch's default)
    optimizer_impl: str = "fused"  # AdamW kernel: 'fused', 'foreach' or 'for-loop' (torch's CPU default)
    image_cache_mb: float = 1024.0  # decoded training images kept in memory (0: decode every time)
    pin_memory: bool = False  # page-locked batches (CUDA only)

    @classmethod
    def from_config(cls, cfg, device: str) -> "SpeedSettings":
        """From the config's speed names; a bad value is a ConfigError naming the option."""
        cuda = str(device).startswith("cuda")
        threads = cfg.get("train_threads")
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
            raise ConfigError(f"train_threads={threads!r} must be None (torch's default) or an integer >= 1")
        impl = str(cfg.get("optimizer_impl", "fused"))
        if impl not in OPTIMIZER_IMPLS:
            raise ConfigError(f"optimizer_impl={impl!r} must be one of {', '.join(OPTIMIZER_IMPLS)}")
        cache = cfg.get("image_cache_mb", 1024)
        if not isinstance(cache, (int, float)) or isinstance(cache, bool) or cache < 0:
            raise ConfigError(f"image_cache_mb={cache!r} must be a number of MiB >= 0 (0 turns the cache off)")
        pin = cfg.get("pin_memory", "auto")
        if pin not in ("auto", True, False):
            raise ConfigError(f"pin_memory={pin!r} must be 'auto' (on with CUDA), True or False")
        return cls(channels_last=_flag(cfg, "channels_last", True), compile_model=_flag(cfg, "compile_model", False),
                   train_threads=threads, optimizer_impl=impl, image_cache_mb=float(cache),
                   pin_memory=cuda if pin == "auto" else bool(pin) and cuda)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def apply_threads(self) -> "SpeedSettings":
        """Sets torch's intra-op threads when `train_threads` is given; returns self."""
        if self.train_threads is not None:
            torch.set_num_threads(self.train_threads)
        return self

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """The model in the training memory format (in place; 4-D weights only change strides)."""
        return model.to(memory_format=self.memory_format)

    def forward_fn(self, model: nn.Module):
        """What the step calls for the forward: the model, or its torch.compile'd version (compiled lazily,
        at the first step)."""
        return torch.compile(model) if self.compile_model else model

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """A (N, 3, H, W) batch in the training memory format."""
        return x.contiguous(memory_format=self.memory_format)

    def optimizer_kwargs(self) -> dict:
        """torch.optim.AdamW keyword for the chosen kernel."""
        return {"fused": dict(fused=True), "foreach": dict(foreach=True),
                "for-loop": dict(foreach=False)}[self.optimizer_impl]


def _flag(cfg, name: str, default: bool) -> bool:
    value = cfg.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be True or False")
    return value
