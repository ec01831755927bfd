"""Quantization-aware training (fake quant with TFLite int8 semantics) and its int8 export."""
from ..utils.paths import CONFIGS_DIR

#: QAT states `tools/quantization.py --export` can ship (see `QATTrainer.qat_model`).
STATES = ("best", "start", "tuned", "last")

#: The QAT schedule merged into the user's config by default (tools/quantization.py --qat-schedule).
DEFAULT_SCHEDULE = CONFIGS_DIR / "rtmdet_nano_8xb32_300e_coco_relu_q.py"
