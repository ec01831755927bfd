"""Dataset statistics (sscma_rtmdet.data.stats) on a hand-counted set, and the report of a dataset on disk."""
from __future__ import annotations

import cv2
import numpy as np

from sscma_rtmdet.data.stats import SIZE_BINS, dataset_stats, format_stats, stats_report

CATS = [dict(id=0, name="things", supercategory="none"), dict(id=1, name="a", supercategory="things"),
        dict(id=2, name="b", supercategory="things"), dict(id=3, name="c", supercategory="things")]


def ann(image_id, cat, bbox, **kw):
    return dict(image_id=image_id, category_id=cat, bbox=bbox, iscrowd=kw.pop("iscrowd", 0), **kw)


def train_set() -> dict:
    anns = [ann(1, 1, [0, 0, 4, 4]),        # sqrt 4 -> <8; a 4 px side is not tiny
            ann(1, 1, [0, 0, 3, 10]),       # sqrt 5.5 -> <8; tiny (3 px wide)
            ann(1, 2, [10, 10, 8, 8]),      # 8 -> 8-16 (bins include their lower edge)
            ann(1, 2, [0, 0, 100, 100]),    # 64-128
            ann(2, 1, [0, 0, 256, 256]),    # >=256
            ann(2, 1, [0, 0, 16, 16]),      # 16-32
            ann(2, 2, [0, 0, 5, 5], iscrowd=1),
            ann(4, 1, [0, 0, 0, 5]),        # empty: skipped
            ann(4, 99, [0, 0, 5, 5]),       # unknown category: skipped
            ann(42, 1, [0, 0, 5, 5]),       # unknown image: skipped
            ann(4, 1, [1, 1, 40, 40], difficult=1)]  # 32-64
    images = [dict(id=i, file_name=f"{i}.jpg", width=300, height=300) for i in (1, 2, 3, 4)]
    return dict(images=images, annotations=[dict(a, id=k + 1) for k, a in enumerate(anns)], categories=CATS)


def val_set() -> dict:
    return dict(images=[dict(id=1, file_name="v.jpg", width=50, height=50), dict(id=2, file_name="w.jpg")],
                annotations=[dict(ann(1, 2, [0, 0, 20, 30]), id=1), dict(ann(2, 2, [5, 5, 9, 9]), id=2)],
                categories=CATS)


def test_dataset_stats_counts_a_known_set():
    st = dataset_stats(train_set())
    assert (st["images"], st["images_without_boxes"], st["boxes"]) == (4, 1, 7)
    assert st["boxes_per_class"] == {"a": 5, "b": 2, "c": 0}  # the Roboflow placeholder is not a class
    assert st["images_per_class"] == {"a": 3, "b": 1, "c": 0}
    assert list(st["size_histogram"]) == list(SIZE_BINS)
    assert list(st["size_histogram"].values()) == [2, 1, 1, 1, 1, 0, 1]
    assert (st["tiny_boxes"], st["difficult"], st["crowd"], st["skipped"]) == (1, 1, 1, 3)


def test_format_stats_tables_and_warnings():
    text = format_stats({"train": dataset_stats(train_set()), "val": dataset_stats(val_set())}, ["a", "b", "c"])
    assert "train: 4 images (1 without boxes), 7 boxes, 1 tiny (a side < 4 px), 1 difficult, 1 crowd, 3 skipped" \
        in text
    assert "val: 2 images (0 without boxes), 2 boxes, 0 tiny (a side < 4 px)\n" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["a", "5", "3"] in rows and ["c", "0", "0"] in rows and ["b", "2", "2"] in rows
    assert ["boxes", "2", "1", "1", "1", "1", "0", "1"] in rows
    assert "  - train: 1 tiny box(es) (a side < 4 px)" in text
    assert "  - train: 1 of 4 images have no boxes" in text
    assert "  - train: 1 crowd and 3 malformed/unknown annotation(s) are not used for training" in text
    assert "  - val: class(es) 'a' have train boxes but none in val" in text
    assert "  - train: class(es) 'a' (5), 'b' (2), 'c' (0) have fewer than 10 boxes" in text
    clean = dict(train_set(), annotations=[dict(ann(1, 1, [0, 0, 50, 50]), id=k + 1) for k in range(10)])
    clean["categories"] = CATS[:2]
    assert format_stats({"train": dataset_stats(clean)}, ["a"]).endswith("warnings:\n  - train: 3 of 4 images "
                                                                         "have no boxes (trained as background): "
                                                                         "check their labels are not missing\n")


def test_stats_report_reads_a_yolo_dataset_and_includes_reader_warnings(tmp_path):
    for split, stems in (("train", ["p", "q"]), ("valid", ["r"])):
        (tmp_path / split / "images").mkdir(parents=True)
        (tmp_path / split / "labels").mkdir()
        for s in stems:
            cv2.imwrite(str(tmp_path / split / "images" / f"{s}.png"), np.zeros((40, 50, 3), np.uint8))
    (tmp_path / "train" / "labels" / "p.txt").write_text("0 0.5 0.5 0.4 0.5\n1 0.5 0.5 0.04 1.0004\n")
    (tmp_path / "valid" / "labels" / "r.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnc: 2\nnames: [a, b]\n")
    text = stats_report(tmp_path)
    assert text.startswith(f"dataset {tmp_path} (yolo): 2 classes: a, b\n\n")
    assert "train: 2 images (1 without boxes), 2 boxes, 1 tiny (a side < 4 px)" in text
    assert "val: 1 images (0 without boxes), 1 boxes" in text
    assert "  - val: class(es) 'a' have train boxes but none in val" in text
    assert "data.yaml train: 1 coordinates slightly outside 0..1 clipped (train/labels/p.txt:2)" in text
