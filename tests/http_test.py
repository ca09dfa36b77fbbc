#!/usr/bin/env python3
"""http_test.py - end-to-end tests of `mille serve` over real sockets (stdlib only).

Trains a tiny model on the bundled sample, starts the server on free ports, and checks every
endpoint: valid parses (offsets, batch = single), each bad input of docs/http.md (4xx with a
JSON error naming it), slow clients, metrics, reload by SIGHUP and by the admin endpoint while
requests run, and graceful shutdown on SIGTERM. Prints "N passed, N failed".

    MILLE=build/asan/mille python3 tests/http_test.py
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MILLE = os.environ.get("MILLE", "build/mille")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


class Server:
    def __init__(self, model, *args):
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen([MILLE, "serve", "--model", model, "--port", "0",
                                   "--admin-port", "0", *args], stderr=self.err)
        self.port = self.admin = None
        for _ in range(600):
            m = re.search(rb"http://[\d.]+:(\d+) \(admin http://[\d.]+:(\d+)\)", self.log())
            if m:
                self.port, self.admin = int(m.group(1)), int(m.group(2))
                break
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        if not self.port:
            raise RuntimeError("server did not start: " + self.log().decode(errors="replace"))

    def log(self):
        self.err.seek(0)
        return self.err.read()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout=60)


def request(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    if isinstance(body, str):
        body = body.encode()
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    return r.status, j, data, r


def post(port, path, obj):
    return request(port, "POST", path, json.dumps(obj),
                   {"Content-Type": "application/json"})


def expect_error(name, port, method, path, body, status, code, in_msg=""):
    st, j, data, _ = request(port, method, path, body)
    ok = (st == status and j is not None and j.get("error", {}).get("code") == code
          and j["error"].get("status") == status and in_msg in j["error"].get("message", ""))
    check(name, ok, f"got {st} {data[:300]!r}, want {status} {code}")


def main():
    tmp = tempfile.mkdtemp(prefix="mille_http_")
    model = os.path.join(tmp, "m.model")
    subprocess.run([MILLE, "train", "--data", os.path.join(ROOT, "data/sample"), "--locales",
                    "en-US,fr-FR,ja-JP", "--out", model, "--epochs", "3", "--hidden", "32",
                    "--dim", "16", "--buckets", "16384", "--layers", "2", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    s = Server(model, "--max-text", "200", "--max-body", "4096", "--max-batch", "4",
               "--timeout", "2")
    port = s.port
    try:
        run_tests(s, port, model, tmp)
    finally:
        if s.p.poll() is None:
            s.p.kill()
            s.p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def run_tests(s, port, model, tmp):
    # ---- valid requests
    text = "wake me up at five am this week"
    st, j, _, r = post(port, "/v1/parse", {"text": text, "locale": "en-US"})
    check("parse 200", st == 200 and r.getheader("Content-Type") == "application/json", st)
    check("parse fields", j and all(k in j for k in (
        "intent", "scenario", "confidence", "top_intents", "slots", "annot_utt")), j)
    check("parse top-5", j and len(j["top_intents"]) == 5
          and j["top_intents"][0]["intent"] == j["intent"]
          and abs(j["top_intents"][0]["score"] - j["confidence"]) < 1e-6, j)
    b = text.encode()
    check("parse slot offsets", j and all(
        b[x["start"]:x["end"]].decode() == x["value"] for x in j["slots"]), j)
    ja = "今週は午前五時に起こして"
    st, j, _, _ = post(port, "/v1/parse", {"text": ja})
    jb = ja.encode()
    check("parse ja offsets", st == 200 and all(
        jb[x["start"]:x["end"]].decode() == x["value"] for x in j["slots"]), j)
    items = [{"text": text, "locale": "en-US"}, {"text": ja}, {"text": "joue du jazz",
                                                              "locale": "fr-FR"}]
    singles = [post(port, "/v1/parse", it)[1] for it in items]
    st, j, _, _ = post(port, "/v1/parse/batch", items)
    check("batch = single", st == 200 and j["count"] == 3 and j["results"] == singles,
          (j, singles))
    st, j, data, r = request(port, "GET", "/healthz")
    check("healthz", st == 200 and j["status"] == "ok" and j["generation"] == 1, data)
    st, j, data, _ = request(port, "GET", "/v1/model")
    check("model info", st == 200 and sorted(j["locales"]) == ["en-US", "fr-FR", "ja-JP"]
          and len(j["intents"]) > 0 and j["slots"][0] == "Other", data[:200])
    st, _, data, r = request(port, "GET", "/")
    check("playground page", st == 200 and r.getheader("Content-Type").startswith("text/html")
          and b"mille" in data and b"<script src=\"http" not in data, data[:100])
    st, _, _, r = request(port, "HEAD", "/healthz")
    check("HEAD healthz", st == 200)

    # ---- bad input: 4xx and a JSON error naming the problem
    P = "/v1/parse"
    expect_error("malformed json", port, "POST", P, '{"text": "a"', 400, "bad_json", "JSON")
    expect_error("empty body", port, "POST", P, "", 400, "bad_json", "empty")
    expect_error("json not object", port, "POST", P, '["a"]', 400, "bad_request", "object")
    expect_error("missing text", port, "POST", P, '{"txt": "a"}', 400, "missing_text", "text")
    expect_error("text not string", port, "POST", P, '{"text": 5}', 400, "bad_request", "string")
    expect_error("empty text", port, "POST", P, '{"text": ""}', 400, "empty_text", "empty")
    expect_error("blank text", port, "POST", P, '{"text": "   "}', 400, "empty_text", "no words")
    expect_error("invalid utf8 body", port, "POST", P, b'{"text": "a\xff"}', 400,
                 "invalid_utf8", "byte 11")
    expect_error("lone surrogate", port, "POST", P, '{"text": "a\\ud800"}', 400, "bad_json")
    expect_error("nul in text", port, "POST", P, '{"text": "a\\u0000b"}', 400, "bad_json")
    expect_error("duplicate key", port, "POST", P, '{"text": "a", "text": "b"}', 400, "bad_json")
    expect_error("text over limit", port, "POST", P, json.dumps({"text": "a " * 150}), 413,
                 "text_too_long", "limit is 200")
    expect_error("body over limit", port, "POST", P, json.dumps({"text": "a" * 5000}), 413,
                 "body_too_large", "4096")
    expect_error("unknown locale", port, "POST", P, '{"text": "hallo", "locale": "de-DE"}', 400,
                 "unknown_locale", "de-DE")
    expect_error("malformed locale", port, "POST", P, '{"text": "a", "locale": "french!"}', 400,
                 "bad_locale", "malformed")
    expect_error("locale not string", port, "POST", P, '{"text": "a", "locale": 7}', 400,
                 "bad_locale")
    expect_error("wrong method", port, "GET", P, None, 405, "method_not_allowed", "POST")
    st, _, _, r = request(port, "GET", P)
    check("405 Allow header", r.getheader("Allow") == "POST", r.getheader("Allow"))
    expect_error("wrong method on GET route", port, "POST", "/healthz", "{}", 405,
                 "method_not_allowed")
    expect_error("unknown route", port, "GET", "/v2/parse", None, 404, "not_found", "/v2/parse")
    expect_error("admin on public port", port, "POST", "/admin/reload", "{}", 404, "not_found")
    B = "/v1/parse/batch"
    expect_error("batch not array", port, "POST", B, '{"text": "a"}', 400, "bad_request",
                 "array")
    expect_error("batch empty", port, "POST", B, "[]", 400, "empty_batch")
    expect_error("batch too large", port, "POST", B, json.dumps([{"text": "a"}] * 5), 413,
                 "batch_too_large", "limit is 4")
    expect_error("batch bad item", port, "POST", B, '[{"text": "a"}, {"text": ""}]', 400,
                 "empty_text", "items[1]")
    expect_error("batch bad utf8 item", port, "POST", B,
                 '[{"text": "a"}, {"text": "b", "locale": "xx-XX"}]', 400, "unknown_locale",
                 "items[1]")

    # chunked body over the limit (no Content-Length)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    chunk = b"x" * 3000
    c.sendall(b"POST /v1/parse HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
              (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
    resp = recv_all(c)
    check("chunked body over limit", b" 413 " in resp.split(b"\r\n")[0]
          and b"body_too_large" in resp, resp[:200])
    c.close()

    # ---- slow client: a request that never completes is dropped after --timeout, and the
    # server keeps answering others meanwhile
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    slow.sendall(b"POST /v1/parse HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"te")
    t0 = time.time()
    st, _, _, _ = post(port, "/v1/parse", {"text": "play jazz"})
    check("served while a client stalls", st == 200)
    closed = recv_all(slow)
    waited = time.time() - t0
    check("slow client dropped", closed == b"" and waited < 9, (closed[:100], waited))
    slow.close()

    # ---- metrics
    st, _, data, r = request(port, "GET", "/metrics")
    m = data.decode()
    check("metrics 200", st == 200 and r.getheader("Content-Type").startswith("text/plain"))
    check("metrics requests", re.search(r'mille_http_requests_total\{route="parse",status="200"\}'
                                        r' [1-9]', m) is not None, m[:300])
    for code in ("bad_json", "empty_text", "invalid_utf8", "text_too_long", "body_too_large",
                 "unknown_locale", "bad_locale", "method_not_allowed", "not_found", "timeout"):
        check(f"metrics counts {code}", re.search(
            r'mille_http_errors_total\{code="%s"\} [1-9]' % code, m) is not None)
    check("metrics histogram", 'le="+Inf"' in m and "duration_seconds_count" in m)

    # ---- reload while requests run: no request fails
    stop = threading.Event()
    errors = []

    def hammer():
        while not stop.is_set():
            try:
                st, j, _, _ = post(port, "/v1/parse", {"text": text, "locale": "en-US"})
                if st != 200:
                    errors.append(st)
            except OSError as e:
                errors.append(str(e))

    ths = [threading.Thread(target=hammer) for _ in range(3)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    s.p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    st, j, _, _ = request(port, "GET", "/healthz")
    check("SIGHUP reload", st == 200 and j["generation"] == 2, j)
    st, j, _, _ = request(s.admin, "POST", "/admin/reload", "")
    check("admin reload", st == 200 and j["status"] == "reloaded" and j["generation"] == 3, j)
    st, j, _, _ = request(s.admin, "POST", "/admin/reload",
                          json.dumps({"model": os.path.join(tmp, "missing.model")}))
    check("admin reload of a missing file", st == 500 and j["error"]["code"] == "reload_failed"
          and "missing.model" in j["error"]["message"], j)
    trunc = os.path.join(tmp, "trunc.model")
    with open(model, "rb") as f, open(trunc, "wb") as g:
        g.write(f.read(2000))
    st, j, _, _ = request(s.admin, "POST", "/admin/reload", json.dumps({"model": trunc}))
    check("admin reload of a truncated file", st == 500 and j["error"]["code"] == "reload_failed")
    expect_error("admin reload bad body", s.admin, "POST", "/admin/reload", "[1]", 400,
                 "bad_json")
    time.sleep(0.3)
    stop.set()
    for t in ths:
        t.join()
    check("no failed request during reloads", not errors, errors[:5])
    st, j, _, _ = request(port, "GET", "/healthz")
    check("model kept after failed reload", st == 200 and j["generation"] == 3, j)

    # ---- graceful shutdown: requests in flight finish, exit code 0
    stop.clear()
    results = []

    def client():
        while not stop.is_set():
            try:
                st, _, _, _ = post(port, "/v1/parse", {"text": text})
                results.append(st)
            except OSError:
                break

    ths = [threading.Thread(target=client) for _ in range(2)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    rc = s.stop()
    stop.set()
    for t in ths:
        t.join()
    check("SIGTERM exit 0", rc == 0, (rc, s.log()[-500:]))
    check("all answered requests were 200", results and all(x == 200 for x in results),
          results[-5:])
    check("stopped message", b"mille serve: stopped" in s.log(), s.log()[-300:])

    # ---- bad command lines
    r = subprocess.run([MILLE, "serve", "--model", os.path.join(tmp, "missing.model"),
                        "--port", "0"], capture_output=True, timeout=30)
    check("serve missing model", r.returncode == 1 and b"missing.model" in r.stderr, r.stderr)
    r = subprocess.run([MILLE, "serve"], capture_output=True, timeout=30)
    check("serve without --model", r.returncode == 2 and b"--model" in r.stderr, r.stderr)
    r = subprocess.run([MILLE, "serve", "--model", model, "--port", "70000"],
                       capture_output=True, timeout=30)
    check("serve bad port", r.returncode == 2 and b"--port" in r.stderr, r.stderr)


def recv_all(sock):
    out = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                m = re.search(rb"Content-Length: (\d+)", head, re.I)
                if m and len(rest) >= int(m.group(1)):
                    break
    except (socket.timeout, ConnectionResetError):
        pass
    return out


if __name__ == "__main__":
    sys.exit(main())
