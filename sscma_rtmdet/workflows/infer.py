"""The work behind tools/infer.py: detections drawn on an image, a folder of images or a video."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..data.formats.common import IMAGE_EXTS
from ..visualize import DISPLAY_SCORE_THR

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


@dataclass
class InferRequest:
    """MODEL on SOURCE (image, folder, video), drawings into out_dir; `iou_thr` None: the model's own;
    `config` only for an older .pth whose config is text."""
    model: str | Path
    source: str | Path
    out_dir: str | Path
    score_thr: float = DISPLAY_SCORE_THR
    iou_thr: float | None = None
    runtime: str = "litert"
    device: str = "auto"
    threads: int = 2
    progress: bool = True
    config: str | Path | None = None
    log: Callable[[str], None] = print
    warn: Callable[[str], None] = print


def infer(req: InferRequest) -> None:
    """Draw req.model's detections for every image or frame of req.source; one line per image."""
    from ..errors import UserError
    from ..inference.detector import Detector
    from ..utils.device import resolve_device
    from ..utils.safety import check_writable, output_name, refuse_overwrite

    src, out, model = Path(req.source), Path(req.out_dir), req.model
    refuse_overwrite(out, "--out-dir", inputs=[model, src], folders=[src] if src.is_dir() else [])
    drawn = out / output_name(src, None, ".mp4" if src.suffix.lower() in VIDEO_EXTS else ".jpg")
    if not src.is_dir() and drawn.resolve() in (src.resolve(), Path(model).resolve()):
        raise UserError(f"--out-dir {out}: the drawing of {src.name} would be {drawn}, over the input itself; "
                        "choose another folder")
    check_writable(out, "--out-dir")
    det = Detector(model, device=resolve_device(req.device), threads=req.threads, score_thr=req.score_thr,
                   iou_threshold=req.iou_thr, config=req.config, runtime=req.runtime)
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise UserError(f"no images ({', '.join(sorted(IMAGE_EXTS))}) found under {src}")
        _images(det, files, out, req, root=src)
    elif src.suffix.lower() in VIDEO_EXTS:
        _video(det, src, out, req)
    elif src.suffix.lower() in IMAGE_EXTS:
        _images(det, [src], out, req, one=True)
    else:
        raise UserError(f"{src}: not an image ({', '.join(sorted(IMAGE_EXTS))}) or video "
                        f"({', '.join(sorted(VIDEO_EXTS))})")


def _describe(res) -> str:
    from ..utils.text import printable

    return ", ".join(f"{printable(n)} {s:.2f} [{', '.join(f'{v:.0f}' for v in b)}]"
                     for n, s, b in zip(res.names, res.scores, res.boxes))


def _images(det, files, out, req: "InferRequest", one: bool = False, root=None) -> None:
    """Draw detections for every readable image; UserError when none of `files` could be read."""
    import cv2

    from ..data.checks import read_image
    from ..errors import DataError, UserError
    from ..utils.fileio import atomic_write
    from ..utils.progress import progress_bar
    from ..utils.safety import output_name
    from ..utils.text import printable
    from ..visualize import draw_detections

    skipped = []
    for f in progress_bar(files, desc="infer", enabled=req.progress and not one and len(files) > 1):
        try:
            img, why = read_image(str(f)), "unreadable image"
        except DataError as e:  # too large to decode
            img, why = None, str(e)
        if img is None:
            req.warn(f"skipped {printable(f)}: {why}")
            skipped.append(f)
            continue
        res = det(img)
        with atomic_write(out / output_name(f, root)) as tmp:
            if not cv2.imwrite(str(tmp), draw_detections(img, res.boxes, res.scores, res.labels, det.classes, 0.0)):
                raise UserError(f"could not write {out / output_name(f, root)} (cv2.imwrite failed)")
        req.log(f"{printable(f.name)}: {len(res)} detections{': ' if len(res) else ''}{_describe(res)}")
    if len(skipped) == len(files):
        raise UserError(f"no readable image: {', '.join(printable(f) for f in skipped[:5])}"
                        f"{' ...' if len(skipped) > 5 else ''} (missing, truncated or not an image)")


def _video(det, src, out, req: "InferRequest") -> None:
    import cv2
    from tqdm import tqdm

    from ..errors import UserError
    from ..utils.fileio import atomic_write
    from ..utils.progress import is_terminal
    from ..utils.safety import output_name
    from ..utils.text import printable
    from ..visualize import draw_detections

    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise UserError(f"cannot open video {src}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    with atomic_write(out / output_name(src, None, ".mp4")) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not writer.isOpened():
            raise UserError(f"cannot write video {out / output_name(src, None, '.mp4')} (cv2.VideoWriter failed)")
        frames = 0
        # a bar only on a terminal: redirected, its redraws would fill the log with carriage returns
        with tqdm(total=total, disable=not req.progress or not is_terminal(), desc=src.name) as bar:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                res = det(frame)
                writer.write(draw_detections(frame, res.boxes, res.scores, res.labels, det.classes, 0.0))
                frames += 1
                bar.update()
        writer.release()
    cap.release()
    req.log(f"{printable(src.name)}: {frames} frames -> {printable(out / output_name(src, None, '.mp4'))}")
