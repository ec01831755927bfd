import torch

from sscma_rtmdet.criterion import DynamicSoftLabelAssigner
from sscma_rtmdet.ops import bbox_overlaps, make_priors
from _shared import reference_file


def test_matches_mmdet_oracle():
    d = torch.load(reference_file("oracle_assigner.pt"), weights_only=True)
    res = DynamicSoftLabelAssigner(topk=13, iou_weight=3.0, soft_center_radius=3.0).assign(
        d["logits"], d["pred_boxes"], d["priors"], d["gt_boxes"], d["gt_labels"])
    assert torch.equal(res.gt_inds, d["gt_inds"])
    assert torch.equal(res.labels, d["labels"])
    torch.testing.assert_close(res.max_overlaps, d["max_overlaps"], rtol=0, atol=1e-5)
    pos = res.gt_inds > 0
    assert int(pos.sum()) == 33
    assert torch.bincount(res.gt_inds[pos] - 1, minlength=6).tolist() == [6, 6, 4, 6, 6, 5]
    assert abs(float(res.max_overlaps[pos].sum()) - 13.799762) < 1e-4


def _grid_case(num_classes=4):
    priors = make_priors([(8, 8)], [8])  # 64 points over a 64x64 input
    boxes = torch.cat([priors[:, :2] - 12, priors[:, :2] + 12], 1)  # 24x24 box around every point
    logits = torch.full((64, num_classes), -3.0)
    return priors, boxes, logits


def test_no_gt_and_no_candidate_give_background():
    priors, boxes, logits = _grid_case()
    a = DynamicSoftLabelAssigner()
    res = a.assign(logits, boxes, priors, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert res.gt_inds.eq(0).all() and res.labels.eq(-1).all() and res.max_overlaps.eq(0).all()
    # a GT between grid points holds no prior strictly inside it
    res = a.assign(logits, boxes, priors, torch.tensor([[1.0, 1.0, 7.0, 7.0]]), torch.tensor([2]))
    assert res.gt_inds.eq(0).all() and res.labels.eq(-1).all()


def test_prior_claimed_by_two_gts_keeps_cheaper_one():
    priors, boxes, logits = _grid_case()
    boxes = torch.cat([priors[:, :2] - 1, priors[:, :2] + 1], 1)  # tiny boxes: IoU ~0 with the GT
    gt = torch.tensor([[12.0, 12.0, 36.0, 36.0]])
    boxes[27] = gt[0]  # prior (24, 24): the single perfect prediction, so k = 1 for both GTs
    # identical GT boxes, different classes: both pick prior 27; the class the network already
    # predicts (class 1) is cheaper, so GT 2 must win and GT 1 ends up with nothing
    logits[:, 1] = 4.0
    res = DynamicSoftLabelAssigner().assign(logits, boxes, priors, gt.repeat(2, 1), torch.tensor([0, 1]))
    pos = torch.nonzero(res.gt_inds > 0).squeeze(1)
    assert pos.tolist() == [27]
    assert res.gt_inds[27] == 2 and res.labels[27] == 1
    assert abs(float(res.max_overlaps[27]) - 1.0) < 1e-6
    others = torch.ones(64, dtype=torch.bool)
    others[27] = False
    assert res.max_overlaps[others].eq(-1e8).all()  # mmdet's -INF for non-positives with a GT present


def test_dynamic_k_follows_iou_sum():
    priors, boxes, logits = _grid_case()
    gt = torch.tensor([[4.0, 4.0, 60.0, 60.0]])  # holds 49 candidate points
    boxes_good = boxes.clone()
    near = [27, 28, 35, 36, 37]  # points close to the GT center (the center prior favours them)
    boxes_good[near] = gt  # 5 perfect predictions -> sum of top-13 IoUs is >= 5
    res = DynamicSoftLabelAssigner().assign(logits, boxes_good, priors, gt, torch.tensor([3]))
    ious = res.max_overlaps[res.gt_inds > 0]
    assert int((res.gt_inds > 0).sum()) >= 5
    # k = int(sum of the 13 best candidate IoUs)
    inside = (priors[:, 0] > 4) & (priors[:, 0] < 60) & (priors[:, 1] > 4) & (priors[:, 1] < 60)
    top = bbox_overlaps(boxes_good[inside], gt)[:, 0].topk(13).values.sum()
    assert int((res.gt_inds > 0).sum()) == int(top)
    assert ious.min() > 0
    assert res.gt_inds[near].eq(1).all() and res.labels[near].eq(3).all()  # the perfect ones are in


def test_fast_class_cost_equals_definition():
    """The O(V*G) soft classification cost equals the spec's sum over all classes."""
    g = torch.Generator().manual_seed(0)
    priors, boxes, _ = _grid_case()
    logits = torch.randn(64, 5, generator=g) * 3
    gt = torch.tensor([[4.0, 4.0, 40.0, 44.0], [20.0, 10.0, 60.0, 50.0], [0.0, 30.0, 30.0, 64.0]])
    labels = torch.tensor([4, 0, 4])
    a = DynamicSoftLabelAssigner()
    cost, ious = a._cost(logits, boxes, priors, gt, labels)
    soft = torch.nn.functional.one_hot(labels, 5).float()[None] * ious[..., None]  # (V, G, C)
    x = logits[:, None, :].expand_as(soft)
    cls_cost = (torch.nn.functional.binary_cross_entropy_with_logits(x, soft, reduction="none")
                * (soft - x.sigmoid()).abs().pow(2)).sum(-1)
    centers = (gt[:, :2] + gt[:, 2:]) / 2
    dist = (priors[:, None, :2] - centers[None]).pow(2).sum(-1).sqrt() / priors[:, 2:3]
    expected = cls_cost - torch.log(ious + 1e-7) * 3.0 + torch.pow(10, dist - 3.0)
    torch.testing.assert_close(cost, expected, rtol=1e-5, atol=1e-5)
