#!/usr/bin/env bash
# Trains the default weights (issue "trained default weights"): hrgcnet-w32 and hrnet-w32 with the
# identical CPU recipe, side by side, one intra-op thread each, resumable.
#   bash scripts/train_defaults.sh [MAX_MINUTES [STOP_AFTER_STEPS]]   (default 100 minutes; run again to continue
#   both runs; STOP_AFTER_STEPS stops both at the same step, for a comparison at equal samples seen;
#   `kill PID` or `pkill -f "hrgcnet train"` stops runs after their current step with a checkpoint)
# Runs live outside the checkout (RUNS_ROOT, default /work/runs); logs in RUNS_ROOT/<run>.out.
# A new run starts from the model's committed weights (hrgcnet/weights/MODEL.safetensors) when they exist, so
# training carries on across sessions whose run folders did not survive; FROM_SCRATCH=1 starts from random;
# INIT_RUNS=DIR starts from DIR/<run>/INIT_FILE instead (the fp32 weights of earlier runs, when they survived;
# INIT_FILE default best.safetensors, or last.pt for a run's trained weights at its last checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_MINUTES=${1:-100}
# EPOCHS x 2048 samples is the length of the cosine schedule of a new run (default 500: 1.02M samples per
# model); a session-bounded run picks EPOCHS so the schedule ends within the session.
# EPOCHS given while runs exist re-plans their schedule's length from their current step (hrgcnet train --resume
# --epochs), e.g. when this machine turns out slower or faster than the session's plan.
REPLAN=()
if [ -n "${EPOCHS:-}" ]; then REPLAN=(--epochs "$EPOCHS"); fi
EPOCHS=${EPOCHS:-500}
# LR: peak learning rate of a new run (default: the config's 1e-3).
LR_ARGS=()
if [ -n "${LR:-}" ]; then LR_ARGS=(--lr "$LR"); fi
# SET: config overrides of a new run, space-separated KEY=VALUE (e.g. a constant rate with an EMA of the weights:
# SET="lr_schedule=multistep lr_steps=[] ema_decay=0.998"); a resumed run keeps its own config.
SET_ARGS=()
for kv in ${SET:-}; do SET_ARGS+=(--set "$kv"); done
STOP=()
if [ -n "${2:-}" ]; then STOP=(--stop-after-steps "$2"); fi
# INPUT_SIZE: crop size HxW of a new run (default the config's 128x96; 256x192 is the paper's, 3.7x the time per
# step on the AVX2 machine of docs/training/README.md, session 9); run folders are RUNS_ROOT/<model>_<INPUT_SIZE>_cpu.
INPUT_SIZE=${INPUT_SIZE:-128x96}
RUNS_ROOT=${RUNS_ROOT:-/work/runs}
PY=${PY:-.venv/bin/python}
mkdir -p "$RUNS_ROOT"
for model in hrgcnet-w32 hrnet-w32; do
  run="$RUNS_ROOT/${model}_${INPUT_SIZE}_cpu"
  if [ -f "$run/last.pt" ]; then
    args=(--resume "$run" "${REPLAN[@]}")
  else
    init=()
    weights="hrgcnet/weights/$model.safetensors"
    if [ -n "${INIT_RUNS:-}" ]; then
      weights="$INIT_RUNS/${model}_${INPUT_SIZE}_cpu/${INIT_FILE:-best.safetensors}"
      [ -f "$weights" ] || { echo "INIT_RUNS: no $weights" >&2; exit 2; }
    fi
    if [ -f "$weights" ] && [ -z "${FROM_SCRATCH:-}" ]; then init=(--init-from "$weights"); fi
    # cosine to 1% with 100 warm-up steps over EPOCHS x 2048 samples.
    args=("${init[@]}" --config hrgcnet_w32_128x96_cpu --model "$model" --input-size "$INPUT_SIZE" --run-dir "$run"
          --epochs "$EPOCHS" --workers 1 "${LR_ARGS[@]}"
          --set val_every=10 --set checkpoint_minutes=10 "${SET_ARGS[@]}")
  fi
  OMP_NUM_THREADS=1 nohup "$PY" -m hrgcnet train "${args[@]}" --max-minutes "$MAX_MINUTES" "${STOP[@]}" --no-progress \
    >> "$run.out" 2>&1 &
  echo "$model: pid $! -> $run ($run.out)"
done
