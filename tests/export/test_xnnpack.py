"""XNNPACK (LiteRT's CPU delegate) must take every exported graph whole: one partition, no op left out."""
import numpy as np
import pytest
import torch
from torch import nn

from sscma_rtmdet.export.onnx_export import Relu6HardSigmoid, xnnpack_gates
from sscma_rtmdet.export.xnnpack import nearest_resize_as_concat, xnnpack_delegation


def test_relu6_hardsigmoid_is_hardsigmoid():
    x = torch.linspace(-5, 5, 10001)
    torch.testing.assert_close(Relu6HardSigmoid()(x), nn.functional.hardsigmoid(x), rtol=0, atol=1e-7)


def test_xnnpack_gates_swaps_and_restores():
    from sscma_rtmdet.models.layers import ChannelAttention

    model = nn.Sequential(ChannelAttention(8), nn.Hardsigmoid()).eval()
    x = torch.randn(2, 8, 5, 5)
    ref = model(x)
    with xnnpack_gates(model):
        assert isinstance(model[0].gate, Relu6HardSigmoid) and isinstance(model[1], Relu6HardSigmoid)
        torch.testing.assert_close(model(x), ref, rtol=0, atol=1e-6)
    assert type(model[0].gate) is nn.Hardsigmoid and type(model[1]) is nn.Hardsigmoid


def _resize_model(int8: bool) -> bytes:
    from sscma_rtmdet.export.saved_model import quiet_tf

    tf = quiet_tf()

    @tf.function(input_signature=[tf.TensorSpec((1, 3, 4, 5), tf.float32)])
    def up(x):  # factors (2, 3): height and width are handled by separate concat + reshape steps
        return tf.image.resize(x * 2.0, (6, 12), method="nearest") + 1.0

    conv = tf.lite.TFLiteConverter.from_concrete_functions([up.get_concrete_function()], up)
    if int8:
        rng = np.random.default_rng(0)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([rng.normal(size=(1, 3, 4, 5)).astype(np.float32)] for _ in range(8))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def _run_reference(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=model,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
def test_nearest_resize_rewrite_is_exact(int8):
    original = _resize_model(int8)
    rewritten = nearest_resize_as_concat(original)
    assert xnnpack_delegation(original).undelegated == {"RESIZE_NEAREST_NEIGHBOR": 1}
    got = xnnpack_delegation(rewritten)
    assert got.partitions == 1 and got.undelegated == {} and got.delegated == got.total
    rng = np.random.default_rng(1)
    x = (rng.integers(-128, 128, (1, 3, 4, 5)).astype(np.int8) if int8
         else rng.normal(size=(1, 3, 4, 5)).astype(np.float32))
    np.testing.assert_array_equal(_run_reference(rewritten, x), _run_reference(original, x))


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "float16", "int8"])
@pytest.mark.parametrize("target", ["generic", "sscma-micro"])
def test_relu_nano_runs_as_one_xnnpack_partition(exports, precision, target):
    """Channel-attention gates, mean, nearest upsampling, concat, int8 (re)quantize, the firmware layout's
    reshapes: all inside XNNPACK."""
    exp = exports.get("nano", (64, 64), target)
    got = xnnpack_delegation(exp[precision])
    assert got.undelegated == {} and got.delegated == got.total > 100 and got.partitions == 1, got
