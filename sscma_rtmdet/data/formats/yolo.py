"""YOLO datasets described by a `data.yaml`: Roboflow's YOLOv5/v8 export and Ultralytics' own layout.

- `names`: a list, or a dict {0: 'a', 1: 'b'} with keys 0..N-1; `nc`, when given, must equal the count.
- `path` (optional): the dataset root, relative to the yaml's folder (absolute allowed); a `path` that does
  not exist there (an author's own machine) falls back to the yaml's folder, with a warning.
- `train` / `val` (or `valid`) / `test`: a folder of images (searched recursively), a .txt file listing image
  paths, a single image, or a list of those. A relative entry is tried against the root first, then, when
  it starts with `../`, with that one `../` removed: Roboflow writes `train: ../train/images` next to
  DATA/train/images (Ultralytics' own fallback, same order). A .txt list's relative lines are tried against
  the list's folder, then the root.
- Labels: Ultralytics' rule (`yolo_labels.label_path`); an image without a label file has no boxes.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ...errors import DataError
from ..checks import check_class_count
from .common import IMAGE_EXTS, CocoBuilder, Notes, is_image, list_images, shown
from .yolo_labels import label_path, read_label_file

_MAX_YAML_BYTES = 2**20
_YAML_SUFFIXES = (".yaml", ".yml")
_SPLIT_KEYS = {"train": ("train",), "val": ("val", "valid"), "test": ("test",)}


@dataclass
class YoloSpec:
    """A parsed data.yaml: `base` is the dataset root, `splits` the raw yaml values per split."""
    yaml_path: Path
    base: Path
    names: list[str]
    splits: dict = field(default_factory=dict)


def find_yaml(root: Path, any_name: bool = True) -> Path | None:
    """The dataset's yaml: `root` itself, ROOT/data.yaml (.yml), or (`any_name`) the only *.yaml in ROOT."""
    if root.is_file():
        return root if root.suffix.lower() in _YAML_SUFFIXES else None
    if not root.is_dir():
        return None
    for name in ("data.yaml", "data.yml"):
        if (root / name).is_file():
            return root / name
    if not any_name:
        return None
    found = sorted(p for p in root.iterdir() if p.suffix.lower() in _YAML_SUFFIXES and p.is_file())
    if len(found) > 1:
        raise DataError(f"{root} holds several YAML files ({', '.join(p.name for p in found)}) and no "
                        "data.yaml: pass the dataset's yaml file itself")
    return found[0] if found else None


class _AliasFound(yaml.YAMLError):
    def __init__(self, mark):
        super().__init__()
        self.problem_mark = mark


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.safe_load refusing aliases (`*name`): a few hundred bytes of nested aliases expand to GBs once the
    result is walked ("billion laughs"), and a dataset yaml never needs one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _AliasFound(self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _load_yaml(path: Path) -> dict:
    if path.stat().st_size > _MAX_YAML_BYTES:
        raise DataError(f"{path}: over 1 MB; a dataset yaml is a few lines (is this the right file?)")
    try:
        data = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_NoAliasLoader)  # SafeLoader, no aliases
    except _AliasFound as e:
        raise DataError(f"{path}: line {e.problem_mark.line + 1} uses a YAML alias (*name); refused, since "
                        "aliases can expand a small file to gigabytes: write the values out") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise DataError(f"{path} is not valid YAML{at}: {getattr(e, 'problem', e)}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping with 'names', 'train' and 'val'")
    return data


