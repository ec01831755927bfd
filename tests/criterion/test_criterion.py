import pytest
import torch

from sscma_rtmdet.criterion import DynamicSoftLabelAssigner, RTMDetCriterion, build_criterion
from sscma_rtmdet.criterion.losses import F32_EPS, giou_loss, quality_focal_loss
from sscma_rtmdet.errors import ConfigError, DataError
from sscma_rtmdet.ops import distance2bbox, make_priors

SIZES = [(8, 8), (4, 4), (2, 2)]  # a 64x64 input at strides 8/16/32


def _head_outputs(num_imgs=2, num_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    cls = [(torch.randn(num_imgs, num_classes, h, w, generator=g) - 2).requires_grad_() for h, w in SIZES]
    box = [(torch.rand(num_imgs, 4, h, w, generator=g) * 3 * s + s).requires_grad_()
           for (h, w), s in zip(SIZES, (8, 16, 32))]
    return cls, box


GTS = [torch.tensor([[4.0, 6.0, 40.0, 30.0], [30.0, 20.0, 62.0, 60.0]]), torch.zeros(0, 4)]
LABELS = [torch.tensor([2, 0]), torch.zeros(0, dtype=torch.long)]


def test_matches_direct_flattened_computation():
    cls, box = _head_outputs()
    out = RTMDetCriterion(DynamicSoftLabelAssigner(), 3)(cls, box, GTS, LABELS, (64, 64))
    # independent recomputation: all levels flattened at once per image
    priors = make_priors(SIZES, [8, 16, 32])
    logits = torch.cat([c.permute(0, 2, 3, 1).reshape(2, -1, 3) for c in cls], 1)
    boxes = distance2bbox(priors, torch.cat([b.permute(0, 2, 3, 1).reshape(2, -1, 4) for b in box], 1))
    qfl, giou, metric_sum, num_pos = 0.0, 0.0, 0.0, 0
    for n in range(2):
        res = DynamicSoftLabelAssigner().assign(logits[n].detach(), boxes[n].detach(), priors, GTS[n], LABELS[n])
        pos = res.gt_inds > 0
        labels = torch.full((priors.shape[0],), 3, dtype=torch.long)
        labels[pos] = res.labels[pos]
        scores = torch.where(pos, res.max_overlaps, torch.zeros(()))
        qfl = qfl + quality_focal_loss(logits[n], labels, scores).sum()
        if pos.any():
            giou = giou + giou_loss(boxes[n][pos], GTS[n][res.gt_inds[pos] - 1], scores[pos]).sum()
        metric_sum += float(scores.sum())
        num_pos += int(pos.sum())
    avg = max(metric_sum, 1.0)
    assert out["num_pos"] == num_pos > 0
    torch.testing.assert_close(out["loss_cls"], qfl / (1 + F32_EPS) / avg, rtol=1e-5, atol=0)
    torch.testing.assert_close(out["loss_bbox"], 2 * giou / (1 + F32_EPS) / avg, rtol=1e-5, atol=0)
    torch.testing.assert_close(out["loss"], out["loss_cls"] + out["loss_bbox"])
    assert len(out["loss_cls_levels"]) == len(out["loss_bbox_levels"]) == 3
    torch.testing.assert_close(sum(out["loss_cls_levels"]), out["loss_cls"])
    out["loss"].backward()
    assert all(c.grad is not None and torch.isfinite(c.grad).all() for c in cls + box)


def test_images_without_gt_are_all_background():
    cls, box = _head_outputs()
    empty = [torch.zeros(0, 4)] * 2
    out = RTMDetCriterion(DynamicSoftLabelAssigner(), 3)(cls, box, empty, [torch.zeros(0, dtype=torch.long)] * 2,
                                                         (64, 64))
    assert out["num_pos"] == 0
    assert out["loss_bbox"].item() == 0.0
    logits = torch.cat([c.permute(0, 2, 3, 1).reshape(-1, 3) for c in cls])
    bg = torch.full((logits.shape[0],), 3, dtype=torch.long)
    expected = quality_focal_loss(logits, bg, torch.zeros(logits.shape[0])).sum() / (1 + F32_EPS)  # A = 1
    torch.testing.assert_close(out["loss_cls"], expected, rtol=1e-5, atol=0)
    out["loss"].backward()
    assert all(b.grad is not None for b in box)  # graph stays connected (DDP needs every param used)


def test_weights_and_builder():
    cls, box = _head_outputs()
    base = RTMDetCriterion(DynamicSoftLabelAssigner(), 3)(cls, box, GTS, LABELS, (64, 64))
    crit = build_criterion(dict(assigner=dict(topk=13, iou_weight=3.0, soft_center_radius=3.0),
                                loss_cls_weight=0.5, loss_bbox_weight=4.0, qfl_beta=2.0), num_classes=3)
    out = crit(cls, box, GTS, LABELS, (64, 64))
    torch.testing.assert_close(out["loss_cls"], 0.5 * base["loss_cls"])
    torch.testing.assert_close(out["loss_bbox"], 2.0 * base["loss_bbox"])
    with pytest.raises(ConfigError, match="criterion"):
        build_criterion(dict(assigner=dict(top_k=3)), num_classes=3)


def test_input_size_must_tile_feature_maps():
    cls, box = _head_outputs()
    with pytest.raises(ConfigError, match="imgsz"):
        RTMDetCriterion(DynamicSoftLabelAssigner(), 3)(cls, box, GTS, LABELS, (64, 70))


def test_bad_labels_raise_data_error():
    cls, box = _head_outputs()
    crit = RTMDetCriterion(DynamicSoftLabelAssigner(), 3)
    with pytest.raises(DataError, match="num_classes"):
        crit(cls, box, GTS, [torch.tensor([2, 3]), LABELS[1]], (64, 64))
    with pytest.raises(DataError, match="gt_labels"):
        crit(cls, box, GTS, [torch.tensor([2]), LABELS[1]], (64, 64))
