#!/usr/bin/env bash
# Multi-GPU (or multi-process CPU) training: tools/dist_train.sh CONFIG NUM_PROCS [train.py options...]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG NUM_PROCS [--cfg-options ...] [--work-dir DIR] ..." >&2
  exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
DIR="$(cd "$(dirname "$0")" && pwd)"
PORT=${PORT:-29500}
# the project's venv (scripts/setup_env.sh) unless PYTHON names another interpreter
if [ -z "${PYTHON:-}" ] && [ -x "$DIR/../.venv/bin/python" ]; then PY="$DIR/../.venv/bin/python"; else PY=${PYTHON:-python3}; fi
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "error: $PY has no torch; run scripts/setup_env.sh or set PYTHON=/path/to/python" >&2
  exit 2
fi
exec "$PY" -m torch.distributed.run --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$DIR/train.py" "$CONFIG" "$@"
