"""Test-time decoding of RTMDet head outputs (mmdetection 3.3.0 `predict_by_feat`, rescale=False).

Shared by the torch, ONNX and TFLite backends: inputs may be torch tensors or numpy arrays, and scores may
be raw logits (torch model) or already sigmoid-activated (exported models).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError
from .ops import batched_nms, distance2bbox, make_priors, sscma_nms, sscma_v1_nms

_TEST_CFG_KEYS = ("score_thr", "nms_pre", "iou_threshold", "max_per_img")
_NMS = ("exact", "sscma", "sscma-v1")


def _as_tensor(x) -> Tensor:
    """torch tensor (float32) from a tensor or array-like; converted once, no copy when possible."""
    t = x if isinstance(x, Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(x)))
    return t.float()


def _read_test_cfg(test_cfg: Mapping) -> dict:
    missing = [k for k in _TEST_CFG_KEYS if k not in test_cfg]
    if missing:
        raise ConfigError(f"test_cfg is missing {', '.join(missing)}; expected keys {list(_TEST_CFG_KEYS)}, "
                          f"e.g. test_cfg=dict(score_thr=0.001, nms_pre=30000, iou_threshold=0.65, "
                          f"max_per_img=300)")
    cfg = {k: test_cfg[k] for k in _TEST_CFG_KEYS}
    cfg["multi_label"] = bool(test_cfg.get("multi_label", True))
    cfg["nms"] = test_cfg.get("nms", "exact")
    if cfg["nms"] not in _NMS:
        raise ConfigError(f"test_cfg.nms={cfg['nms']!r} must be one of {', '.join(_NMS)}")
    return cfg


def _select_level(scores: Tensor, score_thr: float, nms_pre: int) -> tuple[Tensor, Tensor, Tensor]:
    """(prior, class) pairs with score > thr, at most nms_pre of the best (mmdet: every class of a prior).

    scores: (P, C) probabilities. Returns (scores (K,), prior idx (K,), labels (K,)), best first.
    """
    num_classes = scores.shape[1]
    flat = scores.reshape(-1)
    idx = torch.nonzero(flat > score_thr).squeeze(1)
    vals = flat[idx]
    k = min(int(nms_pre), idx.numel())
    vals, order = torch.topk(vals, k) if k < idx.numel() else torch.sort(vals, descending=True)
    idx = idx[order]
    return vals, idx // num_classes, idx % num_classes


def _select_argmax(scores: Tensor, score_thr: float, logits: bool, step: float | None
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """SSCMA-Micro's rule: one class per prior, the highest (ties: the last class), kept when it reaches the
    threshold -- for logits on the int8 grid of the output (floor(logit(thr) / step) steps).

    scores: (P, C) logits or probabilities. Returns (probabilities (K,), prior idx (K,), labels (K,)) in
    prior order."""
    num_classes = scores.shape[1]
    best, last = scores.flip(1).max(dim=1)
    labels = num_classes - 1 - last
    if logits:
        thr = math.log(score_thr / (1.0 - score_thr)) if 0.0 < score_thr < 1.0 else \
            (-math.inf if score_thr <= 0 else math.inf)
        if step:
            thr = math.floor(thr / step) * step - step * 1e-3  # the integer comparison, on dequantized values
        keep = best >= thr
        vals = best[keep].sigmoid()
    else:
        keep = best >= score_thr
        vals = best[keep]
    idx = torch.nonzero(keep).squeeze(1)
    return vals, idx, labels[idx]


def _select_percent(probs: Tensor, score_thr: float) -> tuple[Tensor, Tensor, Tensor]:
    """SSCMA-Micro v1's YOLO_V8 rule: per prior the first class with the highest probability, kept when
    100 * p > 100 * score_thr, its score stored as round(100 * p) / 100. probs: (P, C). Returns (scores (K,),
    prior idx (K,), labels (K,)) in prior order."""
    p = probs.detach().cpu().numpy().astype(np.float32)
    labels = np.argmax(p, axis=1)  # numpy: the first index of the maximum
    percent = p[np.arange(len(p)), labels] * np.float32(100)
    idx = np.nonzero(percent > np.float32(100 * score_thr))[0]
    vals = np.floor(percent[idx] + np.float32(0.5)) / 100  # C round(): halves away from zero
    return (torch.from_numpy(vals.astype(np.float32)), torch.from_numpy(idx), torch.from_numpy(labels[idx]))


def _clip_centre_size(boxes: Tensor, input_hw: Sequence[int]) -> Tensor:
    """x1, y1, x2, y2 -> the same box after the firmware clips its centre and size each to [0, side]."""
    H, W = float(input_hw[0]), float(input_hw[1])
    c = torch.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                     boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1)
    c = torch.min(torch.max(c, c.new_zeros(4)), c.new_tensor([W, H, W, H]))
    return torch.stack([c[:, 0] - c[:, 2] / 2, c[:, 1] - c[:, 3] / 2, c[:, 0] + c[:, 2] / 2,
                        c[:, 1] + c[:, 3] / 2], 1)


def _decode_image(cls_levels: list[Tensor], box_levels: list[Tensor], priors: list[Tensor], cfg: dict,
                  input_hw: Sequence[int], scores_are_logits: bool, steps: Sequence) -> dict:
    """One image. cls_levels[i]: (C, H_i, W_i); box_levels[i]: (4, H_i, W_i); priors[i]: (H_i*W_i, 4)."""
    all_scores, all_labels, all_boxes = [], [], []
    device = cls_levels[0].device
    for cls, dist, pri, step in zip(cls_levels, box_levels, priors, steps):
        scores = cls.permute(1, 2, 0).reshape(-1, cls.shape[0])
        if cfg["multi_label"]:
            vals, prior_idx, labels = _select_level(scores.sigmoid() if scores_are_logits else scores,
                                                    cfg["score_thr"], cfg["nms_pre"])
        else:
            vals, prior_idx, labels = _select_argmax(scores, cfg["score_thr"], scores_are_logits, step)
        if cfg["nms"] == "sscma-v1":  # the firmware's own selection (percent scores), after the probabilities
            vals, prior_idx, labels = _select_percent(scores.sigmoid() if scores_are_logits else scores,
                                                      cfg["score_thr"])
        dist = dist.permute(1, 2, 0).reshape(-1, 4)[prior_idx]
        exact = cfg["nms"] == "exact"
        all_boxes.append(distance2bbox(pri[prior_idx], dist, max_shape=input_hw if exact else None))
        all_scores.append(vals)
        all_labels.append(labels)
    boxes, scores, labels = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_labels)
    if cfg["nms"] == "exact":
        # mmdet's min_bbox_size=0: degenerate boxes never reach NMS
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
        keep = batched_nms(boxes, scores, labels, float(cfg["iou_threshold"]), cfg["max_per_img"])
    elif cfg["nms"] == "sscma-v1":
        boxes = _clip_centre_size(boxes, input_hw)
        keep = sscma_v1_nms(boxes, scores, labels, float(cfg["iou_threshold"]))
    else:
        keep = sscma_nms(boxes, scores, labels, float(cfg["iou_threshold"]), cfg["max_per_img"])
    return dict(boxes=boxes[keep], scores=scores[keep], labels=labels[keep].to(torch.int64, copy=False))


def decode_predictions(cls_scores: Sequence, bbox_preds: Sequence, strides: Sequence, test_cfg: Mapping,
                       input_hw: Sequence[int], scores_are_logits: bool = True,
                       score_steps: Sequence | None = None) -> list[dict]:
    """Detections per image in the network-input pixel frame.

    cls_scores[i]: (N, C, H_i, W_i) logits (or sigmoid scores with scores_are_logits=False);
    bbox_preds[i]: (N, 4, H_i, W_i) l,t,r,b distances already multiplied by the stride; torch or numpy.
    strides: per level int (or (sw, sh)); input_hw: (H, W) that boxes are clamped to (nms='exact').
    test_cfg: score_thr, nms_pre, iou_threshold, max_per_img (None: no cap), and optionally
    multi_label (True: mmdet, every class above score_thr; False: SSCMA-Micro, the best class per prior)
    and nms ('exact': mmdet's; 'sscma': SSCMA-Micro v2's, 'sscma-v1': v1's YOLO_V8 selection and NMS, with
    integer-percent scores; targets.py). score_steps: per level, the int8 step
    of a logit output (the firmware thresholds on it), or None.
    Returns per image dict(boxes (K, 4) float32 xyxy, scores (K,), labels (K,) int64), best first.
    """
    cfg = _read_test_cfg(test_cfg)
    if not (len(cls_scores) == len(bbox_preds) == len(strides)):
        raise ValueError(f"decode_predictions: {len(cls_scores)} score maps, {len(bbox_preds)} box maps "
                         f"and {len(strides)} strides must be equal in number")
    cls_scores = [_as_tensor(c) for c in cls_scores]
    bbox_preds = [_as_tensor(b) for b in bbox_preds]
    sizes = [tuple(c.shape[-2:]) for c in cls_scores]
    for c, b in zip(cls_scores, bbox_preds):
        if c.dim() != 4 or b.dim() != 4 or b.shape[1] != 4 or tuple(b.shape[-2:]) != tuple(c.shape[-2:]):
            raise ValueError(f"decode_predictions: expected NCHW score map and (N, 4, H, W) box map of the "
                             f"same H, W; got {tuple(c.shape)} and {tuple(b.shape)}")
    flat = make_priors(sizes, strides, device=cls_scores[0].device)
    priors = list(torch.split(flat, [h * w for h, w in sizes]))
    steps = list(score_steps) if score_steps is not None else [None] * len(strides)
    with torch.no_grad():
        return [_decode_image([c[n] for c in cls_scores], [b[n] for b in bbox_preds], priors, cfg,
                              input_hw, scores_are_logits, steps)
                for n in range(cls_scores[0].shape[0])]


def rescale_boxes(boxes, scale, pad: Sequence[float], ori_hw: Sequence[int]) -> Tensor:
    """Undo a letterbox: remove the (top, left) pad, divide by the resize scale, clip to the original image.

    boxes: (K, 4) xyxy in input pixels (torch or numpy); scale: float, or (scale_w, scale_h);
    ori_hw: (H, W) of the original image. Returns (K, 4) float32 tensor in original-image pixels.
    """
    b = _as_tensor(boxes).reshape(-1, 4)
    sw, sh = (float(scale), float(scale)) if np.ndim(scale) == 0 else (float(scale[0]), float(scale[1]))
    top, left = float(pad[0]), float(pad[1])
    out = (b - b.new_tensor([left, top, left, top])) / b.new_tensor([sw, sh, sw, sh])
    h, w = float(ori_hw[0]), float(ori_hw[1])
    return torch.max(torch.min(out, out.new_tensor([w, h, w, h])), out.new_zeros(4))


def firmware_v1_boxes(boxes, input_hw: Sequence[int], ori_hw: Sequence[int]) -> Tensor:
    """Boxes of SSCMA-Micro v1's YOLO_V8 decode in the frame: its centre and size (input pixels, clipped by
    the decode) each times frame / input in float32 and truncated to an integer, as the firmware stores them;
    then the corners a host draws, clipped to the frame. boxes (K, 4) xyxy input pixels -> (K, 4) float32."""
    b = _as_tensor(boxes).reshape(-1, 4)
    fx, fy = np.float32(float(ori_hw[1]) / float(input_hw[1])), np.float32(float(ori_hw[0]) / float(input_hw[0]))
    c = torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    c = torch.trunc(c * c.new_tensor([fx, fy, fx, fy]))
    out = torch.stack([c[:, 0] - c[:, 2] / 2, c[:, 1] - c[:, 3] / 2, c[:, 0] + c[:, 2] / 2, c[:, 1] + c[:, 3] / 2], 1)
    h, w = float(ori_hw[0]), float(ori_hw[1])
    return torch.max(torch.min(out, out.new_tensor([w, h, w, h])), out.new_zeros(4))
