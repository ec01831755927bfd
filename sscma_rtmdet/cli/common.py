"""Shared CLI plumbing: clean errors, --cfg-options parsing."""
from __future__ import annotations

import functools
import sys

import click

from ..errors import UserError


def friendly_errors(fn):
    """Turn UserError into `error: ...` on stderr and exit code 2 (no traceback)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
    return wrapper


cfg_options_option = click.option(
    "--cfg-options", "cfg_options", multiple=True, metavar="KEY=VALUE",
    help="Override config values, e.g. num_classes=2 imgsz='(192,192)' model.head.share_conv=False. "
         "Top-level names propagate into everything derived from them. Give several after one flag.")


MULTI_VALUE = ("--cfg-options", "--format")


def run_cli(command) -> None:
    """Entry for tools/*.py: lets `--cfg-options a=1 b=2` (and `--format a b`) take several values."""
    command(args=expand_cfg_options(sys.argv[1:]), prog_name=sys.argv[0])


def expand_cfg_options(argv: list[str]) -> list[str]:
    """Rewrite `--cfg-options a=1 b=2 --x` into `--cfg-options a=1 --cfg-options b=2 --x`.

    Values following a multi-value flag up to the next `--`-prefixed token belong to it.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in MULTI_VALUE:
            i += 1
            while i < len(argv) and not argv[i].startswith("--"):
                out += [tok, argv[i]]
                i += 1
            continue
        out.append(tok)
        i += 1
    return out
