"""Detection confusion matrix with a background class (YOLO-style), and its plot.

matrix[true, predicted], indices 0..C-1 the classes and C the background: row C counts detections that
matched no ground truth (false positives), column C ground-truth boxes no detection matched (misses).
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from ..errors import UserError
from ._arrays import entry_arrays
from ._mpl import new_figure, save_png


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (N, 4) and b (M, 4), xyxy -> (N, M)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _match_image(matrix: np.ndarray, det: Mapping, gt: Mapping, iou_thr: float, score_thr: float) -> None:
    """Add one image's counts to `matrix` (C+1, C+1) in place."""
    c = matrix.shape[0] - 1
    d_boxes, d_labels, scores = entry_arrays(det, with_scores=True)
    g_boxes, g_labels = entry_arrays(gt, with_scores=False)
    for labels, what in ((d_labels, "detection"), (g_labels, "ground-truth")):
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise UserError(f"{what} label {int(labels.max())} outside 0..{c - 1}: num_classes is {c}; "
                            "pass the number of classes the model and dataset have")
    keep = scores >= score_thr
    d_boxes, d_labels, scores = d_boxes[keep], d_labels[keep], scores[keep]
    iou = box_iou(d_boxes, g_boxes)
    taken = np.zeros(len(g_boxes), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):  # highest score picks first
        cand = np.where(taken, -1.0, iou[i]) if len(g_boxes) else np.empty(0)
        j = int(np.argmax(cand)) if cand.size else -1
        if j >= 0 and cand[j] >= iou_thr:
            taken[j] = True
            matrix[g_labels[j], d_labels[i]] += 1
        else:
            matrix[c, d_labels[i]] += 1
    for j in np.flatnonzero(~taken):
        matrix[g_labels[j], c] += 1


def confusion_matrix(detections: Sequence[Mapping], ground_truth: Sequence[Mapping], num_classes: int,
                     iou_thr: float = 0.45, score_thr: float = 0.25) -> np.ndarray:
    """Counts (C+1, C+1) int64, matrix[true class, predicted class], index C = background.

    detections: per image dict(boxes (K, 4) xyxy, scores (K,), labels (K,)); ground_truth: per image
    dict(boxes (G, 4) xyxy, labels (G,)), same images in the same order; numpy arrays or torch tensors.
    Per image, detections scoring >= score_thr take, highest score first, the still-unmatched GT box of
    highest IoU >= iou_thr whatever its class (so a wrong class is a confusion, not a miss + a false
    positive); unmatched detections count as true background, unmatched GT as predicted background.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(f"{len(detections)} images of detections but {len(ground_truth)} of ground truth")
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for det, gt in zip(detections, ground_truth):
        _match_image(matrix, det, gt, iou_thr, score_thr)
    return matrix


def _normalized(matrix: np.ndarray) -> np.ndarray:
    """Each row (true class) divided by its sum: where that class's boxes went; empty rows stay 0."""
    sums = matrix.sum(axis=1, keepdims=True).astype(np.float64)
    return np.divide(matrix, sums, out=np.zeros(matrix.shape, dtype=np.float64), where=sums > 0)


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], out_png: str | os.PathLike,
                          normalize: bool = True, iou_thr: float = 0.45, score_thr: float = 0.25):
    """Heat map of a confusion_matrix (C+1, C+1); rows true, columns predicted, last = background.

    normalize: colour and label cells by the fraction of their row (else by counts); cells are labelled
    up to 30 classes. iou_thr / score_thr: the settings the matrix was counted with, for the title.
    Returns the Figure after writing `out_png`.
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    if matrix.shape != (n, n) or len(class_names) != n - 1:
        raise ValueError(f"matrix {matrix.shape} needs {n - 1} class names (+ background), got {len(class_names)}")
    shown = _normalized(matrix) if normalize else matrix.astype(np.float64)
    size = min(4 + 0.45 * n, 24)
    fig = new_figure(size + 1.5, size)
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(1.0, shown.max()))
    fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of the true row" if normalize else "boxes")
    names = list(class_names) + ["background"]
    ax.set_xticks(range(n), names, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), names)
    ax.set(xlabel="predicted", ylabel="true (ground truth)",
           title=f"Confusion matrix{' (row-normalized)' if normalize else ''}\n"
                 f"IoU >= {iou_thr:g}, score >= {score_thr:g}")
    if n <= 30:  # beyond that the numbers do not fit in the cells
        top = shown.max() or 1.0
        for (i, j), v in np.ndenumerate(shown):
            if matrix[i, j]:
                text = f"{v:.2f}" if normalize else f"{int(matrix[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize="small",
                        color="white" if v > 0.5 * top else "black")
    save_png(fig, out_png)
    return fig
