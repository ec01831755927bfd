import time

import pytest
import torch

from sscma_rtmdet.ops import batched_nms, nms


def _naive_nms(boxes, scores, labels, thr):
    """Textbook greedy loop, the definition the vectorised version must match."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep = []
    for i in order:
        ok = True
        for k in keep:
            if labels[k] != labels[i]:
                continue
            a, b = boxes[i], boxes[k]
            iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = iw * ih
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if inter / union > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def _random_boxes(n, num_classes, seed, size=100.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 3 + size / 5
    boxes = torch.cat([xy, xy + wh], 1)
    return boxes, torch.rand(n, generator=g), torch.randint(0, num_classes, (n,), generator=g)


def test_matches_naive_greedy_on_dense_random_boxes():
    for seed, thr in enumerate((0.3, 0.5, 0.65, 0.8)):
        boxes, scores, labels = _random_boxes(300, 3, seed)
        keep = batched_nms(boxes, scores, labels, thr)
        expected = _naive_nms(boxes.tolist(), scores.tolist(), labels.tolist(), thr)
        assert keep.tolist() == expected
        assert len(expected) < 300  # something was suppressed


@pytest.mark.parametrize("max_num, num_classes, n, sizes", [
    (5, 4, 2500, [1024]), (550, 4, 2500, [2200]),  # the first prefix of the ranked boxes suffices
    (200, 1, 2500, [1024, 2500]), (250, 1, 6000, [1024, 4096]),  # it grows (to every box, or not)
    (3000, 4, 2500, [2500])])  # max_num above what NMS keeps
def test_max_num_is_the_prefix_of_full_nms(monkeypatch, max_num, num_classes, n, sizes):
    boxes, scores, labels = _random_boxes(n, num_classes, seed=max_num)
    scores = (scores * 20).round() / 20  # many equal scores: ties must keep input order
    full = batched_nms(boxes, scores, labels, 0.5)
    seen = []
    real = nms._nms_sorted
    monkeypatch.setattr(nms, "_nms_sorted", lambda b, t: seen.append(len(b)) or real(b, t))
    capped = batched_nms(boxes, scores, labels, 0.5, max_num=max_num)
    assert capped.tolist() == full[:max_num].tolist()
    assert seen == sizes


def test_max_num_matches_naive_greedy():
    boxes, scores, labels = _random_boxes(1500, 2, seed=11, size=400.0)
    expected = _naive_nms(boxes.tolist(), scores.tolist(), labels.tolist(), 0.4)[:100]
    assert batched_nms(boxes, scores, labels, 0.4, max_num=100).tolist() == expected


def test_chain_suppression_and_class_awareness():
    # A suppresses B, B would suppress C, but B is gone so C survives; D (other class) is untouched.
    boxes = torch.tensor([[0, 0, 10, 10], [2, 0, 12, 10], [4, 0, 14, 10], [0, 0, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    labels = torch.tensor([0, 0, 0, 1])
    assert batched_nms(boxes, scores, labels, 0.6).tolist() == [3, 0, 2]
    # IoU exactly at the threshold does not suppress (strict >)
    two = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 5]], dtype=torch.float32)
    assert batched_nms(two, torch.tensor([0.9, 0.8]), torch.tensor([0, 0]), 0.5).tolist() == [0, 1]


def test_negative_coordinates_and_empty():
    boxes = torch.tensor([[-50, -50, -40, -40], [-49, -50, -39, -40], [30, 30, 40, 40]], dtype=torch.float32)
    keep = batched_nms(boxes, torch.tensor([0.5, 0.9, 0.7]), torch.tensor([2, 2, 0]), 0.5)
    assert keep.tolist() == [1, 2]
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).numel() == 0


def test_thousands_of_boxes_are_fast():
    boxes, scores, labels = _random_boxes(5000, 20, seed=7, size=640.0)
    batched_nms(boxes, scores, labels, 0.65)  # warm-up
    start = time.perf_counter()
    keep = batched_nms(boxes, scores, labels, 0.65)
    elapsed = time.perf_counter() - start
    assert 0 < keep.numel() < 5000
    # generous for a loaded 2-core CI box; a per-box Python loop takes far longer
    assert elapsed < 2.0, f"batched_nms on 5000 boxes took {elapsed:.3f}s"


def test_rejects_threshold_outside_unit_interval():
    boxes, scores, labels = _random_boxes(3, 1, seed=0)
    with pytest.raises(ValueError, match="iou_threshold"):
        batched_nms(boxes, scores, labels, 1.5)
