import cv2
import numpy as np
import pytest

from sscma_rtmdet import Detector
from sscma_rtmdet.errors import UserError


def test_detector_from_checkpoint_returns_boxes_in_image_pixels(tiny_run):
    det = Detector(tiny_run["ckpt"], score_thr=0.0)
    assert det.classes == ["circle", "square", "triangle"] and det.imgsz == (64, 64)
    img_path = next((tiny_run["data"] / "valid").glob("*.jpg"))
    img = cv2.imread(str(img_path))
    out = det(img)
    assert len(out) > 0
    h, w = img.shape[:2]
    assert (out.boxes[:, 0] >= 0).all() and (out.boxes[:, 2] <= w).all() and (out.boxes[:, 3] <= h).all()
    assert set(out.names) <= set(det.classes)
    again = det(img_path)  # a path works too and gives the same result
    np.testing.assert_allclose(again.boxes, out.boxes)


def test_detector_rejects_bad_image(tiny_run):
    det = Detector(tiny_run["ckpt"])
    with pytest.raises(UserError, match="BGR uint8"):
        det(np.zeros((10, 10), np.uint8))
    with pytest.raises(UserError, match="cannot read image"):
        det("/nonexistent.jpg")


def test_infer_cli_on_folder_and_video(tiny_run, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    frames = sorted((tiny_run["data"] / "valid").glob("*.jpg"))
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (200, 150))
    for f in frames:
        writer.write(cv2.resize(cv2.imread(str(f)), (200, 150)))
    writer.release()
    for source, expect in ((tiny_run["data"] / "valid", "*.jpg"), (video, "clip.mp4")):
        out = tmp_path / f"out_{Path(source).stem}"
        res = subprocess.run([sys.executable, str(repo / "tools" / "infer.py"), str(tiny_run["ckpt"]), str(source),
                              "--out-dir", str(out), "--score-thr", "0.0", "--no-progress"],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        assert list(out.glob(expect))
    bad = subprocess.run([sys.executable, str(repo / "tools" / "infer.py"), str(tiny_run["ckpt"]),
                          str(tiny_run["data"] / "valid" / "_annotations.coco.json"), "--out-dir", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "not an image" in bad.stderr


def test_load_backend_runs_a_checkpoint_like_an_export(tiny_run):
    from sscma_rtmdet.runtime.backends import load_backend

    backend = load_backend(tiny_run["ckpt"])
    assert backend.input_hw == (64, 64) and backend.num_classes == 3
    assert backend.deployment.classes == ("circle", "square", "triangle")
    out = backend(np.full((2, 64, 64, 3), 114, np.uint8))
    # the tutorial config's target is sscma-micro: the firmware's layout, logits (N, H*W, C), grid-unit boxes
    assert backend.deployment.layout == "sscma" and backend.deployment.input_color == "rgb"
    assert out["score_s8"].shape == (2, 64, 3) and out["box_s32"].shape == (2, 4, 4)
    assert (out["score_s8"] < 0).mean() > 0.5  # logits: a lightly trained model's are mostly negative
    head = backend.head_outputs(out)  # what the decoder reads, for any layout
    assert head.are_logits and head.scores[0].shape == (2, 3, 8, 8) and head.boxes[2].shape == (2, 4, 2, 2)
