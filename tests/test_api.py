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
