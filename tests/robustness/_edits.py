"""What the bad-input matrix (_cases.py) does to a dataset copy, and its checks on the results.

JSON edits are `(data, dataset root) -> None`, applied in place by `Workspace.dataset(train=..., valid=...)`.
Bad model files, images and work dirs are in _bad_files.py.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import cv2
import numpy as np


# ---- JSON edits ---------------------------------------------------------------------------------------
def drop_key(key):
    return lambda d, root: d.pop(key)


def image_field(index, **fields):
    return lambda d, root: d["images"][index].update(fields)


def outside_file(d, root):
    """images[0] points two folders up, at a real image outside the dataset."""
    outside = root.parent / "outside.jpg"
    cv2.imwrite(str(outside), np.full((32, 32, 3), 90, np.uint8))
    d["images"][0]["file_name"] = "../../outside.jpg"


def absolute_file(d, root):
    d["images"][0]["file_name"] = str(root / "valid" / d["images"][0]["file_name"])


def unknown_categories(d, root):
    for a in d["annotations"]:
        a["category_id"] = 99


def no_images(d, root):
    d["images"], d["annotations"] = [], []


def duplicate_id(d, root):
    d["images"][1]["id"] = d["images"][0]["id"]


def renamed_class(d, root):
    next(c for c in d["categories"] if c["name"] == "circle")["name"] = "disc"


def swapped_classes(d, root):
    """circle and square trade names (same ids): a box of id 1 is now called 'square'."""
    a, b = (next(c for c in d["categories"] if c["name"] == n) for n in ("circle", "square"))
    a["name"], b["name"] = b["name"], a["name"]


def ansi_class(d, root):
    """A class name with a terminal escape (red, clear screen) and a newline that forges a result line."""
    next(c for c in d["categories"] if c["name"] == "circle")["name"] = "ci\x1b[31mrc\x1b[2Jle\nbbox_mAP_copypaste: 1"


def wrong_size(d, root):
    im = d["images"][0]
    im["width"], im["height"] = im["width"] * 2, im["height"] + 7


def extra_box(**ann):
    """One more annotation on images[0] (category circle), with `ann`'s fields (e.g. a broken bbox)."""
    def edit(d, root):
        base = dict(id=max(a["id"] for a in d["annotations"]) + 1, image_id=d["images"][0]["id"], category_id=1,
                    bbox=[10.0, 10.0, 20.0, 20.0], area=400.0, iscrowd=0)
        d["annotations"].append({k: v for k, v in {**base, **ann}.items() if v is not DROP})
    return edit


DROP = object()  # extra_box(bbox=DROP): the key is left out


def string_ids(images=True, categories=True, annotations=True):
    """Ids written as strings ('1'): in images / categories, and in the annotations' references to them."""
    def edit(d, root):
        for im in d["images"] if images else []:
            im["id"] = str(im["id"])
        for c in d["categories"] if categories else []:
            c["id"] = str(c["id"])
        for a in d["annotations"] if annotations else []:
            a["image_id"], a["category_id"] = str(a["image_id"]), str(a["category_id"])
    return edit


def duplicate_category(d, root):
    d["categories"][2]["id"] = d["categories"][1]["id"]


def exif_unrotated(d, root):
    """images[0] stored as a camera does: pixels in the sensor frame (turned 90 degrees counter-clockwise)
    with EXIF orientation 6, and the JSON giving that unrotated size."""
    from PIL import Image

    im = d["images"][0]
    path = root / "valid" / im["file_name"]
    raw = np.ascontiguousarray(np.rot90(cv2.imread(str(path))))  # displayed = raw turned 90 clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(raw[:, :, ::-1]).save(path, "JPEG", exif=exif.tobytes(), quality=95)
    im["width"], im["height"] = raw.shape[1], raw.shape[0]


def nested_json(ws):
    """A dataset whose val annotation file nests lists 100000 deep (json.load's RecursionError)."""
    root = ws.dataset()
    (root / "valid" / "_annotations.coco.json").write_text(
        '{"images": [], "categories": [], "annotations": ' + "[" * 100000 + "]" * 100000 + "}")
    return root


