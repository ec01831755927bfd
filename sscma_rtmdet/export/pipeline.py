"""`tools/export.py` behind the CLI: checkpoint -> ONNX -> TFLite fp32/fp16/int8 -> Vela, then a check of
every written file against the torch model on real (calibration) images."""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import Config
from ..data.build import build_coco, imgsz_of
from ..data.preprocess import Preprocess
from ..errors import CheckpointError, UserError
from ..runtime.backends import TorchBackend, load_backend
from ..runtime.torch_model import load_torch_model
from .calibration import DEFAULT_CACHE_DIR, calibration_images, find_images
from .onnx_export import export_onnx
from .tflite_export import FOREGROUND_SCORE, ExportError, export_tflite, object_mask
from .vela import compile_vela, format_report

FORMAT_CHOICES = ("onnx", "tflite", "vela")
TFLITE_PRECISIONS = ("float32", "float16", "int8")
DEFAULT_CALIB_NUM = 200
# A file's score output is "constant" (broken) only when torch's spread exceeds this: a lightly trained
# model's scores can legitimately vary by less than one int8/float16 step.
CONSTANT_SPREAD = 1e-3


@dataclass
class ExportRequest:
    checkpoint: Path
    formats: tuple[str, ...] = ("onnx", "tflite")
    imgsz: tuple[int, int] | None = None
    out_dir: Path | None = None
    calib_images: Path | None = None
    calib_num: int = DEFAULT_CALIB_NUM
    fold_normalization: bool = True
    verify: bool = True  # False skips every accuracy check (TFLite vs ONNX, files vs torch)
    log: Callable[[str], None] = print
    allow_arch_mismatch: bool = False
    files: dict = field(default_factory=dict)


def export_checkpoint(cfg: Config, req: ExportRequest) -> dict[str, Path]:
    """Run the requested exports; returns {'onnx': path, 'float32': ..., 'int8': ..., 'vela': ...}."""

    bad = [f for f in req.formats if f not in FORMAT_CHOICES]
    if bad:
        raise UserError(f"--format {' '.join(bad)}: unknown; choose from {', '.join(FORMAT_CHOICES)}")
    imgsz = tuple(req.imgsz) if req.imgsz else imgsz_of(cfg)
    if imgsz[0] % 32 or imgsz[1] % 32:
        raise UserError(f"--imgsz {imgsz[0]} {imgsz[1]}: both sides must be multiples of 32")
    preprocess = Preprocess.from_config(cfg.preprocess)
    model, meta = load_torch_model(cfg, req.checkpoint, allow_arch_mismatch=req.allow_arch_mismatch)
    _check_against_training(meta, imgsz, preprocess, req.log)
    classes = meta.get("classes") or [str(i) for i in range(cfg.num_classes)]
    out_dir = Path(req.out_dir) if req.out_dir else req.checkpoint.parent
    stem = out_dir / req.checkpoint.stem
    files: dict[str, Path] = {}
    t = time.perf_counter()
    export_onnx(model, preprocess, imgsz, stem.with_suffix(".onnx"), req.fold_normalization,
                num_classes=cfg.num_classes, class_names=classes, source_checkpoint=str(req.checkpoint))
    files["onnx"] = stem.with_suffix(".onnx")
    req.log(f"onnx: {files['onnx']} ({time.perf_counter() - t:.1f}s)")
    calib = None
    if "tflite" in req.formats or "vela" in req.formats:
        calib = calibration_batch(cfg, req, imgsz, preprocess)
        files.update(_tflite(files["onnx"], stem, req, calib))
    if "vela" in req.formats:
        files["vela"] = _vela(files["int8"], out_dir, req.log)
    if req.verify:
        samples = calib[:4] if calib is not None else calibration_batch(cfg, req, imgsz, preprocess, n=4)
        report_against_torch(model, preprocess, imgsz, files, samples, req.log)
    return files


