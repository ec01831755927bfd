"""A dataset given as Roboflow YOLO or Pascal VOC trains, validates and scores like its COCO original: the same
demo images and boxes written in each format, one trained model scored on each (AP within 0.005), and a short
training run started from each with `--data`."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import _formats_writers as fw
from _shared import NANO, OVERFIT_SEED, run_tool

AP = re.compile(r"bbox_mAP_copypaste: ([\d.]+) ([\d.]+)")


def _gt_from_coco(root: Path) -> tuple[dict, list[str]]:
    """The `_formats_writers` ground truth of a Roboflow COCO set, each item keeping its source image."""
    gt, classes = {}, None
    for split, folder in fw.FOLDER.items():
        d = json.loads((root / folder / "_annotations.coco.json").read_text())
        cats = sorted(c["id"] for c in d["categories"] if c["id"] != 0)
        classes = [next(c["name"] for c in d["categories"] if c["id"] == i) for i in cats]
        items = []
        for im in d["images"]:
            boxes = [(cats.index(a["category_id"]), *map(int, a["bbox"])) for a in d["annotations"]
                     if a["image_id"] == im["id"]]
            items.append(dict(stem=Path(im["file_name"]).stem, h=im["height"], w=im["width"], boxes=boxes,
                              src=root / folder / im["file_name"]))
        gt[split] = items
    return gt, classes


def _real_image(path: Path, item: dict) -> None:
    """The item's own photo: its JPEG bytes as they are, or its decoded pixels as PNG (lossless)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == item["src"].suffix:
        shutil.copyfile(item["src"], path)
    else:
        assert cv2.imwrite(str(path), cv2.imread(str(item["src"])))


@pytest.fixture(scope="module")
def demo_in_every_format(tmp_path_factory):
    """{format: dataset root or data.yaml}: 12 demo images as val (4 the overfit model trained on), 4 as train."""
    from sscma_rtmdet.synth.demo import make_demo_dataset

    root = tmp_path_factory.mktemp("formats")
    src = root / "src"
    make_demo_dataset(src, seed=OVERFIT_SEED, num_train=12, num_valid=1, num_test=1)
    coco = root / "coco"
    (coco / "valid").mkdir(parents=True)
    shutil.copytree(src / "train", coco / "train")
    for f in (src / "train").iterdir():  # val = all 12 (AP far from 0 and 1); train = the same files
        shutil.copyfile(f, coco / "valid" / f.name)
    gt, classes = _gt_from_coco(coco)
    assert classes == sorted(classes) == ["circle", "square", "triangle"]  # VOC's sorted order is COCO's too
    mp = pytest.MonkeyPatch()
    mp.setattr(fw, "_img", _real_image)
    mp.setattr(fw, "CLASSES", classes)
    out = {"coco": coco}
    for name in ("yolo_roboflow", "voc_roboflow"):
        out[name] = fw.WRITERS[name][0](root / name, gt)
    mp.undo()
    return out


def _test_ap(args) -> tuple[float, float]:
    res = run_tool("test", [*args, "--no-progress"])
    assert res.exit_code == 0, res.output[-3000:]
    ap, ap50 = AP.findall(res.output)[-1]
    return float(ap), float(ap50)


def test_yolo_and_voc_score_the_same_ap_as_coco(overfit_run, demo_in_every_format, tmp_path, monkeypatch):
    monkeypatch.setenv("SSCMA_RTMDET_CACHE", str(tmp_path / "cache"))  # converted copies go there
    aps = {name: _test_ap([overfit_run["ckpt"], "--data", root]) for name, root in demo_in_every_format.items()}
    print("AP / AP50 by format:", aps)  # shown with -rP
    coco = aps.pop("coco")
    assert 0.2 < coco[0] < 0.95, coco  # a model that finds some objects and misses others: AP can move
    for name, (ap, ap50) in aps.items():
        assert abs(ap - coco[0]) <= 0.005 and abs(ap50 - coco[1]) <= 0.005, (name, ap, ap50, coco)


@pytest.mark.parametrize("name", ["yolo_roboflow", "voc_roboflow"])
def test_training_from_yolo_and_voc(name, demo_in_every_format, tmp_path, monkeypatch):
    monkeypatch.setenv("SSCMA_RTMDET_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "wd"
    args = [NANO, "--data", str(demo_in_every_format[name]), "--epochs", "1", "--imgsz", "64", "--batch", "4",
            "--work-dir", str(work), "--no-progress", "--cfg-options", "num_workers=0"]
    res = run_tool("train", args)
    assert res.exit_code == 0, res.output[-3000:]
    assert (work / "best.pth").is_file() and (work / "results.csv").is_file()
    header, row = (work / "results.csv").read_text().splitlines()
    values = dict(zip(header.split(","), row.split(",")))
    assert values["epoch"] == "1" and 0.0 <= float(values["AP"]) <= 1.0  # validated on the format's val split
