import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from sscma_rtmdet.cli.make_photo_dataset import main
from sscma_rtmdet.cli.common import run_cli
run_cli(main)
