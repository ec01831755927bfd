"""The calling convention every model-file backend shares (backends.py, tflm.py): NHWC batches in, outputs
by our names out, and what the decoder reads of them (`head_outputs`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, UserError
from .deployment import Deployment
from .layout import output_shapes, to_canonical
from .metadata import deployment_of, input_offset_of


@dataclass
class HeadOutputs:
    """Per-level scores (N,C,H,W) (logits or sigmoid), pixel distances (N,4,H,W), and for int8 logit outputs
    the quantization step of each score output (the firmware thresholds on that grid)."""
    scores: list
    boxes: list
    are_logits: bool
    score_steps: list | None = None


class Backend:
    """Common interface: `__call__(batch NHWC) -> {name: array}`, `.input_hw`, `.num_classes`, `.deployment`.
    The batch is raw pixels 0..255 (a folded graph) or normalised values; `__call__` shifts pixels by the
    graph's input offset, so every caller feeds pixels whatever the file does inside."""

    meta: dict
    path: Path | None = None

    @property
    def deployment(self) -> Deployment:
        if getattr(self, "_deployment", None) is None:
            self._deployment = deployment_of(self.meta, str(self.path or "model"))
        return self._deployment

    @property
    def input_hw(self) -> tuple[int, int]:
        return tuple(self.meta["input"]["hw"])

    @property
    def num_classes(self) -> int:
        return self.deployment.num_classes

    @property
    def output_names(self) -> list[str]:
        return list(self.meta["output_names"])

    def _check_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        h, w = self.input_hw
        if batch.ndim != 4 or batch.shape[1:] != (h, w, 3):
            raise UserError(f"input batch has shape {batch.shape}; this model takes (N, {h}, {w}, 3) "
                            "prepared images")
        return batch

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        batch = self._check_batch(batch)
        offset = np.float32(input_offset_of(self.meta))  # pixels -> the graph's input (pixel - 128 when centred)
        per_image = [self._run_one(batch[i:i + 1].astype(np.float32) - offset) for i in range(batch.shape[0])]
        return {n: np.concatenate([o[n] for o in per_image]).astype(np.float32) for n in self.output_names}

    def _run_one(self, x: np.ndarray) -> dict[str, np.ndarray]:  # x (1,H,W,3) float32
        raise NotImplementedError

    def head_outputs(self, out: dict) -> HeadOutputs:
        dep = self.deployment
        scores, boxes, logits = to_canonical(out, dep.strides, dep.layout, dep.num_classes, dep.imgsz)
        steps = None
        if logits and self.meta["precision"] == "int8":
            steps = [(self.meta["outputs"][f"score_s{s}"].get("quantization") or {}).get("scale")
                     for s in dep.strides]
        return HeadOutputs(scores, boxes, logits, steps)

    def _check_output_shapes(self, shapes: dict[str, tuple]) -> None:
        """The graph's own output shapes must be those its sidecar's deployment describes."""
        dep = self.deployment
        want = output_shapes(dep.layout, dep.imgsz, dep.strides, dep.num_classes)
        for name, shape in shapes.items():
            got = list(shape)
            exp = want[name]
            if len(got) == 4 and self.meta["input"]["layout"] == "NHWC" and dep.layout == "nchw":
                exp = [exp[0], exp[2], exp[3], exp[1]]
            if got[1:] != exp[1:]:
                raise CheckpointError(f"{self.path}: output {name} has shape {got} but its sidecar describes "
                                      f"{exp} ({dep.num_classes} classes, layout {dep.layout}, "
                                      f"{dep.imgsz[0]}x{dep.imgsz[1]}); the sidecar belongs to another model")


def quantize(x: np.ndarray, qparams, dtype) -> np.ndarray:
    """float -> integer with round-half-even and clipping to the dtype range. qparams (scale, zero_point)."""
    scale, zp = qparams
    if scale == 0:
        raise CheckpointError("quantized input has scale 0; the model was not calibrated")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, qparams) -> np.ndarray:
    scale, zp = qparams
    return ((q.astype(np.float32) - zp) * scale).astype(np.float32)
