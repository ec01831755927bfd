"""One writer for every generated set: Roboflow's COCO layout, baseline JPEGs, per-split summaries, workers.

A set is a `SynthSet`: its name (Roboflow's placeholder category 0: supercategory "none", never used by a
box; the classes follow with ids 1..K), a description, its class names and a module-level
`render(seed, split_idx, index, **options) -> Sample`. `write_dataset` renders every image of the requested
splits into OUT/<split>/<split>_NNNN.jpg and writes OUT/<split>/_annotations.coco.json last (its presence
marks a complete split). Each image depends only on (seed, split index in SPLITS, index), so worker
processes change the speed, never the bytes.
"""
from __future__ import annotations

import functools
import json
import multiprocessing
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import UserError
from ..utils.fileio import atomic_write_bytes, atomic_write_text

SPLITS = ("train", "valid", "test")  # a split's index here seeds its images
ANN_NAME = "_annotations.coco.json"
FIXED_DATE = "2024-01-01T00:00:00+00:00"  # not "now": the JSON must be byte-identical across runs
_POOL_MIN_IMAGES = 32  # below this, starting worker processes costs more than it saves


@dataclass
class Sample:
    """One rendered image: BGR uint8 (h, w, 3), inclusive pixel extents (x0, y0, x1, y1) and class
    indices of its objects, and the JPEG quality to store it with."""
    image: np.ndarray
    boxes: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    quality: int = 90

    @classmethod
    def from_objects(cls, image: np.ndarray, objects: list[dict], quality: int = 90) -> "Sample":
        """From photo_layers.compose's [dict(label, box)]."""
        return cls(image, [o["box"] for o in objects], [o["label"] for o in objects], quality)


@dataclass(frozen=True)
class SynthSet:
    name: str
    description: str
    classes: tuple
    render: Callable  # module-level, so worker processes receive it by name


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG bytes; explicit settings so every libjpeg build encodes the same bytes."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, 0, cv2.IMWRITE_JPEG_PROGRESSIVE, 0]
    ok, buf = cv2.imencode(".jpg", image, params)
    if not ok:  # pragma: no cover - cv2 without JPEG support
        raise RuntimeError("cv2.imencode failed to write JPEG")
    return buf.tobytes()


def coco_header(spec: SynthSet) -> dict:
    cats = [dict(id=0, name=spec.name, supercategory="none")]
    cats += [dict(id=i + 1, name=n, supercategory=spec.name) for i, n in enumerate(spec.classes)]
    return dict(info=dict(year="2024", version="1", description=spec.description, contributor="sscma-rtmdet",
                          url="", date_created=FIXED_DATE),
                licenses=[dict(id=1, url="https://creativecommons.org/licenses/by/4.0/", name="CC BY 4.0")],
                categories=cats, images=[], annotations=[])


def _encoded(job: tuple):
    """(JPEG bytes, h, w, boxes, labels) of one image; runs in worker processes."""
    render, seed, split_idx, index = job
    s = render(seed, split_idx, index)
    return encode_jpeg(s.image, s.quality), s.image.shape[0], s.image.shape[1], s.boxes, s.labels


def _write_split(spec: SynthSet, render, split_dir: Path, split_idx: int, seed: int, num: int, pool,
                 progress) -> dict:
    """Render `num` images into split_dir, then its annotation file (written last); returns the COCO dict."""
    split_dir.mkdir(parents=True, exist_ok=True)
    coco = coco_header(spec)
    jobs = [(render, seed, split_idx, i) for i in range(num)]
    results = pool.imap(_encoded, jobs, chunksize=8) if pool else map(_encoded, jobs)
    for i, (data, h, w, boxes, labels) in enumerate(results):
        name = f"{split_dir.name}_{i:04d}.jpg"
        atomic_write_bytes(split_dir / name, data)
        coco["images"].append(dict(id=i, license=1, file_name=name, height=h, width=w, date_captured=FIXED_DATE))
        for (x0, y0, x1, y1), label in zip(boxes, labels):
            bw, bh = float(x1 - x0 + 1), float(y1 - y0 + 1)
            coco["annotations"].append(dict(id=len(coco["annotations"]), image_id=i, category_id=label + 1,
                                            bbox=[float(x0), float(y0), bw, bh], area=bw * bh, segmentation=[],
                                            iscrowd=0))
        if progress:
            progress(1)
    atomic_write_text(split_dir / ANN_NAME, json.dumps(coco))
    return coco


