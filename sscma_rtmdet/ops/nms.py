"""Class-aware greedy NMS in pure torch (no torchvision), exact and vectorised.

Greedy NMS keeps a box iff no *kept* higher-scored box of its class overlaps it with IoU > threshold.
Instead of a Python loop over boxes we (1) list the suppressing pairs (same class, IoU > thr) with a
sweep over boxes sorted by x1 - only boxes whose x-ranges overlap enough can pass - then (2) solve
"keep[j] = no kept higher-ranked i suppresses j" by fixed-point iteration over those pairs. The pair graph
is acyclic (ranks decrease), so the fixed point is unique, equals the greedy result, and is reached after
(longest suppression chain + 1) sweeps - usually a handful.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

# Candidate pairs whose IoU is evaluated at once (~100 MB of temporaries per block).
_BLOCK_PAIRS = 1 << 21


def _pair_iou(c: Tensor, area: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """IoU of boxes rows vs cols as mmcv's nms computes it (offset 0, no eps).

    c: (4, N) coordinates as rows (x1, y1, x2, y2); area: (N,); rows, cols: (K,). Returns (K,).
    """
    a, b = c.index_select(1, rows), c.index_select(1, cols)
    w = (torch.min(a[2], b[2]) - torch.max(a[0], b[0])).clamp_(min=0)
    h = (torch.min(a[3], b[3]) - torch.max(a[1], b[1])).clamp_(min=0)
    inter = w * h
    return inter / (area.index_select(0, rows) + area.index_select(0, cols) - inter)


def _overlapping_pairs(boxes: Tensor, iou_threshold: float) -> tuple[Tensor, Tensor]:
    """All (i, j), i < j, with IoU > thr, for boxes sorted by x1 (classes already offset apart).

    boxes: (N, 4) with nondecreasing x1. 2-D IoU never exceeds the IoU of the x-intervals, so a later
    box j can only pass when x1_j < x2_i - thr * w_i: a sorted window per box (searchsorted).
    Returns two (K,) long index tensors into boxes.
    """
    n, dev = boxes.shape[0], boxes.device
    c = boxes.t().contiguous()
    area = (c[2] - c[0]) * (c[3] - c[1])
    # the 1e-3 slack keeps the window conservative under float rounding; exact IoU decides below
    reach = c[2] - max(float(iou_threshold), 0.0) * (1 - 1e-3) * (c[2] - c[0])
    ar = torch.arange(n, device=dev)
    partners = (torch.searchsorted(c[0], reach, right=False) - ar - 1).clamp_(min=0)
    cum = torch.cumsum(partners, 0)
    found_i, found_j = [], []
    start = 0
    while start < n:
        base = int(cum[start - 1]) if start > 0 else 0
        stop = min(max(int(torch.searchsorted(cum, base + _BLOCK_PAIRS, right=True)), start + 1), n)
        counts = partners[start:stop]
        total = int(cum[stop - 1]) - base
        if total > 0:
            rows = torch.repeat_interleave(ar[start:stop], counts)
            first = torch.cumsum(counts, 0) - counts  # offset of each row's first pair
            cols = rows + 1 + torch.arange(total, device=dev) - torch.repeat_interleave(first, counts)
            hit = _pair_iou(c, area, rows, cols) > iou_threshold
            found_i.append(rows[hit])
            found_j.append(cols[hit])
        start = stop
    if not found_i:
        empty = torch.zeros(0, dtype=torch.long, device=dev)
        return empty, empty
    return torch.cat(found_i), torch.cat(found_j)


def _greedy_keep(n: int, sup_i: Tensor, sup_j: Tensor) -> Tensor:
    """Fixed point of keep[j] = not any(keep[i] for pairs (i, j)); i precedes j. Returns (n,) bool."""
    keep = torch.ones(n, dtype=torch.bool, device=sup_i.device)
    for _ in range(n + 1):  # converges after at most n + 1 sweeps; usually a few
        suppressed = torch.zeros(n, dtype=torch.bool, device=sup_i.device)
        suppressed[sup_j[keep[sup_i]]] = True
        if torch.equal(~suppressed, keep):
            break
        keep = ~suppressed
    return keep


def _nms_sorted(shifted: Tensor, iou_threshold: float) -> Tensor:
    """Greedy keep mask of boxes already in rank order (best first; classes offset apart). (N, 4) -> (N,) bool."""
    by_x = torch.sort(shifted[:, 0], stable=True).indices
    a, b = _overlapping_pairs(shifted[by_x], iou_threshold)
    ra, rb = by_x[a], by_x[b]
    return _greedy_keep(shifted.shape[0], torch.minimum(ra, rb), torch.maximum(ra, rb))


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float,
                max_num: int | None = None) -> Tensor:
    """Class-aware NMS: a box is dropped when a kept box of its class with a higher score has IoU > thr.

    boxes: (N, 4) xyxy; scores: (N,); labels: (N,) int. Returns kept indices (K,) long, sorted by
    descending score (equal scores: input order first), like mmcv's batched_nms. `max_num` returns only the
    first max_num of them: a box's fate depends only on higher-ranked boxes, so NMS of the best-ranked prefix
    decides that prefix exactly; the prefix grows until it yields max_num kept boxes or holds every box.
    """
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"batched_nms: iou_threshold must be in [0, 1], got {iou_threshold}")
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    max_num = None if max_num is None else int(max_num)
    order = torch.sort(scores, descending=True, stable=True).indices
    lo = boxes.min()
    if lo < 0:  # the class offsets below separate classes only for non-negative coordinates
        boxes = boxes - lo
    # mmcv's trick: shift each class by (max coordinate + 1) so classes never overlap; same rounding too
    shifted = (boxes + (labels.to(boxes.dtype) * (boxes.max() + 1))[:, None])[order]
    size = n if max_num is None else min(n, max(4 * max_num, 1024))
    while True:
        keep = order[:size][_nms_sorted(shifted[:size], iou_threshold)]
        if size == n or keep.numel() >= max_num:
            return keep if max_num is None else keep[:max_num]
        size = min(n, size * 4)


def sscma_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float,
              max_num: int | None = None) -> Tensor:
    """SSCMA-Micro's per-class greedy NMS on xyxy boxes given in the firmware's candidate order.

    The firmware lists candidates newest first (level by level, prior by prior, each pushed to the front),
    sorts them stably by descending score, and computes IoU on (cx, cy, w, h) as if (cx, cy) were the top-left
    corner: the same as ordinary IoU of boxes shifted to [cx, cy, cx + w, cy + h]. Returns kept indices
    into `boxes` in the firmware's output order (descending score), the first `max_num` when given."""
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    newest_first = torch.arange(n - 1, -1, -1, device=boxes.device)
    b = boxes[newest_first]
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    cx, cy = (b[:, 0] + b[:, 2]) * 0.5, (b[:, 1] + b[:, 3]) * 0.5
    shifted = torch.stack([cx, cy, cx + w, cy + h], dim=1)
    keep = batched_nms(shifted, scores[newest_first], labels[newest_first], iou_threshold, max_num)
    return newest_first[keep]


