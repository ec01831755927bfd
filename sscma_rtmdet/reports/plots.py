"""PNG plots: training curves from results.csv, PR curves from a COCOeval, per-class AP bars.

Every function writes its PNG atomically and returns what it drew (the Figure, or the curves with it) so
callers and tests can read the plotted data back.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from ._mpl import new_figure, save_png
from .results import read_results

LOSS_LABELS = {"loss": "total", "loss_cls": "classification", "loss_bbox": "box regression"}
MAP_LABELS = {"AP": "AP (IoU 0.50:0.95)", "AP50": "AP50 (IoU 0.50)"}
MAX_LEGEND_NAMES = 6  # classes named in the "no GT" legend note before "+N more"


def _series(rows: list[dict], key: str) -> tuple[list, list]:
    """(epochs, values) of the rows where `key` has a number."""
    pts = [(r["epoch"], r[key]) for r in rows if isinstance(r.get(key), (int, float))
           and isinstance(r.get("epoch"), (int, float)) and not math.isnan(r[key])]
    return [p[0] for p in pts], [p[1] for p in pts]


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def plot_training(csv_path: str | os.PathLike, out_png: str | os.PathLike):
    """Three panels vs epoch: losses (total, cls, bbox), validation AP / AP50, learning rate.

    Reads a results.csv (see results.py); returns the matplotlib Figure after writing `out_png`.
    """
    rows = read_results(csv_path)
    if not rows:
        raise UserError(f"{csv_path} has no rows yet: it gets one per trained epoch")
    fig = new_figure(15, 4.2)
    ax_loss, ax_map, ax_lr = fig.subplots(1, 3)
    for key, label in LOSS_LABELS.items():
        x, y = _series(rows, key)
        if x:
            ax_loss.plot(x, y, label=label, lw=2 if key == "loss" else 1.2)
    ax_loss.set(title="Training loss", xlabel="epoch", ylabel="loss")
    for key, label in MAP_LABELS.items():
        x, y = _series(rows, key)
        if x:
            ax_map.plot(x, y, marker="o", ms=3, label=label)
    best_x, best_y = _series(rows, "AP")
    if best_y:
        i = int(np.argmax(best_y))
        ax_map.set_title(f"Validation mAP (best AP {best_y[i]:.3f} at epoch {best_x[i]})")
        ax_map.set_ylim(0, 1.02)
    else:
        ax_map.set_title("Validation mAP")
        _empty_note(ax_map, "not validated yet")
    ax_map.set(xlabel="epoch", ylabel="COCO mAP")
    x, y = _series(rows, "lr")
    ax_lr.plot(x, y, color="tab:purple")
    ax_lr.set(title="Learning rate", xlabel="epoch", ylabel="lr")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_map, ax_lr):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(f"Training: {Path(csv_path).parent.name or Path(csv_path).name}")
    save_png(fig, out_png)
    return fig


@dataclass
class PRCurves:
    """Precision at each recall point of a COCOeval, per class and averaged over the classes with GT.

    recall (R,); precision {class name: (R,)} for classes with ground truth; mean (R,) over those (None
    when there are none); ap {name: mean precision = AP at this IoU}; no_gt: classes left out.
    """
    recall: np.ndarray
    precision: dict[str, np.ndarray]
    mean: np.ndarray | None
    ap: dict[str, float]
    no_gt: list[str]
    iou: float
    figure: object = field(repr=False, default=None)


def _pr_index(coco_eval, iou: float, max_dets: int) -> tuple[int, int, int]:
    """(IoU, area 'all', maxDets) indices into coco_eval.eval['precision']; ValueError if absent."""
    p = coco_eval.params
    hit = np.flatnonzero(np.isclose(p.iouThrs, iou))
    if not hit.size:
        raise ValueError(f"IoU {iou} is not one of the COCOeval's thresholds {list(np.round(p.iouThrs, 2))}")
    if max_dets not in list(p.maxDets):
        raise ValueError(f"maxDets {max_dets} is not one of the COCOeval's {list(p.maxDets)}")
    return int(hit[0]), list(p.areaRngLbl).index("all"), list(p.maxDets).index(max_dets)


def _class_names(coco_eval, class_names: Sequence[str] | None, k: int) -> list[str]:
    if class_names is None:
        class_names = [c["name"] for c in coco_eval.cocoGt.loadCats(coco_eval.params.catIds)]
    if len(class_names) != k:
        raise ValueError(f"{len(class_names)} class names for a COCOeval of {k} categories")
    return list(class_names)


def pr_curves(coco_eval, class_names: Sequence[str] | None, out_png: str | os.PathLike, iou: float = 0.5,
              max_dets: int = 100) -> PRCurves:
    """Precision-recall curve per class plus their mean, at one IoU, area 'all', `max_dets` detections.

    coco_eval: pycocotools COCOeval after evaluate() + accumulate(); eval['precision'] is
    (T IoUs, R recall points, K classes, A areas, M maxDets), -1 where a class has no ground truth: such
    classes are left out and named in the legend. class_names: K names in params.catIds order (None: the
    GT's category names). Returns PRCurves (with .figure) after writing `out_png`.
    """
    prec = (getattr(coco_eval, "eval", None) or {}).get("precision")
    if prec is None:
        raise ValueError("the COCOeval has no results: call evaluate() and accumulate() first")
    t, a, m = _pr_index(coco_eval, iou, max_dets)
    names = _class_names(coco_eval, class_names, prec.shape[2])
    recall = np.asarray(coco_eval.params.recThrs, dtype=np.float64)
    curves, no_gt = {}, []
    for k, name in enumerate(names):
        curve = prec[t, :, k, a, m]
        if (curve < 0).any():
            no_gt.append(name)
        else:
            curves[name] = curve.astype(np.float64)
    mean = np.mean(np.stack(list(curves.values())), axis=0) if curves else None
    res = PRCurves(recall, curves, mean, {n: float(c.mean()) for n, c in curves.items()}, no_gt, iou)
    res.figure = _draw_pr(res, max_dets)
    save_png(res.figure, out_png)
    return res


def _draw_pr(res: PRCurves, max_dets: int):
    fig = new_figure(8 + 2 * (len(res.precision) > 12), 6)
    ax = fig.subplots()
    for name, curve in res.precision.items():
        ax.plot(res.recall, curve, lw=1.2, label=f"{name} {res.ap[name]:.3f}")
    if res.mean is not None:
        ax.plot(res.recall, res.mean, lw=3, color="black",
                label=f"all classes {float(res.mean.mean()):.3f} mAP@{res.iou:.2f}")
    else:
        _empty_note(ax, "no class has ground truth")
    if res.no_gt:
        shown = ", ".join(res.no_gt[:MAX_LEGEND_NAMES])
        more = f" +{len(res.no_gt) - MAX_LEGEND_NAMES} more" if len(res.no_gt) > MAX_LEGEND_NAMES else ""
        ax.plot([], [], " ", label=f"left out (no GT): {shown}{more}")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title=f"Precision-recall at IoU {res.iou:.2f} (area all, maxDets {max_dets})")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        many = len(res.precision) > 12
        ax.legend(fontsize="small", loc="upper left" if many else "lower left",
                  bbox_to_anchor=(1.01, 1.0) if many else None, ncol=1 + len(res.precision) // 30)
    return fig


def per_class_ap_bars(per_class: Sequence[tuple[str, float, float]], out_png: str | os.PathLike):
    """Horizontal bars of AP and AP50 per class, best AP on top; classes with AP nan (no GT) last.

    per_class: [(name, AP, AP50)] as evaluate_coco's 'per_class'. Returns the Figure after writing it.
    """
    if not per_class:
        raise UserError("no per-class results to plot (the evaluation had no categories)")
    rows = sorted(per_class, key=lambda r: (math.isnan(r[1]), -r[1] if not math.isnan(r[1]) else 0.0))
    n = len(rows)
    fig = new_figure(8, 1.2 + 0.32 * n)
    ax = fig.subplots()
    y = np.arange(n)[::-1].astype(np.float64)  # first row at the top
    ap = np.array([r[1] for r in rows], dtype=np.float64)
    ap50 = np.array([r[2] for r in rows], dtype=np.float64)
    ax.barh(y + 0.2, np.nan_to_num(ap50), height=0.4, color="tab:cyan", label="AP50")
    ax.barh(y - 0.2, np.nan_to_num(ap), height=0.4, color="tab:blue", label="AP (0.50:0.95)")
    for yi, v, v50 in zip(y, ap, ap50):
        if math.isnan(v):
            ax.text(0.01, yi, "no GT", va="center", fontsize="small", color="0.4")
            continue
        ax.text(v + 0.01, yi - 0.2, f"{v:.3f}", va="center", fontsize="x-small")
        ax.text(v50 + 0.01, yi + 0.2, f"{v50:.3f}", va="center", fontsize="x-small")
    ax.set_yticks(y, [r[0] for r in rows])
    valid = ap[~np.isnan(ap)]
    mean = f"mean AP {valid.mean():.3f}" if valid.size else "no class has ground truth"
    ax.set(xlim=(0, 1.12), xlabel="average precision", title=f"Per-class AP ({mean})")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    save_png(fig, out_png)
    return fig
