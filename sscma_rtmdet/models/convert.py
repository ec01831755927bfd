"""Load mmdet / mmyolo / our checkpoints into our RTMDet (key renaming by a small rule table).

Accepted inputs: a path (torch.load) or a dict; a state_dict possibly wrapped under `state_dict` or
`model`; mmdet full detectors (`backbone.*`, `neck.*`, `bbox_head.*`), mmyolo and SSCMA detectors
(`bbox_head.head_module.*`, `neck.top_down_layers.*`), ImageNet backbone-only checkpoints (CSPNeXt as
mmdet/mmpretrain name it: keys `backbone.*` or bare `stem.*`/`stageN.*`; timm's MobileNetV4 layout
`conv_stem.*`, `bn1.*`, `blocks.S.B.*` for MobileNetV4ConvSmall, bare or under `backbone.[timm_model.]`),
and our own state_dicts.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from .arch import describe

_log = logging.getLogger(__name__)

# (pattern, replacement), applied in order to every key. Stage/neck indices follow mmdet's order.
MMDET_RULES: tuple[tuple[str, object], ...] = (
    (r"^module\.", ""),  # DataParallel wrappers
    (r"^(stem|stage\d)\.", r"backbone.\1."),  # bare backbone-only checkpoints
    # mmyolo layout -> mmdet layout (its R4 reduce conv sits inside the first top-down layer)
    (r"^bbox_head\.head_module\.", "bbox_head."),
    (r"^neck\.reduce_layers\.2\.", "neck.reduce_layers.0."),
    (r"^neck\.top_down_layers\.0\.0\.", "neck.top_down_blocks.0."),
    (r"^neck\.top_down_layers\.0\.1\.", "neck.reduce_layers.1."),
    (r"^neck\.top_down_layers\.1\.", "neck.top_down_blocks.1."),
    (r"^neck\.downsample_layers\.", "neck.downsamples."),
    (r"^neck\.bottom_up_layers\.", "neck.bottom_up_blocks."),
    (r"^neck\.out_layers\.", "neck.out_convs."),
    # mmdet layout -> ours
    (r"^backbone\.stage(\d)\.0\.", lambda m: f"backbone.stages.{int(m[1]) - 1}.down."),
    (r"^backbone\.stage(\d)\.1\.conv1\.", lambda m: f"backbone.stages.{int(m[1]) - 1}.spp.reduce."),
    (r"^backbone\.stage(\d)\.1\.conv2\.", lambda m: f"backbone.stages.{int(m[1]) - 1}.spp.fuse."),
    (r"^backbone\.stage(\d)\.[12]\.", lambda m: f"backbone.stages.{int(m[1]) - 1}.csp."),
    (r"\.main_conv\.", ".main."),
    (r"\.short_conv\.", ".short."),
    (r"\.final_conv\.", ".fuse."),
    (r"\.attention\.", ".attn."),
    (r"\.conv2\.depthwise_conv\.", ".dw."),
    (r"\.conv2\.pointwise_conv\.", ".pw."),
    (r"\.depthwise_conv\.", ".0."),  # use_depthwise: DepthwiseSeparableConvModule is our Sequential(dw, pw)
    (r"\.pointwise_conv\.", ".1."),
    (r"^neck\.reduce_layers\.", "neck.reduce."),
    (r"^neck\.top_down_blocks\.", "neck.top_down."),
    (r"^neck\.downsamples\.", "neck.downsample."),
    (r"^neck\.bottom_up_blocks\.", "neck.bottom_up."),
    (r"^bbox_head\.rtm_cls\.", "head.cls_preds."),
    (r"^bbox_head\.rtm_reg\.", "head.reg_preds."),
    (r"^bbox_head\.", "head."),
)
# timm MobileNetV3-family keys (mobilenetv4_conv_small) -> ours: the stem conv/bn, `cn` blocks' conv/bn1,
# UIB blocks' dw_start/pw_exp/dw_mid/pw_proj (the same names as ours). Its head (conv_head, norm_head,
# classifier) is left as is and ignored by load_checkpoint.
TIMM_RULES: tuple[tuple[str, str], ...] = (
    (r"^(backbone\.)?(timm_model\.)?", ""),
    (r"^conv_stem\.", "backbone.stem.conv."),
    (r"^bn1\.", "backbone.stem.bn."),
    (r"^blocks\.(\d+)\.(\d+)\.bn1\.", r"backbone.stages.\1.\2.bn."),
    (r"^blocks\.", "backbone.stages."),
)
_COMPILED = tuple((re.compile(p), r) for p, r in MMDET_RULES)
_TIMM = tuple((re.compile(p), r) for p, r in TIMM_RULES)
_TIMM_KEY = re.compile(r"^(backbone\.)?(timm_model\.)?(conv_stem\.weight|blocks\.\d+\.\d+\.)")
_CLS_PRED = re.compile(r"^head\.cls_preds\.\d+\.(weight|bias)$")
_STAGE = re.compile(r"^backbone\.stages\.(\d+)\.")


@dataclass
class LoadReport:
    """What load_checkpoint did. `skipped`: keys present in both but not loaded (shape change of the
    class predictor); `ignored`: checkpoint keys that are not part of the model (e.g. an ImageNet
    classifier); `not_loaded`: model keys left at their init (backbone-only checkpoint)."""
    source_format: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)
    note: str | None = None  # what the caller changed after loading (engine.loading: the input normalisation)

    def summary(self) -> str:
        parts = [f"{len(self.loaded)} tensors loaded ({self.source_format} format)"]
        if self.skipped:
            parts.append(f"skipped (num_classes differs, kept fresh init): {', '.join(self.skipped)}")
        if self.ignored:
            parts.append(f"ignored {len(self.ignored)} checkpoint keys not in the model: {_short(self.ignored)}")
        if self.not_loaded:
            parts.append(f"{len(self.not_loaded)} model keys not in the checkpoint kept their init: "
                         f"{_short(self.not_loaded)}")
        return "; ".join(parts)


def _short(keys: list[str], n: int = 6) -> str:
    return ", ".join(keys[:n]) + (f", ... (+{len(keys) - n})" if len(keys) > n else "")


def convert_key(key: str) -> str:
    """One mmdet/mmyolo key -> our key, e.g. 'backbone.stage4.1.conv1.bn.weight' ->
    'backbone.stages.3.spp.reduce.bn.weight'."""
    for pattern, repl in _COMPILED:
        key = pattern.sub(repl, key)
    return key


def convert_timm_key(key: str) -> str:
    """One timm MobileNetV4 key -> our key, e.g. 'blocks.2.0.dw_start.bn.weight' ->
    'backbone.stages.2.0.dw_start.bn.weight', 'conv_stem.weight' -> 'backbone.stem.conv.weight'."""
    for pattern, repl in _TIMM:
        key = pattern.sub(repl, key)
    return key


def _unwrap(obj, where: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{where} holds no state_dict (expected a dict of tensors, possibly under "
                              f"'state_dict' or 'model')")
    return obj


def read_state_dict(src, name: str | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """Path or dict -> (flat state_dict, description for messages: `name` or the path)."""
    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path} does not exist; check the path")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # corrupt, truncated or pickled with custom classes
            raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
        return _unwrap(obj, f"checkpoint {path}"), f"checkpoint {path}"
    where = f"checkpoint {name}" if name else "the given checkpoint dict"
    return _unwrap(src, where), where


def to_ours(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Rename keys of any supported layout; returns (state_dict with our keys, detected format:
    'ours', 'mmdet', 'mmyolo', 'backbone-only' or 'backbone-only (timm)')."""
    keys = [re.sub(r"^module\.", "", k) for k in state]
    if any(_TIMM_KEY.match(k) for k in keys) and not any(k.startswith(("neck.", "bbox_head.")) for k in keys):
        return {convert_timm_key(k): v for k, v in zip(keys, state.values())}, "backbone-only (timm)"
    if any(k.startswith(("backbone.stages.", "stages.", "head.cls_preds.")) for k in keys):
        out = {("backbone." + k if k.startswith(("stem.", "stages.")) else k): v for k, v in zip(keys, state.values())}
        fmt, has_det = "ours", any(k.startswith(("neck.", "head.cls_preds.")) for k in out)
    else:
        out = {convert_key(k): v for k, v in zip(keys, state.values())}
        has_det = any(k.startswith(("neck.", "bbox_head.")) for k in keys)
        fmt = "mmyolo" if any("head_module" in k or "top_down_layers" in k for k in keys) else "mmdet"
    if not has_det:  # ImageNet backbone (its classifier `head.*` keys are ignored by load_checkpoint)
        fmt = "backbone-only"
    return out, fmt


