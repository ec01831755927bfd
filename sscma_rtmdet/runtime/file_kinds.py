"""Which model files a runtime can run, checked before any loading so the error names the real cause.

- A Vela file (`*_vela.tflite`, or any .tflite holding the `ethos-u` custom op) is one NPU command stream:
  it runs only on an Ethos-U NPU, never on a CPU, and export writes no sidecar for it; the `*_int8.tflite`
  it was compiled from is the same model and is the file to score, run or describe.
- `--runtime tflm` runs .tflite files, int8 or float32: TFLite Micro has no float16 kernels, and a .pth or
  .onnx is not an MCU file at all.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError, UserError

_ETHOS_U_OP = b"ethos-u"
_MAX_SCAN_BYTES = 64 << 20  # the custom op name sits in the flatbuffer's operator codes; models are a few MB


def is_vela_file(path: str | Path) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".tflite":
        return False
    if path.name.lower().endswith("_vela.tflite"):
        return True
    try:
        with open(path, "rb") as f:
            return _ETHOS_U_OP in f.read(_MAX_SCAN_BYTES)
    except OSError:
        return False


def int8_source(path: Path) -> str:
    """The int8 file a Vela file was compiled from (export's naming), or a description of it."""
    if path.name.lower().endswith("_vela.tflite"):
        return str(path.with_name(path.name[: -len("_vela.tflite")] + ".tflite"))
    return "the *_int8.tflite it was compiled from"


def refuse_vela(path: str | Path) -> None:
    """CheckpointError for a Vela file: it runs on the Ethos-U NPU only."""
    path = Path(path)
    if is_vela_file(path):
        raise CheckpointError(f"{path} is compiled by Vela for the Ethos-U NPU (Grove Vision AI V2): it runs only "
                              f"on the NPU, not on this computer; to score, run or describe the same model use "
                              f"{int8_source(path)} next to it")


def _has_float16(path: Path) -> bool:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    return any(t.type == schema.TensorType.FLOAT16 for sub in model.subgraphs or [] for t in sub.tensors or [])


def check_runtime(path: str | Path, runtime: str) -> None:
    """UserError when `runtime` cannot run the file at `path` (see the module's docstring)."""
    path = Path(path)
    refuse_vela(path)
    if runtime != "tflm":
        return
    if path.suffix.lower() != ".tflite":
        raise UserError(f"--runtime tflm runs the .tflite files an MCU runs (int8 or float32), not {path.name}: "
                        "drop --runtime tflm to run it as is, or export it (tools/export.py --format tflite) and "
                        "give the *_int8.tflite")
    try:
        float16 = _has_float16(path)
    except Exception:  # not a flatbuffer we can read: the loader's own check names the problem
        return
    if float16:
        raise UserError(f"--runtime tflm: {path.name} is a float16 file; TFLite Micro runs int8 and float32 files "
                        "(it has no float16 kernels): give the *_int8.tflite (what an MCU runs) or the "
                        "*_float32.tflite, or drop --runtime tflm to run this one with LiteRT")
