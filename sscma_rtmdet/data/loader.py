"""Datasets for training/evaluation, batching and DataLoader construction.

Batches carry uint8 BGR pixels; normalisation is done on the device by the trainer/evaluator through
`Preprocess.normalize`, so there is exactly one definition of it (shared with export and inference).
"""
from __future__ import annotations

import random
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import DataError
from .coco import CocoDetection
from .pipeline import Compose, build_pipeline
from .preprocess import Preprocess
from .transforms import StretchToAspect, as_hw, clip_and_filter


def sample_rng(seed: int, epoch: int, index: int, attempt: int = 0) -> np.random.Generator:
    """Generator determined by (seed, epoch, index, attempt) only: runs are reproducible and resumable."""
    return np.random.default_rng([int(seed), int(epoch), int(index), int(attempt)])


class TrainDataset(Dataset):
    """Augmented training samples: `coco[i]` -> stage-1 pipeline (or stage-2 after `use_stage2 = True`).

    The mosaic/mixup caches live inside the pipeline objects, so each DataLoader worker has its own cache.
    When a pipeline returns None (a crop lost every box) another index is drawn from the same generator,
    up to `max_refetch` times, as mmdet does. `cache_mb` > 0 keeps decoded (and stretched) images in memory
    (`ImageCache`): the samples are the same, only the JPEG decode and the stretch resize are done once.
    """

    def __init__(self, coco: CocoDetection, pipeline: Compose | Sequence[dict],
                 stage2_pipeline: Compose | Sequence[dict] | None = None, seed: int = 0,
                 max_refetch: int = 15, stretch_to: Sequence[int] | None = None, cache_mb: float = 0.0):
        self.coco = coco
        self.cache = ImageCache(cache_mb) if cache_mb > 0 else None
        # a 'stretch' deployment (SSCMA-Micro) squeezes every image to the input's aspect ratio: train on that
        self.stretch = StretchToAspect(stretch_to) if stretch_to is not None else None
        self.pipeline = pipeline if isinstance(pipeline, Compose) else build_pipeline(pipeline)
        self.stage2_pipeline = stage2_pipeline if stage2_pipeline is None or isinstance(
            stage2_pipeline, Compose) else build_pipeline(stage2_pipeline, "train_pipeline_stage2")
        self.seed = int(seed)
        self.epoch = 0
        self.use_stage2 = False
        self.max_refetch = int(max_refetch)

    def set_epoch(self, epoch: int, use_stage2: bool | None = None) -> None:
        # Caches restart every epoch (as they do in fresh, non-persistent workers), which makes an epoch
        # reproducible on its own: a run resumed at an epoch boundary sees exactly the same samples.
        self.epoch = int(epoch)
        self.pipeline.reset()
        if self.stage2_pipeline is not None:
            self.stage2_pipeline.reset()
        if use_stage2 is not None:
            self.use_stage2 = bool(use_stage2)

    def __len__(self) -> int:
        return len(self.coco)

    def __getitem__(self, index: int) -> dict:
        pipe = self.stage2_pipeline if self.use_stage2 and self.stage2_pipeline is not None else self.pipeline
        idx = int(index)
        for attempt in range(self.max_refetch + 1):
            rng = sample_rng(self.seed, self.epoch, index, attempt)
            out = pipe(self.source(idx), rng)
            if out is not None:
                return out
            idx = int(rng.integers(0, len(self.coco)))
        raise DataError(f"the training pipeline dropped {self.max_refetch + 1} images in a row starting at "
                        f"{self.coco.image_path(int(index))} (every box fell outside the crop); check the "
                        f"boxes in {self.coco.ann_path} and RandomCrop.crop_size")

    def source(self, idx: int) -> dict:
        """`coco[idx]` as the pipeline takes it (stretched for a 'stretch' target); from the cache when held.
        The caller owns the arrays (cached ones are copied)."""
        if self.cache is not None and (hit := self.cache.get(idx)) is not None:
            return hit
        sample = self._decode(idx)
        if self.cache is not None:
            self.cache.put(idx, sample)
        return sample

    def _decode(self, idx: int) -> dict:
        sample = self.coco[idx]
        return self.stretch(sample) if self.stretch is not None else sample

    def fill_cache(self, threads: int = 2) -> None:
        """Decode images into the cache now, in dataset order until it is full, `threads` at a time: DataLoader
        workers forked afterwards share it (copy-on-write) instead of each decoding its images every epoch."""
        if self.cache is None or self.cache.filled:
            return
        from concurrent.futures import ThreadPoolExecutor

        chunk = 16 * max(1, int(threads))
        with ThreadPoolExecutor(max(1, int(threads))) as pool:  # cv2 decodes and resizes without the GIL
            for start in range(0, len(self.coco), chunk):
                todo = [i for i in range(start, min(start + chunk, len(self.coco))) if i not in self.cache.items]
                for i, sample in zip(todo, pool.map(self._decode, todo)):
                    self.cache.put(i, sample)
                if self.cache.full:
                    break
        self.cache.filled = True


