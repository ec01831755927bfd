"""Run any exported or trained model on images with the Python API and save drawings.

    .venv/bin/python examples/detect_image.py MODEL IMAGE [IMAGE ...]

MODEL is a .pth checkpoint, .onnx or .tflite export: its deployment record (checkpoint meta or .json sidecar)
supplies input size, resize, colour order, normalisation, decode and class names.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sscma_rtmdet import RTMDet  # noqa: E402


def main(model: str, *images: str) -> None:
    for result in RTMDet(model).predict(list(images), score_thr=0.3):
        for name, score, box in zip(result.names, result.scores, result.boxes):
            print(f"{result.path.name}: {name:<12} {score:.2f}  x0={box[0]:.0f} y0={box[1]:.0f} "
                  f"x1={box[2]:.0f} y1={box[3]:.0f}")
        out = result.save(result.path.with_name(result.path.stem + "_detections.jpg"))
        print(f"{len(result)} detections -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