# ---- checks: nothing the user owns changed ------------------------------------------------------------
def _digest(path: Path) -> dict:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def remember(ws, path: Path) -> Path:
    """Record `path`'s content (a file, or every file under a folder) so `unchanged` can compare."""
    ws.saved = {**getattr(ws, "saved", {}), **_digest(Path(path))}
    return path


def unchanged(ws, res):
    for p, digest in ws.saved.items():
        assert Path(p).is_file() and hashlib.sha256(Path(p).read_bytes()).hexdigest() == digest, f"{p} changed"


# ---- checks on a tool's result: (ws, result) -> None -----------------------------------------------
def gone(name):
    def check(ws, res):
        assert not (ws.path("wd") / name).exists(), f"{name} still there"
    return check


def short(limit):
    def check(ws, res):
        assert len(res.output) < limit, f"{len(res.output)} characters of output"
    return check


_SCORES = re.compile(r"(?m)^( Average (Precision|Recall) .*|bbox_mAP_copypaste: .*|\S+ +\d\.\d{3} +\d\.\d{3})$")
_CLEAN: dict = {}


def same_metric(ws, res):
    """Every number test.py printed (summary, copypaste, per-class) equals the run on the unedited set."""
    from _workspace import run_tool

    if "clean" not in _CLEAN:
        args = [ws.config, ws.ckpt, "--cfg-options", *ws.options(), "--no-progress", "--threads", "1"]
        _CLEAN["clean"] = run_tool("test", args, ws.tmp).output
    got, want = _SCORES.findall(res.output), _SCORES.findall(_CLEAN["clean"])
    assert got and [g[0] for g in got] == [w[0] for w in want], (got, want)


def no_terminal_codes(forged):
    def check(ws, res):
        assert "\x1b" not in res.output, "a terminal escape reached the output"
        assert not re.search(forged, res.output), "a name forged an output line"
    return check


def not_evaluated(ws, res):
    assert "bbox_mAP_copypaste" not in res.output and "Average Precision" not in res.output, "evaluated first"


def copy_kept_original(ws, res):
    unchanged(ws, res)
    new = hashlib.sha256((ws.path("wd") / "best.pth").read_bytes()).hexdigest()
    assert new != ws.best_before, "the resumed run wrote no new best.pth into its own work dir"


def release(ws, res):
    ws.lock.release()
    assert not (ws.path("busy") / "last.pth").exists(), "the second run wrote into the busy work dir"


def four_drawings(ws, res):
    got = sorted(p.relative_to(ws.path("infer_out")).as_posix() for p in ws.path("infer_out").rglob("*.jpg"))
    assert got == ["sub/x.jpg", "x.bmp.jpg", "x.jpg", "x.png.jpg"], got


def no_checkpoint(ws, res):
    """Refused before the first epoch: no checkpoint in the work dir."""
    assert not list(ws.path("wd").glob("*.pth")), "trained before refusing"


def huge_image_id(d, root):
    """images[0] and its annotations get id 2**70 (beyond int64)."""
    old = d["images"][0]["id"]
    d["images"][0]["id"] = 2**70
    for a in d["annotations"]:
        if a["image_id"] == old:
            a["image_id"] = 2**70


def nothing_in(name):
    """Refused before writing: the folder `name` of the workspace is absent or empty."""
    def check(ws, res):
        folder = ws.path(name)
        assert not folder.exists() or not any(folder.iterdir()), f"files written: {list(folder.iterdir())}"
    return check


def many_classes(n):
    """Categories 1..n (the file's own first, then 'c<id>'): 100,000 classes asked 9 GiB at validation."""
    def edit(d, root):
        have = {c["id"] for c in d["categories"]}
        top = max(have)
        d["categories"] += [dict(id=i, name=f"c{i}", supercategory=d["categories"][-1].get("supercategory", "x"))
                            for i in range(top + 1, top + 1 + n - len(have))]
    return edit
