"""Class-aware greedy NMS in pure torch (no torchvision), exact and vectorised.

Greedy NMS keeps a box iff no *kept* higher-scored box of its class overlaps it with IoU > threshold.
Instead of a Python loop over boxes, we (1) list the suppressing pairs (i before j in score order, same
class, IoU > thr) block by block, then (2) solve "keep[j] = no kept i suppresses j" by fixed-point
iteration over those pairs. The pair graph is acyclic (i precedes j), so the fixed point is unique, equals
the greedy result, and is reached after (longest suppression chain + 1) sweeps - usually a handful.
"""
from __future__ import annotations

import torch
from torch import Tensor

# Max IoU entries evaluated at once (~100 MB of temporaries per block).
_BLOCK_ELEMS = 1 << 21


def _pair_iou(boxes: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """IoU of boxes[rows] vs boxes[cols] as mmcv's nms computes it (offset 0, no eps). Returns (K,)."""
    a, b = boxes[rows], boxes[cols]
    w = (torch.min(a[:, 2], b[:, 2]) - torch.max(a[:, 0], b[:, 0])).clamp(min=0)
    h = (torch.min(a[:, 3], b[:, 3]) - torch.max(a[:, 1], b[:, 1])).clamp(min=0)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a + area_b - inter)


def _suppressing_pairs(boxes: Tensor, seg_end: Tensor, iou_threshold: float) -> tuple[Tensor, Tensor]:
    """All (i, j), i < j < seg_end[i], with IoU > thr; boxes are grouped by class, score-sorted inside.

    boxes: (N, 4); seg_end: (N,) exclusive end of each box's class segment. Returns two (K,) index tensors.
    """
    n = boxes.shape[0]
    partners = seg_end - torch.arange(n, device=boxes.device) - 1  # boxes after i in its class
    cum = torch.cumsum(partners, 0)
    found_i, found_j = [], []
    start = 0
    while start < n:
        # grow the row block until it holds about _BLOCK_ELEMS candidate pairs
        base = int(cum[start - 1]) if start > 0 else 0
        stop = int(torch.searchsorted(cum, base + _BLOCK_ELEMS, right=True))
        stop = min(max(stop, start + 1), n)
        counts = partners[start:stop]
        total = int(counts.sum())
        if total > 0:
            rows = torch.repeat_interleave(torch.arange(start, stop, device=boxes.device), counts)
            first = torch.cumsum(counts, 0) - counts  # offset of each row's first pair
            rank = torch.arange(total, device=boxes.device) - torch.repeat_interleave(first, counts)
            cols = rows + 1 + rank
            hit = _pair_iou(boxes, rows, cols) > iou_threshold
            found_i.append(rows[hit])
            found_j.append(cols[hit])
        start = stop
    if not found_i:
        empty = torch.zeros(0, dtype=torch.long, device=boxes.device)
        return empty, empty
    return torch.cat(found_i), torch.cat(found_j)


def _greedy_keep(n: int, sup_i: Tensor, sup_j: Tensor) -> Tensor:
    """Fixed point of keep[j] = not any(keep[i] for pairs (i, j)). Returns (n,) bool."""
    keep = torch.ones(n, dtype=torch.bool, device=sup_i.device)
    for _ in range(n + 1):  # converges after at most n + 1 sweeps; usually a few
        suppressed = torch.zeros(n, dtype=torch.bool, device=sup_i.device)
        suppressed[sup_j[keep[sup_i]]] = True
        new_keep = ~suppressed
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    return keep


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """Class-aware NMS: a box is dropped when a kept box of its class with a higher score has IoU > thr.

    boxes: (N, 4) xyxy; scores: (N,); labels: (N,) int. Returns kept indices (K,) long, sorted by
    descending score (ties keep input order), like mmcv's batched_nms.
    """
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    # group by class with a stable sort, so each class segment stays in score order
    by_class = order[torch.sort(labels[order], stable=True).indices]
    cls_sorted = labels[by_class]
    # mmcv offsets each class by (max coordinate + 1); doing the same keeps IoU rounding identical
    offsets = cls_sorted.to(boxes.dtype) * (boxes.max() + 1)
    grouped = boxes[by_class] + offsets[:, None]
    _, counts = torch.unique_consecutive(cls_sorted, return_counts=True)
    seg_end = torch.repeat_interleave(torch.cumsum(counts, 0), counts)
    sup_i, sup_j = _suppressing_pairs(grouped, seg_end, iou_threshold)
    keep = _greedy_keep(n, sup_i, sup_j)
    kept = torch.sort(by_class[keep]).values
    # back to global score order (stable: equal scores keep their input order)
    return kept[torch.sort(scores[kept], descending=True, stable=True).indices]
