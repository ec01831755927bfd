"""RTMDet losses: Quality Focal Loss and GIoU loss, element-wise as mmdetection 3.3.0 computes them."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..ops import bbox_overlaps

# mmdet divides every summed loss by (avg_factor + float32 eps), even when avg_factor is 1.
F32_EPS = torch.finfo(torch.float32).eps


def quality_focal_loss(logits: Tensor, labels: Tensor, scores: Tensor, beta: float = 2.0) -> Tensor:
    """Element-wise QFL; the caller sums (and normalises).

    logits: (P, C) raw; labels: (P,) long in [0, C] with C = background; scores: (P,) IoU-quality
    targets of positives. Every class is pushed to 0 with weight sigmoid^beta, except a positive's own
    class, which is pushed to its score with weight |score - sigmoid|^beta. Returns (P, C).
    """
    prob = logits.sigmoid()
    loss = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    loss = loss * prob.pow(beta)
    num_classes = logits.shape[1]
    pos = torch.nonzero((labels >= 0) & (labels < num_classes)).squeeze(1)
    if pos.numel():
        pos_label = labels[pos].long()
        x = logits[pos, pos_label]
        target = scores[pos].to(logits.dtype)
        pos_loss = (F.binary_cross_entropy_with_logits(x, target, reduction="none")
                    * (target - prob[pos, pos_label]).abs().pow(beta))
        loss = loss.index_put((pos, pos_label), pos_loss)
    return loss


def giou_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None, eps: float = 1e-6) -> Tensor:
    """Weighted (1 - GIoU) per box; the caller sums and scales by the loss weight.

    pred, target: (K, 4) xyxy; weight: (K,) or None. Returns (K,).
    """
    loss = 1 - bbox_overlaps(pred, target, mode="giou", is_aligned=True, eps=eps)
    return loss if weight is None else loss * weight
