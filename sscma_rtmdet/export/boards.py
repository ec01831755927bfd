"""Boards an exported file is flashed to, and whether it fits them (one table; add a row for a new board).

Budgets (KiB) are what SSCMA-Micro leaves a model on each board: `arena` the tensor arena the firmware
allocates (SRAM the NPU or TFLM kernels work in), `flash` the room for the model file. Sources: the SSCMA-Micro
ports (Grove Vision AI V2: Ethos-U55-64 NPU, 1100 KiB tensor arena, models flashed from 4 MiB into its 16 MiB
flash; XIAO ESP32-S3: TFLite Micro with ESP-NN kernels, 2048 KiB arena in PSRAM, 8 MiB flash).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    runtime: str         # 'vela' (Ethos-U NPU: needs the _vela.tflite) | 'tflm' (the int8 .tflite on the MCU)
    arena_kib: float
    flash_kib: float
    target: str = "sscma-micro"


BOARDS: dict[str, Board] = {
    "grove_vision_ai_v2": Board("grove_vision_ai_v2", "Grove Vision AI V2 (Himax WE2, Ethos-U55-64)", "vela",
                                arena_kib=1100, flash_kib=12 * 1024),
    "xiao_esp32s3": Board("xiao_esp32s3", "XIAO ESP32-S3 (TFLite Micro)", "tflm",
                          arena_kib=2048, flash_kib=8 * 1024),
}


def get_board(name: str) -> Board:
    if name not in BOARDS:
        raise UserError(f"--board {name}: unknown; choose from {', '.join(BOARDS)} (export/boards.py)")
    return BOARDS[name]


@dataclass
class Fit:
    board: Board
    arena_kib: float | None
    flash_kib: float
    latency_ms: float | None = None
    npu_ops: int | None = None
    cpu_ops: int | None = None

    @property
    def problems(self) -> list[str]:
        out = []
        if self.arena_kib is not None and self.arena_kib > self.board.arena_kib:
            out.append(f"needs a {self.arena_kib:,.0f} KiB tensor arena, the board has {self.board.arena_kib:,.0f}")
        if self.flash_kib > self.board.flash_kib:
            out.append(f"file is {self.flash_kib:,.0f} KiB, the board has {self.board.flash_kib:,.0f} KiB for models")
        return out

    @property
    def fits(self) -> bool:
        return not self.problems

    def line(self) -> str:
        arena = "?" if self.arena_kib is None else f"{self.arena_kib:,.0f}"
        parts = [f"{self.board.title}: {'fits' if self.fits else 'DOES NOT FIT'}",
                 f"arena {arena} / {self.board.arena_kib:,.0f} KiB", f"flash {self.flash_kib:,.0f} / "
                 f"{self.board.flash_kib:,.0f} KiB"]
        if self.npu_ops is not None:
            parts.append(f"ops NPU {self.npu_ops} / CPU {self.cpu_ops}")
        if self.latency_ms is not None:
            parts.append(f"Vela estimate {self.latency_ms:.1f} ms")
        return ", ".join(parts) + ("" if self.fits else " -- " + "; ".join(self.problems))


def fit_vela(board: Board, vela: dict, vela_file_kib: float) -> Fit:
    """Fit of a Vela-compiled file (export.vela.compile_vela's result) on an Ethos-U board."""
    return Fit(board, vela.get("sram_kib"), vela_file_kib, vela.get("inference_time_ms"), vela.get("npu_ops"),
               vela.get("cpu_ops"))


def fit_tflm(board: Board, arena_bytes: int | None, file_kib: float) -> Fit:
    """Fit of an int8 .tflite run by TFLite Micro (arena measured by runtime.tflm.arena_bytes)."""
    return Fit(board, None if arena_bytes is None else arena_bytes / 1024, file_kib)
