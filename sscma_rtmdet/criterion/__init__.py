"""Training criterion: DynamicSoftLabelAssigner, QFL and GIoU (mmdetection 3.3.0 numerics)."""
from ..errors import ConfigError
from .assigner import AssignResult, DynamicSoftLabelAssigner
from .criterion import RTMDetCriterion
from .losses import giou_loss, quality_focal_loss

__all__ = ["AssignResult", "DynamicSoftLabelAssigner", "RTMDetCriterion", "giou_loss",
           "quality_focal_loss", "build_criterion"]


def build_criterion(cfg: dict, num_classes: int) -> RTMDetCriterion:
    """From the config's `criterion` dict: assigner=dict(topk, iou_weight, soft_center_radius),
    loss_cls_weight, loss_bbox_weight, qfl_beta."""
    cfg = dict(cfg)
    assigner_cfg = dict(cfg.pop("assigner", {}))
    try:
        return RTMDetCriterion(DynamicSoftLabelAssigner(**assigner_cfg), num_classes, **cfg)
    except TypeError as e:
        raise ConfigError(f"criterion: unknown or bad key ({e}); allowed: assigner=dict(topk, iou_weight, "
                          f"soft_center_radius), loss_cls_weight, loss_bbox_weight, qfl_beta") from e
