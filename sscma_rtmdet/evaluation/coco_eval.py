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

MAX_DETS = (100, 300, 1000)
METRIC_NAMES = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "bbox_mAP_s", "bbox_mAP_m", "bbox_mAP_l")


_CHATTER = ("Loading and preparing", "DONE (t=", "creating index", "index created", "Running per image",
            "Evaluate annotation type", "Accumulating")


def summary_only(log: Callable[[str], None]) -> Callable[[str], None]:
    """`log` without pycocotools' progress chatter (kept with --verbose): the 12 summary lines stay."""
    def quiet(msg: str) -> None:
        lines = [ln for ln in str(msg).splitlines() if not ln.startswith(_CHATTER)]
        if lines:
            log("\n".join(lines))
    return quiet


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


def _renumber_if_zero_ids(coco_gt):
    """A COCO whose annotation ids start at 1, or coco_gt itself when they already do.

    pycocotools' COCOeval stores the matched annotation id and treats 0 as "unmatched", so a GT box
    with id 0 (Roboflow exports number annotations from 0) can never be matched and a perfect
    detection of it counts as a false positive.
    """
    from pycocotools.coco import COCO

    anns = coco_gt.dataset.get("annotations", [])
    if not anns or min(a["id"] for a in anns) > 0:
        return coco_gt
    fixed = COCO()
    fixed.dataset = dict(coco_gt.dataset, annotations=[dict(a, id=i + 1) for i, a in enumerate(anns)])
    with contextlib.redirect_stdout(io.StringIO()):
        fixed.createIndex()
    return fixed


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


def evaluate_coco(coco_gt, detections: Sequence[Mapping], classwise: bool = True,
                  log: Callable[[str], None] | None = print, cat_ids: Sequence[int] | None = None,
                  img_ids: Sequence[int] | None = None) -> dict:
    """Evaluate COCO-format detections against a pycocotools COCO ground truth.

    Args:
        coco_gt: pycocotools.coco.COCO.
        detections: dicts(image_id, category_id, bbox [x, y, w, h] original pixels, score).
        classwise: also log the per-class AP table.
        log: where the report goes (pycocotools' summary, copypaste line, table); None = quiet.
        cat_ids / img_ids: restrict the evaluation; default all images, all categories but a Roboflow
            placeholder (see eval_cat_ids).

    Returns dict(stats: 12 floats as pycocotools' COCOeval.stats, copypaste: str of 6 numbers,
    metrics: {'coco/bbox_mAP': ..., ...}, per_class: [(name, AP, AP50)] in cat_ids order).
    """
    from pycocotools.cocoeval import COCOeval

    log = log or (lambda _msg: None)
    cat_ids = list(cat_ids) if cat_ids is not None else eval_cat_ids(coco_gt)
    img_ids = list(img_ids) if img_ids is not None else sorted(coco_gt.getImgIds())
    names = [c["name"] for c in coco_gt.loadCats(cat_ids)]
    dets = [d for d in detections if d["category_id"] in set(cat_ids)]
    if not dets:  # pycocotools' loadRes crashes on an empty list
        log("no detections to evaluate: every metric is 0")
        res = _result([0.0] * 12, [(n, 0.0, 0.0) for n in names])
        log(f"bbox_mAP_copypaste: {res['copypaste']}")
        if classwise:
            log(format_class_table(res["per_class"]))
        return res
    _check_detections(dets, set(coco_gt.getImgIds()))
    coco_gt = _renumber_if_zero_ids(coco_gt)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):  # pycocotools prints; route it through `log` instead
        coco_dt = coco_gt.loadRes([dict(d) for d in dets])  # loadRes mutates its input (adds area/id)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.catIds, ev.params.imgIds, ev.params.maxDets = cat_ids, img_ids, list(MAX_DETS)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    log(buf.getvalue().rstrip("\n"))
    precisions = ev.eval["precision"]  # (iou, recall, cls, area, maxDets)
    per_class = [(n, _class_ap(precisions, k), _class_ap(precisions, k, iou=0)) for k, n in enumerate(names)]
    res = _result(ev.stats, per_class)
    res["coco_eval"] = ev  # for PR curves (reports.plots.pr_curves)
    log(f"bbox_mAP_copypaste: {res['copypaste']}")
    if classwise:
        log(format_class_table(per_class))
    return res


def _check_detections(dets: Sequence[Mapping], img_ids: set) -> None:
    """DataError naming the first detection with an unknown image id or a malformed bbox."""
    for i, d in enumerate(dets):
        if d["image_id"] not in img_ids:
            raise DataError(f"detection {i} has image_id {d['image_id']} which is not in the annotation "
                            "file; evaluate against the annotation file the detections were made on")
        if len(d["bbox"]) != 4:
            raise DataError(f"detection {i} bbox {d['bbox']} must be [x, y, w, h]")


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
    if len(results) != len(metas):
        raise ValueError(f"{len(results)} results but {len(metas)} metas")
    out = []
    for res, meta in zip(results, metas):
        boxes = _to_numpy(res["boxes"]).reshape(-1, 4).astype(np.float64)
        scores = _to_numpy(res["scores"]).reshape(-1).astype(np.float64)
        labels = _to_numpy(res["labels"]).reshape(-1).astype(np.int64)
        img_id = int(meta["img_id"])
        for (x0, y0, x1, y1), s, lab in zip(boxes.tolist(), scores.tolist(), labels.tolist()):
            out.append(dict(image_id=img_id, category_id=int(label2cat[lab]),
                            bbox=[x0, y0, x1 - x0, y1 - y0], score=s))
    return out


def save_detections_json(dets: Sequence[Mapping], path) -> Path:
    """Write COCO result dicts as json (atomic: no half-written file on a crash)."""
    return atomic_write_text(path, json.dumps(list(dets)))
