"""Config loader: _base_ chains, pins into bases, dict merging, dotted overrides, errors."""
from __future__ import annotations

import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sscma_rtmdet.data.build import dataset_paths
from sscma_rtmdet.engine.schedule import fit_config_schedule, lr_function
from sscma_rtmdet.config import Config, load_config, load_config_from_text
from sscma_rtmdet.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NANO = CONFIGS / "rtmdet_nano_8xb32_300e_coco.py"
TUTORIAL = ("data_root=/x/mask/ num_classes=2 train_ann_file=train/_annotations.coco.json "
            "val_ann_file=valid/_annotations.coco.json train_img_prefix=train/ val_img_prefix=valid/ "
            "max_epochs=50 imgsz='(192,192)'")

BASE = """
num_classes = 80
imgsz = (64, 64)
max_epochs = 100
stage2_epoch = max(max_epochs - 20, 0)
widen_factor = 0.5
act = 'silu'
channels = int(256 * widen_factor)
pipeline = [dict(type='Resize', size=imgsz), dict(type='Pad', size=imgsz, pad_val=114)]
model = dict(backbone=dict(type='Net', act=act, widen=widen_factor),
             head=dict(num_classes=num_classes, channels=channels, act=act, strides=(8, 16)))
loader = dict(batch_size=2, dataset=dict(root='data/', pipeline=pipeline))
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def all_sizes(cfg):
    """Every size-like value in the train/stage2/test pipelines, by (pipeline, type, field)."""
    out = {}
    for name in ("train_pipeline", "train_pipeline_stage2"):
        for step in cfg[name]:
            for field in ("img_scale", "crop_size", "size", "scale"):
                if field in step:
                    out[(name, step["type"], field)] = step[field]
    return out


# ---- shipped configs -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.py")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config) and cfg.filename == str(path)
    for key in ("num_classes", "imgsz", "model", "train_pipeline", "data_root", "max_epochs", "target"):
        assert key in cfg, key
    assert cfg.model.head.num_classes == cfg.num_classes
    # primary values only: no derived copies for readers to disagree on (builders derive them when called)
    for copy in ("train_dataloader", "val_dataloader", "test_dataloader", "test_pipeline", "schedule"):
        assert copy not in cfg, copy
    assert "lr" not in cfg.optimizer and "weight_decay" not in cfg.optimizer
    assert "_base_" not in cfg and not any(k.startswith("_") for k in cfg)


def test_tutorial_overrides_on_nano():
    cfg = load_config(NANO, shlex.split(TUTORIAL))  # what the shell hands to --cfg-options
    assert cfg.num_classes == 2 and cfg.model.head.num_classes == 2
    assert dataset_paths(cfg, "train") == ("/x/mask/", "train/_annotations.coco.json", "train/")
    assert dataset_paths(cfg, "val") == ("/x/mask/", "valid/_annotations.coco.json", "valid/")
    assert dataset_paths(cfg, "test")[1] == "valid/_annotations.coco.json"  # test_* derive from val_*
    assert cfg.max_epochs == 50 and cfg.stage2_epoch == 30
    lr = lr_function(cfg, fit_config_schedule(cfg, 32, 10), 10)
    assert lr(249) == lr(100) and lr(251) < lr(249)  # flat for 25 of the 50 epochs, then the cosine
    assert cfg.imgsz == (192, 192)
    sizes = all_sizes(cfg)
    assert sizes.pop(("train_pipeline", "RandomResize", "scale")) == (384, 384)
    assert sizes and all(v == (192, 192) for v in sizes.values()), sizes
    assert cfg.model.neck.out_channels == 64  # the nano file's own values survive


def test_quoted_value_passed_from_python_still_a_tuple():
    cfg = load_config(NANO, ["imgsz='(192,192)'"])
    assert cfg.imgsz == (192, 192) and cfg.train_pipeline_stage2[-1]["size"] == (192, 192)


def test_list_override_keeps_tuple_container():
    cfg = load_config(NANO, ["imgsz=[96,96]"])
    assert cfg.imgsz == (96, 96) and isinstance(cfg.imgsz, tuple)
    assert cfg.train_pipeline[1]["scale"] == (192, 192)


def test_nano_child_values_flow_into_base():
    cfg = load_config(NANO)
    assert cfg.model.neck.out_channels == 64 and cfg.model.head.feat_channels == 64
    assert cfg.model.backbone.widen_factor == 0.25 and cfg.model.backbone.deepen_factor == 0.33
    assert cfg.model.neck.num_csp_blocks == 1
    assert cfg.imgsz == (320, 320) and cfg.train_pipeline[1]["scale"] == (640, 640)
    assert cfg.train_pipeline[0]["max_cached_images"] == 20 and cfg.base_lr == 0.004 and cfg.lr_ref_batch == 256


def test_relu_config_sets_act_everywhere():
    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco_relu.py")
    assert [cfg.model[m].act for m in ("backbone", "neck", "head")] == ["relu"] * 3
    assert cfg.model.backbone.split_pool is True and cfg.model.head.share_conv is False
    assert cfg.model.neck.out_channels == 64  # grand-base values via the nano file


def test_qat_config_grandchild_beats_child():
    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco_relu_q.py")
    assert cfg.max_epochs == 10 and cfg.stage2_epoch == 0
    assert cfg.base_lr == 2e-5 and cfg.qat.freeze_bn_epoch == 5
    assert cfg.model.head.act == "relu"
    over = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco_relu_q.py", ["max_epochs=4"])
    assert over.qat.freeze_bn_epoch == 2 and over.stage2_num_epochs == 4 and over.stage2_epoch == 0


def test_mnv4_delete_replaces_backbone():
    cfg = load_config(CONFIGS / "rtmdet_mnv4_8xb32_300e_coco.py")
    assert dict(cfg.model.backbone) == {"type": "MobileNetV4ConvSmall", "act": "relu"}
    assert cfg.model.neck.act == "relu" and cfg.model.neck.out_channels == 64


def test_base_overrides_propagate():
    cfg = load_config(NANO, ["num_classes=3", "max_epochs=50", "data_root=/data/x/"])
    assert cfg.model.head.num_classes == 3
    assert cfg.stage2_epoch == 30
    for split in ("train", "val", "test"):
        assert dataset_paths(cfg, split)[0] == "/data/x/"


def test_cli_override_beats_child_value():
    cfg = load_config(NANO, ["widen_factor=0.5", "act=relu"])
    assert cfg.model.neck.out_channels == 128 and cfg.model.backbone.widen_factor == 0.5
    assert cfg.model.head.act == "relu"


# ---- semantics on small files -----------------------------------------------------------------------

def test_child_plain_values_and_grandchild_priority(tmp_path):
    write(tmp_path, "_base_/base.py", BASE)
    write(tmp_path, "child.py", """
        _base_ = './_base_/base.py'
        widen_factor = 0.25
        act = 'relu'
        imgsz = (32, 48)
        max_epochs = 30
        doubled = channels * 2   # computed from a base value that depends on this file's pins
        """)
    grand = write(tmp_path, "grand.py", "_base_ = 'child.py'\nwiden_factor = 1.0\n")
    cfg = load_config(tmp_path / "child.py")
    assert cfg.channels == 64 and cfg.model.head.channels == 64 and cfg.doubled == 128
    assert cfg.model.backbone.act == "relu" and cfg.model.head.act == "relu"
    assert cfg.pipeline[0]["size"] == (32, 48) and cfg.loader.dataset.pipeline[1]["size"] == (32, 48)
    assert cfg.stage2_epoch == 10
    g = load_config(grand)
    assert g.widen_factor == 1.0 and g.channels == 256 and g.doubled == 512 and g.model.backbone.widen == 1.0
    assert g.model.head.act == "relu" and g.stage2_epoch == 10


def test_child_pipeline_list_flows_into_base(tmp_path):
    write(tmp_path, "base.py", BASE)
    path = write(tmp_path, "child.py", "_base_ = 'base.py'\npipeline = [dict(type='Only', size=imgsz)]\n")
    cfg = load_config(path)
    assert cfg.loader.dataset.pipeline == [{"type": "Only", "size": (64, 64)}]
    assert load_config(path, ["imgsz=(8,8)"]).loader.dataset.pipeline[0]["size"] == (8, 8)


def test_self_referencing_child_value_is_not_pushed(tmp_path):
    write(tmp_path, "base.py", BASE)
    path = write(tmp_path, "child.py", "_base_ = 'base.py'\nmax_epochs = max_epochs + 1\n")
    cfg = load_config(path)
    assert cfg.max_epochs == 101 and cfg.stage2_epoch == 80  # settles; the base is not re-derived


def test_dict_merge_and_delete(tmp_path):
    write(tmp_path, "base.py", BASE)
    path = write(tmp_path, "child.py", """
        _base_ = 'base.py'
        model = dict(head=dict(num_classes=5, extra=dict(a=1)), backbone=dict(_delete_=True, type='Other'))
        loader = dict(dataset=dict(root='/r/'))
        """)
    cfg = load_config(path)
    assert cfg.model.head.num_classes == 5 and cfg.model.head.channels == 128 and cfg.model.head.extra.a == 1
    assert dict(cfg.model.backbone) == {"type": "Other"}
    assert cfg.loader.batch_size == 2 and cfg.loader.dataset.root == "/r/"
    assert cfg.loader.dataset.pipeline[0]["type"] == "Resize"
    assert "_delete_" not in str(cfg.to_dict())


def test_dotted_overrides_and_list_index(tmp_path):
    path = write(tmp_path, "base.py", BASE)
    cfg = load_config(path, ["model.head.num_classes=3", "pipeline.1.size=(96,96)", "model.head.strides.1=32"])
    assert cfg.model.head.num_classes == 3 and cfg.num_classes == 80
    assert cfg.pipeline[1]["size"] == (96, 96) and cfg.loader.dataset.pipeline[1]["size"] == (96, 96)
    assert cfg.pipeline[0]["size"] == (64, 64) and cfg.model.head.strides == (8, 32)
    nano = load_config(NANO, {"train_pipeline.2.crop_size": [96, 96]})
    assert nano.train_pipeline[2]["crop_size"] == (96, 96)


def test_dict_valued_override_merges(tmp_path):
    cfg = load_config(write(tmp_path, "base.py", BASE), ["model={'head': {'num_classes': 7}}"])
    assert cfg.model.head.num_classes == 7 and cfg.model.head.channels == 128 and cfg.model.backbone.act == "silu"


def test_imports_functions_and_private_names_are_dropped(tmp_path):
    path = write(tmp_path, "c.py", "import math\n_hidden = 1\ndef f(x):\n    return x\nvalue = f(math.floor(2.5))\n")
    assert load_config(path).to_dict() == {"value": 2}


def test_multiple_bases_merge_in_order(tmp_path):
    write(tmp_path, "a.py", "x = 1\nd = dict(p=1, q=1)\n")
    write(tmp_path, "b.py", "y = 2\nd = dict(q=2)\n")
    cfg = load_config(write(tmp_path, "c.py", "_base_ = ['a.py', 'b.py']\nz = x + y\n"))
    assert (cfg.x, cfg.y, cfg.z, cfg.d) == (1, 2, 3, {"p": 1, "q": 2})


def test_load_from_text_resolves_bases_next_to_name(tmp_path):
    write(tmp_path, "base.py", BASE)
    cfg = load_config_from_text("_base_ = 'base.py'\nnum_classes = 4\n", str(tmp_path / "embedded.py"))
    assert cfg.model.head.num_classes == 4


# ---- errors ----------------------------------------------------------------------------------------

def test_unknown_key_suggests_close_name():
    with pytest.raises(ConfigError, match=r"num_clases.*rtmdet_nano.*did you mean 'num_classes'"):
        load_config(NANO, ["num_clases=2"])
    with pytest.raises(ConfigError, match=r"'num_class'.*under 'model.head'.*did you mean 'num_classes'"):
        load_config(NANO, ["model.head.num_class=2"])
    with pytest.raises(ConfigError, match=r"index 0..6, got 9"):
        load_config(NANO, ["train_pipeline.9.size=(1,1)"])


@pytest.mark.parametrize("option, pattern", [
    ("imgsz=192", r"imgsz=192.*expected tuple.*got int 192.*imgsz='\(192,192\)'"),
    ("imgsz=(192,'a')", r"expected int.*got str 'a'.*imgsz\[1\]"),
    ("num_classes=2.5", r"num_classes=2.5: expected int.*got float"),
    ("num_classes=True", r"expected int.*got bool"),
    ("share_conv=1", r"share_conv=1: expected bool"),
    ("model.head.num_classes=x", r"model.head.num_classes='x': expected int"),
    ("data_root=5", r"data_root=5: expected str"),
])
def test_type_mismatch(option, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(NANO, [option])


def test_accepted_type_conversions():
    cfg = load_config(NANO, ["base_lr=1", "grad_clip=10.0", "preprocess.mean=[0,0,0]"])
    assert cfg.base_lr == 1.0 and isinstance(cfg.base_lr, float)
    assert cfg.grad_clip == 10.0 and cfg.preprocess.mean == [0.0, 0.0, 0.0]


def test_missing_files_and_bases(tmp_path):
    with pytest.raises(ConfigError, match="nope.py not found"):
        load_config(tmp_path / "nope.py")
    path = write(tmp_path, "child.py", "_base_ = './missing_base.py'\nx = 1\n")
    with pytest.raises(ConfigError, match=r"child.py:1: _base_ file './missing_base.py' not found"):
        load_config(path)
    write(tmp_path, "loop_a.py", "_base_ = 'loop_b.py'\n")
    write(tmp_path, "loop_b.py", "_base_ = 'loop_a.py'\n")
    with pytest.raises(ConfigError, match="circular _base_"):
        load_config(tmp_path / "loop_a.py")


def test_syntax_and_runtime_errors_name_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"bad.py:3: syntax error"):
        load_config(write(tmp_path, "bad.py", "a = 1\nb = 2\nc = (\n"))
    with pytest.raises(ConfigError, match=r"name.py:2: NameError"):
        load_config(write(tmp_path, "name.py", "a = 1\nb = undefined_name\n"))


def test_never_settling_child_value_errors(tmp_path):
    write(tmp_path, "base.py", "a = 1\nb = a\n")
    path = write(tmp_path, "child.py", "_base_ = 'base.py'\na = b + 1\n")
    with pytest.raises(ConfigError, match=r"never settle"):
        load_config(path)


def test_import_does_not_pull_torch():
    code = "import sys, sscma_rtmdet.config as c; c.load_config(sys.argv[1]); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code, str(NANO)], check=True)
