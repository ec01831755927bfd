"""`python -m sscma_rtmdet COMMAND ...`: the console command (sscma_rtmdet/cli/main.py)."""
from .cli.main import console

console()
