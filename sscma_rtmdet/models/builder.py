"""Build an RTMDet from the config's `model` dict (backbone / neck / head sub-dicts with `type`)."""
from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping

from torch import nn

from ..errors import ConfigError
from .cspnext import CSPNeXt
from .detector import RTMDet
from .head import RTMDetSepBNHead
from .mobilenetv4 import MobileNetV4ConvSmall
from .pafpn import CSPNeXtPAFPN


def _cspnext():
    return CSPNeXt


def _mobilenetv4():
    # imported lazily: another module, and only configs that name it should need it
    return MobileNetV4ConvSmall


def _pafpn():
    return CSPNeXtPAFPN


def _sepbn_head():
    return RTMDetSepBNHead


REGISTRY: dict[str, dict[str, Callable[[], type]]] = {
    "backbone": {"CSPNeXt": _cspnext, "MobileNetV4ConvSmall": _mobilenetv4},
    "neck": {"CSPNeXtPAFPN": _pafpn},
    "head": {"RTMDetSepBNHead": _sepbn_head},
}


def _as_dict(cfg, where: str) -> dict:
    if hasattr(cfg, "to_dict"):
        cfg = cfg.to_dict()
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where} must be a dict, got {type(cfg).__name__}")
    return {k: copy.deepcopy(v) for k, v in cfg.items() if not str(k).startswith("_")}  # drop _delete_


def build_component(part: str, cfg, **injected) -> nn.Module:
    """Instantiate `model.<part>` from its dict; `injected` kwargs come from the previous part.

    An explicit value in the config that disagrees with an injected one is a ConfigError.
    """
    where = f"model.{part}"
    args = _as_dict(cfg, where)
    type_name = args.pop("type", None)
    known = REGISTRY[part]
    if type_name not in known:
        raise ConfigError(f"{where}.type={type_name!r} is unknown; use one of {sorted(known)}")
    cls = known[type_name]()
    for key, value in injected.items():
        if key in args and _norm(args[key]) != _norm(value):
            raise ConfigError(f"{where}.{key}={args[key]!r} disagrees with the value {value!r} taken from the "
                              f"previous module; remove {where}.{key} from the config")
        args[key] = value
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(args) - set(params) - {"self"})
        if unknown:
            allowed = sorted(set(params) - {"self"} - set(injected))
            raise ConfigError(f"{where} ({type_name}) has unknown option(s) "
                              f"{', '.join(f'{where}.{k}' for k in unknown)}; allowed: {allowed}")
    try:
        return cls(**args)
    except TypeError as e:  # e.g. a required argument missing
        raise ConfigError(f"{where} ({type_name}): {e}") from e


def _norm(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def build_model(model_cfg) -> RTMDet:
    """`model` config dict -> RTMDet. Neck in_channels = backbone.out_channels; head in_channels =
    neck.out_channels; the head's strides must equal the backbone's."""
    cfg = _as_dict(model_cfg, "model")
    for part in ("backbone", "neck", "head"):
        if part not in cfg:
            raise ConfigError(f"model.{part} is missing from the config (a dict with a `type`)")
    backbone = build_component("backbone", cfg["backbone"])
    neck = build_component("neck", cfg["neck"], in_channels=list(backbone.out_channels))
    head = build_component("head", cfg["head"], in_channels=neck.out_channels)
    bb_strides = tuple(getattr(backbone, "strides", head.strides))
    if tuple(head.strides) != bb_strides:
        raise ConfigError(f"model.head.strides={tuple(head.strides)} must equal the backbone's output strides "
                          f"{bb_strides}")
    return RTMDet(backbone, neck, head)
