"""DynamicSoftLabelAssigner of RTMDet (mmdetection 3.3.0), all images of a batch at once.

mmdet assigns one image at a time over that image's candidate priors (points strictly inside a GT). Here the
candidates of every image are gathered into an (N, G, V) block, G = the most GTs of any image and V = the
most candidates: an image's own candidates come first, in prior order, and padding is masked (cost +inf
after every real candidate, IoU 0), so every per-GT sort and top-k and every per-candidate argmin sees
exactly what mmdet's per-image call sees and gives the same assignment (tests compare with a per-image
reference, tests/criterion/_assigner_reference.py).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..ops import bbox_overlaps

_EPS = 1e-7
_INF = 100000000.0  # mmdet marks non-candidate priors' overlap as -INF
_CHUNK_ELEMENTS = 1 << 22  # (images x priors x GTs) per vectorised chunk: bounds the (N, P, G) temporaries


class AssignResult(NamedTuple):
    """gt_inds (..., P) long: 0 background, k means GT k-1 (of its image); labels (..., P) long: -1 background;
    max_overlaps (..., P) float: IoU with the assigned GT; for the others 0 when nothing could be matched
    (no GT, no candidate), else mmdet's -1e8. (P,) for `assign`, (N, P) for `assign_batch`."""
    gt_inds: Tensor
    labels: Tensor
    max_overlaps: Tensor


