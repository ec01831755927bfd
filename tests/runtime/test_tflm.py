"""TFLite Micro backend (runtime/tflm.py): outputs vs LiteRT, mapping by name, the arena rule, errors.

One int8 ReLU nano (the shipped glyph weights, 3 fresh class heads) exported at 64x64 once per module
(~35 s): TFLM must reproduce LiteRT's reference kernels bit for bit and stay close to XNNPACK.
"""
from __future__ import annotations

import json
import shutil
import sys
import time

import numpy as np
import pytest

from _shared import REPO
from sscma_rtmdet.errors import CheckpointError, UserError
from sscma_rtmdet.utils.paths import PRETRAINED_DIR

RELU_NANO = REPO / "configs" / "rtmdet_nano_8xb32_300e_coco_relu.py"
HW = 64
# TFLM vs LiteRT+XNNPACK on the 16 calibration images, in int8 steps of each output. Measured (x86-64 AVX2):
# box_s8 21, box_s16 15, box_s32 7, scores 1 / 1 / 0. TFLM equals LiteRT's reference kernels exactly; XNNPACK
# rounds a few conv / depthwise / mean / mul / quantize results one step differently and the box head
# amplifies that (docs/tflm.md). Bounds with a margin (XNNPACK's microkernels differ by ISA):
MAX_STEPS_VS_XNNPACK = {"score": 2, "box": 32}


def _images(n: int, hw: int, seed: int) -> np.ndarray:
    """(n, hw, hw, 3) float32 raw pixels: smoothed noise with contrast, plus flat rectangles."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = cv2.GaussianBlur(rng.uniform(0, 255, (hw, hw, 3)).astype(np.float32), (0, 0), hw / 16)
        x = (x - x.mean()) * 4 + 128
        for _ in range(3):
            x0, y0 = rng.integers(0, hw - 8, 2)
            h, w = rng.integers(4, hw // 2, 2)
            x[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 255, 3)
        out.append(np.clip(x, 0, 255))
    return np.stack(out).astype(np.float32)


@pytest.fixture(scope="module")
def int8_nano(tmp_path_factory):
    for mod in ("tflite_micro", "ai_edge_litert", "onnx2tf"):
        pytest.importorskip(mod)
    import torch

    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.export.onnx_export import export_onnx
    from sscma_rtmdet.export.tflite_export import export_tflite
    from sscma_rtmdet.models import build_model
    from sscma_rtmdet.models.convert import load_checkpoint

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = load_config(RELU_NANO, ["num_classes=3", f"imgsz=({HW},{HW})"])
    model = build_model(cfg.model)
    load_checkpoint(model, PRETRAINED_DIR / "rtmdet_nano_relu_glyphs.pth")  # class heads stay random
    calib = _images(16, HW, seed=0)
    root = tmp_path_factory.mktemp("tflm")
    onnx = root / "nano.onnx"
    from sscma_rtmdet.runtime.deployment import Deployment
    export_onnx(model.eval(), Deployment.for_model(model, cfg.preprocess, (HW, HW)), onnx)
    path = export_tflite(onnx, root / "nano", ["int8"], calib)["int8"]
    return {"path": path, "calib": calib, "root": root}


def _steps(a: dict, b: dict, meta: dict) -> dict[str, int]:
    return {n: int(np.rint(np.abs(a[n] - b[n]).max() / meta["outputs"][n]["quantization"]["scale"]))
            for n in meta["output_names"]}


def _litert_reference(path, batch: np.ndarray, meta: dict) -> dict:
    """LiteRT with its reference kernels (BUILTIN_REF, no delegate), through the signature runner."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from sscma_rtmdet.runtime.backends import dequantize, quantize
    from sscma_rtmdet.runtime.metadata import input_offset_of

    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    runner = interp.get_signature_runner(meta["signature_key"])
    (key, det), = runner.get_input_details().items()
    outs = runner.get_output_details()
    res = {}
    for x in batch:
        graph_in = x[None] - np.float32(input_offset_of(meta))  # pixels -> the graph's input (pixel - 128)
        raw = runner(**{key: quantize(graph_in, det["quantization"], det["dtype"])})
        for k, name in meta["output_map"].items():
            res.setdefault(name, []).append(dequantize(raw[k], outs[k]["quantization"]).transpose(0, 3, 1, 2))
    return {n: np.concatenate(v) for n, v in res.items()}


def test_tflm_matches_litert(int8_nano):
    from sscma_rtmdet.runtime.backends import load_backend
    from sscma_rtmdet.runtime.tflm import load_tflm_backend

    path, calib = int8_nano["path"], int8_nano["calib"]
    tflm = load_tflm_backend(path)
    got = tflm(calib)
    meta = tflm.meta
    for name in meta["output_names"]:
        assert got[name].dtype == np.float32 and list(got[name].shape[1:]) == meta["outputs"][name]["shape"][1:]
    assert _steps(got, _litert_reference(path, calib, meta), meta) == {n: 0 for n in meta["output_names"]}
    steps = _steps(got, load_backend(path)(calib), meta)  # LiteRT default: XNNPACK
    for name, s in steps.items():
        assert s <= MAX_STEPS_VS_XNNPACK[name.split("_")[0]], steps