def prepare_output_dir(out: Path, counts: dict, overwrite: bool, what: str = "dataset",
                       splits: tuple = SPLITS) -> None:
    """Check image counts (>= 0) and that `out` is an empty folder, or with `overwrite` clear its splits."""
    for name, n in counts.items():
        if n < 0:
            raise UserError(f"{name}={n}: the number of images must be >= 0")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give a folder for the {what}")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            folders = ", ".join(f"{s}/" for s in splits[:-1]) + f" and {splits[-1]}/"
            raise UserError(f"{out} is not empty; choose an empty folder or pass --overwrite "
                            f"(replaces its {folders} sub-folders)")
        for split in splits:
            if (out / split).exists():
                shutil.rmtree(out / split)


def write_dataset(spec: SynthSet, out_dir, counts: dict, seed: int = 0, *, options: dict | None = None,
                  overwrite: bool = False, progress=None, workers: int = 1, what: str = "dataset",
                  splits: tuple = SPLITS) -> dict:
    """Write the splits of `counts` ({split: number of images}, in SPLITS order) of `spec` into out_dir;
    returns {split: summarize_coco(...)}.

    `options` go to every render call; `progress(n)` is called per image; `workers` > 1 renders in that
    many spawned processes (scripts calling this need a `__main__` guard). A non-empty out_dir is refused
    unless `overwrite`, which replaces only the `splits` sub-folders.
    """
    out = Path(out_dir)
    prepare_output_dir(out, {f"num_{s}": n for s, n in counts.items()}, overwrite, what, splits)
    render = functools.partial(spec.render, **options) if options else spec.render
    # spawn, not fork: a fork after OpenCV has started its thread pool can deadlock in the child
    pool = multiprocessing.get_context("spawn").Pool(workers, cv2.setNumThreads, (1,)) \
        if workers > 1 and sum(counts.values()) > _POOL_MIN_IMAGES else None
    try:
        return {split: summarize_coco(_write_split(spec, render, out / split, SPLITS.index(split), seed, num,
                                                   pool, progress))
                for split, num in counts.items()}
    finally:
        if pool:
            pool.terminate()


def summarize_coco(coco: dict) -> dict:
    """dict(images, boxes, empty_images, per_class {name: boxes}) of one COCO dict."""
    names = {c["id"]: c["name"] for c in coco["categories"]}
    per_class = {n: 0 for i, n in names.items() if i != 0}
    for a in coco["annotations"]:
        per_class[names[a["category_id"]]] += 1
    with_boxes = {a["image_id"] for a in coco["annotations"]}
    return dict(images=len(coco["images"]), boxes=len(coco["annotations"]),
                empty_images=sum(im["id"] not in with_boxes for im in coco["images"]), per_class=per_class)


def format_summary(summary: dict, classes, max_columns: int = 12) -> str:
    """Table of write_dataset's return value: images, empty images, boxes, and boxes per class (one column
    per class up to `max_columns` classes, else the rarest and the most frequent class)."""
    wide = len(classes) <= max_columns
    head = "  ".join(classes) if wide else "boxes per class: fewest, most"
    lines = [f"{'split':<6} {'images':>6} {'empty':>5} {'boxes':>5}  {head}"]
    for split, s in summary.items():
        counts = s["per_class"]
        if wide:
            per = "  ".join(f"{counts[c]:>{len(c)}}" for c in classes)
        else:
            lo, hi = min(classes, key=counts.get), max(classes, key=counts.get)
            per = f"{counts[lo]} ({lo}), {counts[hi]} ({hi})"
        lines.append(f"{split:<6} {s['images']:>6} {s['empty_images']:>5} {s['boxes']:>5}  {per}")
    return "\n".join(lines)
