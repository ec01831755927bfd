"""Issue 40: a Vela file (by name or by its ethos-u custom op) and --runtime tflm on files TFLite Micro does not
run are refused up front, naming the file to use instead."""
from __future__ import annotations

import re

import pytest

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.runtime.file_kinds import check_runtime, is_vela_file


def test_vela_file_by_name_or_custom_op(tmp_path):
    named = tmp_path / "best_int8_vela.tflite"
    named.write_bytes(b"\x00" * 64)
    renamed = tmp_path / "model.tflite"
    renamed.write_bytes(b"\x00" * 32 + b"ethos-u" + b"\x00" * 32)
    plain = tmp_path / "best_int8.tflite"
    plain.write_bytes(b"\x00" * 64)
    assert is_vela_file(named) and is_vela_file(renamed) and not is_vela_file(plain)
    with pytest.raises(UserError, match=re.escape(f"use {tmp_path / 'best_int8.tflite'} next to it")):
        check_runtime(named, "litert")
    with pytest.raises(UserError, match="the \\*_int8.tflite it was compiled from"):
        check_runtime(renamed, "tflm")


@pytest.mark.parametrize("name", ["best.pth", "best.onnx"])
def test_tflm_refuses_files_an_mcu_does_not_run(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(UserError, match=re.escape(f"--runtime tflm runs the .tflite files an MCU runs (int8 or "
                                                  f"float32), not {name}")):
        check_runtime(path, "tflm")
    check_runtime(path, "litert")  # the default runtime: nothing to say
