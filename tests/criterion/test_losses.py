import math

import torch

from sscma_rtmdet.criterion import giou_loss, quality_focal_loss
from sscma_rtmdet.criterion.losses import F32_EPS
from _shared import reference_file


def test_oracle_values():
    d = torch.load(reference_file("oracle_losses.pt"), weights_only=True)
    # mmdet: sum / (avg_factor 1 + float32 eps); GIoU loss_weight 2
    qfl = quality_focal_loss(d["qfl_pred"], d["qfl_label"], d["qfl_score"], beta=2.0).sum() / (1 + F32_EPS)
    torch.testing.assert_close(qfl, d["qfl"], rtol=1e-5, atol=0)
    assert abs(qfl.item() - 1354.619507) < 1e-2
    giou = 2.0 * giou_loss(d["giou_pred"], d["giou_target"], d["giou_weight"], eps=1e-6).sum() / (1 + F32_EPS)
    torch.testing.assert_close(giou, d["giou"], rtol=1e-5, atol=0)
    assert abs(giou.item() - 83.807571) < 1e-3


def test_qfl_hand_values_and_gradient():
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True)
    labels = torch.tensor([1, 2])  # row 0 positive for class 1, row 1 background (C = 2)
    scores = torch.tensor([0.7, 0.0])
    loss = quality_focal_loss(logits, labels, scores)
    sig = lambda x: 1 / (1 + math.exp(-x))
    bce = lambda x, t: -(t * math.log(sig(x)) + (1 - t) * math.log(1 - sig(x)))
    expected = torch.tensor([
        [bce(0.5, 0) * sig(0.5) ** 2, bce(-1.0, 0.7) * abs(0.7 - sig(-1.0)) ** 2],
        [bce(2.0, 0) * sig(2.0) ** 2, bce(0.0, 0) * sig(0.0) ** 2]])
    torch.testing.assert_close(loss.detach(), expected)
    loss.sum().backward()
    assert logits.grad[0, 1] < 0  # the positive's own class is pulled up towards 0.7
    assert (logits.grad[1] > 0).all()


def test_giou_loss_values():
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 2.0, 2.0]], requires_grad=True)
    target = torch.tensor([[0.0, 0.0, 10.0, 10.0], [4.0, 0.0, 6.0, 2.0]])
    loss = giou_loss(pred, target)
    torch.testing.assert_close(loss.detach(), torch.tensor([0.0, 1 + 4 / 12]))
    weighted = giou_loss(pred, target, torch.tensor([1.0, 0.5]))
    torch.testing.assert_close(weighted.detach(), torch.tensor([0.0, 0.5 * (1 + 4 / 12)]))
    weighted.sum().backward()
    assert pred.grad[1, 2] < 0  # widening the disjoint box towards its target lowers the loss
