import cv2
import numpy as np
import pytest

from sscma_rtmdet import Detector
from sscma_rtmdet.errors import UserError


def test_detector_from_checkpoint_returns_boxes_in_image_pixels(tiny_run):
    det = Detector(tiny_run["ckpt"], score_thr=0.0)
    assert det.classes == ["circle", "square", "triangle"] and det.imgsz == (64, 64)
    img_path = next((tiny_run["data"] / "valid").glob("*.jpg"))
    img = cv2.imread(str(img_path))
    out = det(img)
    assert len(out) > 0
    h, w = img.shape[:2]
    assert (out.boxes[:, 0] >= 0).all() and (out.boxes[:, 2] <= w).all() and (out.boxes[:, 3] <= h).all()
    assert set(out.names) <= set(det.classes)
    again = det(img_path)  # a path works too and gives the same result
    np.testing.assert_allclose(again.boxes, out.boxes)


def test_detector_rejects_bad_image(tiny_run):
    det = Detector(tiny_run["ckpt"])
    with pytest.raises(UserError, match="BGR uint8"):
        det(np.zeros((10, 10), np.uint8))
    with pytest.raises(UserError, match="cannot read image"):
        det("/nonexistent.jpg")