def _check_against_training(meta: dict, imgsz, preprocess, log) -> None:
    trained = tuple(meta.get("imgsz") or ())
    if trained and trained != tuple(imgsz):
        warnings.warn(f"exporting at {imgsz[0]}x{imgsz[1]} but the checkpoint was trained at "
                      f"{trained[0]}x{trained[1]}; accuracy may drop (evaluate the exported file)", stacklevel=3)
    pre = meta.get("preprocess")
    if pre and (pre.get("color") != preprocess.color or not np.allclose(pre["mean"], preprocess.mean)
                or not np.allclose(pre["std"], preprocess.std)):
        raise CheckpointError(f"the checkpoint was trained with preprocess {pre} but the config says "
                              f"{preprocess.to_dict()}; export with the training config")


def calibration_batch(cfg: Config, req: ExportRequest, imgsz, preprocess, n: int | None = None) -> np.ndarray:
    """Letterboxed raw-pixel calibration images from --calib-images or the config's training images."""

    if req.calib_images:
        files = find_images(req.calib_images)
        where = str(req.calib_images)
    else:
        coco = build_coco(cfg, "train")
        files = [Path(coco.image_path(i)) for i in range(len(coco))]
        where = "the config's training set"
    n = n or req.calib_num
    batch = calibration_images(files, imgsz, preprocess, n, cache_dir=DEFAULT_CACHE_DIR,
                               normalized=not req.fold_normalization)
    req.log(f"calibration: {len(batch)} images from {where}, letterboxed to {imgsz[0]}x{imgsz[1]}")
    return batch


def _tflite(onnx_path: Path, stem: Path, req: ExportRequest, calib: np.ndarray) -> dict[str, Path]:
    precisions = list(TFLITE_PRECISIONS) if "tflite" in req.formats else ["int8"]
    t = time.perf_counter()
    out = export_tflite(onnx_path, stem, precisions, calib, verify_samples=8 if req.verify else 0)
    for p, path in out.items():
        req.log(f"tflite {p}: {path}")
    req.log(f"tflite export took {time.perf_counter() - t:.1f}s")
    return dict(out)


def _vela(int8_path: Path, out_dir: Path, log) -> Path:
    result = compile_vela(int8_path, out_dir)
    log(format_report(result))
    log(f"vela: {result['vela_tflite']} (summary {result['summary_txt']})")
    return Path(result["vela_tflite"])


def _box_errors_at_objects(ref: dict, got: dict) -> dict[str, float]:
    """Max abs box error at positions the reference scores >= FOREGROUND_SCORE (outputs (N,C,H,W))."""
    out = {}
    for name, r in ref.items():
        fg = object_mask(ref, name)
        if fg is not None and fg.any():
            out[name] = float(np.abs(got[name] - r)[fg].max())
    return out


def report_against_torch(model, preprocess, imgsz, files: dict[str, Path], samples: np.ndarray, log) -> dict:
    """Max abs error per output of each exported file vs the torch model; raises on a broken file."""

    ref = TorchBackend(model, preprocess, imgsz)(samples)
    table, problems = {}, []
    for kind, path in files.items():
        if kind == "vela":  # Ethos-U custom op: runs only on the NPU
            continue
        backend = load_backend(path)
        got = backend(samples)
        table[kind] = {n: float(np.abs(got[n] - r).max()) for n, r in ref.items()}
        if kind == "int8":
            table["int8 @obj"] = _box_errors_at_objects(ref, got)
        for n, r in ref.items():
            if n.startswith("score") and np.ptp(got[n]) == 0 and np.ptp(r) > CONSTANT_SPREAD:
                problems.append(f"{path.name}: output {n} is constant ({got[n].flat[0]:.4g})")
            if n.startswith("score") and (got[n] >= 0.999).mean() > 0.5 > (r >= 0.999).mean():
                problems.append(f"{path.name}: output {n} is saturated at 1")
    names = list(ref)
    log("max abs error vs torch (on calibration images):")
    log(f"{'format':<9}" + "".join(f"{n:>11}" for n in names))
    for kind, errs in table.items():
        log(f"{kind:<9}" + "".join(f"{errs[n]:>11.4g}" if n in errs else f"{'-':>11}" for n in names))
    if "int8 @obj" in table:
        log(f"('int8 @obj': box errors where torch scores >= {FOREGROUND_SCORE}; elsewhere int8 distances may be far "
            "off without effect, as those positions yield no detection)")
    if problems:
        raise ExportError("exported file(s) are broken:\n  " + "\n  ".join(problems))
    return table
