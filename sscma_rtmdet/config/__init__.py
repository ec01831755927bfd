"""Config system: mmdetection-style Python configs with `_base_`, pins and `--cfg-options` (no mmengine).

See `loader.py` for the semantics. Importing this package never imports torch.
"""
from .config import Config
from .dump import config_to_data, config_to_text, dump_config
from .loader import load_config, load_config_from_text, merge_dicts
from .options import parse_cfg_options

__all__ = ["Config", "config_to_data", "config_to_text", "dump_config", "load_config", "load_config_from_text", "merge_dicts",
           "parse_cfg_options"]
