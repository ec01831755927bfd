"""Deployment: torch -> ONNX -> TFLite (float32/float16/int8) -> Vela, plus calibration and metadata.

Modules (import them directly; none imports TensorFlow at import time):
    onnx_export   ExportWrapper, export_onnx, output_names
    tflite_export export_tflite (onnx2tf SavedModel + TFLiteConverter), ExportError
    calibration   find_images, calibration_images
    vela          compile_vela, parse_summary, format_report
    metadata      sidecar schema: build_metadata, read_metadata, write_metadata
"""
