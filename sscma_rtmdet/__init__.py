"""sscma-rtmdet: train, quantize, export and evaluate RTMDet detectors for edge devices.

Importing the package is cheap: heavy modules (torch models, TensorFlow, onnxruntime) load on first use.
"""
from .version import __version__

__all__ = ["__version__", "Detector", "RTMDet", "Result", "train", "load_config"]


def __getattr__(name):  # PEP 562 lazy exports keep `import sscma_rtmdet` fast
    if name == "Detector":
        from .inference.detector import Detector
        return Detector
    if name in ("RTMDet", "Result", "train"):
        from . import api
        return getattr(api, name)
    if name == "load_config":
        from .config import load_config
        return load_config
    raise AttributeError(f"module 'sscma_rtmdet' has no attribute {name!r}")
