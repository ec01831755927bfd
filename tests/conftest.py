"""Shared fixtures. Reference tensors live in ../shared/reference (beside the clone) or $SSCMA_SHARED."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def shared_dir() -> Path:
    env = os.environ.get("SSCMA_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def reference_file(name: str) -> Path:
    """Path of a golden file from mmdetection 3.3.0; skips the test when shared/ is absent."""
    path = shared_dir() / "reference" / "mmdet-3.3.0" / name
    if not path.exists():
        pytest.skip(f"reference file {path} not present")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _few_threads():
    """2-core CI machine: keep each test's torch to 2 threads and deterministic."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(2)
    yield
