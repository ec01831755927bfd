"""RTMDet training criterion = mmdetection 3.3.0 RTMDetHead.loss_by_feat, kept outside the model."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

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
        """Assign every image (one batched call). flat_cls (N, P, C), flat_boxes (N, P, 4) detached, priors
        (P, 4). Returns labels (N, P) long (C = background), metrics (N, P) IoU of positives else 0,
        targets (N, P, 4) GT box of positives else 0."""
        boxes, glabels, valid = self._padded_gts(gt_boxes, gt_labels, flat_boxes)
        num_imgs, num_priors = flat_cls.shape[:2]
        if boxes.shape[1] == 0:  # no GT in the batch: all background
            return (flat_cls.new_full((num_imgs, num_priors), self.num_classes, dtype=torch.long),
                    flat_cls.new_zeros(num_imgs, num_priors), flat_boxes.new_zeros(num_imgs, num_priors, 4))
        res = self.assigner.assign_batch(flat_cls, flat_boxes, priors, boxes, glabels, valid)
        pos = res.gt_inds > 0
        gt_idx = (res.gt_inds - 1).clamp(min=0)
        labels = torch.where(pos, glabels.gather(1, gt_idx), self.num_classes)
        metrics = torch.where(pos, res.max_overlaps, 0.0).to(flat_cls.dtype)
        targets = torch.where(pos[..., None], boxes.gather(1, gt_idx[..., None].expand(-1, -1, 4)), 0.0)
        return labels, metrics, targets.to(flat_boxes.dtype)

    def _padded_gts(self, gt_boxes: Sequence[Tensor], gt_labels: Sequence[Tensor], like: Tensor
                    ) -> tuple[Tensor, Tensor, Tensor]:
        """Per-image GT lists -> boxes (N, G, 4), labels (N, G) long, valid (N, G) bool (G = most GTs),
        after checking that boxes and labels pair up and labels lie in [0, C)."""
        boxes = [b.to(like).reshape(-1, 4) for b in gt_boxes]
        labels = [lab.to(like.device).long().reshape(-1) for lab in gt_labels]
        counts = [b.shape[0] for b in boxes]
        for n, (b, lab) in enumerate(zip(counts, labels)):
            if b != lab.shape[0]:
                raise DataError(f"image {n} of the batch has {b} gt_boxes but {lab.shape[0]} gt_labels; "
                                f"each box needs one label")
        flat = torch.cat(labels) if labels else like.new_zeros(0, dtype=torch.long)
        if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= self.num_classes):
            raise DataError(f"gt_labels {sorted(set(flat.tolist()))} fall outside [0, {self.num_classes - 1}]; "
                            f"set num_classes in the config to the dataset's class count")
        num_imgs, most = len(boxes), max(counts, default=0)
        valid = torch.arange(most, device=like.device)[None] < torch.tensor(counts, device=like.device)[:, None]
        if most == 0:
            return like.new_zeros(num_imgs, 0, 4), flat.new_zeros(num_imgs, 0), valid
        return (pad_sequence(boxes, batch_first=True), pad_sequence(labels, batch_first=True), valid)

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
