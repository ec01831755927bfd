"""The conformance gate: before a file is written for a board, replay what its firmware does with it.

SSCMA-Micro v1 (the stock Grove Vision AI V2 firmware) gives a plain .tflite the first algorithm whose check
its input 0 and outputs pass (`el_algorithm_type_from_engine`, order below; dtypes are never checked); a file
for that board must come out YOLO_V8 and meet what the YOLO_V8 decode reads (targets.py), and whatever Vela
leaves on the CPU must be among the firmware's TFLite Micro kernels. SSCMA-Micro v2's RTMDet model class
(XIAO ESP32-S3) accepts one square input and six [1, H*W, C] outputs. A file that fails is an ExportFailed
naming the rule, never shipped.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ExportFailed
from ..targets import Board

V1_ORDER = ("YOLO_POSE", "YOLO_WORLD", "YOLO_V8", "NVIDIA_DET", "YOLO", "FOMO", "IMCLS")
STRIDES = (8, 16, 32)


def graph_io(path: str | Path) -> tuple[list[dict], list[dict]]:
    """Subgraph 0's inputs and outputs of a .tflite: [{shape, dtype, scale, zero_point}] in graph order."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
    sub = model.subgraphs[0]
    names = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}

    def info(i: int) -> dict:
        t = sub.tensors[i]
        q = t.quantization
        scale = float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else 0.0
        zp = int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else 0
        return {"shape": [int(v) for v in t.shape], "dtype": names[t.type], "scale": scale, "zero_point": zp}
    return [info(int(i)) for i in sub.inputs], [info(int(i)) for i in sub.outputs]


def _square(shape, multiple: int = 32) -> bool:
    return len(shape) == 4 and shape[0] == 1 and shape[1] == shape[2] and shape[1] >= 32 and \
        shape[1] % multiple == 0 and shape[3] in (1, 3)


