#!/bin/sh
# The README's main job.
#   1. Parse data/demo.txt (utterances in 11 languages and 8 scripts) with the model mille
#      ships, models/mille.model (models/README.md): correct answers in seconds.
#   2. Train a small model on the bundled MASSIVE sample (all 52 locales, 332 training
#      utterances each), score it on the sample's dev partition and parse the same
#      utterances: what training looks like, in a couple of minutes on 2 cores. A model
#      trained on 2.9% of MASSIVE is weak; `make model` rebuilds the shipped one from all of it.
set -eu
cd "$(dirname "$0")/.."
B=${BUILD:-build}
show() {
    python3 -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l); print("%-45s %-22s %.2f  %s" % (r["utt"][:45], r["intent"], r["confidence"], r["annot_utt"]))'
}
if [ -f models/mille.model ]; then
    echo "--- 1. the shipped model (models/mille.model) on data/demo.txt:" >&2
    "$B/mille" predict --model models/mille.model data/demo.txt | show
else
    echo "--- 1. models/mille.model is missing: rebuild it with make model" >&2
fi
echo "--- 2. training a small model on the bundled sample:" >&2
"$B/mille" train --data data/sample --out "$B/sample.model" --epochs 15 --lr 0.005 --emb-lr 0.03 \
    --hidden 128 --layers 2 \
    --batch 16 --patience 4
echo "--- its predictions on the sample's dev partition, scored with the official metrics:" >&2
"$B/mille" predict --model "$B/sample.model" data/sample > "$B/sample.pred.jsonl"
"$B/mille" eval data/sample "$B/sample.pred.jsonl" --partition dev | tail -1
echo "--- the sample model on data/demo.txt:" >&2
"$B/mille" predict --model "$B/sample.model" data/demo.txt | show
