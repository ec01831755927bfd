"""Fixtures of the bad-input matrix: the tiny run's model exported once per session (ONNX + float32 TFLite,
~10 s), and a fresh Workspace per test."""
from __future__ import annotations

import pytest

from _workspace import Workspace


@pytest.fixture(scope="session")
def tiny_exports(tiny_run, tmp_path_factory) -> dict:
    """{'onnx': path, 'float32': path} of tiny_run's checkpoint, with sidecars."""
    from sscma_rtmdet.export.onnx_export import export_onnx
    from sscma_rtmdet.export.tflite_export import export_tflite
    from sscma_rtmdet.runtime.deployment import Deployment
    from sscma_rtmdet.runtime.torch_model import load_model

    model, meta = load_model(tiny_run["ckpt"])
    stem = tmp_path_factory.mktemp("tiny_exports") / "tiny"
    export_onnx(model, Deployment.from_dict(meta["deployment"]), stem.with_suffix(".onnx"),
                source_checkpoint=str(tiny_run["ckpt"]))
    files = export_tflite(stem.with_suffix(".onnx"), stem, ["float32"])
    return {"onnx": stem.with_suffix(".onnx"), "float32": files["float32"]}


@pytest.fixture
def ws(tmp_path, tiny_run) -> Workspace:
    return Workspace(tmp_path, tiny_run)
