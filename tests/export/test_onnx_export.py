import json

import numpy as np
import onnx
import pytest
import torch

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.runtime.metadata import ONNX_PROPS_KEY, read_metadata
from sscma_rtmdet.export.onnx_export import export_onnx
from sscma_rtmdet.data.preprocess import normalize
from sscma_rtmdet.runtime.wrapper import ExportWrapper, first_conv
from sscma_rtmdet.runtime.backends import TorchBackend, load_backend

from _export_helpers import PRE, dep, make_model, normalise


def _batch(image_dir, hw):
    from sscma_rtmdet.export.calibration import calibration_images, find_images
    return calibration_images(find_images(image_dir), hw, PRE, n=3, cache_dir=None)


def test_centred_normalisation_folds_into_the_first_conv_exactly():
    """mean 128: the graph takes pixel - 128 and starts with the first conv (1/std in its weights), and gives
    the model's outputs on the normalised image, borders included (the conv's zero padding is pixel 128)."""
    from sscma_rtmdet.data.preprocess import Preprocess
    from sscma_rtmdet.runtime.wrapper import input_offset

    model = make_model("standin")
    pre = Preprocess(color="bgr", mean=(128.0, 128.0, 128.0), std=(57.375, 57.12, 58.395))
    raw = torch.rand(1, 3, 64, 96) * 255
    for color in ("bgr", "rgb"):
        wrapper = ExportWrapper(model, pre, True, input_color=color)
        assert wrapper.input_offset == 128 == input_offset(pre) and input_offset(PRE) == 0
        x = raw.flip(1) if color == "rgb" else raw
        got = wrapper.named(x - 128)
        cls, box = model(normalize(raw.permute(0, 2, 3, 1).numpy(), pre))
        for i, s in enumerate((8, 16, 32)):
            torch.testing.assert_close(got[f"score_s{s}"], cls[i].sigmoid(), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(got[f"box_s{s}"], box[i], rtol=1e-4, atol=1e-4)
    assert first_conv(model).weight.data_ptr() != first_conv(wrapper.model).weight.data_ptr()  # a copy


def test_wrapper_folds_normalisation_and_names():
    model = make_model("standin")
    raw = torch.rand(1, 3, 64, 96) * 255
    folded = ExportWrapper(model, PRE, True).named(raw)
    plain = ExportWrapper(model, PRE, False).named(normalise(raw.permute(0, 2, 3, 1).numpy()))
    cls, box = model(normalise(raw.permute(0, 2, 3, 1).numpy()))
    assert list(folded) == ["score_s8", "score_s16", "score_s32", "box_s8", "box_s16", "box_s32"]
    for i, s in enumerate((8, 16, 32)):
        torch.testing.assert_close(folded[f"score_s{s}"], cls[i].sigmoid(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(folded[f"box_s{s}"], box[i], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(plain[f"box_s{s}"], box[i], rtol=1e-4, atol=1e-4)
    assert folded["score_s8"].shape == (1, 3, 8, 12) and folded["box_s32"].shape == (1, 4, 2, 3)


@pytest.mark.parametrize("fold", [True, False])
def test_onnx_matches_torch(tmp_path, image_dir, fold):
    model = make_model("standin")
    path = tmp_path / "m.onnx"
    meta = export_onnx(model, dep(model, (96, 128), ["a", "b", "c"]), path, fold_normalization=fold)
    assert meta == read_metadata(path)
    proto = onnx.load(str(path))
    assert [o.name for o in proto.graph.output] == meta["output_names"]
    assert json.loads({p.key: p.value for p in proto.metadata_props}[ONNX_PROPS_KEY]) == meta
    assert meta["normalization_folded"] is fold and meta["input"]["layout"] == "NCHW"
    assert meta["deployment"]["num_classes"] == 3 and meta["outputs"]["score_s16"]["shape"] == [1, 3, 6, 8]
    raw = _batch(image_dir, (96, 128))
    x = raw if fold else normalise(raw).permute(0, 2, 3, 1).numpy()
    ref = TorchBackend(model, dep(model, (96, 128)), fold_normalization=fold)(x)
    got = load_backend(path)(x)
    assert set(got) == set(ref)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], atol=1e-4, rtol=1e-4, err_msg=name)


def test_onnx_without_sidecar_uses_embedded_metadata(tmp_path, image_dir):
    path = tmp_path / "m.onnx"
    model = make_model("standin")
    export_onnx(model, dep(model, (64, 64)), path)
    (tmp_path / "m.onnx.json").unlink()
    backend = load_backend(path)
    assert backend.input_hw == (64, 64) and backend.num_classes == 3


def test_real_nano_relu_onnx(tmp_path, image_dir):
    model = make_model("nano")
    path = tmp_path / "nano.onnx"
    export_onnx(model, dep(model, (192, 256)), path)
    raw = _batch(image_dir, (192, 256))[:2]
    ref = TorchBackend(model, dep(model, (192, 256)))(raw)
    got = load_backend(path, threads=2)(raw)
    assert got["score_s8"].shape == (2, 5, 24, 32) and got["box_s32"].shape == (2, 4, 6, 8)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], atol=1e-4, rtol=1e-4, err_msg=name)


def test_bad_imgsz(tmp_path):
    from sscma_rtmdet.errors import CheckpointError

    model = make_model("standin")
    with pytest.raises((UserError, CheckpointError), match="multiple"):
        export_onnx(model, dep(model, (100, 128)), tmp_path / "m.onnx")
