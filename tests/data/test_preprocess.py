import numpy as np
import pytest
import torch

from _shared import reference_file
from sscma_rtmdet.data.preprocess import Preprocess, letterbox, normalize
from sscma_rtmdet.errors import ConfigError


def test_normalize_matches_mmdet_oracle():
    ref = torch.load(reference_file("oracle_preprocess.pt"), weights_only=True)
    pre = Preprocess.from_config(dict(color="bgr", mean=[103.53, 116.28, 123.675],
                                      std=[57.375, 57.12, 58.395], pad_value=114))
    nchw = pre.normalize(ref["img"].unsqueeze(0))
    nhwc = normalize(ref["img"].permute(1, 2, 0).numpy()[None], pre)
    assert nchw.shape == ref["out"].shape == (1, 3, 64, 80)
    assert (nchw - ref["out"]).abs().max() < 1e-5
    assert (nhwc - ref["out"]).abs().max() < 1e-5


def test_rgb_flips_channels_before_mean():
    img = np.zeros((1, 2, 2, 3), np.uint8)
    img[..., 0] = 10  # blue
    img[..., 2] = 200  # red
    out = normalize(img, Preprocess(color="rgb", mean=(1, 2, 3), std=(1, 1, 1)))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([199.0, -2.0, 7.0]))


def test_preprocess_config_roundtrip_and_errors():
    pre = Preprocess.from_config(dict(color="RGB", mean=[1, 2, 3], std=[4, 5, 6], pad_value=0))
    assert Preprocess.from_config(pre.to_dict()) == pre
    assert pre.to_dict() == dict(color="rgb", mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], pad_value=0,
                                 resize="letterbox", interpolation="linear")
    from sscma_rtmdet.targets import TARGETS
    firmware = Preprocess.from_config(dict(color="bgr"), TARGETS["sscma-micro"])  # the target fills resize
    assert (firmware.resize, firmware.interpolation) == ("stretch", "nearest")
    assert Preprocess.from_config(dict(resize="letterbox"), TARGETS["sscma-micro"]).resize == "letterbox"
    with pytest.raises(ConfigError, match="preprocess.resize"):
        Preprocess.from_config(dict(resize="crop"))
    with pytest.raises(ConfigError, match="preprocess.color"):
        Preprocess.from_config(dict(color="yuv"))
    with pytest.raises(ConfigError, match="unknown key"):
        Preprocess.from_config(dict(colour="bgr"))
    with pytest.raises(ConfigError, match="preprocess.std"):
        Preprocess.from_config(dict(std=[1, 0, 1]))


@pytest.mark.parametrize("hw,size,new_hw", [((100, 50), (192, 256), (192, 96)),
                                            ((60, 200), (192, 256), (77, 256)),
                                            ((480, 640), (64, 64), (48, 64))])
def test_letterbox_keeps_ratio_and_pads_bottom_right(hw, size, new_hw):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (*hw, 3), dtype=np.uint8)
    out, scale, pad = letterbox(img, size, 114)
    assert out.shape == (*size, 3) and out.dtype == np.uint8 and pad == (0, 0)
    assert scale == pytest.approx(min(size[0] / hw[0], size[1] / hw[1]))
    nh, nw = new_hw
    expected = __import__("cv2").resize(img, (nw, nh), interpolation=1)
    assert np.array_equal(out[:nh, :nw], expected)
    assert (out[nh:] == 114).all() and (out[:, nw:] == 114).all()
