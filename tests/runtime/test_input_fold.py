"""runtime.wrapper.adapt_input_normalization: weights trained on one normalisation re-expressed for another
(the shipped starts, trained on mmdetection's mean, for the device configs' centred mean)."""
import numpy as np
import pytest
import torch

from sscma_rtmdet.data.preprocess import Preprocess, normalize
from sscma_rtmdet.models.builder import build_model
from sscma_rtmdet.runtime.wrapper import adapt_input_normalization, first_conv

MMDET = Preprocess(color="bgr")
CENTRED = Preprocess(color="bgr", mean=(128.0, 128.0, 128.0), std=(57.375, 57.12, 58.395))


def _nano():
    from sscma_rtmdet.config import load_config
    cfg = load_config("configs/rtmdet_nano_8xb32_300e_coco_relu.py", ["num_classes=3"])
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    for m in model.modules():  # non-trivial BN statistics, so the shift is visible
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
    return model


@pytest.mark.parametrize("new", [CENTRED, Preprocess(color="rgb", mean=(120.0, 110.0, 100.0), std=(50.0, 60.0, 70.0))])
def test_adapted_weights_give_the_same_features_inside_the_border(new):
    model = _nano()
    img = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    stem = model.backbone.stem[0]
    with torch.no_grad():
        before = stem(normalize(img, MMDET))
        assert adapt_input_normalization(model, MMDET, new)
        after = stem(normalize(img, new))
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # the first conv's padding ring differs
    torch.testing.assert_close(after[inner], before[inner], rtol=1e-4, atol=1e-4)
    assert (after[..., 0, :] - before[..., 0, :]).abs().max() > 1e-3  # and the border does not (pixel 0 != 128)


def test_same_normalisation_changes_nothing():
    model = _nano()
    w = first_conv(model).weight.clone()
    assert not adapt_input_normalization(model, MMDET, Preprocess(color="bgr", pad_value=0, resize="stretch"))
    assert torch.equal(first_conv(model).weight, w)
