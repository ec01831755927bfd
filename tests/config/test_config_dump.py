"""dump_config / config_to_text round trips."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sscma_rtmdet.config import Config, config_to_text, dump_config, load_config, load_config_from_text
from sscma_rtmdet.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.py")), ids=lambda p: p.name)
def test_dump_round_trip_every_shipped_config(path, tmp_path):
    cfg = load_config(path, ["num_classes=3"])
    out = dump_config(cfg, tmp_path / "dumped.py")
    text = out.read_text()
    assert text == config_to_text(cfg)
    assert "_base_" not in text and "dict(" not in text
    tree = ast.parse(text)  # flat: one plain assignment per top-level key
    assert [node.targets[0].id for node in tree.body] == list(cfg)
    again = load_config(out)
    assert again == cfg and again.to_dict() == cfg.to_dict()
    assert isinstance(again.imgsz, tuple) and again.model.head.num_classes == 3
    assert load_config_from_text(text, "ckpt.py") == cfg
    assert config_to_text(again).splitlines()[1:] == text.splitlines()[1:]  # stable apart from the header


def test_dump_is_atomic_and_checks_values(tmp_path):
    target = tmp_path / "cfg.py"
    target.write_text("old = 1\n")
    with pytest.raises(ConfigError, match=r"model.fn is a function"):
        dump_config(Config({"a": 1, "model": {"fn": lambda x: x}}), target)
    assert target.read_text() == "old = 1\n" and list(tmp_path.iterdir()) == [target]
    with pytest.raises(ConfigError, match=r"x\[1\] = inf"):
        config_to_text({"x": [1.0, float("inf")]})
    with pytest.raises(ConfigError, match=r"must end in \.py"):
        dump_config(Config({"a": 1}), tmp_path / "cfg.txt")


def test_flattened_config_refuses_a_top_level_option_with_stale_copies(tmp_path):
    """In a run's flattened config, imgsz is also a plain copy in the pipelines (train_pipeline.0.img_scale):
    overriding the top-level name alone would leave them stale, so it is an error that names the copies."""
    src = Path(__file__).resolve().parents[2] / "configs" / "rtmdet_nano_8xb32_300e_coco.py"
    flat = dump_config(load_config(src), tmp_path / "run.py")
    with pytest.raises(ConfigError) as err:
        load_config(flat, ["imgsz=(192,192)"])
    msg = str(err.value)
    assert "train_pipeline.0.img_scale" in msg and str(src) in msg and "flattened" in msg
    # dotted keys reach the copy itself; an unchanged value and a name without copies are fine
    assert load_config(flat, ["train_pipeline.0.img_scale=(192,192)"]).train_pipeline[0]["img_scale"] == (192, 192)
    assert load_config(flat, [f"imgsz={load_config(src).imgsz}"]).imgsz == load_config(src).imgsz
    # the original config propagates the same option
    assert load_config(src, ["imgsz=(192,192)"]).train_pipeline[0]["img_scale"] == (192, 192)