"""workflows.settings and config.typed: which values are the user's, which come from the model file."""
from __future__ import annotations

from sscma_rtmdet.config import Config, load_config
from sscma_rtmdet.config.typed import mark_untyped, typed_names, typed_test_cfg, typed_value, was_typed
from sscma_rtmdet.runtime.model_file import recorded_facts
from sscma_rtmdet.utils.paths import CONFIGS_DIR

NANO = CONFIGS_DIR / "rtmdet_nano_8xb32_300e_coco.py"


def test_typed_names_values_and_decode_keys():
    cfg = load_config(NANO, {"num_classes": 3, "test_cfg.score_thr": 0.2, "model.head.share_conv": False})
    assert typed_names(cfg) == {"num_classes", "test_cfg.score_thr", "model.head.share_conv"}
    assert typed_value(cfg, "num_classes") == 3 and typed_value(cfg, "imgsz") is None
    assert was_typed(cfg, "model") and not was_typed(cfg, "imgsz")
    assert typed_test_cfg(cfg) == {"score_thr": 0.2}
    whole = load_config(NANO, {"test_cfg": dict(load_config(NANO).test_cfg, iou_threshold=0.5)})
    assert typed_test_cfg(whole)["iou_threshold"] == 0.5 and len(typed_test_cfg(whole)) == 6
    mark_untyped(cfg, ["num_classes"])
    assert typed_names(cfg) == {"test_cfg.score_thr", "model.head.share_conv"}


def test_recorded_facts_fill_only_what_was_not_typed():
    stored = Config({"model": {"head": {"num_classes": 3}}, "imgsz": [64, 64], "target": "sscma-micro",
                     "preprocess": {"mean": [128.0] * 3}, "data_root": "/d/", "train_ann_file": "t.json"})
    facts = recorded_facts(stored, {})
    assert facts["num_classes"] == 3 and facts["imgsz"] == (64, 64) and facts["target"] == "sscma-micro"
    assert list(facts["preprocess"]["mean"]) == [128.0] * 3 and facts["data_root"] == "/d/"
    typed = recorded_facts(stored, {"num_classes": 5, "preprocess.mean": [0, 0, 0], "data_root": "/e/"})
    assert "num_classes" not in typed and "preprocess" not in typed
    assert not {"data_root", "train_ann_file"} & set(typed)  # a typed dataset replaces the model's whole
    assert recorded_facts(None, {}) == {}
