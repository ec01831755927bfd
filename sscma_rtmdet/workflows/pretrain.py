"""The work behind tools/pretrain.py: a detector trained on a generated set (no photos of the benchmarks, no
download), its EMA weights written in float16 with the recipe, for a config's `load_from`."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError

SETS = {"glyphs": (3000, 200), "broad": (6000, 300)}  # set -> default train / valid images when generated


@dataclass
class PretrainRequest:
    """`options`: typed config values over the run's own (imgsz, max_epochs, batch_size, base_lr, load_from=None);
    `init_from`: a weights file whose tensors of matching name and shape start a new architecture."""
    config: str | Path
    out: Path
    set_name: str = "glyphs"
    data: Path | None = None
    num_train: int | None = None
    num_valid: int | None = None
    workers: int = 2
    epochs: int = 12
    imgsz: tuple[int, int] = (192, 192)
    work_dir: Path | None = None
    base_lr: float = 0.002
    batch_size: int = 32
    seed: int = 0
    init_from: str | Path | None = None
    threads: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    command: str = ""
    log: Callable[[str], None] = print


def pretrain(req: PretrainRequest) -> Path:
    """Generate the set if missing, train (resuming), write req.out; returns its path."""
    from ..engine.pretrained import resolve_weights, slim_state_dict
    from ..engine.trainer import Trainer, TrainOptions
    from ..runtime import checkpoint as ckpt_io
    from ..synth import generated_set
    from .settings import resolve_settings

    if req.init_from:  # before any work: a clear error
        if "load_from" in req.options:
            raise UserError("--init-from and --cfg-options load_from=... both name the start; give one")
        resolve_weights(req.init_from)
    _, make = generated_set(req.set_name)
    num_train, num_valid = req.num_train or SETS[req.set_name][0], req.num_valid or SETS[req.set_name][1]
    data = Path(req.data or f"datasets/{req.set_name}").resolve()
    if not (data / "valid" / "_annotations.coco.json").exists():
        req.log(f"== generating the {req.set_name} set in {data} ({num_train} + {num_valid} images, "
                f"{req.workers} workers)")
        make(data, num_train=num_train, num_valid=num_valid, workers=req.workers)
    h, w = req.imgsz
    own = {"imgsz": (h, w), "max_epochs": req.epochs, "batch_size": req.batch_size, "base_lr": req.base_lr,
           "load_from": None, **({"train_threads": req.threads} if req.threads else {})}
    cfg = resolve_settings(req.config, {**own, **req.options}, data=str(data))
    work = Path(req.work_dir or Path("work_dirs") / "pretrain" / Path(req.out).stem)
    if req.init_from:
        cfg = _transferred(cfg, req, work)
    metrics = Trainer(cfg, TrainOptions(work_dir=work, config_path=str(req.config), resume="auto", seed=req.seed,
                                        progress=req.progress)).train()
    final = ckpt_io.load_checkpoint_file(work / f"epoch_{req.epochs}.pth")
    recipe = {"command": req.command, "dataset": f"sscma_rtmdet/synth/{req.set_name}.py", "num_train": num_train,
              "num_valid": num_valid, "epochs": req.epochs, "base_lr": req.base_lr, "batch_size": req.batch_size,
              "imgsz": [h, w], "seed": req.seed,
              "val_bbox_mAP": (final["meta"].get("metrics") or metrics or {}).get("coco/bbox_mAP")}
    ckpt = ckpt_io.make_checkpoint(state_dict=slim_state_dict(final["state_dict"]), config=cfg,
                                   deployment=final["meta"]["deployment"], epoch=req.epochs,
                                   iteration=final["meta"]["iter"], extra={"pretrain": recipe})
    path = ckpt_io.save_checkpoint(ckpt, req.out)
    req.log(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB): {recipe}")
    return path


def _transferred(cfg, req: PretrainRequest, work: Path):
    """cfg with load_from = a start made from req.init_from (engine/pretrained.transfer_start), made once per run."""
    from ..config.options import apply_overrides
    from ..engine.pretrained import transfer_start

    start = work / "init_from.pth"
    if not start.exists():
        work.mkdir(parents=True, exist_ok=True)
        req.log(f"== start: {transfer_start(cfg, req.init_from, start)}")
    return apply_overrides(cfg, {"load_from": str(start)})
