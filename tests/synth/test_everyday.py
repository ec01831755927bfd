"""The everyday benchmark set: deterministic, loadable by CocoDetection with its 8 classes, distractors that
are no class, objects of several sizes; wired into benchmarks/learning.py as --dataset everyday."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from _shared import REPO

from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.synth import everyday, generated_set
from sscma_rtmdet.synth.everyday import CLASSES, DATASET_NAME, make_everyday_dataset, render
from sscma_rtmdet.synth.everyday_figures import DISTRACTORS
from sscma_rtmdet.synth.parts import figure
from sscma_rtmdet.synth.writer import ANN_NAME

SMALL = dict(num_train=5, num_valid=3)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("everyday")
    return root, make_everyday_dataset(root, seed=0, **SMALL)


def test_loads_with_coco_detection(small_set):
    root, summary = small_set
    assert sorted(summary) == ["train", "valid"] and summary["train"]["boxes"] >= 5
    for split, n in (("train", 5), ("valid", 3)):
        cats = json.loads((root / split / ANN_NAME).read_text())["categories"]
        assert cats[0] == dict(id=0, name=DATASET_NAME, supercategory="none") and len(cats) == 9
        ds = CocoDetection(str(root), f"{split}/{ANN_NAME}", f"{split}/")
        assert len(ds) == n and ds.classes == CLASSES and ds.num_classes == 8
        for i in range(n):
            h, w = ds[i]["img"].shape[:2]
            boxes, labels = ds.get_ann(i)
            assert 320 <= w <= 560 and 240 <= h <= 720
            assert ((boxes[:, :2] >= 0) & (boxes[:, 2:] <= [w, h]) & (boxes[:, 2:] > boxes[:, :2])).all()
            assert ((labels >= 0) & (labels < 8)).all()


def test_same_seed_is_byte_identical(small_set, tmp_path):
    root, _ = small_set
    make_everyday_dataset(tmp_path / "again", seed=0, **SMALL)
    a, b = _files(root), _files(tmp_path / "again")
    assert sorted(a) == sorted(b) and len(a) == 5 + 3 + 2 and all(a[k] == b[k] for k in a)
    assert (render(1, 0, 0).image.shape != render(0, 0, 0).image.shape
            or (render(1, 0, 0).image != render(0, 0, 0).image).any())


def test_every_class_and_sizes():
    labels, sides = [], []
    for i in range(24):
        s = render(0, 0, i)
        assert s.image.dtype == np.uint8 and 75 <= s.quality <= 95
        scale = 192 / max(s.image.shape[:2])
        for (x0, y0, x1, y1), label in zip(s.boxes, s.labels):
            labels.append(label)
            sides.append(max(x1 - x0, y1 - y0) * scale)
    assert set(labels) == set(range(8))
    assert min(sides) < 16 and max(sides) > 45


def test_distractors_are_painted_but_never_labelled(monkeypatch):
    """With only distractors planned the image changes but holds no box."""
    monkeypatch.setattr(everyday, "_figure", _only_distractors(everyday._figure))
    s = render(0, 0, 3)
    assert s.boxes == [] and s.labels == []


def _only_distractors(real):
    def fake(rng, label, draw, r, cx, cy):
        return dict(real(rng, label, draw, r, cx, cy), label=-1)
    return fake


@pytest.mark.parametrize("name", list(everyday.FIGURES) + list(DISTRACTORS))
def test_every_figure_draws(name):
    draw = {**everyday.FIGURES, **DISTRACTORS}[name]
    rng = np.random.default_rng(0)
    for radius in (6, 40):
        parts, styles, cylinders = draw(rng)
        alpha, bgr = figure(rng, parts, styles, radius, angle=20, aspect=-1.0, cylinders=cylinders)
        assert (alpha >= 0.5).sum() > radius and bgr.shape == alpha.shape + (3,)
        assert np.isfinite(bgr).all() and bgr.min() >= 0


def test_learning_benchmark_offers_it():
    spec = importlib.util.spec_from_file_location("learning", REPO / "benchmarks" / "learning.py")
    learning = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(learning)
    assert learning.DATASETS == ("photo_objects", "everyday")
    for name in learning.DATASETS:
        module, make = generated_set(name)
        assert callable(make) and len(module.CLASSES) == {"photo_objects": 10, "everyday": 8}[name]



def test_cli_writes_it(tmp_path):
    from click.testing import CliRunner

    from sscma_rtmdet.cli.make_photo_dataset import main

    res = CliRunner().invoke(main, [str(tmp_path / "d"), "--set", "everyday", "--num-train", "2", "--num-valid", "1",
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "everyday-objects" in res.output and "umbrella" in res.output
    assert len(list((tmp_path / "d" / "train").glob("*.jpg"))) == 2
