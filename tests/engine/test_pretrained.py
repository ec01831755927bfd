import os

import pytest
import torch

from sscma_rtmdet.engine.pretrained import resolve_weights, slim_state_dict
from sscma_rtmdet.utils.paths import CONFIGS_DIR, PRETRAINED_DIR
from sscma_rtmdet.errors import CheckpointError


def test_relative_load_from_is_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = resolve_weights("pretrained/rtmdet_nano_relu_glyphs.pth")
    assert found == PRETRAINED_DIR / "rtmdet_nano_relu_glyphs.pth"  # packaged, found from any folder
    (tmp_path / "mine.pth").write_bytes(b"x")
    assert resolve_weights("mine.pth").resolve() == tmp_path / "mine.pth"  # the user's own file wins
    with pytest.raises(CheckpointError, match=r"load_from='nope/x.pth': no such file .*load_from=None"):
        resolve_weights("nope/x.pth")
    assert os.getcwd() == str(tmp_path)


def test_slim_state_dict_halves_floats():
    sd = {"backbone.stem.0.conv.weight": torch.randn(4, 3, 3, 3), "head.cls_preds.0.weight": torch.randn(36, 8),
          "head.reg_preds.0.bias": torch.randn(4), "backbone.stem.0.bn.num_batches_tracked": torch.tensor(7)}
    out = slim_state_dict(sd)
    assert set(out) == set(sd)
    assert out["backbone.stem.0.conv.weight"].dtype == torch.float16
    assert out["backbone.stem.0.bn.num_batches_tracked"].dtype == torch.int64
    torch.testing.assert_close(out["head.reg_preds.0.bias"].float(), sd["head.reg_preds.0.bias"], atol=1e-2, rtol=1e-3)


# ---- the shipped weights ---------------------------------------------------------------------------
from _train_utils import small_dataset, tutorial_options  # noqa: E402

from sscma_rtmdet.config import load_config  # noqa: E402
from sscma_rtmdet.runtime.checkpoint import load_checkpoint_file  # noqa: E402
from sscma_rtmdet.engine.trainer import Trainer, TrainOptions  # noqa: E402

NANOS = [CONFIGS_DIR / "rtmdet_nano_8xb32_300e_coco.py", CONFIGS_DIR / "rtmdet_nano_8xb32_300e_coco_relu.py",
         CONFIGS_DIR / "rtmdet_mnv4_8xb32_300e_coco.py", CONFIGS_DIR / "rtmdet_nano_8xb32_300e_coco_relu_lean.py"]


@pytest.mark.parametrize("config", NANOS, ids=lambda p: p.stem)
def test_nano_configs_start_from_their_shipped_weights_and_none_restores_random_init(config, tmp_path):
    data = small_dataset(tmp_path / "data", num_train=4, num_valid=2)
    cfg = load_config(config, tutorial_options(data))
    shipped = load_checkpoint_file(resolve_weights(cfg.load_from))
    assert shipped["meta"]["pretrain"]["dataset"] == "sscma_rtmdet/synth/broad.py"  # made by tools/pretrain.py
    assert resolve_weights(cfg.load_from).stat().st_size < 6 * 2**20
    trainer = Trainer(cfg, TrainOptions(work_dir=tmp_path / "a", progress=False))
    model = trainer.ema.module.state_dict()
    expected = _shipped_for(cfg, shipped)  # re-expressed for the config's mean (the first BN's running mean)
    for key, value in shipped["state_dict"].items():
        if not key.startswith("head.cls_preds."):  # 72 broad-set classes vs 3 here: skipped
            torch.testing.assert_close(model[key], expected[key].to(model[key].dtype), msg=key)
    changed = [k for k, v in shipped["state_dict"].items() if not k.startswith("head.cls_preds.")
               and not torch.equal(expected[k].to(v.dtype), v)]
    trained_mean = shipped["meta"]["deployment"]["preprocess"]["mean"]
    moved = int(list(trained_mean) != list(cfg.preprocess["mean"]))  # trained with another mean: one BN moves
    assert changed == [k for k in changed if k.endswith("bn.running_mean")] and len(changed) == moved, changed
    scratch = Trainer(load_config(config, tutorial_options(data) + ["load_from=None"]),
                      TrainOptions(work_dir=tmp_path / "b", progress=False)).ema.module.state_dict()
    key = next(k for k, v in shipped["state_dict"].items() if k.startswith("backbone.") and v.ndim == 4)
    assert not torch.allclose(scratch[key], shipped["state_dict"][key].float())


