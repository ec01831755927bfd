"""COCO bbox evaluation with pycocotools, reported the way mmdetection 3.3.0's CocoMetric does.

Like mmdet: maxDets = (100, 300, 1000) (so AP50/AP75/AP_s/m/l and the per-class table use 1000), the
copypaste line is "mAP AP50 AP75 AP_s AP_m AP_l" with 3 decimals, and the per-class AP averages precision
entries > -1 over IoU 0.50:0.95 and all recall points.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import DataError
from ..utils.fileio import atomic_write_text
from ..utils.text import printable
from .cocoeval_np import ArrayCOCOeval, Boxes, det_boxes, gt_boxes

MAX_DETS = (100, 300, 1000)
METRIC_NAMES = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "bbox_mAP_s", "bbox_mAP_m", "bbox_mAP_l")


def load_coco_gt(ann_file):
    """pycocotools COCO of an annotation file, without its chatter; DataError if unreadable."""
    from pycocotools.coco import COCO

    path = Path(ann_file)
    if not path.is_file():
        raise DataError(f"annotation file {path} not found; check data_root and the *_ann_file settings")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(path))
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError) as e:
        raise DataError(f"annotation file {path} is not valid COCO json ({type(e).__name__}: {e})") from e


def eval_cat_ids(coco_gt) -> list[int]:
    """Category ids to evaluate: all, minus a Roboflow placeholder (supercategory 'none', no boxes)."""
    cats = coco_gt.loadCats(coco_gt.getCatIds())
    used = {a["category_id"] for a in coco_gt.dataset.get("annotations", [])}
    real = [c["id"] for c in cats
            if not (c.get("supercategory") == "none" and c["id"] not in used and len(cats) > 1)]
    return sorted(real)


def _class_ap(precisions: np.ndarray, k: int, iou: int | None = None) -> float:
    """Mean of valid precision entries of class k at all areas, last maxDets; nan if none."""
    p = precisions[:, :, k, 0, -1] if iou is None else precisions[iou, :, k, 0, -1]
    p = p[p > -1]
    return float(np.mean(p)) if p.size else float("nan")


def format_class_table(per_class: Sequence[tuple[str, float, float]]) -> str:
    """Plain-text table: class name (control characters escaped), AP (0.50:0.95), AP50."""
    per_class = [(printable(n), ap, ap50) for n, ap, ap50 in per_class]
    width = max([len("category")] + [len(n) for n, _, _ in per_class])
    lines = [f"{'category':<{width}}  {'mAP':>6}  {'mAP_50':>6}", "-" * (width + 16)]
    lines += [f"{n:<{width}}  {ap:>6.3f}  {ap50:>6.3f}" for n, ap, ap50 in per_class]
    return "\n".join(lines)


def _result(stats: Sequence[float], per_class: list[tuple[str, float, float]]) -> dict:
    stats = [float(s) for s in stats]
    copypaste = " ".join(f"{s:.3f}" for s in stats[:6])
    metrics = {f"coco/{n}": s for n, s in zip(METRIC_NAMES, stats[:6])}
    return dict(stats=stats, copypaste=copypaste, metrics=metrics, per_class=per_class)


def evaluate_coco(coco_gt, detections: Sequence[Mapping] | Boxes, classwise: bool = True,
                  log: Callable[[str], None] | None = print, cat_ids: Sequence[int] | None = None,
                  img_ids: Sequence[int] | None = None) -> dict:
    """Evaluate COCO-format detections against a pycocotools COCO ground truth, with pycocotools' rules
    (computed by cocoeval_np.ArrayCOCOeval: the same numbers, faster).

    Args:
        coco_gt: pycocotools.coco.COCO.
        detections: dicts(image_id, category_id, bbox [x, y, w, h] original pixels, score), or the same as
            `Boxes` arrays (detections_to_arrays).
        classwise: also log the per-class AP table.
        log: where the report goes (the 12 summary lines, copypaste line, table); None = quiet.
        cat_ids / img_ids: restrict the evaluation; default all images, all categories but a Roboflow
            placeholder (see eval_cat_ids).

    Returns dict(stats: 12 floats as pycocotools' COCOeval.stats, copypaste: str of 6 numbers,
    metrics: {'coco/bbox_mAP': ..., ...}, per_class: [(name, AP, AP50)] in sorted cat_ids order,
    coco_eval: the ArrayCOCOeval, for PR curves).
    """
    log = log or (lambda _msg: None)
    cat_ids = sorted(set(cat_ids)) if cat_ids is not None else eval_cat_ids(coco_gt)
    img_ids = list(img_ids) if img_ids is not None else sorted(coco_gt.getImgIds())
    names = [c["name"] for c in coco_gt.loadCats(cat_ids)]
    dets = detections if isinstance(detections, Boxes) else _dicts_to_boxes(detections)
    _check_image_ids(dets, set(coco_gt.getImgIds()))
    if not np.isin(dets.category_id, cat_ids).any():
        log("no detections to evaluate: every metric is 0")
        res = _result([0.0] * 12, [(n, 0.0, 0.0) for n in names])
        log(f"bbox_mAP_copypaste: {res['copypaste']}")
        if classwise:
            log(format_class_table(res["per_class"]))
        return res
    ev = ArrayCOCOeval(gt_boxes(coco_gt), dets, cat_ids, img_ids, MAX_DETS, coco_gt).evaluate()
    log(ev.summary_text())
    precisions = ev.eval["precision"]  # (iou, recall, cls, area, maxDets)
    per_class = [(n, _class_ap(precisions, k), _class_ap(precisions, k, iou=0)) for k, n in enumerate(names)]
    res = _result(ev.stats, per_class)
    res["coco_eval"] = ev  # for PR curves (reports.plots.pr_curves)
    log(f"bbox_mAP_copypaste: {res['copypaste']}")
    if classwise:
        log(format_class_table(per_class))
    return res


def _dicts_to_boxes(dets: Sequence[Mapping]) -> Boxes:
    """COCO result dicts -> Boxes; DataError naming the first malformed bbox."""
    for i, d in enumerate(dets):
        if len(d["bbox"]) != 4:
            raise DataError(f"detection {i} bbox {d['bbox']} must be [x, y, w, h]")
    return det_boxes([d["image_id"] for d in dets], [d["category_id"] for d in dets],
                     [d["bbox"] for d in dets], [d["score"] for d in dets])


def _check_image_ids(dets: Boxes, img_ids: set) -> None:
    """DataError naming the first detection with an image id the annotation file does not have."""
    bad = np.flatnonzero(~np.isin(dets.image_id, sorted(img_ids)))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"detection {i} has image_id {int(dets.image_id[i])} which is not in the annotation "
                        "file; evaluate against the annotation file the detections were made on")


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def detections_to_coco(results: Sequence[Mapping], metas: Sequence[Mapping],
                       label2cat: Mapping[int, int] | Sequence[int]) -> list[dict]:
    """Per-image predictions -> COCO result dicts.

    Args:
        results: per image dict(boxes (N, 4) xyxy in original-image pixels, scores (N,), labels (N,)),
            torch tensors or numpy arrays.
        metas: per image dict with `img_id` (the COCO image id).
        label2cat: contiguous label -> COCO category id (dict or sequence).
    Returns: list of dict(image_id, category_id, bbox [x, y, w, h], score).
    """
    b = detections_to_arrays(results, metas, label2cat)
    return [dict(image_id=i, category_id=c, bbox=box, score=sc)
            for i, c, box, sc in zip(b.image_id.tolist(), b.category_id.tolist(), b.bbox.tolist(), b.score.tolist())]


def detections_to_arrays(results: Sequence[Mapping], metas: Sequence[Mapping],
                         label2cat: Mapping[int, int] | Sequence[int]) -> Boxes:
    """Per-image predictions (as detections_to_coco takes them) -> Boxes: bbox xywh float64, no dict per box."""
    if len(results) != len(metas):
        raise ValueError(f"{len(results)} results but {len(metas)} metas")
    if not results:
        return det_boxes([], [], np.zeros((0, 4)), [])
    lut = dict(label2cat) if isinstance(label2cat, Mapping) else dict(enumerate(label2cat))
    boxes = [_to_numpy(r["boxes"]).reshape(-1, 4).astype(np.float64) for r in results]
    scores = np.concatenate([_to_numpy(r["scores"]).reshape(-1).astype(np.float64) for r in results])
    labels = np.concatenate([_to_numpy(r["labels"]).reshape(-1).astype(np.int64) for r in results])
    uniq, inverse = np.unique(labels, return_inverse=True)
    cats = np.asarray([lut[int(k)] for k in uniq], np.int64)[inverse]
    xyxy = np.concatenate(boxes)
    image_id = np.repeat([int(m["img_id"]) for m in metas], [len(b) for b in boxes])
    return det_boxes(image_id, cats, np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], 1), scores)


def save_detections_json(dets: Sequence[Mapping], path) -> Path:
    """Write COCO result dicts as json (atomic: no half-written file on a crash)."""
    return atomic_write_text(path, json.dumps(list(dets)))


def evaluate_detector(coco, detect: Callable, log: Callable[[str], None] | None = None) -> dict:
    """evaluate_coco of any detector on a CocoDetection: `detect(img_bgr) -> (boxes (K, 4) xyxy original pixels,
    scores (K,), labels (K,))` per image, in dataset order (e.g. an independent model of a firmware)."""
    dets = []
    for i in range(len(coco)):
        boxes, scores, labels = detect(coco.load_image(i))
        dets += [dict(image_id=coco.img_ids[i], category_id=coco.label2cat[int(c)], score=float(s),
                      bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])])
                 for b, s, c in zip(boxes, scores, labels)]
    return evaluate_coco(coco.coco, dets, classwise=False, log=log)
