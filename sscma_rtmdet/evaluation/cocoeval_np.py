"""pycocotools' COCOeval for boxes, computed with numpy arrays: the same numbers, several times faster.

pycocotools matches each detection in Python loops over IoU thresholds and ground truths, and builds a dict
per detection; with score_thr 0.001 (hundreds of boxes per image) that scoring took longer than running an
int8 nano over the images. Here the greedy matching runs once per detection that overlaps some ground truth
by IoU >= 0.5 (the others match nothing at any threshold), for all 4 area ranges and 10 thresholds at once,
and accumulate() is vectorised. Each rule is pycocotools 2.0's, step for step:
- detections per (image, category) in stable descending score order, the first maxDets[-1] kept;
- box IoU as maskApi.c's bbIou (crowd ground truth: intersection over the detection's area);
- a ground truth is ignored when it is crowd or its `area` is outside the range; a detection takes the
  unmatched ground truth of highest IoU >= the threshold (ties: the later one), non-ignored ones first;
  unmatched detections outside the area range are ignored;
- precision is made monotone, sampled at 101 recall points (searchsorted, side 'left').
tests/evaluation/test_cocoeval_np.py compares stats and the precision/recall arrays with pycocotools' own.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from pycocotools.cocoeval import Params

_P = Params(iouType="bbox")  # pycocotools' own thresholds and area ranges: one source for both evaluators
IOU_THRS, REC_THRS = _P.iouThrs, _P.recThrs
AREA_RANGES, AREA_LABELS = np.asarray(_P.areaRng, dtype=np.float64), tuple(_P.areaRngLbl)


class Boxes(NamedTuple):
    """N boxes of a COCO file or a result list: image_id (N,) int64, category_id (N,) int64, bbox (N, 4)
    float64 xywh, score (N,) float64 (ones for ground truth), area (N,) float64, crowd (N,) bool."""
    image_id: np.ndarray
    category_id: np.ndarray
    bbox: np.ndarray
    score: np.ndarray
    area: np.ndarray
    crowd: np.ndarray


def make_params(cat_ids: Sequence[int], img_ids: Sequence[int], max_dets: Sequence[int]) -> Params:
    """pycocotools' bbox Params for these categories, images and maxDets (sorted, as COCOeval.evaluate does)."""
    p = Params(iouType="bbox")
    p.catIds, p.imgIds = sorted(set(int(c) for c in cat_ids)), sorted(set(int(i) for i in img_ids))
    p.maxDets = sorted(int(m) for m in max_dets)
    return p


