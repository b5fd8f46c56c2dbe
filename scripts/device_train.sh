#!/usr/bin/env bash
# Trains hrgcnet-w32 and hrnet-w32 side by side with the identical recipe on packed data (hrgcnet pack), on a
# machine that has only a copy of the repository: the lent GPU machine (docs/training/README.md, "On a lent GPU
# machine"). Writes each model's int8 weights in pieces under $OUT (what comes back from that machine is at most
# 16 MiB a file); `cat OUT/MODEL.int8.safetensors.part-* > MODEL.safetensors` joins them.
#   bash scripts/device_train.sh      (PACK=.pack MINUTES=7 BATCH=128 DEVICE=cuda WORKERS=7 [EPOCHS=N])
# Runs from the source tree (PYTHONPATH=.), so it needs torch, numpy, opencv, pyyaml, safetensors and tqdm,
# not an installed package. Without EPOCHS, both models first train side by side for CALIBRATE_MINUTES (0.75);
# their slower speed sets EPOCHS (x 2048 samples, the cosine schedule's length) so the schedule ends within
# MINUTES. MINUTES also stops each run (with its weights) if the machine turns slower.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=${PACK:-.pack}
OUT=${OUT:-device-out}
PY=${PY:-python3}
RUNS=${RUNS_ROOT:-/tmp/device-runs}
MINUTES=${MINUTES:-7}
MODELS=(hrgcnet-w32 hrnet-w32)
[ -f "$PACK/config.yaml" ] || { echo "no $PACK/config.yaml: run hrgcnet pack --out $PACK first" >&2; exit 2; }
mkdir -p "$OUT" "$RUNS"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

train_both() {  # SUFFIX EPOCHS MINUTES: both models side by side, fresh runs in $RUNS/MODEL$SUFFIX
  local pids=() status=0
  for model in "${MODELS[@]}"; do
    local run="$RUNS/$model$1"
    rm -rf "$run"
    "$PY" -m hrgcnet train --config "$PACK/config.yaml" --model "$model" --run-dir "$run" --device "${DEVICE:-cuda}" \
      --batch-size "${BATCH:-128}" --workers "${WORKERS:-7}" --epochs "$2" --max-minutes "$3" --no-progress \
      --set checkpoint_minutes=100 --set log_every=5 > "$run.out" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

if [ -z "${EPOCHS:-}" ]; then
  train_both -calibrate 100000 "${CALIBRATE_MINUTES:-0.75}"
  # The slower model's median samples/s (first log window left out: start-up), 90% of it for the export's time.
  EPOCHS=$("$PY" - "$MINUTES" "$RUNS"/*-calibrate/log.jsonl <<'EOF'
import json, statistics, sys
minutes, rates = float(sys.argv[1]), []
for path in sys.argv[2:]:
    events = [json.loads(line) for line in open(path)]
    speeds = [e["samples_per_s"] for e in events if e.get("event") == "train"][1:]
    if not speeds:
        sys.exit(f"calibration: fewer than two log windows in {path}; raise CALIBRATE_MINUTES")
    rates.append(statistics.median(speeds))
print(max(1, int(min(rates) * minutes * 60 * 0.9 // 2048)))
EOF
  )
  echo "calibrated: EPOCHS=$EPOCHS for $MINUTES minutes"
fi
status=0
train_both "" "$EPOCHS" "$MINUTES" || status=1
for model in "${MODELS[@]}"; do
  run="$RUNS/$model"
  [ -f "$run/last.pt" ] || { echo "$model: no checkpoint (see $run.out)" >&2; status=1; continue; }
  "$PY" -m hrgcnet weights export "$run/last.pt" --model "$model" --dtype int8 --out "$run/$model.int8.safetensors"
  split -b 15m -d "$run/$model.int8.safetensors" "$OUT/$model.int8.safetensors.part-"
done
# All runs' logs in one file (at most 8 files come back).
(cd "$RUNS" && tar czf - ./*.out ./*/log.jsonl) > "$OUT/logs.tgz"
ls -l "$OUT"
exit $status
