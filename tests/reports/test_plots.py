"""Plots: training curves, PR curves checked against a real COCOeval, per-class bars, confusion matrix."""
from __future__ import annotations

import contextlib
import io

import cv2
import numpy as np
import pytest
import torch

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.reports import (append_results_row, confusion_matrix, epoch_row, per_class_ap_bars,
                                  plot_confusion_matrix, plot_training, pr_curves)

NAMES = ["circle", "square", "triangle"]  # triangle (category 3) has no ground truth


def _png(path, min_hw=(200, 300)):
    img = cv2.imread(str(path))
    assert img is not None and img.ndim == 3, path
    assert img.shape[0] >= min_hw[0] and img.shape[1] >= min_hw[1], img.shape
    assert img.std() > 5  # something is drawn, not a blank canvas
    return img


def _coco_eval(max_dets=(1, 10, 100)):
    """A COCOeval, evaluate()d and accumulate()d, of 4 images: hits, a miss, false positives, an empty class."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_boxes = {1: [(1, [10, 10, 40, 40]), (2, [60, 60, 30, 30])], 2: [(1, [5, 5, 50, 50])],
                3: [(1, [20, 20, 30, 30]), (2, [100, 20, 40, 40])], 4: [(2, [10, 80, 50, 30])]}
    pairs = [(i, c, b) for i, boxes in gt_boxes.items() for c, b in boxes]
    anns = [dict(id=n + 1, image_id=i, category_id=c, bbox=b, area=b[2] * b[3], iscrowd=0)  # ids from 1
            for n, (i, c, b) in enumerate(pairs)]
    gt = COCO()
    gt.dataset = dict(images=[dict(id=i, width=160, height=160) for i in gt_boxes], annotations=anns,
                      categories=[dict(id=k + 1, name=n) for k, n in enumerate(NAMES)])
    dets = [(1, 1, [11, 10, 40, 40], 0.9), (1, 2, [60, 62, 30, 30], 0.6), (2, 1, [30, 30, 50, 50], 0.8),
            (3, 1, [21, 21, 30, 30], 0.7), (3, 2, [100, 20, 40, 40], 0.95), (4, 2, [120, 120, 20, 20], 0.85),
            (4, 3, [5, 5, 20, 20], 0.5), (2, 1, [6, 5, 50, 50], 0.4)]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt.createIndex()
        dt = gt.loadRes([dict(image_id=i, category_id=c, bbox=b, score=s) for i, c, b, s in dets])
        ev = COCOeval(gt, dt, "bbox")
        ev.params.maxDets = list(max_dets)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("max_dets", [(1, 10, 100), (100, 300, 1000)])
def test_pr_curves_plot_the_cocoeval_precision(tmp_path, max_dets):
    ev = _coco_eval(max_dets)
    m = list(max_dets).index(100)
    res = pr_curves(ev, NAMES, tmp_path / "pr.png")
    prec = ev.eval["precision"]
    assert res.no_gt == ["triangle"] and list(res.precision) == ["circle", "square"]
    for k, name in enumerate(NAMES[:2]):
        assert np.array_equal(res.precision[name], prec[0, :, k, 0, m])
    assert 0 < res.ap["circle"] < 1 and res.ap["square"] == pytest.approx(prec[0, :, 1, 0, m].mean())
    assert res.precision["circle"].min() < res.precision["circle"].max()  # a real curve, not a constant
    np.testing.assert_allclose(res.mean, prec[0, :, :2, 0, m].mean(axis=1))
    if max_dets[-1] == 100:  # pycocotools' AP50 summary is the mean curve's mean
        assert res.mean.mean() == pytest.approx(ev.stats[1])
    ax = res.figure.axes[0]
    lines = {line.get_label().split(" ")[0]: line for line in ax.get_lines()}
    for k, name in enumerate(NAMES[:2]):
        assert np.array_equal(lines[name].get_ydata(), prec[0, :, k, 0, m])
        assert np.array_equal(lines[name].get_xdata(), ev.params.recThrs)
    np.testing.assert_allclose(lines["all"].get_ydata(), res.mean)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("no GT" in t and "triangle" in t for t in legend) and not any(t.startswith("triangle") for t in legend)
    _png(tmp_path / "pr.png", (500, 700))


def test_pr_curves_at_another_iou_and_bad_arguments(tmp_path):
    ev = _coco_eval()
    res = pr_curves(ev, None, tmp_path / "pr75.png", iou=0.75)  # names from the GT's categories
    assert np.array_equal(res.precision["square"], ev.eval["precision"][5, :, 1, 0, 2])
    assert "0.75" in res.figure.axes[0].get_title()
    with pytest.raises(ValueError, match="IoU 0.52"):
        pr_curves(ev, NAMES, tmp_path / "x.png", iou=0.52)
    with pytest.raises(ValueError, match="2 class names"):
        pr_curves(ev, NAMES[:2], tmp_path / "x.png")
    from pycocotools.cocoeval import COCOeval
    with pytest.raises(ValueError, match="accumulate"):
        pr_curves(COCOeval(), NAMES, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_training_curves_from_results_csv(tmp_path):
    csv = tmp_path / "demo" / "results.csv"
    metrics = {2: {"coco/bbox_mAP": 0.2, "coco/bbox_mAP_50": 0.4}, 4: {"coco/bbox_mAP": 0.5, "coco/bbox_mAP_50": 0.7}}
    for e in range(1, 5):
        losses = {"loss": 3.0 / e, "loss_cls": 1.0 / e, "loss_bbox": 2.0 / e}
        append_results_row(csv, epoch_row(e, 0.001 * e, losses, metrics.get(e)))
    fig = plot_training(csv, tmp_path / "training.png")
    ax_loss, ax_map, ax_lr = fig.axes
    loss = {line.get_label(): line for line in ax_loss.get_lines()}
    assert set(loss) == {"total", "classification", "box regression"}
    np.testing.assert_allclose(loss["total"].get_ydata(), [3.0, 1.5, 1.0, 0.75])
    ap = {line.get_label(): line for line in ax_map.get_lines()}
    assert list(ap["AP (IoU 0.50:0.95)"].get_xdata()) == [2, 4]
    assert list(ap["AP50 (IoU 0.50)"].get_ydata()) == [0.4, 0.7]
    assert "best AP 0.500 at epoch 4" in ax_map.get_title()
    np.testing.assert_allclose(ax_lr.get_lines()[0].get_ydata(), [0.001, 0.002, 0.003, 0.004])
    assert fig._suptitle.get_text() == "Training: demo"
    img = _png(tmp_path / "training.png", (400, 1400))
    assert img.shape[1] > 3 * img.shape[0]  # three panels side by side


def test_training_curves_before_any_validation(tmp_path):
    csv = tmp_path / "results.csv"
    append_results_row(csv, epoch_row(1, 0.01, {"loss": 1.0, "loss_cls": 0.4, "loss_bbox": 0.6}))
    fig = plot_training(csv, tmp_path / "t.png")
    assert not fig.axes[1].get_lines() and "not validated yet" in [t.get_text() for t in fig.axes[1].texts]
    _png(tmp_path / "t.png")


def test_per_class_bars_sorted_by_ap(tmp_path):
    rows = [("circle", 0.3, 0.6), ("placeholder", float("nan"), float("nan")), ("square", 0.7, 0.9),
            ("triangle", 0.5, 0.8)]
    fig = per_class_ap_bars(rows, tmp_path / "bars.png")
    ax = fig.axes[0]
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]), reverse=True)
    assert [name for _, name in ticks] == ["square", "triangle", "circle", "placeholder"]  # top to bottom
    assert "mean AP 0.500" in ax.get_title() and "no GT" in [t.get_text() for t in ax.texts]
    _png(tmp_path / "bars.png", (200, 700))
    with pytest.raises(UserError):
        per_class_ap_bars([], tmp_path / "none.png")


def _hand_built_case():
    """2 classes: a correct detection, a wrong class, a missed GT, a false positive (and noise)."""
    gts = [dict(boxes=np.array([[10, 10, 50, 50], [100, 100, 150, 150], [200, 10, 240, 60.0]]),
                labels=np.array([0, 1, 0])), dict(boxes=np.zeros((0, 4)), labels=np.zeros(0, int))]
    dets = [dict(boxes=torch.tensor([[12, 11, 50, 52], [102, 98, 150, 151], [300, 300, 340, 340],
                                     [200, 10, 240, 60.0], [11, 10, 50, 50]]),
                 scores=torch.tensor([0.9, 0.8, 0.7, 0.1, 0.5]), labels=torch.tensor([0, 0, 1, 0, 1])),
            dict(boxes=np.zeros((0, 4)), scores=np.zeros(0), labels=np.zeros(0, int))]
    return dets, gts


def test_confusion_matrix_counts_a_hand_built_case():
    dets, gts = _hand_built_case()
    m = confusion_matrix(dets, gts, num_classes=2)
    # rows true (circle, square, background), columns predicted. det 0.9 -> GT0 correct; det 0.8 on the
    # square GT predicts circle; det 0.7 matches nothing (FP square); det 0.1 is under score_thr, so GT2 is
    # missed; det 0.5 overlaps GT0, which the 0.9 detection already took: another FP square
    expected = np.array([[1, 0, 1],
                         [1, 0, 0],
                         [0, 2, 0]])
    assert np.array_equal(m, expected) and m.dtype == np.int64
    loose = confusion_matrix(dets, gts, num_classes=2, score_thr=0.05)  # now the 0.1 det finds GT2
    assert loose[0, 0] == 2 and loose[0, 2] == 0
    # at IoU 0.95 only the 0.5 square detection (IoU 0.975) matches: GT0 is taken by the wrong class
    strict = confusion_matrix(dets, gts, num_classes=2, iou_thr=0.95)
    assert np.array_equal(strict, [[0, 1, 1], [0, 0, 1], [2, 1, 0]])
    with pytest.raises(UserError, match="num_classes"):
        confusion_matrix(dets, gts, num_classes=1)
    with pytest.raises(ValueError):
        confusion_matrix(dets, gts[:1], num_classes=2)


def test_confusion_matrix_plot(tmp_path):
    m = confusion_matrix(*_hand_built_case(), num_classes=2)
    fig = plot_confusion_matrix(m, ["circle", "square"], tmp_path / "cm.png", iou_thr=0.45, score_thr=0.25)
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown, [[0.5, 0, 0.5], [1, 0, 0], [0, 1, 0]])
    assert "IoU >= 0.45" in ax.get_title() and "score >= 0.25" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["circle", "square", "background"]
    assert sorted(t.get_text() for t in ax.texts) == ["0.50", "0.50", "1.00", "1.00"]
    _png(tmp_path / "cm.png", (300, 400))
    counts = plot_confusion_matrix(m, ["circle", "square"], tmp_path / "cm_counts.png", normalize=False)
    assert sorted(t.get_text() for t in counts.axes[0].texts) == ["1", "1", "1", "2"]
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(m, ["circle"], tmp_path / "bad.png")
