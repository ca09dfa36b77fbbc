#!/bin/sh
# Float32 against int8, side by side: quantize MODEL, then alternate bench_infer runs of the
# two files (ROUNDS rounds, each the median of 3 passes over DATA's dev partition, one
# thread), so that the noise of a shared machine hits both alike; prints every run, the
# median of the rounds, the sizes, and the agreement of the predictions (intent and the
# whole annot_utt) over the same data.
# usage: sh bench/quant.sh MODEL [DATA (default data/sample)] [ROUNDS (default 5)]
set -eu
model=$1
data=${2:-data/sample}
rounds=${3:-5}
B=${BUILD:-build}
q=${TMPDIR:-/tmp}/mille_bench_quant.$$.model
trap 'rm -f "$q" "$q.f32.jsonl" "$q.q8.jsonl"' EXIT INT TERM
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, mille $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
"$B/mille" quantize "$model" --out "$q"
i=0
while [ "$i" -lt "$rounds" ]; do
    "$B/bench_infer" "$model" "$data" 3 dev | sed 's/^/f32 /'
    "$B/bench_infer" "$q" "$data" 3 dev | sed 's/^/int8 /'
    i=$((i + 1))
done | tee "$q.runs"
python3 - "$q.runs" <<'PY'
import re, statistics, sys
rows = {}
for l in open(sys.argv[1]):
    kind = l.split()[0]
    kv = dict(re.findall(r"(\w+)=(\S+)", l))
    rows.setdefault(kind, []).append(kv)
for kind, rs in rows.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    print("bench=quant dtype=%s rounds=%d median_utt_per_s=%.0f cpu_utt_per_s=%.0f p50_us=%.1f "
          "p99_us=%.1f batch32_utt_per_s=%.0f intent_acc=%s q8_kernel=%s" % (kind, len(rs),
          med("median_utt_per_s"), med("cpu_utt_per_s"), med("p50_us"), med("p99_us"),
          med("batch32_utt_per_s"), rs[0]["intent_acc"], rs[0]["q8_kernel"]))
PY
rm -f "$q.runs"
"$B/mille" predict --model "$model" --partitions dev "$data" > "$q.f32.jsonl"
"$B/mille" predict --model "$q" --partitions dev "$data" > "$q.q8.jsonl"
python3 - "$q.f32.jsonl" "$q.q8.jsonl" "$model" "$q" <<'PY'
import json, os, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
n = len(a)
ia = sum(x["intent"] == y["intent"] for x, y in zip(a, b))
sa = sum(x["annot_utt"] == y["annot_utt"] for x, y in zip(a, b))
print("bench=quant_agreement utterances=%d intent_agree=%.2f annot_agree=%.2f f32_bytes=%d "
      "int8_bytes=%d" % (n, 100.0 * ia / n, 100.0 * sa / n, os.path.getsize(sys.argv[3]),
      os.path.getsize(sys.argv[4])))
PY
