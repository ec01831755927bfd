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
PY=${PYTHON:-python3}
exec "$PY" -m torch.distributed.run --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$DIR/train.py" "$CONFIG" "$@"
