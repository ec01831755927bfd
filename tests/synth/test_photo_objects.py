"""Photo-objects benchmark set: Roboflow layout loadable by CocoDetection, all 10 classes, determinism,
boxes tight to the visible pixels under occlusion, a clear error without the scikit-image photos."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from sscma_rtmdet.cli.make_photo_dataset import main as cli_main
from sscma_rtmdet.synth import photo_objects
from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.synth.photo_layers import compose
from sscma_rtmdet.synth.photo_objects import ANN_NAME, CLASSES, DATASET_NAME, make_photo_objects_dataset, render
from sscma_rtmdet.errors import UserError

SMALL = dict(num_train=6, num_valid=3)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("photo")
    return root, make_photo_objects_dataset(root, seed=0, **SMALL)


def test_loads_with_coco_detection(small_set):
    root, summary = small_set
    assert sorted(summary) == ["train", "valid"] and not (root / "test").exists()
    for split, n in (("train", 6), ("valid", 3)):
        cats = json.loads((root / split / ANN_NAME).read_text())["categories"]
        assert cats[0] == dict(id=0, name=DATASET_NAME, supercategory="none")
        ds = CocoDetection(str(root), f"{split}/{ANN_NAME}", f"{split}/")
        assert len(ds) == n and ds.classes == CLASSES and ds.num_classes == 10
        assert ds.label2cat == {i: i + 1 for i in range(10)}
        shapes = set()
        for i in range(n):
            sample = ds[i]
            h, w = sample["img"].shape[:2]
            shapes.add((h, w))
            boxes, _ = ds.get_ann(i)  # unclipped, as written
            assert ((boxes[:, :2] >= 0) & (boxes[:, 2:] <= [w, h]) & (boxes[:, 2:] > boxes[:, :2])).all()
            assert 320 <= w <= 640 and 240 <= h <= 800
        assert len(shapes) > 1  # sizes vary, like real photos


def test_every_class_and_scale_variation():
    labels, sides = [], []
    for i in range(30):
        sample = render(0, 0, i)
        img = sample.image
        assert 75 <= sample.quality <= 95 and img.dtype == np.uint8
        scale = 192 / max(img.shape[:2])  # letterbox to 192x192
        for (x0, y0, x1, y1), label in zip(sample.boxes, sample.labels):
            labels.append(label)
            sides.append(np.sqrt((x1 - x0 + 1) * (y1 - y0 + 1)) * scale)
    assert set(labels) == set(range(10))
    assert min(sides) < 12 and max(sides) > 36  # small and larger objects at the model input
    assert max(np.bincount(labels)) < 3 * min(np.bincount(labels))


def test_same_seed_is_byte_identical(small_set, tmp_path):
    root, _ = small_set
    make_photo_objects_dataset(tmp_path / "again", seed=0, **SMALL)
    a, b = _files(root), _files(tmp_path / "again")
    assert sorted(a) == sorted(b) and len(a) == 6 + 3 + 2
    assert all(a[k] == b[k] for k in a)
    one, zero = render(1, 0, 0).image, render(0, 0, 0).image
    assert one.shape != zero.shape or (one != zero).any()  # another seed draws another image


def _layer(label, x0, y0, alpha, colour):
    alpha = alpha.astype(np.float32)
    return dict(label=label, x0=x0, y0=y0, alpha=alpha, area=int((alpha >= 0.5).sum()), shadow=0.0,
                shift=(0, 0), bgr=np.broadcast_to(np.float32(colour), alpha.shape + (3,)))


def test_boxes_are_tight_to_visible_pixels():
    square = np.zeros((30, 30))
    square[5:25, 5:25] = 1  # object pixels x, y in 5..24 (area 400)
    bg = np.zeros((40, 50, 3), np.float32)
    # clutter over the right half: 200 of 400 pixels stay visible (>= 40%) -> box is the left half
    layers = [_layer(3, 0, 0, square, 200), _layer(-1, 15, 0, np.ones((30, 30)), 90)]
    img, objects = compose(bg.copy(), layers)
    assert objects == [dict(label=3, box=(5, 5, 14, 24))]
    ys, xs = np.nonzero(img[..., 0] == 200)
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (5, 5, 14, 24)
    # a later object covering 70% (x >= 11): the first is dropped and not drawn; the second is clipped
    # by the frame (it starts at x0=40 in a 50 px wide image)
    layers = [_layer(0, 0, 0, square, 200), _layer(-1, 11, 0, np.ones((30, 30)), 90),
              _layer(1, 30, 10, square, 150)]
    img, objects = compose(bg.copy(), layers)
    assert objects == [dict(label=1, box=(35, 15, 49, 34))]
    assert not (img[..., 0] == 200).any()


def test_missing_photos_name_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    photo_objects.load_photos.cache_clear()
    try:
        with pytest.raises(UserError, match=r"scikit-image==0\.25\.2.*pip install --no-deps scikit-image"):
            make_photo_objects_dataset(tmp_path / "out", num_train=1, num_valid=1)
        assert not (tmp_path / "out").exists()
    finally:
        photo_objects.load_photos.cache_clear()


def test_cli(tmp_path):
    args = [str(tmp_path / "d"), "--num-train", "2", "--num-valid", "1", "--num-test", "1", "--no-progress"]
    res = CliRunner().invoke(cli_main, args)
    assert res.exit_code == 0, res.output
    assert "crescent" in res.output and (tmp_path / "d" / "test" / ANN_NAME).is_file()
    res = CliRunner().invoke(cli_main, args)
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert CliRunner().invoke(cli_main, args + ["--overwrite"]).exit_code == 0
