"""Inputs of issue 40's weak cases (_cases.py): JSON edits `(data, root) -> None`, files and datasets built
from the Workspace, and checks `(ws, result) -> None`."""
from __future__ import annotations

import pathlib
import shutil

import cv2
import numpy as np


# ---- JSON edits ---------------------------------------------------------------------------------------
def placeholder_box(d, root):
    """The last box labelled with Roboflow's placeholder category 0 (the dataset name)."""
    d["annotations"][-1]["category_id"] = 0


def same_file_twice(d, root):
    """images[0]'s file listed again under a new id, with a copy of its first box."""
    im = dict(d["images"][0], id=max(i["id"] for i in d["images"]) + 1)
    box = next(a for a in d["annotations"] if a["image_id"] == d["images"][0]["id"])
    d["images"].append(im)
    d["annotations"].append(dict(box, id=max(a["id"] for a in d["annotations"]) + 1, image_id=im["id"]))


def blank_and_twin_names(d, root):
    """'circle' renamed '' and 'square' renamed 'triangle': an empty name and a repeated one."""
    names = {"circle": "", "square": "triangle"}
    for c in d["categories"]:
        c["name"] = names.get(c["name"], c["name"])


def all_crowd(d, root):
    for a in d["annotations"]:
        a["iscrowd"] = 1


def no_test_split(ws):
    root = ws.dataset()
    shutil.rmtree(root / "test")
    return root


# ---- model files --------------------------------------------------------------------------------------
class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.write_text, (pathlib.Path(self.marker), "pwned"))


def pickle_global(ws):
    """The tiny checkpoint with an object whose unpickling calls a function (refused by weights_only)."""
    import torch

    ckpt = torch.load(ws.ckpt, weights_only=True)
    ckpt["meta"]["payload"] = _Payload(ws.path("PWNED"))
    path = ws.path("evil.pth")
    torch.save(ckpt, path)
    return path


def vela_named(ws):
    """A .tflite named as export names a Vela file (x_int8_vela.tflite), without a sidecar, as export writes it."""
    folder = ws.path("vela")
    folder.mkdir()
    shutil.copy(ws.models["float32"], folder / "x_int8_vela.tflite")
    return folder / "x_int8_vela.tflite"


def float16_tflite(ws):
    from sscma_rtmdet.export.tflite_export import export_tflite

    ws.path("f16").mkdir()
    return export_tflite(ws.models["onnx"], ws.path("f16/tiny"), ["float16"])["float16"]


# ---- datasets -----------------------------------------------------------------------------------------
def yolo_dataset(ws, val=True, train_images=True):
    """A Roboflow YOLO export: data.yaml with `train: ../train/images` (and `val: ../valid/images`)."""
    root = ws.path("yolo")
    for split in ("train", "valid"):
        if split == "train" and not train_images:
            continue
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir()
        for i in range(2):
            cv2.imwrite(str(root / split / "images" / f"{i}.jpg"), np.full((64, 64, 3), 100, np.uint8))
            (root / split / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    lines = ["names: ['circle']", "nc: 1", "train: ../train/images"] + (["val: ../valid/images"] if val else [])
    (root / "data.yaml").write_text("\n".join(lines) + "\n")
    return root


def zip_file(ws):
    import zipfile

    path = ws.path("dataset.zip")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train/_annotations.coco.json", "{}")
    return path


# ---- checks -------------------------------------------------------------------------------------------
def not_in_output(*texts):
    def check(ws, res):
        for t in texts:
            assert t not in res.output, f"{t!r} in the output"
    return check


def no_work_dir(ws, res):
    assert not list(ws.tmp.glob("data*/train/run")), "the work dir was created inside the dataset"


def on_data(ws, data, *extra):
    """test.py of the tiny checkpoint with --data `data` (its own config; no dataset --cfg-options)."""
    return [ws.ckpt, "--data", data, "--no-progress", "--threads", "1", *extra]


def train_into_split(ws):
    """train.py with --work-dir inside a dataset copy's train/ image folder."""
    data = ws.dataset()
    return [ws.config, "--cfg-options", *ws.options(data), "--work-dir", data / "train" / "run", "--no-progress"]


def marker_untouched(ws, res):
    assert not ws.path("PWNED").exists(), "the checkpoint's pickle ran"
    assert "weights_only" not in res.output, "torch's advice to load unsafely was relayed"
