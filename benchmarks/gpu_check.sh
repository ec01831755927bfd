#!/usr/bin/env bash
# GPU training-speed check, under 5 minutes on one GPU: images/s of the nano at 192x192 and the tiny at
# 640x640 (batch 32), AMP off / AMP on / AMP + torch.compile, with the data loader's throughput next to each
# (is the GPU kept fed?). One interleaved round; benchmarks/train_speed.py does the work.
#   bash benchmarks/gpu_check.sh                      # on the GPU machine (repo root or anywhere)
#   DEVICE=cpu bash benchmarks/gpu_check.sh --smoke   # the same path on a CPU at toy sizes (the test)
# Extra arguments go to train_speed.py (e.g. --workers 8, --rounds 2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" benchmarks/train_speed.py --device "${DEVICE:-cuda}" --gpu-variants --case nano192 --case tiny640 \
    --rounds 1 --timeout 240 "$@"
