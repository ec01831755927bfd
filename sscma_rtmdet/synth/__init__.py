"""Generated datasets, written in Roboflow's COCO layout: the demo set, the learning benchmarks' sets and
the pretraining sets. Made by the toolkit from nothing but code and installed wheels (no download).

The real data pipeline (`sscma_rtmdet.data`) never imports this package; tools, benchmarks and tests do.
`writer.py` is the one writer all sets share (COCO header with a Roboflow placeholder category, JPEG bytes,
per-split summary, worker processes); each set module holds its class list and a
`render(seed, split_idx, index) -> writer.Sample`.
"""
from __future__ import annotations

import importlib

# set (= its module) -> its generator; the tools and benchmarks pick sets here, and importing stays light
SETS = {"demo": "make_demo_dataset", "photo_objects": "make_photo_objects_dataset",
        "everyday": "make_everyday_dataset", "glyphs": "make_glyph_dataset", "broad": "make_broad_dataset"}


def generated_set(name: str):
    """(module, generator) of a set in SETS; the module holds CLASSES and DATASET_NAME."""
    module = importlib.import_module(f"{__name__}.{name}")
    return module, getattr(module, SETS[name])
