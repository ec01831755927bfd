import json
import os

import numpy as np
import pytest

from _datafixtures import ROBOFLOW_CATS, random_set, write_coco
from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.errors import DataError


def _ann(i, img, cat, bbox, **kw):
    return {**dict(id=i, image_id=img, category_id=cat, bbox=bbox, area=1.0, iscrowd=0), **kw}


def test_roboflow_placeholder_is_not_a_class(tmp_path):
    root, ann, prefix = random_set(tmp_path, n=3)
    ds = CocoDetection(root, ann, prefix, num_classes=2)
    assert ds.classes == ("mask", "no-mask") and ds.num_classes == 2
    assert ds.cat2label == {1: 0, 2: 1} and ds.label2cat == {0: 1, 1: 2}
    s = ds[0]
    assert s["img"].dtype == np.uint8 and s["img"].shape == (*s["ori_hw"], 3)
    assert s["boxes"].dtype == np.float32 and s["boxes"].shape[1] == 4
    assert s["labels"].dtype == np.int64 and set(s["labels"]) <= {0, 1}
    assert len(ds.coco.getCatIds()) == 3  # the COCO object keeps the file as is, for evaluation


def test_plain_coco_keeps_sorted_categories(tmp_path):
    cats = [dict(id=7, name="b", supercategory="none"), dict(id=3, name="a", supercategory="none")]
    root, ann, prefix = write_coco(tmp_path, [dict(id=1, h=20, w=20)], [_ann(1, 1, 3, [1, 1, 5, 5])], cats)
    ds = CocoDetection(root, ann, prefix)
    assert ds.classes == ("a", "b") and ds.cat2label == {3: 0, 7: 1}


def test_num_classes_mismatch_names_both(tmp_path):
    root, ann, prefix = random_set(tmp_path, n=2)
    with pytest.raises(DataError, match=r"num_classes=80.*2 classes \['mask', 'no-mask'\]"):
        CocoDetection(root, ann, prefix, num_classes=80)


def test_missing_image_listed_with_folder(tmp_path):
    root, ann, prefix = random_set(tmp_path, n=3)
    os.remove(tmp_path / "train" / "img_002.png")
    with pytest.raises(DataError, match=r"1 of 3 images.*train.*img_002\.png"):
        CocoDetection(root, ann, prefix)


def test_missing_or_malformed_annotation_file(tmp_path):
    with pytest.raises(DataError, match="not found.*nope.json"):
        CocoDetection(str(tmp_path), "nope.json", "")
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [],\n "categories": [,]}')
    with pytest.raises(DataError, match=r"bad\.json is not valid JSON.*line 2 column"):
        CocoDetection(str(tmp_path), "bad.json", "")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(DataError, match="top level"):
        CocoDetection(str(tmp_path), "list.json", "")


def test_invalid_boxes_summarised_in_one_warning(tmp_path):
    anns = [_ann(1, 1, 1, [2, 2, 10, 10]),             # ok
            _ann(2, 1, 1, [-5, 30, 20, 20]),           # clipped on both axes
            _ann(3, 1, 2, [5, 5, 0, 4]),               # zero width
            _ann(4, 1, 2, [5, 5, 3, -1]),              # negative height
            _ann(5, 1, 1, [1, 2, 3]),                  # wrong length
            _ann(6, 1, 1, [1, float("nan"), 3, 3]),    # NaN
            _ann(7, 1, 1, [1, 1, 4, 4], iscrowd=1),    # crowd
            _ann(8, 1, 99, [1, 1, 4, 4]),              # category not in the file
            _ann(10, 5, 1, [1, 1, 4, 4]),              # image not in the file
            _ann(9, 1, 1, [50, 50, 4, 4])]             # entirely outside
    root, ann, prefix = write_coco(tmp_path, [dict(id=1, h=40, w=40), dict(id=2, h=30, w=30)], anns,
                                   ROBOFLOW_CATS)
    with pytest.warns(UserWarning) as rec:
        ds = CocoDetection(root, ann, prefix)
    assert len(rec) == 1
    assert ds.annotation_report == dict(clipped=1, empty=3, malformed=2, crowd=1, unknown_category=1,
                                        unknown_image=1)
    assert "1 clipped" in str(rec[0].message) and "3 empty" in str(rec[0].message)
    boxes, labels = ds.get_ann(0)
    assert np.allclose(boxes, [[2, 2, 12, 12], [0, 30, 15, 40]])
    assert labels.tolist() == [0, 0]
    assert ds.get_ann(1)[0].shape == (0, 4)


