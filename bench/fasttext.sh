#!/bin/sh
# fastText (supervised, one model per locale, intent only) against mille on MASSIVE 1.1 dev:
# intent accuracy and single-thread prediction speed, side by side in one run.
#
#   sh bench/fasttext.sh MASSIVE_DIR MILLE_MODEL [OUTDIR] [LOCALES]
#
#   MASSIVE_DIR  folder with <locale>.jsonl.gz (train + dev partitions; no test data is used)
#   MILLE_MODEL  mille model file, or "-" to run fastText only
#   OUTDIR       work and result folder (default /tmp/mille_fasttext); results in
#                OUTDIR/results.txt (key=value lines) and OUTDIR/fasttext.md (markdown table)
#   LOCALES      comma list (default: all 52)
#   env: MILLE (default <repo>/build/mille), FASTTEXT (default fasttext), REPEATS (default 3),
#        KEEP_MODELS=1 keeps the fastText .bin files (about 80 MB per locale)
#
# Text given to fastText: mille's word segmentation (Python str.split() words; in ja-JP, zh-CN
# and zh-TW every non-space code point is a word, except that runs of ASCII stay whole), then
# Python str.lower() on each word. fastText itself does no normalization, so lowercasing here
# keeps it from being handicapped against mille (which normalizes its input itself).
#
# fastText settings (one fixed setting for every locale), chosen on the DEV set of en-US, ja-JP
# and th-TH (dev P@1 en/ja/th, mean; -thread 1 -seed 1 -loss softmax in all):
#   A  -epoch 25 -lr 0.5 -wordNgrams 2 -minn 2 -maxn 5 -dim 100 (default -bucket 2000000)
#                                         .811 .772 .787  .790   (800 MB model per locale)
#   B  as A with -bucket 200000           .808 .771 .788  .789   (82 MB)
#   C  as B with -minn 0 -maxn 0          .817 .774 .548  .713   (no char n-grams)
#   C2 as C with -lr 0.25                 .807 .785 .551  .714
#   E  as B with -wordNgrams 1            .800 .731 .790  .774
#   D  as B with -epoch 50                .831 .787 .793  .804   <- chosen
#   F  as D with -lr 1.0                  .825 .784 .793  .801
# D is the best of these on all three locales. -bucket 200000 instead of fastText's default 2M
# costs nothing in accuracy (A vs B) and keeps models at ~80 MB instead of ~800 MB (and close to
# mille's own 262144 hashed rows).
FT_ARGS="-epoch 50 -lr 0.5 -wordNgrams 2 -minn 2 -maxn 5 -dim 100 -bucket 200000 -loss softmax -thread 1 -seed 1"
set -eu

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
    echo "usage: sh bench/fasttext.sh MASSIVE_DIR MILLE_MODEL [OUTDIR] [LOCALES]" >&2
    exit 2
fi
MASSIVE=$1
MODEL=$2
OUT=${3:-/tmp/mille_fasttext}
ALL="af-ZA am-ET ar-SA az-AZ bn-BD ca-ES cy-GB da-DK de-DE el-GR en-US es-ES fa-IR fi-FI fr-FR he-IL hi-IN hu-HU hy-AM id-ID is-IS it-IT ja-JP jv-ID ka-GE km-KH kn-IN ko-KR lv-LV ml-IN mn-MN ms-MY my-MM nb-NO nl-NL pl-PL pt-PT ro-RO ru-RU sl-SL sq-AL sv-SE sw-KE ta-IN te-IN th-TH tl-PH tr-TR ur-PK vi-VN zh-CN zh-TW"
LOCALES=$(printf '%s' "${4:-$ALL}" | tr ',' ' ')

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PY=${PYTHON:-python3}
PREP="$HERE/fasttext_prep.py"
FT=${FASTTEXT:-fasttext}
MILLE=${MILLE:-$ROOT/build/mille}
REPEATS=${REPEATS:-3}

if [ ! -d "$MASSIVE" ]; then echo "fasttext.sh: no MASSIVE folder $MASSIVE" >&2; exit 1; fi
if ! command -v "$FT" >/dev/null 2>&1; then echo "fasttext.sh: $FT not found" >&2; exit 1; fi
if [ "$MODEL" != "-" ]; then
    if [ ! -f "$MODEL" ]; then echo "fasttext.sh: no mille model $MODEL" >&2; exit 1; fi
    if [ ! -x "$MILLE" ]; then echo "fasttext.sh: no mille binary $MILLE" >&2; exit 1; fi
fi
mkdir -p "$OUT"
RES="$OUT/results.txt"

FTVER=$(dpkg -s fasttext 2>/dev/null | sed -n 's/^Version: //p')
[ -n "$FTVER" ] || FTVER=unknown
if [ "$MODEL" != "-" ]; then
    MVER=$("$MILLE" version 2>/dev/null | head -n 1 || true)
else
    MVER="not run"
