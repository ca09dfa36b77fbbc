#!/bin/sh
# Robustness to typos (issue 14): intent accuracy of mille and of fastText on MASSIVE dev with
# typos in 0, 5, 10 and 20% of the words that can take one (3+ characters; `mille perturb
# --typos P`: a character deleted, doubled, swapped or replaced by a neighbouring key), side
# by side in one run; for mille also exact match and slot F1 (the labels stay aligned).
# fastText: one model per locale trained on the clean train partition with bench/fasttext.sh's
# settings; mille: the model given, or several side by side (a comma list: each is scored on
# the same typo'd files).
#
#   sh bench/typos.sh MASSIVE_DIR MILLE_MODEL[,MODEL2...] [OUTDIR] [LOCALES]
#
#   LOCALES  comma list (default: 8 locales in 7 scripts; all 52 takes about an hour of fastText
#            training); results in OUTDIR/results.txt (key=value lines) and a summary table
#   env: MILLE (default build/mille), FASTTEXT (default fasttext), SEED (default 1), RATES
set -eu
[ $# -ge 2 ] && [ $# -le 4 ] || { echo "usage: sh bench/typos.sh MASSIVE_DIR MILLE_MODEL [OUTDIR] [LOCALES]" >&2; exit 2; }
MASSIVE=$1
MODEL=$2
OUT=${3:-/tmp/mille_typos}
LOCALES=$(printf '%s' "${4:-en-US,fr-FR,de-DE,ru-RU,ar-SA,hi-IN,th-TH,ja-JP}" | tr ',' ' ')
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PREP="$HERE/fasttext_prep.py"
FT=${FASTTEXT:-fasttext}
MILLE=${MILLE:-$ROOT/build/mille}
RATES=${RATES:-0 0.05 0.1 0.2}
FT_ARGS=$(sed -n 's/^FT_ARGS="\(.*\)"$/\1/p' "$HERE/fasttext.sh")
command -v "$FT" >/dev/null 2>&1 || { echo "typos.sh: $FT not found (apt-get install fasttext)" >&2; exit 1; }
MODELS=$(printf '%s' "$MODEL" | tr ',' ' ')
for m in $MODELS; do
    [ -f "$m" ] || { echo "typos.sh: no mille model $m" >&2; exit 1; }
done
mkdir -p "$OUT"
RES="$OUT/results.txt"
echo "# date=$(date -u +%Y-%m-%dT%H:%MZ) machine=$(uname -m) nproc=$(nproc) commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo nogit) model=$MODEL seed=${SEED:-1} fasttext: $FT_ARGS" | tee "$RES"
for L in $LOCALES; do
    D="$OUT/$L"
    python3 "$PREP" prep "$MASSIVE" "$OUT" "$L" >/dev/null
    # shellcheck disable=SC2086
    "$FT" supervised -input "$D/train.txt" -output "$D/model" $FT_ARGS -verbose 0 >"$D/train.log" 2>&1
    rm -f "$D/model.vec" "$D/train.txt"
    for P in $RATES; do
        "$MILLE" perturb "$MASSIVE" --locales "$L" --partition dev --typos "$P" --seed "${SEED:-1}" \
            --out "$D/dev_$P.jsonl" 2>"$D/perturb_$P.txt"
        changed=$(sed -n 's/.*changed (\([0-9.]*\)%).*/\1/p' "$D/perturb_$P.txt")
        python3 "$PREP" ftlines "$D/dev_$P.jsonl" "$D/dev_$P.txt"
        "$FT" predict "$D/model.bin" "$D/dev_$P.txt" >"$D/ft_$P.txt"
        set -- $(python3 "$PREP" ftscore "$D/dev_$P.txt" "$D/ft_$P.txt")
        ft=$(python3 -c "print('%.2f' % (100.0 * $2 / $1))")
        for M in $MODELS; do
            "$MILLE" predict --model "$M" "$D/dev_$P.jsonl" >"$D/mille_$P.jsonl"
            m=$("$MILLE" eval "$D/dev_$P.jsonl" "$D/mille_$P.jsonl" --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["average"]
print("mille_intent=%.2f mille_em=%.2f mille_slot_f1=%.2f" % (a["intent_accuracy"], a["exact_match"], a["slot_f1"]))')
            echo "locale=$L typos=$P words_changed=$changed fasttext_intent=$ft model=$M $m" | tee -a "$RES"
        done
    done
    rm -f "$D/model.bin"
done
python3 - "$RES" <<'PY' | tee "$OUT/summary.md"
import sys, collections
rows = [dict(kv.split("=", 1) for kv in l.split()) for l in open(sys.argv[1]) if l.startswith("locale=")]
mean = lambda xs: sum(xs) / len(xs)
models = list(dict.fromkeys(r.get("model", "") for r in rows))
for model in models:
    by = collections.defaultdict(list)
    for r in rows:
        if r.get("model", "") == model:
            by[r["typos"]].append(r)
    base = {k: mean([float(r[k]) for r in by[min(by, key=float)]]) for k in ("fasttext_intent", "mille_intent")}
    print("\nmille model: %s\n" % model)
    print("| typos (of 3+ char words) | words changed | fastText intent | drop | mille intent | drop | mille EM | mille slot F1 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in sorted(by, key=float):
        rs = by[p]
        f, m = mean([float(r["fasttext_intent"]) for r in rs]), mean([float(r["mille_intent"]) for r in rs])
        print("| %s | %.1f%% | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
            p, mean([float(r["words_changed"]) for r in rs]), f, base["fasttext_intent"] - f, m,
            base["mille_intent"] - m, mean([float(r["mille_em"]) for r in rs]),
            mean([float(r["mille_slot_f1"]) for r in rs])))
PY
