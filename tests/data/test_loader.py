import numpy as np
import pytest
import torch

from _datafixtures import check_boxes_match_red, random_set
from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.data.loader import (EvalDataset, TrainDataset, build_dataloader, collate,
                                      set_loader_epoch)
from sscma_rtmdet.data.preprocess import Preprocess

IMGSZ = (64, 96)


def _pipelines(imgsz=IMGSZ):
    stage1 = [dict(type="CachedMosaic", img_scale=imgsz, max_cached_images=6),
              dict(type="RandomResize", scale=(imgsz[0] * 2, imgsz[1] * 2), ratio_range=(0.5, 2.0)),
              dict(type="RandomCrop", crop_size=imgsz),
              dict(type="YOLOXHSVRandomAug"),
              dict(type="RandomFlip", prob=0.5),
              dict(type="Pad", size=imgsz),
              dict(type="CachedMixUp", img_scale=imgsz, ratio_range=(1.0, 1.0), max_cached_images=4, prob=0.5)]
    stage2 = [dict(type="RandomResize", scale=imgsz, ratio_range=(0.5, 2.0)), dict(type="RandomCrop",
              crop_size=imgsz), dict(type="RandomFlip", prob=0.5), dict(type="Pad", size=imgsz)]
    return stage1, stage2


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root, ann, prefix = random_set(tmp_path_factory.mktemp("coco"), n=10, hw=(60, 80))
    return CocoDetection(root, ann, prefix, num_classes=2)


def _run(coco, seed, epoch=0, stage2=False, n=10):
    ds = TrainDataset(coco, *_pipelines(), seed=seed)
    ds.set_epoch(epoch, use_stage2=stage2)
    return [ds[i] for i in range(n)]


def test_train_dataset_is_seeded_and_reproducible(coco):
    a, b, c = _run(coco, 0), _run(coco, 0), _run(coco, 1)
    assert all(np.array_equal(x["img"], y["img"]) and np.array_equal(x["boxes"], y["boxes"]) for x, y in zip(a, b))
    assert not all(np.array_equal(x["img"], y["img"]) for x, y in zip(a, c))
    d = _run(coco, 0, epoch=1)
    assert not all(np.array_equal(x["img"], y["img"]) for x, y in zip(a, d))
    for s in a:
        assert s["img"].shape == (*IMGSZ, 3) and len(s["boxes"]) >= 1
        check_boxes_match_red(s["img"], s["boxes"])


def test_stage2_switch(coco):
    ds = TrainDataset(coco, *_pipelines(), seed=0)
    ds.set_epoch(3, use_stage2=True)
    assert ds.use_stage2 and ds.epoch == 3
    s = ds[0]
    assert s["img"].shape == (*IMGSZ, 3)
    assert len(ds.pipeline.transforms[0].cache.items) == 0  # stage-1 mosaic untouched
    ds.set_epoch(4)
    assert ds.use_stage2  # unchanged when not given


def test_eval_dataset_and_collate_non_square(coco):
    imgsz = (192, 256)
    ds = EvalDataset(coco, imgsz, Preprocess(pad_value=0))
    batch = collate([ds[i] for i in range(3)])
    assert batch["inputs"].shape == (3, 3, *imgsz) and batch["inputs"].dtype == torch.uint8
    assert [b.shape[1] for b in batch["gt_boxes"]] == [4, 4, 4]
    assert all(b.dtype == torch.float32 for b in batch["gt_boxes"])
    assert all(lab.dtype == torch.int64 and lab.shape == (len(b),)
               for lab, b in zip(batch["gt_labels"], batch["gt_boxes"]))
    for i, m in enumerate(batch["metas"]):
        h, w = m["ori_hw"]
        assert m["img_id"] == coco.img_ids[i] and m["pad"] == (0, 0)
        scale = min(imgsz[0] / h, imgsz[1] / w)
        assert m["scale"] == pytest.approx((scale, scale))  # (sx, sy): equal for a letterbox
        raw = coco.get_ann(i)[0]
        assert torch.allclose(batch["gt_boxes"][i], torch.from_numpy(raw) * scale, atol=1e-4)
        nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
        img = batch["inputs"][i]
        assert (img[:, nh:] == 0).all() and (img[:, :, nw:] == 0).all()  # pad_value from Preprocess
    norm = Preprocess().normalize(batch["inputs"])
    assert norm.shape == (3, 3, *imgsz) and norm.dtype == torch.float32


def test_eval_dataset_stretch_is_the_firmware_sampler(coco):
    """resize='stretch', interpolation='nearest' (target sscma-micro): the whole image squeezed to the input,
    pixel for pixel what SSCMA-Micro's 16.16 fixed-point sampler picks; boxes scaled per axis."""
    imgsz = (96, 96)
    ds = EvalDataset(coco, imgsz, Preprocess(resize="stretch", interpolation="nearest"))
    s = ds[0]
    h, w = s["ori_hw"]
    assert s["img"].shape == (96, 96, 3) and s["scale"] == (96 / w, 96 / h) and s["pad"] == (0, 0)
    src = coco.load_image(0)
    rows = [(i * ((h << 16) // 96)) >> 16 for i in range(96)]
    cols = [(j * ((w << 16) // 96)) >> 16 for j in range(96)]
    np.testing.assert_array_equal(s["img"], src[rows][:, cols])
    raw = coco.get_ann(0)[0]
    np.testing.assert_allclose(s["boxes"], raw * np.array([96 / w, 96 / h] * 2, np.float32), atol=1e-4)


def test_collate_rejects_mixed_sizes(coco):
    with pytest.raises(ValueError, match="equally sized"):
        collate([coco[0], coco[1]] if coco[0]["img"].shape != coco[1]["img"].shape else [coco[0], dict(
            coco[1], img=np.zeros((1, 1, 3), np.uint8))])


@pytest.mark.parametrize("num_workers", [0, 1])
def test_dataloader_is_deterministic(coco, num_workers):
    def epoch_batches(epoch):
        ds = TrainDataset(coco, *_pipelines(), seed=7)
        loader = build_dataloader(ds, batch_size=4, num_workers=num_workers, shuffle=True, seed=7, epoch=0)
        set_loader_epoch(loader, epoch)
        assert sorted(loader.sampler) == list(range(len(coco)))
        return list(loader)

    a, b, c = epoch_batches(0), epoch_batches(0), epoch_batches(1)
    assert [x["inputs"].shape[0] for x in a] == [4, 4, 2]
    assert all(torch.equal(x["inputs"], y["inputs"]) for x, y in zip(a, b))
    assert [m["img_id"] for x in a for m in x["metas"]] == [m["img_id"] for x in b for m in x["metas"]]
    assert [m["img_id"] for x in a for m in x["metas"]] != [m["img_id"] for x in c for m in x["metas"]]


def test_refetch_when_crop_loses_every_box(coco):
    pipe = [dict(type="RandomCrop", crop_size=(8, 8))]  # tiny crop: often misses the boxes
    ds = TrainDataset(coco, pipe, seed=0)
    ids = [ds[i]["img_id"] for i in range(len(ds))]
    assert all(len(ds[i]["boxes"]) for i in range(len(ds)))
    assert ids != coco.img_ids  # some indices were replaced by another image


def test_benchmark_pipeline(coco):
    from sscma_rtmdet.data.loader import benchmark_pipeline

    r = benchmark_pipeline(TrainDataset(coco, *_pipelines()), num_samples=5)
    assert r["samples"] == 5 and r["seconds"] > 0 and r["ms_per_sample"] == pytest.approx(1000 * r["seconds"] / 5)
