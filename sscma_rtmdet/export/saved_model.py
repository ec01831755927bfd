"""ONNX -> TensorFlow SavedModel with onnx2tf, offline and without touching its input file.

onnx2tf downloads a calibration sample on every conversion unless told otherwise, rewrites its input .onnx in
place, and mixes up NCHW/NHWC after some 4-D Adds: `onnx_to_saved_model` guards against all three. It also
converts its Keras model to float32 and float16 TFLite after writing the SavedModel, files we never use
(tools/export.py converts the SavedModel itself); those two conversions are stopped.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import ExportFailed
from ..utils.native import quiet_native
from .onnx2tf_fixes import prepare_for_onnx2tf


class ExportError(ExportFailed, RuntimeError):
    """A conversion produced a wrong or partially-float model (never silently accepted)."""


def quiet_tf():
    """TensorFlow, imported without its start-up chatter (utils.native.quiet_native)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native():
        import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    with contextlib.suppress(Exception):
        import absl.logging
        absl.logging.set_verbosity(absl.logging.ERROR)
    return tf


class _SavedModelWritten(BaseException):
    """Ends onnx2tf's convert() where its own TFLite conversions begin (a BaseException: onnx2tf catches
    Exception around them). Each saves the Keras model again; the two were ~75% of a conversion's time."""


class _StopAtTFLite:
    """Stands in for tf.lite.TFLiteConverter while onnx2tf runs."""

    @staticmethod
    def _stop(*args, **kwargs):
        raise _SavedModelWritten

    from_keras_model = from_concrete_functions = from_saved_model = _stop


def _fake_sample_images() -> np.ndarray:
    """Stand-in for onnx2tf's downloaded 20x128x128x3 sample: it only feeds its internal op checks."""
    return np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)


def onnx_to_saved_model(onnx_path: Path, out_dir: Path, strict: bool = False) -> Path:
    """Run onnx2tf in-process on a private copy (it rewrites its input) with no network access.

    The copy's nodes get names and a param-replacement file fixes onnx2tf's NCHW/NHWC mix-up after 4-D
    `Add`s (wrong results whenever a feature map's width or height equals its channel count).

    strict=False skips onnx2tf's accuracy-correction pass (~25% faster); export_tflite verifies the
    result against onnxruntime and redoes the conversion with strict=True if it is off.
    """
    tf = quiet_tf()
    import onnx2tf.onnx2tf as o2t

    work = out_dir / "onnx"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "model.onnx"
    shutil.copy2(onnx_path, src)
    replacements = prepare_for_onnx2tf(src, work / "param_replacement.json")  # see onnx2tf_fixes
    saved = out_dir / "saved_model"
    original, converter = o2t.download_test_image_data, tf.lite.TFLiteConverter
    o2t.download_test_image_data = _fake_sample_images  # never touch the network
    tf.lite.TFLiteConverter = _StopAtTFLite
    log = io.StringIO()
    try:
        # tf_keras prints every captured TensorSpec; _SavedModelWritten is the planned end (see _StopAtTFLite)
        with contextlib.redirect_stdout(log), contextlib.suppress(_SavedModelWritten), quiet_native():
            o2t.convert(input_onnx_file_path=str(src), output_folder_path=str(saved), output_signaturedefs=True,
                        disable_strict_mode=not strict, not_use_onnxsim=True,  # export_onnx already simplified; onnx2tf would shell out for it
                        param_replacement_file=str(replacements or ""),
                        verbosity="error", non_verbose=True)
    finally:
        o2t.download_test_image_data, tf.lite.TFLiteConverter = original, converter
    if not (saved / "saved_model.pb").is_file():
        raise ExportError(f"onnx2tf produced no SavedModel for {onnx_path}:\n{log.getvalue()[-3000:]}")
    return saved
