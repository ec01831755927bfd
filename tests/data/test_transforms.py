import numpy as np
import pytest

from _datafixtures import check_boxes_match_red, red_image, redness
from sscma_rtmdet.data.mix import CachedMixUp, CachedMosaic
from sscma_rtmdet.data.pipeline import build_pipeline
from sscma_rtmdet.data.transforms import LetterResize, Pad, RandomCrop, RandomFlip, RandomResize, YOLOXHSVRandomAug
from sscma_rtmdet.errors import ConfigError

IMGSZ = (64, 96)  # (H, W), non-square on purpose


def make_sample(rng, h=None, w=None, n=None):
    h = h or int(rng.integers(40, 90))
    w = w or int(rng.integers(40, 120))
    boxes = []
    for _ in range(n or int(rng.integers(1, 4))):
        bw, bh = int(rng.integers(10, w // 2)), int(rng.integers(10, h // 2))
        x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
        boxes.append((x, y, x + bw, y + bh))
    img = red_image(h, w, boxes, grey=int(rng.integers(60, 170)))
    return dict(img=img, boxes=np.array(boxes, np.float32).reshape(-1, 4),
                labels=np.arange(len(boxes), dtype=np.int64), img_id=0, ori_hw=(h, w))


TRANSFORMS = {
    "RandomResize": lambda: RandomResize(scale=(128, 192), ratio_range=(0.5, 2.0)),
    "RandomResize_noratio": lambda: RandomResize(scale=(50, 70), keep_ratio=False),
    "RandomCrop": lambda: RandomCrop(crop_size=(32, 48)),
    "YOLOXHSVRandomAug": lambda: YOLOXHSVRandomAug(),
    "RandomFlip": lambda: RandomFlip(prob=0.5),
    "Pad": lambda: Pad(size=(128, 128)),
    "LetterResize": lambda: LetterResize(size=IMGSZ),
    "CachedMosaic": lambda: CachedMosaic(img_scale=IMGSZ, max_cached_images=6),
    "CachedMixUp": lambda: CachedMixUp(img_scale=IMGSZ, ratio_range=(0.8, 1.2), max_cached_images=4),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_boxes_follow_the_pixels(name):
    t = TRANSFORMS[name]()
    rng = np.random.default_rng(1)
    changed = 0
    for _ in range(12):
        s = make_sample(rng)
        if name == "CachedMixUp":  # mixup expects the padded stage-1 output size
            s = Pad(size=IMGSZ)(LetterResize(size=IMGSZ)(s), rng)
        before = s["img"].copy()
        out = t(s, rng)
        assert np.array_equal(s["img"], before), "input modified in place"
        if out is None:
            assert name == "RandomCrop"
            continue
        assert out["img"].dtype == np.uint8 and out["img"].flags["C_CONTIGUOUS"] or name == "RandomCrop"
        assert out["boxes"].dtype == np.float32 and out["labels"].dtype == np.int64
        assert len(out["boxes"]) == len(out["labels"])
        h, w = out["img"].shape[:2]
        b = out["boxes"]
        assert ((b[:, 0] >= 0) & (b[:, 2] <= w) & (b[:, 1] >= 0) & (b[:, 3] <= h)).all()
        assert ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all()
        check_boxes_match_red(out["img"], b)
        changed += not (out["img"].shape == before.shape and np.array_equal(out["img"], before))
    assert changed > 0, f"{name} never changed anything"


def test_mosaic_and_mixup_actually_mix():
    rng = np.random.default_rng(0)
    mosaic = CachedMosaic(img_scale=IMGSZ, max_cached_images=5)
    outs = [mosaic(make_sample(rng, n=1), rng) for _ in range(8)]
    assert [o["img"].shape[:2] for o in outs[:4]] != [(128, 192)] * 4  # cache too small: passthrough
    assert all(o["img"].shape[:2] == (128, 192) for o in outs[4:])
    assert max(len(o["boxes"]) for o in outs[4:]) > 1 and len(mosaic.cache.items) == 5
    mixup = CachedMixUp(img_scale=IMGSZ, ratio_range=(1.0, 1.0), max_cached_images=3, prob=1.0)
    pad = Pad(size=IMGSZ)
    outs = [mixup(pad(LetterResize(IMGSZ)(make_sample(rng, n=1)), rng), rng) for _ in range(5)]
    assert len(outs[0]["boxes"]) == 1 and all(len(o["boxes"]) >= 1 for o in outs[1:])
    assert sum(len(o["boxes"]) for o in outs[1:]) > 4 and len(mixup.cache.items) == 3


def test_flip_mirrors_boxes():
    s = make_sample(np.random.default_rng(0), h=40, w=50, n=1)
    s["boxes"] = np.array([[5, 6, 15, 20]], np.float32)
    out = RandomFlip(prob=1.0)(s, np.random.default_rng(0))
    assert out["boxes"].tolist() == [[35, 6, 45, 20]]
    assert np.array_equal(out["img"], s["img"][:, ::-1])


def test_crop_returns_none_when_every_box_is_lost():
    s = make_sample(np.random.default_rng(0), h=100, w=100, n=1)
    s["boxes"] = np.array([[0, 0, 50, 50]], np.float32)
    results = [RandomCrop(crop_size=(20, 20))(s, np.random.default_rng(k)) for k in range(30)]
    assert any(r is None for r in results) and any(r is not None for r in results)
    empty = dict(s, boxes=np.zeros((0, 4), np.float32), labels=np.zeros(0, np.int64))
    assert RandomCrop(crop_size=(20, 20))(empty, np.random.default_rng(0))["img"].shape == (20, 20, 3)


def test_hsv_keeps_boxes_and_is_seeded():
    s = make_sample(np.random.default_rng(0))
    t = YOLOXHSVRandomAug()
    a, b = t(s, np.random.default_rng(5)), t(s, np.random.default_rng(5))
    assert np.array_equal(a["img"], b["img"]) and np.array_equal(a["boxes"], s["boxes"])
    diffs = [not np.array_equal(t(s, np.random.default_rng(k))["img"], s["img"]) for k in range(10)]
    assert any(diffs)


def _config_pipelines(imgsz):
    stage1 = [
        dict(type="CachedMosaic", img_scale=imgsz, pad_val=114.0, max_cached_images=6),
        dict(type="RandomResize", scale=(imgsz[0] * 2, imgsz[1] * 2), ratio_range=(0.5, 2.0)),
        dict(type="RandomCrop", crop_size=imgsz),
        dict(type="YOLOXHSVRandomAug", hue_delta=5, saturation_delta=30, value_delta=30),
        dict(type="RandomFlip", prob=0.5),
        dict(type="Pad", size=imgsz, pad_val=114),
        dict(type="CachedMixUp", img_scale=imgsz, ratio_range=(1.0, 1.0), max_cached_images=4, pad_val=114,
             prob=0.5)]
    stage2 = [s for s in stage1[1:-1]]
    stage2[0] = dict(type="RandomResize", scale=imgsz, ratio_range=(0.5, 2.0))
    return stage1, stage2


@pytest.mark.parametrize("stage", [0, 1])
def test_config_pipeline_end_to_end(stage):
    pipe = build_pipeline(_config_pipelines(IMGSZ)[stage])
    rng = np.random.default_rng(3)
    n_out = 0
    for _ in range(15):
        out = pipe(make_sample(rng), rng)
        if out is None:
            continue
        n_out += 1
        assert out["img"].shape == (*IMGSZ, 3)
        check_boxes_match_red(out["img"], out["boxes"])
    assert n_out >= 5  # the rest lost every box in the crop (the dataset refetches those)


def test_build_pipeline_errors_name_the_entry():
    with pytest.raises(ConfigError, match=r"train_pipeline\[1\]\.type='Mosaic9' is unknown"):
        build_pipeline([dict(type="RandomFlip"), dict(type="Mosaic9")])
    with pytest.raises(ConfigError, match=r"train_pipeline\[0\]\.type='Pad'.*unknown option.*\['sise'\]"):
        build_pipeline([dict(type="Pad", sise=(64, 64))])
    with pytest.raises(ConfigError, match=r"stage2\[0\]\.type='RandomCrop'.*crop_size"):
        build_pipeline([dict(type="RandomCrop", crop_size=(0, 5))], "stage2")
    with pytest.raises(ConfigError, match=r"\[0\] must be a dict with a 'type'"):
        build_pipeline([dict(size=3)])


def test_redness_helper_sees_red():
    img = red_image(10, 10, [(2, 2, 5, 5)])
    assert redness(img)[3, 3] == 255 and redness(img)[0, 0] == 0
