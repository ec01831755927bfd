"""Whole workflows, each a request in and a result out, called by the CLI (`cli/*.py`: option declarations and
one call) and the Python API (`api.py`) alike: the settings a command runs with (`settings`), quantization-aware
training (`quantize`). Export's request is `export.pipeline.ExportRequest`."""
