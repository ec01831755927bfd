"""Dataset import (sscma_rtmdet.data.formats): one ground truth written as Roboflow COCO, Roboflow YOLO,
an Ultralytics data.yaml, classic VOC and Roboflow VOC must read back as the same boxes and class order;
the converted copy must load with CocoDetection; malformed labels are errors naming file and line."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from _formats_writers import (CLASSES, FOLDER, WRITERS, make_gt, voc_xml, write_coco, write_voc_classic,
                              write_voc_roboflow)
from sscma_rtmdet.data.coco import CocoDetection, real_categories
from sscma_rtmdet.data.formats import available_splits, convert_dataset, detect_format, load_split
from sscma_rtmdet.data.formats.yolo_labels import label_path
from sscma_rtmdet.errors import DataError, UserError


def by_stem(coco: dict) -> dict:
    """{image stem: (w, h, sorted [(class name, x, y, w, h)])} of a COCO dict."""
    names = {c["id"]: c["name"] for c in real_categories(coco)}
    out = {Path(im["file_name"]).stem: (im["width"], im["height"], []) for im in coco["images"]}
    stem = {im["id"]: Path(im["file_name"]).stem for im in coco["images"]}
    for a in coco["annotations"]:
        out[stem[a["image_id"]]][2].append((names[a["category_id"]], *map(float, a["bbox"])))
    return {k: (w, h, sorted(b, key=lambda t: (t[0], round(t[1]), round(t[2])))) for k, (w, h, b) in out.items()}


def assert_same(coco: dict, items: list[dict], tol: float) -> None:
    got = by_stem(coco)
    assert sorted(got) == sorted(it["stem"] for it in items)
    for it in items:
        w, h, boxes = got[it["stem"]]
        assert (w, h) == (it["w"], it["h"])
        want = sorted(((CLASSES[c], x, y, bw, bh) for c, x, y, bw, bh in it["boxes"]),
                      key=lambda t: (t[0], round(t[1]), round(t[2])))
        assert [b[0] for b in boxes] == [b[0] for b in want], it["stem"]
        err = np.abs(np.array([b[1:] for b in boxes]) - np.array([b[1:] for b in want])).max() if want else 0.0
        assert err <= tol, (it["stem"], err)


@pytest.fixture(scope="module")
def gt():
    return make_gt()


@pytest.mark.parametrize("kind", list(WRITERS))
def test_every_format_reads_the_same_boxes_and_classes(tmp_path, gt, kind):
    writer, fmt, tol = WRITERS[kind]
    root = writer(tmp_path, gt)
    assert detect_format(root) == fmt
    assert available_splits(root) == ["train", "val"]  # Roboflow's yaml names a test folder it lacks
    for split in ("train", "val"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a clean dataset: no clipping notes, not even at the borders
            coco, img_root = load_split(root, "valid" if split == "val" else split)
        assert [c["name"] for c in real_categories(coco)] == CLASSES
        assert all((img_root / im["file_name"]).is_file() for im in coco["images"])
        assert_same(coco, gt[split], tol)
        if fmt != "coco":
            assert [im["id"] for im in coco["images"]] == list(range(1, len(coco["images"]) + 1))
            assert [a["id"] for a in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))
            assert {c["supercategory"] for c in coco["categories"]} == {"object"}
            assert [c["id"] for c in coco["categories"]] == [0, 1, 2]


@pytest.mark.parametrize("kind", ["yolo_roboflow", "ultralytics", "voc_classic", "coco"])
def test_converted_copy_loads_with_coco_detection(tmp_path, gt, kind):
    writer, _, tol = WRITERS[kind]
    root = writer(tmp_path / "src", gt)
    summary = convert_dataset(root, tmp_path / "out")
    assert sorted(summary) == ["train", "val"] and summary["train"]["images"] == 4
    for split in ("train", "val"):
        ds = CocoDetection(str(tmp_path / "out"), f"{FOLDER[split]}/_annotations.coco.json", f"{FOLDER[split]}/")
        assert ds.classes == tuple(CLASSES)
        for i in range(len(ds)):
            it = next(t for t in gt[split] if Path(ds.image_path(i)).stem == t["stem"])
            boxes, labels = ds.get_ann(i)
            want = np.array([[x, y, x + bw, y + bh] for _, x, y, bw, bh in it["boxes"]], np.float32).reshape(-1, 4)
            order, worder = np.lexsort(boxes.T[::-1]), np.lexsort(want.T[::-1])
            np.testing.assert_allclose(boxes[order], want[worder], atol=max(tol, 1e-4))
            assert sorted(labels.tolist()) == sorted(c for c, *_ in it["boxes"])
        assert ds[0]["img"].shape[:2] == ds[0]["ori_hw"]


def test_convert_refuses_a_non_empty_folder(tmp_path, gt):
    root = write_voc_roboflow(tmp_path / "src", gt)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="is not empty"):
        convert_dataset(root, tmp_path / "out")
    convert_dataset(root, tmp_path / "out", overwrite=True)
    assert (tmp_path / "out" / "valid" / "_annotations.coco.json").is_file()


# --- YOLO label and yaml errors -------------------------------------------------------------------------

def tiny_yolo(root: Path, lines: list[str], yaml_text: str | None = None) -> Path:
    """Roboflow YOLO set with one 30x20 image train/images/img3.jpg whose label file holds `lines`."""
    (root / "train" / "labels").mkdir(parents=True)
    (root / "train" / "images").mkdir()
    cv2.imwrite(str(root / "train" / "images" / "img3.jpg"), np.full((20, 30, 3), 128, np.uint8))
    (root / "train" / "labels" / "img3.txt").write_text("".join(f"{ln}\n" for ln in lines))
    (root / "data.yaml").write_text(yaml_text if yaml_text is not None else
                                    "train: ../train/images\nval: ../train/images\nnc: 3\nnames: ['a', 'b', 'c']\n")
    return root


OK = "0 0.5 0.5 0.2 0.2"


@pytest.mark.parametrize("lines, message", [
    ([OK, OK, OK, "1 0.5 0.5"], "train/labels/img3.txt:4: expected 'class cx cy w h' (5 numbers), got 3"),
    ([OK, "7 0.5 0.5 0.2 0.2"], "train/labels/img3.txt:2: class 7 but data.yaml names 3 classes"),
    (["-1 0.5 0.5 0.2 0.2"], "train/labels/img3.txt:1: class -1 but data.yaml names 3 classes"),
    (["0 0.5 abc 0.2 0.2"], "train/labels/img3.txt:1: non-numeric value 'abc'"),
    (["1.5 0.5 0.5 0.2 0.2"], "train/labels/img3.txt:1: class index '1.5' is not an integer"),
    ([OK, "", "0 12 9 6 4"], "train/labels/img3.txt:3: coordinate 12 is outside 0..1"),
    (["0 0.5 0.5 0.2 1.01"], "train/labels/img3.txt:1: coordinate 1.01 is outside 0..1"),
    (["0 0.5 0.5 0.2 0.2 0.1"], "train/labels/img3.txt:1: expected 'class cx cy w h' (5 numbers) or a polygon"),
    (["0 0.1 0.1 0.5 0.1 0.5 0.5 0.1"], "got 8"),
    (["0 0.5 nan 0.2 0.2"], "train/labels/img3.txt:1: value 'nan' is not a finite number"),
])
def test_malformed_yolo_label_names_file_and_line(tmp_path, lines, message):
    root = tiny_yolo(tmp_path, lines)
    with pytest.raises(DataError, match=re.escape(message)):
        load_split(root, "train")


def test_yolo_slightly_outside_is_clipped_with_one_warning_and_polygons_become_boxes(tmp_path):
    root = tiny_yolo(tmp_path, ["0 0.5 0.5 0.2 1.0005", "2 0.1 0.2 0.6 0.25 0.3 0.9", "1 -0.0004 0.5 0.2 0.2"])
    with pytest.warns(UserWarning, match=re.escape("2 coordinates slightly outside 0..1 clipped "
                                                   "(train/labels/img3.txt:1, train/labels/img3.txt:3)")):
        coco, _ = load_split(root, "train")
    boxes = [a["bbox"] for a in coco["annotations"]]
    np.testing.assert_allclose(boxes[0], [12, 0, 6, 20], atol=1e-9)  # h clipped to 1.0: y 0..20
    np.testing.assert_allclose(boxes[1], [3, 4, 15, 14], atol=1e-9)  # polygon's bounding box, 30x20 image
    assert [a["category_id"] for a in coco["annotations"]] == [0, 2, 1]


@pytest.mark.parametrize("yaml_text, message", [
    ("train: ../train/images\nnc: 3\n", "data.yaml: no 'names'"),
    ("train: ../train/images\nnc: 4\nnames: [a, b, c]\n", "nc: 4 but names lists 3 classes"),
    ("train: ../train/images\nnames: {0: a, 2: c}\n", "names keys must be the class indices 0..1"),
    ("train: ../train/images\nnames: [a, no, c]\n", "names entries 1: False are not names"),
    ("train: [../train/images\n", "data.yaml is not valid YAML at line"),
    ("train: ../nowhere/images\nnames: [a, b, c]\n", "train: '../nowhere/images' not found"),
])
def test_bad_data_yaml_is_a_data_error(tmp_path, yaml_text, message):
    root = tiny_yolo(tmp_path, [OK], yaml_text)
    with pytest.raises(DataError, match=re.escape(message)):
        load_split(root, "train")


def test_yolo_paths_labels_rule_and_missing_labels(tmp_path):
    assert label_path(Path("/d/images/x/images/a.b.jpg")) == Path("/d/images/x/labels/a.b.txt")
    assert label_path(Path("/d/imgs/a.png")) == Path("/d/imgs/a.txt")
    root = tiny_yolo(tmp_path, [OK], "train: train/images\nval: train/images\nnames: [a, b, c]\n")  # newer style
    coco, img_root = load_split(root, "val")
    assert img_root == tmp_path / "train" / "images" and len(coco["annotations"]) == 1
    (tmp_path / "train" / "labels" / "img3.txt").unlink()
    with pytest.warns(UserWarning, match="none of the 1 images has a label file"):
        coco, _ = load_split(root, "train")
    assert coco["annotations"] == [] and len(coco["images"]) == 1


# --- VOC ------------------------------------------------------------------------------------------------

def tiny_voc(root: Path, xml: str, split: str = "train", stem: str = "img3") -> Path:
    (root / split).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / split / f"{stem}.jpg"), np.full((20, 30, 3), 128, np.uint8))
    (root / split / f"{stem}.xml").write_text(xml)
    return root


def obj(name: str, box, difficult: int = 0) -> str:
    b = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
    return f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox>{b}</bndbox></object>"


def test_voc_without_size_uses_the_image_and_skips_inverted_boxes_with_one_warning(tmp_path):
    it = dict(w=99, h=99, boxes=[])
    objs = [obj("a", (1, 1, 10, 5)), obj("a", (8, 2, 8, 9)), obj("b", (3, 9, 12, 4)), obj("b", (21, 11, 30, 20), 1)]
    root = tiny_voc(tmp_path, voc_xml(it, "img3.jpg", size=False, objects=objs))
    with pytest.warns(UserWarning, match=re.escape("2 boxes with xmax <= xmin or ymax <= ymin skipped "
                                                   "(train/img3.xml object 2 (a), train/img3.xml object 3 (b))")):
        coco, _ = load_split(root, "train")
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (30, 20)
    assert [a["bbox"] for a in coco["annotations"]] == [[0.0, 0.0, 10.0, 5.0], [20.0, 10.0, 10.0, 10.0]]
    assert "difficult" not in coco["annotations"][0] and coco["annotations"][1]["difficult"] == 1


def test_voc_class_order_is_the_sorted_union_of_every_split(tmp_path):
    it = dict(w=30, h=20, boxes=[])
    tiny_voc(tmp_path, voc_xml(it, "a.jpg", objects=[obj("zebra", (1, 1, 5, 5)), obj("cat", (2, 2, 9, 9))]))
    tiny_voc(tmp_path, voc_xml(it, "b.jpg", objects=[obj("ant", (1, 1, 5, 5))]), split="valid", stem="b")
    for split in ("train", "val"):
        coco, _ = load_split(tmp_path, split)
        assert [c["name"] for c in coco["categories"]] == ["ant", "cat", "zebra"]
    coco, _ = load_split(tmp_path, "train", classes=["zebra", "cat", "ant"])
    assert [a["category_id"] for a in coco["annotations"]] == [0, 1]
    with pytest.raises(DataError, match=re.escape("train/img3.xml object 1 (zebra): class 'zebra' is not in")):
        load_split(tmp_path, "train", classes=["cat", "ant"])


@pytest.mark.parametrize("xml, message", [
    ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><annotation>&x;</annotation>',
     "train/img3.xml: has a DOCTYPE/ENTITY declaration, refused"),
    ("<annotation><object><name>a</name></annotation>", "train/img3.xml:1: not valid XML"),
    ("<annotation>" + obj("a", (1, "abc", 5, 5)) + "</annotation>",
     "train/img3.xml: object 1 (a): <ymin> is 'abc', not a number"),
    ("<annotation><object><bndbox/></object></annotation>", "train/img3.xml: object 1 has no <name>"),
    ("<notvoc/>", "train/img3.xml: root element is <notvoc>"),
    ("BIG", "train/img3.xml: over 10 MB, refused"),
], ids=["doctype", "syntax", "number", "name", "root", "big"])
def test_bad_voc_xml_is_a_data_error(tmp_path, xml, message):
    root = tiny_voc(tmp_path, "<annotation>" + " " * (10 * 2**20) + "</annotation>" if xml == "BIG" else xml)
    with pytest.raises(DataError, match=re.escape(message)):
        load_split(root, "train")


# --- detection, splits, images --------------------------------------------------------------------------

def test_unknown_layout_missing_split_and_unreadable_image(tmp_path, gt):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"cannot tell the format .* looked for COCO .*found notes.txt"):
        detect_format(tmp_path / "junk")
    root = write_voc_classic(tmp_path / "voc", gt)
    with pytest.raises(DataError, match=re.escape("has no 'test' split (looked for ImageSets/Main/test.txt)")):
        load_split(root, "test")
    with pytest.raises(UserError, match="unknown split 'training'"):
        load_split(root, "training")
    (root / "JPEGImages" / "val_01.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=re.escape("cannot read image JPEGImages/val_01.png")):
        load_split(root, "val")


def test_voc_beats_a_stray_yaml_and_a_split_less_voc_says_where_it_looked(tmp_path, gt):
    root = write_voc_classic(tmp_path, gt)
    (root / "labelme.yaml").write_text("foo: 1\n")
    assert detect_format(root) == "voc"
    with pytest.raises(UserError, match="classes= applies to VOC only"):
        load_split(write_coco(tmp_path / "c", gt), "train", classes=CLASSES)
    for f in (root / "ImageSets" / "Main").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=re.escape("no 'train' split (looked for ImageSets/Main/train.txt or "
                                                  "trainval.txt)")):
        convert_dataset(root, tmp_path / "out")


def test_ultralytics_path_that_does_not_exist_falls_back_to_the_yaml_folder(tmp_path):
    root = tiny_yolo(tmp_path, [OK], "path: /nowhere/coco128\ntrain: train/images\nnames: [a, b, c]\n")
    with pytest.warns(UserWarning, match="does not exist; using the yaml's folder"):
        coco, _ = load_split(root / "data.yaml", "train")
    assert len(coco["annotations"]) == 1
