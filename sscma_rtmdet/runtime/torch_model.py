"""Build a torch model for a checkpoint: ours (self-describing) or an mmdet/mmyolo one."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..config import Config, load_config
from ..errors import CheckpointError, UserError
from ..models import build_model
from ..models.convert import load_checkpoint
from .checkpoint import check_architecture, is_ours, load_checkpoint_file, stored_config


def resolve_model_path(path: str | os.PathLike, config_path: str | os.PathLike | None = None) -> Path:
    """`path` if it exists; else, for the SSCMA tutorial's `work_dirs/epoch_50.pth`, the same file name in
    `work_dirs/<config name>/` (where training writes it), announced on stderr. Otherwise a clear error."""
    p = Path(path)
    if p.exists():
        return p
    if config_path is not None:
        alt = p.parent / Path(config_path).stem / p.name
        if alt.exists():
            warnings.warn(f"{p} does not exist; using {alt} (the training work dir of this config)",
                          stacklevel=2)
            return alt
    hint = f" (looked for it in {p.parent / Path(config_path).stem} too)" if config_path else ""
    raise CheckpointError(f"model file {p} does not exist{hint}")


def load_torch_model(cfg: Config, path: str | os.PathLike, device: str = "cpu", ckpt: dict | None = None,
                     allow_arch_mismatch: bool = False):
    """Model from `cfg.model` with the checkpoint's weights (the EMA ones for ours), in eval mode.

    Returns (model, meta) where meta holds classes/imgsz/preprocess when the checkpoint has them.
    The config's class count must equal the checkpoint's (no silent head re-initialisation here), and a
    checkpoint of ours must have been trained with the same architecture (`allow_arch_mismatch` downgrades
    that to a warning).
    """

    ckpt = load_checkpoint_file(path) if ckpt is None else ckpt
    meta = dict(ckpt.get("meta", {})) if is_ours(ckpt) else {}
    if meta and meta.get("num_classes") != cfg.num_classes:
        raise CheckpointError(
            f"{path} was trained for {meta.get('num_classes')} classes {meta.get('classes')} but the config "
            f"says num_classes={cfg.num_classes}; pass --cfg-options num_classes={meta.get('num_classes')}")
    check_architecture(ckpt, path, cfg, allow=allow_arch_mismatch)
    model = build_model(cfg.model)
    report = load_checkpoint(model, ckpt, strict_head=True, name=str(path), model_cfg=cfg.model)
    if report.not_loaded:
        raise CheckpointError(f"{path} is a backbone-only checkpoint; it cannot be evaluated as a detector")
    return model.to(device).eval(), meta


def model_from_checkpoint(path: Path, device: str, config=None):
    """A self-describing checkpoint of ours -> (model, meta), built from the config stored in it as data
    (or, for a checkpoint of an older version, from the `config` file given; its stored text never runs)."""

    ckpt = load_checkpoint_file(path)
    if not is_ours(ckpt):
        raise UserError(f"{path} is not an sscma-rtmdet checkpoint (no stored config/classes); evaluate it "
                        "with tools/test.py CONFIG CHECKPOINT instead")
    cfg = stored_config(ckpt, path, required=config is None)
    if cfg is None or config is not None:
        meta = ckpt.get("meta") or {}
        cfg = load_config(config, {"num_classes": meta.get("num_classes")} if meta.get("num_classes") else None)
    return load_torch_model(cfg, path, device, ckpt=ckpt)
