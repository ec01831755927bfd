"""Board budgets: a file that does not fit is said before it is flashed, with the numbers."""
import pytest

from sscma_rtmdet.errors import UserError
from sscma_rtmdet.export.boards import BOARDS, fit_tflm, fit_vela, get_board


def test_vela_fit_and_misfit():
    board = BOARDS["grove_vision_ai_v2"]
    ok = fit_vela(board, dict(sram_kib=721.0, inference_time_ms=12.5, npu_ops=229, cpu_ops=0), 2478.0)
    assert ok.fits and "fits" in ok.line() and "12.5 ms" in ok.line() and "NPU 229 / CPU 0" in ok.line()
    big = fit_vela(board, dict(sram_kib=1500.0, inference_time_ms=40.0, npu_ops=229, cpu_ops=0), 20000.0)
    assert not big.fits and "DOES NOT FIT" in big.line()
    assert any("1,500 KiB tensor arena" in p for p in big.problems) and any("20,000 KiB" in p for p in big.problems)


def test_tflm_fit_and_unknown_arena():
    board = get_board("xiao_esp32s3")
    assert fit_tflm(board, 388 * 1024, 2700.0).fits
    assert not fit_tflm(board, 3000 * 1024, 2700.0).fits
    unknown = fit_tflm(board, None, 2700.0)
    assert unknown.fits and "arena ?" in unknown.line()
    with pytest.raises(UserError, match="--board moon: unknown; choose from grove_vision_ai_v2, "
                                        "grove_vision_ai_v2_sscma2, xiao_esp32s3"):
        get_board("moon")
