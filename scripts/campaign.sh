#!/usr/bin/env bash
# The training campaign (issue "campaign"): hrgcnet-w32 and hrnet-w32, identical recipe
# (hrgcnet/configs/campaign_128x96_cpu.yaml), side by side, one thread each, in the background under nice.
#   bash scripts/campaign.sh MINUTES     start or resume both runs; they stop by themselves after MINUTES
#                                        (with a checkpoint), e.g. the session's length minus 25 minutes
#   END_EPOCH=E ANNEAL_EPOCHS=A bash scripts/campaign.sh MINUTES
#                                        the same, but the runs anneal the rate (cosine to 1%) over epochs E-A..E
#                                        and end at epoch E with a validation (both models at the same step)
#   bash scripts/campaign.sh --stop      stop both now (each finishes its step and writes last.pt), then report
#   bash scripts/campaign.sh --report    this stretch's row for the campaign log (docs/training/campaign.md;
#                                        SINCE=2026-12-07T01:50 for a stretch stopped and resumed since then);
#                                        copies the runs' logs into docs/training/logs/ to commit with the row
#   bash scripts/campaign.sh --compare   both models at the last step both validated, as int8, vs the committed
#                                        files on dev.json and val.json (paired bootstrap): the commit rule's input
# A start resumes RUNS_ROOT/campaign/<model>/last.pt when the run folder survived (same schedule, same sample
# order); otherwise it starts from the committed weights (hrgcnet/weights/<model>.safetensors), which carry the
# samples they had seen. Such a restart seeds the sampler with its start time (seconds since 1970), so that a new
# stretch draws new samples and augmentations even when the last one was not committed; both models get the same
# seed, recorded in stretches.jsonl. SEED=N replays a stretch's samples (e.g. to pair a recipe change with it).
# Each start appends the machine (CPU model and flags) to RUNS_ROOT/campaign/stretches.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_ROOT=${RUNS_ROOT:-$PWD/runs}   # the checkout's git-ignored runs/, where train writes runs/<name>/
PY=${PY:-.venv/bin/python}
CAMPAIGN="$RUNS_ROOT/campaign"
MODELS=(hrgcnet-w32 hrnet-w32)
PATTERN="hrgcnet train .*$CAMPAIGN/"

# SINCE=YYYY-MM-DDTHH:MM (UTC) reports a stretch that was stopped and resumed from its first start on;
# UNTIL=YYYY-MM-DDTHH:MM ends the report there (a past stretch, e.g. one cut short by a machine restart).
report() { "$PY" scripts/campaign_report.py ${SINCE:+--since "$SINCE"} ${UNTIL:+--until "$UNTIL"} "$CAMPAIGN" "${MODELS[@]}"; archive; }
# The runs' logs are small (about 25 kB per 1,000 steps and model), so every report copies them into the repository,
# docs/training/logs/run-<the runs' first start>/, where the campaign log's rows can be checked after runs/ is gone.
archive() {
  local first dest
  first=$(sed -n '1s/.*"time": "\([0-9T:-]*\)Z".*/\1/p' "$CAMPAIGN/stretches.jsonl" 2>/dev/null | tr -d ':-' | cut -c1-13)
  [ -n "$first" ] || return 0
  dest=docs/training/logs/run-$first
  mkdir -p "$dest"
  cp "$CAMPAIGN/stretches.jsonl" "$dest/"
  for m in "${MODELS[@]}"; do [ ! -f "$CAMPAIGN/$m/log.jsonl" ] || cp "$CAMPAIGN/$m/log.jsonl" "$dest/$m.jsonl"; done
  echo "logs copied to $dest (commit them with the stretch's row)"
}

