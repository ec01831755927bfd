import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from sscma_rtmdet.cli.make_demo_dataset import main  # noqa: E402
from sscma_rtmdet.cli.common import run_cli  # noqa: E402

if __name__ == "__main__":  # --workers spawns processes that import this file
    run_cli(main)