def _names(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    if names is None:
        raise DataError(f"{path}: no 'names' (the class names); add e.g. names: ['cat', 'dog']")
    if isinstance(names, dict):
        keys = sorted(names, key=str)
        if sorted(k for k in names if isinstance(k, int)) != list(range(len(names))):
            raise DataError(f"{path}: names keys must be the class indices 0..{len(names) - 1}, got {keys}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise DataError(f"{path}: names must be a non-empty list or a dict {{0: 'a', 1: 'b'}}")
    check_class_count(names, str(path))
    odd = [f"{i}: {n!r}" for i, n in enumerate(names) if n is None or isinstance(n, (bool, list, dict))]
    if odd:  # YAML reads unquoted no/yes/off/null as booleans or null
        raise DataError(f"{path}: names entries {', '.join(odd)} are not names; quote them (e.g. 'no')")
    nc = data.get("nc")
    if nc is not None and nc != len(names):
        raise DataError(f"{path}: nc: {nc} but names lists {len(names)} classes; make them agree")
    return [str(n) for n in names]


def read_data_yaml(path: Path) -> YoloSpec:
    """Parse and check a data.yaml (names, nc, path); split entries are resolved later, per split."""
    data = _load_yaml(path)
    names = _names(data, path)
    base = path.parent
    if data.get("path"):
        cand = Path(str(data["path"]))
        cand = cand if cand.is_absolute() else path.parent / cand
        if cand.is_dir():
            base = cand
        else:
            warnings.warn(f"{path}: path: {data['path']} ({cand}) does not exist; using the yaml's folder "
                          f"{path.parent} as the dataset root", stacklevel=2)
    splits = {}
    for split, keys in _SPLIT_KEYS.items():
        value = next((data[k] for k in keys if data.get(k)), None)
        if value is not None:
            splits[split] = value
    return YoloSpec(path, base, names, splits)


def _candidates(spec: YoloSpec, value: str) -> tuple[list[Path], list[Path]]:
    """(paths tried, those that exist) for a split entry: as given (against the root), then with one
    leading ../ removed."""
    p = Path(str(value))
    cands = [p] if p.is_absolute() else [spec.base / p]
    if not p.is_absolute() and str(value).startswith("../"):
        cands.append(spec.base / str(value)[3:])
    return cands, [c for c in cands if c.exists()]


def _resolve(spec: YoloSpec, value: str, key: str) -> Path:
    """A split entry -> its existing path; none found is a DataError naming both tries."""
    cands, found = _candidates(spec, value)
    if not found:
        raise DataError(f"{spec.yaml_path}: {key}: {value!r} not found (looked for "
                        f"{' and '.join(str(c) for c in cands)}); fix the path in the yaml")
    if len(found) > 1:
        warnings.warn(f"{spec.yaml_path}: {key}: {value!r} exists as {found[0]} and as {found[1]}; "
                      f"using {found[0]} (Ultralytics' order)", stacklevel=3)
    return Path(os.path.abspath(found[0]))


def _read_list(spec: YoloSpec, txt: Path) -> list[Path]:
    """Image paths listed in a .txt file, one a line; missing ones are a DataError naming the first few."""
    out, missing = [], []
    for line in txt.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line)
        cands = [p] if p.is_absolute() else [txt.parent / p, spec.base / p]
        hit = next((c for c in cands if c.is_file()), None)
        if hit is None:
            missing.append(line)
        elif hit.suffix.lower() in IMAGE_EXTS:
            out.append(Path(os.path.abspath(hit)))
    if missing:
        raise DataError(f"{txt}: {len(missing)} listed image(s) not found (relative lines are tried against "
                        f"{txt.parent} and {spec.base}): {', '.join(missing[:5])}")
    return out


def split_images(spec: YoloSpec, split: str) -> tuple[list[Path], Path]:
    """(image paths in id order, image root: the split's folder, or the images' common folder)."""
    if split not in spec.splits:
        raise DataError(f"{spec.yaml_path}: no '{split}' entry; add {split}: <images folder or list>")
    value = spec.splits[split]
    entries = value if isinstance(value, list) else [value]
    files, folders = [], []
    for entry in entries:
        p = _resolve(spec, entry, split)
        if p.is_dir():
            files += list_images(p)
            folders.append(p)
        elif p.suffix.lower() == ".txt":
            files += _read_list(spec, p)
        elif is_image(p):
            files.append(p)
        else:
            raise DataError(f"{spec.yaml_path}: {split}: {entry!r} is not a folder, a .txt list or an image")
    files = list(dict.fromkeys(files))  # the same image listed twice is one image
    if not files:
        raise DataError(f"{spec.yaml_path}: {split}: no images found in {entries}")
    if len(entries) == 1 and folders:
        return files, folders[0]
    return files, Path(os.path.commonpath([str(f.parent) for f in files]))


def yolo_splits(yaml_path: Path) -> list[str]:
    """Splits the yaml names whose paths exist, in train, val, test order (Roboflow's yaml may name a test
    folder the export does not have; loading such a split raises the not-found error)."""
    spec = read_data_yaml(yaml_path)
    return [s for s, v in spec.splits.items()
            if all(_candidates(spec, e)[1] for e in (v if isinstance(v, list) else [v]))]


def load_yolo_split(yaml_path: Path, split: str) -> tuple[dict, Path]:
    """(COCO dict, image root) of one split; boxes from normalised labels times the decoded image size."""
    spec = read_data_yaml(yaml_path)
    images, img_root = split_images(spec, split)
    notes = Notes(f"{yaml_path.name} {split}")
    builder = CocoBuilder(spec.names, notes)
    without = []
    for img in images:
        image_id, w, h = builder.add_image(img, img_root, spec.base)
        lp = label_path(img)
        if not lp.is_file():
            without.append(lp)
            continue
        where = shown(lp, spec.base)
        for lineno, cls, (x1, y1, x2, y2) in read_label_file(lp, where, spec.names, yaml_path.name, notes):
            builder.add_box(image_id, cls, (x1 * w, y1 * h, x2 * w, y2 * h), (w, h), f"{where}:{lineno}")
    if without and len(without) == len(images):
        warnings.warn(f"{yaml_path.name} {split}: none of the {len(images)} images has a label file (looked "
                      f"for e.g. {without[0]}): every image is background. Labels go in a labels/ folder next "
                      "to images/ (images/x.jpg -> labels/x.txt)", stacklevel=2)
    notes.warn()
    return builder.result(), img_root
