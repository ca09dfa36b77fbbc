#!/bin/sh
# cli_test.sh - tests of the `mille` binary (POSIX sh). Run by `make test` as
#   MILLE=build/asan/mille MASSIVE=../shared/massive-1.1 sh tests/cli_test.sh
# Needs python3 (stdlib only) and no network. Uses the bundled sample data/sample (52
# locales, train + dev) and the fixtures tests/data/eval_*. The binary is normally the
# ASan+UBSan build, so every run is also checked for sanitizer reports.
# Ends with "N passed, N failed"; exit status 1 if anything failed.

MILLE=${MILLE:-build/mille}
SAMPLE=${SAMPLE:-data/sample}
PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/ref
REF=tests/ref
DATA=tests/data
SEEDS=${SEEDS:-"1 2 3"}
# Sanitizer reports must fail the test even where the expected exit status is 1 (ASan's).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

T=$(mktemp -d "${TMPDIR:-/tmp}/mille_cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
    if [ -s "$T/err" ]; then sed 's/^/  stderr: /' "$T/err" | head -n 8 >&2; fi
}

# run CMD...: stdout to $T/out, stderr to $T/err, exit status in $rc.
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
# check NAME RC [STDERR-PATTERN [STDOUT-PATTERN]]: the last run exited with RC, did not trip a
# sanitizer, and its stderr / stdout match the (grep -E) patterns.
check() {
    name=$1 # (sh has no local variables: names here must not clash)
    want_rc=$2
    if grep -Eq 'Sanitizer|runtime error:' "$T/err"; then
        bad "$name: sanitizer report"
        return
    fi
    if [ "$rc" -ne "$want_rc" ]; then
        bad "$name: exit status $rc, expected $want_rc"
        return
    fi
    if [ -n "$3" ] && ! grep -Eq -- "$3" "$T/err"; then
        bad "$name: stderr does not match /$3/"
        return
    fi
    if [ -n "$4" ] && ! grep -Eq -- "$4" "$T/out"; then
        bad "$name: stdout does not match /$4/"
        return
    fi
    ok
}

if [ ! -x "$MILLE" ]; then
    echo "cli_test: $MILLE is not built" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- top level ----------------------------------------------------------------------------
run "$MILLE" --help
check "mille --help" 0 "" "eval"
run "$MILLE" version
check "mille version" 0 "" "^mille [0-9]+\.[0-9]+\.[0-9]+$"
run "$MILLE"
check "mille (no command)" 2 "usage"
run "$MILLE" frobnicate
check "mille unknown command" 2 "unknown command 'frobnicate'"
run "$MILLE" version extra
check "mille version extra" 2 "unexpected argument"

# ---- eval: usage --------------------------------------------------------------------------
run "$MILLE" eval --help
check "eval --help" 0 "" "default"
run "$MILLE" eval
check "eval no args" 2 "expected GOLD and PRED"
run "$MILLE" eval "$DATA/eval_gold.jsonl"
check "eval one arg" 2 "expected GOLD and PRED"
run "$MILLE" eval a b c
check "eval three args" 2 "unexpected argument 'c'"
run "$MILLE" eval --bogus "$DATA/eval_gold.jsonl" "$DATA/eval_pred.jsonl"
check "eval unknown option" 2 "unknown option '--bogus'"
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$DATA/eval_pred.jsonl" --locales
check "eval --locales without value" 2 "needs a value"
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$DATA/eval_pred.jsonl" --partition=
check "eval empty --partition" 2 "empty"

# ---- eval: hand-worked fixture -----------------------------------------------------------
# en-US: spans gold 3 pred 2 ok 2 -> F1 80; intent 2/3; exact 1/3 (id 3 has no prediction,
# id 2 is one word short). ja-JP: spans gold 3 pred 3 ok 1 -> F1 33.3; exact 0; intent 2/2.
want='{"average": {"exact_match": 16.666667, "intent_accuracy": 83.333333, "slot_f1": 56.666667, "locales": 2}, "by_locale": {"en-US": {"n": 3, "exact_match": 33.333333, "intent_accuracy": 66.666667, "slot_f1": 80.0}, "ja-JP": {"n": 2, "exact_match": 0.0, "intent_accuracy": 100.0, "slot_f1": 33.333333}}}'
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$DATA/eval_pred.jsonl" --partition dev --json
check "eval fixture" 0 "1 duplicate predictions"
if [ "$(cat "$T/out")" != "$want" ]; then bad "eval fixture JSON: $(cat "$T/out")"; else ok; fi
grep -q 'eval_pred.jsonl:3: duplicate' "$T/err" && grep -q 'eval_gold.jsonl:3: no prediction' "$T/err" &&
    grep -q 'eval_pred.jsonl:2: text differs' "$T/err" && grep -q 'eval_pred.jsonl:4: no gold' "$T/err"
if [ $? -eq 0 ]; then ok; else bad "eval fixture: notes should name file and line"; fi
run "$PY" "$REF/massive_eval_ref.py" "$DATA/eval_gold.jsonl" "$DATA/eval_pred.jsonl" --partition dev
if [ "$(cat "$T/out")" = "$want" ]; then ok; else bad "reference on the fixture: $(cat "$T/out")"; fi
# stdin, and --locales narrowing
run sh -c "\"$MILLE\" eval \"$DATA/eval_gold.jsonl\" - --partition dev --locales ja-JP --json < \"$DATA/eval_pred.jsonl\""
check "eval PRED from stdin, --locales" 0 "" '"locales": 1}, "by_locale": \{"ja-JP"'
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$DATA/eval_pred.jsonl"
check "eval table" 0 "" "^average +6 "

