"""Fake-quant arithmetic (TFLite int8 rules) and the QAT model twin; no TensorFlow needed."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sscma_rtmdet.config import load_config
from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models import build_model
from sscma_rtmdet.quant.fake_quant import (MODE_AVERAGE, MODE_FROZEN, ActQuant, fake_quant, fake_quant_weight,
                                           qparams_from_range)
from sscma_rtmdet.quant.qmodel import (calibrate, deploy_model, freeze_bn, jittered_ranges, learned_qparams, prepare_qat,
                                       quantizers)

CONFIGS = ["configs/rtmdet_nano_8xb32_300e_coco.py", "configs/rtmdet_nano_8xb32_300e_coco_relu.py"]


def test_qparams_follow_tflite():
    assert qparams_from_range(0.0, 2.55) == pytest.approx((0.01, -128))
    s, zp = qparams_from_range(-1.0, 1.0)
    assert s == pytest.approx(2 / 255) and zp in (-1, 0)
    s, zp = qparams_from_range(0.5, 3.0)  # the range must contain 0
    assert s == pytest.approx(3 / 255) and zp == -128
    assert qparams_from_range(0.0, 0.0) == (1.0, 0)


def test_fake_quant_grid_rounding_and_ste():
    x = torch.tensor([0.0, 0.01, 0.015, 0.025, -0.5, 5.0], requires_grad=True)
    y = fake_quant(x, 0.01, -128)
    # 0.015 / 0.01 = 1.5 rounds away from zero; below the range clamps to 0, above to 2.55
    assert torch.allclose(y, torch.tensor([0.0, 0.01, 0.02, 0.03, 0.0, 2.55]), atol=1e-6)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]  # straight-through inside the range only


def test_weight_quant_per_channel_symmetric():
    w = torch.randn(4, 3, 3, 3)
    w[1] *= 100
    q = fake_quant_weight(w)
    scale = w.abs().flatten(1).amax(1) / 127
    steps = q / scale.view(-1, 1, 1, 1)
    assert torch.allclose(steps, steps.round(), atol=1e-4) and steps.abs().max() <= 127 + 1e-4
    assert torch.allclose(q.abs().flatten(1).amax(1), w.abs().flatten(1).amax(1))


def test_observer_calibrates_averages_then_freezes():
    q = ActQuant()
    q.eval()
    q(torch.tensor([-1.0, 2.0]))
    q(torch.tensor([0.0, 4.0]))
    assert (float(q.lo), float(q.hi)) == (-1.0, 4.0)  # calibration: global min/max
    q.set_mode(MODE_AVERAGE)
    q(torch.tensor([0.0, 100.0]))  # eval mode never moves the range once calibrated
    assert float(q.hi) == 4.0
    q.train()
    q(torch.tensor([0.0, 104.0]))
    assert float(q.hi) == pytest.approx(5.0)
    q.set_mode(MODE_FROZEN)
    q(torch.tensor([-50.0, 500.0]))
    assert (float(q.lo), float(q.hi)) == pytest.approx((-0.99, 5.0))  # lo averaged towards 0 once


@pytest.mark.parametrize("config", CONFIGS)
def test_qat_twin_and_deploy_model(config):
    cfg = load_config(config, ["num_classes=3", "imgsz=(64,64)"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    for m in model.modules():  # non-trivial BN statistics, so folding is really tested
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.weight.data.uniform_(0.5, 2)
    model.eval()
    qmodel = prepare_qat(model)
    x = torch.randn(2, 3, 64, 64)
    calibrate(qmodel, [x])
    qmodel.eval()
    with torch.no_grad():
        ref, dep, fq = model(x), deploy_model(qmodel)(x), qmodel(x)
    for a, b in zip(ref[0] + ref[1], dep[0] + dep[1]):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)  # BN folding is exact
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deploy_model(qmodel).modules())
    for a, b in zip(ref[1], fq[1]):  # fake quantization perturbs but does not break the boxes
        assert (a - b).abs().max() <= 0.1 * (a.abs().max() + 1e-3)
        assert not torch.equal(a, b)
    params = learned_qparams(qmodel)
    assert len(params) > 50 and all(s > 0 and -128 <= zp <= 127 for s, zp in params.values())
    # the twin is a drop-in training module: logits/boxes in the same layout, gradients reach the weights
    qmodel.train()
    cls, box = qmodel(x)
    assert [c.shape for c in cls] == [c.shape for c in ref[0]]
    sum(c.sum() for c in cls + box).backward()
    assert model.backbone.stem[0].conv.weight.grad is None  # a deep copy: the float model is untouched
    assert qmodel.backbone.stem[0].conv.weight.grad.abs().sum() > 0


def test_bn_freeze_stops_statistics():
    cfg = load_config(CONFIGS[1], ["num_classes=3", "imgsz=(64,64)"])
    qmodel = prepare_qat(build_model(cfg.model))
    x = torch.randn(2, 3, 64, 64)
    calibrate(qmodel, [x])
    bn = qmodel.backbone.stem[0].bn
    qmodel.train()
    before = bn.running_mean.clone()
    qmodel(x)
    assert not torch.equal(before, bn.running_mean)
    freeze_bn(qmodel)
    before = bn.running_mean.clone()
    qmodel(x)
    assert torch.equal(before, bn.running_mean)


def test_unquantizable_model_is_refused():
    with pytest.raises(ConfigError, match="RTMDet"):
        prepare_qat(nn.Linear(2, 2))
    cfg = load_config(CONFIGS[1], ["num_classes=3", "imgsz=(64,64)"])
    model = build_model(cfg.model)
    model.backbone.stem[0].act = nn.GELU()
    with pytest.raises(ConfigError, match="GELU"):
        prepare_qat(model)
    assert len(quantizers(prepare_qat(build_model(cfg.model)))) > 50


def test_silu_input_grid_is_floored_like_the_exporter():
    from sscma_rtmdet.export.int8 import SILU_INPUT_FLOOR
    from sscma_rtmdet.quant.qmodules import QConvModule

    q = ActQuant(floor=SILU_INPUT_FLOOR)
    q(torch.tensor([-20.0, 0.0, 10.0]))  # calibrates to [-20, 10]
    lo, hi = q.range()
    assert lo == pytest.approx(SILU_INPUT_FLOOR, abs=q.qparams()[0]) and hi == pytest.approx(10.0, rel=0.02)
    assert float(q(torch.tensor([-20.0]))) == pytest.approx(lo)  # saturates at the floor
    small = ActQuant(floor=SILU_INPUT_FLOOR)
    small(torch.tensor([-3.0, 4.0]))
    assert small.range()[0] == pytest.approx(-3.0, abs=0.03)  # a range above the floor is untouched
    qmodel = prepare_qat(build_model(load_config(CONFIGS[0], ["num_classes=3"]).model))
    silu = [m for m in qmodel.modules() if isinstance(m, QConvModule) and type(m.act).__name__ == "SiLU"]
    assert silu and all(m.pre_q.floor == SILU_INPUT_FLOOR for m in silu)


def test_input_is_quantized_in_the_two_steps_of_the_exported_graph():
    from sscma_rtmdet.data.preprocess import Preprocess

    pre = Preprocess()
    model = build_model(load_config(CONFIGS[0], ["num_classes=3"]).model).eval()
    qmodel = prepare_qat(model, pre).eval()
    assert "in_mul_q" in quantizers(qmodel) and "in_mul_q" not in quantizers(prepare_qat(model))
    raw = torch.randint(0, 256, (2, 3, 32, 32)).float()
    x = pre.normalize(raw.to(torch.uint8))
    calibrate(qmodel, [x])
    lo, hi = qmodel.in_mul_q.range()  # raw * (1/std): [0, 255 / min(std)]
    assert lo == pytest.approx(0.0, abs=0.02) and hi == pytest.approx(255 / min(pre.std), rel=0.02)
    seen = {}
    qmodel.in_q.register_forward_hook(lambda m, i, o: seen.setdefault("in", i[0]))
    qmodel(x)
    s, zp = qmodel.in_mul_q.qparams()
    mean, std = torch.tensor(pre.mean).view(1, 3, 1, 1), torch.tensor(pre.std).view(1, 3, 1, 1)
    # the converter stores 1/std and -mean/std as int8 constants, one asymmetric scale each
    inv_q = fake_quant(1 / std, float((1 / std).max()) / 255, -128)
    bias_q = fake_quant(-mean / std, float((mean / std).max()) / 255, 127)
    assert 0 < float((inv_q - 1 / std).abs().max()) < 1e-4  # 1/std is not exact in the int8 graph
    scaled = fake_quant(raw * inv_q, s, zp)  # the MUL's int8 output, then the ADD of -mean/std
    assert torch.allclose(seen["in"], scaled + bias_q, atol=1e-5)
    assert "in_mul_q" not in dict(deploy_model(qmodel).named_modules())


def test_jittered_ranges_is_another_rounding_realization():
    cfg = load_config(CONFIGS[0], ["num_classes=3", "imgsz=(64,64)"])
    torch.manual_seed(0)
    qmodel = prepare_qat(build_model(cfg.model).eval())
    x = torch.randn(2, 3, 64, 64)
    calibrate(qmodel, [x])
    qmodel.eval()
    before = {n: (float(q.lo), float(q.hi)) for n, q in quantizers(qmodel).items()}
    with torch.no_grad():
        ref = qmodel(x)[1]
        with jittered_ranges(qmodel, seed=1) as m:
            moved = 0
            for n, q in quantizers(m).items():
                lo, hi = before[n]
                if q.fixed is not None or q.tied is not None:
                    assert (float(q.lo), float(q.hi)) == (lo, hi)
                    continue
                assert float(q.lo) == pytest.approx(lo, rel=1.01e-4, abs=1e-12)
                assert float(q.hi) == pytest.approx(hi, rel=1.01e-4, abs=1e-12)
                moved += (float(q.lo), float(q.hi)) != (lo, hi)
            assert moved > 50
            jit = m(x)[1]
    after = {n: (float(q.lo), float(q.hi)) for n, q in quantizers(qmodel).items()}
    assert after == before  # restored exactly
    # the same model (boxes close to the unjittered ones), yet other roundings (not identical)
    for a, b in zip(ref, jit):
        assert (a - b).abs().mean() <= 0.05 * float(a.max() - a.min())
    assert any(not torch.equal(a, b) for a, b in zip(ref, jit))


def test_tensors_equal_on_the_sample_are_told_apart_by_range():
    """A clamp that clamped nothing on the matching sample: its input and output tensors hold the same values;
    their ranges over the calibration images say which quantizer each one is."""
    import numpy as np

    from sscma_rtmdet.quant.export import match_tensors

    v = np.linspace(0.2, 0.8, 16, dtype=np.float32).reshape(1, 1, 1, 16)
    ours = {"attn.gate_pre_q": v, "attn.gate_q": v.copy()}
    tfl = {7: v.copy(), 9: v.copy()}
    got = match_tensors(tfl, ours, {7: (-3.5, 3.1), 9: (0.0, 1.0)},
                        {"attn.gate_pre_q": (-3.4, 3.0), "attn.gate_q": (0.0, 1.0)})
    assert got == {7: "attn.gate_pre_q", 9: "attn.gate_q"}
    assert set(match_tensors(tfl, ours).values()) == {"attn.gate_pre_q"}  # by value alone: ambiguous
