"""Building blocks for the bad-input matrix: a copy of the tiny run's dataset to break, bad files, and a
runner for the tools (in-process through click, or in a subprocess where a crash must show as an exit code).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from _shared import REPO, demo_options

from sscma_rtmdet.cli.common import expand_cfg_options

TOOLS = ("train", "test", "export", "infer", "quantization")


@dataclass
class Result:
    code: int
    output: str  # stdout and stderr together


def run_tool(tool: str, args: list, cwd: Path, subprocess_: bool = False) -> Result:
    """Run tools/<tool>.py with `args`: exit code and output, never an exception."""
    args = [str(a) for a in args]
    if subprocess_:
        res = subprocess.run([sys.executable, str(REPO / "tools" / f"{tool}.py"), *args], cwd=cwd,
                             capture_output=True, text=True, timeout=600)
        return Result(res.returncode, res.stdout + res.stderr)
    import importlib
    import os

    from click.testing import CliRunner

    command = importlib.import_module(f"sscma_rtmdet.cli.{tool}").main
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings():  # printed like a real run (pytest would otherwise collect them)
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", ResourceWarning)
            warnings.showwarning = _print_warning
            res = CliRunner().invoke(command, expand_cfg_options(args), catch_exceptions=True)
    finally:
        os.chdir(old)
    out = res.output
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback
        out += "".join(traceback.format_exception(res.exception))
    return Result(res.exit_code, out)


def _print_warning(message, category, filename, lineno, file=None, line=None):
    from sscma_rtmdet.cli.common import show_warning

    show_warning(message, category, filename, lineno)  # the CLIs' one `warning: ...` line


class Workspace:
    """One test's folder: `run` is the session's tiny trained run (tests/conftest.py `tiny_run`),
    `models` the session's exported files of it ({'onnx': path, 'float32': path})."""

    def __init__(self, tmp: Path, run: dict, models: dict | None = None):
        self.tmp, self.run, self.models = tmp, run, models or {}
        self._n = 0

    @property
    def config(self) -> Path:
        return self.run["config"]

    @property
    def ckpt(self) -> Path:
        return self.run["ckpt"]

    def path(self, name: str) -> Path:
        return self.tmp / name

    def write(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def dataset(self, train=None, valid=None) -> Path:
        """A copy of the tiny run's dataset with `train(json_dict, root)` / `valid(...)` applied to the JSONs."""
        self._n += 1
        root = self.tmp / f"data{self._n}"
        shutil.copytree(self.run["data"], root)
        for split, edit in (("train", train), ("valid", valid)):
            if edit is not None:
                path = root / split / "_annotations.coco.json"
                data = json.loads(path.read_text())
                edit(data, root)
                path.write_text(json.dumps(data))
        return root

    def options(self, data: Path | None = None, **extra) -> list[str]:
        """--cfg-options values for the tiny run (64x64, 2 epochs) on `data` (default: its own dataset)."""
        return demo_options(data or self.run["data"], **extra)

    def work_dir_copy(self, name: str = "wd") -> Path:
        """A copy of the tiny run's work dir (epoch_2.pth, last.pth, best_*.pth) to resume from."""
        dst = self.tmp / name
        shutil.copytree(self.run["work_dir"], dst, ignore=shutil.ignore_patterns("tf_logs", "*.log"))
        return dst

    def truncated(self, src: Path, name: str, keep: float = 0.5) -> Path:
        data = Path(src).read_bytes()
        path = self.write(name, data[:int(len(data) * keep)])
        sidecar = Path(str(src) + ".json")
        if sidecar.is_file():
            shutil.copy(sidecar, str(path) + ".json")
        return path