def load_checkpoint(model: nn.Module, src, strict_head: bool = False, name: str | None = None,
                    model_cfg: dict | None = None, log=None) -> LoadReport:
    """Load a checkpoint (path or dict; `name` labels a dict in messages) into `model` (our RTMDet) in place.

    A class-predictor shape mismatch (other num_classes) is skipped and reported unless strict_head.
    Backbone-only checkpoints fill only `backbone.*`. Anything else missing, unexpected or of the
    wrong shape raises CheckpointError naming the file, with counts and the first few keys of each kind
    (and both models when `model_cfg`, the config's `model` dict, is given).
    """
    raw, where = read_state_dict(src, name)
    state, fmt = to_ours(raw)
    own = model.state_dict()
    report = LoadReport(source_format=fmt)
    if fmt.startswith("backbone-only"):
        stages = {int(m[1]) for k in own if (m := _STAGE.match(k))}
        # not ours: an ImageNet classifier, or backbone stages after the last one this model builds
        extra = [k for k in state if not k.startswith("backbone.") or
                 ((m := _STAGE.match(k)) and stages and int(m[1]) > max(stages))]
        report.ignored = sorted(extra)
        state = {k: v for k, v in state.items() if k not in report.ignored}
        report.not_loaded = sorted(k for k in own if not k.startswith("backbone."))
        expected = {k for k in own if k.startswith("backbone.")}
    else:
        expected = set(own)
    missing = sorted(expected - set(state))
    unexpected = sorted(k for k in state if k not in own)
    bad_shape = []
    for k in sorted(set(state) & set(own)):
        if state[k].shape != own[k].shape:
            if _CLS_PRED.match(k) and not strict_head:
                report.skipped.append(k)
            else:
                bad_shape.append(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}")
    if missing or unexpected or bad_shape:
        raise CheckpointError(_mismatch_message(where, fmt, src, model_cfg, missing, unexpected, bad_shape))
    _check_shared(model, state, where)
    to_load = {k: v for k, v in state.items() if k not in report.skipped}
    model.load_state_dict(to_load, strict=False)
    report.loaded = sorted(to_load)
    if report.skipped or report.ignored or report.not_loaded:  # said once, through the caller's log if given
        (log or (lambda m: _log.warning("%s", m)))(f"{where}: {report.summary()}")
    return report