def test_output_index_matches_litert_tensor_index(int8_nano):
    """Our SignatureDef -> subgraph-output mapping names the tensors LiteRT's signature runner reads."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter

    from sscma_rtmdet.runtime.metadata import read_metadata
    from sscma_rtmdet.runtime.tflm import tflm_output_indices

    path = int8_nano["path"]
    meta = read_metadata(path)
    index = tflm_output_indices(path, meta["signature_key"])
    details = Interpreter(model_path=str(path)).get_signature_runner(meta["signature_key"]).get_output_details()
    outputs = list(schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0).subgraphs[0].outputs)
    assert sorted(index) == sorted(details) == sorted(meta["output_map"])
    assert {k: int(outputs[i]) for k, i in index.items()} == {k: d["index"] for k, d in details.items()}
    assert sorted(index.values()) != list(index.values())  # signature order differs from subgraph order here


def _copy_with_sidecar(src, dst_dir, edit) -> object:
    dst_dir.mkdir(exist_ok=True)
    dst = dst_dir / src.name
    shutil.copyfile(src, dst)
    meta = json.loads((src.parent / (src.name + ".json")).read_text())
    edit(meta)
    (dst_dir / (src.name + ".json")).write_text(json.dumps(meta))
    return dst


def test_outputs_follow_the_names(int8_nano):
    from sscma_rtmdet.runtime.tflm import load_tflm_backend

    path, x, root = int8_nano["path"], int8_nano["calib"][:2], int8_nano["root"]
    ref = load_tflm_backend(path)(x)

    def reverse(meta):
        meta["output_map"] = dict(reversed(list(meta["output_map"].items())))

    got = load_tflm_backend(_copy_with_sidecar(path, root / "reversed", reverse))(x)
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name])

    def swap(meta):  # the keys of score_s8 and box_s8 exchanged: the values must move with the names
        inv = {v: k for k, v in meta["output_map"].items()}
        meta["output_map"][inv["score_s8"]], meta["output_map"][inv["box_s8"]] = "box_s8", "score_s8"

    got = load_tflm_backend(_copy_with_sidecar(path, root / "swapped", swap))(x)
    np.testing.assert_array_equal(got["score_s8"], ref["box_s8"])
    np.testing.assert_array_equal(got["box_s8"], ref["score_s8"])
    np.testing.assert_array_equal(got["box_s16"], ref["box_s16"])


def test_arena_bytes(int8_nano):
    from sscma_rtmdet.runtime import tflm

    path = int8_nano["path"]
    tflm._recorded_total.cache_clear()
    t0 = time.perf_counter()
    need = tflm.arena_bytes(path)
    assert time.perf_counter() - t0 < 5.0
    total = tflm.recorded_arena_total(path)
    assert need % 1024 == 0 and 0 <= need - total < 1024 and total % 16 == 0
    assert tflm.arena_fits(path, need) and not tflm.arena_fits(path, need - 1024)
    assert tflm.arena_fits(path, total) and not tflm.arena_fits(path, total - 16)  # exact to 16 bytes
    assert tflm.load_tflm_backend(path).arena_size == need
    with pytest.raises(UserError, match=f"arena_size={need - 1024} is below the {total} bytes"):
        tflm.load_tflm_backend(path, arena_size=need - 1024)


def test_missing_file_and_wrong_suffix(tmp_path):
    from sscma_rtmdet.runtime.tflm import arena_bytes, load_tflm_backend

    with pytest.raises(UserError, match="nope.tflite not found"):
        load_tflm_backend(tmp_path / "nope.tflite")
    with pytest.raises(UserError, match="nope.tflite not found"):
        arena_bytes(tmp_path / "nope.tflite")
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(UserError, match=r"\.tflite files only"):
        load_tflm_backend(tmp_path / "m.onnx")


def test_corrupt_file_is_an_error_not_a_crash(int8_nano, tmp_path):
    from sscma_rtmdet.runtime.tflm import arena_bytes, load_tflm_backend

    path = int8_nano["path"]
    cut = _copy_with_sidecar(path, tmp_path, lambda meta: None)
    cut.write_bytes(path.read_bytes()[:4096])
    with pytest.raises(CheckpointError, match="not a valid TFLite model"):
        load_tflm_backend(cut)
    with pytest.raises(CheckpointError, match="not a valid TFLite model"):
        arena_bytes(cut)


def test_missing_tflite_micro_is_a_clear_error(int8_nano, monkeypatch):
    from sscma_rtmdet.runtime import tflm

    monkeypatch.setitem(sys.modules, "tflite_micro", None)  # `import tflite_micro` raises ImportError
    tflm._recorded_total.cache_clear()
    for call in (tflm.load_tflm_backend, tflm.arena_bytes):
        with pytest.raises(UserError, match=f"pip install --pre tflite-micro=={tflm.TFLM_VERSION}"):
            call(int8_nano["path"])
