"""The SenseCraft bundle written next to a Vela file: what a user uploads with it and what to set on the device.

    <stem>_int8_vela.labels.txt        class names in output-index order, one a line
    <stem>_int8_vela.sensecraft.json   the model info SenseCraft stores with a custom model (AT+INFO?): name,
                                       version, category, model_type, algorithm, classes, author, description
    <stem>_int8_vela.model.json        model-zoo style: input / output tensors, classes, the firmware it is for,
                                       the int8 file's AP on the validation split, Vela's estimate, the score /
                                       IoU thresholds to set (AT+TSCORE, AT+TIOU), md5 and size of the Vela file

The thresholds: RTMDet's quality-aware scores of correct boxes often sit below the firmware's default 50 %,
so the score threshold is the best-F1 integer percent of the int8 file on the validation split, and the
recall at the default is said next to it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..reports.thresholds import pick_threshold, threshold_table
from ..runtime.deployment import Deployment
from ..targets import Board, get_target
from ..utils.fileio import atomic_write_text
from ..version import __version__
from .conformance import graph_io

ALGORITHMS = {"sscma-micro-v1": "YOLOv8", "sscma-micro": "RTMDet"}


def bundle_paths(vela_path: Path) -> dict[str, Path]:
    stem = vela_path.name[:-len(".tflite")]
    return {k: vela_path.with_name(f"{stem}{suffix}") for k, suffix in
            (("labels", ".labels.txt"), ("sensecraft", ".sensecraft.json"), ("model", ".model.json"))}


def validation_scores(cfg, int8_path: Path) -> dict | None:
    """AP / AP50 of the int8 file on the validation split of `cfg`'s dataset and the thresholds it suggests;
    None when the config names no readable dataset."""
    from ..data.build import build_coco
    from ..errors import UserError
    from ..evaluation.evaluate import evaluate

    try:
        coco = build_coco(cfg, "val")
    except UserError:
        return None
    res = evaluate(cfg, int8_path, coco, progress=False, classwise=False)
    index = {img_id: i for i, img_id in enumerate(coco.img_ids)}
    gts = [dict(zip(("boxes", "labels"), coco.get_ann(index[m["img_id"]]))) for m in res["metas"]]
    return {"split": "val", "images": len(coco), "ap": round(float(res["stats"][0]), 4),
            "ap50": round(float(res["stats"][1]), 4), "thresholds": pick_threshold(threshold_table(res["results"], gts))}


def write_bundle(vela_path: Path, int8_path: Path, dep: Deployment, board: Board, vela: dict,
                 scores: dict | None) -> tuple[dict[str, Path], list[str]]:
    """Write the three files; returns their paths and the lines to print (what to upload and set)."""
    paths = bundle_paths(vela_path)
    name = vela_path.name[:-len("_int8_vela.tflite")] or vela_path.stem
    algorithm = ALGORITHMS.get(dep.target, dep.target)
    iou = int(round(100 * float(dep.test_cfg.get("iou_threshold", 0.45))))
    info = {"name": name, "version": "1.0.0", "category": "Object Detection", "model_type": "TFLite",
            "algorithm": algorithm, "classes": list(dep.classes), "author": f"sscma-rtmdet {__version__}",
            "description": f"RTMDet {dep.imgsz[0]}x{dep.imgsz[1]} int8 for {board.title} ({board.firmware})"}
    ins, outs = graph_io(vela_path)
    data = vela_path.read_bytes()
    thr = (scores or {}).get("thresholds")
    model = {**info, "target": dep.target, "board": board.name, "firmware": board.firmware,
             "description": get_target(dep.target).description, "input": ins, "outputs": outs,
             "metrics": {k: v for k, v in (scores or {}).items() if k != "thresholds"} or None,
             "vela": {k: vela.get(k) for k in ("vela_version", "core", "inference_time_ms", "sram_kib", "flash_kib",
                                               "npu_ops", "cpu_ops")},
             "device_settings": {"AT+TSCORE": thr["score_percent"] if thr else None, "AT+TIOU": iou,
                                 "at_score": thr},
             "file": vela_path.name, "md5": hashlib.md5(data).hexdigest(), "size_bytes": len(data)}
    atomic_write_text(paths["labels"], "".join(f"{c}\n" for c in dep.classes))
    atomic_write_text(paths["sensecraft"], json.dumps(info, indent=2) + "\n")
    atomic_write_text(paths["model"], json.dumps(model, indent=2) + "\n")
    lines = [f"sensecraft: upload {vela_path.name} ({algorithm}); model info {paths['sensecraft'].name}, "
             f"classes {paths['labels'].name}, details {paths['model'].name}"]
    if thr:
        d = thr["default"]
        lines.append(f"device: set AT+TSCORE={thr['score_percent']} AT+TIOU={iou} (best F1 {thr['f1']:.2f} on "
                     f"{scores['images']} validation images: recall {thr['recall']:.2f}, precision "
                     f"{thr['precision']:.2f}; the firmware's default score 50 % gives recall {d['recall']:.2f}); "
                     f"int8 AP {scores['ap']:.3f}")
    else:
        lines.append(f"device: set AT+TIOU={iou}; no validation split to pick AT+TSCORE from (default 50 %)")
    return paths, lines
