"""Box geometry and NMS (pure torch)."""
from .boxes import bbox_overlaps, distance2bbox, make_priors
from .nms import batched_nms, sscma_nms, sscma_v1_nms

__all__ = ["bbox_overlaps", "distance2bbox", "make_priors", "batched_nms", "sscma_nms", "sscma_v1_nms"]
