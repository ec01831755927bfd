"""COCO evaluation: perfect/shifted/empty detections, a hand-computed AP, conversion helpers."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sscma_rtmdet.synth.demo import ANN_NAME, make_demo_dataset
from sscma_rtmdet.errors import DataError
from sscma_rtmdet.evaluation import (detections_to_coco, eval_cat_ids, evaluate_coco, load_coco_gt,
                                     save_detections_json)


@pytest.fixture(scope="module")
def coco_gt(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_eval")
    make_demo_dataset(root, seed=3, num_train=0, num_valid=16, num_test=0, imgsz_range=(96, 160))
    return load_coco_gt(root / "valid" / ANN_NAME)


def _gt_as_dets(coco, shift=0.0):
    """GT boxes as score-1 detections, optionally moved right by `shift` of their width."""
    anns = coco.dataset["annotations"]
    return [dict(image_id=a["image_id"], category_id=a["category_id"], score=1.0,
                 bbox=[a["bbox"][0] + shift * a["bbox"][2], *a["bbox"][1:]]) for a in anns]


def test_placeholder_not_evaluated(coco_gt):
    assert eval_cat_ids(coco_gt) == [1, 2, 3]


def test_perfect_detections_give_map_1(coco_gt):
    # Roboflow numbers annotations from 0; pycocotools alone would never match that box
    assert min(a["id"] for a in coco_gt.dataset["annotations"]) == 0
    lines = []
    res = evaluate_coco(coco_gt, _gt_as_dets(coco_gt), log=lines.append)
    assert len(res["stats"]) == 12
    assert res["stats"][0] == pytest.approx(1.0) and res["stats"][1] == pytest.approx(1.0)
    assert res["copypaste"].startswith("1.000 1.000 1.000") and len(res["copypaste"].split()) == 6
    assert res["metrics"]["coco/bbox_mAP"] == pytest.approx(1.0)
    assert [r[0] for r in res["per_class"]] == ["circle", "square", "triangle"]
    assert all(ap == pytest.approx(1.0) and ap50 == pytest.approx(1.0) for _, ap, ap50 in res["per_class"])
    text = "\n".join(lines)
    assert text.count("Average Precision") == 6 and text.count("Average Recall") == 6
    assert "bbox_mAP_copypaste: 1.000 1.000 1.000" in text
    table = text.split("bbox_mAP_copypaste")[1].splitlines()
    assert sum(line.startswith(("circle", "square", "triangle")) for line in table) == 3


def test_shifted_detections_score_lower(coco_gt):
    res = evaluate_coco(coco_gt, _gt_as_dets(coco_gt, shift=0.3), log=None)
    # IoU of a box moved by 0.3 of its width is 0.7/1.3 = 0.54: counted at IoU 0.5, missed from 0.55 up
    assert res["stats"][1] == pytest.approx(1.0)
    assert res["stats"][0] == pytest.approx(0.1, abs=0.01)
    assert res["stats"][2] == pytest.approx(0.0)


def test_empty_detections(coco_gt, capsys):
    lines = []
    res = evaluate_coco(coco_gt, [], log=lines.append)
    assert res["stats"] == [0.0] * 12 and res["copypaste"] == "0.000 " * 5 + "0.000"
    assert len(res["per_class"]) == 3
    assert any("no detections" in line for line in lines)
    evaluate_coco(coco_gt, [], log=None)
    evaluate_coco(coco_gt, _gt_as_dets(coco_gt), log=None)
    assert capsys.readouterr().out == ""  # quiet mode also silences pycocotools


def test_hand_computed_ap(tmp_path):
    """1 class, 2 GTs, one exact hit: precision 1 up to recall 0.5 -> AP = 51/101 on COCO's 101 points."""
    gt = dict(images=[dict(id=1, file_name="a.jpg", height=100, width=100)],
              categories=[dict(id=0, name="things", supercategory="none"),
                          dict(id=1, name="thing", supercategory="things")],
              annotations=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20], area=400, iscrowd=0),
                           dict(id=2, image_id=1, category_id=1, bbox=[50, 50, 40, 40], area=1600,
                                iscrowd=0)])
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    coco = load_coco_gt(tmp_path / "gt.json")
    dets = [dict(image_id=1, category_id=1, bbox=[10, 10, 20, 20], score=0.9)]
    res = evaluate_coco(coco, dets, log=None)
    assert res["stats"][0] == pytest.approx(51 / 101)
    assert res["per_class"] == [("thing", pytest.approx(51 / 101), pytest.approx(51 / 101))]
    with pytest.raises(DataError, match="image_id 7"):
        evaluate_coco(coco, [dict(dets[0], image_id=7)], log=None)


def test_detections_to_coco_roundtrip(coco_gt, tmp_path):
    """Per-image xyxy predictions (torch and numpy) -> COCO dicts -> json -> mAP 1."""
    label2cat = [1, 2, 3]
    results, metas = [], []
    for k, img_id in enumerate(sorted(coco_gt.getImgIds())):
        anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[img_id]))
        xywh = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        labels = np.array([a["category_id"] - 1 for a in anns], np.int64)
        scores = np.ones(len(anns), np.float32)
        if k % 2:
            xyxy, labels, scores = torch.from_numpy(xyxy), torch.from_numpy(labels), torch.from_numpy(scores)
        results.append(dict(boxes=xyxy, scores=scores, labels=labels))
        metas.append(dict(img_id=img_id, scale=1.0))
    dets = detections_to_coco(results, metas, label2cat)
    assert len(dets) == len(coco_gt.dataset["annotations"])
    a0 = coco_gt.dataset["annotations"][0]
    d0 = next(d for d in dets if d["image_id"] == a0["image_id"])
    assert d0["bbox"] == pytest.approx(a0["bbox"]) and d0["category_id"] == a0["category_id"]
    path = save_detections_json(dets, tmp_path / "dets.json")
    loaded = json.loads(path.read_text())
    assert evaluate_coco(coco_gt, loaded, log=None)["stats"][0] == pytest.approx(1.0)


def test_load_coco_gt_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_coco_gt(tmp_path / "missing.json")
