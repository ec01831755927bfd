"""TFLite Micro backend: run an exported .tflite with TFLM's reference kernels, as a microcontroller does.

    backend = load_tflm_backend("model_int8.tflite")         # arena sized by arena_bytes()
    out = backend(batch)    # batch (N,H,W,3) float in the input domain -> {name: (N,C,H,W) float32}
    arena_bytes("model_int8.tflite")   # tensor arena (bytes) to declare in the firmware

Same calling convention as backends.TFLiteBackend (int8 input quantised with round-half-even and clipping,
outputs dequantised, 4-D outputs NHWC -> NCHW, 3-D outputs (1, H*W, C) returned as they are). TFLM has no
signature runner: each signature output key of the sidecar's output_map is mapped to a TFLM output index
through the flatbuffer (SignatureDef output -> tensor index -> its position in the subgraph's outputs
list), never by shape or position.

Microcontrollers (Grove Vision AI V2 CPU fallback with CMSIS-NN, XIAO ESP32-S3 with ESP-NN) run the
optimised kernels of their TFLM port; this wheel runs TFLM's portable reference kernels, which compute the
same integer arithmetic as TFLite's reference (non-XNNPACK) kernels (docs/tflm.md has the measurements).

Arena rule (arena_bytes): TFLM's RecordingMicroAllocator reports the bytes it used ("Arena allocation
total", persistent tail + planned head) after an allocate + invoke in a generous arena; that figure is the
exact minimum for a 16-byte-aligned arena whose size is a multiple of 16 (an in-process search finds the
minimum 0-15 bytes lower on some sizes: the allocator's padding depends on where the arena ends).
arena_bytes() rounds it UP to a whole KiB, the unit firmware declares `kTensorArenaSize` in. The figure is
for this x86-64 build with reference kernels: a 32-bit MCU needs less for TFLM's own structs (pointers are
4 bytes), and CMSIS-NN / ESP-NN kernels request scratch buffers of their own, so check the MCU's report.

TFLM crashes (segfault, not an error) on some too-small arenas: it dereferences a failed temp allocation.
So an explicit arena_size below the recorded need is refused before TFLM sees it, and `arena_fits()` probes
a size in a child process.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, UserError
from .backend_base import Backend, dequantize, quantize
from .metadata import read_metadata
from .validate import check_folding, check_tflite, tflite_input_folded

TFLM_VERSION = "0.dev20261023182759"  # pinned in requirements/export.txt
ARENA_ROUND = 1024  # arena_bytes() rounds up to whole KiB
_TOTAL_RE = re.compile(r"Arena allocation total (\d+) bytes")


def _tflm_runtime():
    """tflite_micro.runtime, imported on first use (heavy optional runtime, like LiteRT)."""
    try:
        from tflite_micro import runtime
    except ImportError as e:
        raise UserError(f"the TFLite Micro runtime is not installed ({e}); install it with "
                        f"`pip install --pre tflite-micro=={TFLM_VERSION}` (requirements/export.txt)") from None
    return runtime


@contextlib.contextmanager
def captured_stderr():
    """Redirect file descriptor 2 (where TFLM's C++ MicroPrintf writes) into a temp file; yields a
    zero-argument function returning what was written so far (str)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            def text() -> str:
                tmp.flush()
                tmp.seek(0)
                return tmp.read().decode("utf-8", "replace")
            yield text
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _model_graph(path: Path):
    """The flatbuffer as ModelT (ai_edge_litert's schema, the one check_tflite verified)."""
    from ai_edge_litert import schema_py_generated as schema

    return schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)


