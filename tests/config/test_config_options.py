"""--cfg-options parsing and the Config container."""
from __future__ import annotations

import copy
import pickle

import pytest

from sscma_rtmdet.config import Config, parse_cfg_options
from sscma_rtmdet.errors import ConfigError


def test_parse_values():
    got = parse_cfg_options(["a=1", "imgsz=(192,192)", "imgsz2=192,192", "data_root=/data/x/", "b=True",
                             "c=None", "d=[1,2]", "e=relu", "f=1e-4", "g=train/_annotations.coco.json",
                             "h=1, 'x'", "i= 3 ", "j=a=b", "k="])
    assert got == {"a": 1, "imgsz": (192, 192), "imgsz2": (192, 192), "data_root": "/data/x/", "b": True,
                   "c": None, "d": [1, 2], "e": "relu", "f": 1e-4, "g": "train/_annotations.coco.json",
                   "h": (1, "x"), "i": 3, "j": "a=b", "k": ""}
    assert parse_cfg_options(["x=a,b"]) == {"x": "a,b"}  # not literals: stays a string
    assert parse_cfg_options(["x=1", "x=2"]) == {"x": 2} and parse_cfg_options(None) == {}


@pytest.mark.parametrize("token", ["num_classes", "=3", "a..b=1"])
def test_parse_errors_name_the_token(token):
    with pytest.raises(ConfigError, match="--cfg-options " + repr(token).replace(".", r"\.")):
        parse_cfg_options([token])


def test_config_attribute_access_and_plain_dict():
    cfg = Config({"model": {"head": {"num_classes": 3}}, "pipe": [{"type": "A"}], "t": ({"k": 1},)}, "x.py")
    assert cfg.model.head.num_classes == 3 and cfg.pipe[0].type == "A" and cfg.t[0].k == 1
    assert cfg.filename == "x.py" and cfg.model.filename is None
    assert cfg.get("missing", 5) == 5 and cfg.get("model").head.num_classes == 3
    cfg.model.head.num_classes = 4
    cfg.extra = {"a": {"b": 1}}
    assert cfg["model"]["head"]["num_classes"] == 4 and cfg.extra.a.b == 1
    plain = cfg.to_dict()
    assert type(plain) is dict and type(plain["model"]["head"]) is dict and type(plain["pipe"][0]) is dict
    assert type(plain["t"]) is tuple and type(plain["t"][0]) is dict
    with pytest.raises(AttributeError, match="nope"):
        _ = cfg.nope
    del cfg.extra
    assert "extra" not in cfg


def test_config_copies_are_independent_and_pickle():
    shared = [{"type": "A"}]
    cfg = Config({"pipeline": shared, "loader": {"pipeline": shared}}, "c.py")
    cfg.loader.pipeline[0]["type"] = "B"
    assert cfg.pipeline[0].type == "A" and shared[0]["type"] == "A"
    for clone in (pickle.loads(pickle.dumps(cfg)), copy.deepcopy(cfg), cfg.copy()):
        assert clone == cfg and isinstance(clone, Config) and clone.filename == "c.py"
        assert isinstance(clone.loader, Config) and clone.loader.pipeline[0].type == "B"
    cfg.update(x={"y": 1})
    assert cfg.x.y == 1 and cfg.setdefault("z", {"w": 2}).w == 2


def test_load_from_none_switches_pretrained_weights_off():
    from pathlib import Path

    from sscma_rtmdet.config import load_config

    nano = Path(__file__).resolve().parents[2] / "configs" / "rtmdet_nano_8xb32_300e_coco.py"
    assert load_config(nano).load_from.endswith(".pth")
    assert load_config(nano, ["load_from=None"]).load_from is None
    with pytest.raises(ConfigError, match="data_root"):
        load_config(nano, ["data_root=None"])  # only load_from may be None
