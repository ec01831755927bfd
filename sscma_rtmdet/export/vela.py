"""Compile an int8 .tflite for Arm Ethos-U55 with Vela and summarise the result.

Default target: Seeed Grove Vision AI V2 (Himax WiseEye2): `ethos-u55-64`, system config `My_Sys_Cfg`,
memory mode `My_Mem_Mode_Parent` from the shipped `himax_vela.ini`. Vela runs in a subprocess of this
interpreter (it keeps global state and prints to stdout). Any operator left on the CPU is reported.

Compiler core: 'legacy' by default, the one every model proven on the WE2 board was compiled with (Vela
3.9-4.x's default; 5.x `--debug-force-legacy-core`); 'new' is Vela 5's default, never shown to run there.
The report names Vela's version and core, and its per-operator cycles (`--verbose-performance`, the
`<stem>_per-layer.csv`): the operators that cost most come first.
"""
from __future__ import annotations

import csv
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import ExportFailed, UserError
from ..utils.fileio import atomic_write_text

VELA_INI = Path(__file__).with_name("himax_vela.ini")
DEFAULTS = dict(accelerator="ethos-u55-64", system_config="My_Sys_Cfg", memory_mode="My_Mem_Mode_Parent",
                optimise="Performance", core="legacy")
CORES = ("legacy", "new")
TOP_OPS = 5  # operators listed in the report, by cycles
_VELA_MAIN = "import sys; from ethosu.vela.vela import main; sys.exit(main())"
_CSV_FIELDS = {"inference_time": ("inference_time_ms", 1e3), "inferences_per_second": ("inferences_per_second", 1),
               "cycles_total": ("cycles_total", 1), "nn_macs": ("macs", 1),
               "sram_memory_used": ("sram_kib", 1), "off_chip_flash_memory_used": ("flash_kib", 1)}


class VelaError(ExportFailed, RuntimeError):
    """Vela failed on a model this toolkit produced."""


def parse_summary(text: str) -> dict:
    """Vela stdout (with --show-cpu-operations) -> dict of op counts, memory use and CPU fallbacks.

    Keys: npu_ops, cpu_ops, npu_percent, sram_kib, flash_kib, cpu_fallback [{op, name}], accelerator.
    """
    out: dict = {"cpu_fallback": []}
    for key, pat in (("cpu", r"CPU operators\s*=\s*(\d+)\s*\(([\d.]+)%\)"),
                     ("npu", r"NPU operators\s*=\s*(\d+)\s*\(([\d.]+)%\)")):
        m = re.search(pat, text)
        if m is None:
            raise VelaError(f"Vela summary lacks the '{key.upper()} operators' line:\n{text[-2000:]}")
        out[f"{key}_ops"] = int(m.group(1))
        out[f"{key}_percent"] = float(m.group(2))
    for key, label in (("sram_kib", "SRAM"), ("flash_kib", "Off-chip Flash")):
        m = re.search(rf"Total {label} used\s+([\d.]+)\s*KiB", text)
        out[key] = float(m.group(1)) if m else None
    m = re.search(r"Accelerator configuration\s+(\S+)", text)
    out["accelerator"] = m.group(1) if m else None
    for m in re.finditer(r"^\s*CPU:\s*(\S+)\s*=\s*(.*?)\s*(?:\(outputs.*)?$", text, flags=re.M):
        out["cpu_fallback"].append({"op": m.group(1), "name": m.group(2)})
    return out


def parse_csv(path: Path) -> dict:
    """Vela's `<stem>_summary_<sys>.csv` -> inference_time_ms, inferences_per_second, cycles, macs, memory."""
    with open(path, newline="") as f:
        row = next(csv.DictReader(f))
    return {name: float(row[col]) * scale for col, (name, scale) in _CSV_FIELDS.items() if row.get(col)}


def vela_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ethos-u-vela")
    except PackageNotFoundError:
        raise UserError("Vela is not installed: pip install ethos-u-vela==5.2.0 (requirements/export.txt)") from None


def parse_per_layer(path: Path, top: int = TOP_OPS) -> list[dict]:
    """Vela's `<stem>_per-layer.csv` -> the `top` operators by cycles: {op, cycles, percent, macs, name}."""
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if _number(r.get("Op Cycles")) is not None]  # one header per subgraph
    ops = [{"op": r.get("TFLite_operator", "?"), "cycles": _number(r["Op Cycles"]),
            "macs": _number(r.get("MAC Count")) or 0.0, "name": r.get("Name", "")} for r in rows]
    total = sum(o["cycles"] for o in ops) or 1.0
    for o in ops:
        o["percent"] = 100.0 * o["cycles"] / total
    return sorted(ops, key=lambda o: -o["cycles"])[:top]


