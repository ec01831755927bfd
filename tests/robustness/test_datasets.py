"""Issue 12 item 5 (partly unannotated sets warn with counts) and the dataset messages of the should-fix list,
checked on CocoDetection directly."""
from __future__ import annotations

import pytest

from _edits import absolute_file, duplicate_id, outside_file, wrong_size

from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.engine.preflight import check_split
from sscma_rtmdet.errors import DataError


def _coco(root, split="train"):
    return CocoDetection(str(root) + "/", f"{split}/_annotations.coco.json", f"{split}/")


def test_partly_unannotated_train_set_warns_with_counts(ws):
    def unannotate_two(d, root):
        ids = {im["id"] for im in d["images"][:2]}
        d["annotations"] = [a for a in d["annotations"] if a["image_id"] not in ids]
    coco = _coco(ws.dataset(train=unannotate_two))
    said = []
    check_split(coco, "train", said.append)
    assert len(said) == 1 and said[0].startswith(f"warning: 2 of {len(coco)} train images in ")
    assert "have no boxes (they train as background-only images)" in said[0]


@pytest.mark.parametrize("edit, match", [
    (outside_file, r"1 image\(s\) point outside the dataset folder .*images\[0\] \(id \d+\) file_name "
                   r"'\.\./\.\./outside\.jpg'; file_name must be a relative path inside it"),
    (absolute_file, r"point outside the dataset folder"),
    (duplicate_id, r"duplicate image id\(s\): id \d+: images\[0\] and images\[1\]"),
])
def test_bad_image_entries_are_refused(ws, edit, match):
    with pytest.raises(DataError, match=match):
        _coco(ws.dataset(train=edit))


def test_json_size_mismatch_is_named(ws):
    coco = _coco(ws.dataset(train=wrong_size))
    with pytest.warns(UserWarning, match=r"train/_annotations\.coco\.json: image '.*' \(id \d+\) is \d+x\d+ "
                                         r"\(width x height\) but the annotation file says \d+x\d+"):
        coco.load_image(0)
