"""The settings a command runs with: a config file (or the model file's own stored config) with what the user
typed, and, beside a model file, what that file records for every name the user did not type."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from ..config import Config, load_config
from ..config.options import apply_overrides
from ..config.typed import mark_untyped
from ..data.sources import DATASET_KEYS, dataset_options
from ..errors import UserError
from ..runtime.model_file import SHOWN, recorded_facts, stored_config_of

BASE_CONFIG = "configs/_base_/rtmdet_base.py"


def resolve_settings(config: str | Path | None, options: Mapping[str, Any] | None = None, model: Path | None = None,
                     data: str | Path | None = None, log: Callable[[str], None] | None = None) -> Config:
    """CONFIG with `options` (typed values: {name or dotted key: value}); without CONFIG, the config stored in
    `model` (a checkpoint, or an export whose source checkpoint exists), else the packaged base config.
    `data` sets the dataset names (DATASET_KEYS). With both CONFIG and `model`, names the user did not type
    take the model file's recorded values (classes, input size, target, preprocessing, dataset; said in one
    line through `log`), so a config default never contradicts the file; typed values win and are checked
    against the file by the tools."""
    options = dict(options or {})
    if data:
        clash = sorted(k for k in DATASET_KEYS if k in options)
        if clash:
            raise UserError(f"--data and --cfg-options {', '.join(clash)} both name the dataset; give one")
        options = {**dataset_options(data, log), **options}
    stored = stored_config_of(model) if model is not None else None
    if config:
        facts = recorded_facts(stored, options)
        cfg = load_config(config, {**facts, **options})
        mark_untyped(cfg, set(facts) - set(options))  # the model file's values were not typed
        say_facts(facts, log)
        return cfg
    if stored is None:
        return load_config(BASE_CONFIG, options)
    return apply_overrides(Config(stored, filename=None), options)


def say_facts(facts: Mapping[str, Any], log: Callable[[str], None] | None) -> None:
    """The one line saying which values came from the model file."""
    shown = [f"{k}={v}" for k, v in facts.items() if k in SHOWN]
    if shown and log:
        log(f"from the model file (not typed): {', '.join(shown)}")