def generous_arena(model, nbytes: int) -> int:
    """An arena far above any need of `model` (ModelT, `nbytes` long): every non-constant tensor of subgraph
    0 at 8 bytes an element without reuse, twice, + the file + 1 MiB (TFLM can crash on too small ones)."""
    sub = model.subgraphs[0]
    activations = 0
    for t in sub.tensors or []:
        buf = model.buffers[t.buffer] if t.buffer < len(model.buffers or []) else None
        if buf is None or not ((buf.data is not None and len(buf.data)) or (buf.size or 0) > 0):
            activations += int(np.prod(t.shape if t.shape is not None else [1])) * 8  # up to 8-byte types
    return (2 * activations + int(nbytes) + (1 << 20) + 15) // 16 * 16


def _tail(text: str, n: int = 6) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines[-n:]) or "no message from TFLM"


def _allocate(runtime, path: Path, arena_size: int):
    """Interpreter with `arena_size` bytes, allocated and invoked once on zeros; CheckpointError with TFLM's own
    messages when it cannot (unsupported op, arena too small)."""
    with captured_stderr() as err:
        try:
            interp = runtime.Interpreter.from_file(str(path), arena_size=int(arena_size))
            det = interp.get_input_details(0)
            interp.set_input(np.zeros(tuple(det["shape"]), det["dtype"]), 0)
            interp.invoke()
        except (RuntimeError, ValueError) as e:
            raise CheckpointError(f"{path}: TFLite Micro cannot run this model with a {arena_size}-byte arena "
                                  f"({e}: {_tail(err())})") from None
    return interp


@functools.lru_cache(maxsize=32)
def _recorded_total(resolved: str, mtime_ns: int, size: int) -> int:
    """RecordingMicroAllocator's 'Arena allocation total' for the file (cached per path, mtime and size)."""
    path = Path(resolved)
    runtime = _tflm_runtime()
    interp = _allocate(runtime, path, generous_arena(_model_graph(path), path.stat().st_size))
    with captured_stderr() as err:
        interp.print_allocations()
        report = err()
    m = _TOTAL_RE.search(report)
    if not m:
        raise CheckpointError(f"{path}: TFLite Micro printed no arena total (tflite-micro other than "
                              f"{TFLM_VERSION}?): {_tail(report)}")
    return int(m.group(1))


def _checked(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} not found")
    check_tflite(path)  # TFLM does not verify the flatbuffer either
    return path


def recorded_arena_total(path: str | os.PathLike) -> int:
    """Bytes TFLM's recording allocator used for `path` (exact for a 16-byte-aligned arena of a multiple of
    16 bytes); arena_bytes() is this rounded up to KiB."""
    path = _checked(path)
    st = path.stat()
    return _recorded_total(str(path.resolve()), st.st_mtime_ns, st.st_size)


