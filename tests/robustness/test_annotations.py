"""Issue 18: one cleaned annotation set for training and evaluation. A val box that training skips (NaN or
negative width, 3 numbers, no bbox) must neither crash pycocotools nor count: the metric with it equals the
metric with it removed from the JSON. Ids written as strings are normalised on load.

Detections are made up (the ground truth, shifted, plus false positives), so no model runs here.
"""
from __future__ import annotations

import contextlib
import io
import json
import math

import cv2
import numpy as np
import pytest

from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.evaluation.coco_eval import evaluate_coco

CATS = [dict(id=0, name="things", supercategory="none"), dict(id=1, name="a", supercategory="things"),
        dict(id=2, name="b", supercategory="things")]
BOXES = {1: [(1, [4, 4, 20, 16]), (2, [30, 20, 12, 24])], 2: [(1, [10, 30, 30, 20])], 3: [(2, [40, 5, 16, 16])]}


def _write(folder, anns_extra=(), edit=None, warns=None) -> CocoDetection:
    """3 images 64x64 with BOXES (+ `anns_extra` on image 1), `edit(json)` applied; a fresh CocoDetection
    (which warns about skipped boxes: `warns`, default when there are extra ones)."""
    (folder / "valid").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for img_id, boxes in BOXES.items():
        cv2.imwrite(str(folder / "valid" / f"{img_id}.png"), np.full((64, 64, 3), 90, np.uint8))
        images.append(dict(id=img_id, file_name=f"{img_id}.png", width=64, height=64))
        anns += [dict(id=len(anns), image_id=img_id, category_id=c, bbox=b, area=b[2] * b[3], iscrowd=0)
                 for c, b in boxes]
    anns += [dict(a, id=len(anns) + k, image_id=a.get("image_id", 1)) for k, a in enumerate(anns_extra)]
    data = dict(images=images, annotations=anns, categories=CATS)
    if edit is not None:
        edit(data)
    (folder / "valid" / "_annotations.coco.json").write_text(json.dumps(data))
    with pytest.warns(UserWarning) if (bool(anns_extra) if warns is None else warns) else contextlib.nullcontext():
        return CocoDetection(str(folder) + "/", "valid/_annotations.coco.json", "valid/")


def _detections(near=(8, 8)) -> list[dict]:
    """Every GT box found a little off, plus false positives on image 1 (one near `near`), scores spread."""
    dets = [dict(image_id=i, category_id=c, bbox=[b[0] + 1.5, b[1] - 1, b[2], b[3] + 2], score=0.9 - 0.1 * k)
            for k, (i, c, b) in enumerate((i, c, b) for i, bs in BOXES.items() for c, b in bs)]
    dets += [dict(image_id=1, category_id=1, bbox=[near[0], near[1], 14, 14], score=0.95),
             dict(image_id=2, category_id=2, bbox=[2, 2, 10, 10], score=0.3)]
    return dets


def _stats(coco: CocoDetection, dets=None) -> list[float]:
    return evaluate_coco(coco.coco, _detections() if dets is None else dets, classwise=False, log=None)["stats"]


