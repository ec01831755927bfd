"""What a training run is told besides its config: where, from what, on which device, how loud."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class TrainOptions:
    work_dir: Path
    config_path: str = "config.py"
    seed: int = 0
    resume: str | None = None  # None, 'auto' or a checkpoint path
    device: str = "auto"
    amp: bool = True
    progress: bool = True
    stop_after_iters: int | None = None  # for tests: simulate a kill after N iterations
    allow_arch_mismatch: bool = False  # load_from/--resume a checkpoint trained with another architecture
    exist_ok: bool = False  # train into a work dir that holds another run (its files are replaced)
    save_resume_state: bool = False  # keep optimizer/EMA/RNG state in every epoch_N.pth, not only last.pth
