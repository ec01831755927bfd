"""Shared CLI plumbing: one error style, the options every tool spells the same way, [CONFIG] MODEL
arguments."""
from __future__ import annotations

import functools
import os
import sys

import click

from ..errors import UserError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def friendly_errors(fn):
    """`error: ...` on stderr and exit code 2 (no traceback) for user mistakes and environment faults."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            _fail(str(e))
        except OSError as e:  # disk full, read-only folder, permission: the file and the reason
            where = f" {e.filename}" if getattr(e, "filename", None) else ""
            _fail(f"{e.strerror or type(e).__name__}{':' if where else ''}{where} ({type(e).__name__}); "
                  "free space or choose a writable folder")
        except KeyboardInterrupt:
            click.echo("interrupted: files already written are complete (atomic writes); a training run "
                       "continues with --resume", err=True)
            sys.exit(130)
    return wrapper


def _fail(message: str) -> None:
    from ..utils.text import printable

    # names from files (classes, file names) may hold terminal escapes: only the message's own lines stay
    click.echo(f"error: {printable(message, keep_newlines=True)}", err=True)
    sys.exit(2)


cfg_options_option = click.option(
    "--cfg-options", "cfg_options", multiple=True, metavar="KEY=VALUE",
    help="Override config values, e.g. imgsz='(192,192)' model.head.share_conv=False. Top-level names "
         "propagate into everything derived from them. Give several after one flag.")
data_option = click.option(
    "--data", type=click.Path(exists=True), default=None, metavar="ROOT",
    help="Dataset: a Roboflow/COCO export folder (train/, valid/, test/ with _annotations.coco.json), a YOLO "
         "dataset (data.yaml) or a Pascal VOC folder. Sets data_root and the split paths.")
device_option = click.option(
    "--device", default="auto", show_default=True,
    help="'auto' (the GPU if there is one), 'cpu', 'cuda', 'cuda:N' or a GPU index N.")


def threads_opt(default: int | None = 2, help: str = "CPU threads (torch, ONNX Runtime, LiteRT)."):
    """--threads, declared once: evaluation and export default to 2; training passes default=None (all cores)."""
    return click.option("--threads", type=click.IntRange(min=1), default=default, show_default=default is not None,
                        help=help)


TRAIN_THREADS_HELP = ("torch CPU threads while training (sets train_threads) [default: all cores]; 1 on a CPU shared "
                      "with other jobs, where threads waiting for each other burn the cores.")
threads_option = threads_opt()
train_threads_option = threads_opt(None, TRAIN_THREADS_HELP)


def seed_option(help: str = "Seed for data order, augmentation and init (the same seed gives the same run)."):
    return click.option("--seed", type=int, default=0, show_default=True, help=help)


def imgsz_option(default=None, help: str = "Input size H W (multiples of 32).", square: bool = False):
    """--imgsz H W (or, with `square`, one side S for an S x S input, as train takes it)."""
    return click.option("--imgsz", nargs=1 if square else 2, type=click.IntRange(min=32), default=default,
                        show_default=default is not None, metavar="S" if square else "H W", help=help)


def work_dir_option(default=None, help: str = "Run folder: checkpoints, logs, the resolved config."):
    return click.option("--work-dir", type=click.Path(file_okay=False), default=default,
                        show_default=default is not None, help=help)
progress_option = click.option("--no-progress", is_flag=True, help="No progress bars (log lines only).")
arch_mismatch_option = click.option(
    "--allow-arch-mismatch", is_flag=True,
    help="Use a checkpoint trained with another architecture (activation, widths, head options) than the "
         "config's; the default refuses it.")


def _show_native(ctx, param, value):
    if value:  # utils.native.quiet_native reads it: the native libraries' start-up lines are shown
        os.environ["SSCMA_VERBOSE"] = "1"
    return value


verbose_option = click.option("--verbose", is_flag=True, callback=_show_native, expose_value=False,
                              help="Show the native libraries' start-up output (TensorFlow, LiteRT), hidden "
                                   "by default (same as SSCMA_VERBOSE=1).")

MULTI_VALUE = ("--cfg-options", "--format")


def run_cli(command) -> None:
    """Entry for tools/*.py and `python -m sscma_rtmdet.cli.X`: lets `--cfg-options a=1 b=2` (and
    `--format a b`) take several values; usage errors in the one `error: ...` style."""
    tool_main(command, expand_cfg_options(sys.argv[1:]), sys.argv[0])


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """warnings.showwarning of the CLIs: one `warning: ...` line, without Python's file:line and source line
    (our warnings name the file or option themselves); another library's category is kept after it."""
    from ..utils.text import printable

    text = str(message).strip()
    text = text[len("warning: "):] if text.startswith("warning: ") else text
    kind = "" if category is UserWarning else f" ({category.__name__})"
    try:
        (file or sys.stderr).write(f"warning: {printable(text, keep_newlines=True)}{kind}\n")
    except (OSError, ValueError):  # a closed or broken stderr: a warning is not worth a crash
        pass


def tool_main(command, args: list[str], prog_name: str) -> None:
    """Run a click command; click's own usage errors (unknown option, bad value) print `error: ...` like
    ours, with exit code 2, instead of click's `Error:` block. Warnings print as `warning: ...` lines."""
    import warnings

    warnings.showwarning = show_warning
    try:
        rv = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        hint = f" (see {prog_name} --help)" if isinstance(e, click.UsageError) else ""
        click.echo(f"error: {e.format_message()}{hint}", err=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)


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


def config_and_model(args: tuple[str, ...], what: str = "MODEL") -> tuple[str | None, str]:
    """`[CONFIG] MODEL` positional arguments -> (config or None, model)."""
    if len(args) == 1:
        return None, args[0]
    if len(args) == 2 and args[0].endswith(".py"):
        return args[0], args[1]
    raise UserError(f"expected [CONFIG.py] {what}, got {' '.join(args) or 'nothing'}")
