import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from sscma_rtmdet.cli.quantization import main  # noqa: E402
from sscma_rtmdet.cli.common import run_cli  # noqa: E402

run_cli(main)
