"""Speed options (engine/speed.py, the image cache, foreach EMA, the AdamW kernel): each one changes how fast a
step runs, never which samples, assignments or averages come out; bad option values are clear errors."""
import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sscma_rtmdet.config import load_config
from sscma_rtmdet.data.coco import CocoDetection
from sscma_rtmdet.synth.demo import make_demo_dataset
from sscma_rtmdet.data.loader import TrainDataset, build_dataloader
from sscma_rtmdet.engine.ema import ExpMomentumEMA
from sscma_rtmdet.engine.optim import build_optimizer
from sscma_rtmdet.engine import speed
from sscma_rtmdet.engine.speed import SpeedSettings
from sscma_rtmdet.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
NANO = REPO / "configs" / "rtmdet_nano_8xb32_300e_coco_relu.py"


def test_defaults_and_bad_values_name_the_option():
    s = SpeedSettings.from_config(load_config(NANO, ["num_classes=3"]), "cpu")
    assert s.channels_last and not s.compile_model and s.optimizer_impl == "fused" and not s.pin_memory
    assert SpeedSettings.from_config({"pin_memory": "auto"}, "cuda").pin_memory
    for key, value in (("train_threads", 0), ("optimizer_impl", "adam"), ("image_cache_mb", -1),
                       ("channels_last", "yes"), ("pin_memory", "always")):
        with pytest.raises(ConfigError, match=key):
            SpeedSettings.from_config({key: value}, "cpu")


@pytest.mark.parametrize("native", [True, False])
def test_precision_auto_follows_the_device_and_no_amp_wins(monkeypatch, native):
    monkeypatch.setattr(speed, "cpu_has_bf16", lambda: native)
    cpu = SpeedSettings.from_config({}, "cpu")
    assert cpu.precision == ("bfloat16" if native else "float32") and not cpu.grad_scaling
    assert ("AMX" in cpu.precision_reason) == native and cpu.precision_reason in cpu.describe()
    gpu = SpeedSettings.from_config({}, "cuda:0")
    assert gpu.precision == "float16" and gpu.grad_scaling and gpu.device_type == "cuda"
    for device in ("cpu", "cuda"):
        assert SpeedSettings.from_config({}, device, amp=False).precision == "float32"
    explicit = SpeedSettings.from_config({"precision": "bfloat16"}, "cpu")
    assert explicit.precision == "bfloat16" and ("emulated" in explicit.precision_reason) != native
    assert SpeedSettings.from_config({"precision": "float32"}, "cpu").precision == "float32"
    for bad in ("float16", "fp8"):
        with pytest.raises(ConfigError, match="precision"):
            SpeedSettings.from_config({"precision": bad}, "cpu")


def test_autocast_runs_the_forward_in_the_chosen_dtype():
    conv = nn.Conv2d(3, 4, 3)
    x = torch.randn(1, 3, 8, 8)
    for precision, dtype in (("bfloat16", torch.bfloat16), ("float32", torch.float32)):
        with SpeedSettings(precision=precision).autocast():
            assert conv(x).dtype == dtype


def _tiny_model():  # ConvModule-like: no conv bias before BN (its gradient would be pure rounding noise)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1))


def test_channels_last_model_keeps_a_contiguous_ema_with_the_same_average():
    model = SpeedSettings(channels_last=True).prepare_model(_tiny_model())
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model[0].weight.is_contiguous()
    ema = ExpMomentumEMA(model, momentum=0.1)
    assert all(t.is_contiguous() for t in ema.module.state_dict().values())
    reference = copy.deepcopy(ema.module)
    g = torch.Generator().manual_seed(0)
    for step in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=g))
        model(torch.randn(2, 3, 8, 8).contiguous(memory_format=torch.channels_last))  # BN buffers move
        m = ema.momentum_at(ema.steps)
        ema.update(model)
        src = {**dict(model.named_parameters()), **dict(model.named_buffers())}
        with torch.no_grad():  # the per-tensor update the foreach one replaced
            for name, avg in {**dict(reference.named_parameters()), **dict(reference.named_buffers())}.items():
                if step == 0 or not avg.dtype.is_floating_point:
                    avg.copy_(src[name])
                else:
                    avg.mul_(1 - m).add_(src[name], alpha=m)
        for k, v in reference.state_dict().items():
            assert torch.equal(ema.module.state_dict()[k], v), k


