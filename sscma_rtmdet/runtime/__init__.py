"""Model files and how to run them: checkpoints (ours and mmdet's), the export sidecar/metadata, the deploy
wrapper (named per-level outputs), file validation, and one backend per format (.pth/.onnx/.tflite).

export, evaluation, inference, engine and quant all stand on this layer; it imports none of them.
"""
