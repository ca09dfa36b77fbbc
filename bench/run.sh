#!/bin/sh
# make bench: every benchmark, one machine-readable line each (key=value), medians of repeats.
# Needs the MASSIVE 1.1 train+dev files at $MASSIVE (default ../shared/massive-1.1).
set -eu
B=${BUILD:-build}
M=${MASSIVE:-../shared/massive-1.1}
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m) $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo nogit)"
if [ ! -d "$M" ]; then echo "bench: MASSIVE data not found at $M" >&2; exit 1; fi
"$B/bench_data" "$M" 5
if [ -x "$B/bench_pretok" ]; then "$B/bench_pretok" "$M"; fi
