"""AP against device latency: trained checkpoints exported at several input sizes, one row per (model, size),
so a user picks the model and size for a target frame rate.

    .venv/bin/python benchmarks/device_profile.py CKPT [CKPT ...] [--sizes 160 192 224 256 320] [--data ROOT]
        [--board grove_vision_ai_v2] [--out-dir DIR]

Each checkpoint (a device config trained on your data, e.g. by the tutorial command) is exported with
`tools/export.py --imgsz S S --format tflite vela --board BOARD` at every size; the row gives the int8 file's AP
on the validation split at that size (the checkpoint was trained at one size: other sizes show what a
re-export without re-training gives), MACs, Vela's estimate with the legacy compiler core (what the export
ships) and with Vela 5's new core, the NPU's SRAM and the flash it reads, the TFLite Micro arena of the int8
file (an MCU board), and the frames per second the legacy estimate allows. The table also goes to
OUT_DIR/profile.md.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AP = re.compile(r"bbox_mAP_copypaste: ([\d.-]+) ([\d.-]+)")


def _run(*args) -> str:
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise click.ClickException(f"{' '.join(map(str, args))}:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return proc.stdout + proc.stderr


def profile_row(ckpt: Path, size: int, board: str, data: str | None, out: Path) -> dict:
    """Export `ckpt` at size x size for `board` into `out` and measure the row's columns."""
    from sscma_rtmdet.export.vela import compile_vela
    from sscma_rtmdet.models.info import count_flops
    from sscma_rtmdet.runtime.torch_model import load_model

    out.mkdir(parents=True, exist_ok=True)
    _run("tools/export.py", ckpt, "--imgsz", size, size, "--format", "tflite", "vela", "--board", board,
         "--out-dir", out, "--no-verify")
    int8 = out / f"{ckpt.stem}_int8.tflite"
    legacy = json.loads((out / f"{ckpt.stem}_int8_vela.model.json").read_text())["vela"]
    new = compile_vela(int8, out / "new_core", core="new")
    ap = AP.findall(_run("tools/test.py", int8, *(["--data", data] if data else []), "--no-progress"))[-1]
    arena = None
    try:
        from sscma_rtmdet.runtime.tflm import arena_bytes
        arena = arena_bytes(int8) / 1024
    except Exception as e:  # tflite-micro missing or the file beyond its kernels: the column stays empty
        click.echo(f"  TFLite Micro arena not measured: {e}", err=True)
    model, _ = load_model(ckpt)
    return {"model": ckpt.parent.name, "size": size, "ap": float(ap[0]), "ap50": float(ap[1]),
            "gmacs": count_flops(model, (size, size)) / 1e9,  # mmdet's count: a multiply-add is one
            "legacy_ms": legacy["inference_time_ms"],
            "new_ms": new.get("inference_time_ms"), "sram_kib": legacy["sram_kib"], "flash_kib": legacy["flash_kib"],
            "tflm_kib": arena}


def format_table(rows: list[dict]) -> str:
    lines = ["| model | input | int8 AP / AP50 | GMACs | Vela legacy core | fps | Vela new core | SRAM | flash | "
             "TFLM arena |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tflm = "-" if r["tflm_kib"] is None else f"{r['tflm_kib']:,.0f} KiB"
        lines.append(f"| {r['model']} | {r['size']} | {r['ap']:.3f} / {r['ap50']:.3f} | {r['gmacs']:.2f} | "
                     f"{r['legacy_ms']:.1f} ms | {1000 / r['legacy_ms']:.0f} | {r['new_ms']:.1f} ms | "
                     f"{r['sram_kib']:,.0f} KiB | {r['flash_kib']:,.0f} KiB | {tflm} |")
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--sizes", multiple=True, type=click.IntRange(min=32), default=(160, 192, 224, 256, 320),
              show_default=True, help="Input sides (multiples of 32); repeat the flag for several.")
@click.option("--data", type=click.Path(file_okay=False), help="Dataset [default: the one each was trained on].")
@click.option("--board", default="grove_vision_ai_v2", show_default=True, help="Firmware profile (targets.BOARDS).")
@click.option("--out-dir", default="work_dirs/device_profile", show_default=True, type=click.Path(file_okay=False))
def main(checkpoints, sizes, data, board, out_dir):
    from sscma_rtmdet.utils.fileio import atomic_write_text

    bad = [s for s in sizes if s % 32]
    if bad:
        raise click.BadParameter(f"{bad}: input sides must be multiples of 32", param_hint="--sizes")
    rows = []
    for ck in map(Path, checkpoints):
        for size in sizes:
            click.echo(f"== {ck} at {size}x{size}")
            rows.append(profile_row(ck, size, board, data, Path(out_dir) / f"{ck.parent.name}_{size}"))
            click.echo(format_table(rows[-1:]).splitlines()[-1])
    table = format_table(rows)
    click.echo(table)
    atomic_write_text(Path(out_dir) / "profile.md", table + "\n")


if __name__ == "__main__":
    main()
