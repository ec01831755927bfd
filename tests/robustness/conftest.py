"""Fixtures of the bad-input matrix: the tiny run's model exported once per session (ONNX + float32 TFLite,
~10 s), and a fresh Workspace per test."""
from __future__ import annotations

import pytest

from _workspace import Workspace


@pytest.fixture(scope="session")
def tiny_exports(tiny_run, tmp_path_factory) -> dict:
    """{'onnx': path, 'float32': path} of tiny_run's checkpoint, with sidecars."""
    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.data.preprocess import Preprocess
    from sscma_rtmdet.export.onnx_export import export_onnx
    from sscma_rtmdet.export.tflite_export import export_tflite
    from sscma_rtmdet.runtime.torch_model import load_torch_model

    cfg = load_config(tiny_run["config"], tiny_run["options"])
    model, meta = load_torch_model(cfg, tiny_run["ckpt"])
    stem = tmp_path_factory.mktemp("tiny_exports") / "tiny"
    export_onnx(model, Preprocess.from_config(cfg.preprocess), (64, 64), stem.with_suffix(".onnx"),
                num_classes=3, class_names=meta["classes"], source_checkpoint=str(tiny_run["ckpt"]))
    files = export_tflite(stem.with_suffix(".onnx"), stem, ["float32"])
    return {"onnx": stem.with_suffix(".onnx"), "float32": files["float32"]}


@pytest.fixture
def ws(tmp_path, tiny_run) -> Workspace:
    return Workspace(tmp_path, tiny_run)
