"""Number-for-number parity with mmdetection 3.3.0's RTMDet-tiny (oracle_tiny.pt).

The oracle's state_dict goes through our key converter into our tiny model (eval mode).

Tolerances: every module is checked on the oracle's own inputs to it (backbone on the image, neck on
the oracle backbone maps, head on the oracle neck maps) at max abs error <= 1e-4, bbox distances
compared before the stride multiply. End to end, fp32 rounding differences grow with depth and with
these large random-weight activations (|bbox| up to ~240): our fp32 result differs from our own fp64
result by as much as it differs from the oracle (~1e-2 on stride-32 boxes), so the end-to-end check is
max abs error <= 1e-4 x max(1, max|reference|). Any real wiring/weight error is orders larger.
"""
from __future__ import annotations

import pytest
import torch
from _model_cfgs import model_cfg
from _shared import reference_file

from sscma_rtmdet.models import build_model, convert_key, load_checkpoint

STRIDES = (8, 16, 32)


@pytest.fixture(scope="module")
def oracle():
    return torch.load(reference_file("oracle_tiny.pt"), weights_only=True)


@pytest.fixture(scope="module")
def tiny(oracle):
    model = build_model(model_cfg("tiny")).eval()
    report = load_checkpoint(model, oracle["state_dict"])
    assert report.source_format == "mmdet" and not report.skipped and not report.not_loaded
    return model


@pytest.fixture(scope="module")
def e2e(oracle, tiny):
    """Our backbone, neck and head outputs on the oracle input, computed once."""
    with torch.no_grad():
        feats = tiny.backbone(oracle["eval"]["input"])
        neck = tiny.neck(feats)
        return dict(backbone=feats, neck=neck, head=tiny.head(neck))


def _max_err(ours, ref):
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
    return [float((a - b).abs().max()) for a, b in zip(ours, ref)]


def test_every_oracle_tensor_converted(oracle, tiny):
    ours = tiny.state_dict()
    mapped = {convert_key(k) for k in oracle["state_dict"]}
    assert mapped == set(ours)
    for k, v in oracle["state_dict"].items():
        assert torch.equal(ours[convert_key(k)], v), k


def test_backbone_parity(oracle, e2e):
    errs = _max_err(e2e["backbone"], oracle["eval"]["backbone"])
    assert max(errs) <= 1e-4, errs


def test_neck_parity(oracle, tiny):
    ev = oracle["eval"]
    with torch.no_grad():
        errs = _max_err(tiny.neck(ev["backbone"]), ev["neck"])
    assert max(errs) <= 1e-4, errs


def test_head_parity(oracle, tiny):
    ev = oracle["eval"]
    with torch.no_grad():
        cls_scores, bbox_preds = tiny.head(ev["neck"])
    assert max(_max_err(cls_scores, ev["cls_scores"])) <= 1e-4
    raw = _max_err([b / s for b, s in zip(bbox_preds, STRIDES)], [b / s for b, s in zip(ev["bbox_preds"], STRIDES)])
    assert max(raw) <= 1e-4, raw


def test_end_to_end_parity(oracle, e2e):
    ev = oracle["eval"]
    cls_scores, bbox_preds = e2e["head"]
    for name, ours, ref in [("neck", e2e["neck"], ev["neck"]),
                            ("cls_scores", cls_scores, ev["cls_scores"]), ("bbox_preds", bbox_preds, ev["bbox_preds"])]:
        for lvl, (err, r) in enumerate(zip(_max_err(ours, ref), ref)):
            bound = 1e-4 * max(1.0, float(r.abs().max()))
            assert err <= bound, f"{name}[{lvl}]: max abs error {err:.3g} > {bound:.3g}"
