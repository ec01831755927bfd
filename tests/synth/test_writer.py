"""The writer every generated set shares: output folder rules, the summary table, worker processes."""
from __future__ import annotations

import pytest

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.synth.writer import format_summary, prepare_output_dir, summarize_coco


def test_prepare_output_dir(tmp_path):
    with pytest.raises(UserError, match=r"num_valid=-1: the number of images must be >= 0"):
        prepare_output_dir(tmp_path / "new", {"num_train": 1, "num_valid": -1}, False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file; give a folder for the broad set"):
        prepare_output_dir(tmp_path / "file", {}, False, "broad set")
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    (out / "test").mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(UserError, match=r"not empty.*--overwrite \(replaces its train/ and valid/ sub-folders\)"):
        prepare_output_dir(out, {}, False, splits=("train", "valid"))
    prepare_output_dir(out, {}, True, splits=("train", "valid"))
    assert not (out / "train").exists() and (out / "test").exists() and (out / "keep.txt").exists()


def _coco(per_image_labels, classes):
    cats = [dict(id=0, name="set", supercategory="none")] + [dict(id=i + 1, name=n) for i, n in enumerate(classes)]
    anns = [dict(image_id=i, category_id=c + 1) for i, labels in enumerate(per_image_labels) for c in labels]
    return dict(categories=cats, images=[dict(id=i) for i in range(len(per_image_labels))], annotations=anns)


def test_summary_and_table():
    s = summarize_coco(_coco([[0, 0], [], [1]], ("a", "b")))
    assert s == dict(images=3, boxes=3, empty_images=1, per_class={"a": 2, "b": 1})
    table = format_summary({"train": s}, ("a", "b"))
    assert table.splitlines()[1].split() == ["train", "3", "1", "3", "2", "1"]
    many = tuple(f"c{i}" for i in range(20))
    wide = format_summary({"train": summarize_coco(_coco([[0, 0, 5], [5, 5]], many))}, many)
    assert "fewest, most" in wide and "0 (c1), 3 (c5)" in wide
