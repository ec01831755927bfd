"""Issue 12 item 1: a .pth never runs code, through any entry point.

Two attacks, each through Detector, tools/infer.py, test.py, export.py, quantization.py, and train.py's
load_from and --resume:
- `text`: a valid checkpoint whose `config` is Python text that writes a marker file when executed (older
  checkpoints stored the config as text and the loader exec'd it);
- `pickle`: a checkpoint whose pickle calls a function on load (refused by torch.load(weights_only=True)).
The marker file must never appear; every tool either refuses the file (`error: ...`, exit 2) or ignores
the text (tools given a CONFIG never read the stored config).
"""
from __future__ import annotations

import pathlib

import pytest
import torch

from _workspace import run_tool

from sscma_rtmdet import Detector
from sscma_rtmdet.errors import CheckpointError


class _Payload:
    """Pickles as a call of pathlib.Path(marker).write_text('pwned')."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.write_text, (pathlib.Path(self.marker), "pwned"))


def _malicious(ws, kind: str) -> tuple[pathlib.Path, pathlib.Path]:
    """(checkpoint path, marker path): the tiny run's last.pth with the attack built in."""
    marker = ws.path(f"PWNED_{kind}")
    ckpt = torch.load(ws.run["work_dir"] / "last.pth", weights_only=True)
    if kind == "text":
        ckpt["config"] = f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')\n" \
                         "num_classes = 3\n"
    else:
        ckpt["config"] = _Payload(marker)
    path = ws.path(f"{kind}/last.pth")
    path.parent.mkdir()
    torch.save(ckpt, path)
    return path, marker


def _entry_points(ws, ckpt):
    """(name, tool, args) for every tool that loads a checkpoint."""
    opts = ws.options(max_epochs=2)
    return [
        ("infer", "infer", [ckpt, ws.run["data"] / "valid", "--out-dir", ws.path("o")]),
        ("test", "test", [ws.config, ckpt, "--cfg-options", *opts, "--no-progress"]),
        ("export", "export", [ws.config, ckpt, "--format", "onnx", "--out-dir", ws.path("x"), "--no-verify",
                              "--cfg-options", *opts]),
        ("quantization", "quantization", [ws.config, ckpt, "--work-dir", ws.path("q"), "--no-progress",
                                          "--cfg-options", *ws.options(max_epochs=0)]),
        ("load_from", "train", [ws.config, "--cfg-options", *ws.options(max_epochs=1, load_from=ckpt),
                                "--work-dir", ws.path("lf"), "--no-progress"]),
        ("resume", "train", [ws.config, "--cfg-options", *opts, "--work-dir", ckpt.parent, "--resume",
                             "--no-progress"]),
    ]


@pytest.mark.parametrize("kind", ["text", "pickle"])
def test_malicious_checkpoint_runs_no_code(kind, ws):
    ckpt, marker = _malicious(ws, kind)
    with pytest.raises(CheckpointError, match="never executed" if kind == "text" else "cannot read checkpoint"):
        Detector(ckpt)
    assert not marker.exists()
    for name, tool, args in _entry_points(ws, ckpt):
        res = run_tool(tool, args, ws.tmp)
        assert not marker.exists(), f"{name} ran the checkpoint's code:\n{res.output[-3000:]}"
        assert "Traceback" not in res.output, (name, res.output[-3000:])
        if kind == "pickle":  # weights_only refuses the file everywhere
            assert res.code == 2 and "error:" in res.output, (name, res.code, res.output[-3000:])
        elif name == "infer":  # needs the stored config to build the model: refused, names the fix
            assert res.code == 2 and "--config CONFIG" in res.output, res.output[-3000:]
        elif name == "quantization":  # max_epochs=0 stops it after loading and calibrating (QAT is slow)
            assert res.code == 2 and "max_epochs=0 must be" in res.output, res.output[-3000:]
        else:  # the text is ignored: the CONFIG given builds the model
            assert res.code == 0, (name, res.output[-3000:])


def test_old_text_checkpoint_runs_with_a_config(ws):
    """The way out for an older checkpoint: give the config; the stored text is still never executed."""
    ckpt, marker = _malicious(ws, "text")
    det = Detector(ckpt, config=ws.config)
    assert det.classes == ["circle", "square", "triangle"] and not marker.exists()


def test_the_text_payload_is_live(ws):
    """Control: executing the stored text (what older versions did) does run it, so the tests above would
    see an attack that got through."""
    from sscma_rtmdet.config import load_config_from_text

    ckpt, marker = _malicious(ws, "text")
    load_config_from_text(torch.load(ckpt, weights_only=True)["config"], str(ws.path("x.py")))
    assert marker.read_text() == "pwned"
