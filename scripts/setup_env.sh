#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) idempotently on a fresh machine.
# torch==2.13.0 goes in first (local CPU wheel) and requirements/constraints.txt guards it afterwards.
# Re-running is a no-op unless a requirements file changed. Usage: bash scripts/setup_env.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.sscma_rtmdet_stamp"
WANT=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/python" -c "import torch, cv2, onnx2tf" 2>/dev/null; then
  echo "[setup] $VENV is up to date"
  exit 0
fi
echo "[setup] installing into $VENV (first time: ~2 min, ~3.3 GB)"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check torch==2.13.0
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c requirements/constraints.txt \
  -r requirements/core.txt -r requirements/export.txt
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements/bench.txt
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$WANT" > "$STAMP"
echo "[setup] done"
