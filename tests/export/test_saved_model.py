"""onnx_to_saved_model: onnx2tf offline on a copy, and nothing converted that we do not use."""
import warnings

import torch
from torch import nn

from sscma_rtmdet.export.saved_model import onnx_to_saved_model, quiet_tf


def test_writes_only_the_saved_model_and_restores_the_converter(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.Conv2d(8, 4, 1)).eval()
    onnx_path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (torch.randn(1, 3, 16, 16),), str(onnx_path), input_names=["x"],
                          output_names=["y"], opset_version=13, dynamo=False)
    before = onnx_path.read_bytes()
    tf = quiet_tf()
    converter = tf.lite.TFLiteConverter
    saved = onnx_to_saved_model(onnx_path, tmp_path / "out")
    assert (saved / "saved_model.pb").is_file()
    # onnx2tf's own float32/float16 .tflite files (each a second Keras save) are never made
    assert not list((tmp_path / "out").rglob("*.tflite"))
    assert tf.lite.TFLiteConverter is converter
    assert onnx_path.read_bytes() == before
    # the SavedModel is complete: it loads and computes the network (NHWC in, NHWC out)
    x = torch.randn(1, 3, 16, 16)
    fn = tf.saved_model.load(str(saved)).signatures["serving_default"]
    (got,) = fn(tf.constant(x.numpy().transpose(0, 2, 3, 1))).values()
    with torch.no_grad():
        ref = model(x).numpy().transpose(0, 2, 3, 1)
    assert abs(got.numpy() - ref).max() < 1e-4