@pytest.mark.parametrize("impl", ["fused", "foreach", "for-loop"])
def test_optimizer_kernels_train_alike_and_resume_exactly(impl):
    cfg = {"weight_decay": 0.05, "optimizer": {"type": "AdamW"}}
    kernel = SpeedSettings(optimizer_impl=impl).optimizer_kwargs()
    torch.manual_seed(0)
    base = _tiny_model()
    x = torch.randn(4, 3, 8, 8)

    def steps(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    ref = copy.deepcopy(base)
    ref_opt = build_optimizer(ref, cfg, 1e-2)  # torch's own default kernel
    steps(ref, ref_opt, 4)
    full, cut = copy.deepcopy(base), copy.deepcopy(base)
    full_opt, cut_opt = build_optimizer(full, cfg, 1e-2, **kernel), build_optimizer(cut, cfg, 1e-2, **kernel)
    steps(full, full_opt, 4)
    steps(cut, cut_opt, 2)
    resumed = copy.deepcopy(cut)
    resumed_opt = build_optimizer(resumed, cfg, 1e-2, **kernel)
    resumed_opt.load_state_dict(copy.deepcopy(cut_opt.state_dict()))
    steps(resumed, resumed_opt, 2)
    for a, b, r in zip(full.parameters(), resumed.parameters(), ref.parameters()):
        assert torch.equal(a, b)  # bit-exact resume with the same kernel
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-6)  # the kernels differ by rounding only


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo_dataset(root, seed=0, num_train=6, num_valid=1, num_test=1)
    return CocoDetection(str(root), "train/_annotations.coco.json", "train/", num_classes=3)


def _pipeline():
    return [dict(type="CachedMosaic", img_scale=(64, 64), max_cached_images=4),
            dict(type="RandomResize", scale=(128, 128), ratio_range=(0.5, 2.0)),
            dict(type="RandomCrop", crop_size=(64, 64)), dict(type="YOLOXHSVRandomAug"),
            dict(type="RandomFlip", prob=0.5), dict(type="Pad", size=(64, 64))]


def _samples(ds, epochs=2):
    out = []
    for e in range(epochs):
        ds.set_epoch(e)
        out += [ds[i] for i in range(len(ds))]
    return out


def test_image_cache_gives_the_same_samples_and_stays_unchanged(coco):
    plain = _samples(TrainDataset(coco, _pipeline(), seed=3, stretch_to=(64, 64)))
    ds = TrainDataset(coco, _pipeline(), seed=3, stretch_to=(64, 64), cache_mb=64)
    cached = _samples(ds)
    assert len(ds.cache.items) == len(coco)
    held = {i: s["img"].copy() for i, s in ds.cache.items.items()}
    for a, b in zip(plain, cached):
        assert np.array_equal(a["img"], b["img"]) and np.array_equal(a["boxes"], b["boxes"])
        assert np.array_equal(a["labels"], b["labels"])
    hit = ds.source(0)
    hit["img"][:] = 0
    hit["boxes"][:] = -1
    assert all(np.array_equal(held[i], s["img"]) for i, s in ds.cache.items.items())  # no sample reaches in
    assert ds.cache.items[0]["boxes"].min() >= 0


def test_image_cache_respects_its_limit_and_fills_before_workers(coco):
    one = coco.load_image(0).nbytes
    ds = TrainDataset(coco, _pipeline(), seed=3, cache_mb=2.5 * one / 2**20)
    build_dataloader(ds, 2, num_workers=1)  # fills in this process, before the worker forks
    assert len(ds.cache.items) == 2 and ds.cache.full and ds.cache.filled
    assert ds.cache.bytes <= ds.cache.limit
    loader = build_dataloader(TrainDataset(coco, _pipeline(), seed=3, cache_mb=64), 3, num_workers=1)
    plain = build_dataloader(TrainDataset(coco, _pipeline(), seed=3), 3, num_workers=0)
    for a, b in zip(loader, plain):
        assert torch.equal(a["inputs"], b["inputs"])
        assert all(torch.equal(x, y) for x, y in zip(a["gt_boxes"], b["gt_boxes"]))


def test_train_speed_refuses_cuda_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_speed.py"), "--device", "cuda"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no usable CUDA GPU" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_gpu_check_script_runs_its_whole_path_on_cpu(tmp_path):
    """benchmarks/gpu_check.sh --smoke: the GPU machine's script (both cases, AMP off/on) at toy sizes on CPU;
    it prints one table per case with a ratio per variant."""
    env = dict(os.environ, DEVICE="cpu", PYTHON=sys.executable)
    res = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--smoke", "--data",
                          str(tmp_path / "photo")], capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert res.stdout.count("ratio (median, range)") == 2, res.stdout
    for variant in ("AMP off", "defaults (AMP)"):
        assert any(line.startswith(variant) and line.rstrip().endswith(")") for line in res.stdout.splitlines())