def gt_boxes(coco_gt) -> Boxes:
    """Ground truth of a pycocotools COCO as arrays (its `area` field decides the area range, as there)."""
    anns = coco_gt.dataset.get("annotations", [])
    bbox = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    return Boxes(np.asarray([a["image_id"] for a in anns], dtype=np.int64),
                 np.asarray([a["category_id"] for a in anns], dtype=np.int64), bbox, np.ones(len(anns)),
                 np.asarray([a["area"] for a in anns], dtype=np.float64),
                 np.asarray([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool))


def det_boxes(image_id, category_id, bbox, score) -> Boxes:
    """Detections as arrays; area = w * h as pycocotools' loadRes sets it."""
    bbox = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    return Boxes(np.asarray(image_id, dtype=np.int64).reshape(-1), np.asarray(category_id, dtype=np.int64)
                 .reshape(-1), bbox, np.asarray(score, dtype=np.float64).reshape(-1), bbox[:, 2] * bbox[:, 3],
                 np.zeros(len(bbox), dtype=bool))


def box_iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, 4) xywh x (G, 4) xywh -> (D, G) IoU, operation for operation as maskApi.c's bbIou."""
    w = np.minimum(d[:, None, 2] + d[:, None, 0], g[None, :, 2] + g[None, :, 0]) - np.maximum(d[:, None, 0],
                                                                                          g[None, :, 0])
    h = np.minimum(d[:, None, 3] + d[:, None, 1], g[None, :, 3] + g[None, :, 1]) - np.maximum(d[:, None, 1],
                                                                                          g[None, :, 1])
    inter = w * h
    da, ga = (d[:, 2] * d[:, 3])[:, None], (g[:, 2] * g[:, 3])[None, :]
    union = np.where(crowd[None, :], da, da + ga - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((w > 0) & (h > 0), inter / union, 0.0)


def match_group(ious: np.ndarray, g_ignore: np.ndarray, crowd: np.ndarray, d_area: np.ndarray):
    """Greedy matching of one (image, category), detections in score order, for every area range and IoU
    threshold at once. ious (D, G); g_ignore (A, G). Returns matched (A, T, D), ignored (A, T, D) bool."""
    n_a, (n_d, n_g), n_t = len(AREA_RANGES), ious.shape, len(IOU_THRS)
    dtm, dtig = np.zeros((n_a, n_t, n_d), bool), np.zeros((n_a, n_t, n_d), bool)
    if n_g:
        thr = np.minimum(IOU_THRS, 1 - 1e-10)[None, :, None]
        taken = np.zeros((n_a, n_t, n_g), bool)
        for d in np.flatnonzero(ious.max(axis=1) >= thr.min()):
            row = ious[d]
            ok = (~taken | crowd) & (row >= thr)
            good = ok & ~g_ignore[:, None, :]
            pool = np.where(good.any(-1, keepdims=True), good, ok)  # non-ignored first, as pycocotools
            a_i, t_i = np.nonzero(pool.any(-1))
            if not a_i.size:
                continue
            vals = np.where(pool[a_i, t_i], row, -1.0)
            m = n_g - 1 - np.argmax(vals[:, ::-1], axis=1)  # the last of equal IoUs wins
            taken[a_i, t_i, m] = True
            dtm[a_i, t_i, d] = True
            dtig[a_i, t_i, d] = g_ignore[a_i, m]
    lo, hi = AREA_RANGES.T
    outside = (d_area[None, :] < lo[:, None]) | (d_area[None, :] > hi[:, None])
    return dtm, dtig | (~dtm & outside[:, None, :])


def _order(b: Boxes) -> np.ndarray:
    """Indices grouping boxes by (image, category), each group in stable descending score order."""
    idx = np.argsort(-b.score, kind="stable")
    idx = idx[np.argsort(b.category_id[idx], kind="stable")]
    return idx[np.argsort(b.image_id[idx], kind="stable")]


def _groups(b: Boxes, idx: np.ndarray) -> dict:
    """{(image_id, category_id): indices} of `idx`, already in _order's order."""
    if not len(idx):
        return {}
    keys = np.stack([b.image_id[idx], b.category_id[idx]], 1)
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(1)])
    ends = np.r_[starts[1:], len(idx)]
    return {(int(keys[s, 0]), int(keys[s, 1])): idx[s:e] for s, e in zip(starts, ends)}