def _anchor_pool(side: int) -> list[int]:
    return [(side // s) ** 2 for s in STRIDES]


def _pools_match(outs: list[list[int]], side: int, split: int) -> bool:
    """YOLO_POSE / YOLO_WORLD: 3-D batch-1 outputs whose anchor counts use up two pools, one per kind."""
    pools = {True: _anchor_pool(side), False: _anchor_pool(side)}
    for o in outs:
        if len(o) != 3 or o[0] != 1:
            return False
        pool = pools[o[2] == split]
        if o[1] not in pool:
            return False
        pool.remove(o[1])
    return not pools[True] and not pools[False]


def v1_algorithm(inputs: list[list[int]], outputs: list[list[int]]) -> str:
    """The algorithm SSCMA-Micro v1 picks for a model with these input / output shapes, or 'UNDEFINED'."""
    i = inputs[0] if inputs else []
    side = i[1] if len(i) == 4 else 0
    n = sum(_anchor_pool(side))
    o0 = outputs[0] if outputs else []
    checks = {
        "YOLO_POSE": _square(i) and len(outputs) >= 7 and all(len(o) == 3 and o[0] == 1 for o in outputs[:7])
        and _pose(outputs[:7], side),
        "YOLO_WORLD": _square(i) and len(outputs) >= 6 and _pools_match(outputs[:6], side, 64),
        "YOLO_V8": _square(i) and len(o0) == 3 and o0[0] == 1 and o0[2] == n and 5 <= o0[1] <= 84,
        "NVIDIA_DET": _square(i, 16) and len(outputs) >= 2 and all(len(o) >= 4 and o[1] == o[2] == side // 16
                                                                  for o in outputs[:2]),
        "YOLO": _square(i) and len(o0) == 3 and o0[0] == 1 and o0[1] == n * i[3] and 6 <= o0[2] <= 85,
        "FOMO": _any_input(i, 16) and len(o0) == 4 and o0[0] == 1 and 2 <= o0[1] <= i[1] and 2 <= o0[2] <= i[2]
        and o0[3] >= 2,
        "IMCLS": _any_input(i, 16) and len(o0) == 2 and o0[0] == 1 and o0[1] >= 2,
    }
    return next((name for name in V1_ORDER if checks[name]), "UNDEFINED")


def _pose(outs: list[list[int]], side: int) -> bool:
    pools = {1: _anchor_pool(side), 64: _anchor_pool(side)}
    total = sum(_anchor_pool(side))
    for o in outs:
        if o[2] in pools:
            if o[1] not in pools[o[2]]:
                return False
            pools[o[2]].remove(o[1])
        elif o[2] % 3 or o[1] != total:
            return False
    return not pools[1] and not pools[64]


def _any_input(i, minimum: int) -> bool:
    return len(i) == 4 and i[0] == 1 and i[1] >= minimum and i[2] >= minimum and i[3] in (1, 3)


def v1_problems(path: str | Path) -> list[str]:
    """Why the stock Grove V2 firmware would not run `path` as a YOLO_V8 detector (empty: it would)."""
    ins, outs = graph_io(path)
    algo = v1_algorithm([d["shape"] for d in ins], [d["shape"] for d in outs])
    if algo != "YOLO_V8":
        return [f"its auto-detect picks {algo}, not YOLO_V8 (input {ins[0]['shape'] if ins else None}, outputs "
                f"{[d['shape'] for d in outs]})"]
    out = []
    if ins[0]["dtype"] != "int8":
        out.append(f"input is {ins[0]['dtype']}, the firmware writes int8 pixel - 128")
    if outs[0]["dtype"] != "int8":
        out.append(f"output 0 is {outs[0]['dtype']}, the firmware reads it as int8")
    if not 0 < outs[0]["scale"] < 0.1:
        out.append(f"output 0 scale {outs[0]['scale']:g} is not in (0, 0.1): the firmware would not read its boxes "
                   "as 0..1 of the input nor its scores as percent")
    return out


def v2_problems(path: str | Path) -> list[str]:
    """Why SSCMA-Micro v2's RTMDet model class would refuse `path` (empty: it accepts it)."""
    ins, outs = graph_io(path)
    if len(ins) != 1 or not _square(ins[0]["shape"]):
        return [f"needs one square input [1, S, S, 3] (S % 32 == 0), has {[d['shape'] for d in ins]}"]
    side = ins[0]["shape"][1]
    counts = sorted(_anchor_pool(side))
    shapes = [d["shape"] for d in outs]
    if len(outs) != 6 or any(len(s) != 3 or s[0] != 1 for s in shapes):
        return [f"needs six [1, H*W, C] outputs, has {shapes}"]
    boxes = sorted(s[1] for s in shapes if s[2] == 4)
    scores = sorted(s[1] for s in shapes if s[2] != 4)
    if boxes != counts or scores != counts:
        return [f"needs a score and a box output per stride ({counts} anchors), has {shapes}"]
    if {d["dtype"] for d in outs} not in ({"int8"}, {"uint8"}):
        return [f"outputs must be all int8 or all uint8, are {sorted({d['dtype'] for d in outs})}"]
    return []


def cpu_ops_of(vela_path: str | Path) -> list[str]:
    """TFLite builtin names of the operators a Vela file leaves to the CPU (all but its ethos-u custom ops)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(Path(vela_path).read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for sub in model.subgraphs:
        for op in sub.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            custom = bytes(code.customCode or b"").decode(errors="replace") if code.customCode is not None else ""
            out.append("ETHOS_U" if custom == "ethos-u" else names.get(builtin, str(builtin)))
    return [n for n in out if n != "ETHOS_U"]


def check_for_board(board: Board, int8_path: str | Path, vela_path: str | Path | None = None) -> str:
    """ExportFailed unless `board`'s firmware runs the int8 file (and the Vela file, whose I/O it reads, and
    the ops Vela left on the CPU, read from the Vela file); returns a one-line account of what was checked."""
    v1 = board.target == "sscma-micro-v1"
    problems = [f"{Path(int8_path).name}: {p}" for p in (v1_problems if v1 else v2_problems)(int8_path)]
    cpu_ops = []
    if vela_path is not None:
        problems += [f"{Path(vela_path).name}: {p}" for p in (v1_problems if v1 else v2_problems)(vela_path)]
        cpu_ops = cpu_ops_of(vela_path)
    missing = sorted(set(cpu_ops) - set(board.cpu_ops)) if board.cpu_ops is not None else []
    if missing:
        problems.append(f"Vela left {', '.join(missing)} on the CPU, which the firmware has no kernel for")
    if problems:
        raise ExportFailed(f"{board.title} ({board.firmware}) would not run this file: " + "; ".join(problems)
                           + " -- nothing was shipped for it")
    what = "auto-detect YOLO_V8, int8 output on a scale < 0.1" if v1 else "RTMDet model class: 6 outputs"
    on_cpu = f", on the CPU {', '.join(sorted(set(cpu_ops)))} (in its kernels)" if cpu_ops else ", every op on the NPU"
    return f"conformance: {board.title}: {what}" + (on_cpu if vela_path else "")
