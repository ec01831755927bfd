import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from sscma_rtmdet.cli.main import run  # noqa: E402

if __name__ == "__main__":  # worker processes re-import this file
    run("demo")
