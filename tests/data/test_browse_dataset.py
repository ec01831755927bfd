import cv2
from click.testing import CliRunner

from _datafixtures import random_set
from sscma_rtmdet.cli.browse_dataset import main
from sscma_rtmdet.cli.common import expand_cfg_options


def _config(tmp_path, repo_root):
    root, ann, prefix = random_set(tmp_path / "data", n=8)
    cfg = tmp_path / "browse_cfg.py"
    cfg.write_text(f"_base_ = {str(repo_root / 'configs/_base_/rtmdet_base.py')!r}\n"
                   f"num_classes = 2\nimgsz = (64, 96)\nmosaic_cache = 6\nmixup_cache = 4\n"
                   f"data_root = {root + '/'!r}\ntrain_ann_file = {ann!r}\ntrain_img_prefix = {prefix!r}\n")
    return str(cfg)


def test_browse_writes_pngs(tmp_path, repo_root):
    cfg = _config(tmp_path, repo_root)
    for stage in ("1", "2"):
        out = tmp_path / f"out{stage}"
        res = CliRunner().invoke(main, [cfg, "--out-dir", str(out), "--num", "6", "--stage", stage])
        assert res.exit_code == 0, res.output
        pngs = sorted(out.glob("*.png"))
        assert len(pngs) == 6
        img = cv2.imread(str(pngs[-1]))
        assert img.shape == (64, 96, 3)


def test_browse_reports_user_errors(tmp_path, repo_root):
    cfg = _config(tmp_path, repo_root)
    args = expand_cfg_options([cfg, "--cfg-options", "num_classes=3", "--out-dir", str(tmp_path / "o")])
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "error: num_classes=3" in res.output and "Traceback" not in res.output