def arena_bytes(path: str | os.PathLike) -> int:
    """The tensor arena (bytes, a multiple of ARENA_ROUND = 1024) with which TFLM allocates and invokes the
    model: the recorded total rounded up to a whole KiB (see the module docstring). Cached per file."""
    total = recorded_arena_total(path)
    return -(-total // ARENA_ROUND) * ARENA_ROUND


_PROBE = """
import sys, numpy as np
from tflite_micro import runtime
try:
    it = runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))
    d = it.get_input_details(0)
    it.set_input(np.zeros(tuple(d["shape"]), d["dtype"]), 0)
    it.invoke()
except (RuntimeError, ValueError):
    sys.exit(3)
"""


def arena_fits(path: str | os.PathLike, arena_size: int, timeout: float = 120.0) -> bool:
    """True if TFLM allocates and invokes `path` in `arena_size` bytes. Runs in a child process: on some
    too-small sizes TFLM segfaults instead of failing (a crash counts as False)."""
    path = _checked(path)
    _tflm_runtime()  # a clear error here rather than a child's ImportError
    res = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(int(arena_size))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
    return res.returncode == 0


def tflm_output_indices(path: Path, signature_key: str | None) -> dict[str, int]:
    """{signature output key: TFLM output index} via the flatbuffer's SignatureDef (output -> tensor index)
    and subgraph 0's outputs list (TFLM output i is subgraph.outputs[i])."""
    model = _model_graph(path)
    sigs = {(s.signatureKey or b"").decode(): s for s in (model.signatureDefs or [])}
    key = signature_key if signature_key is not None else next(iter(sigs), None)
    if key not in sigs:
        raise CheckpointError(f"{path}: signature {key!r} not in the model (has {list(sigs)}); re-export")
    sig = sigs[key]
    if sig.subgraphIndex != 0:
        raise CheckpointError(f"{path}: signature {key!r} runs subgraph {sig.subgraphIndex}; TFLM runs subgraph 0")
    outputs = [int(t) for t in model.subgraphs[0].outputs]
    mapping = {}
    for t in sig.outputs or []:
        name = t.name.decode()
        if outputs.count(int(t.tensorIndex)) != 1:
            raise CheckpointError(f"{path}: signature output {name!r} (tensor {t.tensorIndex}) is not exactly "
                                  f"one of the subgraph outputs {outputs}; re-export")
        mapping[name] = outputs.index(int(t.tensorIndex))
    return mapping


class TFLMBackend(Backend):
    """tflite_micro.runtime.Interpreter (reference kernels) with the arena the model needs (or arena_size)."""

    def __init__(self, path: str | os.PathLike, arena_size: int | None = None):
        path = _checked(path)
        runtime = _tflm_runtime()
        self.meta = read_metadata(path)
        check_folding(self.meta, tflite_input_folded(_model_graph(path)), path)
        self.path = path
        need = recorded_arena_total(path)
        if arena_size is not None and int(arena_size) < need:
            raise UserError(f"arena_size={arena_size} is below the {need} bytes TFLite Micro needs for {path} "
                            f"(arena_bytes() = {arena_bytes(path)}); TFLM can crash instead of failing there")
        self.arena_size = int(arena_size) if arena_size is not None else arena_bytes(path)
        self.interpreter = _allocate(runtime, path, self.arena_size)
        index = tflm_output_indices(path, self.meta.get("signature_key"))
        missing = sorted(set(self.meta["output_map"]) - set(index))
        if missing:
            raise CheckpointError(f"{path}: signature outputs {sorted(index)} lack {missing} named in the "
                                  "metadata; the sidecar belongs to another model")
        self.output_index = {key: index[key] for key in self.meta["output_map"]}
        self.input_detail = self.interpreter.get_input_details(0)
        self.output_details = {k: self.interpreter.get_output_details(i) for k, i in self.output_index.items()}

    def _run_one(self, x):
        det = self.input_detail
        if det["dtype"] != np.float32:
            x = quantize(x, _qparams(det), det["dtype"])
        self.interpreter.set_input(np.ascontiguousarray(x.astype(det["dtype"], copy=False)), 0)
        self.interpreter.invoke()
        out = {}
        for key, name in self.meta["output_map"].items():
            v, d = self.interpreter.get_output(self.output_index[key]), self.output_details[key]
            v = dequantize(v, _qparams(d)) if d["dtype"] != np.float32 else v.astype(np.float32)
            out[name] = np.ascontiguousarray(v.transpose(0, 3, 1, 2)) if v.ndim == 4 else v
        return out


def _qparams(detail) -> tuple[float, int]:
    """TFLM's per-tensor (scale, zero_point); CheckpointError for per-channel input/output quantization."""
    q = detail["quantization_parameters"]
    if len(q["scales"]) != 1 or len(q["zero_points"]) != 1:
        raise CheckpointError(f"TFLM tensor has {len(q['scales'])} scales; per-tensor quantization expected")
    return float(q["scales"][0]), int(q["zero_points"][0])


def load_tflm_backend(path: str | os.PathLike, arena_size: int | None = None) -> TFLMBackend:
    """A .tflite file (with its sidecar) on TFLite Micro; arena_size None = arena_bytes(path)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} not found")
    if path.suffix.lower() != ".tflite":
        raise UserError(f"{path}: TFLite Micro runs .tflite files only (got {path.suffix!r})")
    return TFLMBackend(path, arena_size)
