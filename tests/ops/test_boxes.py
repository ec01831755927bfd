import pytest
import torch

from sscma_rtmdet.ops import bbox_overlaps, distance2bbox, make_priors


def test_iou_pairwise_hand_values():
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 4.0, 4.0]])
    b = torch.tensor([[5.0, 5.0, 15.0, 15.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]])
    iou = bbox_overlaps(a, b)
    assert iou.shape == (2, 3)
    expected = torch.tensor([[25 / 175, 0.0, 1.0], [0.0, 0.0, 16 / 100]])
    torch.testing.assert_close(iou, expected)


def test_giou_aligned_hand_values():
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[5.0, 5.0, 15.0, 15.0], [4.0, 0.0, 6.0, 2.0]])
    giou = bbox_overlaps(a, b, mode="giou", is_aligned=True)
    # enclosure 15x15=225, union 175 -> 25/175 - 50/225; disjoint: enclosure 6x2=12, union 8 -> -4/12
    torch.testing.assert_close(giou, torch.tensor([25 / 175 - 50 / 225, -4 / 12]))
    # pairwise diagonal equals aligned
    torch.testing.assert_close(torch.diagonal(bbox_overlaps(a, b, mode="giou")), giou)


def test_overlaps_eps_floor_and_empty():
    point = torch.tensor([[3.0, 3.0, 3.0, 3.0]])
    assert bbox_overlaps(point, point).item() == 0.0  # union floored at eps, no NaN
    assert bbox_overlaps(torch.zeros(0, 4), point).shape == (0, 1)
    assert bbox_overlaps(torch.zeros(0, 4), torch.zeros(0, 4), is_aligned=True).shape == (0,)
    with pytest.raises(ValueError, match="mode"):
        bbox_overlaps(point, point, mode="iof")


def test_distance2bbox_and_clamp():
    pts = torch.tensor([[8.0, 16.0, 8.0, 8.0], [0.0, 0.0, 8.0, 8.0]])
    dist = torch.tensor([[2.0, 3.0, 4.0, 5.0], [5.0, 5.0, 100.0, 1.0]])
    torch.testing.assert_close(distance2bbox(pts, dist),
                               torch.tensor([[6.0, 13.0, 12.0, 21.0], [-5.0, -5.0, 100.0, 1.0]]))
    clamped = distance2bbox(pts, dist, max_shape=(20, 40))  # (H, W)
    torch.testing.assert_close(clamped, torch.tensor([[6.0, 13.0, 12.0, 20.0], [0.0, 0.0, 40.0, 1.0]]))
    batched = distance2bbox(pts, dist[None].expand(3, -1, -1))
    assert batched.shape == (3, 2, 4)


def test_make_priors_layout():
    priors = make_priors([(2, 3), (1, 2)], [8, 16])
    assert priors.shape == (2 * 3 + 1 * 2, 4)
    expected_l0 = torch.tensor([[0, 0], [8, 0], [16, 0], [0, 8], [8, 8], [16, 8]], dtype=torch.float32)
    torch.testing.assert_close(priors[:6, :2], expected_l0)  # row-major, offset 0
    torch.testing.assert_close(priors[6:, :2], torch.tensor([[0.0, 0.0], [16.0, 0.0]]))
    assert priors[:6, 2:].eq(8).all() and priors[6:, 2:].eq(16).all()
    anisotropic = make_priors([(2, 2)], [(4, 8)])
    torch.testing.assert_close(anisotropic[3], torch.tensor([4.0, 8.0, 4.0, 8.0]))
