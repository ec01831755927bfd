"""`Deployment`: what a model file is and how it is fed and read, written identically into checkpoint meta
(`meta['deployment']`) and export sidecars (`['deployment']`), and read by every tool instead of asking again.

    target       'generic' | 'sscma-micro' | 'sscma-micro-v1' (sscma_rtmdet/targets.py: the firmware it is for)
    imgsz        (H, W) network input
    preprocess   resize, interpolation, color (training order), mean, std, pad_value (data.preprocess)
    input_color  channel order an exported file takes ('rgb' for sscma-micro; else the training order)
    layout       output layout of exported files ('nchw' | 'sscma' | 'yolov8', runtime.layout)
    classes      class names (their count is the class count)
    strides      (8, 16, 32)
    test_cfg     decode settings: score_thr, nms_pre, iou_threshold, max_per_img, multi_label, nms
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from ..data.build import imgsz_of, preprocess_of
from ..data.preprocess import Preprocess
from ..errors import CheckpointError, ConfigError
from ..postprocess import _NMS as NMS_NAMES
from ..targets import DEFAULT_TARGET, FAMILIES, get_target
from .layout import LAYOUTS

# A network input side this large is a corrupt or hostile record (RTMDet trains at 320-1280): refused before
# any tensor of that size is allocated (a 32000x32000 input asked ~12 GB).
MAX_INPUT_SIDE = 4096
_FIELDS = ("target", "imgsz", "preprocess", "input_color", "layout", "classes", "strides", "test_cfg")


@dataclass(frozen=True)
class Deployment:
    target: str
    imgsz: tuple[int, int]
    preprocess: Preprocess
    input_color: str
    layout: str
    classes: tuple[str, ...]
    strides: tuple[int, ...] = (8, 16, 32)
    test_cfg: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def with_(self, **changes) -> "Deployment":
        return replace(self, **changes)

    def for_target(self, name: str) -> "Deployment":
        """This model as another runtime of its family runs it (targets.FAMILIES: same resize, sampler and
        colour order): that target's layout and decode. CheckpointError for a runtime of another family."""
        target = get_target(name)
        if target.name == self.target:
            return self
        if FAMILIES.get(target.name) != FAMILIES.get(self.target):
            raise CheckpointError(f"the model was trained for target={self.target} ({get_target(self.target).resize}"
                                  f"), not for {target.name} ({target.description.split(':')[0]}); train it with "
                                  f"--cfg-options target={target.name} (or a config of that target)")
        pre = self.preprocess
        if pre.interpolation == get_target(self.target).interpolation:  # the sampler that runtime uses
            pre = replace(pre, interpolation=target.interpolation)
        return replace(self, target=target.name, layout=target.layout, preprocess=pre,
                       test_cfg={**self.test_cfg, **target.test_cfg})

    def to_dict(self) -> dict:
        return {"target": self.target, "imgsz": list(self.imgsz), "preprocess": self.preprocess.to_dict(),
                "input_color": self.input_color, "layout": self.layout, "classes": list(self.classes),
                "num_classes": self.num_classes, "strides": list(self.strides), "test_cfg": dict(self.test_cfg)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], origin: str = "model file") -> "Deployment":
        """Rebuild from `to_dict()` output; a missing or ill-typed field is a CheckpointError naming it."""
        if not isinstance(d, Mapping):
            raise CheckpointError(f"{origin}: deployment record must be a JSON object, got {type(d).__name__}")
        missing = [k for k in _FIELDS if k not in d]
        if missing:
            raise CheckpointError(f"{origin}: deployment record lacks {missing}; re-export the model")
        try:
            pre = Preprocess.from_config(d["preprocess"])
            dep = cls(target=str(d["target"]), imgsz=_hw(d["imgsz"]), preprocess=pre,
                      input_color=str(d["input_color"]), layout=str(d["layout"]),
                      classes=tuple(str(c) for c in d["classes"]),
                      strides=tuple(_positive_int(s) for s in d["strides"]), test_cfg=dict(d["test_cfg"]))
        except (ConfigError, TypeError, ValueError) as e:
            raise CheckpointError(f"{origin}: deployment record is invalid ({e}); re-export the model") from None
        if "num_classes" in d and d["num_classes"] != dep.num_classes:
            raise CheckpointError(f"{origin}: deployment num_classes={d['num_classes']} but {dep.num_classes} "
                                  "class names; re-export the model")
        return dep.validated(origin)

    def validated(self, origin: str) -> "Deployment":
        get_target(self.target)
        if self.layout not in LAYOUTS or self.input_color not in ("bgr", "rgb"):
            raise CheckpointError(f"{origin}: layout {self.layout!r} / input_color {self.input_color!r} unknown")
        if not self.classes:
            raise CheckpointError(f"{origin}: deployment record lists no classes")
        h, w = self.imgsz
        if max(h, w) > MAX_INPUT_SIDE:
            raise CheckpointError(f"{origin}: imgsz {h}x{w} exceeds {MAX_INPUT_SIDE} per side, the largest input "
                                  "this toolkit makes: a model file with it is corrupt (re-export it), a config "
                                  "must ask for less")
        if not self.strides:
            raise CheckpointError(f"{origin}: deployment record lists no strides; re-export the model")
        if h % max(self.strides) or w % max(self.strides):
            raise CheckpointError(f"{origin}: imgsz {h}x{w} is not a multiple of the largest stride "
                                  f"{max(self.strides)}")
        check_test_cfg(self.test_cfg, origin)
        return self

    @classmethod
    def from_config(cls, cfg, classes: Sequence[str], imgsz=None) -> "Deployment":
        """The deployment a config describes for a model of `classes` (target defaults filled in)."""
        target = get_target(cfg.get("target", DEFAULT_TARGET))
        hw = tuple(imgsz) if imgsz is not None else imgsz_of(cfg)
        if target.square_input and hw[0] != hw[1]:
            raise ConfigError(f"imgsz={hw} is not square, but target={target.name!r} ({target.description}) "
                              "takes square inputs only; use a square imgsz, or target=generic for a runtime "
                              "that takes any shape")
        pre = preprocess_of(cfg)
        head = (cfg.get("model") or {}).get("head") or {}
        strides = tuple(int(s[0] if isinstance(s, (list, tuple)) else s) for s in head.get("strides", (8, 16, 32)))
        return cls(target=target.name, imgsz=(int(hw[0]), int(hw[1])), preprocess=pre,
                   input_color=target.input_color or pre.color, layout=target.layout,
                   classes=tuple(str(c) for c in classes), strides=strides,
                   test_cfg=effective_test_cfg(cfg, target)).validated(cfg.filename or "config")

    @classmethod
    def for_model(cls, model, preprocess, imgsz, classes: Sequence[str] | None = None, target: str = DEFAULT_TARGET,
                  layout: str | None = None, test_cfg: dict | None = None) -> "Deployment":
        """The deployment of a bare model (no config): `preprocess` (a Preprocess or its dict), `imgsz`, class
        names (default '0'..'C-1'), a target's resize/colour/layout/decode (over mmdet's test_cfg)."""
        t = get_target(target)
        pre = Preprocess.from_config(preprocess.to_dict() if hasattr(preprocess, "to_dict") else preprocess, t)
        names = [str(c) for c in classes] if classes is not None else [str(i) for i in range(model.num_classes)]
        base = dict(score_thr=0.001, nms_pre=30000, iou_threshold=0.65, max_per_img=300)
        return cls(target=t.name, imgsz=(int(imgsz[0]), int(imgsz[1])), preprocess=pre,
                   input_color=t.input_color or pre.color, layout=layout or t.layout, classes=tuple(names),
                   strides=tuple(int(s) for s in model.strides),
                   test_cfg={**base, **t.test_cfg, **(test_cfg or {})}).validated("model")

    def differences(self, other: "Deployment") -> list[str]:
        """What a model file and a config disagree on, one line per field (classes by name)."""
        out = []
        for key in ("target", "imgsz", "strides", "classes"):
            a, b = getattr(self, key), getattr(other, key)
            same = a == b if isinstance(a, str) else tuple(a) == tuple(b)
            if not same:
                out.append(f"{key}: {a} vs {b}")
        out += [f"preprocess.{d}" for d in self.preprocess.differences(other.preprocess)]
        return out


