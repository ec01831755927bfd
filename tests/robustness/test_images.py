"""Issue 18: images read one way everywhere (EXIF orientation applied as OpenCV does, in training, evaluation,
calibration and inference), a warning when the JSON cannot confirm the frame of a rotated image's boxes, and
no decoding of an image whose header claims more pixels than the limit."""
from __future__ import annotations

import json
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from sscma_rtmdet.data import checks
from sscma_rtmdet.data.checks import read_image
from sscma_rtmdet.errors import DataError


def _oriented(path, orientation: int, hw=(40, 60)) -> np.ndarray:
    """Write a marked BGR image with EXIF `orientation` (JPEG or PNG by suffix); returns its raw pixels."""
    img = np.zeros((*hw, 3), np.uint8)
    img[:10, :20] = (0, 0, 255)
    img[-6:, -30:] = (0, 255, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(img[:, :, ::-1]).save(path, exif=exif.tobytes(), quality=100)
    return img


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_orientation_is_applied_as_opencv_does(suffix, tmp_path):
    for orientation in range(1, 9):
        path = tmp_path / f"o{orientation}{suffix}"
        raw = _oriented(path, orientation)
        got = read_image(path)
        assert np.array_equal(got, cv2.imread(str(path), cv2.IMREAD_COLOR)), orientation
        assert (got.shape[:2] == raw.shape[:2]) == (orientation < 5), orientation


def test_every_reader_gives_the_same_pixels(tmp_path):
    """Dataset loading, calibration and the Detector's file input all read through data.checks.read_image."""
    from sscma_rtmdet.data.preprocess import Preprocess
    from sscma_rtmdet.export.calibration import load_prepared
    from sscma_rtmdet.inference import detector

    path = tmp_path / "x.jpg"
    _oriented(path, 6)
    shown = read_image(path)
    assert shown.shape[:2] == (60, 40)
    assert np.array_equal(detector._read(path), shown)
    pre = Preprocess.from_config({"color": "bgr", "mean": [0, 0, 0], "std": [1, 1, 1], "resize": "stretch"})
    assert np.array_equal(load_prepared(path, (64, 32), pre), pre.prepare(shown, (64, 32))[0])


def _dataset(tmp_path, hw, orientation, json_hw):
    folder = tmp_path / "valid"
    folder.mkdir(exist_ok=True)
    _oriented(folder / "a.jpg", orientation, hw)
    data = dict(images=[dict(id=1, file_name="a.jpg", height=json_hw[0], width=json_hw[1])],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[2, 2, 8, 8], area=64, iscrowd=0)],
                categories=[dict(id=1, name="a")])
    (folder / "_annotations.coco.json").write_text(json.dumps(data))
    from sscma_rtmdet.data.coco import CocoDetection
    return CocoDetection(str(tmp_path) + "/", "valid/_annotations.coco.json", "valid/")


def test_json_with_the_unrotated_size_warns(tmp_path):
    ds = _dataset(tmp_path, (40, 60), 6, (40, 60))  # stored 60 wide, shown 40 wide; JSON: the stored size
    with pytest.warns(UserWarning, match=r"'a\.jpg' \(id 1\) carries EXIF orientation 6 \(rotated 90 clockwise\): "
                                         r"it is read as displayed, 40x60 .*unrotated size 60x40"):
        assert ds.load_image(0).shape[:2] == (60, 40)


def test_json_with_the_displayed_size_is_quiet(tmp_path, recwarn):
    ds = _dataset(tmp_path, (40, 60), 6, (60, 40))
    ds.load_image(0)
    assert not [w for w in recwarn if "EXIF" in str(w.message)]


@pytest.mark.parametrize("hw, orientation", [((48, 48), 6), ((40, 60), 3)])
def test_a_rotation_the_size_cannot_confirm_warns_once(hw, orientation, tmp_path, monkeypatch):
    monkeypatch.setitem(checks._SAID, "ambiguous", False)
    ds = _dataset(tmp_path, hw, orientation, hw)
    with pytest.warns(UserWarning, match=rf"carries EXIF orientation {orientation} .*which its JSON size cannot "
                                         r"confirm"):
        ds.load_image(0)
    assert checks._SAID["ambiguous"]


def _png_claiming(path, w: int, h: int):
    """A valid 8x8 PNG whose IHDR (CRC fixed) claims w x h."""
    ok, buf = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(buf.tobytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = w.to_bytes(4, "big") + h.to_bytes(4, "big")
    data[ihdr + 17:ihdr + 21] = zlib.crc32(bytes(data[ihdr:ihdr + 17])).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def test_too_many_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _png_claiming(tmp_path / "bomb.png", 20000, 20000)
    monkeypatch.setattr(checks.cv2, "imread", lambda *a: pytest.fail("decoded a 400 MP image"))
    with pytest.raises(DataError, match=r"image .*bomb\.png is 20000x20000 pixels \(400 MP\), above the limit of "
                                        r"179 MP"):
        read_image(path)
    assert Image.MAX_IMAGE_PIXELS == 89478485  # Pillow's own limit untouched


def test_the_limit_lets_a_large_photo_through(tmp_path):
    path = _png_claiming(tmp_path / "big.png", 12000, 9000)  # 108 MP: a phone's largest photos
    assert checks.image_header(str(path))[:2] == (12000, 9000)
    assert 12000 * 9000 <= checks.MAX_IMAGE_PIXELS