case "${1:-}" in
  --report) report; exit 0 ;;
  --stop)
    if pkill -TERM -f "$PATTERN"; then
      echo "stopping: waiting for the runs to write last.pt"
      while pgrep -f "$PATTERN" >/dev/null; do sleep 2; done
    fi
    report; exit 0 ;;
  --compare)
    # Both models' weights at the last step both validated, int8 as they would be committed, against the
    # committed files on dev.json (paired bootstrap over images) and on val.json, with the library's default
    # decoding (REFINE=quarter for the paper's rule; the runs' own validation uses quarter), in fp32 (PRECISION=).
    REFINE=${REFINE:-dark} PRECISION=${PRECISION:-fp32}
    step=$(for m in "${MODELS[@]}"; do ls "$CAMPAIGN/$m" | sed -n 's/^val_step0*\([0-9][0-9]*\)\.safetensors$/\1/p'; done \
           | sort -n | uniq -c | awk -v n=${#MODELS[@]} '$1 == n {s = $2} END {print s}')
    [ -n "$step" ] || { echo "no step validated by every model yet" >&2; exit 2; }
    out="$CAMPAIGN/compare/step$step"
    mkdir -p "$out"
    echo "step $step: int8 exports and predictions in $out"
    for m in "${MODELS[@]}"; do
      new="$out/$m.int8.safetensors"
      [ -f "$new" ] || "$PY" -m hrgcnet weights export "$CAMPAIGN/$m/val_step$(printf %07d "$step").safetensors" \
        --model "$m" --dtype int8 --out "$new" >/dev/null
      for split in dev val; do
        ann=../shared/data/coco/$split.json
        how="$REFINE-$PRECISION"
        base="$CAMPAIGN/compare/committed-$(git hash-object "hrgcnet/weights/$m.safetensors" | cut -c1-12)-$m-$split-$how.json"
        [ -f "$base" ] || "$PY" -m hrgcnet eval --ann "$ann" --model "$m" --boxes gt --refine "$REFINE" \
          --precision "$PRECISION" --out "$base" --no-progress >/dev/null
        echo "== $m, $split.json: campaign step $step (int8) vs committed"
        "$PY" -m hrgcnet eval --ann "$ann" --model "$m" --weights "$new" --boxes gt --refine "$REFINE" \
          --precision "$PRECISION" --out "$out/$m-$split-$how.json" --compare "$base" --no-progress | grep -E "^AP |difference|interval|better" || true
      done
    done
    exit 0 ;;
  ''|-*) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
MINUTES=$1
if pgrep -f "$PATTERN" >/dev/null; then
  echo "the campaign is already running (pgrep -af '$PATTERN'); stop it first with --stop" >&2; exit 2
fi
[ -d ../shared/data ] || { echo "../shared/data not found: the campaign trains on it" >&2; exit 2; }
mkdir -p "$CAMPAIGN"
# where the runs live elsewhere (RUNS_ROOT=...), the logs are also reachable from the checkout's runs/ folder
[ "$(cd "$RUNS_ROOT" && pwd)" = "$(pwd)/runs" ] || { mkdir -p runs && ln -sfn "$CAMPAIGN" runs/campaign; }

flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -x -E 'amx_bf16|amx_tile|avx512_bf16|avx512f|avx2' \
        | tr '\n' ' ' | sed 's/ $//')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "machine: $cpu; $(nproc) cores; flags: ${flags:-none of amx/avx512/avx2}"

seed=${SEED:-$(date +%s)}
starts=()
for model in "${MODELS[@]}"; do
  run="$CAMPAIGN/$model"
  if [ -f "$run/last.pt" ]; then
    args=(--resume "$run")
    starts+=("\"$model\": \"resume\"")
  else
    rm -rf "$run"  # a run folder without a checkpoint holds nothing to continue
    args=(--config campaign_128x96_cpu --model "$model" --run-dir "$run" --seed "$seed"
          --init-from "hrgcnet/weights/$model.safetensors")
    starts+=("\"$model\": \"committed weights, seed $seed\"")
  fi
  if [ -n "${END_EPOCH:-}" ]; then
    args+=(--epochs "$END_EPOCH" --set "anneal_epochs=${ANNEAL_EPOCHS:?ANNEAL_EPOCHS goes with END_EPOCH}")
  fi
  OMP_NUM_THREADS=1 nohup nice -n 5 "$PY" -m hrgcnet train "${args[@]}" --max-minutes "$MINUTES" --no-progress \
    >> "$run.out" 2>&1 &
  echo "$model: pid $! -> $run ($run.out)"
done
printf '{"event": "start", "time": "%s", "minutes": %s, "cpu": "%s", "flags": "%s", "cores": %s, "end_epoch": %s, "anneal_epochs": %s, %s}\n' \
  "$(date -u +%FT%TZ)" "$MINUTES" "$cpu" "$flags" "$(nproc)" "${END_EPOCH:-null}" "${ANNEAL_EPOCHS:-null}" \
  "$(IFS=,; echo "${starts[*]}")" \
  >> "$CAMPAIGN/stretches.jsonl"