fi
{
    echo "# date=$(date -u +%Y-%m-%dT%H:%MZ) machine=$(uname -m) nproc=$(nproc) commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo nogit)"
    echo "# fasttext=$FT debian_version=$FTVER settings: $FT_ARGS"
    echo "# mille=$MILLE version=${MVER:-unknown} model=$MODEL"
    echo "# data=$MASSIVE dev partition; accuracy = intent accuracy on dev (fastText P@1)"
    echo "# text for fastText: mille's word segmentation + Python str.lower() (fastText has no normalization of its own)"
    echo "# speed: utterances/s of one process on one thread, wall time, median of $REPEATS runs, model load included;"
    echo "#   *_load_s = the same command on a 1-utterance file (model load + start-up), *_net_utt_per_s excludes it"
    echo "#   (noisy for fastText: a whole dev file takes ~0.1 s, about half of it loading);"
    echo "#   mille predicts intent AND slots and writes JSON; fastText predicts the intent label only"
} > "$RES"
cat "$RES"

for L in $LOCALES; do
    D="$OUT/$L"
    "$PY" "$PREP" prep "$MASSIVE" "$OUT" "$L" >/dev/null
    N=$(wc -l < "$D/dev.txt" | tr -d ' ')

    # fastText: train, accuracy, speed
    T0=$("$PY" -c 'import time; print(time.time())')
    # shellcheck disable=SC2086
    "$FT" supervised -input "$D/train.txt" -output "$D/model" $FT_ARGS -verbose 0 >"$D/train.log" 2>&1
    T1=$("$PY" -c 'import time; print(time.time())')
    rm -f "$D/model.vec"
    # accuracy from `fasttext predict` against the dev labels (exact); `fasttext test` P@1 (3
    # decimals) must agree with it
    "$FT" predict "$D/model.bin" "$D/dev.txt" > "$D/ft_pred.txt"
    set -- $("$PY" "$PREP" ftscore "$D/dev.txt" "$D/ft_pred.txt")
    FT_ACC=$("$PY" -c "print('%.6f' % ($2 / $1))")
    "$FT" test "$D/model.bin" "$D/dev.txt" > "$D/ft_test.txt"
    set -- $("$PY" "$PREP" fttest "$D/ft_test.txt")
    if ! "$PY" -c "import sys; sys.exit(abs($FT_ACC - $2) > 0.0006)"; then
        echo "fasttext.sh: $L: predict accuracy $FT_ACC disagrees with fasttext test P@1 $2" >&2
        exit 1
    fi
    FT_T=$("$PY" "$PREP" timeit "$REPEATS" "$FT" predict "$D/model.bin" "$D/dev.txt")
    FT_T1=$("$PY" "$PREP" timeit "$REPEATS" "$FT" predict "$D/model.bin" "$D/one.txt")
    FT_SIZE=$(wc -c < "$D/model.bin" | tr -d ' ')
    [ "${KEEP_MODELS:-0}" = 1 ] || rm -f "$D/model.bin"

    # mille: the same dev utterances (dev-only .jsonl), accuracy against gold, speed
    if [ "$MODEL" != "-" ]; then
        "$MILLE" predict --model "$MODEL" "$D/dev.jsonl" > "$D/mille_pred.jsonl"
        set -- $("$PY" "$PREP" score "$D/dev.jsonl" "$D/mille_pred.jsonl")
        M_ACC=$("$PY" -c "print('%.6f' % ($2 / $1))")
        M_T=$("$PY" "$PREP" timeit "$REPEATS" "$MILLE" predict --model "$MODEL" "$D/dev.jsonl")
        M_T1=$("$PY" "$PREP" timeit "$REPEATS" "$MILLE" predict --model "$MODEL" "$D/one.jsonl")
    else
        M_ACC=na M_T=na M_T1=na
    fi

    LINE=$("$PY" - "$L" "$N" "$FT_ACC" "$M_ACC" "$FT_T" "$FT_T1" "$M_T" "$M_T1" "$T0" "$T1" "$FT_SIZE" <<'EOF'
import sys
loc, n, fa, ma, ft, ft1, mt, mt1, t0, t1, size = sys.argv[1:]
n = int(n)
def f(x, k="%.4f"):
    return "na" if x == "na" else k % float(x)
def ups(t):
    return "na" if t == "na" else "%.0f" % (n / float(t))
def net(t, t1):
    if t == "na":
        return "na"
    d = float(t) - float(t1)
    return "%.0f" % (n / d) if d > 0 else "na"
print("locale=%s n=%d fasttext_intent=%s mille_intent=%s fasttext_utt_per_s=%s mille_utt_per_s=%s "
      "fasttext_load_s=%s mille_load_s=%s fasttext_net_utt_per_s=%s mille_net_utt_per_s=%s "
      "fasttext_train_s=%.1f fasttext_model_mb=%.1f"
      % (loc, n, f(fa), f(ma), ups(ft), ups(mt), f(ft1, "%.3f"), f(mt1, "%.3f"),
         net(ft, ft1), net(mt, mt1), float(t1) - float(t0), int(size) / 1e6))
EOF
)
    echo "$LINE" | tee -a "$RES"
    rm -f "$D/train.txt"
done

"$PY" "$HERE/fasttext_table.py" "$RES" "$OUT/fasttext.md" > "$OUT/average.txt"
cat "$OUT/average.txt" | tee -a "$RES"
echo "# markdown table: $OUT/fasttext.md" >&2
