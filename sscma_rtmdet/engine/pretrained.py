"""The toolkit's own pretrained weights: where they live and how a trained run becomes one.

`sscma_rtmdet/pretrained/*.pth` are made by `tools/pretrain.py` (nano detectors trained on generated
sets; nothing downloaded) and named by the nano configs' `load_from` as `pretrained/NAME.pth`. A relative
`load_from` that does not exist from the current folder is looked up among the packaged weights, so the
configs work from any working directory and after `pip install`.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..utils.paths import PRETRAINED_DIR, packaged

def resolve_weights(path: str | os.PathLike) -> Path:
    """`path` as given if it exists, else the packaged `pretrained/NAME`; CheckpointError if neither."""
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute():
        return p
    alt = packaged(p, PRETRAINED_DIR, "pretrained")
    if alt is not None:
        return alt
    raise CheckpointError(f"load_from={str(path)!r}: no such file (looked in {Path.cwd()} and {PRETRAINED_DIR}); "
                          "give a checkpoint path, or --cfg-options load_from=None to start from random weights")


def slim_state_dict(state_dict: dict) -> dict:
    """Weights to ship: float tensors as float16 (half the size; loading casts them back), integer buffers
    (BN's num_batches_tracked) as they are. The per-class output layers stay: `load_from` skips them when
    the class count differs, as for any checkpoint."""
    return {key: value.half() if isinstance(value, torch.Tensor) and value.is_floating_point() else value
            for key, value in state_dict.items()}