class ImageCache:
    """Samples (img, boxes, labels, ...) by dataset index, up to `limit_mb` MiB of pixels; `get` hands out
    copies so that no transform can change what is cached."""

    def __init__(self, limit_mb: float):
        self.limit = int(float(limit_mb) * 2**20)
        self.bytes = 0
        self.items: dict[int, dict] = {}
        self.full = self.filled = False

    def get(self, idx: int) -> dict | None:
        s = self.items.get(idx)
        return None if s is None else {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}

    def put(self, idx: int, sample: dict) -> None:
        size = sample["img"].nbytes
        if idx in self.items or self.bytes + size > self.limit:
            self.full = self.full or idx not in self.items
            return
        self.items[idx] = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in sample.items()}
        self.bytes += size


class EvalDataset(Dataset):
    """Evaluation samples prepared like deployment (`Preprocess.prepare`: letterbox or stretch):
    dict(img (H,W,3) uint8 BGR, boxes (in input pixels), labels, img_id, ori_hw, scale (sx, sy), pad)."""

    def __init__(self, coco: CocoDetection, imgsz: Sequence[int], preprocess: Preprocess | dict | None = None):
        self.coco = coco
        self.imgsz = as_hw(imgsz, "imgsz")
        self.preprocess = preprocess if isinstance(preprocess, Preprocess) else Preprocess.from_config(preprocess)

    def __len__(self) -> int:
        return len(self.coco)

    def __getitem__(self, index: int) -> dict:
        s = self.coco[int(index)]
        img, g = self.preprocess.prepare(s["img"], self.imgsz)
        (sx, sy), (top, left) = g.scale, g.pad
        boxes = s["boxes"] * np.array([sx, sy, sx, sy], np.float32) + np.array([left, top] * 2, np.float32)
        boxes, labels = clip_and_filter(boxes, s["labels"], *self.imgsz)
        return dict(s, img=img, boxes=boxes, labels=labels, scale=g.scale, pad=g.pad)


def collate(batch: list[dict]) -> dict:
    """Stack samples of equal size.

    Returns dict(inputs uint8 (N,3,H,W) BGR, not normalised -- the trainer/evaluator applies
    `Preprocess.normalize` on the device; gt_boxes list of float32 (n_i,4) xyxy; gt_labels list of int64
    (n_i,); metas list of dict(img_id, scale, pad (top, left), ori_hw (h, w))).
    """
    shapes = {b["img"].shape for b in batch}
    if len(shapes) != 1:
        raise ValueError(f"collate needs equally sized images (end the pipeline with Pad/LetterResize), "
                         f"got {sorted(shapes)}")
    imgs = np.stack([b["img"] for b in batch])
    return dict(
        inputs=torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(),
        gt_boxes=[torch.from_numpy(np.asarray(b["boxes"], np.float32).reshape(-1, 4)) for b in batch],
        gt_labels=[torch.from_numpy(np.asarray(b["labels"], np.int64).reshape(-1)) for b in batch],
        metas=[dict(img_id=b.get("img_id"), scale=_xy(b.get("scale", 1.0)),
                    pad=tuple(b.get("pad", (0, 0))), ori_hw=tuple(b.get("ori_hw", b["img"].shape[:2])))
               for b in batch],
    )


