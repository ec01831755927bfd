"""The work behind tools/train.py and `sscma_rtmdet.train`: a TrainRequest in, a TrainResult (the run folder,
its best and last checkpoints, the final metrics) out."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError

# the shortcut flags and the config names they set
SHORTCUTS = {"max_epochs": "--epochs", "imgsz": "--imgsz", "batch_size": "--batch", "train_threads": "--threads"}


@dataclass
class TrainRequest:
    """`options`: typed config values; `epochs`, `imgsz` (S or (H, W)), `batch`, `threads` are shortcuts for
    max_epochs, imgsz, batch_size, train_threads (a typed option of the same name must agree)."""
    config: str | Path
    data: str | Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    imgsz: int | tuple[int, int] | None = None
    batch: int | None = None
    threads: int | None = None
    work_dir: Path | None = None
    resume: str | None = None
    exist_ok: bool = False
    save_resume_state: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    progress: bool = True
    allow_arch_mismatch: bool = False
    log: Callable[[str], None] | None = print


@dataclass
class TrainResult:
    work_dir: Path
    metrics: dict

    @property
    def best(self) -> Path:
        return self.work_dir / "best.pth"

    @property
    def last(self) -> Path:
        return self.work_dir / "last.pth"


def train(req: TrainRequest) -> TrainResult:
    """Resolve the settings (workflows.settings), refuse a work dir inside the dataset, train (engine.trainer)."""
    from ..config.dump import default_work_dir
    from ..engine.trainer import Trainer, TrainOptions
    from ..utils.safety import refuse_overwrite
    from .settings import resolve_settings
    from .test import dataset_files

    imgsz = (req.imgsz, req.imgsz) if isinstance(req.imgsz, int) else req.imgsz
    shortcuts = {k: v for k, v in (("max_epochs", req.epochs), ("imgsz", imgsz and tuple(imgsz)),
                                   ("batch_size", req.batch), ("train_threads", req.threads)) if v}
    refuse_conflicts(shortcuts, req.options)
    cfg = resolve_settings(str(req.config), {**shortcuts, **req.options}, data=req.data, log=req.log)
    opts = TrainOptions(work_dir=Path(req.work_dir or default_work_dir(str(req.config))), config_path=str(req.config),
                        seed=req.seed, resume=req.resume, device=req.device, amp=req.amp, progress=req.progress,
                        allow_arch_mismatch=req.allow_arch_mismatch, exist_ok=req.exist_ok,
                        save_resume_state=req.save_resume_state)
    # the work dir must not lie inside a split's image folder (test/infer refuse such outputs too)
    refuse_overwrite(opts.work_dir, "--work-dir", **dataset_files(cfg, Path(req.config)))
    return TrainResult(opts.work_dir, Trainer(cfg, opts).train())


def refuse_conflicts(shortcuts: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """--epochs/--imgsz/--batch/--threads and a typed option of the same name with another value: the option
    would win silently, so neither is guessed."""
    for key, value in shortcuts.items():
        other = options.get(key, value)
        if key == "imgsz" and isinstance(other, int):
            other = (other, other)
        if (list(other) if isinstance(other, (list, tuple)) else other) != \
                (list(value) if isinstance(value, tuple) else value):
            raise ConfigError(f"{SHORTCUTS[key]} {value[0] if key == 'imgsz' else value} and --cfg-options "
                              f"{key}={other!r} disagree; give one of them")
