#!/usr/bin/env python3
"""hostile_clients.py - the hostile side of bench/hostile.sh (stdlib only).

    python3 bench/hostile_clients.py PORT SECONDS --slow N --max K --kinds KINDS

- N slow clients, each from its own loopback address (127.0.0.2, 127.0.0.3, ...: one
  connection per address, so that the per-IP limit does not stop them and only the request
  deadline does), each announcing a 1 MiB body and trickling it one byte a second; a client
  that the server cuts reconnects at once.
- K clients sending maximal requests back to back from their own address (127.0.0.250; one
  attacker, so that the per-address byte rate applies to it and not to wrk on 127.0.0.1),
  each a body of the default limit (1 MiB), cycling through KINDS (comma-separated):
    badjson  1 MiB that is not JSON (rejected after the UTF-8 check and the parse)
    over     1 MiB + 1 byte: over --max-body (read, dropped, 413)
    longtext valid JSON, one 1 MiB string (parsed in full, then 413 text_too_long)
    batch    a batch at the limits: 256 items of ~4 KiB of words (parsed in full)
At the end prints one machine-readable line:
    hostile slow_cuts=C slow_connects=R max_sent=S statuses=200:n,413:n,...
"""
import argparse
import json
import socket
import threading
import time

MAX_BODY = 1 << 20


def bodies(kinds):
    words = ("wake me up at five am this week " * 200)[:4000]
    out = {
        "badjson": b"[" + b"x" * (MAX_BODY - 1),
        "over": b" " * (MAX_BODY + 1),
        "longtext": b'{"text": "' + b"a" * (MAX_BODY - 12) + b'"}',
        "batch": json.dumps([{"text": words, "locale": "en-US"}] * 256).encode(),
    }
    assert len(out["batch"]) <= MAX_BODY
    return [out[k] for k in kinds]


def slow_clients(port, n, until, stats):
    socks = {}

    def connect(i):
        try:
            c = socket.socket()
            c.bind(("127.0.0.%d" % (2 + i), 0))
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            socks[i] = (c, 0)
            stats["slow_connects"] += 1
        except OSError:
            socks.pop(i, None)

    for i in range(n):
        connect(i)
    while time.time() < until:
        time.sleep(1.0)
        for i in range(n):
            c, k = socks.get(i, (None, 0))
            if c is None:
                connect(i)
                continue
            try:
                if k == 0:
                    c.send(b"POST /v1/parse HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                           % MAX_BODY)
                else:
                    c.send(b"{")
                socks[i] = (c, k + 1)
                try:
                    if c.recv(4096) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
            except OSError:
                stats["slow_cuts"] += 1
                c.close()
                connect(i)
    for c, _ in socks.values():
        c.close()


# The maximal-request client's own address, so that the per-address limits see it apart from
# the well-behaved clients (wrk, on 127.0.0.1) and the slow ones (127.0.0.2 and up).
MAX_ADDR = "127.0.0.250"


def max_client(port, payloads, until, stats, lock):
    j = 0
    while time.time() < until:
        body = payloads[j % len(payloads)]
        j += 1
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=60,
                                         source_address=(MAX_ADDR, 0))
            c.sendall(b"POST /v1/parse/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            resp = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                resp += d
            c.close()
            st = resp.split(b" ", 2)[1].decode() if resp.startswith(b"HTTP/") else "none"
        except OSError as e:
            st = type(e).__name__
        with lock:
            stats["max_sent"] += 1
            stats["statuses"][st] = stats["statuses"].get(st, 0) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--slow", type=int, default=100)
    ap.add_argument("--max", type=int, default=1)
    ap.add_argument("--kinds", default="badjson,over,longtext")
    a = ap.parse_args()
    until = time.time() + a.seconds
    stats = {"slow_cuts": 0, "slow_connects": 0, "max_sent": 0, "statuses": {}}
    lock = threading.Lock()
    payloads = bodies(a.kinds.split(","))
    ths = [threading.Thread(target=slow_clients, args=(a.port, a.slow, until, stats))]
    ths += [threading.Thread(target=max_client, args=(a.port, payloads, until, stats, lock))
            for _ in range(a.max)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    print("hostile slow_cuts=%d slow_connects=%d max_sent=%d statuses=%s" % (
        stats["slow_cuts"], stats["slow_connects"], stats["max_sent"],
        ",".join("%s:%d" % kv for kv in sorted(stats["statuses"].items()))))


if __name__ == "__main__":
    main()
