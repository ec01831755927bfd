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


def transfer_start(cfg, source: str | os.PathLike, out: str | os.PathLike) -> str:
    """A start for a new architecture: `cfg`'s model (classes from its training set) with every tensor of
    `source` whose name and shape it shares, the rest at init, written to `out` as a checkpoint `load_from`
    takes. Returns one line saying how much was taken."""
    from ..data.build import build_coco
    from ..models.builder import build_model
    from ..runtime import checkpoint as ckpt_io
    from ..runtime.deployment import Deployment

    classes = list(build_coco(cfg, "train").classes)
    cfg = cfg.copy()
    cfg["num_classes"] = len(classes)
    cfg.model.head["num_classes"] = len(classes)
    model = build_model(cfg.model)
    given = ckpt_io.load_checkpoint_file(resolve_weights(source))["state_dict"]
    own = model.state_dict()
    taken = {k: v.to(own[k].dtype) for k, v in given.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(taken, strict=False)
    ckpt = ckpt_io.make_checkpoint(state_dict=model.state_dict(), config=cfg,
                                   deployment=Deployment.from_config(cfg, classes).to_dict(), epoch=0, iteration=0,
                                   extra={"transferred_from": str(source)})
    ckpt_io.save_checkpoint(ckpt, out)
    share = sum(v.numel() for v in taken.values()) / max(sum(v.numel() for v in own.values()), 1)
    return (f"{len(taken)} of {len(own)} tensors ({share:.0%} of the values) taken from {source}; "
            f"the rest starts at init")
