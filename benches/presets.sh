#!/usr/bin/env bash
# Are the page's presets (quick / balanced / thorough, `session/presets.rs`) good starting
# points? Each preset is trained as it is and with its learning rate a third and three times
# as large, on the demo data and on a real Q&A set (`scripts/fetch-data.sh`), on the CPU tier;
# the table gives the best validation loss of each run and, for Q&A data, how often the first
# word of a greedy answer to a validation question is right, before → after training.
#
#   benches/presets.sh [MODEL] [DATA.jsonl …]      # ~15 minutes on 2 cores
#   PRESETS=thorough SCALES="1 3" benches/presets.sh   # some of them
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
printf '%-20s %-9s %9s %6s %10s %16s\n' data preset lr steps "best val" "first word right"
for file in "${data[@]}"; do
  for preset in ${PRESETS:-quick balanced thorough}; do
    lr=$(case $preset in quick) echo 2e-3 ;; balanced) echo 1e-3 ;; thorough) echo 5e-4 ;; esac)
    for scale in ${SCALES:-0.333 1 3}; do
      run_lr=$(python3 -c "print(f'{$lr * $scale:.2g}')")
      dir="$out/$preset-$scale"
      extra=()
      [[ $file == *support* ]] || extra=(--exact-match)
      "$bin" train --model "$model" --tier cpu --data "$file" --preset "$preset" \
        --lr "$run_lr" "${extra[@]}" --out "$dir" >"$dir.log" 2>&1 ||
        { echo "run failed: $dir.log" >&2; tail -5 "$dir.log" >&2; exit 1; }
      python3 - "$dir" "$(basename "$file")" "$preset" "$run_lr" <<'PY'
import json, re, sys
d, name, preset, lr = sys.argv[1:]
events = [json.loads(l) for l in open(f"{d}/training_log.jsonl")]
done = next(e for e in events if e["event"] == "finished")
said = re.search(r"first word right: base ([\d.]+)% → fine-tuned ([\d.]+)%", open(f"{d}.log").read())
words = f"{said[1]}% → {said[2]}%" if said else ""
print(f"{name[:20]:<20} {preset:<9} {lr:>9} {done['steps']:>6} {done['best_validation_loss']:>10.4f} {words:>16}")
PY
    done
  done
done
