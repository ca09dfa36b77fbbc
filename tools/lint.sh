#!/bin/sh
# Source checks run by CI: banned libc functions (see ../shared/STYLE.md) and clang-format.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'cli/*.c' 'cli/*.h' 'server/*.c' 'server/*.h' 'tests/*.c' 'tests/*.h' \
        'tests/fuzz/*.c' 'bench/*.c' 'voice/*.c' 'voice/*.h' 'tests/voice/*.c' 'dialogue/*.c' 'dialogue/*.h' 2>/dev/null || true)
[ -n "$files" ] || { echo "lint: no files"; exit 0; }
status=0
banned='\b(gets|sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atof|atol|rand|srand)[[:space:]]*\('
if grep -nE "$banned" $files | grep -v 'lint: allow'; then
    echo "lint: banned function used (use snprintf, checked strtol/strtod, rng_*)"
    status=1
fi
if command -v clang-format >/dev/null 2>&1; then
    for f in $files; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "lint: $f is not clang-formatted (run: clang-format -i $f)"
            status=1
        fi
    done
fi
[ $status -eq 0 ] && echo "lint: ok"
exit $status
