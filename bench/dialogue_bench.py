#!/usr/bin/env python3
"""dialogue_bench.py - latency of POST /v1/dialogue next to POST /v1/parse on one server
(the shipped model, one client, keep-alive), so the difference is the dialogue's own cost:
the session's SQLite load and save, the skill, the template and ICU.

    python3 bench/dialogue_bench.py --mille build/mille [--n 400]

Checks correctness first (a follow-up question is filled), then times N requests of each
kind: /v1/parse of en-US dev-like utterances, /v1/dialogue without a session (no state),
with a session ("what time is it": load + save of one row), and a two-turn follow-up
("set an alarm" / "seven am": an alarm row inserted each time). Prints one line per kind:
kind=... n=... p50_ms=... p99_ms=...
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mille", default="build/mille")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "mille.model"))
    ap.add_argument("--n", type=int, default=400)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mille_dlg_bench_")
    err = open(os.path.join(tmp, "log"), "w+b")
    p = subprocess.Popen([a.mille, "serve", "--model", a.model, "--port", "0", "--admin-port",
                          "-1", "--threads", "1", "--dialogue-db", os.path.join(tmp, "d.db")],
                         stderr=err)
    port = None
    for _ in range(600):
        err.seek(0)
        m = re.search(rb"listening on http://[\d.]+:(\d+)", err.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(path, body):
        t0 = time.perf_counter()
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return (time.perf_counter() - t0) * 1e3, r.status, json.loads(data)

    try:
        _, st, j = post("/v1/dialogue", {"session": "check", "text": "set an alarm"})
        _, st2, j2 = post("/v1/dialogue", {"session": "check", "text": "seven am"})
        assert st == 200 and j["action"] == "ask" and st2 == 200 and j2["skill"] == "alarm", (j, j2)
        kinds = {
            "parse": lambda i: post("/v1/parse", {"text": "what time is it", "locale": "en-US"}),
            "dialogue_no_session": lambda i: post("/v1/dialogue", {"text": "what time is it"}),
            "dialogue_session": lambda i: post("/v1/dialogue", {"session": f"s{i % 50}",
                                                                "text": "what time is it"}),
            "dialogue_follow_up": lambda i: post("/v1/dialogue", {
                "session": f"f{i // 2 % 50}",
                "text": "set an alarm" if i % 2 == 0 else "seven am"}),
        }
        for name, f in kinds.items():
            for i in range(20):  # warm-up
                f(i)
            ms = []
            for i in range(a.n):
                t, st, _ = f(i)
                assert st == 200
                ms.append(t)
            ms.sort()
            print(f"kind={name} n={a.n} p50_ms={ms[len(ms) // 2]:.3f} "
                  f"p99_ms={ms[min(len(ms) - 1, int(len(ms) * 0.99))]:.3f}")
    finally:
        c.close()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
