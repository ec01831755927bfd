import os

import cv2
import numpy as np
import pytest

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.export.calibration import calibration_images, find_images, select_files

from _export_helpers import PRE


def test_find_images_recursive_any_ext(tmp_path, image_dir):
    files = find_images(image_dir)
    assert len(files) == 8 and any(f.parent.name == "sub" for f in files)
    (tmp_path / "a" / "b").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "a" / "b" / "x.BMP"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("no")
    assert [f.name for f in find_images(tmp_path)] == ["x.BMP"]


def test_find_images_errors_name_folder(tmp_path):
    with pytest.raises(UserError, match=str(tmp_path)):
        find_images(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        find_images(tmp_path / "missing")


def test_select_files_spread_and_deterministic(image_dir):
    files = find_images(image_dir)
    picked = select_files(files, 3)
    assert picked == select_files(list(reversed(files)), 3)
    assert picked[0] == sorted(files)[0] and picked[-1] == sorted(files)[-1]


def test_letterboxed_like_eval_and_colour(image_dir):
    from sscma_rtmdet.data.preprocess import letterbox

    files = sorted(find_images(image_dir))
    batch = calibration_images(files, (192, 256), PRE, n=8, cache_dir=None)
    assert batch.shape == (8, 192, 256, 3) and batch.dtype == np.float32
    ref, _, _ = letterbox(cv2.imread(str(files[0])), (192, 256), 114)
    np.testing.assert_array_equal(batch[0], ref.astype(np.float32))
    rgb = calibration_images(files, (192, 256), dict(PRE, color="rgb"), n=8, cache_dir=None)
    np.testing.assert_array_equal(rgb[0], ref[..., ::-1].astype(np.float32))
    norm = calibration_images(files, (192, 256), PRE, n=8, cache_dir=None, normalized=True)
    np.testing.assert_allclose(norm[0], (ref - np.float32(PRE["mean"])) / np.float32(PRE["std"]), rtol=1e-6, atol=1e-6)


def test_cache_hit_and_invalidation(tmp_path, image_dir):
    files = find_images(image_dir)
    cache = tmp_path / "cache"
    first = calibration_images(files, (96, 128), PRE, n=4, cache_dir=cache)
    cached = list(cache.glob("*.npy"))
    assert len(cached) == 1
    np.save(cached[0], first + 1)  # a later call must read the cache, not recompute
    np.testing.assert_array_equal(calibration_images(files, (96, 128), PRE, n=4, cache_dir=cache), first + 1)
    calibration_images(files, (96, 128), dict(PRE, pad_value=0), n=4, cache_dir=cache)
    assert len(list(cache.glob("*.npy"))) == 2  # preprocess is part of the key
    victim = select_files(files, 4)[1]
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = calibration_images(files, (96, 128), PRE, n=4, cache_dir=cache)
    np.testing.assert_array_equal(again, first)  # a touched file changes the key -> recomputed
    assert len(list(cache.glob("*.npy"))) == 3
