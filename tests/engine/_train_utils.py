"""Tiny end-to-end training setups on the generated demo dataset (seconds on a CPU)."""
from __future__ import annotations

from pathlib import Path

from _shared import NANO as CONFIG  # noqa: F401  (re-exported for the tests here)
from _shared import demo_options as tutorial_options  # noqa: F401

from sscma_rtmdet.synth.demo import make_demo_dataset


def small_dataset(root: Path, num_train: int = 8, num_valid: int = 4) -> Path:
    if not (root / "train" / "_annotations.coco.json").exists():
        make_demo_dataset(root, seed=0, num_train=num_train, num_valid=num_valid, num_test=2)
    return root
