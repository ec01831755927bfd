"""Issue 40: the CLIs print a warning as one `warning: ...` line, without Python's file:line and source line;
train's --epochs/--imgsz and a --cfg-options of the same name must agree."""
from __future__ import annotations

import io
import warnings

import pytest

from sscma_rtmdet.cli.common import show_warning
from sscma_rtmdet.config.options import parse_cfg_options
from sscma_rtmdet.workflows.train import refuse_conflicts
from sscma_rtmdet.errors import ConfigError


def _shown(message, category=UserWarning) -> str:
    out = io.StringIO()
    show_warning(warnings.WarningMessage(message, category, "/x/y.py", 12).message, category, "/x/y.py", 12, out)
    return out.getvalue()


def test_one_line_per_warning():
    assert _shown("a.json: 2 clipped annotation(s)") == "warning: a.json: 2 clipped annotation(s)\n"
    assert _shown("warning: already prefixed") == "warning: already prefixed\n"
    assert _shown("old API", DeprecationWarning) == "warning: old API (DeprecationWarning)\n"
    assert "\x1b" not in _shown("name \x1b[2J")


def test_shortcuts_agreeing_with_cfg_options_pass():
    _refuse_conflicts(["imgsz=(64, 64)", "max_epochs=3"], ["imgsz=64", "max_epochs=3"])
    _refuse_conflicts(["imgsz=(64, 64)"], ["imgsz=(64,64)", "batch_size=2"])


def _refuse_conflicts(shortcuts, options):
    refuse_conflicts(parse_cfg_options(shortcuts), parse_cfg_options(options))


@pytest.mark.parametrize("shortcut, option, said", [
    ("max_epochs=3", "max_epochs=2", "--epochs 3 and --cfg-options max_epochs=2 disagree"),
    ("imgsz=(96, 96)", "imgsz=[64, 64]", "--imgsz 96 and --cfg-options imgsz=[64, 64] disagree"),
    ("batch_size=8", "batch_size=4", "--batch 8 and --cfg-options batch_size=4 disagree")])
def test_shortcut_and_cfg_option_disagreeing_is_an_error(shortcut, option, said):
    with pytest.raises(ConfigError, match=said.replace("[", r"\[").replace("]", r"\]")):
        _refuse_conflicts([shortcut], [option])
