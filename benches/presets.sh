#!/usr/bin/env bash
# Are the page's presets (quick / balanced / thorough, `session/presets.rs`) good starting
# points? Each preset is trained as it is and with its learning rate a third and three times
# as large, on the demo data and on a real Q&A set (`scripts/fetch-data.sh`), on the CPU tier;
# the table gives the best validation loss of each run and, for Q&A data, how often the first
# word of a greedy answer to a validation question is right, before → after training.
# A preset's own rate is read from its first run's checkpoint (`config.optimizer.lr`).
#
#   benches/presets.sh [MODEL] [DATA.jsonl …]          # ~15 minutes on 2 cores
#   PRESETS=thorough SCALES="3" benches/presets.sh     # some of them (scale 1 always runs)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}
shift || true
data=("$@")
[ ${#data[@]} -gt 0 ] || data=(static/demo/support.jsonl .cache/data/born_first.jsonl)
bin=target/release/webtune
[ -x "$bin" ] || cargo build -q --release -p webtune
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
runs=0
printf '%-20s %-9s %9s %6s %10s %16s\n' data preset lr steps "best val" "first word right"

# One run of preset $2 on file $1 (extra flags after), then its line of the table; sets
# `lr` to the run's learning rate.
run() {
  local file=$1 preset=$2
  runs=$((runs + 1))
  local dir=$out/run-$runs
  shift 2
  local qa=()
  [[ $file == *support* ]] || qa=(--exact-match)
  "$bin" train --model "$model" --tier cpu --data "$file" --preset "$preset" "${qa[@]}" "$@" \
    --out "$dir" >"$dir.log" 2>&1 || { echo "run failed: $dir.log" >&2; tail -5 "$dir.log" >&2; exit 1; }
  # The run's own rate (its checkpoint's config) and its line of the table, read once.
  local row
  IFS=$'\t' read -r lr row < <(python3 - "$dir" "$(basename "$file")" "$preset" <<'PY'
import json, re, sys
d, name, preset = sys.argv[1:]
lr = json.load(open(f"{d}/checkpoint/state.json"))["config"]["optimizer"]["lr"]
events = [json.loads(l) for l in open(f"{d}/training_log.jsonl")]
done = next(e for e in events if e["event"] == "finished")
said = re.search(r"first word right: base ([\d.]+)% → fine-tuned ([\d.]+)%", open(f"{d}.log").read())
words = f"{said[1]}% → {said[2]}%" if said else ""
print(f"{lr}\t{name[:20]:<20} {preset:<9} {lr:>9.2g} {done['steps']:>6} {done['best_validation_loss']:>10.4f} {words:>16}")
PY
  )
  echo "$row"
}

for file in "${data[@]}"; do
  for preset in ${PRESETS:-quick balanced thorough}; do
    run "$file" "$preset"
    own=$lr
    for scale in ${SCALES:-0.333 3}; do
      [ "$scale" = 1 ] && continue
      run "$file" "$preset" --lr "$(python3 -c "print(f'{$own * $scale:.2g}')")"
    done
  done
done
