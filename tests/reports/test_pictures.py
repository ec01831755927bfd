"""prediction_grid: layout and sizes, ground truth left / predictions right, score threshold, the PNG."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.reports import prediction_grid
from sscma_rtmdet.reports.pictures import CAPTION_H, GAP
from sscma_rtmdet.visualize import class_color

NAMES = ["circle", "square"]


def _has(region: np.ndarray, color) -> bool:
    return bool((region.reshape(-1, 3) == np.array(color, np.uint8)).all(axis=1).any())


def _inputs():
    rng = np.random.default_rng(0)
    images = [np.full((100, 200, 3), 90, np.uint8),  # wide
              rng.integers(60, 120, (300, 150, 3), dtype=np.uint8),  # tall, noisy
              np.full((64, 64), 100, np.uint8)]  # gray
    gts = [dict(boxes=np.array([[20, 20, 80, 80.0]]), labels=np.array([0])),
           dict(boxes=torch.tensor([[10.0, 100, 140, 290]]), labels=torch.tensor([1])),
           dict(boxes=np.zeros((0, 4)), labels=np.zeros(0, int))]
    preds = [dict(boxes=np.array([[110, 20, 190, 90.0]]), scores=np.array([0.9]), labels=np.array([1])),
             dict(boxes=torch.tensor([[10.0, 100, 140, 290]]), scores=torch.tensor([0.1]), labels=torch.tensor([0])),
             dict(boxes=np.array([[5, 5, 60, 60.0]]), scores=np.array([0.6]), labels=np.array([0]))]
    return images, gts, preds


def test_grid_layout_sides_and_png(tmp_path):
    images, gts, preds = _inputs()
    out = tmp_path / "val_batch.png"
    grid = prediction_grid(images, gts, preds, NAMES, out, score_thr=0.3, panel_height=128,
                           titles=["a.jpg", "b.jpg", "c.jpg"])
    # 3 pairs -> 2 columns, 2 rows; the widest pair is the 2:1 image: two 256-px panels and a separator
    cell_h, cell_w = CAPTION_H + 128, 2 * 256 + GAP // 2
    assert grid.shape == (2 * (cell_h + GAP) + GAP, 2 * (cell_w + GAP) + GAP, 3) and grid.dtype == np.uint8
    assert np.array_equal(cv2.imread(str(out)), grid)  # the PNG is exactly the returned grid
    y, x = GAP + CAPTION_H, GAP  # first pair's image area: GT panel then prediction panel
    gt_panel, pred_panel = grid[y:y + 128, x:x + 256], grid[y:y + 128, x + 256 + GAP // 2:x + 2 * 256 + GAP // 2]
    assert _has(gt_panel, class_color(0)) and not _has(gt_panel, class_color(1))
    assert _has(pred_panel, class_color(1)) and not _has(pred_panel, class_color(0))
    assert tuple(gt_panel[60, 26]) == class_color(0)  # GT box (20, 20)-(80, 80) scaled by 1.28: left edge x=26
    # second pair (tall image, 64 px wide at 128 rows): its 0.1 prediction is under score_thr, so the
    # prediction panel is the plain resized image
    x2 = GAP + cell_w + GAP
    small = cv2.resize(images[1], (64, 128), interpolation=cv2.INTER_AREA)
    assert np.array_equal(grid[y:y + 128, x2 + 64 + GAP // 2:x2 + 128 + GAP // 2], small)
    assert _has(grid[y:y + 128, x2:x2 + 64], class_color(1))
    # third pair (gray, no GT): prediction drawn, GT panel plain gray
    y3 = GAP + cell_h + GAP + CAPTION_H
    assert np.all(grid[y3:y3 + 128, GAP:GAP + 128] == 100)
    assert _has(grid[y3:y3 + 128, GAP + 128 + GAP // 2:GAP + 256 + GAP // 2], class_color(0))


def test_max_images_and_panel_height(tmp_path):
    images, gts, preds = _inputs()
    grid = prediction_grid(images * 7, gts * 7, preds * 7, NAMES, tmp_path / "g.png", max_images=16)
    # 16 pairs -> ceil(sqrt(8)) = 3 columns, 6 rows of 256-row panels; the wide pair is 2 x 512 px
    assert grid.shape[:2] == (6 * (CAPTION_H + 256 + GAP) + GAP, 3 * (2 * 512 + GAP // 2 + GAP) + GAP)
    one = prediction_grid(images[:1], gts[:1], preds[:1], None, tmp_path / "one.png", panel_height=64)
    assert one.shape[:2] == (CAPTION_H + 64 + 2 * GAP, 2 * 128 + GAP // 2 + 2 * GAP)


def test_bad_inputs(tmp_path):
    images, gts, preds = _inputs()
    with pytest.raises(ValueError, match="need one each"):
        prediction_grid(images, gts[:2], preds, NAMES, tmp_path / "x.png")
    with pytest.raises(ValueError, match="uint8"):
        prediction_grid([images[0].astype(np.float32)], gts[:1], preds[:1], NAMES, tmp_path / "x.png")
    with pytest.raises(UserError, match="no images"):
        prediction_grid([], [], [], NAMES, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
