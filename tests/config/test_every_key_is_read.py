"""Every name a user can set is used: the ones builders read at run time are read by a real (tiny) training
run, the ones the config derives from change what they derive. A new top-level name must join one list."""
from __future__ import annotations

import pytest

from _shared import CONFIGS, NANO, demo_options
from sscma_rtmdet.config import Config, load_config

# read by the trainer, its validation and the builders it calls
RUN_TIME = {"num_classes", "imgsz", "data_root", "train_ann_file", "train_img_prefix", "val_ann_file",
            "val_img_prefix", "preprocess", "target", "max_epochs", "recipe_epochs", "stage2_num_epochs",
            "stage2_epoch", "stage2_max_ratio", "batch_size", "val_batch_size", "num_workers", "base_lr", "lr_ref_batch", "lr_scaling",
            "weight_decay", "warmup_iters", "warmup_max_ratio", "warmup_ratio", "min_lr_ratio", "val_interval",
            "val_count", "save_interval", "max_keep_ckpts", "grad_clip", "log_interval", "load_from", "model",
            "criterion", "test_cfg", "train_pipeline", "train_pipeline_stage2", "optimizer", "ema", "patience",
            "precision", "channels_last", "compile_model", "train_threads", "optimizer_impl", "image_cache_mb",
            "pin_memory"}
# read by tools/test.py --split test (the test split)
TEST_SPLIT = {"test_ann_file", "test_img_prefix"}
# consumed while the config loads: (option, path in the loaded config, value it must produce)
DERIVED = [
    ("mosaic_cache=7", ("train_pipeline", 0, "max_cached_images"), 7),
    ("mixup_cache=5", ("train_pipeline", 6, "max_cached_images"), 5),
    ("mixup_prob=0.25", ("train_pipeline", 6, "prob"), 0.25),
    ("resize_ratio_range=(0.8,1.2)", ("train_pipeline_stage2", 0, "ratio_range"), (0.8, 1.2)),
    ("deepen_factor=0.5", ("model", "backbone", "deepen_factor"), 0.5),
    ("widen_factor=0.5", ("model", "backbone", "widen_factor"), 0.5),
    ("act='relu'", ("model", "head", "act"), "relu"),
    ("neck_channels=48", ("model", "neck", "out_channels"), 48),
    ("neck_blocks=2", ("model", "neck", "num_csp_blocks"), 2),
    ("exp_on_reg=True", ("model", "head", "exp_on_reg"), True),
    ("share_conv=False", ("model", "head", "share_conv"), False),
    ("channel_attention=False", ("model", "backbone", "channel_attention"), False),
    ("split_pool=True", ("model", "backbone", "split_pool"), True),
]


class Recording(Config):
    """A Config that notes which top-level names are read."""

    def __init__(self, cfg: Config):
        super().__init__(cfg.to_dict(), cfg.filename)
        object.__setattr__(self, "overrides", cfg.overrides)
        object.__setattr__(self, "read", set())

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


def test_every_base_name_is_in_one_list():
    base = load_config(CONFIGS / "_base_" / "rtmdet_base.py")
    listed = RUN_TIME | TEST_SPLIT | {opt.split("=")[0] for opt, _, _ in DERIVED}
    assert set(base) == listed, (sorted(set(base) - listed), sorted(listed - set(base)))


@pytest.mark.parametrize("option,path,value", DERIVED, ids=[d[0] for d in DERIVED])
def test_derived_names_change_what_they_derive(option, path, value):
    cur = load_config(NANO, [option])
    for part in path:
        cur = cur[part]
    assert cur == value


def test_run_time_names_are_read_by_a_run(tmp_path):
    from sscma_rtmdet.data.build import build_coco
    from sscma_rtmdet.synth.demo import make_demo_dataset
    from sscma_rtmdet.engine.trainer import Trainer, TrainOptions

    data = tmp_path / "data"
    make_demo_dataset(data, seed=0, num_train=8, num_valid=4, num_test=2)
    cfg = Recording(load_config(NANO, demo_options(data, max_epochs=1) + ["patience=3", "grad_clip=10.0"]))
    Trainer(cfg, TrainOptions(work_dir=tmp_path / "wd", config_path=str(NANO), progress=False)).train()
    build_coco(cfg, "test")
    assert not (RUN_TIME | TEST_SPLIT) - cfg.read, sorted((RUN_TIME | TEST_SPLIT) - cfg.read)
