"""Vela for Ethos-U55-64 (Grove Vision AI V2 config): relu nano int8 must run fully on the NPU."""
import pytest

from sscma_rtmdet.export.vela import compile_vela, format_report, parse_summary

SAMPLE = """
Network summary for m_int8
Accelerator configuration                Ethos_U55_64
Total SRAM used                                961.14 KiB
Total Off-chip Flash used                        4.19 KiB

CPU operators = 3 (11.1%)
   CPU: Passthrough = PartitionedCall:2 (outputs [1, 8, 6, 3])
   CPU: Passthrough = PartitionedCall:0 (outputs [1, 32, 24, 3])
NPU operators = 24 (88.9%)
   NPU: Mul = model/tf.math.multiply_1/Mul (outputs [1, 256, 192, 3])
"""


def test_parse_summary_reports_cpu_fallback():
    res = parse_summary(SAMPLE)
    assert (res["cpu_ops"], res["npu_ops"], res["npu_percent"]) == (3, 24, 88.9)
    assert res["sram_kib"] == 961.14 and res["flash_kib"] == 4.19 and res["accelerator"] == "Ethos_U55_64"
    assert res["cpu_fallback"] == [{"op": "Passthrough", "name": "PartitionedCall:2"},
                                   {"op": "Passthrough", "name": "PartitionedCall:0"}]
    res.update(system_config="s", memory_mode="m")
    assert "WARNING: on CPU: Passthrough PartitionedCall:2" in format_report(res)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["generic", "sscma-micro"])
def test_nano_relu_int8_all_on_npu(exports, tmp_path, target):
    """Both output layouts (per-level maps, the firmware's [1, H*W, C]) run wholly on the Ethos-U55."""
    exp = exports.get("nano", (192, 192), target)
    res = compile_vela(exp["int8"], tmp_path / "vela")
    print("\n" + format_report(res))
    assert res["all_on_npu"] and res["cpu_ops"] == 0 and res["npu_ops"] > 50, format_report(res)
    assert res["accelerator"] == "Ethos_U55_64" and res["inference_time_ms"] > 0 and res["sram_kib"] > 0
    stem = exp["int8"].stem
    assert (tmp_path / "vela" / f"{stem}_vela.tflite").is_file()
    assert "NPU operators" in (tmp_path / "vela" / f"{stem}_vela_summary.txt").read_text()
