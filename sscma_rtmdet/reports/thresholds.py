"""Which score threshold to set on a device: precision, recall and F1 of a model's detections against the
ground truth at every integer-percent threshold (the firmware's `AT+TSCORE` takes an integer percent).

A detection is a true positive when it overlaps an unmatched ground-truth box of its class with IoU >= `iou`
(greedy, best score first, per image), as a user counting found objects would.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ._arrays import entry_arrays
from .confusion import box_iou

PERCENTS = np.arange(1, 100)


def threshold_table(results: Sequence[Mapping], gts: Sequence[Mapping], iou: float = 0.5) -> dict:
    """results / gts per image ({boxes (K, 4) xyxy, labels (K,)[, scores (K,)]}) -> {percent (99,), precision,
    recall, f1 (99,) each, objects: the ground-truth count}."""
    scores, hits, objects = [], [], 0
    for det, gt in zip(results, gts):
        d_boxes, d_labels, d_scores = entry_arrays(det, with_scores=True)
        g_boxes, g_labels = entry_arrays(gt, with_scores=False)
        objects += len(g_labels)
        order = np.argsort(-d_scores, kind="stable")
        ious = box_iou(d_boxes[order], g_boxes) if len(g_boxes) else np.zeros((len(order), 0))
        free = np.ones(len(g_labels), bool)
        for k, i in enumerate(order):
            cand = np.nonzero(free & (g_labels == d_labels[i]) & (ious[k] >= iou))[0]
            hit = len(cand) > 0
            if hit:
                free[cand[np.argmax(ious[k, cand])]] = False
            scores.append(d_scores[i])
            hits.append(hit)
    s, h = np.asarray(scores, np.float64), np.asarray(hits, bool)
    kept = s[None, :] * 100 > PERCENTS[:, None]  # the firmware keeps score > threshold
    tp = (kept & h[None, :]).sum(1)
    n = kept.sum(1)
    precision = np.where(n > 0, tp / np.maximum(n, 1), 1.0)
    recall = tp / max(objects, 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {"percent": PERCENTS, "precision": precision, "recall": recall, "f1": f1, "objects": objects}


def pick_threshold(table: dict, default: int = 50) -> dict:
    """The best-F1 integer-percent threshold (the lowest of equals) and what it and `default` give."""
    i = int(np.argmax(table["f1"]))
    d = int(np.nonzero(table["percent"] == default)[0][0])

    def at(k):
        return {"precision": round(float(table["precision"][k]), 4), "recall": round(float(table["recall"][k]), 4),
                "f1": round(float(table["f1"][k]), 4)}
    return {"score_percent": int(table["percent"][i]), **at(i), "default_percent": default,
            "default": at(d), "objects": int(table["objects"])}
