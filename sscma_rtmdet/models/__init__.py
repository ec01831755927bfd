"""RTMDet network: CSPNeXt backbone, CSPNeXtPAFPN neck, RTMDetSepBNHead; builder, converter, size info."""
from .builder import build_model
from .convert import LoadReport, convert_key, load_checkpoint
from .cspnext import ARCH_SETTINGS, CSPNeXt
from .detector import RTMDet
from .head import RTMDetSepBNHead
from .info import count_flops, count_params, summarize
from .pafpn import CSPNeXtPAFPN

__all__ = ["ARCH_SETTINGS", "CSPNeXt", "CSPNeXtPAFPN", "LoadReport", "RTMDet", "RTMDetSepBNHead",
           "build_model", "convert_key", "count_flops", "count_params", "load_checkpoint", "summarize"]
