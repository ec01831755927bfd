"""tools/infer.py: run a .pth/.onnx/.tflite model on an image, a folder of images or a video."""
from __future__ import annotations

from pathlib import Path

import click

from ..data.formats.common import IMAGE_EXTS
from .common import CONTEXT, device_option, friendly_errors, progress_option, threads_option

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


@click.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("source", type=click.Path(exists=True))
@click.option("--out-dir", type=click.Path(file_okay=False), required=True, help="Where drawn results go.")
@click.option("--score-thr", type=click.FloatRange(0, 1), default=0.3, show_default=True)
@click.option("--iou-thr", type=click.FloatRange(0, 1), default=None,
              help="NMS IoU [default: the model's own: 0.45 for SSCMA-Micro files, as the firmware].")
@click.option("--runtime", type=click.Choice(["litert", "tflm"]), default="litert", show_default=True,
              help="For .tflite: LiteRT with XNNPACK, or TFLite Micro's kernels (what an MCU runs).")
@device_option
@threads_option
@progress_option
@click.option("--config", type=click.Path(exists=True, dir_okay=False),
              help="Only for a .pth written by an older version (config stored as text, which is never "
                   "executed): the training config to build its model from.")
@friendly_errors
def main(model, source, out_dir, score_thr, iou_thr, runtime, device, threads, no_progress, config):
    """Detect objects with MODEL in SOURCE (image, folder of images, or video) and save drawings.

    Input size, resize, colour order, normalisation, decode and class names come from the checkpoint or
    the export's .json sidecar. Prints one line per image: file, count and the detections. Drawings keep
    the source's relative path and name (x.bmp -> x.bmp.jpg), and never go into the source folder.
    """
    from ..errors import UserError
    from ..inference.detector import Detector
    from ..utils.device import resolve_device
    from ..utils.safety import check_writable, output_name, refuse_overwrite

    src, out = Path(source), Path(out_dir)
    refuse_overwrite(out, "--out-dir", inputs=[model, src], folders=[src] if src.is_dir() else [])
    drawn = out / output_name(src, None, ".mp4" if src.suffix.lower() in VIDEO_EXTS else ".jpg")
    if not src.is_dir() and drawn.resolve() in (src.resolve(), Path(model).resolve()):
        raise UserError(f"--out-dir {out}: the drawing of {src.name} would be {drawn}, over the input itself; "
                        "choose another folder")
    check_writable(out, "--out-dir")
    det = Detector(model, device=resolve_device(device), threads=threads, score_thr=score_thr,
                   iou_threshold=iou_thr, config=config, runtime=runtime)
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise UserError(f"no images ({', '.join(sorted(IMAGE_EXTS))}) found under {src}")
        _images(det, files, out, no_progress, root=src)
    elif src.suffix.lower() in VIDEO_EXTS:
        _video(det, src, out, no_progress)
    elif src.suffix.lower() in IMAGE_EXTS:
        _images(det, [src], out, True)
    else:
        raise UserError(f"{src}: not an image ({', '.join(sorted(IMAGE_EXTS))}) or video "
                        f"({', '.join(sorted(VIDEO_EXTS))})")


def _describe(res) -> str:
    from ..utils.text import printable

    return ", ".join(f"{printable(n)} {s:.2f} [{', '.join(f'{v:.0f}' for v in b)}]"
                     for n, s, b in zip(res.names, res.scores, res.boxes))


def _images(det, files, out, no_progress, root=None) -> None:
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
    for f in progress_bar(files, desc="infer", enabled=not no_progress and len(files) > 1):
        try:
            img, why = read_image(str(f)), "unreadable image"
        except DataError as e:  # too large to decode
            img, why = None, str(e)
        if img is None:
            click.echo(f"skipped {printable(f)}: {why}", err=True)
            skipped.append(f)
            continue
        res = det(img)
        with atomic_write(out / output_name(f, root)) as tmp:
            if not cv2.imwrite(str(tmp), draw_detections(img, res.boxes, res.scores, res.labels, det.classes, 0.0)):
                raise UserError(f"could not write {out / output_name(f, root)} (cv2.imwrite failed)")
        click.echo(f"{printable(f.name)}: {len(res)} detections{': ' if len(res) else ''}{_describe(res)}")
    if len(skipped) == len(files):
        raise UserError(f"no readable image: {', '.join(printable(f) for f in skipped[:5])}"
                        f"{' ...' if len(skipped) > 5 else ''} (missing, truncated or not an image)")


def _video(det, src, out, no_progress) -> None:
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
        with tqdm(total=total, disable=no_progress or not is_terminal(), desc=src.name) as bar:
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
    click.echo(f"{printable(src.name)}: {frames} frames -> {printable(out / output_name(src, None, '.mp4'))}")


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
