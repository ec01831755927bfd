"""Quantization-aware training (fake quant with TFLite int8 semantics) and its int8 export."""

#: QAT states `tools/quantization.py --export` can ship (see `QATTrainer.qat_model`).
STATES = ("best", "start", "tuned", "last")
