"""Demo dataset: determinism, Roboflow layout, boxes that match the drawn shapes, CLI behaviour."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from sscma_rtmdet.cli.make_demo_dataset import main as cli_main
from sscma_rtmdet.synth.demo import (ANN_NAME, CLASSES, DATASET_NAME, SPLITS, ensure_demo_dataset,
                                     make_demo_dataset, render_demo_image)
from sscma_rtmdet.errors import UserError

SMALL = dict(num_train=8, num_valid=4, num_test=3, imgsz_range=(96, 160))


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    summary = make_demo_dataset(root, seed=0, **SMALL)
    return root, summary


def test_same_seed_is_byte_identical(small_set, tmp_path):
    root, _ = small_set
    make_demo_dataset(tmp_path / "again", seed=0, **SMALL)
    a, b = _files(root), _files(tmp_path / "again")
    assert sorted(a) == sorted(b) and len(a) == 8 + 4 + 3 + 3
    for name in a:
        assert a[name] == b[name], name
    make_demo_dataset(tmp_path / "other", seed=1, **SMALL)
    c = _files(tmp_path / "other")
    assert c["train/_annotations.coco.json"] != a["train/_annotations.coco.json"]


def test_roboflow_structure(small_set):
    root, summary = small_set
    for split, n in zip(SPLITS, (8, 4, 3)):
        coco = json.loads((root / split / ANN_NAME).read_text())
        assert set(coco) == {"info", "licenses", "categories", "images", "annotations"}
        cats = coco["categories"]
        assert cats[0] == dict(id=0, name=DATASET_NAME, supercategory="none")
        assert [c["name"] for c in cats[1:]] == list(CLASSES)
        assert [c["id"] for c in cats[1:]] == [1, 2, 3]
        assert all(c["supercategory"] == DATASET_NAME for c in cats[1:])
        assert len(coco["images"]) == n == summary[split]["images"]
        assert len(coco["annotations"]) == summary[split]["boxes"]
        for a in coco["annotations"]:
            assert a["category_id"] in (1, 2, 3)  # never the placeholder
            assert a["iscrowd"] == 0 and a["segmentation"] == []
            assert a["area"] == pytest.approx(a["bbox"][2] * a["bbox"][3])
        assert len({a["id"] for a in coco["annotations"]}) == len(coco["annotations"])


def test_boxes_inside_images_and_match_files(small_set):
    root, _ = small_set
    for split_idx, split in enumerate(SPLITS):
        coco = json.loads((root / split / ANN_NAME).read_text())
        for im in coco["images"]:
            img = cv2.imread(str(root / split / im["file_name"]))
            assert img.shape == (im["height"], im["width"], 3)
            ref, _, objects = render_demo_image(0, split_idx, im["id"], SMALL["imgsz_range"])
            assert np.abs(img.astype(int) - ref).mean() < 10  # same image up to JPEG loss on the grain
            boxes = [a["bbox"] for a in coco["annotations"] if a["image_id"] == im["id"]]
            assert len(boxes) == len(objects)
            for (x, y, w, h), obj in zip(boxes, objects):
                assert 0 <= x and 0 <= y and x + w <= im["width"] and y + h <= im["height"]
                x0, y0, x1, y1 = obj["box"]
                assert [x, y, w, h] == [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def test_box_is_tight_around_shape_pixels():
    """Inside each box the shape changed the background, touching all 4 box edges; outside, nothing."""
    for i in range(30):
        img, bg, objects = render_demo_image(5, 0, i)
        changed = np.any(img != bg, axis=2)
        covered = np.zeros_like(changed)
        for obj in objects:
            x0, y0, x1, y1 = obj["box"]
            inside = changed[y0:y1 + 1, x0:x1 + 1]
            assert inside.mean() > 0.03  # thin outlines of big shapes cover only a few percent
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            covered[y0:y1 + 1, x0:x1 + 1] = True
        assert not changed[~covered].any()


def test_content_variety():
    """Counts 0..5 incl. empty images, small and large objects, all classes, non-square images."""
    counts, rel_sizes, labels, aspects = [], [], [], []
    for i in range(120):
        img, _, objects = render_demo_image(0, 0, i)
        h, w = img.shape[:2]
        counts.append(len(objects))
        aspects.append(w / h)
        for o in objects:
            x0, y0, x1, y1 = o["box"]
            rel_sizes.append(max(x1 - x0 + 1, y1 - y0 + 1) / min(h, w))
            labels.append(o["label"])
    assert min(counts) == 0 and max(counts) == 5
    assert min(rel_sizes) < 0.12 and max(rel_sizes) > 0.35
    assert set(labels) == {0, 1, 2}
    assert min(aspects) < 0.8 and max(aspects) > 1.25


def test_refuses_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(UserError, match="not empty"):
        make_demo_dataset(tmp_path, **SMALL)
    make_demo_dataset(tmp_path, overwrite=True, **SMALL)
    assert (tmp_path / "keep.txt").read_text() == "user data"  # only the split folders are replaced
    with pytest.raises(UserError, match="imgsz"):
        make_demo_dataset(tmp_path / "bad", imgsz_range=(300, 200))


def test_cli(tmp_path):
    out = tmp_path / "demo"
    args = [str(out), "--num-train", "3", "--num-valid", "2", "--num-test", "1", "--imgsz-range", "64", "96"]
    res = CliRunner().invoke(cli_main, args)
    assert res.exit_code == 0, res.output
    assert "train" in res.output and "triangle" in res.output
    assert len(list((out / "train").glob("*.jpg"))) == 3
    res = CliRunner().invoke(cli_main, args)
    assert res.exit_code == 2 and "--overwrite" in res.output
    res = CliRunner().invoke(cli_main, args + ["--overwrite", "--seed", "2"])
    assert res.exit_code == 0, res.output


def test_ensure_demo_dataset(tmp_path):
    root = ensure_demo_dataset(tmp_path / "d", **SMALL)
    ann = root / "valid" / ANN_NAME
    stamp = ann.stat().st_mtime_ns
    assert ensure_demo_dataset(root, **SMALL) == root and ann.stat().st_mtime_ns == stamp
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("x")
    with pytest.raises(UserError, match="other files"):
        ensure_demo_dataset(tmp_path / "foreign")
