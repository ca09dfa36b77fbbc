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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
