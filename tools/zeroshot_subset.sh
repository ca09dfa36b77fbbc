#!/bin/sh
# zeroshot_subset.sh OUTDIR COND...: conditions of the zero-shot protocol (docs/zeroshot.md)
# side by side on a few target locales, each trained for the same time budget, for the
# conditions of issue 10 that a subset measures (code-switching, morphology, transliteration).
#
# Labels from en-US only; the targets give their lexicons (LEXDIR/LOCALE.tsv from
# tools/lexicons.sh) and, where a condition reads it, unlabeled text; their dev partitions are
# read only by the scoring at the end.
#
#   COND  synth       en-US + the word-by-word copies of mille synth (one per locale)
#         cs          en-US + code-switching during training (--code-switch, one lexicon
#                     per locale, --cs-copies = number of locales, --cs-rate $RATE)
#         synth+cs    both
#         translit    synth, with --translit 1 (ICU transliteration as a feature)
#         morph       synth from the hunspell-inflected lexicons (MORPHDIR/LOCALE.tsv)
#
# Environment: LOCALES (fi-FI,hu-HU,tr-TR,ru-RU,pl-PL,de-DE,fr-FR), LEXDIR (/tmp/lex),
# MORPHDIR, BUDGET (seconds of training, 300), EPOCHS (6), RATE (0.5), MASSIVE, BUILD, THREADS (2).
# Each training runs under flock /tmp/mille-heavy.lock (the machine is shared), unless
# LOCK=0 (the caller holds it for the whole side-by-side run). Writes
# OUTDIR/COND.model, OUTDIR/COND.eval.json and prints one line per condition.
set -eu
out=$1
shift
M=${MASSIVE:-../shared/massive-1.1}
B=${BUILD:-build}
LEXDIR=${LEXDIR:-/tmp/lex}
LOCALES=${LOCALES:-fi-FI,hu-HU,tr-TR,ru-RU,pl-PL,de-DE,fr-FR}
BUDGET=${BUDGET:-300}
RATE=${RATE:-0.5}
THREADS=${THREADS:-2}
lock="flock /tmp/mille-heavy.lock"
[ "${LOCK:-1}" = 0 ] && lock=""
mkdir -p "$out/synth"
locs=$(echo "$LOCALES" | tr ',' ' ')
n=$(echo "$locs" | wc -w)

synth_args() { # $1: lexicon dir; $2: synth output dir
    for l in $locs; do
        f="$2/$l.jsonl"
        if [ ! -s "$f" ]; then
            "$B/mille" synth --lexicon "$1/$l.tsv" --to "$l" --data "$M/en-US.jsonl.gz" --seed 1 \
                --out "$f" 2>"$f.log"
        fi
        printf -- '--data %s ' "$f"
    done
}
cs_args() {
    for l in $locs; do printf -- '--code-switch %s=%s ' "$l" "$LEXDIR/$l.tsv"; done
    printf -- '--cs-copies %s --cs-rate %s' "$n" "$RATE"
}

for cond in "$@"; do
    case $cond in
    synth) args=$(synth_args "$LEXDIR" "$out/synth") ;;
    cs) args=$(cs_args) ;;
    synth+cs) args="$(synth_args "$LEXDIR" "$out/synth") $(cs_args)" ;;
    translit) args="$(synth_args "$LEXDIR" "$out/synth") --translit 1" ;;
    morph)
        mkdir -p "$out/synth-morph"
        args=$(synth_args "${MORPHDIR:?MORPHDIR: the inflected lexicons}" "$out/synth-morph")
        ;;
    *)
        echo "zeroshot_subset: unknown condition $cond" >&2
        exit 2
        ;;
    esac
    m="$out/$cond.model"
    # shellcheck disable=SC2086
    $lock "$B/mille" train --data "$M/en-US.jsonl.gz" $args \
        --dev-locales en-US --out "$m" --epochs "${EPOCHS:-6}" --patience 100 --time-budget "$BUDGET" \
        --threads "$THREADS" >"$out/$cond.train.json" 2>"$out/$cond.train.log"
    rm -f "$m.ckpt"
    "$B/mille" predict --model "$m" --locales "$LOCALES" --partitions dev "$M" >"$out/$cond.pred.jsonl"
    "$B/mille" eval "$M" "$out/$cond.pred.jsonl" --partition dev --locales "$LOCALES" --json \
        >"$out/$cond.eval.json"
    python3 - "$cond" "$out/$cond.eval.json" "$out/$cond.train.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
by = d["by_locale"]
t = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
avg = lambda k: sum(by[l][k] for l in by) / len(by)
cells = " ".join("%s %.1f/%.1f/%.1f" % (l, by[l]["exact_match"], by[l]["intent_accuracy"], by[l]["slot_f1"]) for l in sorted(by))
print("%-9s mean EM %.2f intent %.2f slot F1 %.2f | en-US dev EM %.2f | %s" % (
    sys.argv[1], avg("exact_match"), avg("intent_accuracy"), avg("slot_f1"), t["dev"]["exact_match"], cells))
PY
done
