"""The work behind tools/export.py and RTMDet.export: an export.pipeline.ExportRequest, with an optional config,
typed options and dataset that only check the checkpoint's record (and name the calibration images)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..export.pipeline import ExportRequest


def export(req: ExportRequest, config: str | Path | None = None, options: Mapping[str, Any] | None = None,
           data: str | Path | None = None) -> dict[str, Path]:
    """{kind: path} of the files written (export.pipeline.export_checkpoint)."""
    from ..export.pipeline import export_checkpoint
    from ..runtime.torch_model import resolve_model_path
    from .settings import resolve_settings

    if req.board and not {"tflite", "vela"} & set(req.formats):  # the fit is measured on the int8 and Vela files
        raise UserError(f"--board {req.board} checks the int8 .tflite and the Vela file against the board, but "
                        f"--format {' '.join(req.formats)} writes neither: add tflite (or vela) to --format, or "
                        "drop --board")
    req = replace(req, checkpoint=resolve_model_path(req.checkpoint, None if config is None else str(config)))
    cfg = resolve_settings(config, options, req.checkpoint, data, log=req.log) if (config or data or options) else None
    return export_checkpoint(cfg, req)  # ExportError/VelaError are UserErrors
