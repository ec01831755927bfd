import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from _train_utils import small_dataset

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_training_keeps_ranks_identical(tmp_path):
    data = small_dataset(tmp_path / "demo")
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
           str(HERE / "_ddp_worker.py"), str(data), str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    a, b = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # rank 0 alone wrote the checkpoints; 8 images / (4 per step) -> 1 epoch of 1 step per rank at 2 each
    assert (tmp_path / "wd" / "epoch_1.pth").exists()
    start = torch.load(tmp_path / "wd" / "epoch_1.pth", weights_only=False)["resume"]["iter"]
    assert start == 2
