#!/bin/sh
# zeroshot.sh OUT [CONDITION]: the zero-shot protocol of docs/zeroshot.md, end to end.
#
# Labels from en-US only. For the other 51 locales: unlabeled train-partition utterances
# (shuffled, no ids, no labels) and the Debian FreeDict English-X lexicons. Target-locale dev
# data is read only by the final scoring.
#
#   CONDITION  base      en-US labels only
#              pretrain  + skip-gram pretraining on en-US and target text, lexicon-aligned
#              synth     + en-US train translated word by word into each lexicon locale
#              both      pretrain + synth (default: the best)
#
# Environment: MASSIVE (data dir), BUILD, EPOCHS (8), SAMPLES (translations per English
# record, 1), LEXDIR (merged lexicons from tools/lexicons.sh instead of FreeDict eng-X).
# Writes OUT (the model), OUT.eval.json (per-locale dev scores of the 51 target locales) and
# OUT.work/ (text, synthesized data, pretrained embedding). Installs the lexicon packages
# when they are missing (apt-get; needs root or sudo).
set -eu
out=$1
cond=${2:-both}
M=${MASSIVE:-../shared/massive-1.1}
B=${BUILD:-build}
W=$out.work
DICT=${DICT:-/usr/share/dictd}
EPOCHS=${EPOCHS:-8}
SAMPLES=${SAMPLES:-1}
mkdir -p "$W"
t0=$(date +%s)
say() { echo "zeroshot [$(( $(date +%s) - t0 ))s]: $*" >&2; }

case $cond in base | pretrain | synth | both) ;; *)
    echo "zeroshot: CONDITION must be base, pretrain, synth or both" >&2
    exit 2
    ;;
esac

if ! ls "$DICT"/freedict-eng-*.index >/dev/null 2>&1; then
    say "installing the FreeDict English-X lexicons (Debian packages)"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    # shellcheck disable=SC2046
    $SUDO apt-get install -y -qq --no-install-recommends \
        $(apt-cache search '^dict-freedict-eng-' | awk '{print $1}') >/dev/null
fi
# the lexicons that cover a MASSIVE locale: "locale path" lines; with LEXDIR, the merged
# lexicons of tools/lexicons.sh (LEXDIR/LOCALE.tsv: FreeDict both ways, Apertium, CC-CEDICT,
# pivots, CLDR) instead of the FreeDict English-X dictionaries
if [ -n "${LEXDIR:-}" ]; then
    for f in "$LEXDIR"/??-??.tsv; do
        if [ -e "$f" ]; then echo "$(basename "$f" .tsv) $f"; fi
    done >"$W/lexicons.txt"
else
"$B/mille" lexicons "$DICT" --json | python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    if d.get("locale"):
        print(d["locale"], sys.argv[1] + "/" + d["dictionary"] + ".index")' "$DICT" >"$W/lexicons.txt"
fi
say "$(wc -l <"$W/lexicons.txt") lexicon locales"

targets=$(python3 -c 'import os,sys; print(",".join(sorted(f[:-9] for f in os.listdir(sys.argv[1]) if f.endswith(".jsonl.gz") and f != "en-US.jsonl.gz")))' "$M")

init=""
if [ "$cond" = pretrain ] || [ "$cond" = both ]; then
    if [ ! -s "$W/pretrained.model" ]; then
        say "unlabeled text (train partitions, shuffled, no ids or labels)"
        python3 tools/unlabeled.py "$M" "$W/text"
        set --
        for f in "$W"/text/*.txt; do set -- "$@" --text "$f"; done
        while read -r _ dict; do set -- "$@" --lexicon "$dict"; done <"$W/lexicons.txt"
        say "pretraining"
        "$B/mille" pretrain "$@" --out "$W/pretrained.model" --epochs 5 --threads 2 --quiet \
            >"$W/pretrain.json"
        cat "$W/pretrain.json" >&2
    fi
    # pretrain alone: freeze the aligned embedding (English labels would pull English rows
    # away from their translations); with synthesized data the target words have labels of
    # their own, and the embedding trains (measured both ways: docs/zeroshot.md)
    if [ "$cond" = pretrain ]; then init="--init $W/pretrained.model --emb-lr 0"; else init="--init $W/pretrained.model"; fi
fi

set -- --data "$M/en-US.jsonl.gz"
if [ "$cond" = synth ] || [ "$cond" = both ]; then
    mkdir -p "$W/synth"
    while read -r loc dict; do
        # SAMPLES translations of each record, each with its own seed (the choice among a
        # word's translations differs)
        s=1
        while [ "$s" -le "$SAMPLES" ]; do
            f="$W/synth/$loc.jsonl"
            [ "$s" = 1 ] || f="$W/synth/$loc.$s.jsonl"
            if [ ! -s "$f" ]; then
                "$B/mille" synth --lexicon "$dict" --from en-US --to "$loc" \
                    --data "$M/en-US.jsonl.gz" --seed "$s" --out "$f" 2>"$f.log"
            fi
            set -- "$@" --data "$f"
            s=$((s + 1))
        done
    done <"$W/lexicons.txt"
    say "synthesized $(cat "$W"/synth/*.jsonl | wc -l) labeled utterances"
fi

say "training ($cond)"
# shellcheck disable=SC2086
"$B/mille" train "$@" --dev-locales en-US --out "$out" --epochs "$EPOCHS" --quiet $init \
    >"$W/train.json"
cat "$W/train.json" >&2
rm -f "$out.ckpt"

say "scoring on the dev partition of the 51 target locales"
"$B/mille" predict --model "$out" --locales "$targets" --partitions dev "$M" >"$W/pred.jsonl"
"$B/mille" eval "$M" "$W/pred.jsonl" --partition dev --locales "$targets" --json >"$out.eval.json"
python3 - "$out.eval.json" "$W/lexicons.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lex = {l.split()[0] for l in open(sys.argv[2])}
by = d["by_locale"]
def avg(locs):
    locs = [l for l in locs if l in by]
    return tuple(sum(by[l][k] for l in locs) / len(locs) for k in ("exact_match", "intent_accuracy", "slot_f1")) + (len(locs),)
print("all 51 targets:      EM %.2f intent %.2f slot F1 %.2f (%d locales)" % avg(by))
print("lexicon locales:     EM %.2f intent %.2f slot F1 %.2f (%d locales)" % avg(lex))
PY
say "done: $out"
