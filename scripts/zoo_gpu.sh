#!/usr/bin/env bash
# Train the CIFAR-10 zoo on a lent GPU machine, all runs side by side, then evaluate them.
#
# The machine is reached one call at a time (at most 64 MiB carried per call) and
# keeps its disk only while it stays warm, so the work is split into steps that
# each call runs one of (see README, "Training on a GPU machine"):
#
#   scripts/zoo_gpu.sh stage .device-data/FILE   copy a carried data file to $DATA (outside the work tree)
#   scripts/zoo_gpu.sh launch                    join the train archive, start every run in the background
#   scripts/zoo_gpu.sh watch SECONDS             evaluate runs as they finish; return when all end or SECONDS pass
#   scripts/zoo_gpu.sh evaluate                  start evaluating finished runs (clean, corruptions, PGD-20)
#   scripts/zoo_gpu.sh stop                      end every training run (each keeps its last finished epoch)
#   scripts/zoo_gpu.sh collect                   pack checkpoints + cards + logs into $OUT (≤ 15 MiB pieces)
#
# Call it from the work tree's root (python must find the shiftlab package there). `stop` ends runs
# by their recorded process ids: `pkill -f PATTERN` inside a device command also matches the shell
# that carries the command (its text holds the pattern) and kills the call itself.
#
# Runs are started with setsid so they outlive the call that launched them, and
# each one is resumable (--resume), so a relaunch continues after the last epoch.
set -euo pipefail

WORK=${ZOO_WORK:-/root/zoo}
DATA=$WORK/data
PY=${PYTHON:-python3}
THREADS=${ZOO_THREADS:-4}

# arch variant [extra train flags]; every run uses its family's recipe unless a flag says otherwise.
# Each run publishes its weights and card into its own checkpoint folder, so one variant can be trained two ways
# side by side (say, the recipe's epochs and a longer schedule) and the better-documented one kept.
RUNS=(
  "vit_tiny augmix"
  "vit_tiny fast_adv"
)

# one folder name per RUNS entry: arch_variant, then the extra flags with their dashes and spaces dropped
run_name() { local name="$1_$2${3:+_$3}"; name=${name//--/}; echo "${name// /}"; }
checkpoints_of() { echo "$WORK/checkpoints/$1"; }
# set arch, variant, extra and name from one RUNS entry
parse_run() { read -r arch variant extra <<<"$1"; extra=${extra:-}; name=$(run_name "$arch" "$variant" "$extra"); }
# the model card a finished run writes (its presence marks the run finished)
card_of_run() { echo "$(checkpoints_of "$name")/cifar10/$arch/$variant.json"; }

stage() {
  mkdir -p "$DATA"
  cp "$1" "$DATA/"
  ls -la "$DATA"
}

launch() {
  mkdir -p "$WORK/logs" "$WORK/runs" "$WORK/pids"
  if [[ ! -f $DATA/cifar10_train.npz ]]; then
    $PY scripts/split_npz.py join "$DATA/cifar10_train.npz" "$DATA"/cifar10_train.part*.npz
  fi
  for run in "${RUNS[@]}"; do
    parse_run "$run"
    # --resume only where a state was saved (it is refused on an empty run folder)
    resume=$([[ -f $WORK/runs/$name/state.safetensors ]] && echo --resume || true)
    SHIFTLAB_CHECKPOINTS=$(checkpoints_of "$name") OMP_NUM_THREADS=$THREADS PYTHONUNBUFFERED=1 \
      setsid nohup $PY -m shiftlab.training.train --arch "$arch" --variant "$variant" \
      --data-root "$DATA" --run-dir "$WORK/runs/$name" $resume --publish --no-progress $extra \
      >>"$WORK/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$WORK/pids/$name"
  done
  sleep 5
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
}

progress() {
  for run in "${RUNS[@]}"; do
    parse_run "$run"
    printf '%-20s %s\n' "$name" "$(grep -E '^\{"epoch"|wrote|Error|error' "$WORK/logs/$name.log" 2>/dev/null | tail -1 | cut -c1-150)"
  done
}

watch() {
  # while runs train, start the evaluation of each one as soon as its checkpoint is written
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)) && pgrep -f "shiftlab\.(train|evaluate)" >/dev/null; do
    evaluate
    sleep 15
  done
  evaluate
  progress
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
}

evaluate() {
  # clean, corruptions and PGD-20 for every finished run not yet evaluated, each in the background
  for run in "${RUNS[@]}"; do
    parse_run "$run"
    log=$WORK/logs/eval_$name.log
    if [[ -f $(card_of_run) && ! -f $log ]]; then
      SHIFTLAB_CHECKPOINTS=$(checkpoints_of "$name") OMP_NUM_THREADS=$THREADS PYTHONUNBUFFERED=1 setsid nohup $PY -m shiftlab.zoo.evaluate --arch "$arch" --variant "$variant" \
        --data-root "$DATA" --publish >"$log" 2>&1 </dev/null &
    fi
  done
}

stop() {
  # SIGTERM each run started by launch; the last finished epoch stays in its run folder (saved atomically)
  local pidfile
  for pidfile in "$WORK"/pids/*; do
    [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

collect() {
  # checkpoints, cards and logs, plus the resumable state of runs that have not finished
  local unfinished=()
  for run in "${RUNS[@]}"; do
    parse_run "$run"
    [[ -f $(card_of_run) || ! -d $WORK/runs/$name ]] || unfinished+=("runs/$name")
  done
  tar -C "$WORK" -czf /tmp/zoo.tgz checkpoints logs "${unfinished[@]}"
  split -b 15M -d /tmp/zoo.tgz "$OUT/zoo.tgz.part"
  ls -la "$OUT"
}

"$@"
