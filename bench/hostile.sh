#!/bin/sh
# Well-behaved clients against hostile ones (issue 15): throughput of wrk on loopback
# (POST /v1/parse, 16 connections, bench/http_post.lua) alone, then while 100 slow clients
# trickle 1 MiB bodies a byte a second and a stream of maximal requests (1 MiB bodies) hits
# the server (bench/hostile_clients.py). The server runs with its default limits. Prints
# the throughput of each phase, its ratio to the baseline, the hostile side's counts and
# the server's peak RSS (VmHWM), then machine-readable "hostile ..." lines.
#
# usage: sh bench/hostile.sh MODEL [SECONDS]     (SECONDS of wrk per phase, default 20)
#   SERVE_ARGS="--threads 8" (environment): more options for mille serve
#   ATTACKER_NICE=19: run the hostile clients at that nice level, so that on a small machine
#   the attacker's own CPU use does not count against the server
#   phase base:  wrk alone
#   phase slow:  + 100 slow clients + 1 client sending 1 MiB bodies that are rejected
#                (not JSON; over --max-body; one 1 MiB string, parsed, then over --max-text)
#   phase batch: + 100 slow clients + 1 client sending batches at the limits (256 items of
#                ~4 KiB of words), which are parsed in full
set -eu
model=$1
secs=${2:-20}
B=${BUILD:-build}
port=${PORT:-18124}
out=${OUT:-/tmp/mille_bench_hostile}
mkdir -p "$out"
command -v wrk >/dev/null || { echo "bench/hostile.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
dir=$(dirname "$0")
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), mille $(git rev-parse --short HEAD 2>/dev/null || echo '?'), model $model ($(wc -c <"$model") bytes), serve ${SERVE_ARGS:-}"
# shellcheck disable=SC2086
"$B/mille" serve --model "$model" --port "$port" --admin-port -1 --threads 2 ${SERVE_ARGS:-} \
    2>"$out/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
url="http://127.0.0.1:$port"
# correctness before timing: the request wrk sends parses
curl -sf "$url/v1/parse" -H 'Content-Type: application/json' \
    -d '{"text": "wake me up at five am this week", "locale": "en-US"}' | grep -q '"intent"' ||
    { echo "bench/hostile.sh: the server does not parse" >&2; exit 1; }
wrk -t1 -c16 -d3s -s "$dir/http_post.lua" "$url" >/dev/null # warm up

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
p99() { sed -n 's/^ *99% *\([^ ]*\).*/\1/p' "$1"; }
non2xx() { sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1"; }

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # server CPU, clock ticks
phase() { # name kinds
    if [ "$1" != base ]; then
        nice -n "${ATTACKER_NICE:-0}" python3 "$dir/hostile_clients.py" "$port" $((secs + 8)) \
            --slow 100 --max 1 \
            --kinds "$2" >"$out/hostile_$1.txt" &
        hpid=$!
        sleep 5 # the slow clients connect and start trickling
    fi
    c0=$(cpu)
    wrk -t1 -c16 -d"${secs}s" --latency -s "$dir/http_post.lua" "$url" >"$out/wrk_$1.txt"
    echo $(( ($(cpu) - c0) * 100 / $(getconf CLK_TCK) / secs )) >"$out/cpu_$1.txt"
    if [ "$1" != base ]; then wait $hpid; fi
    kill -0 $pid 2>/dev/null || { echo "bench/hostile.sh: the server died" >&2; exit 1; }
}

phase base ""
phase slow badjson,over,longtext
phase batch batch
base=$(rps "$out/wrk_base.txt")
echo "| phase | requests/s | of base | p99 | non-2xx | server CPU | hostile side |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
for p in base slow batch; do
    r=$(rps "$out/wrk_$p.txt")
    h=$([ -f "$out/hostile_$p.txt" ] && sed 's/^hostile //' "$out/hostile_$p.txt" || echo -)
    echo "| $p | $r | $(awk -v a="$r" -v b="$base" 'BEGIN {printf "%.0f%%", 100 * a / b}') |" \
        "$(p99 "$out/wrk_$p.txt") | $(non2xx "$out/wrk_$p.txt" | grep . || echo 0) |" \
        "$(cat "$out/cpu_$p.txt")% | $h |"
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "server peak RSS (VmHWM): $hwm kB"
for p in slow batch; do
    echo "hostile phase=$p rps=$(rps "$out/wrk_$p.txt") base_rps=$base $(sed 's/^hostile //' "$out/hostile_$p.txt")"
done
echo "hostile peak_rss_kb=$hwm"
kill -TERM $pid
wait $pid 2>/dev/null || true
trap - EXIT INT TERM
