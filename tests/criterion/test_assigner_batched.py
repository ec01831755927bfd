"""The batched assigner/criterion give exactly the per-image assignment (mmdet's algorithm, one image at a
time, kept in _assigner_reference.py as it was before vectorisation)."""
import pytest
import torch
from _assigner_reference import DynamicSoftLabelAssigner as Reference

from sscma_rtmdet.criterion import DynamicSoftLabelAssigner, RTMDetCriterion
from sscma_rtmdet.ops import distance2bbox, make_priors

SIZES, STRIDES = [(24, 24), (12, 12), (6, 6)], [8, 16, 32]  # a 192x192 input


def _batch(seed: int, num_imgs: int = 6, num_classes: int = 5, tied: bool = False):
    g = torch.Generator().manual_seed(seed)
    priors = make_priors(SIZES, STRIDES)
    p = priors.shape[0]
    if tied:  # every prior predicts the same offsets and logits: ties everywhere (a fresh head)
        dist = torch.full((num_imgs, p, 4), 12.0)
        logits = torch.full((num_imgs, p, num_classes), -4.6)
    else:
        dist = torch.rand(num_imgs, p, 4, generator=g) * 3 * priors[:, 2:3].repeat(1, 4) + 2
        logits = torch.randn(num_imgs, p, num_classes, generator=g) * 2 - 2
    boxes = distance2bbox(priors, dist)
    gts, labels = [], []
    for n in range(num_imgs):
        k = int(torch.randint(0, 9, (1,), generator=g)) if n else 0  # image 0 has no GT
        xy = torch.rand(k, 2, generator=g) * 160
        wh = torch.rand(k, 2, generator=g) * 60 + 3  # some boxes hold no prior point (tiny ones)
        gts.append(torch.cat([xy, (xy + wh).clamp(max=192)], 1))
        labels.append(torch.randint(0, num_classes, (k,), generator=g))
    if num_imgs > 2:
        gts[2] = torch.tensor([[1.0, 1.0, 6.0, 6.0]])  # a GT without a candidate prior
        labels[2] = torch.tensor([1])
    return priors, logits, boxes, gts, labels


@pytest.mark.parametrize("seed,tied", [(s, False) for s in range(12)] + [(s, True) for s in range(3)])
def test_batched_assignment_equals_per_image(seed, tied):
    priors, logits, boxes, gts, labels = _batch(seed, tied=tied)
    ref = Reference()
    crit = RTMDetCriterion(DynamicSoftLabelAssigner(), logits.shape[-1])
    got_labels, got_metrics, got_targets = crit._targets(logits, boxes, priors, gts, labels)
    for n in range(len(gts)):
        want = ref.assign(logits[n], boxes[n], priors, gts[n], labels[n])
        one = DynamicSoftLabelAssigner().assign(logits[n], boxes[n], priors, gts[n], labels[n])
        assert torch.equal(one.gt_inds, want.gt_inds) and torch.equal(one.labels, want.labels)
        assert torch.equal(one.max_overlaps, want.max_overlaps)
        pos = want.gt_inds > 0
        assert torch.equal(got_labels[n] < logits.shape[-1], pos)
        assert torch.equal(got_labels[n][pos], labels[n][want.gt_inds[pos] - 1])
        assert torch.equal(got_metrics[n][pos], want.max_overlaps[pos])
        assert got_metrics[n][~pos].eq(0).all() and got_targets[n][~pos].eq(0).all()
        assert torch.equal(got_targets[n][pos], gts[n][want.gt_inds[pos] - 1])


def test_chunked_batches_equal_one_chunk(monkeypatch):
    from sscma_rtmdet.criterion import assigner

    priors, logits, boxes, gts, labels = _batch(3, num_imgs=7)
    crit = RTMDetCriterion(DynamicSoftLabelAssigner(), logits.shape[-1])
    whole = crit._targets(logits, boxes, priors, gts, labels)
    monkeypatch.setattr(assigner, "_CHUNK_ELEMENTS", 1)  # one image per chunk
    for a, b in zip(whole, crit._targets(logits, boxes, priors, gts, labels)):
        assert torch.equal(a, b)


def test_batch_without_any_gt_is_background():
    priors, logits, boxes, _, _ = _batch(0, num_imgs=2)
    crit = RTMDetCriterion(DynamicSoftLabelAssigner(), logits.shape[-1])
    labels, metrics, targets = crit._targets(logits, boxes, priors, [torch.zeros(0, 4)] * 2,
                                             [torch.zeros(0, dtype=torch.long)] * 2)
    assert labels.eq(logits.shape[-1]).all() and metrics.eq(0).all() and targets.eq(0).all()
