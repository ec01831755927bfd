import numpy as np
import pytest
import torch

from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.postprocess import decode_predictions, rescale_boxes
from _shared import reference_file

TEST_CFG = dict(score_thr=0.001, nms_pre=30000, iou_threshold=0.65, max_per_img=300)


@pytest.fixture(scope="module")
def oracle_eval():
    return torch.load(reference_file("oracle_tiny.pt"), weights_only=True)["eval"]


def _assert_same_detections(got, ref_boxes, ref_scores, ref_labels):
    """Same set of detections; order may differ only among equal scores."""
    assert got["boxes"].shape == ref_boxes.shape
    torch.testing.assert_close(got["scores"], ref_scores, rtol=0, atol=1e-6)
    key = lambda b, s, l: sorted(zip(s.tolist(), l.tolist(), b.round(decimals=2).tolist()))
    ours = key(got["boxes"], got["scores"], got["labels"])
    ref = key(ref_boxes, ref_scores, ref_labels)
    for (s1, l1, b1), (s2, l2, b2) in zip(ours, ref):
        assert l1 == l2 and abs(s1 - s2) < 1e-6
        assert np.allclose(b1, b2, atol=2e-2)
    # exact comparison after aligning by (score, label)
    o1 = np.lexsort((got["labels"].numpy(), -got["scores"].numpy()))
    o2 = np.lexsort((ref_labels.numpy(), -ref_scores.numpy()))
    torch.testing.assert_close(got["boxes"][o1], ref_boxes[o2], rtol=0, atol=1e-3)


def test_reproduces_mmdet_predict(oracle_eval):
    ev = oracle_eval
    dets = decode_predictions(ev["cls_scores"], ev["bbox_preds"], [8, 16, 32], TEST_CFG, (640, 640))
    assert len(dets) == 1
    _assert_same_detections(dets[0], ev["pred_bboxes"], ev["pred_scores"], ev["pred_labels"])
    assert dets[0]["labels"].dtype == torch.int64


def test_numpy_sigmoid_inputs_and_batch(oracle_eval):
    ev = oracle_eval
    probs = [np.concatenate([c.sigmoid().numpy()] * 2) for c in ev["cls_scores"]]
    dists = [np.concatenate([b.numpy()] * 2) for b in ev["bbox_preds"]]
    dets = decode_predictions(probs, dists, [8, 16, 32], TEST_CFG, (640, 640), scores_are_logits=False)
    assert len(dets) == 2
    for d in dets:
        _assert_same_detections(d, ev["pred_bboxes"], ev["pred_scores"], ev["pred_labels"])


def test_thresholds_clamp_and_drop_degenerate():
    cls = torch.full((1, 2, 2, 2), -10.0)
    cls[0, 1, 0, 1] = 3.0   # prior (x=8, y=0), class 1
    cls[0, 0, 1, 1] = 2.0   # prior (x=8, y=8), class 0, degenerate box below
    cls[0, 0, 1, 0] = 1.0   # prior (x=0, y=8), class 0
    box = torch.zeros(1, 4, 2, 2)
    box[0, :, 0, 1] = torch.tensor([4.0, 4.0, 100.0, 6.0])   # clamped to W=12
    box[0, :, 1, 1] = torch.tensor([0.0, 0.0, 0.0, 5.0])     # width 0 -> dropped
    box[0, :, 1, 0] = torch.tensor([0.0, 2.0, 3.0, 3.0])
    cfg = dict(score_thr=0.5, nms_pre=10, iou_threshold=0.5, max_per_img=10)
    det = decode_predictions([cls], [box], [8], cfg, (16, 12))[0]
    assert det["labels"].tolist() == [1, 0]
    torch.testing.assert_close(det["boxes"], torch.tensor([[4.0, 0.0, 12.0, 6.0], [0.0, 6.0, 3.0, 11.0]]))
    torch.testing.assert_close(det["scores"], torch.tensor([3.0, 1.0]).sigmoid())
    # nms_pre keeps only the best pair of the level, max_per_img caps the result
    assert decode_predictions([cls], [box], [8], dict(cfg, nms_pre=1), (16, 12))[0]["labels"].tolist() == [1]
    assert len(decode_predictions([cls], [box], [8], dict(cfg, max_per_img=1), (16, 12))[0]["boxes"]) == 1
    empty = decode_predictions([cls], [box], [8], dict(cfg, score_thr=0.99), (16, 12))[0]
    assert empty["boxes"].shape == (0, 4) and empty["labels"].numel() == 0


def test_bad_test_cfg_names_the_key():
    with pytest.raises(ConfigError, match="iou_threshold"):
        decode_predictions([torch.zeros(1, 1, 1, 1)], [torch.zeros(1, 4, 1, 1)], [8],
                           dict(score_thr=0.1, nms_pre=1, max_per_img=1), (8, 8))


def test_rescale_boxes_undoes_letterbox():
    # original 100x200 (H, W) resized by 0.5 then padded 10 px on top, 4 px on the left
    orig = torch.tensor([[20.0, 10.0, 120.0, 90.0], [150.0, 50.0, 260.0, 130.0]])
    letterboxed = orig * 0.5 + torch.tensor([4.0, 10.0, 4.0, 10.0])
    back = rescale_boxes(letterboxed.numpy(), 0.5, (10, 4), (100, 200))
    torch.testing.assert_close(back, torch.tensor([[20.0, 10.0, 120.0, 90.0], [150.0, 50.0, 200.0, 100.0]]))
    torch.testing.assert_close(rescale_boxes(torch.tensor([[2.0, 4.0, 6.0, 8.0]]), (2.0, 4.0), (0, 0), (9, 9)),
                               torch.tensor([[1.0, 1.0, 3.0, 2.0]]))
