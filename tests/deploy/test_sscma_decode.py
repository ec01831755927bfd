"""Our decode under the SSCMA-Micro target against the independent model of the firmware, on random int8
outputs (fast: no model, no export). Same detections, in the same order."""
import math

import numpy as np
import pytest
import torch

import sscma_firmware as fw
from sscma_rtmdet.ops import sscma_nms
from sscma_rtmdet.postprocess import decode_predictions
from sscma_rtmdet.runtime.layout import to_canonical

STRIDES, S = (8, 16, 32), 64
CFG = dict(score_thr=0.25, nms_pre=30000, iou_threshold=0.45, max_per_img=None, multi_label=False, nms="sscma")


class FakeInterpreter:
    """Raw int8 outputs of a 'sscma' file for the firmware model to decode."""

    def __init__(self, raw: dict, quant: dict):
        self.raw, self.quant = raw, quant

    def get_tensor(self, index):
        return self.raw[index]


def _outputs(seed: int, c: int = 3):
    rng = np.random.default_rng(seed)
    raw, quant, levels = {}, {}, []
    for i, s in enumerate(STRIDES):
        n = S // s
        q = rng.integers(-128, 40, (1, n * n, c)).astype(np.int8)
        q[0, rng.integers(0, n * n, 3)] = 80  # equal scores: ties in class and in NMS order
        b = rng.integers(-128, 127, (1, n * n, 4)).astype(np.int8)
        raw[2 * i], raw[2 * i + 1] = q, b
        sd = dict(index=2 * i, quantization=(0.05, -20), shape=np.array(q.shape))
        bd = dict(index=2 * i + 1, quantization=(0.03, -100), shape=np.array(b.shape))
        levels.append((s, n, sd, bd))
    return FakeInterpreter(raw, quant), fw.Contract(S, 0, np.int8, levels)


@pytest.mark.parametrize("seed", range(5))
def test_decode_matches_the_firmware(seed):
    interp, contract = _outputs(seed)
    theirs = fw.decode(interp, contract, CFG["score_thr"], CFG["iou_threshold"])
    outs, steps = {}, []
    for s, n, sd, bd in contract.levels:
        (ss, sz), (bs, bz) = sd["quantization"], bd["quantization"]
        outs[f"score_s{s}"] = (interp.raw[sd["index"]].astype(np.float32) - sz) * ss
        outs[f"box_s{s}"] = (interp.raw[bd["index"]].astype(np.float32) - bz) * bs
        steps.append(ss)
    scores, boxes, logits = to_canonical(outs, STRIDES, "sscma", 3, (S, S))
    ours = decode_predictions(scores, boxes, STRIDES, CFG, (S, S), scores_are_logits=logits, score_steps=steps)[0]
    ref = np.array([[(d["x"] - d["w"] / 2) * S, (d["y"] - d["h"] / 2) * S, (d["x"] + d["w"] / 2) * S,
                     (d["y"] + d["h"] / 2) * S] for d in theirs], np.float32).reshape(-1, 4)
    assert len(theirs) == len(ours["scores"]) > 5
    np.testing.assert_allclose(ours["boxes"].numpy(), ref, atol=1e-3)  # same boxes, same order
    np.testing.assert_allclose(ours["scores"].numpy(), [d["score"] for d in theirs], rtol=1e-6)
    assert ours["labels"].tolist() == [d["target"] for d in theirs]


def test_threshold_is_the_firmwares_int8_floor():
    """A logit one grid step below logit(thr) still counts (floor(logit(thr) / step) steps), as on the device."""
    step = 0.05
    thr_q = math.floor(math.log(0.25 / 0.75) / step)  # -22 steps
    logits = torch.tensor([[(thr_q - 1) * step, thr_q * step, (thr_q + 1) * step]]).view(1, 3, 1, 1)
    boxes = torch.ones(1, 4, 1, 1)
    kept = decode_predictions([logits], [boxes], [32], CFG, (32, 32), scores_are_logits=True, score_steps=[step])[0]
    assert kept["labels"].tolist() == [2]  # the highest class; the one exactly at the floor would count too
    low = torch.tensor([[thr_q * step, (thr_q - 3) * step, (thr_q - 3) * step]]).view(1, 3, 1, 1)
    kept = decode_predictions([low], [boxes], [32], CFG, (32, 32), scores_are_logits=True, score_steps=[step])[0]
    assert kept["labels"].tolist() == [0] and float(kept["scores"][0]) < 0.25  # floor(): just under thr counts
    tie = torch.zeros(1, 3, 1, 1)
    kept = decode_predictions([tie], [boxes], [32], CFG, (32, 32), scores_are_logits=True)[0]
    assert kept["labels"].tolist() == [2]  # ties go to the last class


def test_sscma_nms_uses_centre_as_corner_iou():
    """Two boxes of one class with ordinary IoU 0.43 (both kept by mmdet's NMS at 0.45) but IoU 0.64 as the
    firmware computes it (centre taken as the corner): the firmware, and our decode for it, drop the second."""
    a = torch.tensor([0.0, 0.0, 20.0, 20.0])
    b = torch.tensor([6.0, 6.0, 22.0, 22.0])
    boxes, scores, labels = torch.stack([a, b]), torch.tensor([0.9, 0.8]), torch.tensor([0, 0])
    from sscma_rtmdet.ops import batched_nms
    assert len(batched_nms(boxes, scores, labels, 0.45)) == 2
    kept = sscma_nms(boxes, scores, labels, 0.45)
    d = [dict(x=float((x[0] + x[2]) / 2), y=float((x[1] + x[3]) / 2), w=float(x[2] - x[0]), h=float(x[3] - x[1]),
              score=round(float(s), 6), target=0) for x, s in zip(boxes, scores)]
    assert kept.tolist() == [0] and [x["score"] for x in fw.nms(list(reversed(d)), 0.45)] == [0.9]
