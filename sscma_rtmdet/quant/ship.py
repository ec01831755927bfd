"""Which QAT state ships, and how it is judged: exporting a state, scoring the files
on the val split (evaluation.evaluate, like tools/test.py) and the rounding-noise comparison."""
from __future__ import annotations

from pathlib import Path

from ..evaluation.evaluate import evaluate
from ..runtime.metadata import write_metadata
from ..utils.fileio import atomic_write_bytes
from .export import export_qat_tflite
from .qmodel import jittered_ranges


def describe(info: dict) -> str:
    what = "the PTQ start, before fine-tuning" if info["epoch"] == 0 else f"epoch {info['epoch']}"
    val = "" if info["val_mAP"] is None else f", fake-quant validation bbox_mAP {info['val_mAP']:.4f}"
    return what + val


def export_state(trainer, qmodel, info: dict, path: Path, source: str) -> dict:
    return export_qat_tflite(qmodel, trainer.deployment, trainer.calib, path, source_checkpoint=source,
                             onnx_path=path.with_name(path.stem + "_float.onnx"), state=info)


def choose_state(infos: list[dict]) -> int:
    """Index of the state to ship: highest file AP ("file_mAP") when every state has one, else highest
    fake-quant validation AP ("val_mAP", None lowest). Ties go to the later state (the fine-tuned one)."""
    key = "file_mAP" if all(i.get("file_mAP") is not None for i in infos) else "val_mAP"
    return max(reversed(range(len(infos))), key=lambda k: -1.0 if infos[k].get(key) is None else infos[k][key])


def export_best_file(trainer, cfg, work: Path, source: str, log=print):
    """Export the PTQ start and the best fine-tuned state, score both files on val, return the better
    (model, its metadata with "_path" and the candidates' scores, its file AP)."""
    cands = [trainer.qat_model("start"), trainer.qat_model("tuned")]
    if cands[1][1]["epoch"] == 0:
        cands = cands[:1]
    done = []
    for qmodel, info in cands:
        path = work / f"qat_epoch_{info['epoch']}.tflite"
        log(f"exporting QAT state {info['which']}: {describe(info)} -> {path.name}")
        meta = export_state(trainer, qmodel, info, path, source)
        info["file_mAP"] = val_ap(cfg, path)
        done.append((qmodel, meta, path))
    infos = [info for _, info in cands]
    k = choose_state(infos)
    log("QAT state                       fake-quant val   file bbox_mAP")
    for i, info in enumerate(infos):
        name = "epoch 0 (PTQ start)" if info["epoch"] == 0 else f"epoch {info['epoch']} (best fine-tuned)"
        val = "-" if info["val_mAP"] is None else f"{info['val_mAP']:.4f}"
        log(f"{name:<31} {val:>14}   {info['file_mAP']:.4f}{'   <- exported' if i == k else ''}")
    qmodel, meta, path = done[k]
    meta["qat"]["state"] = infos[k]
    meta["qat"]["candidates"] = infos
    meta["_path"] = str(path)
    return qmodel, meta, infos[k]["file_mAP"]


def publish(src: Path, dst: Path, meta: dict) -> None:
    """Atomic copy of an exported .tflite to `dst` with `meta` as its sidecar (just the sidecar when equal)."""
    if src.resolve() != dst.resolve():
        atomic_write_bytes(dst, src.read_bytes())
    write_metadata(dst, meta)


def val_ap(cfg, model, device: str = "cpu") -> float:
    """bbox_mAP of a model or an exported file on the val split (the evaluation tools/test.py runs)."""
    return evaluate(cfg, model, "val", device=device, progress=False)["metrics"]["coco/bbox_mAP"]


def compare_with_fake_quant(cfg, path: Path, fq: float | None, qmodel, trials: int, device: str, ap: float | None,
                            log=print, warn=print) -> None:
    """Log the exported file's val AP (`ap`, scored here when None) next to the fake-quant AP `fq` of the
    state it came from, and next to `trials` more int8 rounding realizations of that state
    (`jittered_ranges`).

    Judged against the mean of the fake-quant realizations: a single fake-quant AP carries rounding noise
    (up to 1.3 AP points measured on the demo SiLU nano's 60 val images)."""
    ap = val_ap(cfg, path) if ap is None else ap
    log(f"bbox_mAP: {path.name} {ap:.4f}")
    if fq is None:
        return
    log(f"bbox_mAP: fake-quant model (its validation) {fq:.4f}, gap {100 * (ap - fq):+.2f} AP points")
    runs = [fq]
    qmodel = qmodel.to(device).eval()
    for seed in range(1, trials + 1):
        with jittered_ranges(qmodel, seed):
            runs.append(val_ap(cfg, qmodel, device))
    mean = sum(runs) / len(runs)
    if trials:
        log(f"bbox_mAP: fake-quant over {len(runs)} rounding realizations {mean:.4f} (min {min(runs):.4f}, "
                   f"max {max(runs):.4f}); file - mean = {100 * (ap - mean):+.2f} AP points")
    if abs(ap - mean) > 0.005:
        warn("the exported file and the fake-quant model disagree by more than 0.5 AP points")
