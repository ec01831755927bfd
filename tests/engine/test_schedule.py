import math

import pytest

from sscma_rtmdet.engine.schedule import FittedSchedule, lr_at, lr_function


def test_warmup_starts_at_ratio_and_reaches_base():
    kw = dict(base_lr=0.004, max_iters=10000, warmup_iters=1000, warmup_ratio=1e-5, flat_iters=5000)
    assert lr_at(0, **kw) == pytest.approx(0.004 * 1e-5)
    assert lr_at(500, **kw) == pytest.approx(0.004 * (1e-5 + (1 - 1e-5) * 0.5))
    assert lr_at(1000, **kw) == pytest.approx(0.004)
    assert lr_at(4999, **kw) == pytest.approx(0.004)


def test_cosine_goes_to_min_ratio():
    kw = dict(base_lr=1.0, max_iters=200, warmup_iters=0, flat_iters=100, min_lr_ratio=0.05)
    assert lr_at(100, **kw) == pytest.approx(1.0)
    assert lr_at(150, **kw) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at(200, **kw) == pytest.approx(0.05)
    assert lr_at(10_000, **kw) == pytest.approx(0.05)
    values = [lr_at(i, **kw) for i in range(100, 201)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_lr_function_uses_epochs():
    """The config's primary names and the fitted lr/warmup: flat for the first half (mmdet), then cosine."""
    cfg = dict(max_epochs=10, warmup_ratio=1e-5, min_lr_ratio=0.05)
    f = lr_function(cfg, FittedSchedule(lr=0.1, warmup_iters=0, stage2_epoch=8, val_interval=1, max_iters=40,
                                        rows=()), iters_per_epoch=4)
    assert f(19) == pytest.approx(0.1)
    assert f(40) == pytest.approx(0.005)


# ---- fitting the recipe to the run ------------------------------------------------------------------
from pathlib import Path  # noqa: E402

from sscma_rtmdet.config import load_config  # noqa: E402
from sscma_rtmdet.engine.schedule import (batch_lr_scale, fit_config_schedule,  # noqa: E402
                                          format_schedule_table)
from sscma_rtmdet.errors import ConfigError  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TUTORIAL = ["num_classes=2", "max_epochs=50", "imgsz=(192,192)"]


def test_coco_recipe_length_gives_mmdetection_schedule():
    """8x32 images, 118k COCO images (463 iterations per epoch), 300 epochs: mmdet's numbers exactly."""
    cfg = load_config(CONFIGS / "rtmdet_tiny_8xb32_300e_coco.py", ["batch_size=256"])
    fit = fit_config_schedule(cfg, 256, 463)
    assert (fit.lr, fit.warmup_iters, fit.stage2_epoch, fit.val_interval) == (0.004, 1000, 280, 10)
    lr = lr_function(cfg, fit, 463)
    assert lr(150 * 463 - 1) == lr(1000) == 0.004 and lr(150 * 463 + 1) < 0.004  # flat for 150 epochs
    assert fit.val_epochs(300) == list(range(10, 281, 10)) + list(range(281, 301))


def test_tutorial_run_is_fitted():
    """The tutorial: nano, 600 images at batch 32 (19 iterations per epoch), 50 epochs."""
    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco.py", TUTORIAL)
    fit = fit_config_schedule(cfg, 32, 19)
    assert fit.max_iters == 950
    assert fit.warmup_iters == 95  # 2000 capped at 10% of 950
    assert fit.stage2_epoch == 30  # the recipe's 20 stage-2 epochs (<= 0.4 of the run)
    assert fit.val_interval == 5
    assert fit.val_epochs(50) == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]  # stage 2 at the same interval
    expected = cfg.base_lr * batch_lr_scale(32, cfg.lr_ref_batch, cfg.lr_scaling)
    assert fit.lr == pytest.approx(expected)
    table = format_schedule_table(fit.rows)
    for text in ("iterations", "950 (50 x 19)", "warmup iters", "capped at 0.1", "stage-2 epoch", "30",
                 "last 20 epochs (recipe)", "45, 50"):
        assert text in table, table


@pytest.mark.parametrize("epochs, stage2_epochs, every_stage2_epoch", [
    (30, 12, False), (50, 20, False), (100, 20, False), (200, 20, True), (300, 20, True)])
def test_stage2_keeps_the_recipe_count_at_most_0_4_of_the_run(epochs, stage2_epochs, every_stage2_epoch):
    """The recipe's 20 stage-2 epochs, capped at 0.4 of short runs; a stage 2 within 1/10 of the run (the
    recipe's 20 of 300) is validated every epoch, a longer one at the run's interval."""
    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco.py", ["num_classes=2", f"max_epochs={epochs}"])
    fit = fit_config_schedule(cfg, 32, 10)
    assert epochs - fit.stage2_epoch == stage2_epochs
    stage2_vals = [e for e in fit.val_epochs(epochs) if e > fit.stage2_epoch]
    expected = list(range(fit.stage2_epoch + 1, epochs + 1)) if every_stage2_epoch else \
        [e for e in range(fit.stage2_epoch + 1, epochs + 1) if e % fit.val_interval == 0 or e == epochs]
    assert stage2_vals == expected and (len(stage2_vals) == stage2_epochs) == every_stage2_epoch


def test_explicit_values_are_used_exactly():
    opts = TUTORIAL + ["base_lr=0.01", "warmup_iters=2000", "stage2_num_epochs=20", "val_interval=7"]
    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco.py", opts)
    fit = fit_config_schedule(cfg, 64, 19)
    assert (fit.lr, fit.warmup_iters, fit.stage2_epoch, fit.val_interval) == (0.01, 2000, 30, 7)
    assert fit.val_epochs(50) == [7, 14, 21, 28, 35, 42, 49, 50]  # exactly every 7 (and the last)
    assert "set by you" in format_schedule_table(fit.rows)
    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco.py", TUTORIAL + ["base_lr=0.003", "stage2_epoch=10"])
    fit = fit_config_schedule(cfg, 64, 19)
    assert (fit.lr, fit.stage2_epoch) == (0.003, 10)


def test_fitting_the_config_a_run_wrote_gives_the_same_schedule(tmp_path):
    from sscma_rtmdet.config import dump_config

    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco_relu.py", TUTORIAL + ["batch_size=16"])
    fit = fit_config_schedule(cfg, 16, 38)
    dump_config(cfg, tmp_path / "run.py")  # the trainer keeps the fitted values; the config stays primary
    again = fit_config_schedule(load_config(tmp_path / "run.py"), 16, 38)
    assert again.rows == fit.rows


def test_batch_lr_rules():
    assert batch_lr_scale(64, 256, "sqrt") == pytest.approx(0.5)
    assert batch_lr_scale(64, 256, "linear") == pytest.approx(0.25)
    assert batch_lr_scale(64, 256, "none") == 1.0
    with pytest.raises(ConfigError, match="lr_scaling='cube'"):
        batch_lr_scale(64, 256, "cube")


def test_val_interval_below_one_is_a_clear_error():
    cfg = load_config(CONFIGS / "rtmdet_nano_8xb32_300e_coco.py", TUTORIAL + ["val_interval=0"])
    with pytest.raises(ConfigError, match="val_interval=0: must be >= 1"):
        fit_config_schedule(cfg, 32, 19)
