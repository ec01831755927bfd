"""Run any exported or trained model on an image with the Python API and save a drawing.

    .venv/bin/python examples/detect_image.py MODEL IMAGE [OUT.jpg]

MODEL is a .pth checkpoint, .onnx or .tflite export (its .json sidecar supplies input size, colour order,
normalisation and class names).
"""
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sscma_rtmdet import Detector  # noqa: E402
from sscma_rtmdet.visualize import draw_detections  # noqa: E402


def main(model: str, image: str, out: str = "detections.jpg") -> None:
    det = Detector(model, score_thr=0.3)
    img = cv2.imread(image)
    result = det(img)
    for name, score, box in zip(result.names, result.scores, result.boxes):
        print(f"{name:<12} {score:.2f}  x0={box[0]:.0f} y0={box[1]:.0f} x1={box[2]:.0f} y1={box[3]:.0f}")
    cv2.imwrite(out, draw_detections(img, result.boxes, result.scores, result.labels, det.classes))
    print(f"{len(result)} detections -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
