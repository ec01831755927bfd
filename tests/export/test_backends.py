import numpy as np
import pytest

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.runtime.backends import TorchBackend, dequantize, load_backend, quantize

from _export_helpers import dep, make_model


def test_quantize_rounds_and_clips():
    x = np.array([-1000.0, -0.26, 0.25, 0.26, 1000.0], np.float32)
    q = quantize(x, (0.5, -3), np.int8)
    assert q.dtype == np.int8 and q.tolist() == [-128, -4, -3, -2, 127]  # round half to even at 0.25/0.5
    np.testing.assert_allclose(dequantize(q, (0.5, -3)), [-62.5, -0.5, 0.0, 0.5, 65.0])


def test_load_backend_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_backend(tmp_path / "none.onnx")
    bad = tmp_path / "m.engine"
    bad.write_bytes(b"x")
    with pytest.raises(UserError, match="unknown model type"):
        load_backend(bad)
    ckpt = tmp_path / "m.pth"
    ckpt.write_bytes(b"x")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        load_backend(ckpt)


def test_batch_shape_checked():
    model = make_model("standin")
    backend = TorchBackend(model, dep(model, (64, 64)))
    assert backend.input_hw == (64, 64) and backend.num_classes == 3
    with pytest.raises(UserError, match=r"\(N, 64, 64, 3\)"):
        backend(np.zeros((1, 3, 64, 64), np.uint8))
    out = backend(np.zeros((2, 64, 64, 3), np.uint8))
    assert out["score_s8"].shape == (2, 3, 8, 8) and out["score_s8"].dtype == np.float32
