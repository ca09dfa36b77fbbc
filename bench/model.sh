#!/bin/sh
# Benchmarks of a trained model on the MASSIVE dev partition: per-locale official metrics
# (markdown table + average), model size, single-thread inference rate.
# usage: sh bench/model.sh MODEL [MASSIVE_DIR] [OUTDIR]
set -eu
model=$1
M=${2:-../shared/massive-1.1}
out=${3:-/tmp/mille_bench_model}
B=${BUILD:-build}
mkdir -p "$out"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, mille $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "model=$model bytes=$(wc -c < "$model")"
"$B/mille" predict --model "$model" "$M" > "$out/pred.jsonl"
"$B/mille" eval "$M" "$out/pred.jsonl" --partition dev --json > "$out/dev.json"
python3 - "$out/dev.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("| locale | exact match | intent acc. | slot F1 |")
print("| --- | ---: | ---: | ---: |")
for loc, m in sorted(d["by_locale"].items()):
    print("| %s | %.2f | %.2f | %.2f |" % (loc, m["exact_match"], m["intent_accuracy"], m["slot_f1"]))
a = d["average"]
print("| **average (%d locales)** | **%.2f** | **%.2f** | **%.2f** |" % (a["locales"], a["exact_match"], a["intent_accuracy"], a["slot_f1"]))
PY
"$B/bench_infer" "$model" "$M" 3 dev
