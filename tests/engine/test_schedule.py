import math

import pytest

from sscma_rtmdet.engine.schedule import lr_at, schedule_from_config


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


def test_schedule_from_config_uses_epochs():
    sched = dict(max_epochs=10, warmup_iters=0, warmup_ratio=1e-5, flat_epochs=5, min_lr_ratio=0.05)
    f = schedule_from_config(sched, 0.1, iters_per_epoch=4)
    assert f(19) == pytest.approx(0.1)
    assert f(40) == pytest.approx(0.005)
