#!/bin/sh
# The README's main job: train a small model on the bundled MASSIVE sample (all 52 locales,
# 332 training utterances each), score it on the sample's dev partition, and parse a few
# utterances in several languages and scripts. A couple of minutes on 2 cores. A model
# trained on 2.9% of MASSIVE is weak; docs/BENCHMARKS.md has the full-data numbers.
set -eu
cd "$(dirname "$0")/.."
B=${BUILD:-build}
"$B/mille" train --data data/sample --out "$B/sample.model" --epochs 15 --lr 0.005 --emb-lr 0.03 \
    --hidden 128 --layers 2 \
    --batch 16 --patience 4
echo "--- predictions on the sample's dev partition, scored with the official metrics:" >&2
"$B/mille" predict --model "$B/sample.model" data/sample > "$B/sample.pred.jsonl"
"$B/mille" eval data/sample "$B/sample.pred.jsonl" --partition dev | tail -1
echo "--- parsing data/demo.txt:" >&2
"$B/mille" predict --model "$B/sample.model" data/demo.txt |
    python3 -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l); print("%-45s %-22s %.2f  %s" % (r["utt"][:45], r["intent"], r["confidence"], r["annot_utt"]))'
