"""The broad pretraining set: 72 classes of four families, loadable, deterministic, 8-120 px objects at 192,
and nothing shared with the demo set or the learning benchmarks (no class, no look-alike, no photo)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sscma_rtmdet.cli.pretrain import SETS
from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.synth import (broad, demo, everyday, everyday_figures, generated_set, photo_layers, photo_objects,
                                photos)
from sscma_rtmdet.synth.broad import CLASSES, FAMILIES, make_broad_dataset, render
from sscma_rtmdet.synth.parts import figure
from sscma_rtmdet.synth.writer import ANN_NAME
from sscma_rtmdet.synth.pretrain_figures import OBJECTS, SHAPES

SMALL = dict(num_train=6, num_valid=2, workers=1)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("broad")
    return root, make_broad_dataset(root, seed=0, **SMALL)


def test_loads_with_coco_detection(small_set):
    root, summary = small_set
    assert sorted(summary) == ["train", "valid"] and summary["train"]["boxes"] >= 6
    cats = json.loads((root / "train" / ANN_NAME).read_text())["categories"]
    assert cats[0] == dict(id=0, name="broad", supercategory="none") and len(cats) == 73
    ds = CocoDetection(str(root), f"train/{ANN_NAME}", "train/")
    assert len(ds) == 6 and ds.classes == CLASSES and ds.num_classes == 72 == len(set(CLASSES))
    for i in range(6):
        h, w = ds[i]["img"].shape[:2]
        boxes, labels = ds.get_ann(i)
        assert 256 <= min(h, w) and max(h, w) <= 384
        assert ((boxes[:, :2] >= 0) & (boxes[:, 2:] <= [w, h]) & (boxes[:, 2:] > boxes[:, :2])).all()


def test_same_seed_is_byte_identical(small_set, tmp_path):
    root, _ = small_set
    make_broad_dataset(tmp_path / "again", seed=0, **SMALL)
    a, b = _files(root), _files(tmp_path / "again")
    assert sorted(a) == sorted(b) and len(a) == 6 + 2 + 2 and all(a[k] == b[k] for k in a)


def test_families_sizes_and_counts():
    """Every family appears, boxes span ~8-120 px when the long side is letterboxed to 192."""
    families, sides, counts = set(), [], []
    for i in range(24):
        s = render(0, 0, i)
        scale = 192 / max(s.image.shape[:2])
        counts.append(len(s.boxes))
        for (x0, y0, x1, y1), label in zip(s.boxes, s.labels):
            families.add(FAMILIES[label])
            sides.append((max(x1 - x0, y1 - y0) + 1) * scale)
    assert families == {"glyph", "shape", "object", "cutout"}
    assert min(sides) < 12 and max(sides) > 80 and max(sides) < 135
    assert np.mean(counts) > 3 and max(counts) >= 8


def test_shares_nothing_with_the_benchmarks_or_the_demo(monkeypatch):
    others = set(demo.CLASSES) | set(photo_objects.CLASSES) | set(everyday.CLASSES) \
        | set(everyday_figures.DISTRACTORS) | {"semicircle", "half disc", "L shape", "trapezoid", "ellipse", "bar"}
    assert not others & set(CLASSES)
    assert not set(everyday.CLASSES) & (set(demo.CLASSES) | set(photo_objects.CLASSES))

    def no_photos():
        raise AssertionError("the broad set read a benchmark photo")
    monkeypatch.setattr(photos, "load_photos", no_photos)
    monkeypatch.setattr(photo_layers, "make_layer", no_photos)
    assert render(0, 0, 5).boxes  # renders without the benchmarks' photos or their clutter painter


@pytest.mark.parametrize("name", list(SHAPES) + list(OBJECTS))
def test_every_figure_draws(name):
    draw = {**SHAPES, **OBJECTS}[name]
    rng = np.random.default_rng(1)
    for radius in (4, 50):
        parts, styles, cylinders = draw(rng)
        alpha, bgr = figure(rng, parts, styles, radius, angle=-40, cylinders=cylinders, bevel_strength=0.4)
        assert (alpha >= 0.5).sum() > radius and np.isfinite(bgr).all() and bgr.min() >= 0


def test_pretrain_cli_sets():
    for name, (num_train, num_valid) in SETS.items():
        module, make = generated_set(name)
        assert callable(make) and module.DATASET_NAME and num_train > num_valid > 0
    assert len(generated_set("broad")[0].CLASSES) == 72 and len(generated_set("glyphs")[0].CLASSES) == 36
    assert broad.CLASSES[:36] == generated_set("glyphs")[0].CLASSES