class DynamicSoftLabelAssigner:
    """SimOTA-style matching with a soft-label classification cost and a soft center prior."""

    def __init__(self, topk: int = 13, iou_weight: float = 3.0, soft_center_radius: float = 3.0):
        self.topk = int(topk)
        self.iou_weight = float(iou_weight)
        self.soft_center_radius = float(soft_center_radius)

    @torch.no_grad()
    def assign(self, logits: Tensor, pred_boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
               gt_labels: Tensor) -> AssignResult:
        """One image: logits (P, C) raw; pred_boxes (P, 4) decoded xyxy; priors (P, 4) [x, y, stride_w,
        stride_h]; gt_boxes (G, 4) xyxy; gt_labels (G,). Inputs are treated as detached."""
        gt_boxes, gt_labels = gt_boxes.reshape(-1, 4), gt_labels.reshape(-1)
        res = self.assign_batch(logits[None], pred_boxes[None], priors, gt_boxes[None], gt_labels[None],
                                torch.ones(1, gt_boxes.shape[0], dtype=torch.bool, device=gt_boxes.device))
        return AssignResult(*(t[0] for t in res))

    @torch.no_grad()
    def assign_batch(self, logits: Tensor, pred_boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
                     gt_labels: Tensor, gt_valid: Tensor) -> AssignResult:
        """logits (N, P, C); pred_boxes (N, P, 4); priors (P, 4); gt_boxes (N, G, 4), gt_labels (N, G) and
        gt_valid (N, G) bool: each image's GTs padded to G (padding False). Returns (N, P) results, each
        image's equal to `assign` on that image alone."""
        num_imgs, num_priors = pred_boxes.shape[:2]
        per_img = max(num_priors * max(gt_boxes.shape[1], 1), 1)
        step = max(_CHUNK_ELEMENTS // per_img, 1)
        parts = [self._assign_chunk(logits[i:i + step], pred_boxes[i:i + step], priors, gt_boxes[i:i + step],
                                    gt_labels[i:i + step], gt_valid[i:i + step])
                 for i in range(0, num_imgs, step)]
        if len(parts) == 1:
            return parts[0]
        return AssignResult(*(torch.cat(t) for t in zip(*parts)))

    def _assign_chunk(self, logits: Tensor, pred_boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
                      gt_labels: Tensor, gt_valid: Tensor) -> AssignResult:
        num_imgs, num_priors = pred_boxes.shape[:2]
        dev = pred_boxes.device
        gt_inds = torch.zeros(num_imgs, num_priors, dtype=torch.long, device=dev)
        labels = torch.full((num_imgs, num_priors), -1, dtype=torch.long, device=dev)
        # a prior is a candidate when its point lies strictly inside at least one GT box (mmdet's
        # min(x - x1, y - y1, x2 - x, y2 - y) > 0, as comparisons); (N, G, P) with the priors innermost
        g = gt_boxes[..., None]
        inside = (priors[:, 0] > g[:, :, 0]) & (priors[:, 1] > g[:, :, 1]) & (g[:, :, 2] > priors[:, 0]) \
            & (g[:, :, 3] > priors[:, 1])
        valid = (inside & gt_valid[..., None]).any(dim=1)  # (N, P)
        counts = valid.sum(1)
        num_v = int(counts.max()) if num_imgs else 0
        # an image with no GT or no candidate: all background with overlap 0; else non-positives get -INF
        max_overlaps = torch.where(counts[:, None] > 0, -_INF, 0.0).to(pred_boxes.dtype).expand(
            -1, num_priors).contiguous()
        if num_v == 0 or num_priors == 0:
            return AssignResult(gt_inds, labels, max_overlaps)

        # each image's candidates first, in prior order: (N, V) prior indices, padding rows point at prior 0
        img, prior = torch.nonzero(valid, as_tuple=True)
        slot = valid.cumsum(1)[img, prior] - 1
        cand = torch.zeros(num_imgs, num_v, dtype=torch.long, device=dev)
        cand[img, slot] = prior
        row_ok = torch.arange(num_v, device=dev)[None] < counts[:, None]  # (N, V)
        num_c = logits.shape[-1]
        cost, ious = self._cost_gv(logits.gather(1, cand[..., None].expand(-1, -1, num_c)),
                                   pred_boxes.gather(1, cand[..., None].expand(-1, -1, 4)), priors[cand],
                                   gt_boxes, gt_labels)
        mask = gt_valid[:, :, None] & row_ok[:, None, :]  # (N, G, V)
        cost = cost.masked_fill(~mask, float("inf"))
        ious = ious.masked_fill(~mask, 0.0)
        # at most one True per candidate: its (image, GT, candidate slot) triples are the positives
        img, gt, slot = torch.nonzero(self._dynamic_k_matching(cost, ious, mask), as_tuple=True)
        pos = cand[img, slot]
        gt_inds[img, pos] = gt + 1
        labels[img, pos] = gt_labels[img, gt].long()
        max_overlaps[img, pos] = ious[img, gt, slot]
        return AssignResult(gt_inds, labels, max_overlaps)

    def _cost(self, logits: Tensor, boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
              gt_labels: Tensor) -> tuple[Tensor, Tensor]:
        """Candidates only. logits (..., V, C), boxes (..., V, 4), priors (..., V, 4), gt_boxes (..., G, 4),
        gt_labels (..., G) (leading dims: images, or none). Returns cost and IoU, both (..., V, G)."""
        cost, ious = self._cost_gv(logits, boxes, priors, gt_boxes, gt_labels)
        return cost.transpose(-1, -2), ious.transpose(-1, -2)

    def _cost_gv(self, logits: Tensor, boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
                 gt_labels: Tensor) -> tuple[Tensor, Tensor]:
        """`_cost` as (..., G, V) (candidates innermost: contiguous sorts and top-k); every element is computed
        with the same operations as mmdet's (V, G) version, written per coordinate."""
        g = [t[..., None] for t in gt_boxes.unbind(-1)]  # x1, y1, x2, y2: (..., G, 1)
        b = [t[..., None, :] for t in boxes.unbind(-1)]  # (..., 1, V)
        px, py, stride = (priors[..., None, :, i] for i in range(3))
        # soft center prior: 10 ** (distance to the GT center in strides - radius)
        dx, dy = px - (g[0] + g[2]) / 2.0, py - (g[1] + g[3]) / 2.0
        center_cost = torch.pow(10, (dx * dx + dy * dy).sqrt() / stride - self.soft_center_radius)
        # IoU exactly as ops.bbox_overlaps (max/min corners, union floored at its eps)
        w = (torch.min(b[2], g[2]) - torch.max(b[0], g[0])).clamp(min=0)
        h = (torch.min(b[3], g[3]) - torch.max(b[1], g[1])).clamp(min=0)
        overlap = w * h
        union = torch.max((b[2] - b[0]) * (b[3] - b[1]) + (g[2] - g[0]) * (g[3] - g[1]) - overlap,
                          overlap.new_tensor([1e-6]))
        ious = overlap / union
        iou_cost = -torch.log(ious + _EPS) * self.iou_weight

        # soft-label BCE summed over classes. Only the GT class has a non-zero target, so the sum is
        # (all classes against 0) - (GT class against 0) + (GT class against IoU): O(V*G), not O(V*G*C)
        prob = logits.sigmoid()
        to_zero = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
        to_zero = to_zero * (prob * prob)  # pow(2) is x * x in torch: the same bits
        gl = gt_labels.long()[..., :, None].expand(*ious.shape)  # (..., G, V) each GT's class

        def of_gt_class(t):  # (..., V, C) -> (..., G, V): each candidate's value for each GT's class
            return t.transpose(-1, -2).gather(-2, gl)
        x, p = of_gt_class(logits), of_gt_class(prob)
        d = ious - p  # |d| ** 2 == d * d exactly
        to_iou = F.binary_cross_entropy_with_logits(x, ious, reduction="none") * (d * d)
        cls_cost = to_zero.sum(-1)[..., None, :] - of_gt_class(to_zero) + to_iou
        return cls_cost + iou_cost + center_cost, ious

    def _dynamic_k_matching(self, cost: Tensor, ious: Tensor, mask: Tensor) -> Tensor:
        """cost, ious, mask: (N, G, V), padding cost +inf / IoU 0 / mask False. Returns matching (N, G, V)
        bool with at most one True per candidate."""
        num_gt, num_v = cost.shape[1:]
        # an image with fewer than topk candidates sums its own IoUs plus padding zeros: the same k; summed
        # over a (N, k, G) block like mmdet's (k, G) one
        topk_ious = torch.topk(ious, min(self.topk, num_v), dim=2).values.transpose(1, 2).contiguous()
        dynamic_ks = torch.clamp(topk_ious.sum(1).int(), min=1)  # (N, G)
        # per GT the k lowest costs: one stable sort per GT (padding sorts last), then mask ranks < k
        rank_order = torch.argsort(cost, dim=2, stable=True)
        ranks = torch.empty_like(rank_order)
        ranks.scatter_(2, rank_order, torch.arange(num_v, device=cost.device).expand_as(rank_order))
        matching = (ranks < dynamic_ks[..., None]) & mask
        # a prior picked by several GTs keeps its argmin-cost GT (padding GTs cost +inf)
        multi = matching.sum(1) > 1  # (N, V)
        if bool(multi.any()):
            img, cand = torch.nonzero(multi, as_tuple=True)
            argmin = cost[img, :, cand].argmin(dim=1)
            matching[img, :, cand] = F.one_hot(argmin, num_gt).bool()
        return matching
