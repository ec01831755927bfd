"""One console command with every tool, help without torch, and one error style for usage mistakes."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args, tool=None):
    cmd = [sys.executable, str(REPO / "tools" / tool)] if tool else [sys.executable, "-m", "sscma_rtmdet"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300)


def test_console_lists_every_command_without_importing_torch():
    res = subprocess.run([sys.executable, "-c", "import sys; from sscma_rtmdet.cli.main import cli; "
                          "cli.main(['--help'], standalone_mode=False); print('torch' in sys.modules)"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip().endswith("False"), res.stdout + res.stderr
    for name in ("train", "test", "export", "infer", "quantize", "demo", "info", "dataset-stats",
                 "convert-dataset", "browse", "pretrain", "make-demo-dataset"):
        assert f"\n  {name}" in res.stdout, name


def test_usage_errors_are_one_error_line():
    for res in (_run("test", "--bogus"), _run("--bogus", tool="export.py"), _run("frobnicate")):
        assert res.returncode == 2 and res.stderr.startswith("error: ") and "Traceback" not in res.stderr, res.stderr
        assert "Usage:" not in res.stderr


def test_every_tool_alias_answers_help():
    for tool in sorted(p.name for p in (REPO / "tools").glob("*.py")):
        res = _run("--help", tool=tool)
        assert res.returncode == 0 and "Usage:" in res.stdout, (tool, res.stderr[-500:])


def test_python_m_cli_module_runs():
    res = subprocess.run([sys.executable, "-m", "sscma_rtmdet.cli.train", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "Usage:" in res.stdout, res.stderr


def test_verbose_shows_native_output_through_quiet_native(monkeypatch):
    """--verbose is not a no-op: it turns utils.native's hiding off for the command's run."""
    import click
    from click.testing import CliRunner

    from sscma_rtmdet.cli.common import verbose_option
    from sscma_rtmdet.utils import native

    @click.command()
    @verbose_option
    def cmd():
        click.echo(f"verbose={native.verbose()}")

    monkeypatch.setenv("SSCMA_VERBOSE", "0")  # restored after the test, whatever the command sets
    assert CliRunner().invoke(cmd, []).output.strip() == "verbose=False"
    assert CliRunner().invoke(cmd, ["--verbose"]).output.strip() == "verbose=True"
