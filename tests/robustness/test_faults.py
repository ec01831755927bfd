"""Issue 18: environment faults give one `error:` line and lose nothing: the user's umask, a full disk or a
read-only folder (simulated in-process: the tests may run as root, which ignores permissions), Ctrl-C,
a failed image write, and an export that fails or is interrupted (no unverified file left behind)."""
from __future__ import annotations

import errno
import os
import re
import stat

import pytest

from _workspace import run_tool

from sscma_rtmdet.utils.fileio import atomic_save_torch, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_files_are_written_with_the_users_umask(umask, mode, tmp_path):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        atomic_save_torch({"x": 1}, tmp_path / "b.pth")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == mode and _mode(tmp_path / "b.pth") == mode


def test_a_tool_output_follows_the_umask(ws):
    old = os.umask(0o022)
    try:
        res = run_tool("test", [ws.config, ws.ckpt, "--cfg-options", *ws.options(), "--no-progress", "--threads",
                                "1", "--out", ws.path("dets.json")], ws.tmp)
    finally:
        os.umask(old)
    assert res.code == 0, res.output[-3000:]
    assert _mode(ws.path("dets.json")) == 0o644


def _train_args(ws):
    return [ws.config, "--cfg-options", *ws.options(max_epochs=1), "--work-dir", ws.path("wd"), "--no-progress"]


def test_disk_full_during_a_save_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    """torch.save on a full disk: an OSError naming the checkpoint (friendly_errors prints it as one line, see
    the read-only test), and neither the file nor its temp file is left."""
    import torch

    def full(obj, f, *a, **k):
        f.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError) as err:
        atomic_save_torch({"x": 1}, tmp_path / "best.pth")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "best.pth")
    assert list(tmp_path.iterdir()) == []


def _fills_after(limit: int):
    """A torch.save whose file takes `limit` bytes, then fails with ENOSPC: torch's zip writer then raises
    its own RuntimeError ("unexpected pos") on closing, with the OSError only as its context."""
    import torch

    real = torch.save

    class Full:
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, b):
            if self.n + len(memoryview(b).cast("B")) > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.n += len(memoryview(b).cast("B"))
            return self.f.write(b)

        def flush(self):
            self.f.flush()
    return lambda obj, f, *a, **k: real(obj, Full(f), *a, **k)


def test_disk_full_inside_torchs_zip_writer_is_the_os_error(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch, "save", _fills_after(500))
    with pytest.raises(OSError) as err:
        atomic_save_torch({"w": torch.zeros(10000)}, tmp_path / "epoch_1.pth")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "epoch_1.pth")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_at_trainings_first_checkpoint_is_one_line(ws, monkeypatch):
    import torch

    monkeypatch.setattr(torch, "save", _fills_after(500))
    res = run_tool("train", _train_args(ws), ws.tmp)
    assert res.code == 2 and "Traceback" not in res.output and "unexpected pos" not in res.output, res.output[-3000:]
    assert re.search(r"(?m)^error: No space left on device: \S+\.pth \(OSError\); free space", res.output), \
        res.output[-3000:]


def test_a_real_full_disk_raises_oserror_not_torchs_runtime_error(tmp_path):
    """Unbuffered writes make torch.save raise the OS's ENOSPC (/dev/full: every write fails)."""
    import torch

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb", buffering=0) as f, pytest.raises(OSError, match="No space left"):
        torch.save({"w": torch.zeros(1000)}, f)


def test_read_only_work_dir_is_one_error_line(ws, monkeypatch):
    """A read-only file system (EROFS) where the run writes its files."""
    from types import SimpleNamespace

    from sscma_rtmdet.utils import fileio

    def read_only(*a, dir=None, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))
    monkeypatch.setattr(fileio, "tempfile", SimpleNamespace(mkstemp=read_only))
    res = run_tool("train", _train_args(ws), ws.tmp)
    assert res.code == 2 and "Traceback" not in res.output, res.output[-3000:]
    assert "error: Read-only file system: " in res.output and "choose a writable folder" in res.output


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_show_dir_is_refused_before_evaluating(ws):
    ro = ws.path("ro")
    ro.mkdir()
    ro.chmod(0o555)
    res = run_tool("test", [ws.config, ws.ckpt, "--cfg-options", *ws.options(), "--no-progress", "--show-dir",
                            ro / "drawn"], ws.tmp)
    assert res.code == 2 and "cannot write there" in res.output and "Average Precision" not in res.output


def test_ctrl_c_is_one_line(ws, monkeypatch):
    from sscma_rtmdet.engine.trainer import Trainer

    monkeypatch.setattr(Trainer, "train", lambda self: (_ for _ in ()).throw(KeyboardInterrupt()))
    res = run_tool("train", _train_args(ws), ws.tmp)
    assert res.code == 130 and "Traceback" not in res.output, res.output[-3000:]
    said = [ln for ln in res.output.splitlines() if "interrupted" in ln]
    assert said == ["interrupted: files already written are complete (atomic writes); a training run continues "
                    "with --resume"], said


def test_a_failed_image_write_is_an_error(ws, monkeypatch):
    import cv2

    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)
    res = run_tool("infer", [ws.ckpt, next((ws.run["data"] / "valid").glob("*.jpg")), "--out-dir", ws.path("o"),
                             "--threads", "1"], ws.tmp)
    assert res.code == 2 and "error: could not write " in res.output and "(cv2.imwrite failed)" in res.output
    assert not list(ws.path("o").rglob("*.jpg"))


@pytest.mark.parametrize("fault", [KeyboardInterrupt, RuntimeError])
def test_a_failed_or_interrupted_export_leaves_no_file(fault, ws, monkeypatch):
    """The ONNX file is written, then the TFLite step fails or is interrupted: every file this export wrote
    goes; an older file of another name and an older export's summary stay."""
    from sscma_rtmdet.export import pipeline
    from sscma_rtmdet.export.pipeline import ExportRequest, export_checkpoint

    out = ws.path("x")
    out.mkdir()
    (out / "epoch_2_int8_vela_summary.txt").write_text("an older export's report")
    (out / "notes.txt").write_text("mine")

    def onnx(model, dep, path, *a, **k):
        path.write_bytes(b"onnx")
        (path.parent / (path.name + ".json")).write_text("{}")

    def tflite(onnx_path, stem, req, calib):
        (stem.parent / f"{stem.name}_float32.tflite").write_bytes(b"half")
        raise fault("stopped during the TFLite conversion")
    monkeypatch.setattr(pipeline, "export_onnx", onnx)
    monkeypatch.setattr(pipeline, "calibration_batch", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "_tflite", tflite)
    said = []
    with pytest.raises(fault):
        export_checkpoint(None, ExportRequest(checkpoint=ws.ckpt, out_dir=out, log=said.append))
    assert sorted(p.name for p in out.iterdir()) == ["epoch_2_int8_vela_summary.txt", "notes.txt"]
    assert said[-1].startswith("export stopped: removed the 3 file(s) it had written, unverified: ")
