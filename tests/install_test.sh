#!/bin/sh
# install_test.sh - `make install PREFIX=...` into a temporary prefix, then build
# examples/parse.c against the installed library with pkg-config (shared, and static), and run
# both on a tiny model trained on the bundled sample. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
CC=${CC:-cc}
T=$(mktemp -d /tmp/mille_install.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1" >&2; }

make -s install PREFIX="$T/prefix" >"$T/install.log" 2>&1 && ok || { bad "make install"; cat "$T/install.log" >&2; }
for f in include/mille.h lib/libmille.a lib/libmille.so lib/pkgconfig/mille.pc bin/mille; do
    [ -e "$T/prefix/$f" ] && ok || bad "installed $f"
done
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
pkg-config --modversion mille | grep -q '^[0-9]' && ok || bad "pkg-config --modversion mille"
# shared
$CC -std=c11 -Wall -Wextra -Werror examples/parse.c $(pkg-config --cflags --libs mille) \
    -Wl,-rpath,"$T/prefix/lib" -o "$T/parse" && ok || bad "build example (shared)"
# static: the archive in place of -lmille, then its own dependencies
$CC -std=c11 -Wall -Wextra -Werror examples/parse.c $(pkg-config --cflags mille) \
    $(pkg-config --static --libs mille | sed "s|-lmille|$T/prefix/lib/libmille.a|") \
    -o "$T/parse_static" && ok || bad "build example (static)"
"$T/prefix/bin/mille" train --data data/sample --locales en-US,fr-FR --out "$T/m.model" \
    --epochs 2 --hidden 32 --dim 16 --buckets 16384 --layers 2 --quiet >/dev/null && ok ||
    bad "train with the installed mille"
for exe in parse parse_static; do
    if [ -x "$T/$exe" ]; then
        "$T/$exe" "$T/m.model" --locale en-US "wake me up at five am" "play some jazz" \
            >"$T/out" 2>&1 && ok || bad "$exe ran"
        grep -q "intent: " "$T/out" && grep -q "annot_utt: " "$T/out" && ok ||
            { bad "$exe output"; cat "$T/out" >&2; }
        if [ "$exe" = parse_static ] && ldd "$T/$exe" | grep -q libmille; then
            bad "the static example loads libmille.so"
        fi
    fi
done
ldd "$T/parse" | grep -q "$T/prefix/lib/libmille.so" && ok || bad "example uses the installed .so"
# the dialogue library: its header and archive, linked before libmille
for f in include/mille_dialogue.h lib/libmille_dialogue.a; do
    [ -e "$T/prefix/$f" ] && ok || bad "installed $f"
done
$CC -std=c11 -Wall -Wextra -Werror examples/dialogue.c $(pkg-config --cflags mille) \
    "$T/prefix/lib/libmille_dialogue.a" $(pkg-config --libs mille) -lsqlite3 -lcurl -licui18n \
    -licuuc -ljansson \
    -Wl,-rpath,"$T/prefix/lib" -o "$T/dialogue" && ok || bad "build the dialogue example"
if [ -x "$T/dialogue" ]; then
    "$T/dialogue" "$T/m.model" "wake me up at five am" "repeat" >"$T/out" 2>&1 && ok ||
        bad "dialogue example ran"
    [ "$(grep -cE '^(act|ask|confirm|fallback): ' "$T/out")" -eq 2 ] && ok ||
        { bad "dialogue example output"; cat "$T/out" >&2; }
fi
"$T/parse" "$T/m.model" "" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "error: text is empty\|error: text has no words" "$T/out" && ok ||
    { bad "example reports a bad input"; cat "$T/out" >&2; }
"$T/parse" "$T/missing.model" "x" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "missing.model" "$T/out" && ok || bad "example reports a missing model"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
