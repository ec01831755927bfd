"""Where do XNNPACK, LiteRT's builtin kernels, LiteRT's reference kernels and TFLite Micro disagree on an
int8 .tflite? Whole graph per output, then op by op.

    .venv/bin/python benchmarks/tflm_kernels.py [MODEL_int8.tflite] [--imgsz 192] [--images 16]

Without MODEL it exports the ReLU nano with the shipped glyph weights (3 fresh class heads) at --imgsz to a
temp folder (~40 s; calibration: 32 synthetic images). Test images: --images synthetic ones (another
seed), or the first --images pictures of --image-dir, letterboxed as the sidecar says.
Backends: xnnpack = LiteRT default (XNNPACK delegate), builtin = BUILTIN_WITHOUT_DEFAULT_DELEGATES (LiteRT's
optimised kernels), ref = BUILTIN_REF (LiteRT's reference kernels), tflm = tflite_micro (reference kernels).
Differences are in int8 steps. Sections:
1. outputs: max / p99 over all elements of the test images, per backend pair;
2. local: each op run alone (a one-op flatbuffer) on the builtin kernels' inputs for it, so a difference
   there is that op's own rounding (max steps, share of elements differing);
3. cumulative xnnpack vs ref: every op output made a graph output (XNNPACK's intermediates are not visible
   otherwise; the graph stays one delegate partition) and compared in graph order.
Results: docs/tflm.md.
"""
from __future__ import annotations

import collections
import copy
import os
import sys
import tempfile
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
PAIRS = [("xnnpack", "builtin"), ("xnnpack", "ref"), ("builtin", "ref"), ("ref", "tflm"), ("xnnpack", "tflm")]


def synthetic_images(n: int, hw: int, seed: int) -> np.ndarray:
    """(n, hw, hw, 3) float32 raw pixels: smoothed noise with contrast plus flat rectangles."""
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


def export_nano(imgsz: int, out_dir: Path) -> Path:
    import torch

    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.export.onnx_export import export_onnx
    from sscma_rtmdet.export.tflite_export import export_tflite
    from sscma_rtmdet.models import build_model
    from sscma_rtmdet.models.convert import load_checkpoint

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = load_config(ROOT / "configs" / "rtmdet_nano_8xb32_300e_coco_relu.py",
                      ["num_classes=3", f"imgsz=({imgsz},{imgsz})"])
    model = build_model(cfg.model)
    load_checkpoint(model, ROOT / "pretrained" / "rtmdet_nano_relu_glyphs.pth")
    onnx = out_dir / f"nano{imgsz}.onnx"
    from sscma_rtmdet.runtime.deployment import Deployment
    export_onnx(model.eval(), Deployment.for_model(model, cfg.preprocess, (imgsz, imgsz)), onnx)
    return export_tflite(onnx, out_dir / f"nano{imgsz}", ["int8"], synthetic_images(32, imgsz, 0))["int8"]


class Graph:
    """The flatbuffer (TF's object schema) with helpers to cut it into one-op models."""

    def __init__(self, data: bytes):
        from tensorflow.lite.python import schema_py_generated as schema
        from tensorflow.lite.tools import flatbuffer_utils as fbu

        self.schema, self.fbu, self.data = schema, fbu, data
        self.model = fbu.convert_bytearray_to_object(bytearray(data))
        self.sg = self.model.subgraphs[0]
        self.names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.acts = sorted({int(t) for op in self.sg.operators for t in op.outputs})

    def opname(self, k: int) -> str:
        code = self.model.operatorCodes[self.sg.operators[k].opcodeIndex]
        return self.names[max(code.builtinCode, code.deprecatedBuiltinCode)]

    def is_const(self, t: int) -> bool:
        data = self.model.buffers[self.sg.tensors[t].buffer].data
        return data is not None and len(data) > 0

    def single_op(self, k: int) -> tuple[bytes, list[int]]:
        """Op k alone: its non-constant inputs become graph inputs. Returns (flatbuffer, original input ids
        in the new graph's input order)."""
        s, op = self.schema, self.sg.operators[k]
        m = s.ModelT()
        m.version, m.operatorCodes, m.buffers = self.model.version, self.model.operatorCodes, [s.BufferT()]
        sub, remap = s.SubGraphT(), {}
        sub.tensors = []
        for t in [int(v) for v in op.inputs] + [int(v) for v in op.outputs]:
            if t >= 0 and t not in remap:
                tensor = copy.copy(self.sg.tensors[t])
                m.buffers.append(self.model.buffers[tensor.buffer] if self.is_const(t) else s.BufferT())
                tensor.buffer = len(m.buffers) - 1
                remap[t] = len(sub.tensors)
                sub.tensors.append(tensor)
        new_op = copy.copy(op)
        new_op.inputs = [remap[int(v)] if v >= 0 else -1 for v in op.inputs]
        new_op.outputs = [remap[int(v)] for v in op.outputs]
        feeds = list(dict.fromkeys(int(v) for v in op.inputs if v >= 0 and not self.is_const(int(v))))
        sub.operators, sub.inputs, sub.outputs = [new_op], [remap[t] for t in feeds], list(new_op.outputs)
        m.subgraphs = [sub]
        return bytes(self.fbu.convert_object_to_bytearray(m)), feeds

    def all_outputs(self) -> bytes:
        m = self.fbu.convert_bytearray_to_object(bytearray(self.data))
        m.subgraphs[0].outputs, m.signatureDefs = list(self.acts), []
        return bytes(self.fbu.convert_object_to_bytearray(m))