def _shipped_for(cfg, shipped: dict) -> dict:
    """The shipped weights in a model of `cfg`, its first convolution re-expressed from the preprocessing they
    were trained with to the config's (runtime.wrapper.adapt_input_normalization), as load_from does."""
    from sscma_rtmdet.data.build import preprocess_of
    from sscma_rtmdet.data.preprocess import Preprocess
    from sscma_rtmdet.models import build_model
    from sscma_rtmdet.runtime.wrapper import adapt_input_normalization

    model = build_model(cfg.model)
    own = model.state_dict()
    model.load_state_dict({k: v.float() for k, v in shipped["state_dict"].items() if own[k].shape == v.shape},
                          strict=False)
    adapt_input_normalization(model, Preprocess.from_config(shipped["meta"]["deployment"]["preprocess"]),
                              preprocess_of(cfg))
    return model.state_dict()


def test_resume_with_nothing_to_resume_starts_from_load_from(tmp_path):
    """tools/demo.py and `train.py --resume` on a new work dir: a fresh run, so it loads load_from."""
    data = small_dataset(tmp_path / "data", num_train=4, num_valid=2)
    cfg = load_config(NANOS[1], tutorial_options(data))
    shipped = load_checkpoint_file(resolve_weights(cfg.load_from))["state_dict"]
    trainer = Trainer(cfg, TrainOptions(work_dir=tmp_path / "new", resume="auto", progress=False))
    key = "backbone.stem.0.conv.weight"
    torch.testing.assert_close(trainer.ema.module.state_dict()[key], shipped[key].float())


def test_pretrain_command_writes_weights_with_its_recipe(tmp_path):
    """tools/pretrain.py on a tiny glyph set: weights for load_from, the recipe in meta, --threads reaching the
    trainer as train_threads; --threads 0 is a usage error naming the option."""
    from _shared import NANO, run_tool

    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.runtime.checkpoint import load_checkpoint_file

    out, work = tmp_path / "w.pth", tmp_path / "wd"
    res = run_tool("pretrain", [NANO, "--out", out, "--data", tmp_path / "glyphs", "--num-train", 8,
                                "--num-valid", 2, "--workers", 1, "--epochs", 1, "--imgsz", 64, 64,
                                "--batch-size", 4, "--work-dir", work, "--threads", 1, "--no-progress",
                                "--cfg-options", "num_workers=0"])
    assert res.exit_code == 0, res.output[-3000:]
    meta = load_checkpoint_file(out)["meta"]
    assert meta["pretrain"]["command"].startswith("python tools/pretrain.py")  # the recipe (argv of the process)
    assert load_config(work / NANO.name).train_threads == 1
    bad = run_tool("pretrain", [NANO, "--out", out, "--threads", 0])
    assert bad.exit_code == 2 and "--threads" in bad.output


def test_init_from_starts_a_new_architecture_with_every_matching_tensor(tmp_path):
    """--init-from: the lean nano takes the ReLU nano's tensors of equal name and shape (stem, stages 1-3, ...),
    the rest keeps its init; with load_from also typed it is an error naming both."""
    from _shared import run_tool

    from sscma_rtmdet.runtime.checkpoint import load_checkpoint_file

    lean, source = CONFIGS_DIR / "rtmdet_nano_8xb32_300e_coco_relu_lean.py", "pretrained/rtmdet_nano_relu_broad.pth"
    out, work = tmp_path / "w.pth", tmp_path / "wd"
    res = run_tool("pretrain", [lean, "--out", out, "--data", tmp_path / "glyphs", "--num-train", 8, "--num-valid", 2,
                                "--workers", 1, "--epochs", 1, "--imgsz", 64, 64, "--batch-size", 4, "--work-dir",
                                work, "--threads", 1, "--no-progress", "--init-from", source,
                                "--cfg-options", "num_workers=0"])
    assert res.exit_code == 0, res.output[-3000:]
    assert "== start: " in res.output and f"taken from {source}; the rest starts at init" in res.output
    start = load_checkpoint_file(work / "init_from.pth")["state_dict"]
    given = load_checkpoint_file(resolve_weights(source))["state_dict"]
    key = "backbone.stages.2.down.conv.weight"  # stage 3: the same in both
    torch.testing.assert_close(start[key], given[key].float())
    assert start["backbone.stages.3.down.0.conv.weight"].shape != given["backbone.stages.3.down.conv.weight"].shape
    assert out.is_file()
    bad = run_tool("pretrain", [lean, "--out", out, "--init-from", source, "--cfg-options", "load_from=x.pth"])
    assert bad.exit_code == 2 and "--init-from and --cfg-options load_from" in bad.output
