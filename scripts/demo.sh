#!/usr/bin/env bash
# The demo (README): set up .venv if needed, generate the embedded demo dataset, train a nano detector,
# export it (ONNX, TFLite fp32/fp16/int8, Vela) and evaluate every file. Extra args go to tools/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python tools/demo.py "$@"
