"""Full RTMDet-tiny training step vs mmdetection 3.3.0 (oracle_tiny.pt `train`): losses and gradients."""
import pytest
import torch

from sscma_rtmdet.criterion import DynamicSoftLabelAssigner, RTMDetCriterion
from _shared import reference_file

pytestmark = pytest.mark.slow  # one 2x3x640x640 forward + backward of the tiny model (~30 s on 2 cores)

TINY = dict(
    backbone=dict(type="CSPNeXt", arch="P5", deepen_factor=0.167, widen_factor=0.375, expand_ratio=0.5,
                  channel_attention=True, act="silu", split_pool=False),
    neck=dict(type="CSPNeXtPAFPN", out_channels=96, num_csp_blocks=1, expand_ratio=0.5, act="silu"),
    head=dict(type="RTMDetSepBNHead", num_classes=80, feat_channels=96, stacked_convs=2, share_conv=True,
              exp_on_reg=False, act="silu", strides=(8, 16, 32)),
)


@pytest.fixture(scope="module")
def step():
    try:
        from sscma_rtmdet.models import build_model, convert_key, load_checkpoint
    except ImportError as e:
        pytest.skip(f"sscma_rtmdet.models is not importable yet ({e})")
    oracle = torch.load(reference_file("oracle_tiny.pt"), weights_only=True)
    model = build_model(TINY)
    load_checkpoint(model, oracle["state_dict"])
    model.train()  # BN on batch statistics, as in mmdet's training forward
    train = oracle["train"]
    cls, box = model(train["input"])
    out = RTMDetCriterion(DynamicSoftLabelAssigner(), 80)(
        cls, box, [g[0] for g in train["gts"]], [g[1] for g in train["gts"]], (640, 640))
    out["loss"].backward()
    return dict(out=out, model=model, train=train, convert_key=convert_key)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def test_losses_per_level(step):
    out, ref = step["out"], step["train"]["losses"]
    for name in ("loss_cls", "loss_bbox"):
        ours = [float(x.detach()) for x in out[f"{name}_levels"]]
        theirs = [float(x) for x in ref[name]]
        assert len(ours) == len(theirs) == 3
        for o, t in zip(ours, theirs):
            assert (o == t == 0.0) or _rel(o, t) < 1e-4, f"{name}: ours {ours} vs mmdet {theirs}"
    assert _rel(float(out["loss"].detach()), 18.933826) < 1e-4
    assert _rel(float(out["loss_cls"].detach()), 17.427071) < 1e-4
    assert _rel(float(out["loss_bbox"].detach()), 1.506756) < 1e-4


def test_gradient_norms_per_parameter(step):
    params = dict(step["model"].named_parameters())
    grad_norms = step["train"]["grad_norms"]
    # shared head convs are one Parameter in both models (listed once, level 0): their grad already
    # accumulates all levels, so names map one to one
    assert len(params) == len(grad_norms)
    bad = []
    for mm_name, ref in grad_norms.items():
        p = params[step["convert_key"](mm_name)]
        got = float(p.grad.norm()) if p.grad is not None else 0.0
        if _rel(got, float(ref)) > 1e-3:
            bad.append(f"{mm_name}: {got:.6g} vs {float(ref):.6g}")
    assert not bad, "gradient norms differ: " + "; ".join(bad[:10])


def test_bn_running_stats_after_forward(step):
    buffers = dict(step["model"].named_buffers())
    ref = step["train"]["bn_running_after"]
    for mm_name, value in ref.items():
        torch.testing.assert_close(buffers[step["convert_key"](mm_name)], value, rtol=1e-3, atol=1e-4)
