"""The deployment record: built from a config (target defaults, user decode options win), refused when a
target cannot take it, identical after a round trip through JSON."""
import json

import pytest

from _shared import CONFIGS, NANO
from sscma_rtmdet.config import load_config
from sscma_rtmdet.errors import CheckpointError, ConfigError
from sscma_rtmdet.runtime.deployment import Deployment


def test_nano_config_targets_the_firmware():
    dep = Deployment.from_config(load_config(NANO, ["imgsz=(192,192)"]), ["a", "b"])
    assert (dep.target, dep.layout, dep.input_color) == ("sscma-micro", "sscma", "rgb")
    assert (dep.preprocess.resize, dep.preprocess.interpolation, dep.preprocess.color) == ("stretch", "nearest", "bgr")
    assert dep.test_cfg["multi_label"] is False and dep.test_cfg["nms"] == "sscma"
    assert dep.test_cfg["iou_threshold"] == 0.45 and dep.test_cfg["max_per_img"] is None
    assert dep.test_cfg["score_thr"] == 0.001  # the config's (AP), not the firmware's display default
    assert Deployment.from_dict(json.loads(json.dumps(dep.to_dict()))) == dep


def test_generic_target_keeps_mmdetections_pipeline():
    dep = Deployment.from_config(load_config(CONFIGS / "rtmdet_tiny_8xb32_300e_coco.py", ["imgsz=(192,256)"]), ["x"])
    assert (dep.target, dep.layout, dep.input_color, dep.preprocess.resize) == ("generic", "nchw", "bgr", "letterbox")
    assert dep.test_cfg["iou_threshold"] == 0.65 and dep.test_cfg.get("multi_label", True)


def test_user_decode_options_win_over_the_target():
    cfg = load_config(NANO, ["imgsz=(96,96)", "test_cfg.iou_threshold=0.6"])
    assert Deployment.from_config(cfg, ["a"]).test_cfg["iou_threshold"] == 0.6


def test_firmware_target_refuses_a_non_square_input():
    with pytest.raises(ConfigError, match="takes square inputs only.*target=generic"):
        Deployment.from_config(load_config(NANO, ["imgsz=(192,256)"]), ["a"])
    dep = Deployment.from_config(load_config(NANO, ["imgsz=(192,256)", "target=generic"]), ["a"])
    assert dep.imgsz == (192, 256)


def test_broken_records_are_refused():
    good = Deployment.from_config(load_config(NANO, ["imgsz=(96,96)"]), ["a", "b"]).to_dict()
    for bad, match in ((dict(good, imgsz=[100, 96]), "multiple"), (dict(good, layout="x"), "layout"),
                       (dict(good, num_classes=3), "num_classes"), (dict(good, target="moon"), "target"),
                       ({k: v for k, v in good.items() if k != "classes"}, "lacks")):
        with pytest.raises((CheckpointError, ConfigError), match=match):
            Deployment.from_dict(bad, "x.json")


@pytest.mark.parametrize("key, value, must", [
    ("iou_threshold", 5, r"must be a number above 0, at most 1"), ("iou_threshold", 0, "above 0"),
    ("score_thr", -0.1, "from 0 to 1"), ("score_thr", "0.3", "from 0 to 1"), ("nms_pre", 0, "positive integer"),
    ("nms_pre", 2.5, "positive integer"), ("max_per_img", -1, "positive integer or null"),
    ("multi_label", "yes", "true or false"), ("nms", "soft", r"one of 'exact', 'sscma'")])
def test_every_decode_setting_is_checked_on_load(key, value, must):
    good = Deployment.from_config(load_config(NANO, ["imgsz=(96,96)"]), ["a"]).to_dict()
    bad = dict(good, test_cfg=dict(good["test_cfg"], **{key: value}))
    with pytest.raises(CheckpointError, match=rf"^x\.json: deployment record test_cfg\.{key}=.* {must}"):
        Deployment.from_dict(bad, "x.json")


def test_unknown_or_missing_decode_settings_are_refused():
    good = Deployment.from_config(load_config(NANO, ["imgsz=(96,96)"]), ["a"]).to_dict()
    decode = good["test_cfg"]
    with pytest.raises(CheckpointError, match=r"x\.json: deployment record test_cfg has unknown field\(s\) "
                                              r"\['nms_thr'\]"):
        Deployment.from_dict(dict(good, test_cfg=dict(decode, nms_thr=0.5)), "x.json")
    with pytest.raises(CheckpointError, match=r"test_cfg lacks \['nms_pre'\]"):
        Deployment.from_dict(dict(good, test_cfg={k: v for k, v in decode.items() if k != "nms_pre"}), "x.json")
    assert Deployment.from_dict(dict(good, test_cfg=dict(decode, max_per_img=None))).test_cfg["max_per_img"] is None
