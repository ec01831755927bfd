"""Dataset statistics: what a split holds (images, boxes per class, box sizes) and what may hurt training.

    print(stats_report("datasets/mine"))     # any format `data.formats` reads, every split

`dataset_stats(coco_dict)` counts one split the way `CocoDetection` would train on it: a Roboflow
placeholder category is not a class, crowd annotations and malformed boxes are counted apart.
`format_stats({split: stats}, classes)` renders a table per split and the warnings.
"""
from __future__ import annotations

import bisect
import math
import warnings
from pathlib import Path

from .coco import parse_box, real_categories
from .formats import detect_format, load_splits

SIZE_EDGES = (8, 16, 32, 64, 128, 256)  # sqrt(w * h) in pixels: COCO's small/medium/large, split finer
SIZE_BINS = ("<8", "8-16", "16-32", "32-64", "64-128", "128-256", ">=256")
TINY_SIDE = 4  # px: below one stride-8 cell even before the letterbox shrinks the image
FEW_BOXES = 10  # training boxes under which a class is rarely learned


def dataset_stats(coco: dict) -> dict:
    """Counts of one split's COCO dict.

    Returns dict(images, images_without_boxes, boxes, boxes_per_class {name: n}, images_per_class
    {name: n}, size_histogram {bin label: n} (bins of sqrt(w*h) px, SIZE_BINS), tiny_boxes (a side
    < TINY_SIDE px), difficult (boxes marked "difficult": 1 by the VOC reader), crowd, skipped (malformed
    box, unknown image or category)). Classes are ordered by category id.
    """
    names = {c["id"]: str(c["name"]) for c in real_categories(coco)}
    per_class = dict.fromkeys(names.values(), 0)
    images_of: dict[str, set] = {n: set() for n in names.values()}
    hist = dict.fromkeys(SIZE_BINS, 0)
    image_ids = {im.get("id") for im in coco["images"] if isinstance(im, dict)}
    with_boxes: set = set()
    counts = dict(boxes=0, tiny_boxes=0, difficult=0, crowd=0, skipped=0)
    for ann in coco.get("annotations", []):
        if not isinstance(ann, dict) or ann.get("image_id") not in image_ids or ann.get("category_id") not in names:
            counts["skipped"] += 1
            continue
        if ann.get("iscrowd", 0):
            counts["crowd"] += 1
            continue
        _, box = parse_box(ann.get("bbox"), None, None)
        if box is None:
            counts["skipped"] += 1
            continue
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        name = names[ann["category_id"]]
        per_class[name] += 1
        images_of[name].add(ann["image_id"])
        with_boxes.add(ann["image_id"])
        hist[SIZE_BINS[bisect.bisect_right(SIZE_EDGES, math.sqrt(w * h))]] += 1
        counts["boxes"] += 1
        counts["tiny_boxes"] += min(w, h) < TINY_SIDE
        counts["difficult"] += bool(ann.get("difficult"))
    return dict(images=len(image_ids), images_without_boxes=len(image_ids - with_boxes),
                boxes_per_class=per_class, images_per_class={n: len(s) for n, s in images_of.items()},
                size_histogram=hist, **counts)


def _table(header: list[str], rows: list[list], indent: str = "  ") -> list[str]:
    """Text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in cells]


def _split_block(split: str, st: dict, classes: list[str]) -> list[str]:
    extra = [f"{st['tiny_boxes']} tiny (a side < {TINY_SIDE} px)"]
    extra += [f"{st[k]} {k}" for k in ("difficult", "crowd", "skipped") if st[k]]
    lines = [f"{split}: {st['images']} images ({st['images_without_boxes']} without boxes), {st['boxes']} boxes, "
             + ", ".join(extra)]
    names = list(classes) + [n for n in st["boxes_per_class"] if n not in classes]
    lines += _table(["class", "boxes", "images"],
                    [[n, st["boxes_per_class"].get(n, 0), st["images_per_class"].get(n, 0)] for n in names])
    lines += _table(["box size sqrt(w*h) px", *SIZE_BINS], [["boxes", *st["size_histogram"].values()]])
    return lines


def _warnings(stats_by_split: dict[str, dict], classes: list[str]) -> list[str]:
    out = []
    for split, st in stats_by_split.items():
        if st["tiny_boxes"]:
            out.append(f"{split}: {st['tiny_boxes']} tiny box(es) (a side < {TINY_SIDE} px): hard to detect once "
                       "the image is resized to the model input; check they are real objects")
        if st["images_without_boxes"]:
            out.append(f"{split}: {st['images_without_boxes']} of {st['images']} images have no boxes (trained "
                       "as background): check their labels are not missing")
        if st["crowd"] or st["skipped"]:
            out.append(f"{split}: {st['crowd']} crowd and {st['skipped']} malformed/unknown annotation(s) are "
                       "not used for training")
    train, val = stats_by_split.get("train"), stats_by_split.get("val")
    if train and val:
        gone = [n for n, k in train["boxes_per_class"].items() if k and not val["boxes_per_class"].get(n)]
        if gone:
            out.append(f"val: class(es) {', '.join(map(repr, gone))} have train boxes but none in val: their "
                       "AP cannot be measured")
    if train:
        few = [f"{n!r} ({train['boxes_per_class'].get(n, 0)})" for n in classes
               if train["boxes_per_class"].get(n, 0) < FEW_BOXES]
        if few:
            out.append(f"train: class(es) {', '.join(few)} have fewer than {FEW_BOXES} boxes: too few to learn "
                       "reliably")
    return out


def format_stats(stats_by_split: dict[str, dict], classes: list[str], notes: list[str] | tuple = ()) -> str:
    """A readable report: one block per split (class table, box-size histogram), then the warnings
    (tiny boxes, images without boxes, classes in train missing from val, classes under FEW_BOXES training
    boxes) and `notes` (e.g. the readers' warnings)."""
    lines = []
    for split, st in stats_by_split.items():
        lines += _split_block(split, st, classes) + [""]
    found = _warnings(stats_by_split, list(classes)) + list(notes)
    lines += ["warnings:", *(f"  - {w}" for w in found)] if found else ["warnings: none"]
    return "\n".join(lines) + "\n"


def stats_report(root: str | Path, classes: list[str] | None = None) -> str:
    """Detect the dataset's format, read every split and report it (`classes`: VOC only, see formats).
    The readers' warnings (clipped, skipped labels) become part of the report instead of stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fmt = detect_format(root)
        loaded = load_splits(root, None, classes)
    stats = {split: dataset_stats(coco) for split, (coco, _) in loaded.items()}
    first = next(iter(loaded.values()))[0] if loaded else {"categories": [], "annotations": []}
    names = [str(c["name"]) for c in real_categories(first)]
    head = f"dataset {root} ({fmt}): {len(names)} classes: {', '.join(names)}\n\n"
    notes = list(dict.fromkeys(str(w.message) for w in caught))  # the yaml is read once per split
    return head + format_stats(stats, names, notes)