# ---- eval: the sample against itself ------------------------------------------------------
for f in "$SAMPLE"/*.jsonl.gz; do gzip -dc "$f"; done >"$T/self.jsonl"
run "$MILLE" eval "$SAMPLE" "$T/self.jsonl" --json
check "sample vs itself" 0 "" '^\{"average": \{"exact_match": 100.0, "intent_accuracy": 100.0, "slot_f1": 100.0, "locales": 52\}'
if grep -q 'differs\|without\|skipped' "$T/err"; then bad "sample vs itself: unexpected notes"; else ok; fi
run "$MILLE" eval "$SAMPLE" "$T/self.jsonl" --partition dev
check "sample dev vs itself (table)" 0 "" "^average +[0-9]+ +100.00 +100.00 +100.00"

# ---- eval: perturbed predictions against the Python reference ----------------------------
for part in dev train; do
    for seed in $SEEDS; do
        rate=0.1
        [ "$seed" = 3 ] && rate=0.35
        "$PY" "$REF/perturb.py" "$SAMPLE" --seed "$seed" --rate "$rate" --partition "$part" >"$T/p.jsonl" ||
            { bad "perturb.py seed $seed"; continue; }
        "$PY" "$REF/massive_eval_ref.py" "$SAMPLE" "$T/p.jsonl" --partition "$part" >"$T/ref.json" ||
            { bad "massive_eval_ref.py seed $seed"; continue; }
        run "$MILLE" eval "$SAMPLE" "$T/p.jsonl" --partition "$part" --json
        check "perturbed $part seed $seed: mille eval" 0 "text differs"
        cp "$T/out" "$T/mille.json"
        run "$PY" "$REF/compare_json.py" "$T/mille.json" "$T/ref.json" 0.01
        check "perturbed $part seed $seed: mille = reference within 0.01" 0
    done
done

# ---- eval: bad inputs ----------------------------------------------------------------------
run "$MILLE" eval "$T/no-such-gold.jsonl" "$DATA/eval_pred.jsonl"
check "missing GOLD" 1 "no-such-gold.jsonl"
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$T/no-such-pred.jsonl"
check "missing PRED" 1 "no-such-pred.jsonl"
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$DATA/eval_pred_bad.jsonl" --partition dev
check "malformed PRED lines skipped" 0 "eval_pred_bad.jsonl:2: bad JSON"
grep -q 'eval_pred_bad.jsonl:3: annot_utt' "$T/err" && grep -q 'eval_pred_bad.jsonl:4: missing field' "$T/err"
if [ $? -eq 0 ]; then ok; else bad "malformed PRED: bad annot_utt / missing field not named"; fi
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$DATA/eval_pred_bad.jsonl" --strict
check "malformed PRED --strict" 1 "eval_pred_bad.jsonl:2: bad JSON"
# a malformed GOLD line
{ head -n 2 "$DATA/eval_gold.jsonl"; echo '{"id": "7", "locale": "en-US"'; } >"$T/gold_bad.jsonl"
run "$MILLE" eval "$T/gold_bad.jsonl" "$DATA/eval_pred.jsonl" --strict
check "malformed GOLD --strict" 1 "gold_bad.jsonl:3: "
run "$MILLE" eval "$T/gold_bad.jsonl" "$DATA/eval_pred.jsonl"
check "malformed GOLD skipped" 0 "gold_bad.jsonl:3: "
# invalid UTF-8 (a lone 0xFF byte) in annot_utt and in utt
{ head -n 1 "$DATA/eval_pred.jsonl"; printf '{"id": "2", "locale": "en-US", "intent": "x", "annot_utt": "bad \377 byte"}\n'; } >"$T/pred_utf8.jsonl"
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$T/pred_utf8.jsonl" --strict
check "invalid UTF-8 in PRED --strict" 1 "pred_utf8.jsonl:2: "
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$T/pred_utf8.jsonl"
check "invalid UTF-8 in PRED skipped" 0 "pred_utf8.jsonl:2: "
printf '{"id": "1", "locale": "en-US", "intent": "a", "utt": "x\377y", "annot_utt": "x\377y"}\n' >"$T/gold_utf8.jsonl"
run "$MILLE" eval "$T/gold_utf8.jsonl" "$DATA/eval_pred.jsonl" --strict
check "invalid UTF-8 in GOLD --strict" 1 "gold_utf8.jsonl:1: "
# a bad annot_utt in GOLD: the only record is skipped, so nothing is left to score
printf '{"id": "1", "locale": "en-US", "intent": "a", "utt": "x y", "annot_utt": "x [t : y"}\n' >"$T/gold_annot.jsonl"
run "$MILLE" eval "$T/gold_annot.jsonl" "$DATA/eval_pred.jsonl"
check "bad annot_utt in GOLD" 1 "gold_annot.jsonl:1: .*never closed"
# nothing selected
run "$MILLE" eval "$DATA/eval_gold.jsonl" "$DATA/eval_pred.jsonl" --locales xx-XX
check "no gold records selected" 1 "no gold records"
# a corrupt gzip file
gzip -c "$DATA/eval_gold.jsonl" | head -c 60 >"$T/trunc.jsonl.gz"
run "$MILLE" eval "$T/trunc.jsonl.gz" "$DATA/eval_pred.jsonl"
check "truncated .jsonl.gz" 1 "trunc.jsonl.gz"
# a directory without data
mkdir "$T/empty"
run "$MILLE" eval "$T/empty" "$DATA/eval_pred.jsonl"
check "empty GOLD directory" 1 "no \.jsonl"

# ---- train / predict / inspect --------------------------------------------------------------
# a tiny model on two locales of the sample: train -> inspect -> predict -> eval round trip
run "$MILLE" train --data "$SAMPLE" --locales en-US,ja-JP --out "$T/m.model" --epochs 2 \
    --hidden 32 --dim 16 --buckets 4096 --quiet
check "train a tiny model" 0 "" '"exact_match"'
run "$MILLE" inspect "$T/m.model"
check "inspect" 0 "" '"arch": "hashcnn"'
printf 'wake me up at nine am\n今週は午前五時に起こして\n\n' >"$T/plain.txt"
run "$MILLE" predict --model "$T/m.model" "$T/plain.txt"
check "predict plain text" 0 "" '"annot_utt"'
[ "$(wc -l <"$T/out")" -eq 2 ] && ok || bad "predict plain text: expected 2 lines"
run "$MILLE" predict --model "$T/m.model" "$SAMPLE/ja-JP.jsonl.gz"
check "predict MASSIVE file" 0 "" '"locale":"ja-JP"'
cp "$T/out" "$T/ja.pred.jsonl"
run "$MILLE" eval "$SAMPLE/ja-JP.jsonl.gz" "$T/ja.pred.jsonl" --partition dev
check "eval of predictions: every annot_utt parses" 0 "" "ja-JP"
if grep -q "text differs\|bad annot_utt" "$T/err"; then bad "predicted annot_utt not scorable"; else ok; fi
printf 'a\377b\n' >"$T/badutf8.txt"
run "$MILLE" predict --model "$T/m.model" "$T/badutf8.txt"
check "predict: invalid UTF-8 line named, exit 1" 1 "badutf8.txt:1: .*invalid UTF-8"
# a NUL byte is part of the line, not its end: the line is named and skipped (it used to be
# cut silently to "wake me up"), the other lines are predicted, and the exit status is 1
printf 'wake me up\000 at five am\nplay some jazz\n' >"$T/nul.txt"
run "$MILLE" predict --model "$T/m.model" "$T/nul.txt"
check "predict: NUL byte named, exit 1" 1 "nul.txt:1: NUL byte at byte 10"
[ "$(wc -l <"$T/out")" -eq 1 ] && grep -q '"utt":"play some jazz"' "$T/out" && ok ||
    bad "predict NUL: expected only the second line's prediction"
gzip -c "$T/nul.txt" >"$T/nul.txt.gz"
run "$MILLE" predict --model "$T/m.model" "$T/nul.txt.gz"
check "predict: NUL byte in a .gz line" 1 "nul.txt.gz:1: NUL byte"
# every line failing is exit 1 too (it was 0), with a count
printf 'a\377\n\000\n' >"$T/allbad.txt"
run "$MILLE" predict --model "$T/m.model" "$T/allbad.txt"
check "predict: every line failed, exit 1" 1 "2 utterances could not be parsed"
# a line over the 64 KiB line limit is skipped and named; the next line still parses
"$PY" -c 'import sys; sys.stdout.write("a " * 40000 + "\nplay some jazz\n")' >"$T/long.txt"
run "$MILLE" predict --model "$T/m.model" "$T/long.txt"
check "predict: long line named, exit 1" 1 "long.txt:1: line longer than"
grep -q '"utt":"play some jazz"' "$T/out" && ok || bad "predict long line: next line lost"
# more words than the per-text limit (256): MILLE_ELIMIT, named with both numbers
"$PY" -c 'import sys; sys.stdout.write("a " * 300 + "\n")' >"$T/words.txt"
run "$MILLE" predict --model "$T/m.model" "$T/words.txt"
check "predict: too many words" 1 "words.txt:1: text has 300 words, the limit is 256"
# the server's word limits are options with their defaults in --help, checked as integers
run "$MILLE" serve --help
check "serve --help lists the word limits" 0 "" "--max-batch-words N words of one request.*default 4096"
run "$MILLE" serve --model "$T/m.model" --max-words 0
check "serve --max-words 0 is a usage error" 2 "--max-words must be an integer in 1"
# a model path that is a FIFO fails at once (the open does not wait for a writer)
mkfifo "$T/fifo.model"
run "$MILLE" predict --model "$T/fifo.model" "$T/plain.txt"
check "predict --model FIFO: error, no hang" 1 "fifo.model: not a regular file"
run "$MILLE" train --data "$SAMPLE"
check "train without --out" 2 "required"
run "$MILLE" train --data "$SAMPLE" --out "$T/x.model" --epochs zero
check "train bad number" 2 "--epochs"
run "$MILLE" train --data "$T/nonexistent" --out "$T/x.model" --quiet
check "train missing data" 1 "nonexistent"
head -c 1000 "$T/m.model" >"$T/trunc.model"
run "$MILLE" predict --model "$T/trunc.model" "$T/plain.txt"
check "predict truncated model" 1 "trunc.model"
run "$MILLE" inspect "$SAMPLE/en-US.jsonl.gz"
check "inspect foreign file" 1 "not a mille model"
run env MILLE_MODEL="$T/env-missing.model" "$MILLE" predict "$T/plain.txt"
check "predict without --model loads \$MILLE_MODEL" 1 "env-missing.model"
gzip -dc "$SAMPLE/fr-FR.jsonl.gz" | head -n 3 >"$T/fr3.jsonl"
run sh -c "\"$MILLE\" predict --model \"$T/m.model\" < \"$T/fr3.jsonl\""
check "predict MASSIVE records on stdin" 0 "" '"locale":"fr-FR"'
[ "$(wc -l <"$T/out")" -eq 3 ] && ok || bad "predict stdin records: expected 3 lines"
# resume a finished run's checkpoint: continues from its last step, still writes the model
run "$MILLE" train --data "$SAMPLE" --locales en-US,ja-JP --out "$T/m.model" --epochs 2 \
    --hidden 32 --dim 16 --buckets 4096 --quiet --resume
check "train --resume" 0 "" '"exact_match"'

# ---- the shipped model -----------------------------------------------------------------------
# models/mille.model: its checksum, and its parses of data/demo.txt (11 languages, 8 scripts)
# against the ones recorded when it was made (intent and annotation; the int8 kernels give the
# same integers on every CPU, so only a changed model or a changed parse path moves them)
if (cd models && sha256sum -c mille.model.sha256 >/dev/null 2>&1); then ok; else
    bad "models/mille.model does not match models/mille.model.sha256"
fi
run "$MILLE" predict data/demo.txt
check "predict without --model uses the shipped model" 0 "" '"annot_utt"'
$PY -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["intent"] + "\t" + r["annot_utt"])' "$T/out" >"$T/shipped.tsv"
if cmp -s "$T/shipped.tsv" tests/data/shipped_demo.tsv; then ok; else
    bad "shipped model: parses of data/demo.txt differ from tests/data/shipped_demo.tsv"
    diff tests/data/shipped_demo.tsv "$T/shipped.tsv" | head -n 10 >&2
fi

# ---- distill ---------------------------------------------------------------------------------
# the tiny model teaches a smaller student, with perturbed copies and an unlabeled text file
printf 'wake me up at nine am\nplay some jazz\n' >"$T/en-US.txt"
run "$MILLE" distill --teacher "$T/m.model" --data "$SAMPLE" --locales en-US,ja-JP \
    --unlabeled "$T/en-US.txt" --out "$T/s.model" --epochs 1 --hidden 16 --dim 8 \
    --buckets 2048 --layers 2
check "distill a student" 0 "teachers: 1 labeled .* utterances" '"exact_match"'
grep -q "2 unlabeled" "$T/err" && ok || bad "distill: the 2 unlabeled lines were not read"
run "$MILLE" predict --model "$T/s.model" "$T/plain.txt"
check "predict with the student" 0 "" '"annot_utt"'
run "$MILLE" predict --model "$T/m.model" --model "$T/s.model" "$T/plain.txt"
check "predict with an ensemble of two models" 0 "" '"annot_utt"'
[ "$(wc -l <"$T/out")" -eq 2 ] && ok || bad "ensemble predict: expected 2 lines"
run "$MILLE" predict --model "$T/m.model" --model "$T/nonexistent.model" "$T/plain.txt"
check "ensemble with a missing member" 1 "nonexistent.model"
# the perturbation rates are the user's: all zero makes no copy, typos alone make copies
run "$MILLE" distill --teacher "$T/m.model" --data "$SAMPLE" --locales en-US --out "$T/x.model" \
    --epochs 1 --hidden 16 --dim 8 --buckets 2048 --layers 2 --drop 0 --repeat 0 --typos 0 --swap 0
check "distill with no perturbation" 0 " 0 perturbed copies" '"exact_match"'
run "$MILLE" distill --teacher "$T/m.model" --data "$SAMPLE" --locales en-US --out "$T/x.model" \
    --epochs 1 --hidden 16 --dim 8 --buckets 2048 --layers 2 --drop 0 --repeat 0 --typos 1 --swap 0 --copy-labels teacher
check "distill with typos only" 0 "typos 1 swap 0, teacher labels" '"exact_match"'
grep -q " 0 perturbed copies" "$T/err" && bad "distill --typos 1: no copies were made" || ok
run "$MILLE" distill --teacher "$T/m.model" --data "$SAMPLE" --out "$T/x.model" --typos 0.6 \
    --drop 0.5
check "distill perturbation rates over 1" 2 "must be <= 1"
run "$MILLE" distill --teacher "$T/m.model" --data "$SAMPLE" --out "$T/x.model" --copy-labels gold
check "distill bad --copy-labels" 2 "neither mixed nor teacher"
run "$MILLE" distill --data "$SAMPLE" --out "$T/x.model"
check "distill without --teacher" 2 "required"
run "$MILLE" distill --teacher "$T/m.model" --data "$SAMPLE" --out "$T/x.model" --alpha 2
check "distill bad --alpha" 2 "--alpha"
run "$MILLE" distill --teacher "$T/nonexistent.model" --data "$SAMPLE" --out "$T/x.model" --quiet
check "distill missing teacher" 1 "nonexistent.model"
run "$MILLE" distill --teacher "$T/m.model" --data "$SAMPLE" --locales en-US \
    --unlabeled "$T/plain.txt" --out "$T/x.model" --quiet
check "distill unlabeled file without a locale name" 1 "plain.txt.*named like its locale"

# ---- synth / lexicons ----------------------------------------------------------------------
# word-by-word synthesis of the sample's en-US train records with the TSV word lists and the
# tiny FreeDict dictionary of tests/data/lexicon; every output must read back through eval
LEX=$DATA/lexicon
run "$MILLE" synth --help
check "synth --help" 0 "" "default 1"
run "$MILLE" synth --lexicon "$LEX/en-fr.tsv" --data "$SAMPLE"
check "synth without --to" 2 "required"
run "$MILLE" synth --lexicon "$LEX/en-fr.tsv" --data "$SAMPLE" --to fr-FR --seed x
check "synth bad --seed" 2 "--seed"
run "$MILLE" synth --lexicon "$LEX/en-fr.tsv" --to fr-FR --data "$SAMPLE" --seed 3 --out "$T/synth.jsonl"
check "synth sample en-US -> fr-FR" 0 "332 records en-US/train -> fr-FR written, 0 skipped"
grep -Eq 'words translated [0-9.]+% \([0-9]+/[0-9]+\), slot words [0-9.]+%' "$T/err" &&
    grep -q 'top untranslated: ' "$T/err"
if [ $? -eq 0 ]; then ok; else bad "synth: report lacks coverage / untranslated words"; fi
want='{"id":"synth-207","locale":"fr-FR","partition":"train","scenario":"weather","intent":"weather_query","utt":"dis moi la météo dans shanghai","annot_utt":"dis moi la météo dans [place_name : shanghai]"}'
if [ "$(grep '"synth-207"' "$T/synth.jsonl")" = "$want" ]; then ok; else bad "synth record 207: $(grep '"synth-207"' "$T/synth.jsonl")"; fi
run "$MILLE" synth --lexicon "$LEX/en-fr.tsv" --to fr-FR --data "$SAMPLE" --seed 3 --quiet
check "synth to stdout, --quiet" 0
if cmp -s "$T/out" "$T/synth.jsonl" && [ ! -s "$T/err" ]; then ok; else bad "synth: same seed, different output (or a report despite --quiet)"; fi
run "$MILLE" eval "$T/synth.jsonl" "$T/synth.jsonl" --json
check "synth output reads back (fr-FR)" 0 "" '"exact_match": 100.0, "intent_accuracy": 100.0, "slot_f1": 100.0, "locales": 1'
if grep -q 'skipped\|differs' "$T/err"; then bad "synth output: records skipped on reading"; else ok; fi
run "$MILLE" synth --lexicon "$LEX/en-ja.tsv" --to ja-JP --data "$SAMPLE" --out "$T/synth_ja.jsonl"
check "synth sample en-US -> ja-JP" 0 "332 records"
want='{"id":"synth-207","locale":"ja-JP","partition":"train","scenario":"weather","intent":"weather_query","utt":"教えて私にthe天気のshanghai","annot_utt":"教えて私にthe天気の [place_name : shanghai]"}'
if [ "$(grep '"synth-207"' "$T/synth_ja.jsonl")" = "$want" ]; then ok; else bad "synth ja record 207: $(grep '"synth-207"' "$T/synth_ja.jsonl")"; fi
run "$MILLE" eval "$T/synth_ja.jsonl" "$T/synth_ja.jsonl" --json
check "synth output reads back (ja-JP)" 0 "" '"slot_f1": 100.0, "locales": 1'
run "$MILLE" synth --lexicon "$LEX/freedict-eng-fra.index" --lexicon "$LEX/en-fr.tsv" --to fr-FR \
    --data "$SAMPLE" --partition dev --drop-unknown --out -
check "synth FreeDict + TSV, dev, --drop-unknown" 0 "freedict-eng-fra.index: 16 entries" '"locale":"fr-FR"'
printf 'alarm\talarme\nwake reveille\n' >"$T/bad.tsv"
run "$MILLE" synth --lexicon "$T/bad.tsv" --to fr-FR --data "$SAMPLE"
check "synth bad lexicon" 1 "bad.tsv:2: expected 'source<TAB>target'"
run "$MILLE" synth --lexicon "$T/none.index" --to fr-FR --data "$SAMPLE"
check "synth missing lexicon" 1 "none.index"
run "$MILLE" synth --lexicon "$LEX/en-fr.tsv" --to fr-FR --data "$SAMPLE/en-US.jsonl.gz" --from xx-XX
check "synth no records" 1 "no xx-XX records"
run "$MILLE" lexicons --help
check "lexicons --help" 0 "" "default /usr/share/dictd"
run "$MILLE" lexicons "$LEX"
check "lexicons DIR" 0 "" "^freedict-eng-fra +fra +fr-FR +16  English-French test dictionary ver\. 0\.1$"
grep -q "none for: af-ZA .*de-DE" "$T/out" && ok || bad "lexicons: uncovered locales not listed"
run "$MILLE" lexicons --json "$LEX"
check "lexicons --json" 0 "" '^\{"dictionary":"freedict-eng-fra","code":"fra","locale":"fr-FR","entries":16,'
run "$MILLE" lexicons --dump "$LEX/freedict-eng-fra.index"
check "lexicons --dump" 0 "16 entries" "^alarm clock	réveil-matin$"
run "$MILLE" lexicons "$T/nonexistent"
check "lexicons missing DIR" 1 "nonexistent"
run "$MILLE" lexicons --bogus
check "lexicons unknown option" 2 "unknown option"

# ---- perturb ------------------------------------------------------------------------------
run "$MILLE" perturb --help
check "perturb --help" 0 "" "--typos P"
run "$MILLE" perturb "$SAMPLE" --out "$T/pert0.jsonl"
check "perturb with no noise" 0 "records, 0 changed; 0 of [0-9]+ words changed"
# with no noise every dev record comes back as it was: utt and annot_utt byte for byte
$PY - "$SAMPLE" "$T/pert0.jsonl" <<'PYEOF' && ok || bad "perturb with no noise changed records"
import gzip, json, os, sys
src = {}
for f in os.listdir(sys.argv[1]):
    if f.endswith(".jsonl.gz"):
        for l in gzip.open(os.path.join(sys.argv[1], f), "rt", encoding="utf-8"):
            j = json.loads(l)
            if j["partition"] == "dev":
                src[(j["locale"], j["id"])] = (j["utt"], j["annot_utt"], j["intent"])
out = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
sys.exit(not (len(out) == len(src) and
              all(src[(j["locale"], j["id"])] == (j["utt"], j["annot_utt"], j["intent"]) for j in out)))
PYEOF
run "$MILLE" perturb "$SAMPLE" --typos 0.3 --seed 7 --out "$T/pert30.jsonl"
check "perturb --typos 0.3" 0 "records, [1-9][0-9]* changed; [1-9][0-9]* of [0-9]+ words changed"
# typos keep the words and their labels: every slot has as many words as before, one edit each
$PY - "$SAMPLE" "$T/pert30.jsonl" <<'PYEOF' && ok || bad "perturb --typos: labels not aligned"
import gzip, json, os, re, sys
def slots(a):
    return [(m.group(1), len(m.group(2).split())) for m in re.finditer(r"\[(\S+) : ([^\]]*)\]", a)]
src = {}
for f in os.listdir(sys.argv[1]):
    if f.endswith(".jsonl.gz"):
        for l in gzip.open(os.path.join(sys.argv[1], f), "rt", encoding="utf-8"):
            j = json.loads(l)
            src[(j["locale"], j["id"])] = j
n_changed = 0
for l in open(sys.argv[2], encoding="utf-8"):
    j = json.loads(l)
    o = src[(j["locale"], j["id"])]
    if j["locale"] not in ("ja-JP", "zh-CN", "zh-TW"):
        assert len(j["utt"].split()) == len(o["utt"].split()), (o["utt"], j["utt"])
        assert slots(j["annot_utt"]) == slots(o["annot_utt"]), (o["annot_utt"], j["annot_utt"])
        for a, b in zip(o["utt"].split(), j["utt"].split()):
            assert a == b or abs(len(a) - len(b)) <= 1, (a, b)
    n_changed += j["utt"] != o["utt"]
assert n_changed > 50, n_changed
PYEOF
run "$MILLE" eval "$T/pert30.jsonl" "$T/pert30.jsonl" --json
check "perturb output reads back" 0 "" '"exact_match": 100.0, "intent_accuracy": 100.0, "slot_f1": 100.0'
run "$MILLE" perturb "$SAMPLE" --typos 0.3 --seed 7
check "perturb to stdout" 0
if cmp -s "$T/out" "$T/pert30.jsonl"; then ok; else bad "perturb: same seed, different output"; fi
run "$MILLE" perturb "$SAMPLE" --typos 0.3 --seed 8
if cmp -s "$T/out" "$T/pert30.jsonl"; then bad "perturb: the seed changes nothing"; else ok; fi
run "$MILLE" perturb "$SAMPLE" --typos 0.5 --drop 0.3 --repeat 0.3
check "perturb probabilities over 1" 2 "at most 1"
run "$MILLE" perturb "$SAMPLE" --typos 2
check "perturb bad --typos" 2 "--typos"
run "$MILLE" perturb
check "perturb without DATA" 2 "DATA is required"
run "$MILLE" perturb "$T/nonexistent.jsonl"
check "perturb missing file" 1 "nonexistent.jsonl"
run "$MILLE" perturb "$SAMPLE" --locales xx-XX
check "perturb no records" 1 "no records"

# training data without a dev partition: trains (no dev selection), no sanitizer report
zcat "$SAMPLE/en-US.jsonl.gz" | grep '"partition": *"train"' >"$T/trainonly.jsonl"
run "$MILLE" train --data "$T/trainonly.jsonl" --out "$T/trainonly.model" --epochs 1 --hidden 16 \
    --dim 8 --buckets 2048 --layers 2 --quiet
check "train without a dev partition" 0 "" '"locales": 0, "n": 0'

# ---- pretrain / train --init / predict filters ----------------------------------------------
run "$MILLE" pretrain --text "$SAMPLE" --locales en-US,fr-FR --lexicon "$LEX/en-fr.tsv" \
    --out "$T/pre.model" --buckets 4096 --dim 8 --epochs 2 --quiet
check "pretrain" 0 "" '"utterances": 664'
run "$MILLE" inspect "$T/pre.model"
check "inspect a pretrained file" 0 "" '"pretrained": true'
run "$MILLE" predict --model "$T/pre.model" "$T/plain.txt"
check "predict refuses a pretrained file" 1 "pretrained embedding"
run "$MILLE" train --data "$SAMPLE/en-US.jsonl.gz" --data "$T/synth_ja.jsonl" --dev-locales en-US \
    --init "$T/pre.model" --out "$T/init.model" --epochs 1 --hidden 16 --layers 2 --quiet
check "train --init with two --data and --dev-locales" 0 "" '"locales": 1'
run "$MILLE" inspect "$T/init.model"
check "train --init keeps the pretrained feature settings" 0 "" '"buckets": 4096'
run "$MILLE" predict --model "$T/init.model" --locales fr-FR --partitions dev "$SAMPLE"
check "predict --locales --partitions" 0 "" '"partition":"dev"'
[ "$(wc -l <"$T/out")" -eq 107 ] && ok || bad "predict filters: expected 107 lines"
gzip -dc "$SAMPLE/fr-FR.jsonl.gz" | python3 -c 'import json,sys
for l in sys.stdin: print(json.loads(l)["utt"])' >"$T/fr-FR.txt"
run "$MILLE" pretrain --text "$T/fr-FR.txt" --out "$T/pre_txt.model" --buckets 4096 --dim 8 \
    --epochs 1 --quiet
check "pretrain on plain text" 0 "" '"utterances": 439'
run "$MILLE" inspect "$T/pre_txt.model"
check "pretrain takes the locale of a text file's name" 0 "" '"fr-FR"'
run "$MILLE" train --data "$SAMPLE/en-US.jsonl.gz" --init "$T/pre_txt.model" --out "$T/init2.model" \
    --epochs 1 --hidden 16 --layers 2 --quiet
run "$MILLE" inspect "$T/init2.model"
check "train --init adds the pretrained locales" 0 "" '"fr-FR"'
printf '\n\n' >"$T/empty.txt"
run "$MILLE" pretrain --text "$T/empty.txt" --out "$T/x.model" --quiet
check "pretrain on empty text" 1 "nothing to learn"
run "$MILLE" pretrain --text "$T/missing.txt" --out "$T/x.model" --quiet
check "pretrain missing text" 1 "missing.txt"
run "$MILLE" pretrain --text "$T/empty.txt"
check "pretrain without --out" 2 "--out"
run "$MILLE" train --data "$SAMPLE" --out "$T/x.model" --init "$T/missing.model" --quiet
check "train --init missing file" 1 "missing.model"

# ---- int8 ----------------------------------------------------------------------------------
# a model file written by the previous format (version 1, the mille before int8) predicts
# what that mille predicted (recorded in tests/data/model_v1.expected.jsonl)
run "$MILLE" predict --model "$DATA/model_v1.mille" data/demo.txt
check "predict with a version-1 model file" 0
$PY -c 'import json,sys
exp = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
keys = ("utt", "intent", "annot_utt")
bad = [(e, g) for e, g in zip(exp, got) if any(e[k] != g[k] for k in keys)]
sys.exit(1 if bad or len(exp) != len(got) else 0)' "$DATA/model_v1.expected.jsonl" "$T/out" &&
    ok || bad "version-1 model: predictions differ from tests/data/model_v1.expected.jsonl"
run "$MILLE" quantize "$DATA/model_v1.mille" --out "$T/q.model"
check "quantize" 0 "" "model_v1.mille: [0-9]+ bytes -> .*q.model: [0-9]+ bytes \(int8"
run "$MILLE" inspect "$T/q.model"
check "inspect shows the int8 dtype" 0 "" '"i8": 5'
run "$MILLE" predict --model "$T/q.model" data/demo.txt
check "predict with an int8 model" 0 "" '"annot_utt"'
[ "$(wc -l <"$T/out")" -eq "$(wc -l <data/demo.txt)" ] && ok || bad "int8 predict: line count"
run "$MILLE" quantize "$T/q.model" --out "$T/q2.model"
check "quantize an int8 model" 1 "already int8"
run "$MILLE" quantize "$DATA/model_v1.mille"
check "quantize without --out" 2 "--out is required"
run "$MILLE" quantize "$T/missing.model" --out "$T/q3.model"
check "quantize a missing file" 1 "missing.model"
[ ! -e "$T/q3.model" ] && ok || bad "quantize of a missing file wrote its output"
run "$MILLE" quantize --help
check "quantize --help" 0 "" "usage: mille quantize"

# ---- progress arrives while a long command runs (issue 14 #1) -------------------------------
# live NAME PATTERN CMD...: CMD runs with stdout and stderr to a file; PATTERN must show up in
# the file while CMD is still running (not only when it exits and its buffers are flushed).
# stdbuf -e makes stderr fully buffered, as a wrapper or a libc could: the lines must still
# come at once (the commands flush them).
STDBUF=""
command -v stdbuf >/dev/null 2>&1 && STDBUF="stdbuf -e 65536"
live() {
    name=$1 pat=$2
    shift 2
    # (stdbuf works by LD_PRELOAD, which ASan must be told to accept)
    ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" $STDBUF "$@" >"$T/live.log" 2>&1 &
    pid=$!
    seen=0
    while kill -0 "$pid" 2>/dev/null; do
        if grep -Eq -- "$pat" "$T/live.log"; then
            seen=1
            break
        fi
        sleep 0.05
    done
    wait "$pid"
    rc=$?
    if [ $seen -eq 1 ] && [ $rc -eq 0 ]; then
        ok
    elif [ $rc -ne 0 ]; then
        bad "$name: exit status $rc: $(tail -3 "$T/live.log")"
    elif grep -Eq -- "$pat" "$T/live.log"; then
        bad "$name: /$pat/ reached the file only when the command ended"
    else
        bad "$name: no /$pat/ in its output"
    fi
}
live "train: per-epoch lines reach a file at once" "epoch 1: dev exact" \
    "$MILLE" train --data "$SAMPLE" --locales en-US,fr-FR --out "$T/live.model" --epochs 4 \
    --hidden 16 --dim 8 --buckets 2048 --layers 2
live "distill: per-epoch lines reach a file at once" "epoch 1: dev exact" \
    "$MILLE" distill --teacher "$T/live.model" --data "$SAMPLE" --locales en-US,fr-FR \
    --out "$T/live_s.model" --epochs 4 --hidden 16 --dim 8 --buckets 2048 --layers 2
live "pretrain: progress lines reach a file at once" "^epoch 1/" \
    "$MILLE" pretrain --text "$SAMPLE" --locales en-US,fr-FR --out "$T/live_p.model" \
    --buckets 4096 --dim 8 --epochs 40
# (synth has no epochs: its lines go to stderr as it goes, and it ends in a second here)

# ---- mille convert (issue 14 #5) -------------------------------------------------------------
# round trips on the sample: MASSIVE -> Rasa YAML -> MASSIVE and MASSIVE -> Snips -> MASSIVE
# give back the same records (intent, scenario, utt, annot_utt), in whitespace and
# character-split locales
for L in en-US ja-JP; do
    run "$MILLE" convert --from massive --locale $L "$SAMPLE" --to rasa --out "$T/c.yml"
    check "convert massive -> rasa ($L)" 0 "439 examples written, 0 skipped"
    run "$MILLE" convert --from rasa --locale $L "$T/c.yml" --out "$T/c_r.jsonl"
    check "convert rasa -> massive ($L)" 0 "439 examples written, 0 skipped"
    run "$MILLE" convert --from massive --locale $L "$SAMPLE" --to snips --out "$T/c.json"
    check "convert massive -> snips ($L)" 0 "439 examples written"
    run "$MILLE" convert --from snips --locale $L "$T/c.json" --to massive --out "$T/c_s.jsonl"
    check "convert snips -> massive ($L)" 0 "439 examples written"
    $PY -c 'import gzip,json,sys
key = lambda r: (r["intent"], r["scenario"], r["utt"], r["annot_utt"], r["locale"])
want = sorted(key(json.loads(l)) for l in gzip.open(sys.argv[1], "rt", encoding="utf-8"))
for p in sys.argv[2:]:
    got = sorted(key(json.loads(l)) for l in open(p, encoding="utf-8"))
    if got != want:
        print(p, len(got), len(want), [a for a, b in zip(got, want) if a != b][:2]); sys.exit(1)' \
        "$SAMPLE/$L.jsonl.gz" "$T/c_r.jsonl" "$T/c_s.jsonl" >"$T/err" 2>&1 &&
        ok || bad "convert round trips ($L) differ from the sample: $(cat "$T/err")"
done
run "$MILLE" train --data "$T/c_r.jsonl" --out "$T/c.model" --epochs 1 --hidden 16 --dim 8 \
    --buckets 2048 --layers 2 --quiet
check "train reads what convert wrote" 0 "" '"exact_match"'
# a Rasa file with both annotation forms, a synonym, a lookup and a literal bracket
cat >"$T/nlu.yml" <<'YML'
version: "3.1"
nlu:
- intent: alarm_set
  examples: |
    - wake me up at [five am](time)
    - set an alarm for [tomorrow]{"entity": "date"} at [six](time:06:00)
    - hi [there
- lookup: city
  examples: |
    - paris
YML
run "$MILLE" convert --from rasa "$T/nlu.yml" --out "$T/n.jsonl"
check "convert rasa: notes name file:line:column" 0 "nlu.yml:6:56: entity synonym"
grep -q 'nlu.yml:8:3: "lookup" item skipped' "$T/err" && grep -q "nlu.yml:7: .*no escape" "$T/err" &&
    ok || bad "convert rasa: notes for the lookup and the bracket"
grep -q '"annot_utt":"set an alarm for \[date : tomorrow\] at \[time : six\]"' "$T/n.jsonl" &&
    ok || bad "convert rasa: annot_utt of the JSON-form example: $(cat "$T/n.jsonl")"
run "$MILLE" convert --from rasa "$T/nlu.yml" --out "$T/n2.jsonl" --strict
check "convert --strict: the first loss is an error" 1 "nlu.yml:6:56: entity synonym"
[ ! -e "$T/n2.jsonl" ] && ok || bad "convert --strict wrote its output after an error"
# malformed files: file:line(:column), nothing written, an older output left as it was
printf 'nlu:\n- intent: a\n  examples: |\n    - ok [x](y\n' >"$T/bad1.yml"
printf 'nlu:\n  - intent: a\n   examples: x\n' >"$T/bad2.yml"
printf '{"intents": {"a":\n {"utterances": [}}' >"$T/bad3.json"
printf '{"intents": {"a": {"utterances": [{"data": [{"text": 1}]}]}}}' >"$T/bad4.json"
echo keep >"$T/old.jsonl"
run "$MILLE" convert --from rasa "$T/bad1.yml" --out "$T/old.jsonl"
check "convert: unclosed annotation" 1 "bad1.yml:4:10: entity annotation"
run "$MILLE" convert --from rasa "$T/bad2.yml" --out "$T/old.jsonl"
check "convert: YAML syntax error" 1 "bad2.yml:3:4: YAML"
run "$MILLE" convert --from snips "$T/bad3.json" --out "$T/old.jsonl"
check "convert: JSON syntax error" 1 "bad3.json:2:[0-9]+: JSON"
run "$MILLE" convert --from snips "$T/bad4.json" --out "$T/old.jsonl"
check "convert: Snips structure error names the path" 1 'intents."a".utterances\[0\].data\[0\]'
[ "$(cat "$T/old.jsonl")" = keep ] && ok || bad "convert overwrote its output after an error"
run "$MILLE" convert --from massive --locale xx-XX "$SAMPLE" --out "$T/x.jsonl"
check "convert: no records of the locale" 1 "no examples of locale xx-XX"
run "$MILLE" convert --from yaml "$T/nlu.yml" --out "$T/x.jsonl"
check "convert: unknown format" 2 "unknown format 'yaml'"
run "$MILLE" convert --from rasa "$T/nlu.yml"
check "convert without --out" 2 "required"
run "$MILLE" convert --help
check "convert --help" 0 "" "usage: mille convert"
# ---- embed -----------------------------------------------------------------------------------
# utterance vectors of the tiny model: unit length, one line per utterance, errors named
run "$MILLE" embed --help
check "embed --help" 0 "" "usage: mille embed"
run "$MILLE" embed --model "$T/m.model" "$T/plain.txt"
check "embed plain text" 0 "" '"vector":\['
$PY -c 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ok = len(rows) == 2 and all(abs(sum(x * x for x in r["vector"]) - 1) < 1e-3 for r in rows)
ok = ok and len({len(r["vector"]) for r in rows}) == 1 and rows[0]["vector"] != rows[1]["vector"]
sys.exit(0 if ok else 1)' "$T/out" && ok || bad "embed: expected 2 unit vectors of one length"
run "$MILLE" embed --model "$T/m.model" --partitions dev "$SAMPLE/ja-JP.jsonl.gz"
check "embed MASSIVE file" 0 "" '"locale":"ja-JP"'
run "$MILLE" embed --model "$T/m.model" "$T/nul.txt"
check "embed: NUL byte named, exit 1" 1 "nul.txt:1: NUL byte at byte 10"
run "$MILLE" embed --model "$T/m.model" "$T/badutf8.txt"
check "embed: invalid UTF-8 named, exit 1" 1 "badutf8.txt:1: .*invalid UTF-8"
run "$MILLE" embed --model "$T/m.model" --bogus
check "embed unknown option" 2 "unknown option"

# ---- lexicons --coverage / --build (merged lexicons from several sources) -------------------
mkdir -p "$T/lexsrc" "$T/lexout"
printf 'wake\tdesteapta\nalarm\talarmă\n' >"$T/lexsrc/eng-ron.tsv"
printf 'song\tcanción\n' >"$T/lexsrc/eng-spa.tsv"
printf 'canción\tcântec\n' >"$T/lexsrc/spa-ron.tsv"
printf '0\t1\tm\tm\n1\t2\te\te\n2\t3\t<prn>\t<prn>\n3\n' >"$T/lexsrc/eng-ron.att"
run "$MILLE" lexicons --coverage --help
check "lexicons --coverage --help" 0 "" "usage: mille lexicons --coverage"
run "$MILLE" lexicons --coverage --source "$T/lexsrc" --data "$SAMPLE" --locales ro-RO,fr-FR \
    --build "$T/lexout"
check "lexicons --coverage --build" 0 "" "^ro-RO +[0-9]+ .*eng-ron.tsv.*eng-ron.att.*pivots spa"
grep -q "^fr-FR .*cldr (icu)" "$T/out" && ok || bad "lexicons --coverage: fr-FR lacks CLDR"
grep -q "^song	cântec	pivot1	0	pivot spa" "$T/lexout/ro-RO.tsv" && ok ||
    bad "lexicons --build: ro-RO.tsv lacks the pivot entry"
run "$MILLE" synth --lexicon "$T/lexout/ro-RO.tsv" --to ro-RO --data "$SAMPLE" --out "$T/ro.jsonl"
check "synth with a merged lexicon" 0 "332 records"
run "$MILLE" lexicons --coverage --source "$T/lexsrc" --data "$SAMPLE" --locales ro-RO --json --no-cldr
check "lexicons --coverage --json" 0 "" '^\{"locale":"ro-RO","entries":4,"direct":2,"apertium":1,"pivot2":0,"pivot1":1,'
printf '0\t1\tm\n' >"$T/lexsrc/spa-ita.att"
run "$MILLE" lexicons --coverage --source "$T/lexsrc" --data "$SAMPLE" --locales ro-RO
check "lexicons --coverage: broken source named" 1 "spa-ita.att:1: expected"
run "$MILLE" lexicons --coverage --source "$T/lexsrc/nothing.index" --data "$SAMPLE"
check "lexicons --coverage: missing source" 1 "nothing.index"
# ---- calibration and rejection (issue 14) --------------------------------------------------
# the model trained above was calibrated on the sample's dev records
run "$MILLE" inspect "$T/m.model"
check "train stores a calibration" 0 "" '"reject_below": 0\.[0-9]+'
run "$MILLE" calibrate "$T/m.model" --data "$SAMPLE" --locales en-US,ja-JP --out "$T/c.model"
check "calibrate" 0 "wrote .*c.model" "^temperature [0-9.]+ .*threshold [0-9.]+ keeps 95%"
grep -Eq '^en-US +[0-9]+ +0 ' "$T/out" && grep -Eq '^average ' "$T/out" && ok || bad "calibrate: table rows"
run "$MILLE" calibrate "$T/m.model" --data "$SAMPLE" --locales en-US --json --recall 0.9
check "calibrate --json" 0 "" '^\{"temperature": [0-9.]+, "temperature_folds": \[.*"recall": 0.9'
# out-of-scope records: the sample's en-US dev data with its intents renamed to unknown ones
gzip -dc "$SAMPLE/en-US.jsonl.gz" | sed 's/"intent": "/"intent": "unseen_/' | head -n 20 >"$T/oos.jsonl"
gzip -dc "$SAMPLE/en-US.jsonl.gz" >>"$T/oos.jsonl"
run "$MILLE" calibrate "$T/m.model" --data "$T/oos.jsonl" --partition train,dev --json
check "calibrate with out-of-scope records" 0 "" '"n_oos": [1-9][0-9]*, .*"scores": \{"prob_t1": \{"auroc"'
run "$MILLE" calibrate "$T/m.model"
check "calibrate without --data" 2 "--data is required"
run "$MILLE" calibrate "$T/m.model" --data "$SAMPLE" --recall 2
check "calibrate --recall out of range" 2 "recall"
run "$MILLE" calibrate "$T/missing.model" --data "$SAMPLE"
check "calibrate a missing model" 1 "missing.model"
run "$MILLE" calibrate --help
check "calibrate --help" 0 "" "usage: mille calibrate"
echo "wake me up at five am" >"$T/one.txt"
run "$MILLE" predict --model "$T/m.model" --reject-below 1 "$T/one.txt"
check "predict --reject-below 1: rejected, best guess kept" 0 "" '"intent":"[a-z_]+".*"rejected":true'
run "$MILLE" predict --model "$T/m.model" --reject-below 0 "$T/one.txt"
check "predict --reject-below 0: accepted" 0 "" '"rejected":false'
run "$MILLE" predict --model "$T/m.model" --reject-below 1.5 "$T/one.txt"
check "predict --reject-below out of range" 2 "reject-below"
run "$MILLE" predict --model "$DATA/model_v1.mille" "$T/one.txt"
check "an uncalibrated model rejects nothing by default" 0 "" '"rejected":false'

# mille eval: expected calibration error of the predictions' confidence, per locale
run "$MILLE" predict --model "$T/m.model" "$SAMPLE" --locales en-US,ja-JP --partitions dev
mv "$T/out" "$T/conf.jsonl"
run "$MILLE" eval "$SAMPLE" "$T/conf.jsonl" --partition dev --locales en-US,ja-JP
check "eval: ece column with confidences" 0 "" '^average +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +\('
run "$MILLE" eval "$SAMPLE" "$T/conf.jsonl" --partition dev --locales en-US,ja-JP --json
check "eval --json: ece" 0 "" '"ece": [0-9.]+\}, "by_locale": .*"en-US": \{[^}]*"ece": [0-9.]+'
# all confidences 1 and every intent right: ECE 0; all 1 and every intent wrong: ECE 100
printf '{"id": "1", "locale": "en-US", "intent": "a", "utt": "x", "annot_utt": "x"}\n{"id": "2", "locale": "en-US", "intent": "b", "utt": "y", "annot_utt": "y"}\n' >"$T/g.jsonl"
printf '{"id": "1", "locale": "en-US", "intent": "a", "annot_utt": "x", "confidence": 1}\n{"id": "2", "locale": "en-US", "intent": "b", "annot_utt": "y", "confidence": 1}\n' >"$T/p1.jsonl"
sed 's/"intent": "[ab]"/"intent": "c"/' "$T/p1.jsonl" >"$T/p2.jsonl"
run "$MILLE" eval "$T/g.jsonl" "$T/p1.jsonl" --json
check "eval: ece 0 by hand" 0 "" '"en-US": \{[^}]*"ece": 0.0\}'
run "$MILLE" eval "$T/g.jsonl" "$T/p2.jsonl" --json
check "eval: ece 100 by hand" 0 "" '"en-US": \{[^}]*"ece": 100.0\}'
sed 's/"confidence": 1/"confidence": "high"/' "$T/p1.jsonl" >"$T/p3.jsonl"
run "$MILLE" eval "$T/g.jsonl" "$T/p3.jsonl" --strict
check "eval: a bad confidence is named" 1 'p3.jsonl:1: .*confidence'

# mille eval --html: the page itself is tested in Chromium (tests/browser/report_test.py)
run "$MILLE" eval "$SAMPLE" "$T/conf.jsonl" --partition dev --locales en-US,ja-JP --html "$T/r.html"
check "eval --html" 0 "" '^average '
grep -q '<script type="application/json" id="report">{"average"' "$T/r.html" && ok || bad "eval --html: no embedded report"
run "$MILLE" eval "$SAMPLE" "$T/conf.jsonl" --partition dev --json
mv "$T/out" "$T/base.json"
run "$MILLE" eval "$SAMPLE" "$T/conf.jsonl" --partition dev --html "$T/r.html" --baseline "$T/base.json"
check "eval --html --baseline" 0
run "$MILLE" eval "$SAMPLE" "$T/conf.jsonl" --baseline "$T/base.json"
check "eval --baseline without --html" 2 "needs --html"
run "$MILLE" eval "$SAMPLE" "$T/conf.jsonl" --html "$T/r2.html" --baseline "$T/g.jsonl"
check "eval --baseline not a report" 1 "g.jsonl:[0-9]+: not a report"
# ---- self-learning: mille learn, predict --rewrites (docs/learn.md) ----------------------------
# three users say "no more light" (the shipped model: iot_hue_lightup), fail, and rephrase it
# as "turn the lights off"; one more user does the same thing alone many times; a bad line
$PY -c 'import json
out = []
for u in range(3):
    out.append({"session": "s%d" % u, "user": "u%d" % u, "time": 1000.0 + 100 * u, "locale": "en-US",
                "text": "no more light", "intent": "iot_hue_lightup", "confidence": 0.39,
                "slots": [], "outcome": "defect"})
    out.append({"session": "s%d" % u, "user": "u%d" % u, "time": 1004.0 + 100 * u, "locale": "en-US",
                "text": "turn the lights off", "intent": "iot_hue_lightoff", "confidence": 0.96,
                "slots": [], "outcome": "success"})
for k in range(5):
    out.append({"session": "a%d" % k, "user": "alone", "time": 5000.0 + 100 * k, "locale": "en-US",
                "text": "make it dark in here", "intent": "iot_hue_lightchange", "confidence": 0.5,
                "slots": [], "outcome": "defect"})
    out.append({"session": "a%d" % k, "user": "alone", "time": 5003.0 + 100 * k, "locale": "en-US",
                "text": "turn the lights off", "intent": "iot_hue_lightoff", "confidence": 0.96,
                "slots": []})
print("\n".join(json.dumps(o) for o in out))
print("{\"session\": \"x\", \"time\": 1}")' >"$T/turns.jsonl"
run "$MILLE" learn --log "$T/turns.jsonl" --out "$T/rw.jsonl" --data-out "$T/mined.jsonl"
check "learn: mines a rewrite, names the bad line" 0 "turns.jsonl:17: .*(skipped)" ""
grep -q '"source":"no more light","target":"turn the lights off","users":3' "$T/rw.jsonl" &&
    ok || bad "learn: the rewrite of three users"
grep -q 'make it dark' "$T/rw.jsonl" && bad "learn: a rewrite from one user alone" || ok
grep -q '"intent":"iot_hue_lightoff","utt":"no more light","annot_utt":"no more light"' \
    "$T/mined.jsonl" && ok || bad "learn: the mined training example"
"$MILLE" predict "$T/mined.jsonl" >"$T/mined.pred" 2>"$T/err"
run "$MILLE" eval --strict --json "$T/mined.jsonl" "$T/mined.pred"
check "learn: the mined data is MASSIVE gold data (eval --strict reads it)" 0 "" '"exact_match"'
echo "No more light!" | "$MILLE" predict --rewrites "$T/rw.jsonl" --locale en-US >"$T/out" 2>"$T/err"
rc=$?
check "predict --rewrites" 0 "" '"utt":"turn the lights off","rewritten_from":"No more light!","intent":"iot_hue_lightoff"'
echo "more light" | "$MILLE" predict --rewrites "$T/rw.jsonl" --locale en-US >"$T/out" 2>"$T/err"
rc=$?
check "predict --rewrites, no match" 0
grep -q rewritten_from "$T/out" && bad "predict --rewrites: rewritten_from without a match" || ok
echo '{"source": "x"}' >"$T/badrw.jsonl"
run "$MILLE" predict --rewrites "$T/badrw.jsonl" data/demo.txt
check "predict --rewrites with a bad table" 1 "badrw.jsonl:1:"
run "$MILLE" learn --log "$T/missing.jsonl" --out "$T/rw2.jsonl"
check "learn: a missing log" 1 "missing.jsonl"
run "$MILLE" learn --log "$T/turns.jsonl"
check "learn without --out" 2 "--out"
run "$MILLE" learn --log "$T/turns.jsonl" --out "$T/rw2.jsonl" --min-users 1
check "learn --min-users 1 is refused" 2 "min-users"
# the simulator is deterministic for a seed (a small run on the bundled sample)
if [ -f "$SAMPLE/en-US.jsonl.gz" ] || [ -f "$SAMPLE/en-US.jsonl" ]; then
    for k in 1 2; do
        $PY tools/learn_sim.py --mille "$MILLE" --massive "$SAMPLE" --locale en-US --out "$T/sim$k" \
            --sessions1 3000 --sessions2 2000 --users 300 >"$T/sim$k.json" 2>"$T/err"
    done
    if [ -s "$T/sim1.json" ] && cmp -s "$T/sim1.json" "$T/sim2.json" &&
        cmp -s "$T/sim1/p1.jsonl" "$T/sim2/p1.jsonl" && cmp -s "$T/sim1/rewrites.jsonl" "$T/sim2/rewrites.jsonl"; then
        ok
    else
        bad "learn_sim.py: two runs with one seed differ"
    fi
else
    bad "learn_sim.py: no en-US file in $SAMPLE"
fi
run "$MILLE" learn --help
check "learn --help" 0 "" "usage: mille learn"

# SLURP's SLU-F1 (src/data/slu.c): "Seven A M" for "seven am" gets partial credit
# (word F1 2/3, char F1 18/19, SLU-F1 36/46 after case folding; worked out in tests/test_slu.c)
printf '%s\n' '{"id":"1","locale":"en-US","utt":"wake me up at seven am tomorrow","annot_utt":"wake me up at [time : seven am] [date : tomorrow]","intent":"alarm_set"}' >"$T/slu_gold.jsonl"
printf '%s\n' '{"id":"1","locale":"en-US","annot_utt":"wake me up at [time : Seven A M] [date : tomorrow]","intent":"alarm_set"}' >"$T/slu_pred.jsonl"
run "$MILLE" eval "$T/slu_gold.jsonl" "$T/slu_pred.jsonl" --slu-f1 --json
check "eval --slu-f1" 0 "" '"slu_f1": 78\.26[0-9]*, .*"word_f1": 66\.66[0-9]*, "char_f1": 94\.73[0-9]*'
run "$MILLE" eval "$T/slu_gold.jsonl" "$T/slu_pred.jsonl" --slu-f1
check "eval --slu-f1 table" 0 "" "^SLU-F1 78\.26 "
# zero-shot v2 (issue 10): code-switching during training, transliteration, inflection
printf 'alarm\tréveil\nmusic\tmusique\nplay\tjoue\nwake me up\tréveille-moi\n' >"$T/cs.tsv"
run "$MILLE" train --data "$SAMPLE" --locales en-US,fr-FR --dev-locales en-US --out "$T/cs.model" \
    --epochs 1 --dim 8 --hidden 16 --buckets 4096 --code-switch "fr-FR=$T/cs.tsv" --cs-copies 2 \
    --cs-rate 0.6 --translit 1
check "train --code-switch --translit" 0 "code_switch=1 lexicons rate=0.6 copies=2" '"exact_match"'
run "$MILLE" inspect "$T/cs.model"
check "inspect: the translit setting is kept" 0 "" "translit"
run "$MILLE" train --data "$SAMPLE" --locales en-US --out "$T/cs2.model" --epochs 1 \
    --code-switch "$T/missing.tsv"
check "train --code-switch with a missing lexicon" 1 "missing.tsv"
run "$MILLE" train --data "$SAMPLE" --out "$T/cs2.model" --cs-rate 2
check "train --cs-rate out of range" 2 "cs-rate"
printf 'SET UTF-8\nSFX A Y 1\nSFX A 0 а .\n' >"$T/ru.aff"
printf '1\nбудильник/A\n' >"$T/ru.dic"
printf 'поставь будильник\nвремя будильника\nнет будильника\n' >"$T/ru.txt"
printf 'alarm\tбудильник\n' >"$T/ru.tsv"
run "$MILLE" inflect --lexicon "$T/ru.tsv" --hunspell "$T/ru" --text "$T/ru.txt" --out "$T/ru.infl.tsv"
check "inflect" 0 "1 of them with forms"
[ "$(cat "$T/ru.infl.tsv" 2>/dev/null)" = "$(printf 'alarm\tбудильника\nalarm\tбудильник')" ] && ok ||
    bad "inflect: the inflected lexicon"
run "$MILLE" inflect --hunspell "$T/ru" --text "$T/ru.txt" --show будильник
check "inflect --show" 0 "" "будильника.2"
run "$MILLE" inflect --lexicon "$T/ru.tsv" --hunspell "$T/nope" --text "$T/ru.txt"
check "inflect with a missing dictionary" 1 "nope.aff"
run "$MILLE" inflect --lexicon "$T/ru.tsv"
check "inflect without --hunspell" 2 "required"
# ---- language identification (langid-fit, langid-eval, predict without a locale) ---------------
run "$MILLE" langid-fit --help
check "langid-fit --help" 0 "" "usage: mille langid-fit"
run "$MILLE" langid-fit "$DATA/model_v1.mille" --data "$SAMPLE"
check "langid-fit without --out" 2 "--out are required"
run "$MILLE" langid-fit "$DATA/model_v1.mille" --data "$SAMPLE" --out "$T/lid.model" --features bogus
check "langid-fit --features bogus" 2 "--features must be"
run "$MILLE" langid-eval "$DATA/model_v1.mille" --data "$SAMPLE"
check "langid-eval on a model without a head" 1 "has no language-identification head"
# an old (version 1) model gets a head on the sample's 52 locales; twice with one seed: the same file
run "$MILLE" langid-fit "$DATA/model_v1.mille" --data "$SAMPLE" --out "$T/lid.model" --rows 4096 \
    --width 8 --epochs 3 --quiet
check "langid-fit on the sample" 0 "" '"locales":52'
run "$MILLE" langid-fit "$DATA/model_v1.mille" --data "$SAMPLE" --out "$T/lid2.model" --rows 4096 \
    --width 8 --epochs 3 --quiet
cmp -s "$T/lid.model" "$T/lid2.model" && ok || bad "langid-fit: two runs with one seed differ"
run "$MILLE" langid-eval "$T/lid.model" --data "$SAMPLE"
check "langid-eval" 0 "" '"close_pairs":\[\{"gold":"nb-NO","predicted":"da-DK"'
[ "$(wc -l <"$T/out")" -eq 53 ] && ok || bad "langid-eval: expected 52 locale lines and a summary"
# the intent and slot parses are the old model's, given the locale
printf 'wake me up at nine am\n' >"$T/lid.txt"
run "$MILLE" predict --model "$DATA/model_v1.mille" --locale en-US "$T/lid.txt"
sed 's/"locale":"en-US",//' "$T/out" >"$T/lid_old.jsonl"
run "$MILLE" predict --model "$T/lid.model" --locale en-US "$T/lid.txt"
check "predict with a head and a locale" 0 "" '"locale":"en-US","utt"'
sed 's/"locale":"en-US",//' "$T/out" | cmp -s - "$T/lid_old.jsonl" && ok ||
    bad "predict: a head changed the parse of a text with a locale"
grep -q locale_p "$T/out" && bad "predict: locale_p with a given locale" || ok
# without a locale (or with "auto"): the identified locale and its probability
run "$MILLE" predict --model "$T/lid.model" "$T/lid.txt"
check "predict without a locale" 0 "" '^\{"locale":"[a-z]{2,3}-[A-Z]{2}","locale_p":[0-9.e-]+,"utt"'
run "$MILLE" predict --model "$T/lid.model" --locale auto "$T/lid.txt"
check "predict --locale auto" 0 "" '^\{"locale":"[a-z]{2,3}-[A-Z]{2}","locale_p":'
run "$MILLE" predict --model "$DATA/model_v1.mille" "$T/lid.txt"
check "predict without a head or a locale" 0 "" '^\{"utt":'
# the shipped model identifies the locale of each line of data/demo.txt (no --locale) as
# recorded when its head was fitted (tests/data/shipped_demo_locales.tsv: locale, then utt)
run "$MILLE" predict data/demo.txt
$PY -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r.get("locale", "-") + "\t" + r["utt"])' "$T/out" >"$T/shipped_loc.tsv"
if cmp -s "$T/shipped_loc.tsv" tests/data/shipped_demo_locales.tsv; then ok; else
    bad "shipped model: locales of data/demo.txt differ from tests/data/shipped_demo_locales.tsv"
    diff tests/data/shipped_demo_locales.tsv "$T/shipped_loc.tsv" | head -n 10 >&2
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
