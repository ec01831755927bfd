import pytest
import torch

from sscma_rtmdet.runtime import checkpoint as ck
from sscma_rtmdet.engine.optim import param_groups
from sscma_rtmdet.errors import CheckpointError


def _ckpt(epoch=1):
    dep = {"classes": ["x", "y"], "imgsz": [64, 96], "preprocess": {"color": "bgr"}}
    return ck.make_checkpoint(state_dict={"w": torch.ones(2)}, config={"a": 1, "b": (1, 2)}, deployment=dep,
                              epoch=epoch, iteration=10)


def test_save_load_describes_itself(tmp_path):
    path = ck.save_checkpoint(_ckpt(), tmp_path / "epoch_1.pth")
    got = ck.load_checkpoint_file(path)
    assert ck.is_ours(got)
    assert ck.checkpoint_classes(got) == ["x", "y"] and got["meta"]["deployment"]["imgsz"] == [64, 96]
    assert got["config"] == {"a": 1, "b": (1, 2)} and got["version"]  # plain data, not text
    assert ck.stored_config(got, path) == {"a": 1, "b": (1, 2)}
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


def test_unreadable_checkpoint_is_clear_error(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pth"):
        ck.load_checkpoint_file(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.load_checkpoint_file(tmp_path / "missing.pth")


def test_find_latest_and_prune(tmp_path):
    assert ck.find_latest(tmp_path) is None
    for e in (1, 2, 10):
        ck.save_checkpoint(_ckpt(e), tmp_path / f"epoch_{e}.pth")
    assert ck.find_latest(tmp_path).name == "epoch_10.pth"
    ck.prune_epoch_checkpoints(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pth")) == ["epoch_10.pth", "epoch_2.pth"]
    ck.save_checkpoint(_ckpt(11), tmp_path / "last.pth")
    assert ck.find_latest(tmp_path).name == "last.pth"


def test_no_decay_on_norm_and_bias():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=True), torch.nn.BatchNorm2d(4))
    decay, no_decay = param_groups(model, 0.05)
    assert [p.shape for p in decay["params"]] == [model[0].weight.shape]
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0.0
