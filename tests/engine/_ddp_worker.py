"""Run under torchrun: trains a few steps with DDP (gloo, CPU) and saves this rank's final weights."""
import sys
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _train_utils import CONFIG, tutorial_options  # noqa: E402

from sscma_rtmdet.config import load_config  # noqa: E402
from sscma_rtmdet.engine.ema import unwrap  # noqa: E402
from sscma_rtmdet.engine.trainer import Trainer, TrainOptions  # noqa: E402


def main(data_root: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    cfg = load_config(CONFIG, tutorial_options(Path(data_root), max_epochs=1, batch_size=4, val_interval=10))
    trainer = Trainer(cfg, TrainOptions(work_dir=Path(out_dir) / "wd", config_path=str(CONFIG), progress=False))
    trainer.train()
    rank = trainer.dist.rank
    torch.save({k: v.clone() for k, v in unwrap(trainer.model).state_dict().items()},
               Path(out_dir) / f"rank{rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