def _xy(scale) -> tuple[float, float]:
    """A sample's resize scale as (sx, sy) (transforms record one number when both are equal)."""
    return (float(scale), float(scale)) if np.ndim(scale) == 0 else (float(scale[0]), float(scale[1]))


class EpochSampler(Sampler):
    """Indices 0..n-1, shuffled by a permutation fixed by (seed, epoch); call set_epoch each epoch."""

    def __init__(self, n: int, shuffle: bool, seed: int = 0):
        self.n, self.shuffle, self.seed, self.epoch = int(n), bool(shuffle), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def _worker_init(worker_id: int) -> None:
    # Transforms use explicit generators; this only guards third-party code that reaches for global RNGs.
    info = torch.utils.data.get_worker_info()
    base = info.seed % 2**32 if info is not None else worker_id
    np.random.seed(base)
    random.seed(base)


def build_dataloader(dataset: Dataset, batch_size: int, num_workers: int = 0, shuffle: bool = False,
                     seed: int = 0, epoch: int = 0, distributed: bool = False,
                     drop_last: bool = False, pin_memory: bool = False) -> DataLoader:
    """DataLoader with `collate` and a seeded epoch-aware sampler (DistributedSampler when distributed).

    Workers are not persistent so that `set_loader_epoch` (epoch and stage-2 switch) reaches them at the
    next epoch; the mosaic/mixup caches therefore restart each epoch and per worker (first few samples of
    each worker pass unmixed). A dataset with `fill_cache` (TrainDataset's image cache) fills it here, before
    the workers fork. `pin_memory`: page-locked batches for fast, asynchronous copies to a GPU.
    """
    if batch_size < 1 or num_workers < 0:
        raise ValueError(f"batch_size={batch_size} must be >= 1 and num_workers={num_workers} >= 0")
    if distributed:
        from torch.utils.data.distributed import DistributedSampler
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
    else:
        sampler = EpochSampler(len(dataset), shuffle, seed)
    if num_workers > 0 and hasattr(dataset, "fill_cache"):
        dataset.fill_cache(threads=torch.get_num_threads())
    g = torch.Generator().manual_seed(int(seed))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                        collate_fn=collate, drop_last=drop_last, worker_init_fn=_worker_init,
                        generator=g, pin_memory=bool(pin_memory), persistent_workers=False)
    set_loader_epoch(loader, epoch)
    return loader


def set_loader_epoch(loader: DataLoader, epoch: int, use_stage2: bool | None = None) -> None:
    """Tell the sampler and the dataset which epoch (and pipeline stage) comes next."""
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    if hasattr(loader.dataset, "set_epoch"):
        loader.dataset.set_epoch(epoch, use_stage2)


def benchmark_pipeline(dataset: Dataset, num_samples: int = 50) -> dict:
    """Time `dataset[i]` for the first num_samples indices in this process (no workers).

    Returns dict(samples, seconds, samples_per_s, ms_per_sample) -- use it to size num_workers.
    """
    import time

    n = min(int(num_samples), len(dataset))
    if n < 1:
        raise ValueError("benchmark_pipeline needs a non-empty dataset and num_samples >= 1")
    start = time.perf_counter()
    for i in range(n):
        dataset[i]
    sec = time.perf_counter() - start
    return dict(samples=n, seconds=sec, samples_per_s=n / sec if sec > 0 else float("inf"),
                ms_per_sample=1000 * sec / n)