def sscma_v1_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """SSCMA-Micro v1's NMS (YOLO_V8 algorithm) on xyxy boxes in prior order with integer-percent scores.

    Candidates newest first, sorted stably by descending score; per class, greedy; the IoU of (cx, cy, w, h)
    taken as if (cx, cy) were the top-left corner, rounded to an integer percent, suppresses when above
    round(100 * iou_threshold). The survivors come out sorted stably by centre x (the firmware's last sort).
    Returns indices into `boxes`."""
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    b = boxes.detach().cpu().double().numpy()[::-1]
    s = scores.detach().cpu().numpy()[::-1]
    lab = labels.detach().cpu().numpy()[::-1]
    order = np.argsort(-np.round(s * 100), kind="stable")
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    thr = int(np.floor(100 * iou_threshold + 0.5))
    alive = np.ones(n, bool)
    for pos, i in enumerate(order):
        if not alive[i]:
            continue
        j = order[pos + 1:]
        j = j[alive[j] & (lab[j] == lab[i])]
        if not len(j):
            continue
        iw = np.maximum(0, np.minimum(cx[i] + w[i], cx[j] + w[j]) - np.maximum(cx[i], cx[j]))
        ih = np.maximum(0, np.minimum(cy[i] + h[i], cy[j] + h[j]) - np.maximum(cy[i], cy[j]))
        inter = iw * ih
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / (w[i] * h[i] + w[j] * h[j] - inter)
        alive[j[np.floor(iou * 100 + 0.5) > thr]] = False
    kept = order[alive[order]]
    kept = kept[np.argsort(cx[kept], kind="stable")]
    return torch.from_numpy((n - 1 - kept).astype(np.int64)).to(boxes.device)
