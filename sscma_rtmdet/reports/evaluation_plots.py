"""The pictures of one evaluation (tools/test.py --plots, and the trainer's final validation): PR curves,
confusion matrix, per-class AP bars and a grid of validation images with ground truth next to predictions."""
from __future__ import annotations

from pathlib import Path

CONFUSION_IOU, CONFUSION_SCORE = 0.45, 0.25  # the firmware's default NMS IoU and display threshold
GRID_IMAGES = 16


def write_evaluation_plots(res: dict, coco, out_dir: Path, grid_images: int = GRID_IMAGES) -> list[Path]:
    """`res` is evaluation.evaluate's result on `coco` (a CocoDetection). Returns the PNGs written."""
    from .confusion import confusion_matrix, plot_confusion_matrix
    from .pictures import prediction_grid
    from .plots import per_class_ap_bars, pr_curves

    out_dir.mkdir(parents=True, exist_ok=True)
    classes = list(coco.classes)
    written = []
    if res.get("coco_eval") is not None:
        pr_curves(res["coco_eval"], classes, out_dir / "pr_curve.png")
        written.append(out_dir / "pr_curve.png")
    per_class_ap_bars(res["per_class"], out_dir / "per_class_ap.png")
    written.append(out_dir / "per_class_ap.png")
    index = {img_id: i for i, img_id in enumerate(coco.img_ids)}
    order = [index[m["img_id"]] for m in res["metas"]]
    gts = [dict(zip(("boxes", "labels"), coco.get_ann(i))) for i in order]
    matrix = confusion_matrix(res["results"], gts, len(classes), CONFUSION_IOU, CONFUSION_SCORE)
    plot_confusion_matrix(matrix, classes, out_dir / "confusion_matrix.png", iou_thr=CONFUSION_IOU,
                          score_thr=CONFUSION_SCORE)
    written.append(out_dir / "confusion_matrix.png")
    pick = order[:grid_images]
    if pick:
        prediction_grid([coco.load_image(i) for i in pick], gts[:grid_images], res["results"][:grid_images],
                        classes, out_dir / "val_predictions.png", max_images=grid_images,
                        titles=[Path(coco.image_path(i)).name for i in pick])
        written.append(out_dir / "val_predictions.png")
    return written
