"""The one way to get a torch model from a .pth: ours (self-describing) or an mmdet/mmyolo one."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..config import Config, load_config
from ..errors import CheckpointError, UserError
from ..models import build_model
from ..models.convert import load_checkpoint
from .checkpoint import check_architecture, checkpoint_classes, is_ours, load_checkpoint_file, stored_config
from .deployment import Deployment


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


def checkpoint_deployment(ckpt: dict, path, cfg: Config | None) -> Deployment:
    """The deployment record of a checkpoint: stored in meta by this version, derived from the stored config
    (or `cfg`) and meta for older checkpoints of ours, from `cfg` for mmdet/mmyolo ones."""
    meta = ckpt.get("meta") or {}
    if is_ours(ckpt) and meta.get("deployment"):
        return Deployment.from_dict(meta["deployment"], str(path))
    source = stored_config(ckpt, path, required=False) if is_ours(ckpt) else None
    source = source if source is not None else cfg
    if source is None:
        raise CheckpointError(f"{path} does not describe its model; pass the training config")
    classes = checkpoint_classes(ckpt) if is_ours(ckpt) else []
    classes = classes or [str(i) for i in range(int(source["model"]["head"]["num_classes"]))]
    if meta.get("preprocess"):
        source = Config(dict(source, preprocess=meta["preprocess"]), filename=str(path))
    return Deployment.from_config(source, classes, imgsz=meta.get("imgsz"))


def load_model(path: str | os.PathLike, device: str = "cpu", cfg: Config | None = None,
               allow_arch_mismatch: bool = False, ckpt: dict | None = None):
    """(model in eval mode with the checkpoint's (EMA) weights, meta with `deployment` filled in).

    Built from the config stored in a checkpoint of ours (as data; a config stored as text by an older
    version is never executed), or from `cfg`: then a checkpoint of ours must have been trained with the
    same architecture (`allow_arch_mismatch` loads it anyway) and class count (no silent head re-init).
    An mmdet/mmyolo checkpoint needs `cfg`."""
    ckpt = load_checkpoint_file(path) if ckpt is None else ckpt
    ours = is_ours(ckpt)
    meta = dict(ckpt.get("meta", {})) if ours else {}
    if cfg is None:
        if not ours:
            raise UserError(f"{path} is not an sscma-rtmdet checkpoint (no stored config/classes); give the "
                            "config it was trained with")
        cfg = stored_config(ckpt, path, required=True)
    elif ours:
        check_architecture(ckpt, path, cfg, allow=allow_arch_mismatch)
    trained = checkpoint_classes(ckpt) if ours else []
    if trained and len(trained) != cfg["model"]["head"]["num_classes"]:
        raise CheckpointError(
            f"{path} was trained for {len(trained)} classes {trained} but the config builds a head for "
            f"{cfg['model']['head']['num_classes']}; pass --cfg-options num_classes={len(trained)} or drop the "
            "config (the checkpoint knows its classes)")
    model = build_model(cfg["model"])
    report = load_checkpoint(model, ckpt, strict_head=True, name=str(path), model_cfg=cfg["model"])
    if report.not_loaded:
        raise CheckpointError(f"{path} is a backbone-only checkpoint; it cannot be evaluated as a detector")
    meta["deployment"] = checkpoint_deployment(ckpt, path, cfg).to_dict()
    return model.to(device).eval(), meta


def config_for_old_checkpoint(path, config) -> Config:
    """For a checkpoint of an older version whose config is text: the given training config, with the
    checkpoint's class count (its stored text never runs)."""
    n = len(checkpoint_classes(load_checkpoint_file(path)))
    return load_config(config, {"num_classes": n} if n else None)
