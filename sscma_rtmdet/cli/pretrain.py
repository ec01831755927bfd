"""tools/pretrain.py: make the toolkit's own pretrained weights (pretrained/*.pth) from generated data."""
from __future__ import annotations

from pathlib import Path

import click

from ..workflows.pretrain import SETS
from .common import (cfg_options_option, friendly_errors, imgsz_option, progress_option, seed_option,
                     train_threads_option, work_dir_option)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The weights file to write, e.g. pretrained/rtmdet_nano_silu_broad.pth.")
@click.option("--set", "set_name", type=click.Choice(sorted(SETS)), default="glyphs", show_default=True,
              help="Generated set: glyphs (36 characters on procedural textures) or broad (72 classes: glyphs, "
                   "shapes, objects of parts, cut-outs; distractors, occlusion, blur, noise).")
@click.option("--data", type=click.Path(file_okay=False),
              help="Dataset folder (generated if missing) [default: datasets/<set>].")
@click.option("--num-train", type=click.IntRange(min=8),
              help="Training images when the dataset is generated [default: glyphs 3000, broad 6000].")
@click.option("--num-valid", type=click.IntRange(min=1),
              help="Validation images when the dataset is generated [default: glyphs 200, broad 300].")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="Processes generating the dataset (the same bytes with any number).")
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(min=1))
@imgsz_option((192, 192))
@work_dir_option(help="Training run folder [default: work_dirs/pretrain/<out name>]; re-running resumes it.")
@click.option("--base-lr", default=0.002, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="AdamW lr at batch 32 (used exactly; from scratch needs more than the nano recipe's 5e-4).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@seed_option()
@click.option("--init-from", type=click.Path(dir_okay=False),
              help="Start a new architecture from an existing weights file: every tensor whose name and shape "
                   "CONFIG's model shares is taken, the rest starts at init (e.g. the lean nano from "
                   "pretrained/rtmdet_nano_relu_broad.pth). Not with load_from.")
@train_threads_option
@cfg_options_option
@progress_option
@friendly_errors
def main(config, out, set_name, data, num_train, num_valid, workers, epochs, imgsz, work_dir, base_lr, batch_size,
         seed, init_from, threads, cfg_options, no_progress):
    """Pretrain CONFIG's detector on a generated set (no photos of the benchmarks, no download) and write its
    weights to OUT for `load_from`.

    \b
    OUT keeps the EMA weights (backbone, neck, head; the per-class layers are skipped when loaded for another
    class count) in float16, with the recipe (this command, dataset, epochs, final val AP) in its metadata.
    The nano configs ship pretrained/ files made by glyph runs and then, from those, broad runs, e.g.:
      python tools/pretrain.py configs/rtmdet_nano_8xb32_300e_coco_relu.py --set broad --epochs 32 \\
        --out pretrained/rtmdet_nano_relu_broad.pth \\
        --cfg-options load_from=pretrained/rtmdet_nano_relu_glyphs.pth stage2_num_epochs=2
    (pretrained/README.md has each file's command). Any config can be pretrained, the MobileNetV4 one too.
    """
    import sys

    from ..config.options import parse_cfg_options
    from ..workflows.pretrain import PretrainRequest, pretrain

    pretrain(PretrainRequest(
        config, Path(out), set_name, Path(data) if data else None, num_train, num_valid, workers, epochs,
        tuple(imgsz), Path(work_dir) if work_dir else None, base_lr, batch_size, seed, init_from, threads,
        parse_cfg_options(list(cfg_options)), not no_progress,
        " ".join(["python tools/pretrain.py", *sys.argv[1:]]), click.echo))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
