"""draw_detections / layout_tags: tags inside the image, not overprinting each other, readable text."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sscma_rtmdet.visualize import (class_color, draw_boxes, draw_detections, draw_style, layout_tags,
                                    tag_size, text_color)

H, W = 200, 300


def _inside(rect, hw=(H, W)):
    x0, y0, x1, y1 = rect
    return 0 <= x0 < x1 <= hw[1] and 0 <= y0 < y1 <= hw[0]


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _tag(text, hw=(H, W)):
    return tag_size(text, draw_style(hw)[1])


def test_tag_of_a_box_at_the_top_left_corner_goes_inside_the_box():
    box = [0, 0, 60, 50]
    (rect,) = layout_tags([box], [_tag("circle 0.90")], (H, W))
    assert _inside(rect) and rect[:2] == (0, 0)  # no room above: inside the box, under its top edge
    out = draw_detections(np.zeros((H, W, 3), np.uint8), [box], [0.9], [0], ["circle"])
    x0, y0, x1, y1 = rect
    # the whole tag is drawn: filled with the class colour around the text, at both far corners
    assert tuple(out[y1 - 1, x1 - 1]) == class_color(0) and tuple(out[y0 + 1, x0 + 1]) == class_color(0)


def test_tag_of_a_box_at_the_right_edge_is_clamped_into_the_image():
    box = [285, 60, 300, 90]
    size = _tag("a_long_class_name 0.55")
    (rect,) = layout_tags([box], [size], (H, W))
    assert _inside(rect) and rect[2] == W and rect[1] == 60 - size[1]  # above the box, shifted left
    out = draw_detections(np.zeros((H, W, 3), np.uint8), [box], [0.55], [1], ["x", "a_long_class_name"])
    assert tuple(out[rect[3] - 1, W - 1]) == class_color(1)


def test_box_at_the_bottom_left_corner_and_a_box_larger_than_the_image():
    rects = layout_tags([[-20, 170, 40, 230], [-5, -5, W + 5, H + 5]], [_tag("a 0.5"), _tag("b 0.4")], (H, W))
    assert all(_inside(r) for r in rects) and not _overlap(*rects)


def test_overlapping_boxes_get_non_overlapping_tags():
    boxes = [[50, 60, 150, 160], [55, 62, 160, 170], [52, 58, 140, 150]]
    sizes = [_tag(f"square 0.{9 - i}") for i in range(3)]
    rects = layout_tags(boxes, sizes, (H, W))
    assert all(_inside(r) for r in rects)
    assert not any(_overlap(rects[i], rects[j]) for i in range(3) for j in range(i + 1, 3))
    assert rects[0][3] == 60  # the first (most important) box keeps the preferred spot: above it


def test_crowded_tags_fall_back_to_the_first_spot():
    boxes = [[0, 0, 40, 10]] * 2  # box as high as the image: only the inside spot exists
    rects = layout_tags(boxes, [(30, 10), (30, 10)], (10, 100))
    assert rects == [(0, 0, 30, 10), (0, 0, 30, 10)]


def test_drawing_gives_the_higher_score_the_tag_spot_and_the_top_layer():
    boxes = [[40, 80, 120, 150], [40, 80, 120, 150]]
    out = draw_detections(np.zeros((H, W, 3), np.uint8), boxes, [0.4, 0.9], [2, 5])
    assert tuple(out[80, 100]) == class_color(5)  # shared edge: the 0.9 box is drawn last
    hi, lo = layout_tags([boxes[1], boxes[0]], [_tag("5 0.90"), _tag("2 0.40")], (H, W))
    assert hi[3] == 80 and not _overlap(hi, lo)
    assert tuple(out[hi[1] + 1, hi[0] + 1]) == class_color(5) and tuple(out[lo[1] + 1, lo[0] + 1]) == class_color(2)


def test_text_colour_contrasts_with_the_tag():
    assert text_color((0, 255, 255)) == (0, 0, 0)  # yellow (BGR) -> black text
    assert text_color((0, 255, 0)) == (0, 0, 0)
    assert text_color((128, 0, 0)) == (255, 255, 255)  # dark blue -> white text
    assert text_color((0, 0, 0)) == (255, 255, 255)
    out = draw_boxes(np.zeros((H, W, 3), np.uint8), [[100, 100, 200, 150]], [0], ["xx"])
    colours = {tuple(p) for p in out.reshape(-1, 3)}
    assert text_color(class_color(0)) in colours


def test_behaviour_kept_for_infer_and_show_dir():
    img = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    before = img.copy()
    boxes = torch.tensor([[10.0, 20.0, 80.0, 90.0], [100.0, 100.0, 150.0, 180.0]])
    out = draw_detections(img, boxes, torch.tensor([0.2, 0.8]), torch.tensor([0, 1]), ["a", "b"], 0.3)
    assert np.array_equal(img, before) and out.shape == img.shape and out.dtype == np.uint8
    assert tuple(out[140, 100]) == class_color(1)  # the kept box's left edge
    assert np.array_equal(out[30:80, 10], before[30:80, 10])  # the 0.2 box is below score_thr: not drawn
    assert np.array_equal(draw_detections(img, np.zeros((0, 4)), [], [], None), img)
    assert np.array_equal(draw_detections(img, boxes, [0.1, 0.2], [0, 1]), img)


@pytest.mark.parametrize("hw", [(64, 64), (1080, 1920)])
def test_thickness_and_tag_size_follow_the_image_size(hw):
    thick, scale = draw_style(hw)
    assert thick == max(1, round(min(hw) / 240)) and scale == pytest.approx(0.4 * thick)
    (rect,) = layout_tags([[50, 0, 60, 10]], [_tag("c 1.00", hw)], hw)
    assert _inside(rect, hw)
    # a tag wider than the image cannot fit: it starts at the left edge, so its start stays readable
    (wide,) = layout_tags([[50, 0, 60, 10]], [(hw[1] + 20, 12)], hw)
    assert wide[0] == 0
