"""The Python API in the style people know:

    from sscma_rtmdet import RTMDet, train
    run = train("configs/rtmdet_nano_8xb32_300e_coco.py", data="datasets/mask", epochs=50, imgsz=192)
    model = RTMDet(run.best)                        # or any .pth / .onnx / .tflite
    results = model.predict(["a.jpg", "b.jpg"])     # one Result per image
    results[0].boxes, results[0].names              # boxes in original pixels
    results[0].save("a_pred.jpg")                   # .plot() gives the drawn image
    metrics = model.val(data="datasets/mask")       # COCO metrics, scored as the file's runtime does
    files = model.export(formats=("tflite", "vela"))  # checkpoints only
    qat = model.quantize("configs/rtmdet_nano_8xb32_300e_coco_relu.py", options={"max_epochs": 5})  # QAT int8

Each call is the same code path as the matching CLI command (tools/train.py, test.py, export.py, infer.py,
quantization.py): the workflows and settings in sscma_rtmdet/workflows/.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from .errors import UserError
from .inference.detector import DISPLAY_SCORE_THR, Detections, Detector, _read

if TYPE_CHECKING:
    from .workflows.quantize import QuantizeResult
    from .workflows.train import TrainResult


@dataclass
class Result:
    """Detections on one image, with the image to draw them on."""
    image: np.ndarray        # (h, w, 3) BGR uint8
    detections: Detections
    classes: list[str]       # the model's class names (labels index them)
    path: Path | None = None

    @property
    def boxes(self) -> np.ndarray:
        return self.detections.boxes

    @property
    def scores(self) -> np.ndarray:
        return self.detections.scores

    @property
    def labels(self) -> np.ndarray:
        return self.detections.labels

    @property
    def names(self) -> list[str]:
        return self.detections.names

    def __len__(self) -> int:
        return len(self.detections)

    def plot(self) -> np.ndarray:
        """A copy of the image with boxes, class names and scores drawn (BGR uint8)."""
        from .visualize import draw_detections

        d = self.detections
        return draw_detections(self.image, d.boxes, d.scores, d.labels, self.classes, 0.0)

    def save(self, path: str | os.PathLike) -> Path:
        """Write plot() to `path` (atomic; the image format from the suffix)."""
        import cv2

        from .utils.fileio import atomic_write

        path = Path(path)
        if not cv2.haveImageWriter(f"x{path.suffix}"):  # cv2.imwrite raises on an unknown suffix, not False
            raise UserError(f"Result.save: cannot write {path}: the suffix {path.suffix!r} is not an image "
                            "format OpenCV writes; use .jpg, .png, .bmp or .webp")
        with atomic_write(path) as tmp:
            if not cv2.imwrite(str(tmp), self.plot()):
                raise UserError(f"could not write {path} (cv2.imwrite failed: check the suffix)")
        return path


class RTMDet:
    """A trained detector file (.pth, .onnx, .tflite), fed and read as its deployment record says."""

    def __init__(self, path: str | os.PathLike, device: str = "auto", threads: int = 2, runtime: str = "litert"):
        from .utils.device import resolve_device

        self.path = Path(path)
        self.device, self.threads, self.runtime = resolve_device(device), threads, runtime
        self._detector: Detector | None = None

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = Detector(self.path, device=self.device, threads=self.threads, runtime=self.runtime)
        return self._detector

    @property
    def classes(self) -> list[str]:
        return self.detector.classes

    def predict(self, images, score_thr: float = DISPLAY_SCORE_THR) -> list[Result]:
        """Detections for one image or many: paths or BGR uint8 arrays. Returns a list of Result."""
        det = self.detector
        det.test_cfg["score_thr"] = float(score_thr)
        out = []
        for item in _as_list(images):
            path = None if isinstance(item, np.ndarray) else Path(item)
            img = item if path is None else _read(path)
            out.append(Result(img, det(img), det.classes, path))
        return out

    def val(self, data: str | os.PathLike | None = None, split: str = "val", **options) -> dict:
        """COCO metrics of the file on a dataset (any layout --data takes; default: the one it was trained
        on): {'coco/bbox_mAP': ..., ...}. `options` are --cfg-options (e.g. val_batch_size=4)."""
        from .evaluation.evaluate import evaluate
        from .workflows.settings import resolve_settings

        cfg = resolve_settings(None, _typed(options), self.path, data)
        res = evaluate(cfg, self.path, split, device=self.device, threads=self.threads, runtime=self.runtime,
                       progress=False, log=None)
        return dict(res["metrics"], per_class=res["per_class"])

    def export(self, formats: Iterable[str] = ("onnx", "tflite"), out_dir: str | os.PathLike | None = None,
               **request) -> dict[str, Path]:
        """Export a checkpoint (tools/export.py): {'onnx': path, 'int8': path, ...}. `request`: fields of
        export.pipeline.ExportRequest (imgsz, layout, board, calib_images, ...)."""
        from .export.pipeline import ExportRequest
        from .workflows.export import export

        if self.path.suffix.lower() not in (".pth", ".pt"):
            raise UserError(f"{self.path.name} is already an exported file; export from its checkpoint (.pth)")
        req = ExportRequest(checkpoint=self.path, formats=tuple(formats), out_dir=Path(out_dir) if out_dir else None,
                            log=request.pop("log", lambda m: None), **request)
        return export(req)

    def quantize(self, config: str | os.PathLike, data: str | os.PathLike | None = None,
                 out_dir: str | os.PathLike = "out", **request) -> "QuantizeResult":
        """Quantization-aware training of this checkpoint, then its int8 file (tools/quantization.py):
        a workflows.quantize.QuantizeResult (.tflite, .file_ap, .meta). `config` is the training config;
        names it does not type (classes, size, dataset...) come from the checkpoint. `data` sets the dataset;
        `request`: other QuantizeRequest fields (epochs via options={'max_epochs': 5}, device, seed, export,
        evaluate, log, ...)."""
        from .workflows.quantize import QuantizeRequest, quantize

        if self.path.suffix.lower() not in (".pth", ".pt"):
            raise UserError(f"{self.path.name} is an exported file; quantize its checkpoint (.pth)")
        options = _typed(request.pop("options", {}))
        if data is not None:
            from .data.sources import dataset_options
            options = {**dataset_options(str(data), None), **options}
        request.setdefault("log", lambda m: None)
        request.setdefault("warn", lambda m: None)
        request.setdefault("progress", False)
        return quantize(QuantizeRequest(Path(config), self.path, options, out_dir=Path(out_dir), **request))


def train(config: str | os.PathLike, data: str | os.PathLike, epochs: int | None = None,
          imgsz: int | Sequence[int] | None = None, work_dir: str | os.PathLike | None = None,
          device: str = "auto", resume: bool = False, **options) -> "TrainResult":
    """Train `config` on the dataset at `data` (tools/train.py): a workflows.train.TrainResult (.work_dir,
    .metrics, .best, .last). `options` are config values, as --cfg-options gives them."""
    from .workflows.train import TrainRequest, train as run_train

    size = None if imgsz is None else int(imgsz) if np.ndim(imgsz) == 0 else tuple(int(v) for v in imgsz)
    return run_train(TrainRequest(config, str(data), _typed(options), epochs=epochs, imgsz=size,
                                  work_dir=Path(work_dir) if work_dir else None, device=device,
                                  resume="auto" if resume else None, progress=False, log=None))


def _typed(options) -> dict:
    """API keyword options as typed config values (names or dotted keys, as --cfg-options takes them)."""
    return {str(k): v for k, v in dict(options).items()}


def _as_list(images) -> list:
    if isinstance(images, (str, os.PathLike)) or (isinstance(images, np.ndarray) and images.ndim == 3):
        return [images]
    return list(images)