def effective_test_cfg(cfg, target) -> dict:
    """The config's test_cfg, then the target's decode settings, then test_cfg keys the user set by option."""
    from ..config.typed import typed_test_cfg

    return {**dict(cfg.get("test_cfg") or {}), **target.test_cfg, **typed_test_cfg(cfg)}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


# test_cfg field -> (what it must be, check); the first four are required (postprocess reads them)
TEST_CFG_RULES = {
    "score_thr": ("a number from 0 to 1", lambda v: _number(v) and 0 <= v <= 1),
    "nms_pre": ("a positive integer", _count),
    "iou_threshold": ("a number above 0, at most 1", lambda v: _number(v) and 0 < v <= 1),
    "max_per_img": ("a positive integer or null (no cap)", lambda v: v is None or _count(v)),
    "multi_label": ("true or false", lambda v: isinstance(v, bool)),
    "nms": (f"one of {', '.join(repr(n) for n in NMS_NAMES)}", lambda v: isinstance(v, str) and v in NMS_NAMES),
}


def check_test_cfg(test_cfg: dict, origin: str) -> None:
    """CheckpointError naming `origin` and the first decode setting that is missing, unknown or out of range
    (an iou_threshold of 5 failed inside NMS; other values silently changed every metric)."""
    where = f"{origin}: deployment record test_cfg"
    unknown = sorted(str(k) for k in test_cfg if k not in TEST_CFG_RULES)
    if unknown:
        raise CheckpointError(f"{where} has unknown field(s) {unknown}; known: {list(TEST_CFG_RULES)} (a config: "
                              "drop them; a model file: re-export it)")
    missing = [k for k in list(TEST_CFG_RULES)[:4] if k not in test_cfg]
    if missing:
        raise CheckpointError(f"{where} lacks {missing}; re-export the model")
    for key, (must, ok) in TEST_CFG_RULES.items():
        if key in test_cfg and not ok(test_cfg[key]):
            raise CheckpointError(f"{where}.{key}={test_cfg[key]!r} must be {must}; re-export the model or set "
                                  f"test_cfg.{key} in its config")


