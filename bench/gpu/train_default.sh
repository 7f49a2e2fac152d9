#!/usr/bin/env bash
# Train the default-size denoiser on one GPU in a fixed wall-clock budget, offline, and export a bundle
# of safetensors shards (< 16 MB each).  See docs/data.md ("A GPU run in a 15-minute window").
#
#   bench/gpu/train_default.sh DATA OUT [BUDGET_S] [driver options...]
#
# DATA: a directory made by `treediff data prepare` (carry it: <= ~50 MB), or a `.tar.xz`/`.tar.gz`
#       of one, or of a `treediff data gather` output / any corpus (then pass --tokenizer DIR and it is
#       prepared on the machine with every core).  BUDGET_S: seconds of calibration + training (<= 480).
# Installs nothing from the network: only the wheels carried in .whl/ (bench/gpu/fetch_wheels.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
if [ $# -lt 2 ]; then
  echo "usage: bench/gpu/train_default.sh DATA OUT [BUDGET_S] [driver options...]" >&2
  exit 2
fi
DATA=$1 OUT=$2 BUDGET=${3:-480}
shift $(( $# < 3 ? $# : 3 ))
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/treediff-site .whl/*.whl
  export PYTHONPATH=/tmp/treediff-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
case "$DATA" in
  *.tar|*.tar.gz|*.tgz|*.tar.xz|*.tar.zst)
    mkdir -p "$OUT/input"
    tar -xf "$DATA" -C "$OUT/input"
    DATA=$(find "$OUT/input" -maxdepth 2 \( -name manifest.json -o -name manifest.jsonl \) -printf '%h\n' | head -n1)
    [ -n "$DATA" ] || DATA="$OUT/input"
    ;;
esac
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
exec $PY bench/gpu/train_default.py --data "$DATA" --out "$OUT" --budget-s "$BUDGET" "$@"
