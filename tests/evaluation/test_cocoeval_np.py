"""ArrayCOCOeval against pycocotools' COCOeval itself: every stat and every precision/recall/score entry equal,
on generated cases built to hit each of its rules (crowd, ties, area ranges, maxDets cuts, empty groups)."""
import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sscma_rtmdet.evaluation.coco_eval import MAX_DETS, detections_to_arrays, detections_to_coco, evaluate_coco
from sscma_rtmdet.evaluation.cocoeval_np import ArrayCOCOeval, det_boxes, gt_boxes


def _case(seed: int, n_img=12, n_cat=4, dets_per_img=(0, 400), snap=False):
    """A COCO gt and result list with crowd boxes, gt `area` fields unlike w*h, jittered copies of gt boxes
    (overlaps at every IoU), exact duplicates (IoU ties), repeated scores (score ties) and images/classes
    without gt."""
    rng = np.random.default_rng(seed)
    images = [dict(id=i + 3, width=320, height=240, file_name=f"{i}.jpg") for i in range(n_img)]
    cats = [dict(id=c + 1, name=f"c{c}") for c in range(n_cat)]
    anns, dets = [], []
    for img in images:
        gts = []
        for _ in range(rng.integers(0, 8) if img["id"] % 5 else 0):
            w, h = rng.uniform(2, 150, 2)
            x, y = rng.uniform(0, 320 - w), rng.uniform(0, 240 - h)
            box = [float(v) for v in (np.round([x, y, w, h]) if snap else (x, y, w, h))]
            cat = int(rng.integers(1, n_cat))  # the last category has no gt at all
            area = box[2] * box[3] * (rng.uniform(0.3, 1.2) if rng.random() < 0.3 else 1.0)
            anns.append(dict(id=len(anns) + 1, image_id=img["id"], category_id=cat, bbox=box, area=area,
                             iscrowd=int(rng.random() < 0.12)))
            gts.append(anns[-1])
            if rng.random() < 0.15:  # a duplicate gt: equal IoUs for every detection on it
                anns.append(dict(anns[-1], id=len(anns) + 1, iscrowd=0))
        for _ in range(int(rng.integers(*dets_per_img))):
            score = float(np.round(rng.random(), 1) if rng.random() < 0.4 else rng.random())
            if gts and rng.random() < 0.6:
                g = gts[rng.integers(len(gts))]
                x, y, w, h = np.asarray(g["bbox"]) + rng.normal(0, 0.12, 4) * np.r_[g["bbox"][2:], g["bbox"][2:]]
                cat = g["category_id"] if rng.random() < 0.85 else int(rng.integers(1, n_cat + 1))
            else:
                w, h = rng.uniform(1, 120, 2)
                x, y, cat = rng.uniform(-10, 300), rng.uniform(-10, 220), int(rng.integers(1, n_cat + 1))
            box = [float(x), float(y), float(max(w, 0.5)), float(max(h, 0.5))]
            if snap:
                box = [float(v) for v in np.round(box)]
            dets.append(dict(image_id=img["id"], category_id=cat, bbox=box, score=score))
            if rng.random() < 0.05:
                dets.append(dict(dets[-1]))
    gt = COCO()
    gt.dataset = dict(images=images, categories=cats, annotations=anns)
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt, dets


def _pycocotools(gt, dets, cat_ids, img_ids):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ev = COCOeval(gt, gt.loadRes([dict(d) for d in dets]), "bbox")
        ev.params.catIds, ev.params.imgIds, ev.params.maxDets = cat_ids, img_ids, list(MAX_DETS)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev, buf.getvalue()


def _ours(gt, dets, cat_ids, img_ids, max_dets=MAX_DETS):
    d = det_boxes([x["image_id"] for x in dets], [x["category_id"] for x in dets], [x["bbox"] for x in dets],
                  [x["score"] for x in dets])
    return ArrayCOCOeval(gt_boxes(gt), d, cat_ids, img_ids, max_dets, gt).evaluate()


@pytest.mark.parametrize("seed,snap,per_img", [(0, False, (0, 400)), (1, True, (0, 60)), (2, False, (0, 1500)),
                                               (3, True, (0, 400)), (4, False, (1, 30)), (5, True, (0, 8))])
def test_every_number_equals_pycocotools(seed, snap, per_img):
    gt, dets = _case(seed, snap=snap, dets_per_img=per_img)
    cat_ids, img_ids = sorted(gt.getCatIds()), sorted(gt.getImgIds())
    ref, printed = _pycocotools(gt, dets, cat_ids, img_ids)
    ours = _ours(gt, dets, cat_ids, img_ids)
    np.testing.assert_array_equal(ours.stats, ref.stats)
    for key in ("precision", "recall", "scores"):
        np.testing.assert_array_equal(ours.eval[key], ref.eval[key], err_msg=key)
    summary = [ln for ln in printed.splitlines() if ln.startswith(" Average")]
    assert ours.summary_text().splitlines() == summary


def test_a_subset_of_images_and_categories_equals_pycocotools():
    gt, dets = _case(7)
    cat_ids, img_ids = [2, 3], sorted(gt.getImgIds())[::2]
    ref, _ = _pycocotools(gt, dets, cat_ids, img_ids)
    ours = _ours(gt, dets, cat_ids, img_ids)
    np.testing.assert_array_equal(ours.stats, ref.stats)
    np.testing.assert_array_equal(ours.eval["precision"], ref.eval["precision"])


def test_the_case_exercises_each_rule():
    """The generated case is not trivial: crowd matches, ignored detections, maxDets cuts and score ties occur."""
    gt, dets = _case(2, dets_per_img=(0, 1500))
    assert any(a["iscrowd"] for a in gt.dataset["annotations"])
    per_img = np.bincount([d["image_id"] for d in dets])
    assert per_img.max() > 1000 and (per_img > 300).sum() > 2  # every maxDets cut bites
    scores = [d["score"] for d in dets]
    assert len(set(scores)) < len(scores) - 100
    ours = _ours(gt, dets, sorted(gt.getCatIds()), sorted(gt.getImgIds()))
    prec = ours.eval["precision"]
    assert (prec[:, :, -1] == -1).all() and (prec[:, :, :-1] > 0).any()  # the class without gt stays -1
    assert 0 < ours.stats[0] < 1


def test_evaluate_coco_takes_arrays_or_dicts_alike():
    gt, dets = _case(3)
    results, metas = [], []
    for img in sorted(gt.getImgIds()):
        mine = [d for d in dets if d["image_id"] == img]
        xyxy = np.asarray([[x, y, x + w, y + h] for x, y, w, h in (d["bbox"] for d in mine)]).reshape(-1, 4)
        results.append(dict(boxes=xyxy, scores=np.asarray([d["score"] for d in mine]),
                            labels=np.asarray([d["category_id"] - 1 for d in mine], np.int64)))
        metas.append(dict(img_id=img))
    label2cat = {k: k + 1 for k in range(4)}
    a = evaluate_coco(gt, detections_to_arrays(results, metas, label2cat), log=None)
    b = evaluate_coco(gt, detections_to_coco(results, metas, label2cat), log=None)
    assert a["stats"] == b["stats"]
    np.testing.assert_array_equal([c[1:] for c in a["per_class"]], [c[1:] for c in b["per_class"]])