def litert(content: bytes, kind: str, preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = {"xnnpack": OpResolverType.AUTO, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                "ref": OpResolverType.BUILTIN_REF}[kind]
    it = Interpreter(model_content=content, experimental_op_resolver_type=resolver, num_threads=1,
                     experimental_preserve_all_tensors=preserve)
    it.allocate_tensors()
    return it


def run(it, feeds: list[np.ndarray], tensors) -> dict[int, np.ndarray]:
    """Invoke a LiteRT interpreter or a TFLM one (feeds in graph-input order); {tensor id: value (a copy)},
    tensors = LiteRT tensor ids, or TFLM output indices."""
    if hasattr(it, "set_tensor"):
        for det, v in zip(it.get_input_details(), feeds):
            it.set_tensor(det["index"], v)
        it.invoke()
        return {t: it.get_tensor(t).copy() for t in tensors}
    for j, v in enumerate(feeds):
        it.set_input(v, j)
    it.invoke()
    return {t: it.get_output(t) for t in tensors}


def tflm(content: bytes):
    from ai_edge_litert import schema_py_generated as schema
    from tflite_micro import runtime

    from sscma_rtmdet.runtime.tflm import generous_arena

    arena = generous_arena(schema.ModelT.InitFromPackedBuf(content, 0), len(content))
    return runtime.Interpreter.from_bytes(content, arena_size=arena)


def diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int32) - b.astype(np.int32))


def stats(d: np.ndarray) -> tuple[int, float, float]:
    return int(d.max()), float(np.quantile(d, 0.99)), float((d > 0).mean())


def whole_graph(g: Graph, xq, names):
    outs = [int(t) for t in g.sg.outputs]
    res = {k: [run(litert(g.data, k), [x], outs) for x in xq] for k in ("xnnpack", "builtin", "ref")}
    it = tflm(g.data)
    res["tflm"] = [{outs[i]: v for i, v in run(it, [x], range(len(outs))).items()} for x in xq]
    print("\n## 1. outputs: max / p99 int8 steps\n")
    print("| output | " + " | ".join(f"{a} vs {b}" for a, b in PAIRS) + " |")
    print("|---" * (len(PAIRS) + 1) + "|")
    for t in sorted(outs, key=lambda t: names[t]):
        cells = []
        for a, b in PAIRS:
            mx, p99, _ = stats(np.concatenate([diff(ra[t], rb[t]).ravel() for ra, rb in zip(res[a], res[b])]))
            cells.append(f"{mx} / {p99:g}")
        print(f"| {names[t]} | " + " | ".join(cells) + " |")


