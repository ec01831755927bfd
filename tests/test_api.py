"""The Python API's mistakes are UserErrors that say what to do (issue 40): an empty array to predict, a
Result saved under a suffix OpenCV has no writer for."""
import numpy as np
import pytest

from sscma_rtmdet import RTMDet
from sscma_rtmdet.api import Result
from sscma_rtmdet.errors import UserError
from sscma_rtmdet.inference.detector import Detections


def test_predict_on_an_empty_array_is_a_user_error(tiny_run):
    with pytest.raises(UserError, match=r"empty image of shape \(0, 0, 3\): a BGR uint8 image needs h and w >= 1"):
        RTMDet(tiny_run["ckpt"], device="cpu", threads=1).predict(np.zeros((0, 0, 3), np.uint8))


def test_save_under_an_unknown_suffix_is_a_user_error(tmp_path):
    empty = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), [])
    result = Result(np.zeros((8, 8, 3), np.uint8), empty, ["a"])
    with pytest.raises(UserError, match=r"Result\.save: cannot write .*x\.xyz: the suffix '\.xyz' is not an image "
                                        r"format OpenCV writes; use \.jpg, \.png"):
        result.save(tmp_path / "x.xyz")
    assert list(tmp_path.iterdir()) == []
    assert result.save(tmp_path / "x.png").is_file()


def test_quantize_from_python_takes_what_the_checkpoint_records(tiny_run_scratch, tmp_path):
    """RTMDet(ckpt).quantize(CONFIG): QAT from Python, the same workflow as tools/quantization.py; with the
    config alone, classes, input size and dataset come from the checkpoint (the config says 80 and 320)."""
    pytest.importorskip("onnx2tf")
    lines = []
    res = RTMDet(tiny_run_scratch["ckpt"], device="cpu").quantize(
        tiny_run_scratch["config"], out_dir=tmp_path / "out", work_dir=tmp_path / "wd", options={"max_epochs": 1},
        calib_num=4, export="start", evaluate=False, log=lines.append)
    assert res.tflite == tmp_path / "out" / "qat_model_test.tflite" and res.tflite.is_file()
    assert res.meta["deployment"]["classes"] == ["circle", "square", "triangle"]
    assert res.meta["deployment"]["imgsz"] == [64, 64] and res.file_ap is None
    assert any(line.startswith("from the model file (not typed): num_classes=3, imgsz=(64, 64)") for line in lines)
    with pytest.raises(UserError, match="quantize its checkpoint"):
        RTMDet(res.tflite).quantize(tiny_run_scratch["config"])