def _number(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def compile_vela(tflite_path: str | Path, out_dir: str | Path, *, config: str | Path | None = None,
                 accelerator: str = DEFAULTS["accelerator"], system_config: str = DEFAULTS["system_config"],
                 memory_mode: str = DEFAULTS["memory_mode"], optimise: str = DEFAULTS["optimise"],
                 core: str = DEFAULTS["core"], timeout_s: float = 600) -> dict:
    """Compile `tflite_path` into `out_dir/<stem>_vela.tflite` with compiler `core` ('legacy' | 'new'); save
    `<stem>_vela_summary.txt` (with the per-operator table).

    Returns parse_summary() + parse_csv() values plus `vela_tflite`, `summary_txt`, `all_on_npu`,
    `vela_version`, `core` and `top_ops` (parse_per_layer).
    """
    if core not in CORES:
        raise UserError(f"Vela core {core!r}: choose from {', '.join(CORES)}")
    tflite_path, out_dir = Path(tflite_path), Path(out_dir)
    if not tflite_path.is_file():
        raise UserError(f"{tflite_path} not found; Vela needs an int8 .tflite (export with --format int8)")
    config = Path(config) if config else VELA_INI
    if not config.is_file():
        raise UserError(f"Vela config {config} not found; pass an existing .ini")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sscma_vela_", dir=out_dir) as tmp:
        cmd = [sys.executable, "-c", _VELA_MAIN, str(tflite_path), "--output-dir", tmp,
               "--accelerator-config", accelerator, "--config", str(config), "--system-config", system_config,
               "--memory-mode", memory_mode, "--optimise", optimise, "--show-cpu-operations",
               "--verbose-performance"] + (["--debug-force-legacy-core"] if core == "legacy" else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        text = proc.stdout + (f"\n[stderr]\n{proc.stderr}" if proc.stderr.strip() else "")
        if proc.returncode != 0:
            raise VelaError(f"vela exited with {proc.returncode} on {tflite_path}:\n{text[-3000:]}")
        stem = tflite_path.stem
        produced = Path(tmp) / f"{stem}_vela.tflite"
        if not produced.is_file():
            raise VelaError(f"vela wrote no {produced.name}:\n{text[-3000:]}")
        result = parse_summary(text)
        csvs = sorted(Path(tmp).glob(f"{stem}_summary_*.csv"))
        if csvs:
            result.update(parse_csv(csvs[0]))
        layers = Path(tmp) / f"{stem}_per-layer.csv"
        result["top_ops"] = parse_per_layer(layers) if layers.is_file() else []
        vela_tflite = out_dir / produced.name
        produced.replace(vela_tflite)
    summary_txt = atomic_write_text(out_dir / f"{stem}_vela_summary.txt", text)
    result.update(vela_tflite=str(vela_tflite), summary_txt=str(summary_txt),
                  all_on_npu=result["cpu_ops"] == 0, system_config=system_config, memory_mode=memory_mode,
                  vela_version=vela_version(), core=core)
    return result


def format_report(result: dict) -> str:
    """Human summary; names every CPU-fallback operator."""
    lines = [f"Vela {result.get('vela_version', '?')}, {result.get('core', '?')} compiler core "
             f"({result.get('accelerator')}, {result.get('system_config')}/{result.get('memory_mode')}): "
             f"NPU ops {result['npu_ops']} ({result['npu_percent']:.1f}%), CPU ops {result['cpu_ops']}",
             f"SRAM {result.get('sram_kib')} KiB, off-chip flash {result.get('flash_kib')} KiB"]
    if "inference_time_ms" in result:
        lines.append(f"estimated inference {result['inference_time_ms']:.2f} ms "
                     f"({result.get('inferences_per_second', 0):.1f}/s)")
    if result.get("top_ops"):
        lines.append("most cycles: " + "; ".join(f"{o['op']} {o['percent']:.1f}% ({o['cycles'] / 1e6:.2f} M, "
                                                  f"{o['name'].split(';')[0][:40]})" for o in result["top_ops"]))
    for op in result["cpu_fallback"]:
        lines.append(f"WARNING: on CPU: {op['op']} {op['name']}")
    return "\n".join(lines)
