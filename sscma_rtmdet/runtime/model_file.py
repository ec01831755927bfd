"""What a model file records, read for the tools that take a config as well: its stored training config and
the facts in it (classes, input size, target, preprocessing, dataset) a config's untyped defaults must not
contradict."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError

# Facts a model file records that a config's untyped defaults must not contradict (issue: a config with no
# options refused a 3-class checkpoint for "80 classes", the config's default); typed values still must agree.
RECORDED = ("num_classes", "imgsz", "target", "preprocess")
SHOWN = ("num_classes", "imgsz", "target")


def recorded_facts(stored, options: dict) -> dict:
    """{name: value} of the model file's stored config for the RECORDED names and its dataset paths, less
    what `options` (typed by the user, --data included) set; {} without a stored config."""
    from ..data.sources import DATASET_KEYS

    if stored is None:
        return {}
    typed = {str(k).split(".", 1)[0] for k in options}
    head = ((stored.get("model") or {}).get("head") or {})
    values = {k: stored.get(k) for k in RECORDED}
    values["num_classes"] = head.get("num_classes", values["num_classes"])  # the head's count is the model's
    if not typed & set(DATASET_KEYS):
        values.update({k: stored.get(k) for k in DATASET_KEYS})
    return {k: _plain(v) for k, v in values.items() if v is not None and k not in typed}


def _plain(value):
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return dict(value) if isinstance(value, dict) else value


def stored_config_of(model):
    """The training Config (as data) a model file carries, or None: a checkpoint's own, or for an export
    the checkpoint named in its sidecar when that file still exists."""
    from .checkpoint import is_ours, load_checkpoint_file, stored_config
    from .metadata import read_metadata

    path = Path(model)
    if path.suffix.lower() not in (".pth", ".pt"):
        try:
            source = read_metadata(path).get("source_checkpoint")
        except UserError:
            return None
        if not source or not Path(source).is_file():
            return None
        path = Path(source)
    ckpt = load_checkpoint_file(path)
    return stored_config(ckpt, path, required=False) if is_ours(ckpt) else None
