"""Box geometry shared by training, decoding and NMS (mmdetection 3.3.0 numerics).

All boxes are xyxy float tensors in pixels. Functions are pure and keep autograd where inputs have it.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def bbox_overlaps(a: Tensor, b: Tensor, mode: str = "iou", is_aligned: bool = False,
                  eps: float = 1e-6) -> Tensor:
    """IoU or GIoU between xyxy boxes, with mmdet's eps handling (union and enclosure floored at eps).

    a: (..., M, 4), b: (..., N, 4). Returns (..., M, N), or (..., M) when ``is_aligned`` (M == N).
    """
    if mode not in ("iou", "giou"):
        raise ValueError(f"bbox_overlaps: mode must be 'iou' or 'giou', got {mode!r}")
    if is_aligned and a.shape[-2] != b.shape[-2]:
        raise ValueError(f"bbox_overlaps: aligned mode needs equal counts, got {a.shape} and {b.shape}")
    rows, cols = a.shape[-2], b.shape[-2]
    if rows * cols == 0:
        shape = a.shape[:-2] + ((rows,) if is_aligned else (rows, cols))
        return a.new_zeros(shape)

    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    if is_aligned:
        pa, pb = a, b
    else:  # broadcast to (..., M, N, 4) views
        pa, pb = a[..., :, None, :], b[..., None, :, :]
        area_a, area_b = area_a[..., :, None], area_b[..., None, :]
    lt = torch.max(pa[..., :2], pb[..., :2])
    rb = torch.min(pa[..., 2:], pb[..., 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    eps_t = overlap.new_tensor([eps])
    union = torch.max(area_a + area_b - overlap, eps_t)
    ious = overlap / union
    if mode == "iou":
        return ious
    enclose_wh = (torch.max(pa[..., 2:], pb[..., 2:]) - torch.min(pa[..., :2], pb[..., :2])).clamp(min=0)
    enclose_area = torch.max(enclose_wh[..., 0] * enclose_wh[..., 1], eps_t)
    return ious - (enclose_area - union) / enclose_area


def distance2bbox(points: Tensor, dist: Tensor, max_shape: Sequence[int] | None = None) -> Tensor:
    """Decode (l, t, r, b) distances from points into xyxy boxes.

    points: (..., 2+) with x, y first (priors (P, 4) work). dist: (..., 4), broadcastable against points.
    max_shape: (H, W) clamp of x to [0, W] and y to [0, H], as mmdet's test-time decode.
    Returns (..., 4).
    """
    x, y = points[..., 0], points[..., 1]
    boxes = torch.stack([x - dist[..., 0], y - dist[..., 1], x + dist[..., 2], y + dist[..., 3]], -1)
    if max_shape is not None:
        h, w = float(max_shape[0]), float(max_shape[1])
        lo = boxes.new_zeros(4)
        hi = boxes.new_tensor([w, h, w, h])
        boxes = torch.max(torch.min(boxes, hi), lo)
    return boxes


def make_priors(featmap_sizes: Sequence[Sequence[int]], strides: Sequence, device=None,
                dtype: torch.dtype = torch.float32) -> Tensor:
    """Point priors of all levels, mmdet's MlvlPointGenerator with offset 0 and with_stride=True.

    featmap_sizes: [(H_i, W_i)]; strides: per level an int or (stride_w, stride_h).
    Returns (sum H_i*W_i, 4) rows [x, y, stride_w, stride_h], levels concatenated, each row-major.
    """
    if len(featmap_sizes) != len(strides):
        raise ValueError(f"make_priors: {len(featmap_sizes)} feature maps but {len(strides)} strides")
    out = []
    for (h, w), stride in zip(featmap_sizes, strides):
        sw, sh = (stride, stride) if isinstance(stride, (int, float)) else (stride[0], stride[1])
        xs = (torch.arange(int(w), device=device) * sw).to(dtype)
        ys = (torch.arange(int(h), device=device) * sh).to(dtype)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        n = int(h) * int(w)
        out.append(torch.stack([xx.reshape(-1), yy.reshape(-1),
                                xx.new_full((n,), float(sw)), xx.new_full((n,), float(sh))], -1))
    return torch.cat(out, 0) if out else torch.zeros((0, 4), device=device, dtype=dtype)
