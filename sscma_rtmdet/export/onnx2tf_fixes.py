"""Work-arounds for onnx2tf 1.29.x layout bugs, expressed with its documented parameter-replacement file.

The bug (seen on RTMDet at 192x256, wrong outputs by ~2% of their range at float32): onnx2tf's `Add`
converter has a "rescue guard" that compares the TF result shape (NHWC, e.g. (1,24,32,32)) with the ONNX
output shape (NCHW, (1,32,24,32)); they differ for every 4-D add, so it transposes both operands back to
NCHW and the graph carries a channel-first tensor in an NHWC model. Later ops re-guess its layout from
shapes alone. When a spatial size equals a channel count (W/8 = 32 = C in the CSP stage at stride 8 for a
256-wide input) the guess is ambiguous: `Concat` falls back to trying every axis permutation, ranks
(0,2,1,3) and (0,3,1,2) equal, takes the first and so concatenates a W-major tensor with an NHWC one.
Square inputs of the nano sizes happen to break the tie the right way.

The fix: a `post_process_transpose_perm` of (0,2,3,1) on each such `Add` output returns it to NHWC right
after the guard, so every later op sees the usual NHWC tensor and no layout has to be guessed. Had the guard
not fired on an add whose TF result already had the ONNX (NCHW) shape, the same transpose is right too;
it would only be wrong for an NHWC result whose shape equals the NCHW one (C == H == W), which is skipped.
export_tflite's check against onnxruntime remains the backstop. tests/export/test_nonsquare.py holds a
6x8x8-channel sub-graph that reproduces the bug, and fails once onnx2tf no longer needs this.
"""
from __future__ import annotations

import json
from pathlib import Path

NCHW_TO_NHWC = [0, 2, 3, 1]


def _static_shapes(model) -> dict[str, list[int]]:
    """Tensor name -> static shape for every value onnx shape inference can type (inputs, outputs, inner)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in [*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info]:
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [int(d.dim_value) for d in dims]
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def name_unnamed_nodes(model) -> bool:
    """Give every node a unique name (onnx2tf's replacement file addresses ops by name). True if changed."""
    used = {n.name for n in model.graph.node if n.name}
    changed = False
    for i, node in enumerate(model.graph.node):
        if not node.name:
            name = f"sscma_{node.op_type}_{i}"
            while name in used:
                name += "_"
            node.name, changed = name, True
            used.add(name)
    return changed


def add_layout_replacements(model) -> list[dict]:
    """Replacement entries that put each 4-D `Add` output that onnx2tf turns NCHW back into NHWC.

    The guard fires when the NHWC and NCHW shapes differ, i.e. unless C == H == W; both operands must be
    4-D (a rank-1 bias add is broadcast differently and left alone). model: onnx.ModelProto, nodes named.
    """
    shapes = _static_shapes(model)
    entries = []
    for node in model.graph.node:
        if node.op_type != "Add" or len(node.input) != 2:
            continue
        out = shapes.get(node.output[0])
        ins = [shapes.get(name) for name in node.input]
        if out is None or len(out) != 4 or any(s is None or len(s) != 4 for s in ins):
            continue
        if out[1] == out[2] == out[3]:
            continue  # NHWC shape equals the NCHW one: onnx2tf keeps the add NHWC
        entries.append({"op_name": node.name, "param_target": "outputs", "param_name": node.output[0],
                        "post_process_transpose_perm": NCHW_TO_NHWC})
    return entries


def prepare_for_onnx2tf(onnx_path: Path, json_path: Path) -> Path | None:
    """Name nodes in `onnx_path` (in place: pass onnx2tf's private copy) and write the replacement file.

    Returns json_path, or None when the graph needs no replacement.
    """
    import onnx

    model = onnx.load(str(onnx_path))
    if name_unnamed_nodes(model):
        onnx.save(model, str(onnx_path))
    entries = add_layout_replacements(model)
    if not entries:
        return None
    json_path.write_text(json.dumps({"format_version": 1, "operations": entries}, indent=1))
    return json_path