def _mismatch_message(where, fmt, src, model_cfg, missing, unexpected, bad_shape) -> str:
    """A short account of a checkpoint that does not fit: counts and the first few keys of each kind."""

    stored = src.get("config") if isinstance(src, dict) else None
    models = ""
    if model_cfg is not None:
        ckpt_model = describe(stored.get("model")) if isinstance(stored, dict) else f"a {fmt}-format checkpoint"
        models = f"\n  checkpoint: {ckpt_model}\n  config:     {describe(model_cfg)}"
    parts = [(f"{len(v)} {k}", _short(v, 3)) for k, v in (("missing keys", missing), ("unexpected keys",
             unexpected), ("shape mismatches", bad_shape)) if v]
    return (f"{where} ({fmt} format) does not fit the model built from the config: "
            + ", ".join(n for n, _ in parts) + models
            + "".join(f"\n  {n}, e.g.: {keys}" for n, keys in parts)
            + "\n  check that the config's model size/options (deepen/widen, share_conv, exp_on_reg...) "
              "match the checkpoint")


def _check_shared(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Keys that alias one tensor (shared head convs) must carry equal values in the checkpoint."""
    by_tensor: dict[int, list[str]] = {}
    for k, v in model.state_dict(keep_vars=True).items():
        by_tensor.setdefault(id(v), []).append(k)
    for keys in by_tensor.values():
        present = [k for k in keys if k in state]
        if len(present) > 1 and any(not torch.equal(state[present[0]], state[k]) for k in present[1:]):
            raise CheckpointError(f"{where}: {present[0]} and {present[1]} differ but the model shares them; "
                                  f"the checkpoint was trained with unshared head convs, set "
                                  f"model.head.share_conv=False (share_conv=False in the config)")
