"""How a training step runs fast: memory format, mixed precision, torch.compile, threads, the optimizer kernel
and the data loader's pinning/cache, read from the config (configs/_base_/rtmdet_base.py, "speed"). Defaults
are the measured best (docs/design.md "Where a training step goes", benchmarks/train_speed.py); none changes
what is learned beyond float rounding, and each run stays bit-exact on resume on the same machine.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError

OPTIMIZER_IMPLS = ("fused", "foreach", "for-loop")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def cpu_has_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AMX or AVX512-BF16): autocast is slower without it."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve_precision(asked: str, device: str, amp: bool = True) -> tuple[str, str]:
    """The forward's autocast dtype name for `asked` (PRECISIONS) on `device`, and why, for the log.

    'auto': float16 on CUDA, bfloat16 on a CPU with native bfloat16, else float32; `amp=False` (--no-amp)
    forces float32. float16 on a CPU is a ConfigError (torch's CPU autocast is bfloat16), never a fallback.
    """
    cuda = str(device).startswith("cuda")
    if asked not in PRECISIONS:
        raise ConfigError(f"precision={asked!r} must be one of {', '.join(PRECISIONS)}")
    if not amp:
        return "float32", "mixed precision off (--no-amp)"
    if asked == "auto":
        if cuda:
            return "float16", "auto: float16 autocast on CUDA"
        if cpu_has_bf16():
            return "bfloat16", "auto: bfloat16 autocast (this CPU has AMX/AVX512-BF16)"
        return "float32", "auto: float32 (this CPU has no native bfloat16; autocast would be slower)"
    if asked == "float16" and not cuda:
        raise ConfigError("precision='float16' needs CUDA; on a CPU use 'bfloat16', 'float32' or 'auto'")
    if asked == "bfloat16" and not cuda and not cpu_has_bf16():
        return asked, "precision=bfloat16 (config; this CPU has no native bfloat16: emulated, slower than float32)"
    return asked, f"precision={asked} (config)"


@dataclass(frozen=True)
class SpeedSettings:
    channels_last: bool = True  # NHWC activations/weights: oneDNN's and cuDNN's fast convolution layout
    compile_model: bool = False  # torch.compile (inductor) of the training forward
    train_threads: int | None = None  # torch intra-op threads while training (None: torch's default)
    optimizer_impl: str = "fused"  # AdamW kernel: 'fused', 'foreach' or 'for-loop' (torch's CPU default)
    image_cache_mb: float = 1024.0  # decoded training images kept in memory (0: decode every time)
    pin_memory: bool = False  # page-locked batches (CUDA only)
    precision: str = "float32"  # autocast dtype of the forward: 'float32' (none), 'bfloat16' or 'float16'
    precision_reason: str = ""  # why (logged once)
    device_type: str = "cpu"

    @classmethod
    def from_config(cls, cfg, device: str, amp: bool = True) -> "SpeedSettings":
        """From the config's speed names (and --no-amp as amp=False); a bad value is a ConfigError naming
        the option."""
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
        precision, why = resolve_precision(str(cfg.get("precision", "auto")), device, amp)
        return cls(channels_last=_flag(cfg, "channels_last", True), compile_model=_flag(cfg, "compile_model", False),
                   train_threads=threads, optimizer_impl=impl, image_cache_mb=float(cache),
                   pin_memory=cuda if pin == "auto" else bool(pin) and cuda, precision=precision,
                   precision_reason=why, device_type="cuda" if cuda else "cpu")

    def describe(self) -> str:
        """One log line: what this run's step uses."""
        threads = self.train_threads or f"{torch.get_num_threads()} (torch default)"
        return (f"{self.precision_reason}; channels_last {self.channels_last}, compile {self.compile_model}, "
                f"threads {threads}, AdamW {self.optimizer_impl}, image cache {self.image_cache_mb:g} MiB")

    @property
    def grad_scaling(self) -> bool:
        """float16 needs a GradScaler; bfloat16 keeps float32's exponent range and does not."""
        return self.precision == "float16"

    def autocast(self):
        """The context the forward runs in: torch.autocast at `precision`, or a no-op for float32."""
        enabled = self.precision != "float32"
        dtype = getattr(torch, self.precision) if enabled else None
        return torch.autocast(self.device_type, dtype=dtype, enabled=enabled)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def apply_threads(self) -> "SpeedSettings":
        """Sets torch's intra-op threads when `train_threads` is given; returns self."""
        if self.train_threads is not None:
            torch.set_num_threads(self.train_threads)
        return self

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """The model in the training memory format (in place; 4-D weights only change strides). Under CPU
        bfloat16 the depthwise ConvModules stay float32: oneDNN's bfloat16 depthwise backward is slower than
        its float32 one (benchmarks/profile_step.py)."""
        from ..models.layers import ConvModule

        if self.precision == "bfloat16" and self.device_type == "cpu":
            for m in model.modules():
                if isinstance(m, ConvModule) and 1 < m.conv.groups == m.conv.in_channels:
                    m.float32_in_autocast = True
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
