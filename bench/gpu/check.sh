#!/usr/bin/env bash
# The one GPU check (issue 21): run on one H100/H200 in one 10-minute command, no network:
#   bash bench/gpu/check.sh            # writes its results under $OUT (or ./gpu-check-out) and prints a summary
#   bash bench/gpu/check.sh --dry-run  # the same steps at tiny sizes on the CPU (what tests/test_gpu_check.py runs)
# Steps (each under its own timeout so one slow step cannot eat the others' time):
#   1. the gpu-marked tests (pytest -m gpu);
#   2. training tokens/s and MFU of the base50m preset at batch sizes 16 and 32 (bench/train_pipeline.py);
#   3. synthesis: constrained (full) vs none, batch 1 vs 8, wall-time ratio and NFE, for the embedded model
#      and a ~50M random-weight denoiser (bench/gpu/synth_speed.py).
set -u
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ "${1:-}" = "--dry-run" ]; then
  DEV=cpu; PRESET=tiny; TRAIN="--steps 1 --batches 2 --config examples/configs/tiny.toml --set data.seq_len=64"
  SYNTH="--limit 2 --max-new-tokens 4 --batch-size 2"; BATCHES="2 4"; T_TEST=120; T_TRAIN=120; T_SYNTH=240
else
  DEV=cuda; PRESET=base50m; TRAIN="--steps 30 --batches 50 --config examples/configs/small.toml --set data.seq_len=512"
  SYNTH="--limit 16 --max-new-tokens 64 --batch-size 8"; BATCHES="16 32"; T_TEST=120; T_TRAIN=150; T_SYNTH=240
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || true
fi
status=0
echo "== 1. gpu-marked tests ($DEV)"
timeout "$T_TEST" "$PY" -m pytest -n 0 -m gpu -p no:cacheprovider -p no:warnings tests > "$OUT/gpu_tests.txt" 2>&1
rc=$?; tail -n 3 "$OUT/gpu_tests.txt"; [ $rc -eq 0 ] || [ $rc -eq 5 ] || status=1
echo "== 2. training throughput, preset $PRESET"
for bs in $BATCHES; do
  timeout "$T_TRAIN" "$PY" bench/train_pipeline.py --device "$DEV" --preset "$PRESET" $TRAIN \
    --set data.batch_size="$bs" --json > "$OUT/train_bs$bs.json" 2> "$OUT/train_bs$bs.err" || status=1
  tail -n 1 "$OUT/train_bs$bs.json"
done
echo "== 3. synthesis: full vs none, batched vs batch 1"
timeout "$T_SYNTH" "$PY" bench/gpu/synth_speed.py --device "$DEV" --preset "$PRESET" $SYNTH \
  --json "$OUT/synth.json" > "$OUT/synth.txt" 2> "$OUT/synth.err" || status=1
grep -E '"(ratio|speedup)' "$OUT/synth.txt" || tail -n 5 "$OUT/synth.err"
echo "== done: status $status, results in $OUT"
exit $status
