"""COCO bbox evaluation (pycocotools) reported like mmdetection's CocoMetric."""
from .coco_eval import (detections_to_coco, eval_cat_ids, evaluate_coco, format_class_table, load_coco_gt,
                        save_detections_json)

__all__ = ["detections_to_coco", "eval_cat_ids", "evaluate_coco", "format_class_table", "load_coco_gt",
           "save_detections_json"]
