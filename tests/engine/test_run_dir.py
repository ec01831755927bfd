"""The run folder's rules: one training at a time, no silent reuse, early stopping by patience."""
import pytest

from sscma_rtmdet.engine.run_dir import WorkDirLock, check_reuse, early_stop, slim
from sscma_rtmdet.errors import UserError


def test_lock_refuses_a_second_run(tmp_path):
    first = WorkDirLock(tmp_path).acquire()
    with pytest.raises(UserError, match=r"in use by a running training \(pid \d+\)"):
        WorkDirLock(tmp_path).acquire()
    first.release()
    WorkDirLock(tmp_path).acquire().release()  # free again


def test_reuse_needs_resume_or_exist_ok(tmp_path):
    check_reuse(tmp_path / "new", "a.py", False, False)  # nothing there
    (tmp_path / "b.py").write_text("x = 1\n")
    (tmp_path / "last.pth").write_bytes(b"x")
    with pytest.raises(UserError, match=r"already holds a run \(its config: b.py\): last.pth.*--resume.*--exist-ok"):
        check_reuse(tmp_path, "a.py", False, False)
    check_reuse(tmp_path, "a.py", True, False)
    check_reuse(tmp_path, "a.py", False, True)


def test_early_stop_counts_validations_since_the_best():
    msgs = []
    val = [5, 10, 15, 20, 25]
    assert not early_stop(None, val, {"epoch": 5, "metric": 0.5}, 25, msgs.append)
    assert not early_stop(3, val, {"epoch": 15, "metric": 0.5}, 25, msgs.append)  # 2 validations since
    assert early_stop(2, val, {"epoch": 15, "metric": 0.5}, 25, msgs.append)
    assert "early stop at epoch 25" in msgs[-1] and "best 0.5000 at epoch 15" in msgs[-1]


def test_slim_drops_only_the_resume_state():
    ckpt = {"state_dict": 1, "meta": 2, "resume": {"optimizer": 3}}
    assert slim(ckpt) == {"state_dict": 1, "meta": 2, "resume": None} and ckpt["resume"]
