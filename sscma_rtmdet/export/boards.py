"""Whether an exported file fits its board: the firmware profiles (targets.BOARDS) against the measured
tensor arena, flash and Vela's report."""
from __future__ import annotations

from dataclasses import dataclass


from ..targets import BOARDS, STOCK_WE2_CPU_OPS, VELA_DEFAULT_BOARD, Board, get_board

__all__ = ["BOARDS", "STOCK_WE2_CPU_OPS", "VELA_DEFAULT_BOARD", "Board", "get_board", "Fit", "fit_vela", "fit_tflm"]


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
