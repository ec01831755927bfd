"""Vela for Ethos-U55-64 (Grove Vision AI V2 config): relu nano int8 must run fully on the NPU."""
import pytest

from sscma_rtmdet.export.vela import compile_vela, format_report, parse_per_layer, parse_summary

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


PER_LAYER = """TFLite_operator,NNG Operator,SRAM Usage,Peak%,Op Cycles,Network%,NPU,MAC Count,Name
CONV_2D,Conv2DBias,258432,85.6,116704.0,0.5,116704.0,1990656,first/conv
CONV_2D,Conv2DBias,128688,42.6,2199999.0,9.5,2199999.0,10616832,stage4/conv
TFLite_operator,NNG Operator,SRAM Usage,Peak%,Op Cycles,Network%,NPU,MAC Count,Name
ADD,Add,147456,48.9,110592.0,0.5,110592.0,0,anchors/Add
"""


def test_per_layer_table_names_the_costliest_operators(tmp_path):
    """Vela's per-layer CSV (one header per NPU subgraph) -> the operators by cycles, with their share."""
    path = tmp_path / "m_per-layer.csv"
    path.write_text(PER_LAYER)
    top = parse_per_layer(path, top=2)
    assert [(o["op"], o["name"], o["cycles"]) for o in top] == [("CONV_2D", "stage4/conv", 2199999.0),
                                                               ("CONV_2D", "first/conv", 116704.0)]
    assert abs(sum(o["percent"] for o in parse_per_layer(path, top=9)) - 100) < 1e-9
    res = dict(parse_summary(SAMPLE), top_ops=top, vela_version="5.2.0", core="legacy", system_config="s",
               memory_mode="m")
    report = format_report(res)
    assert "Vela 5.2.0, legacy compiler core" in report
    assert "most cycles: CONV_2D 90.6% (2.20 M, stage4/conv)" in report


@pytest.mark.slow
@pytest.mark.parametrize("target", ["generic", "sscma-micro"])
def test_nano_relu_int8_all_on_npu(exports, tmp_path, target):
    """Both output layouts (per-level maps, the firmware's [1, H*W, C]) run wholly on the Ethos-U55."""
    exp = exports.get("nano", (192, 192), target)
    res = compile_vela(exp["int8"], tmp_path / "vela")
    print("\n" + format_report(res))
    assert res["all_on_npu"] and res["cpu_ops"] == 0 and res["npu_ops"] > 50, format_report(res)
    assert res["accelerator"] == "Ethos_U55_64" and res["inference_time_ms"] > 0 and res["sram_kib"] > 0
    assert res["core"] == "legacy" and res["vela_version"] == "5.2.0" and res["top_ops"][0]["cycles"] > 0
    stem = exp["int8"].stem
    assert (tmp_path / "vela" / f"{stem}_vela.tflite").is_file()
    assert "NPU operators" in (tmp_path / "vela" / f"{stem}_vela_summary.txt").read_text()
