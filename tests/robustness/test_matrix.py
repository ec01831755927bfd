"""Issues 12, 18 and 40's bad inputs through the real tools: each case in _cases.CASES and _cases40.CASES_40
must stop with its exit code and message (or, for exit 0, succeed and say what it did). Add a case with one
line in _cases40.py."""
from __future__ import annotations

import re

import pytest

from _cases import CASES as _CASES
from _cases40 import CASES_40
from _workspace import run_tool

NEEDS_EXPORTS = ("tflite-truncated", "onnx-truncated", "onnx-sidecar", "tflite-sidecar", "onnx-external", "sidecar-",
                 "onnx-custom", "tflm-", "vela-")


CASES = _CASES + CASES_40


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, ws, request, monkeypatch):
    if case.id.startswith(NEEDS_EXPORTS):
        ws.models = request.getfixturevalue("tiny_exports")
    if case.tool == "train":  # a run's curves and evaluation pictures say nothing about bad input: skip them
        from sscma_rtmdet.engine.run_report import RunReport
        monkeypatch.setattr(RunReport, "finish", lambda self, trainer, best: None)
        monkeypatch.setattr(RunReport, "_curves", lambda self: None)
    res = run_tool(case.tool, case.args(ws), ws.tmp, subprocess_=case.subprocess)
    assert res.code == case.code, f"exit {res.code}, expected {case.code}:\n{res.output[-4000:]}"
    assert re.search(case.match, res.output), f"no match for {case.match!r} in:\n{res.output[-4000:]}"
    assert "Traceback" not in res.output, res.output[-4000:]
    if case.check is not None:
        case.check(ws, res)
