"""`tools/export.py` behind the CLI: checkpoint -> ONNX -> TFLite fp32/fp16/int8 -> Vela, a check of every
written file against the torch model on real (calibration) images, and the fit on the target board.

Everything about the model comes from the checkpoint's deployment record (input size, preprocessing,
classes, target, output layout); a config only checks it (what the user typed) and, with no --calib-images,
names the training images to calibrate on.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import Config
from ..data.build import build_coco
from ..errors import UserError
from ..runtime.deployment import MAX_INPUT_SIDE, Deployment, check_options
from ..runtime.layout import LAYOUTS, check_classes
from ..runtime.torch_model import load_model
from ..targets import FAMILIES, get_target
from ..utils.paths import cache_dir
from .boards import BOARDS, VELA_DEFAULT_BOARD, fit_tflm, fit_vela, get_board
from .conformance import check_for_board
from .sensecraft import bundle_paths, validation_scores, write_bundle
from .calibration import DEFAULT_CALIB_NUM, calibration_images, find_images
from .onnx_export import export_onnx
from .tflite_export import ExportError, export_tflite
from .verify import report_against_torch
from .vela import compile_vela, format_report

FORMAT_CHOICES = ("onnx", "tflite", "vela")
TFLITE_PRECISIONS = ("float32", "float16", "int8")


@dataclass
class ExportRequest:
    checkpoint: Path
    formats: tuple[str, ...] = ("onnx", "tflite")
    imgsz: tuple[int, int] | None = None   # None: the size the checkpoint was trained at
    layout: str | None = None              # None: the target's ('sscma' for sscma-micro, else 'nchw')
    board: str | None = None               # fit check that fails the export ('vela' implies the Grove board)
    out_dir: Path | None = None
    calib_images: Path | None = None
    calib_num: int = DEFAULT_CALIB_NUM
    fold_normalization: bool = True
    verify: bool = True  # False skips every accuracy check (TFLite vs ONNX, files vs torch)
    log: Callable[[str], None] = print
    allow_arch_mismatch: bool = False
    files: dict = field(default_factory=dict)


def export_board(req: ExportRequest):
    """The firmware profile an export is for (export.boards): --board, or with `vela` and no --board the stock
    Grove Vision AI V2 firmware; None when neither is given (the model's own target decides)."""
    name = req.board or (VELA_DEFAULT_BOARD if "vela" in req.formats else None)
    board = get_board(name) if name else None
    if board is not None and "vela" in req.formats and board.runtime != "vela":
        raise UserError(f"--board {board.name} runs TFLite Micro, not the Ethos-U NPU: drop `vela` from --format")
    return board


def export_deployment(dep: Deployment, req: ExportRequest) -> Deployment:
    """The checkpoint's deployment for the export's firmware profile, with --imgsz / --layout applied and
    checked against the target."""
    board = export_board(req)
    if board is not None and FAMILIES.get(dep.target) == FAMILIES.get(board.target):
        dep = dep.for_target(board.target)
        req.log(f"firmware: {board.title}: {board.firmware} -> target {dep.target}, layout {dep.layout}")
    elif board is not None and req.board:
        dep = dep.for_target(board.target)  # a model of another family: the error says how to train for it
    elif board is not None:
        req.log(f"warning: target {dep.target}: this file is not for {board.title} ({board.firmware}); train with a "
                "device config (e.g. configs/rtmdet_nano_8xb32_300e_coco_relu.py) for a file its firmware runs")
    target = get_target(dep.target)
    if req.imgsz and tuple(req.imgsz) != tuple(dep.imgsz):
        h, w = req.imgsz
        if h % 32 or w % 32 or min(h, w) <= 0 or max(h, w) > MAX_INPUT_SIDE:  # before an ONNX export of GBs
            raise UserError(f"--imgsz {h} {w}: both sides must be positive multiples of 32, at most "
                            f"{MAX_INPUT_SIDE} (the largest input this toolkit makes and reads)")
        if target.square_input and h != w:
            raise UserError(f"--imgsz {h} {w}: target {target.name} takes square inputs only")
        warnings.warn(f"exporting at {h}x{w} but the checkpoint was trained at {dep.imgsz[0]}x{dep.imgsz[1]}; "
                      "accuracy may drop (evaluate the exported file)", stacklevel=3)
        dep = dep.with_(imgsz=(h, w))
    if req.layout:
        if req.layout not in LAYOUTS:
            raise UserError(f"--layout {req.layout}: unknown; choose from {', '.join(LAYOUTS)}")
        if req.layout != target.layout:
            req.log(f"warning: --layout {req.layout}: target {target.name} expects layout {target.layout}; "
                    f"{target.description.split(':')[0]} will not read this file")
        dep = dep.with_(layout=req.layout)
    check_classes(dep.num_classes, dep.layout)
    return dep


def export_checkpoint(cfg: Config | None, req: ExportRequest) -> dict[str, Path]:
    """Run the requested exports; returns {'onnx': path, 'float32': ..., 'int8': ..., 'vela': ...}. A failed
    or interrupted export removes the files it wrote (none is left unverified)."""
    bad = [f for f in req.formats if f not in FORMAT_CHOICES]
    if bad:
        raise UserError(f"--format {' '.join(bad)}: unknown; choose from {', '.join(FORMAT_CHOICES)}")
    if req.board is not None:
        get_board(req.board)
    model, meta = load_model(req.checkpoint, cfg=cfg if cfg is not None and cfg.filename else None,
                             allow_arch_mismatch=req.allow_arch_mismatch)
    dep = export_deployment(Deployment.from_dict(meta["deployment"], str(req.checkpoint)), req)
    if cfg is not None:
        check_options(dep, req.checkpoint, cfg, None)
    out_dir = Path(req.out_dir) if req.out_dir else req.checkpoint.parent
    stem = out_dir / req.checkpoint.stem
    before = output_files(stem)
    try:
        return _export_all(cfg, req, model, meta, dep, stem)
    except BaseException:  # an error, a failed check, Ctrl-C
        removed = remove_written(stem, before)
        if removed:
            req.log(f"export stopped: removed the {len(removed)} file(s) it had written, unverified: "
                    + ", ".join(p.name for p in removed))
        raise


def _export_all(cfg, req: ExportRequest, model, meta: dict, dep: Deployment, stem: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    t = time.perf_counter()
    export_onnx(model, dep, stem.with_suffix(".onnx"), req.fold_normalization,
                source_checkpoint=str(req.checkpoint))
    files["onnx"] = stem.with_suffix(".onnx")
    req.log(f"onnx: {files['onnx']} ({time.perf_counter() - t:.1f}s; layout {dep.layout}, input "
            f"{dep.imgsz[0]}x{dep.imgsz[1]} {dep.input_color.upper()}, {dep.preprocess.resize})")
    calib = None
    if "tflite" in req.formats or "vela" in req.formats:
        calib = calibration_batch(cfg, req, dep, meta)
        files.update(_tflite(files["onnx"], stem, req, calib))
    if req.verify:
        samples = calib[:4] if calib is not None else calibration_batch(cfg, req, dep, meta, n=4)
        report_against_torch(model, dep, req.fold_normalization, files, samples, req.log)
    if "vela" in req.formats:
        files["vela"] = _vela(files["int8"], stem.parent, req, dep, cfg)
    elif "int8" in files:
        report_tflm_boards(files["int8"], dep, req)
    return files


def output_files(stem: Path) -> dict[Path, int]:
    """{path: mtime_ns} of the files an export of `stem` writes (ONNX, TFLite, Vela, sidecars, summary) that
    exist now."""
    names = [f"{stem.name}.onnx", *(f"{stem.name}_{p}.tflite" for p in TFLITE_PRECISIONS),
             f"{stem.name}_int8_vela.tflite"]
    paths = [stem.parent / n for n in names] + [stem.parent / (n + ".json") for n in names]
    paths.append(stem.parent / f"{stem.name}_int8_vela_summary.txt")
    paths += list(bundle_paths(stem.parent / f"{stem.name}_int8_vela.tflite").values())
    out = {}
    for path in paths:
        try:
            if path.is_file() and not path.is_symlink():
                out[path] = path.stat().st_mtime_ns
        except OSError:
            continue
    return out


def remove_written(stem: Path, before: dict[Path, int]) -> list[Path]:
    """Delete the export's files that are new or rewritten since `before` (output_files); the rest stay."""
    removed = []
    for path, mtime in output_files(stem).items():
        if before.get(path) != mtime:
            try:
                path.unlink()
                removed.append(path)
            except OSError:  # cleaning up must not hide the failure itself
                continue
    return removed


def calibration_batch(cfg: Config | None, req: ExportRequest, dep: Deployment, meta: dict,
                      n: int | None = None) -> np.ndarray:
    """Calibration images prepared like evaluation, in the file's input domain, from --calib-images or the
    training images (of the config, else of the checkpoint's own stored config)."""
    if req.calib_images:
        files, where = find_images(req.calib_images), str(req.calib_images)
    else:
        source = cfg if cfg is not None else _stored_config(req.checkpoint)
        try:
            coco = build_coco(source, "train")
        except UserError as e:
            raise UserError(f"no calibration images: the training set is not readable ({e}); pass "
                            "--calib-images DIR (a folder of training-like images)") from None
        files, where = [Path(coco.image_path(i)) for i in range(len(coco))], "the training set"
    n = n or req.calib_num
    batch = calibration_images(files, dep.imgsz, dep.preprocess, n, dep.input_color,
                               cache_dir=cache_dir("calibration"), normalized=not req.fold_normalization)
    req.log(f"calibration: {len(batch)} images from {where}, {dep.preprocess.resize} to "
            f"{dep.imgsz[0]}x{dep.imgsz[1]}")
    return batch


def _stored_config(path: Path) -> Config:
    from ..runtime.checkpoint import load_checkpoint_file, stored_config

    return stored_config(load_checkpoint_file(path), path, required=True)


def _tflite(onnx_path: Path, stem: Path, req: ExportRequest, calib: np.ndarray) -> dict[str, Path]:
    precisions = list(TFLITE_PRECISIONS) if "tflite" in req.formats else ["int8"]
    t = time.perf_counter()
    out = export_tflite(onnx_path, stem, precisions, calib, verify_samples=8 if req.verify else 0)
    for p, path in out.items():
        req.log(f"tflite {p}: {path}")
    req.log(f"tflite export took {time.perf_counter() - t:.1f}s")
    return dict(out)


def _vela(int8_path: Path, out_dir: Path, req: ExportRequest, dep: Deployment, cfg) -> Path:
    result = compile_vela(int8_path, out_dir)
    req.log(format_report(result))
    vela_path = Path(result["vela_tflite"])
    board = export_board(req)
    fit = fit_vela(board, result, vela_path.stat().st_size / 1024)
    req.log("board: " + fit.line())
    if not fit.fits:
        raise ExportError(f"{vela_path.name} does not fit {board.title}: {'; '.join(fit.problems)}; use a smaller "
                          "--imgsz or model")
    req.log(f"vela: {vela_path} (summary {result['summary_txt']})")
    if board.target == dep.target:
        req.log(check_for_board(board, int8_path, vela_path))
        scores = validation_scores(cfg if cfg is not None else _stored_config(req.checkpoint), int8_path)
        for line in write_bundle(vela_path, int8_path, dep, board, result, scores)[1]:
            req.log(line)
    return vela_path


def report_tflm_boards(int8_path: Path, dep: Deployment, req: ExportRequest) -> None:
    """Arena (TFLite Micro, measured) and flash of the int8 file on each MCU board of its target; an error
    when --board names one it does not fit."""
    boards = [b for b in BOARDS.values() if b.runtime == "tflm" and b.target == dep.target]
    if req.board:
        boards = [get_board(req.board)]
    if not boards:
        return
    try:
        from ..runtime.tflm import arena_bytes
        arena = arena_bytes(int8_path)
    except UserError as e:  # tflite-micro not installed: report flash only
        req.log(f"board: tensor arena not measured ({e})")
        arena = None
    for board in boards:
        fit = fit_tflm(board, arena, int8_path.stat().st_size / 1024)
        req.log("board: " + fit.line())
        if req.board and not fit.fits:
            raise ExportError(f"{int8_path.name} does not fit {board.title}: {'; '.join(fit.problems)}")
        if board.target == dep.target:
            req.log(check_for_board(board, int8_path))
