"""Reference for tests: the per-image DynamicSoftLabelAssigner as it was before the batched one (mmdetection
3.3.0's algorithm, one image at a time, over that image's candidates)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sscma_rtmdet.criterion.assigner import AssignResult
from sscma_rtmdet.ops import bbox_overlaps

_EPS = 1e-7
_INF = 100000000.0  # mmdet marks non-candidate priors' overlap as -INF


class DynamicSoftLabelAssigner:
    """SimOTA-style matching with a soft-label classification cost and a soft center prior."""

    def __init__(self, topk: int = 13, iou_weight: float = 3.0, soft_center_radius: float = 3.0):
        self.topk = int(topk)
        self.iou_weight = float(iou_weight)
        self.soft_center_radius = float(soft_center_radius)

    @torch.no_grad()
    def assign(self, logits: Tensor, pred_boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
               gt_labels: Tensor) -> AssignResult:
        """logits (P, C) raw; pred_boxes (P, 4) decoded xyxy; priors (P, 4) [x, y, stride_w, stride_h];
        gt_boxes (G, 4) xyxy; gt_labels (G,). Inputs are treated as detached."""
        num_priors, num_gt = pred_boxes.shape[0], gt_boxes.shape[0]
        gt_inds = torch.zeros(num_priors, dtype=torch.long, device=pred_boxes.device)
        labels = torch.full((num_priors,), -1, dtype=torch.long, device=pred_boxes.device)
        # a prior is a candidate when its point lies strictly inside at least one GT box
        centers = priors[:, :2]
        margin = torch.minimum(centers[:, None] - gt_boxes[:, :2], gt_boxes[:, 2:] - centers[:, None])
        valid = (margin.amin(dim=-1) > 0).any(dim=1) if num_gt else gt_inds.bool()
        if num_gt == 0 or num_priors == 0 or not bool(valid.any()):
            return AssignResult(gt_inds, labels, pred_boxes.new_zeros(num_priors))

        valid_idx = torch.nonzero(valid).squeeze(1)
        cost, ious = self._cost(logits[valid_idx], pred_boxes[valid_idx], priors[valid_idx],
                                gt_boxes, gt_labels)
        cand, matched_gt, matched_iou = self._dynamic_k_matching(cost, ious)
        pos = valid_idx[cand]
        gt_inds[pos] = matched_gt + 1
        labels[pos] = gt_labels[matched_gt].long()
        max_overlaps = torch.full((num_priors,), -_INF, dtype=torch.float32, device=pred_boxes.device)
        max_overlaps[pos] = matched_iou
        return AssignResult(gt_inds, labels, max_overlaps)

    def _cost(self, logits: Tensor, boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
              gt_labels: Tensor) -> tuple[Tensor, Tensor]:
        """Candidates only. logits (V, C), boxes (V, 4), priors (V, 4). Returns cost and IoU, both (V, G)."""
        gt_center = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2.0
        distance = (priors[:, None, :2] - gt_center[None]).pow(2).sum(-1).sqrt() / priors[:, 2:3]
        center_cost = torch.pow(10, distance - self.soft_center_radius)

        ious = bbox_overlaps(boxes, gt_boxes)
        iou_cost = -torch.log(ious + _EPS) * self.iou_weight

        # soft-label BCE summed over classes. Only the GT class has a non-zero target, so the sum is
        # (all classes against 0) - (GT class against 0) + (GT class against IoU): O(V*G), not O(V*G*C)
        prob = logits.sigmoid()
        to_zero = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
        to_zero = to_zero * prob.pow(2.0)
        gl = gt_labels.long()
        x, p = logits[:, gl], prob[:, gl]  # (V, G) logit / probability of each GT's class
        to_iou = F.binary_cross_entropy_with_logits(x, ious, reduction="none") * (ious - p).abs().pow(2.0)
        cls_cost = to_zero.sum(1, keepdim=True) - to_zero[:, gl] + to_iou
        return cls_cost + iou_cost + center_cost, ious

    def _dynamic_k_matching(self, cost: Tensor, ious: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """cost, ious: (V, G). Returns (matched candidate idx (K,), their GT idx (K,), their IoU (K,))."""
        num_v, num_gt = cost.shape
        topk_ious = torch.topk(ious, min(self.topk, num_v), dim=0).values
        dynamic_ks = torch.clamp(topk_ious.sum(0).int(), min=1)
        # per GT the k lowest costs: one sort per column, then mask ranks < k (no loop over GTs)
        rank_order = torch.argsort(cost, dim=0, stable=True)
        ranks = torch.empty_like(rank_order)
        ranks.scatter_(0, rank_order, torch.arange(num_v, device=cost.device)[:, None].expand(-1, num_gt))
        matching = ranks < dynamic_ks[None]
        # a prior picked by several GTs keeps its argmin-cost GT
        multi = matching.sum(1) > 1
        if bool(multi.any()):
            argmin = cost[multi].argmin(dim=1)
            matching[multi] = F.one_hot(argmin, num_gt).bool()
        fg = matching.any(1)
        matched_gt = matching[fg].int().argmax(1)
        matched_iou = (matching.to(ious.dtype) * ious).sum(1)[fg]
        return torch.nonzero(fg).squeeze(1), matched_gt, matched_iou