def _hw(v) -> tuple[int, int]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ValueError(f"imgsz {v!r} must be [H, W]")
    return _positive_int(v[0]), _positive_int(v[1])


def _positive_int(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError(f"{v!r} is not a positive integer")
    return v


def class_change(trained: Sequence[str], current: Sequence[str]) -> tuple[str | None, str | None]:
    """(problem, note) between the classes a model was trained on and a dataset's, matched by index (the
    category order). problem: another count, or a name both lists hold at different indices (its boxes would
    be scored or trained as another class). note: the renamed classes otherwise (same ids, new names). Both
    None when the lists are equal or the model's names are only its indices ('0', '1', ...). The one rule of
    tools/test.py (check_options) and --resume (engine.loading)."""
    trained, current = [str(c) for c in trained], [str(c) for c in current]
    if trained == current or (trained == [str(i) for i in range(len(trained))] and len(trained) == len(current)):
        return None, None
    if len(trained) != len(current):
        return f"{len(trained)} classes {trained} but the dataset has {len(current)} {current}", None
    moved = [f"{n!r} from index {trained.index(n)} to {current.index(n)}" for n in trained
             if n in current and trained.index(n) != current.index(n)]
    if moved:
        return (f"classes {trained} but the dataset lists {current}: {', '.join(moved)} moved (its boxes would "
                "count as another class)"), None
    renamed = [f"{a!r} -> {b!r}" for a, b in zip(trained, current) if a != b]
    return None, f"classes renamed (same ids): {', '.join(renamed)}"


def check_options(dep: "Deployment", path: Path, cfg, classes: Sequence[str] | int | None) -> None:
    """A model file knows its input size, classes, target and preprocessing; values the user typed
    (config.typed) must agree with it, and the dataset (`classes`: its class names, or only their count)
    must have its class count and order (class_change). CheckpointError naming both values otherwise (never a
    silent resize or relabel)."""
    from ..config.typed import typed_names, was_typed

    given = typed_names(cfg)
    problems = []
    num_classes = classes if classes is None or isinstance(classes, int) else len(classes)
    if num_classes is not None and dep.num_classes != num_classes:
        problems.append(f"the dataset has {num_classes} classes, the model {dep.num_classes} {list(dep.classes)}")
    elif num_classes is not None and not isinstance(classes, int):
        moved = class_change(dep.classes, classes)[0]
        problems += [f"it was trained on {moved}; evaluate it on the dataset it was trained for, or restore "
                     "that category order"] if moved else []
    if "num_classes" in given and cfg.num_classes != dep.num_classes:
        problems.append(f"num_classes={cfg.num_classes} given, the model has {dep.num_classes}")
    if "imgsz" in given and tuple(imgsz_of(cfg)) != tuple(dep.imgsz):
        problems.append(f"imgsz={tuple(imgsz_of(cfg))} given, the model takes {dep.imgsz[0]}x{dep.imgsz[1]} "
                        f"(use imgsz='({dep.imgsz[0]},{dep.imgsz[1]})' or drop it)")
    if "target" in given and cfg.target != dep.target:
        problems.append(f"target={cfg.target} given, the model was made for target={dep.target}")
    if was_typed(cfg, "preprocess"):
        problems += [f"preprocess.{d} (given vs model)" for d in preprocess_of(cfg).differences(dep.preprocess)]
    if problems:
        raise CheckpointError(f"{path} does not fit the options: " + "; ".join(problems))