BROKEN = {
    "nan width": dict(category_id=1, bbox=[8, 8, math.nan, 14]),
    "negative width": dict(category_id=1, bbox=[8, 8, -14, 14]),
    "zero height": dict(category_id=1, bbox=[8, 8, 14, 0]),
    "3 numbers": dict(category_id=1, bbox=[8, 8, 14]),
    "strings": dict(category_id=1, bbox="8,8,14,14"),
    "null bbox": dict(category_id=1, bbox=None),
    "segmentation only": dict(category_id=1, segmentation=[[8, 8, 22, 8, 22, 22, 8, 22]]),
    "inf height": dict(category_id=1, bbox=[8, 8, 14, math.inf]),
    "entirely outside": dict(category_id=1, bbox=[80, 80, 14, 14]),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_box_counts_for_nothing(kind, tmp_path):
    broken = _write(tmp_path / "broken", [BROKEN[kind]])
    clean = _write(tmp_path / "clean")
    assert _stats(broken) == _stats(clean)
    assert broken.coco.getAnnIds() == clean.coco.getAnnIds()  # the same cleaned set


def test_pycocotools_on_the_raw_file_would_count_or_crash(tmp_path):
    """Control: the raw JSON scored as is (what evaluation did before) gives another metric or crashes, so
    the equality above is a real check."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    outcomes = {}
    for kind in ("nan width", "negative width", "3 numbers", "segmentation only"):
        ds = _write(tmp_path / kind.replace(" ", "_"), [BROKEN[kind]])
        with contextlib.redirect_stdout(io.StringIO()):
            raw = COCO(ds.ann_path)
            try:
                ev = COCOeval(raw, raw.loadRes(_detections()), "bbox")
                ev.evaluate(), ev.accumulate(), ev.summarize()
                outcomes[kind] = list(ev.stats) != _stats(ds)
            except Exception:  # IndexError, KeyError, ...: a crash
                outcomes[kind] = True
    assert all(outcomes.values()), outcomes


def test_missing_area_is_the_box_area(tmp_path):
    no_area = _write(tmp_path / "a", edit=lambda d: [a.pop("area") for a in d["annotations"]])
    assert _stats(no_area) == _stats(_write(tmp_path / "b"))


def test_clipped_box_is_scored_as_trained(tmp_path):
    """A box reaching past the image is clipped for training; evaluation scores that same clipped box."""
    ds = _write(tmp_path / "c", edit=lambda d: d["annotations"][0].update(bbox=[-6, 4, 26, 16]), warns=True)
    boxes, _ = ds.get_ann(0)
    assert boxes[0].tolist() == [0, 4, 20, 20]
    assert ds.coco.loadAnns(ds.coco.getAnnIds(imgIds=[1]))[0]["bbox"] == [0, 4, 20, 16]


def test_crowd_box_is_not_trained_and_excuses_a_detection(tmp_path):
    """Crowd boxes are skipped in training and stay ignore regions in evaluation (as in COCO): a detection on
    one is not a false positive."""
    crowd = _write(tmp_path / "crowd", [dict(category_id=1, bbox=[8, 8, 14, 14], iscrowd=1)])
    clean = _write(tmp_path / "clean")
    assert len(crowd.get_ann(0)[0]) == len(clean.get_ann(0)[0])
    assert _stats(crowd)[0] > _stats(clean)[0]


@pytest.mark.parametrize("which", ["categories", "images", "images and categories", "references only"])
def test_string_ids_are_normalised(which, tmp_path):
    def stringify(d):
        for im in d["images"] if "images" in which else []:
            im["id"] = str(im["id"])
        for c in d["categories"] if "categories" in which else []:
            c["id"] = str(c["id"])
        for a in d["annotations"]:
            a["image_id"] = str(a["image_id"]) if which != "categories" else a["image_id"]
            a["category_id"] = str(a["category_id"]) if which != "images" else a["category_id"]
    ds = _write(tmp_path / "s", edit=stringify)
    assert ds.img_ids == [1, 2, 3] and ds.cat2label == {1: 0, 2: 1}
    assert _stats(ds) == _stats(_write(tmp_path / "i")) and _stats(ds)[0] > 0.3


def test_deep_nesting_is_an_error_even_after_onnx2tf(tmp_path):
    """onnx2tf sets the recursion limit to 2**31 - 1: json.load would overflow the C stack (a segfault) on a
    file nested 100000 deep. The loader keeps its own limit: a DataError naming the file."""
    import sys

    from sscma_rtmdet.errors import DataError

    (tmp_path / "valid").mkdir()
    (tmp_path / "valid" / "_annotations.coco.json").write_text('{"images": ' + "[" * 100000 + "]" * 100000 + "}")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(2**31 - 1)
    try:
        with pytest.raises(DataError, match=r"_annotations\.coco\.json is nested too deeply"):
            CocoDetection(str(tmp_path) + "/", "valid/_annotations.coco.json", "valid/")
        assert sys.getrecursionlimit() == 2**31 - 1
    finally:
        sys.setrecursionlimit(old)
