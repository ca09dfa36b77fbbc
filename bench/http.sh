#!/bin/sh
# Load and soak of `mille serve` on loopback with wrk (Debian package wrk).
# usage: sh bench/http.sh MODEL [SOAK_REQUESTS]
#   - throughput and latency (p50/p99) at 1, 16 and 64 connections, 20 s each;
#   - a soak of SOAK_REQUESTS (default 1,000,000) at 16 connections: no error, no crash,
#     resident memory sampled every 5 s (it must not grow).
# The server runs with --threads 2; wrk with 1 thread (the machine has 2 cores: both share).
# Knobs (environment): SERVE_ARGS, more options for mille serve (e.g. "--batch-wait-us 200"
# for micro-batching; a later --threads wins); CONNS, the connection counts (default
# "1 16 64"); SECS, seconds per count (default 20); soak 0 skips the soak.
set -eu
model=$1
soak=${2:-1000000}
B=${BUILD:-build}
port=${PORT:-18123}
out=${OUT:-/tmp/mille_bench_http}
mkdir -p "$out"
command -v wrk >/dev/null || { echo "bench/http.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, mille $(git rev-parse --short HEAD 2>/dev/null || echo '?'), model $model ($(wc -c <"$model") bytes)"
# shellcheck disable=SC2086
"$B/mille" serve --model "$model" --port "$port" --admin-port -1 --threads 2 \
    --max-connections 4096 --max-per-ip 4096 ${SERVE_ARGS:-} 2>"$out/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
url="http://127.0.0.1:$port"
lua=$(dirname "$0")/http_post.lua
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
# warm up (sessions, page cache)
wrk -t1 -c16 -d5s -s "$lua" "$url" >/dev/null
echo "| connections | requests/s | p50 | p99 | non-2xx | socket errors |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
for c in ${CONNS:-1 16 64}; do
    wrk -t1 -c"$c" -d"${SECS:-20}s" --latency -s "$lua" "$url" >"$out/wrk_$c.txt"
    python3 - "$out/wrk_$c.txt" "$c" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
p50 = re.search(r"\s50%\s+(\S+)", t).group(1)
p99 = re.search(r"\s99%\s+(\S+)", t).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
print("| %s | %.0f | %s | %s | %s | %s |" % (sys.argv[2], float(rps), p50, p99,
      non2xx.group(1) if non2xx else 0, sock.group(1) if sock else "none"))
PY
done
curl -s "$url/metrics" | grep -E '^mille_parse_group' | sed 's/^/micro-batching: /'
if [ "$soak" = 0 ]; then
    kill -TERM $pid
    wait $pid || true
    trap - EXIT INT TERM
    exit 0
fi
# soak: run until soak requests are done, sampling RSS
before=$(curl -s "$url/metrics" | awk '/^mille_utterances_parsed_total/ {print $2}')
rss0=$(rss)
echo "soak: $soak requests at 16 connections; RSS at start ${rss0} kB"
wrk -t1 -c16 -d3600s -s "$lua" "$url" >"$out/wrk_soak.txt" &
wpid=$!
: >"$out/rss.txt"
while :; do
    sleep 5
    n=$(curl -s "$url/metrics" | awk '/^mille_utterances_parsed_total/ {print $2}')
    echo "$(( n - before )) $(rss)" >>"$out/rss.txt"
    [ $(( n - before )) -ge "$soak" ] && break
    kill -0 $pid 2>/dev/null || { echo "soak: the server died" >&2; exit 1; }
done
kill -INT $wpid 2>/dev/null || true
wait $wpid 2>/dev/null || true
python3 - "$out/rss.txt" "$out/wrk_soak.txt" <<'PY'
import re, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
t = open(sys.argv[2]).read()
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
q = len(rows) // 4 or 1
early = sorted(r for _, r in rows[:q]); late = sorted(r for _, r in rows[-q:])
print("soak: %d requests; RSS first quarter median %d kB, last quarter median %d kB, max %d kB; "
      "non-2xx %s; socket errors %s" % (rows[-1][0], early[len(early)//2], late[len(late)//2],
      max(r for _, r in rows), non2xx.group(1) if non2xx else 0, sock.group(1) if sock else "none"))
PY
curl -s "$url/metrics" | grep -E '^mille_http_errors_total' | awk '$2 != 0' | sed 's/^/errors: /'
kill -TERM $pid
rc=0
wait $pid || rc=$?
trap - EXIT INT TERM
echo "server exit code $rc ($(tail -1 "$out/serve.log"))"
