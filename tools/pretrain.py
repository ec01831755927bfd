import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from sscma_rtmdet.cli.pretrain import main  # noqa: E402
from sscma_rtmdet.cli.common import run_cli  # noqa: E402

if __name__ == "__main__":  # the glyph generator's worker processes (spawn) import this file
    run_cli(main)