def test_empty_images_kept_or_filtered(tmp_path):
    images = [dict(id=1, h=20, w=20, draw=[(2, 2, 8, 8)]), dict(id=2, h=20, w=20)]
    root, ann, prefix = write_coco(tmp_path, images, [_ann(1, 1, 1, [2, 2, 6, 6])], ROBOFLOW_CATS)
    ds = CocoDetection(root, ann, prefix)
    assert len(ds) == 2 and ds[1]["boxes"].shape == (0, 4) and ds[1]["labels"].shape == (0,)
    ds = CocoDetection(root, ann, prefix, filter_empty=True)
    assert len(ds) == 1 and ds.img_ids == [1]


def test_unreadable_image_raises_on_load(tmp_path):
    root, ann, prefix = random_set(tmp_path, n=2)
    (tmp_path / "train" / "img_001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 10)  # a PNG's start only
    ds = CocoDetection(root, ann, prefix)
    with pytest.raises(DataError, match="cannot read image .*img_001.png"):
        ds[0]


def test_a_file_that_is_not_an_image_is_refused_up_front(tmp_path):
    root, ann, prefix = random_set(tmp_path, n=2)
    (tmp_path / "train" / "img_001.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"1 of 2 images listed in .* are not images OpenCV can read: 'img_001\.png'"):
        CocoDetection(root, ann, prefix)


def test_annotation_id_zero_is_renumbered_for_cocoeval(tmp_path):
    anns = [dict(_ann(0, 1, 1, [2, 2, 6, 6])), _ann(1, 1, 2, [8, 8, 6, 6])]
    root, ann, prefix = write_coco(tmp_path, [dict(id=1, h=20, w=20)], anns, ROBOFLOW_CATS)
    ds = CocoDetection(root, ann, prefix)
    assert sorted(ds.coco.getAnnIds()) == [1, 2]
    assert json.loads((tmp_path / "train" / "_annotations.coco.json").read_text())["annotations"][0]["id"] == 0


def test_perfect_detections_score_ap_1_with_pycocotools(tmp_path):
    import contextlib
    import io

    from pycocotools.cocoeval import COCOeval

    root, ann, prefix = random_set(tmp_path, n=4)
    data = json.loads((tmp_path / "train" / "_annotations.coco.json").read_text())
    for k, a in enumerate(data["annotations"]):
        a["id"] = k  # Roboflow numbers from 0
    (tmp_path / "train" / "_annotations.coco.json").write_text(json.dumps(data))
    ds = CocoDetection(root, ann, prefix)
    dets = []
    for i, img_id in enumerate(ds.img_ids):
        boxes, labels = ds.get_ann(i)
        for b, lab in zip(boxes, labels):
            dets.append(dict(image_id=img_id, category_id=ds.label2cat[int(lab)], score=0.9,
                             bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]))
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(ds.coco, ds.coco.loadRes(dets), "bbox")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ev.stats[1] == pytest.approx(1.0)  # AP50


@pytest.mark.parametrize("placeholder", [False, True])
def test_the_class_count_is_bounded_up_front(tmp_path, placeholder):
    from sscma_rtmdet.data.checks import MAX_CLASSES

    cats = [dict(id=0, name="set", supercategory="none")] if placeholder else []
    cats += [dict(id=i, name=f"c{i}", supercategory="set" if placeholder else "x") for i in range(1, MAX_CLASSES + 1)]
    root, ann, prefix = write_coco(tmp_path, [dict(id=1, h=20, w=20)], [_ann(1, 1, 1, [1, 1, 5, 5])], cats)
    assert CocoDetection(root, ann, prefix).num_classes == MAX_CLASSES
    cats.append(dict(id=MAX_CLASSES + 1, name="one too many", supercategory="x"))
    (tmp_path / "train" / "_annotations.coco.json").write_text(json.dumps(dict(
        images=[dict(id=1, file_name="img_001.png", height=20, width=20)], annotations=[], categories=cats)))
    with pytest.raises(DataError, match=rf"lists {len(cats)} categories; at most {MAX_CLASSES} classes are supported"):
        CocoDetection(root, ann, prefix)
