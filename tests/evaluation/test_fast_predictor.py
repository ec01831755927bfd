"""The .pth evaluation path runs a BN-folded NHWC copy: the same outputs and AP as the model itself, which
stays untouched; benchmarks/eval_speed.py measures it (smoke run here)."""
from __future__ import annotations

import subprocess
import sys

import torch

from _shared import REPO
from sscma_rtmdet.config import load_config
from sscma_rtmdet.evaluation.evaluate import evaluate
from sscma_rtmdet.evaluation.runner import torch_predictor
from sscma_rtmdet.runtime.torch_model import load_model


def test_fast_predictor_matches_the_model_and_leaves_it_training(tiny_run):
    model, meta = load_model(tiny_run["ckpt"], "cpu")
    cfg = load_config(tiny_run["config"], tiny_run["options"])
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    batch = next(iter(evaluate(cfg, tiny_run["ckpt"], progress=False)["loader"]))["inputs"]
    from sscma_rtmdet.runtime.deployment import Deployment

    prep = Deployment.from_dict(meta["deployment"], "ckpt").preprocess
    out = torch_predictor(model, prep)(batch)
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    with torch.no_grad():
        ref_cls, ref_box = model.eval()(prep.normalize(batch))
    for got, ref in zip(out.scores + out.boxes, list(ref_cls) + list(ref_box)):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_eval_speed_benchmark_smoke(tiny_run):
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "eval_speed.py"), str(tiny_run["ckpt"]),
                          "--data", str(tiny_run["data"]), "--config", tiny_run["config"].name, "--num-classes", "3",
                          "--rounds", "1", "--baseline-repo", str(REPO)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    rows = [ln for ln in res.stdout.splitlines() if ln.startswith(("this:", "main:", REPO.name + ":"))]
    assert len(rows) == 2 and rows[0].split()[-2] == "1.00x", res.stdout
    aps = {ln.split()[-1] for ln in rows}
    assert len(aps) == 1, res.stdout  # the same weights score the same AP through both paths
