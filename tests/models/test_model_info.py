"""FLOPs/params counting against mmdet's get_flops numbers."""
from __future__ import annotations

import pytest
import torch
from _model_cfgs import model_cfg
from _shared import reference_file

from sscma_rtmdet.models import build_model, count_flops, summarize


def test_tiny_flops_equal_mmdet_exactly():
    expected = torch.load(reference_file("oracle_tiny.pt"), weights_only=True)["flops"]
    assert expected == 8_089_002_240
    assert count_flops(build_model(model_cfg("tiny")), (640, 640)) == expected


@pytest.mark.parametrize("size, expected", [("s", 14.84e9), ("m", 39.27e9), ("l", 80.23e9), ("x", 141.67e9)])
def test_published_flops_within_one_percent(size, expected):
    flops = count_flops(build_model(model_cfg(size)), (640, 640))
    assert abs(flops - expected) / expected < 0.01, flops


def test_flops_scale_with_area_and_keep_mode():
    model = build_model(model_cfg("nano")).train()
    small, wide = count_flops(model, (64, 64)), count_flops(model, (64, 128))
    assert model.training  # restored
    assert 1.9 < wide / small <= 2.0  # the 1x1-pooled channel attention does not scale


def test_summary_rows():
    rows = summarize(build_model(model_cfg("nano", num_classes=5)), (96, 160))
    assert [r["name"] for r in rows] == ["backbone", "neck", "head"]
    assert rows[0]["shapes"] == [(1, 64, 12, 20), (1, 128, 6, 10), (1, 256, 3, 5)]
    assert rows[2]["shapes"][:3] == [(1, 5, 12, 20), (1, 5, 6, 10), (1, 5, 3, 5)]
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in build_model(model_cfg("nano", 5)).parameters())
