"""Issue 40's weak dataset cases that need no tool run: a VOC class no train object has, Roboflow's placeholder
category used by a box and one image file listed under two ids (CocoDetection), and --data given a file."""
from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from _formats_writers import voc_xml
from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.data.formats import detect_format, load_split
from sscma_rtmdet.errors import DataError


def _voc(root, split, stem, names):
    (root / split).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / split / f"{stem}.jpg"), np.full((20, 30, 3), 128, np.uint8))
    objs = [f"<object><name>{n}</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>"
            "</object>" for n in names]
    (root / split / f"{stem}.xml").write_text(voc_xml(dict(w=30, h=20, boxes=[]), f"{stem}.jpg", objects=objs))


def test_voc_class_missing_from_train_warns_naming_it_and_its_file(tmp_path):
    _voc(tmp_path, "train", "a", ["dog", "cat"])
    _voc(tmp_path, "valid", "b", ["dgo"])  # a typo: it would silently become a fourth class
    with pytest.warns(UserWarning, match=re.escape("class(es) with no object in the train split: 'dgo' "
                                                   "(valid/b.xml object 1); each becomes a class the model never")):
        coco, _ = load_split(tmp_path, "train")
    assert [c["name"] for c in coco["categories"]] == ["cat", "dgo", "dog"]


def _coco(tmp_path, categories, annotations, images=None):
    (tmp_path / "train").mkdir()
    images = images or [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 32}]
    for im in images:
        cv2.imwrite(str(tmp_path / "train" / im["file_name"]), np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "train" / "ann.json").write_text(json.dumps(
        {"images": images, "categories": categories, "annotations": annotations}))
    return lambda: CocoDetection(str(tmp_path), "train/ann.json", "train/")


ROBOFLOW_CATS = [{"id": 0, "name": "pets", "supercategory": "none"},
                 {"id": 1, "name": "cat", "supercategory": "pets"}, {"id": 2, "name": "dog", "supercategory": "pets"}]


def test_placeholder_category_used_by_a_box_is_named(tmp_path):
    anns = [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
            {"id": 7, "image_id": 1, "category_id": 0, "bbox": [2, 2, 5, 5]}]
    with pytest.raises(DataError, match=re.escape("category 0 'pets' is Roboflow's placeholder (the dataset name, "
                                                  "supercategory 'none'), not a class, but 1 box(es) use it: "
                                                  "annotations[1] (id 7, image_id 1)")):
        _coco(tmp_path, ROBOFLOW_CATS, anns)()


def test_plain_coco_with_supercategory_none_everywhere_keeps_its_classes(tmp_path):
    cats = [{"id": 0, "name": "a", "supercategory": "none"}, {"id": 1, "name": "b", "supercategory": "none"}]
    anns = [{"id": 1, "image_id": 1, "category_id": 0, "bbox": [1, 1, 5, 5]}]
    assert _coco(tmp_path, cats, anns)().classes == ("a", "b")


def test_one_file_under_two_ids_warns(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}, {"id": 3, "file_name": "./a.jpg"}]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    with pytest.warns(UserWarning, match=re.escape("1 image file(s) listed twice under other ids: images[0] (id 1) "
                                                   "and images[2] (id 3): './a.jpg'")):
        ds = _coco(tmp_path, ROBOFLOW_CATS, anns, images)()
    assert ds.has_annotation_id_0 is False


@pytest.mark.parametrize("name, data, said", [("d.zip", None, "is a .zip archive: unpack it"),
                                              ("notes.txt", b"x", "is a file, not a dataset folder")])
def test_data_given_a_file(tmp_path, name, data, said):
    path = tmp_path / name
    if data is None:
        import zipfile
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("x.txt", "x")
    else:
        path.write_bytes(data)
    with pytest.raises(DataError, match=re.escape(said)):
        detect_format(path)
