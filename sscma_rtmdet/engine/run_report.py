"""What a run leaves to look at: results.csv (a row per epoch), plots/training.png (loss and mAP curves),
and after training the best checkpoint's evaluation pictures in plots/ (PR curve, confusion matrix,
per-class AP, validation images with ground truth next to predictions)."""
from __future__ import annotations

from pathlib import Path

RESULTS = "results.csv"
PLOTS = "plots"


class RunReport:
    def __init__(self, work_dir: Path, log):
        self.work_dir, self.log = Path(work_dir), log
        self.csv = self.work_dir / RESULTS
        self.plots = self.work_dir / PLOTS

    def start(self, resumed: bool) -> None:
        """A fresh run starts a fresh results.csv (a resumed one keeps its rows)."""
        if not resumed:
            self.csv.unlink(missing_ok=True)

    def epoch(self, epoch: int, losses: dict, metrics: dict) -> None:
        from ..reports.results import append_results_row, epoch_row

        append_results_row(self.csv, epoch_row(epoch, losses.get("lr", 0.0), losses, metrics))
        if metrics:
            self._curves()

    def _curves(self) -> None:
        from ..reports.plots import plot_training

        try:
            plot_training(self.csv, self.plots / "training.png")
        except Exception as e:  # a plot must never stop a run; say so and go on
            self.log(f"warning: could not draw {self.plots / 'training.png'}: {type(e).__name__}: {e}")

    def finish(self, trainer, best: Path) -> None:
        """Curves, then the best checkpoint scored on val once more with its pictures."""
        if not self.csv.is_file():
            return
        self._curves()
        if not best.is_file():
            return
        from ..evaluation.evaluate import evaluate
        from ..reports.evaluation_plots import write_evaluation_plots

        try:
            res = evaluate(trainer.cfg, best, trainer.val_coco, device=trainer.device, progress=False, log=None)
            written = write_evaluation_plots(res, trainer.val_coco, self.plots)
        except Exception as e:  # as above: the run's checkpoints are already safe
            self.log(f"warning: evaluation plots not written: {type(e).__name__}: {e}")
            return
        self.log(f"results: {self.csv}; plots: {', '.join(p.name for p in [self.plots / 'training.png', *written])} "
                 f"in {self.plots}")
