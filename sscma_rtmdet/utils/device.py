"""`--device` for every tool: 'auto', 'cpu', 'cuda', 'cuda:N' or a GPU index N, one rule and one error."""
from __future__ import annotations

import re

from ..errors import UserError

GPU_HELP = ("this torch build has no CUDA (the pinned CPU wheel); to train on a GPU install a CUDA torch "
            "(README: Training on a GPU), or use --device cpu")


def resolve_device(spec: str | int | None) -> str:
    """'auto' -> 'cuda' when a GPU is usable, else 'cpu'; 'N' -> 'cuda:N'; a clear UserError for a device
    that is not there (no CUDA, index out of range) or a spelling torch does not know."""
    import torch

    s = "auto" if spec is None else str(spec).strip().lower()
    if s == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if s == "cpu":
        return "cpu"
    if re.fullmatch(r"\d+", s):
        s = f"cuda:{s}"
    m = re.fullmatch(r"cuda(?::(\d+))?", s)
    if not m:
        raise UserError(f"--device {spec}: unknown; use auto, cpu, cuda, cuda:N or a GPU index N")
    if not torch.cuda.is_available():
        raise UserError(f"--device {spec}: {GPU_HELP}")
    if m.group(1) is not None and int(m.group(1)) >= torch.cuda.device_count():
        raise UserError(f"--device {spec}: there are {torch.cuda.device_count()} GPU(s), numbered from 0")
    return s
