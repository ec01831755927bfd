"""`tools/model_info.py CONFIG [--cfg-options ...] [--imgsz H W]`: parameters, FLOPs, output shapes."""
from __future__ import annotations

import click

from ..errors import ConfigError
from ..utils.text import printable
from .common import cfg_options_option, friendly_errors, imgsz_option


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
@click.argument("source", metavar="CONFIG_OR_MODEL", type=click.Path(dir_okay=False))
@cfg_options_option
@imgsz_option(help="Input size (multiples of 32); default: the config's or the model's imgsz.")
@friendly_errors
def main(source, cfg_options, imgsz):
    """Print a per-part summary (backbone / neck / head params, FLOPs, output shapes per level) of the
    model built from a CONFIG (.py) or a checkpoint (.pth), and for a model file (.pth/.onnx/.tflite) its
    deployment record (target, input, classes, decode). FLOPs follow mmdet's get_flops (1 MAC = 1 FLOP)."""
    from pathlib import Path

    from ..models import build_model, count_flops, count_params, summarize

    path = Path(source)
    if path.suffix.lower() in (".onnx", ".tflite"):
        return _file_info(path)
    if path.suffix.lower() in (".pth", ".pt"):
        from ..runtime.torch_model import load_model
        model, meta = load_model(path)
        click.echo(_deployment_lines(meta["deployment"]))
        hw = tuple(imgsz) if imgsz else tuple(meta["deployment"]["imgsz"])
    else:
        from ..config import load_config
        cfg = load_config(source, list(cfg_options))
        hw = _imgsz(cfg, imgsz)
        model = build_model(cfg["model"])
    click.echo(f"model: {printable(source)}")
    click.echo(format_summary(summarize(model, hw), hw, count_params(model), count_flops(model, hw)))


def _deployment_lines(dep: dict) -> str:
    pre = dep["preprocess"]
    return (f"target: {dep['target']}, input {dep['imgsz'][0]}x{dep['imgsz'][1]} {dep['input_color'].upper()} "
            f"({pre['resize']}, {pre['interpolation']}), layout {dep['layout']}\n"
            f"classes ({dep['num_classes']}): {', '.join(printable(c) for c in dep['classes'])}\n"
            f"decode: {printable(dep['test_cfg'])}")  # names from a file: no terminal escape, no forged line


def _file_info(path) -> None:
    from ..runtime.backends import load_backend

    backend = load_backend(path)
    meta = backend.meta
    click.echo(printable(f"{path.name}: {meta['format']} {meta['precision']}, input {meta['input']}"))
    click.echo(_deployment_lines(meta["deployment"]))
    for name in meta["output_names"]:
        click.echo(printable(f"  {name}: {meta['outputs'][name]}"))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