class ArrayCOCOeval:
    """COCOeval('bbox') of `dets` against `gt` (Boxes), restricted to cat_ids and img_ids.

    After evaluate(): eval['precision'] (T, R, K, A, M), eval['recall'] (T, K, A, M), eval['scores'], and
    stats (12,) as pycocotools' summarize() gives them; cocoGt is kept for the reports' class names.
    """

    def __init__(self, gt: Boxes, dets: Boxes, cat_ids, img_ids, max_dets=(1, 10, 100), coco_gt=None):
        self.gt, self.dt, self.cocoGt = gt, dets, coco_gt
        self.params = make_params(cat_ids, img_ids, max_dets)
        self.eval: dict = {}
        self.stats = np.zeros(12)

    def _per_category(self):
        """For each category: list over images of (scores (D,), dtm (A,T,D), dtig (A,T,D), npig (A,))."""
        p, lo_hi = self.params, AREA_RANGES.T
        keep_g = np.isin(self.gt.image_id, p.imgIds) & np.isin(self.gt.category_id, p.catIds)
        keep_d = np.isin(self.dt.image_id, p.imgIds) & np.isin(self.dt.category_id, p.catIds)
        gi, di = np.flatnonzero(keep_g), np.flatnonzero(keep_d)
        g_groups, d_groups = _groups(self.gt, gi[_order(_take(self.gt, gi))]), _groups(self.dt, di[_order(
            _take(self.dt, di))])
        out = {c: [] for c in p.catIds}
        for key in sorted(set(g_groups) | set(d_groups)):
            gs = g_groups.get(key, np.zeros(0, np.int64))
            ds = d_groups.get(key, np.zeros(0, np.int64))[:p.maxDets[-1]]
            crowd, g_area = self.gt.crowd[gs], self.gt.area[gs]
            g_ignore = crowd[None, :] | (g_area[None, :] < lo_hi[0][:, None]) | (g_area[None, :] > lo_hi[1][:, None])
            ious = box_iou(self.dt.bbox[ds], self.gt.bbox[gs], crowd)
            dtm, dtig = match_group(ious, g_ignore, crowd, self.dt.area[ds])
            out[key[1]].append((self.dt.score[ds], dtm, dtig, (~g_ignore).sum(1)))
        return out

    def evaluate(self) -> "ArrayCOCOeval":
        """Match, accumulate and summarise (pycocotools' evaluate + accumulate + summarize)."""
        p = self.params
        n_t, n_r, n_k, n_a, n_m = len(IOU_THRS), len(REC_THRS), len(p.catIds), len(AREA_RANGES), len(p.maxDets)
        precision, scores = -np.ones((n_t, n_r, n_k, n_a, n_m)), -np.ones((n_t, n_r, n_k, n_a, n_m))
        recall = -np.ones((n_t, n_k, n_a, n_m))
        for k, per_img in enumerate(self._per_category().values()):
            if not per_img:
                continue
            npig = np.sum([e[3] for e in per_img], axis=0)
            rank = np.concatenate([np.arange(len(e[0])) for e in per_img])
            s_all = np.concatenate([e[0] for e in per_img])
            m_all, ig_all = (np.concatenate([e[j] for e in per_img], axis=2) for j in (1, 2))
            for m, max_det in enumerate(p.maxDets):
                sel = np.flatnonzero(rank < max_det)
                order = sel[np.argsort(-s_all[sel], kind="mergesort")]
                for a in range(n_a):
                    if npig[a] == 0:
                        continue
                    q, ss, rc_last = _pr_points(m_all[a][:, order], ig_all[a][:, order], s_all[order], npig[a])
                    precision[:, :, k, a, m], scores[:, :, k, a, m], recall[:, k, a, m] = q, ss, rc_last
        self.eval = dict(params=p, counts=[n_t, n_r, n_k, n_a, n_m], precision=precision, recall=recall,
                         scores=scores)
        self.stats = self._stats()
        return self

    def _summary(self, ap: int, iou: float | None = None, area: str = "all", max_dets: int = 100) -> float:
        p = self.params
        a, m = [AREA_LABELS.index(area)], [i for i, d in enumerate(p.maxDets) if d == max_dets]
        s = self.eval["precision"] if ap else self.eval["recall"]
        if iou is not None:
            s = s[np.where(iou == IOU_THRS)[0]]
        s = s[:, :, :, a, m] if ap else s[:, :, a, m]
        return -1.0 if not (s > -1).any() else float(np.mean(s[s > -1]))

    def _rows(self) -> list[tuple]:
        """(ap, iou, area, maxDets) of the 12 stats, in pycocotools' _summarizeDets order."""
        m = self.params.maxDets
        return [(1, None, "all", 100), (1, .5, "all", m[2]), (1, .75, "all", m[2]), (1, None, "small", m[2]),
                (1, None, "medium", m[2]), (1, None, "large", m[2]), (0, None, "all", m[0]), (0, None, "all", m[1]),
                (0, None, "all", m[2]), (0, None, "small", m[2]), (0, None, "medium", m[2]),
                (0, None, "large", m[2])]

    def _stats(self) -> np.ndarray:
        return np.asarray([self._summary(*r) for r in self._rows()])

    def summary_text(self) -> str:
        """The 12 lines pycocotools' summarize() prints, character for character."""
        lines = []
        for (ap, iou, area, max_dets), value in zip(self._rows(), self.stats):
            iou_s = f"{IOU_THRS[0]:0.2f}:{IOU_THRS[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
            title, kind = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
            lines.append(f" {title:<18} {kind} @[ IoU={iou_s:<9} | area={area:>6s} | maxDets={max_dets:>3d} ] "
                         f"= {value:0.3f}")
        return "\n".join(lines)


def _take(b: Boxes, idx: np.ndarray) -> Boxes:
    return Boxes(*(f[idx] for f in b))


def _pr_points(dtm: np.ndarray, dtig: np.ndarray, s: np.ndarray, npig: int):
    """(T, N) matches/ignores of detections in score order -> precision (T, R), scores (T, R), recall (T,)."""
    tp = np.cumsum(dtm & ~dtig, axis=1).astype(float)
    fp = np.cumsum(~dtm & ~dtig, axis=1).astype(float)
    n_t, nd = tp.shape
    q, ss = np.zeros((n_t, len(REC_THRS))), np.zeros((n_t, len(REC_THRS)))
    if not nd:
        return q, ss, np.zeros(n_t)
    rc = tp / npig
    pr = np.maximum.accumulate((tp / (fp + tp + np.spacing(1)))[:, ::-1], axis=1)[:, ::-1]
    for t in range(n_t):
        inds = np.searchsorted(rc[t], REC_THRS, side="left")
        valid = inds < nd
        q[t, valid], ss[t, valid] = pr[t, inds[valid]], s[inds[valid]]
    return q, ss, rc[:, -1]