def local(g: Graph, xq):
    inter = [run(litert(g.data, "builtin", preserve=True), [x], g.acts) for x in xq]
    for i, x in enumerate(xq):
        inter[i][int(g.sg.inputs[0])] = x
    table = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0, 0, None]))
    for k, op in enumerate(g.sg.operators):
        content, feeds = g.single_op(k)
        its = {kind: litert(content, kind) for kind in ("xnnpack", "builtin", "ref")}
        its["tflm"] = tflm(content)
        for vals in inter:
            fv = [vals[t] for t in feeds]
            got = {kind: next(iter(run(it, fv, [0] if kind == "tflm" else
                                       [it.get_output_details()[0]["index"]]).values()))
                   for kind, it in its.items()}
            assert np.array_equal(got["builtin"], vals[int(op.outputs[0])]), f"op {k} alone != in the graph"
            for a, b in PAIRS[:4]:
                d = diff(got[a], got[b])
                row = table[g.opname(k)][(a, b)]
                row[0], row[1], row[2] = max(row[0], int(d.max())), row[1] + int((d > 0).sum()), row[2] + d.size
                if d.max() and row[3] is None:
                    row[3] = k
    print("\n## 2. local (each op alone): max steps, share of elements differing, first op index\n")
    print("| op type (count) | " + " | ".join(f"{a} vs {b}" for a, b in PAIRS[:4]) + " |")
    print("|---" * 5 + "|")
    counts = collections.Counter(g.opname(k) for k in range(len(g.sg.operators)))
    for name in sorted(table):
        cells = [f"{r[0]}, {r[1] / r[2]:.3%}" + (f", op {r[3]}" if r[3] is not None else "")
                 for r in (table[name][p] for p in PAIRS[:4])]
        print(f"| {name} ({counts[name]}) | " + " | ".join(cells) + " |")


def cumulative(g: Graph, xq, show: int):
    content = g.all_outputs()
    res = {k: [run(litert(content, k), [x], g.acts) for x in xq] for k in ("xnnpack", "ref")}
    rows = []
    for k, op in enumerate(g.sg.operators):
        t = int(op.outputs[0])
        rows.append((k, g.opname(k), *stats(np.concatenate([diff(a[t], b[t]).ravel()
                                                            for a, b in zip(res["xnnpack"], res["ref"])]))))
    first = next((r for r in rows if r[2]), None)
    print(f"\n## 3. cumulative xnnpack vs ref (all op outputs as graph outputs); first difference: {first}\n")
    print("| op | type | max | p99 | share differing |\n|---|---|---|---|---|")
    step = max(1, len(rows) // show)
    for r in rows[:8] + rows[8::step] + rows[-1:]:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:g} | {r[4]:.1%} |")


@click.command()
@click.argument("model", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--imgsz", default=192, show_default=True, help="export size when MODEL is not given")
@click.option("--images", default=16, show_default=True, help="test images (synthetic unless --image-dir)")
@click.option("--image-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="letterbox the first --images pictures of this folder instead")
@click.option("--rows", default=24, show_default=True, help="ops shown in the cumulative table")
def main(model, imgsz, images, image_dir, rows):
    import json

    with tempfile.TemporaryDirectory(prefix="tflm_kernels_") as tmp:
        path = model or export_nano(imgsz, Path(tmp))
        meta = json.loads(Path(str(path) + ".json").read_text())
        g = Graph(path.read_bytes())
        hw = meta["input"]["hw"]
        q = meta["input"]["quantization"]
        if image_dir is not None:
            from sscma_rtmdet.export.calibration import calibration_images, find_images

            pre = {k: meta[k] for k in ("color", "mean", "std")} | {"pad_value": meta["letterbox"]["pad_value"]}
            x = calibration_images(find_images(image_dir), hw, pre, images, cache_dir=None)
        elif hw[0] == hw[1]:
            x = synthetic_images(images, hw[0], seed=1)
        else:
            raise click.UsageError("synthetic test images are square; pass --image-dir")
        xq = np.clip(np.round(x / q["scale"]) + q["zero_point"], -128, 127).astype(np.int8)[:, None]
        sig = {t.name.decode(): int(t.tensorIndex) for t in g.model.signatureDefs[0].outputs}
        names = {sig[k]: n for k, n in meta["output_map"].items()}
        print(f"# {path.name}: {len(g.sg.operators)} ops, {len(xq)} images {hw[0]}x{hw[1]}")
        whole_graph(g, xq, names)
        local(g, xq)
        cumulative(g, xq, rows)


if __name__ == "__main__":
    main()
