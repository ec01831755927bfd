"""`tools/model_info.py CONFIG [--cfg-options ...] [--imgsz H W]`: parameters, FLOPs, output shapes."""
from __future__ import annotations

import click

from ..errors import ConfigError
from .common import cfg_options_option, friendly_errors


def format_summary(rows: list[dict], imgsz: tuple[int, int], params: int, flops: int) -> str:
    """Rows from models.info.summarize -> text ending with `params: <int>` and `flops: <float>G`."""
    lines = [f"input: 1x3x{imgsz[0]}x{imgsz[1]} (H x W)"]
    for row in rows:
        lines.append(f"{row['name']:<9} {row['type']:<22} params {row['params']:>12,}  "
                     f"flops {row['flops'] / 1e9:8.3f}G")
        for shape in row["shapes"]:
            lines.append(f"    -> {'x'.join(str(s) for s in shape)}")
    lines.append(f"params: {params}")
    lines.append(f"flops: {flops / 1e9:.3f}G")
    return "\n".join(lines)


def _imgsz(cfg, imgsz) -> tuple[int, int]:
    if imgsz:
        hw, where = tuple(imgsz), "--imgsz"
    else:
        hw, where = tuple(cfg.get("imgsz", (640, 640))), "config imgsz"
    if len(hw) != 2 or any(int(v) <= 0 or int(v) % 32 for v in hw):
        raise ConfigError(f"{where}={hw} must be two positive multiples of 32 (H W)")
    return int(hw[0]), int(hw[1])


@click.command(context_settings=dict(help_option_names=["-h", "--help"]))
@click.argument("config", type=click.Path(dir_okay=False))
@cfg_options_option
@click.option("--imgsz", nargs=2, type=int, default=None, metavar="H W",
              help="Input size (multiples of 32); default: the config's imgsz.")
@friendly_errors
def main(config, cfg_options, imgsz):
    """Print a per-part summary (backbone / neck / head params, FLOPs, output shapes per level) of the
    model built from CONFIG. FLOPs follow mmdet's get_flops (1 multiply-add = 1 FLOP)."""
    from ..config import load_config
    from ..models import build_model, count_flops, count_params, summarize

    cfg = load_config(config, list(cfg_options))
    hw = _imgsz(cfg, imgsz)
    model = build_model(cfg["model"])
    rows = summarize(model, hw)
    click.echo(f"config: {config}")
    click.echo(format_summary(rows, hw, count_params(model), count_flops(model, hw)))
