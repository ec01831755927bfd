"""RTMDet training criterion = mmdetection 3.3.0 RTMDetHead.loss_by_feat, kept outside the model."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.distributed as dist
from torch import Tensor

from ..errors import ConfigError, DataError
from ..ops import distance2bbox, make_priors
from .assigner import DynamicSoftLabelAssigner
from .losses import F32_EPS, giou_loss, quality_focal_loss


def _mean_over_processes(value: Tensor) -> Tensor:
    """mmdet's reduce_mean: average a scalar over DDP processes (identity when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    value = value.clone()
    dist.all_reduce(value.div_(dist.get_world_size()), op=dist.ReduceOp.SUM)
    return value


class RTMDetCriterion:
    """QFL over all priors + GIoU on positives, both divided by A = max(1, mean_proc(sum pos IoU))."""

    def __init__(self, assigner: DynamicSoftLabelAssigner, num_classes: int, loss_cls_weight: float = 1.0,
                 loss_bbox_weight: float = 2.0, qfl_beta: float = 2.0):
        self.assigner = assigner
        self.num_classes = int(num_classes)
        self.loss_cls_weight = float(loss_cls_weight)
        self.loss_bbox_weight = float(loss_bbox_weight)
        self.qfl_beta = float(qfl_beta)

    def __call__(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor], gt_boxes: Sequence[Tensor],
                 gt_labels: Sequence[Tensor], input_hw: Sequence[int]) -> dict:
        """cls_scores[i]: (N, C, H_i, W_i) logits; bbox_preds[i]: (N, 4, H_i, W_i) l,t,r,b * stride;
        gt_boxes[n]: (G_n, 4) xyxy input pixels; gt_labels[n]: (G_n,); input_hw: (H, W) of the batch.

        Returns dict(loss, loss_cls, loss_bbox: scalar tensors; num_pos: int;
        loss_cls_levels, loss_bbox_levels: per-level scalar tensors, mmdet's reported values).
        """
        # float32 even under autocast: QFL/GIoU and the assigner's log/pow terms need the range
        cls_scores = [c.float() for c in cls_scores]
        bbox_preds = [b.float() for b in bbox_preds]
        num_imgs = cls_scores[0].shape[0]
        if len(gt_boxes) != num_imgs or len(gt_labels) != num_imgs:
            raise ValueError(f"criterion: {num_imgs} images but {len(gt_boxes)} gt_boxes / "
                             f"{len(gt_labels)} gt_labels entries")
        sizes = [tuple(c.shape[-2:]) for c in cls_scores]
        strides = self._strides(sizes, input_hw)
        level_priors = list(torch.split(make_priors(sizes, strides, device=cls_scores[0].device),
                                        [h * w for h, w in sizes]))
        # (N, P_i, 4) decoded boxes per level; (N, P, C) / (N, P, 4) flattened over levels
        decoded = [distance2bbox(p, b.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4))
                   for p, b in zip(level_priors, bbox_preds)]
        flat_cls = torch.cat([c.permute(0, 2, 3, 1).reshape(num_imgs, -1, self.num_classes)
                              for c in cls_scores], 1)
        labels, metrics, targets = self._targets(flat_cls.detach(), torch.cat(decoded, 1).detach(),
                                                 torch.cat(level_priors), gt_boxes, gt_labels)
        counts = [h * w for h, w in sizes]
        cls_levels, bbox_levels = [], []
        for cls, boxes, lab, met, tgt in zip(cls_scores, decoded, labels.split(counts, 1),
                                             metrics.split(counts, 1), targets.split(counts, 1)):
            c, b = self._level_losses(cls, boxes, lab.reshape(-1), met.reshape(-1), tgt.reshape(-1, 4))
            cls_levels.append(c)
            bbox_levels.append(b)
        # mmdet: the same global normaliser for both losses, a Python float (no gradient through it)
        avg = _mean_over_processes(metrics.sum().detach()).clamp(min=1).item()
        cls_levels = [c / avg for c in cls_levels]
        bbox_levels = [b / avg for b in bbox_levels]
        loss_cls, loss_bbox = sum(cls_levels), sum(bbox_levels)
        return dict(loss=loss_cls + loss_bbox, loss_cls=loss_cls, loss_bbox=loss_bbox,
                    num_pos=int((labels < self.num_classes).sum()),
                    loss_cls_levels=cls_levels, loss_bbox_levels=bbox_levels)

    @staticmethod
    def _strides(sizes: list[tuple[int, int]], input_hw: Sequence[int]) -> list[int]:
        """Level strides from the input size; every map must tile the input exactly (imgsz % 32 == 0)."""
        h, w = int(input_hw[0]), int(input_hw[1])
        strides = []
        for fh, fw in sizes:
            if h % fh or w % fw or h // fh != w // fw:
                raise ConfigError(f"imgsz {h}x{w} does not tile into the {fh}x{fw} feature map; "
                                  f"use an imgsz whose sides are multiples of 32")
            strides.append(h // fh)
        return strides

    def _targets(self, flat_cls: Tensor, flat_boxes: Tensor, priors: Tensor, gt_boxes: Sequence[Tensor],
                 gt_labels: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Assign every image. flat_cls (N, P, C), flat_boxes (N, P, 4) detached, priors (P, 4).
        Returns labels (N, P) long (C = background), metrics (N, P) IoU of positives else 0,
        targets (N, P, 4) GT box of positives else 0."""
        num_imgs, num_priors = flat_cls.shape[:2]
        labels = flat_cls.new_full((num_imgs, num_priors), self.num_classes, dtype=torch.long)
        metrics = flat_cls.new_zeros((num_imgs, num_priors))
        targets = flat_boxes.new_zeros((num_imgs, num_priors, 4))
        for n in range(num_imgs):
            boxes = gt_boxes[n].to(flat_boxes).reshape(-1, 4)
            glabels = gt_labels[n].to(flat_cls.device).long().reshape(-1)
            if boxes.shape[0] != glabels.shape[0]:
                raise DataError(f"image {n} of the batch has {boxes.shape[0]} gt_boxes but "
                                f"{glabels.shape[0]} gt_labels; each box needs one label")
            if glabels.numel() and (int(glabels.min()) < 0 or int(glabels.max()) >= self.num_classes):
                raise DataError(f"gt_labels {sorted(set(glabels.tolist()))} fall outside [0, "
                                f"{self.num_classes - 1}]; set num_classes in the config to the "
                                f"dataset's class count")
            res = self.assigner.assign(flat_cls[n], flat_boxes[n], priors, boxes, glabels)
            pos = torch.nonzero(res.gt_inds > 0).squeeze(1)
            gt_idx = res.gt_inds[pos] - 1
            labels[n, pos] = glabels[gt_idx]
            metrics[n, pos] = res.max_overlaps[pos]
            targets[n, pos] = boxes[gt_idx]
        return labels, metrics, targets

    def _level_losses(self, cls: Tensor, boxes: Tensor, labels: Tensor, metrics: Tensor,
                      targets: Tensor) -> tuple[Tensor, Tensor]:
        """One level, images stacked. cls (N, C, H, W); boxes (N, HW, 4) decoded; labels, metrics (N*HW,);
        targets (N*HW, 4). Returns un-normalised (QFL sum, GIoU sum), each / (1 + eps) as mmdet."""
        logits = cls.permute(0, 2, 3, 1).reshape(-1, self.num_classes)
        boxes = boxes.reshape(-1, 4)
        qfl = quality_focal_loss(logits, labels, metrics, self.qfl_beta).sum(1).sum()
        loss_cls = self.loss_cls_weight * (qfl / (1.0 + F32_EPS))
        pos = torch.nonzero(labels < self.num_classes).squeeze(1)
        if pos.numel() == 0:
            return loss_cls, boxes.sum() * 0  # keeps the graph connected for DDP
        giou = giou_loss(boxes[pos], targets[pos], metrics[pos]).sum()
        return loss_cls, self.loss_bbox_weight * (giou / (1.0 + F32_EPS))
