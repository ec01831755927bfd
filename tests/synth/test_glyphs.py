"""Glyph pretraining set: Roboflow layout loadable by CocoDetection with 36 classes, boxes inside the images
and tight to a glyph's visible pixels, byte-identical output for the same seed (with or without workers)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.synth.glyphs import ANN_NAME, CLASSES, DATASET_NAME, glyph_alpha, make_glyph_dataset, render
from sscma_rtmdet.synth.photo_layers import compose
from sscma_rtmdet.errors import UserError

SMALL = dict(num_train=8, num_valid=2)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("glyphs")
    return root, make_glyph_dataset(root, seed=0, workers=1, **SMALL)


def test_loads_with_coco_detection(small_set):
    root, summary = small_set
    assert sorted(summary) == ["train", "valid"] and summary["train"]["boxes"] >= 8
    for split, n in (("train", 8), ("valid", 2)):
        cats = json.loads((root / split / ANN_NAME).read_text())["categories"]
        assert cats[0] == dict(id=0, name=DATASET_NAME, supercategory="none") and len(cats) == 37
        ds = CocoDetection(str(root), f"{split}/{ANN_NAME}", f"{split}/")
        assert len(ds) == n and ds.classes == CLASSES and ds.num_classes == 36
        assert ds.label2cat == {i: i + 1 for i in range(36)}
        for i in range(n):
            h, w = ds[i]["img"].shape[:2]
            assert 256 <= min(h, w) and max(h, w) <= 480 and h != w
            boxes, labels = ds.get_ann(i)  # unclipped, as written
            assert ((boxes[:, :2] >= 0) & (boxes[:, 2:] <= [w, h]) & (boxes[:, 2:] > boxes[:, :2])).all()
            assert ((labels >= 0) & (labels < 36)).all()


def test_same_seed_is_byte_identical(small_set, tmp_path):
    root, _ = small_set
    with pytest.raises(UserError, match="not empty"):
        make_glyph_dataset(root, seed=0, workers=1, **SMALL)
    make_glyph_dataset(tmp_path / "again", seed=0, workers=2, num_train=31, num_valid=2)  # pool path
    a, b = _files(root), _files(tmp_path / "again")
    assert all(a[k] == b[k] for k in a if k.endswith(".jpg")) and len(a) == 8 + 2 + 2
    assert a[f"valid/{ANN_NAME}"] == b[f"valid/{ANN_NAME}"]
    one, zero = render(1, 0, 0).image, render(0, 0, 0).image
    assert one.shape != zero.shape or (one != zero).any()


def test_box_is_tight_to_visible_glyph_pixels():
    alpha = glyph_alpha("E", cv2.FONT_HERSHEY_DUPLEX, 40, 5, angle=20)
    sh, sw = alpha.shape
    glyph = dict(label=14, x0=10, y0=12, alpha=alpha, area=int((alpha >= 0.5).sum()), shadow=0.0, shift=(0, 0),
                 bgr=np.broadcast_to(np.float32(255), alpha.shape + (3,)))
    bar = np.ones((6, sw + 20), np.float32)  # clutter over the glyph's bottom rows
    cover = dict(glyph, label=-1, x0=0, y0=12 + sh - 8, alpha=bar, area=bar.size,
                 bgr=np.broadcast_to(np.float32(0), bar.shape + (3,)))
    img, objects = compose(np.zeros((100, 120, 3), np.float32), [glyph, cover])
    assert [o["label"] for o in objects] == [14]
    ys, xs = np.nonzero(img[..., 0] >= 127.5)  # white ink on black: alpha >= 0.5
    assert objects[0]["box"] == (xs.min(), ys.min(), xs.max(), ys.max())
    assert ys.max() < 12 + sh - 8 < 12 + sh - 2  # the covered rows are not in the box
    assert 30 <= ys.max() - ys.min() + 1 <= 50  # about the requested 40 px height


def test_classes_and_sizes():
    labels, sides = [], []
    for i in range(8):
        sample = render(0, 0, i)
        img = sample.image
        assert img.dtype == np.uint8 and 70 <= sample.quality <= 95 and sample.boxes
        for (x0, y0, x1, y1), label in zip(sample.boxes, sample.labels):
            labels.append(label)
            sides.append(max(x1 - x0, y1 - y0) + 1)
            assert 0 <= x0 <= x1 < img.shape[1] and 0 <= y0 <= y1 < img.shape[0]
    assert len(set(labels)) >= 20 and min(sides) < 30 and max(sides) > 80
