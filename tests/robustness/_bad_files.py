"""Bad files for the bad-input matrix (_cases.py): model files, sidecars and checkpoints edited or forged,
hostile images, videos and folders, and work dirs in odd states. Each builder takes the Workspace and returns
a path."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from _edits import remember

# ---- bad model files ----------------------------------------------------------------------------------
def garbage_tflite(ws):
    """Random bytes with a valid-looking header: root offset 16 and the TFL3 identifier."""
    rng = np.random.default_rng(0)
    body = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    return ws.write("garbage.tflite", (16).to_bytes(4, "little") + b"TFL3" + body)


def truncated_jpeg(ws):
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return ws.write("cut.jpg", buf.tobytes()[: len(buf) * 2 // 3])


def edited_sidecar(kind: str, edit, name: str = "edited"):
    """ws -> a copy of the tiny export `kind` ('onnx', 'float32') whose sidecar `edit(meta)` changed."""
    def build(ws):
        src = Path(ws.models[kind])
        path = ws.path(name + src.suffix)
        shutil.copy(src, path)
        meta = json.loads(Path(str(src) + ".json").read_text())
        edit(meta)
        ws.write(path.name + ".json", json.dumps(meta).encode())
        return path
    return build


def sidecar_set(**fields):
    """A sidecar edit: dotted field -> value (`deployment.imgsz`, `input.hw`, `normalization_folded`)."""
    def edit(meta):
        for key, value in fields.items():
            *parents, leaf = key.split("__")
            target = meta
            for p in parents:
                target = target[p]
            target[leaf] = value(target[leaf]) if callable(value) else value
    return edit


def flip_folded(meta):
    meta["normalization_folded"] = not meta["normalization_folded"]


def strides_16_32_64(meta):
    """Strides, output names and map consistently rewritten for (16, 32, 64): only the graph can tell."""
    new = {"8": "16", "16": "32", "32": "64"}
    rename = {f"{k}_s{s}": f"{k}_s{new[s]}" for k in ("score", "box") for s in new}
    meta["deployment"]["strides"] = [16, 32, 64]
    meta["output_names"] = [rename[n] for n in meta["output_names"]]
    meta["output_map"] = {k: rename[v] for k, v in meta["output_map"].items()}
    meta["outputs"] = {rename[k]: v for k, v in meta["outputs"].items()}


def external_data_symlink(ws):
    """The tiny ONNX with its weights as external data, `weights.bin` a symlink to a file outside its folder
    (the real weights, so a reader that follows it would run fine)."""
    import onnx

    folder = ws.path("model")
    folder.mkdir()
    path = folder / "ext.onnx"
    onnx.save_model(onnx.load(str(ws.models["onnx"])), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=1024)
    shutil.copy(str(ws.models["onnx"]) + ".json", str(path) + ".json")
    outside = ws.path("outside_weights.bin")
    (folder / "weights.bin").rename(outside)
    (folder / "weights.bin").symlink_to(outside)
    return path


def bomb_pth(ws):
    """A 100 KiB .pth (zip) with a deflated member that inflates to 200 MiB."""
    import zipfile

    import torch

    path = ws.path("bomb.pth")
    torch.save({"state_dict": {"w": torch.zeros(4)}}, path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf, \
            zf.open("bomb/data/99", "w", force_zip64=True) as f:
        chunk = bytes(1 << 20)
        for _ in range(200):
            f.write(chunk)
    return path


def edited_checkpoint(edit, name: str = "edited.pth"):
    """ws -> the tiny checkpoint with `edit(ckpt)` applied."""
    def build(ws):
        import torch

        ckpt = torch.load(ws.ckpt, weights_only=True)
        edit(ckpt)
        path = ws.path(name)
        torch.save(ckpt, path)
        return path
    return build


def deployment_imgsz(hw):
    return edited_checkpoint(lambda ck: ck["meta"]["deployment"].update(imgsz=list(hw)))


def bad_sidecar(ws):
    """The tiny ONNX export with a hand-edited sidecar: input.hw is a string."""
    path = ws.path("edited.onnx")
    shutil.copy(ws.models["onnx"], path)
    meta = json.loads(open(str(ws.models["onnx"]) + ".json").read())
    meta["input"]["hw"] = "64x64"
    ws.write("edited.onnx.json", json.dumps(meta).encode())
    return path


def raw_state_dict(ws):
    import torch

    path = ws.path("raw_state_dict.pth")
    torch.save(torch.load(ws.ckpt, weights_only=True)["state_dict"], path)
    return path


# ---- work dirs ----------------------------------------------------------------------------------------
def stale_temp(ws):
    wd = ws.work_dir_copy()
    (wd / ".epoch_3.k2j4_x9a.pth").write_bytes(b"")
    return wd


def truncate_last(ws):
    wd = ws.work_dir_copy()
    data = (wd / "last.pth").read_bytes()
    (wd / "last.pth").write_bytes(data[: len(data) // 3])
    return wd


def copied_run_without_best(ws):
    """A copy of the tiny run's work dir whose last.pth forgets its best AP (the next validation is a new
    best), the original's files remembered."""
    import torch

    remember(ws, ws.run["work_dir"])
    wd = ws.work_dir_copy()
    ckpt = torch.load(wd / "last.pth", weights_only=True)
    ckpt["resume"]["best"] = {"metric": -1.0, "epoch": None}
    torch.save(ckpt, wd / "last.pth")
    ws.best_before = hashlib.sha256((wd / "best.pth").read_bytes()).hexdigest()
    return wd


