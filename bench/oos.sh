#!/bin/sh
# oos.sh - the leave-intents-out measurement of out-of-scope rejection and calibration (issue
# 14): K intents (chosen by SEED, bench/oos_split.py) are left out of training; their dev
# utterances are the out-of-scope set. Trains a small fast model on the rest under a time
# budget (mille train fits the temperature and the 95%-recall threshold on the in-scope dev
# records), then `mille calibrate --json` reports per locale and averaged: AUROC and the
# false-accept rate at 95% in-scope recall of four scores (top probability, margin, energy,
# top logit, each at T = 1 and at the fitted T), in-scope intent accuracy, and the expected
# calibration error before and after (cross-fitted on two folds of utterance ids), with the
# ECE a perfectly calibrated model would show on as many records (its noise floor).
#
# usage: sh bench/oos.sh [OUT_DIR]     (MASSIVE=dir BUILD=dir LOCALES=l1,l2 (default all)
#        K=10 SEED=1 BUDGET=1200 (seconds of training) EPOCHS=6 HIDDEN=128 LAYERS=2
#        BUCKETS=131072)
# Training is heavy: run it under flock /tmp/mille-heavy.lock on a shared machine.
set -eu
cd "$(dirname "$0")/.."
B=${BUILD:-build}
M=${MASSIVE:-../shared/massive-1.1}
OUT=${1:-build/oos}
K=${K:-10}
SEED=${SEED:-1}
BUDGET=${BUDGET:-1200}
EPOCHS=${EPOCHS:-6}
[ -d "$M" ] || { echo "oos.sh: MASSIVE 1.1 not found at $M (set MASSIVE=dir)" >&2; exit 1; }
LOCALES=${LOCALES:-$(ls "$M"/*.jsonl.gz | sed 's|.*/||; s|\.jsonl\.gz$||' | paste -sd, -)}
mkdir -p "$OUT"
python3 bench/oos_split.py "$M" "$OUT" "$K" "$SEED" "$LOCALES"
export OPENBLAS_NUM_THREADS=1
t0=$(date +%s)
"$B/mille" train --data "$OUT/train" --out "$OUT/lio.model" --hidden "${HIDDEN:-128}" \
    --layers "${LAYERS:-2}" --buckets "${BUCKETS:-131072}" --epochs "$EPOCHS" --threads 2 \
    --time-budget "$BUDGET" --quiet >"$OUT/train.json"
echo "oos.sh: training took $(($(date +%s) - t0)) s" >&2
rm -f "$OUT/lio.model.ckpt"
"$B/mille" calibrate "$OUT/lio.model" --data "$OUT/dev" --json >"$OUT/calibrate.json"
"$B/mille" calibrate "$OUT/lio.model" --data "$OUT/dev" | tee "$OUT/calibrate.txt"
# machine-readable summary line: averages over locales
python3 - "$OUT/calibrate.json" "$OUT/held_out.txt" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
a = j["average"]
held = open(sys.argv[2]).read().split()
out = {"bench": "oos", "locales": len(j["by_locale"]), "held_out": held,
       "temperature": j["temperature"], "intent_accuracy": a["intent_accuracy"],
       "ece_before": a["ece_before"], "ece_after": a["ece_after"], "ece_floor": a["ece_floor"],
       "pooled_ece_after": j["pooled"]["ece_after"],
       "scores": {k: v for k, v in a["scores"].items()}}
print(json.dumps(out))
PY
