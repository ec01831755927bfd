"""Fixtures for export tests; helpers live in _export_helpers.py."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from _export_helpers import SIZES, ExportCache, _photo


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    """8 synthetic BGR photos of different sizes (jpg/png, one in a sub-folder)."""
    root = tmp_path_factory.mktemp("images")
    (root / "sub").mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(SIZES):
        folder = root / "sub" if i == 3 else root
        cv2.imwrite(str(folder / f"img{i}.{'png' if i % 2 else 'jpg'}"), _photo(rng, h, w))
    return root


@pytest.fixture(scope="session")
def exports(tmp_path_factory, image_dir) -> ExportCache:
    return ExportCache(tmp_path_factory.mktemp("exports"), image_dir)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: TFLite/Vela export tests (tens of seconds each); CI runs them")