def locked_work_dir(ws):
    """A work dir held by a running training (this process holds its lock until the check releases it)."""
    from sscma_rtmdet.engine.run_dir import WorkDirLock

    ws.lock = WorkDirLock(ws.path("busy")).acquire()
    return ws.path("busy")


# ---- hostile images and outputs -----------------------------------------------------------------------
def huge_jpeg(path: Path) -> Path:
    """A small JPEG whose frame header claims 20000x20000 pixels (400 MP: 1.2 GB decoded)."""
    ok, buf = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))
    data = bytearray(buf.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (20000).to_bytes(2, "big") * 2  # height, width
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def huge_val_image(ws):
    """A dataset copy whose first val image claims 20000x20000 pixels."""
    root = ws.dataset()
    name = json.loads((root / "valid" / "_annotations.coco.json").read_text())["images"][0]["file_name"]
    huge_jpeg(root / "valid" / name)
    return root


def same_stems(ws):
    """x.jpg, x.bmp, x.png and sub/x.jpg in one folder: four drawings that must not collide."""
    folder = ws.path("imgs")
    img = cv2.imread(str(next((ws.run["data"] / "valid").glob("*.jpg"))))
    for name in ("x.jpg", "x.bmp", "x.png", "sub/x.jpg"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), img)
    return folder


def control_char_name(ws):
    """An image whose file name holds a terminal escape and a newline forging an output line."""
    folder = ws.path("odd")
    folder.mkdir()
    shutil.copy(next((ws.run["data"] / "valid").glob("*.jpg")), folder / "a\x1b[2Jb\nforged: 99 detections.jpg")
    return folder


def tiny_video(ws):
    folder = ws.path("video")
    folder.mkdir()
    path = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


def unreadable_parent(ws):
    """An output path whose folder cannot be made (its parent is a file): stands for a read-only folder."""
    return ws.write("a_file", b"x") / "out" / "dets.json"


# ---- issue 40: bad -------------------------------------------------------------------------------------
def val_image_replaced(how: str):
    """ws -> a dataset copy whose first val image is a text file named .jpg ('text') or a link to a file outside
    the dataset ('link', standing for /etc/shadow)."""
    def build(ws):
        root = ws.dataset()
        name = json.loads((root / "valid" / "_annotations.coco.json").read_text())["images"][0]["file_name"]
        image = root / "valid" / name
        image.unlink()
        if how == "text":
            image.write_text("not an image\n")
        else:
            secret = ws.write("secret/shadow", b"root:$6$abc:19000:0:99999:7:::\n")
            image.symlink_to(secret)
        return root
    return build


def onnx_external(how: str):
    """ws -> the tiny ONNX with every constant (initializers and Constant nodes) in external data `c.bin`,
    passing onnx.checker ('all'), or with `c.bin` deleted ('missing')."""
    def build(ws):
        import onnx

        folder = ws.path("model")
        folder.mkdir(exist_ok=True)
        path = folder / "ext.onnx"
        onnx.save_model(onnx.load(str(ws.models["onnx"])), str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="c.bin", size_threshold=0, convert_attribute=True)
        shutil.copy(str(ws.models["onnx"]) + ".json", str(path) + ".json")
        if how == "missing":
            (folder / "c.bin").unlink()
        return path
    return build


def onnx_custom_domain(ws):
    """The tiny ONNX with one more node, of an operator from a custom domain onnxruntime does not know."""
    import onnx
    from onnx import helper

    model = onnx.load(str(ws.models["onnx"]))
    first = model.graph.node[0]
    out = first.output[0]
    first.output[0] = out + "_pre"
    model.graph.node.insert(1, helper.make_node("Mystery", [out + "_pre"], [out], domain="com.example.custom"))
    model.opset_import.append(helper.make_opsetid("com.example.custom", 1))
    path = ws.path("custom.onnx")
    onnx.save_model(model, str(path))
    shutil.copy(str(ws.models["onnx"]) + ".json", str(path) + ".json")
    return path


ANSI_NAME = "ci\x1b[31mrc\x1b]0;pwned\x07le\x1b[2J\nforged: 1"  # colour, OSC title, clear screen, a new line


def ansi_class_checkpoint(ws):
    """The tiny checkpoint whose first class name holds terminal escapes and a newline."""
    return edited_checkpoint(lambda ck: ck["meta"]["deployment"]["classes"].__setitem__(0, ANSI_NAME))(ws)


def yaml_laughs(ws):
    """A YOLO data.yaml of ~600 bytes whose nested aliases expand to 9**9 strings ("billion laughs")."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{b}: &{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
    ws.write("laughs/data.yaml", ("\n".join(lines + ["names: *i", "train: images", "val: images"]) + "\n").encode())
    return ws.path("laughs")
