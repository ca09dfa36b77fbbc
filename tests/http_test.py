#!/usr/bin/env python3
"""http_test.py - end-to-end tests of `mille serve` over real sockets (stdlib only).

Trains a tiny model on the bundled sample, starts the server on free ports, and checks every
endpoint: valid parses (offsets, batch = single), each bad input of docs/http.md (4xx with a
JSON error naming it), slow clients, metrics, reload by SIGHUP and by the admin endpoint while
requests run, and graceful shutdown on SIGTERM. Then the findings of the 2026-12 audit
(issue 15): every thread blocks the signals and signals during a reload neither kill the
server nor get lost; the admin route's token, Host, Origin and Content-Type checks and a FIFO
path; trickling clients, the per-IP limit and the body budget; --max-body over 64 MiB; the
batch count before the parse. Prints "N passed, N failed".

    MILLE=build/asan/mille python3 tests/http_test.py
"""
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
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
        self.port = self.admin = self.token = None
        for _ in range(600):
            m = re.search(rb"http://[\d.]+:(\d+) \(admin http://[\d.]+:(\d+)\)", self.log())
            if m:
                self.port, self.admin = int(m.group(1)), int(m.group(2))
                t = re.search(rb"admin token ([0-9a-f]+)", self.log())
                self.token = t.group(1).decode() if t else None
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

    def admin_headers(self, token=None):
        return {"Content-Type": "application/json",
                "Authorization": "Bearer " + (token or self.token)}

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def request(port, method, path, body=None, headers=None, timeout=30, source=None,
            chunked=False):
    """(status, json or None, raw body, response); source: the client's address; chunked:
    send the body without Content-Length."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    if isinstance(body, str):
        body = body.encode()
    if chunked:
        c.request(method, path, body=iter([body]), encode_chunked=True,
                  headers=dict(headers or {}, **{"Transfer-Encoding": "chunked"}))
    else:
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


def expect_error(name, port, method, path, body, status, code, in_msg="", headers=None):
    st, j, data, _ = request(port, method, path, body, headers)
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
        rejection(port)
        run_tests(s, port, model, tmp)
        audit_signals(model, tmp)
        audit_hostile_clients(model)
        audit_rate_limit(model)
        audit_token_file(model, tmp)
        micro_batching(model)
        rasa_endpoint(model)
        learn_rewrites_and_log(model, tmp)
        langid_locale(model, tmp)
        dialogue_and_webhooks(tmp)
    finally:
        s.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def rasa_shape(name, j, text):
    """j has the shape Rasa's HTTP API documents for POST /model/parse: text; intent
    {name, confidence}; entities [{entity, value, start, end, extractor}] with start and end
    indexing the text by characters (text[start:end] == value, as in Rasa); intent_ranking
    [{name, confidence}], best first, led by the intent."""
    ok = (isinstance(j, dict) and j.get("text") == text
          and isinstance(j.get("intent"), dict)
          and isinstance(j["intent"].get("name"), str)
          and isinstance(j["intent"].get("confidence"), float)
          and 0 <= j["intent"]["confidence"] <= 1
          and isinstance(j.get("entities"), list) and isinstance(j.get("intent_ranking"), list)
          and len(j["intent_ranking"]) >= 1)
    check(name + ": top-level shape", ok, repr(j)[:300])
    if not ok:
        return
    rk = j["intent_ranking"]
    check(name + ": intent_ranking items are {name, confidence}, best first, led by intent",
          all(set(r) == {"name", "confidence"} for r in rk)
          and rk[0] == j["intent"]
          and all(rk[i]["confidence"] >= rk[i + 1]["confidence"] for i in range(len(rk) - 1)),
          repr(rk)[:300])
    for e in j["entities"]:
        check(name + ": entity keys and character offsets",
              {"entity", "value", "start", "end", "extractor"} <= set(e)
              and isinstance(e["start"], int) and isinstance(e["end"], int)
              and text[e["start"]:e["end"]] == e["value"], repr(e))


def rasa_endpoint(model):
    """POST /model/parse answers in Rasa's shape and agrees with /v1/parse (character offsets
    there, byte offsets here), on the shipped model (whose slots are right) in scripts where
    characters and bytes differ, and on the micro-batching path."""
    shipped = os.path.join(ROOT, "models", "mille.model")
    texts = ["wake me up at five am this week", "réveille-moi à cinq heures du matin",
             "今週は午前五時に起こして", "ما هو الطقس اليوم"]
    for m, args in ((shipped if os.path.exists(shipped) else model, ()),
                    (model, ("--batch-wait-us", "1000", "--batch-slots", "1"))):
        s = Server(m, *args)
        try:
            n_ent = 0
            for t in texts:
                st, j, data, _ = request(s.port, "POST", "/model/parse",
                                         json.dumps({"text": t, "message_id": "b2831e73"}),
                                         {"Content-Type": "application/json"})
                check("rasa: 200", st == 200, data[:200])
                rasa_shape("rasa " + t, j, t)
                _, v1, _, _ = post(s.port, "/v1/parse", {"text": t})
                b = t.encode()
                check("rasa: same parse as /v1/parse",
                      j["intent"]["name"] == v1["intent"]
                      and abs(j["intent"]["confidence"] - v1["confidence"]) < 1e-6
                      and [(e["entity"], e["value"], len(t[:e["start"]].encode()),
                            len(t[:e["end"]].encode())) for e in j["entities"]]
                      == [(x["slot"], b[x["start"]:x["end"]].decode(), x["start"], x["end"])
                          for x in v1["slots"]]
                      and [r["name"] for r in j["intent_ranking"]]
                      == [r["intent"] for r in v1["top_intents"]], (j, v1))
                n_ent += sum(1 for e in j["entities"] if len(e["value"]) != len(
                    e["value"].encode()))
            if m == shipped:
                check("rasa: the shipped model finds entities whose bytes and characters differ",
                      n_ent > 0)
            expect_error("rasa: text missing", s.port, "POST", "/model/parse",
                         json.dumps({"message_id": "x"}), 400, "missing_text")
            expect_error("rasa: GET refused", s.port, "GET", "/model/parse", None, 405,
                         "method_not_allowed")
            _, _, data, _ = request(s.port, "GET", "/metrics")
            check("rasa: counted in the metrics",
                  b'route="rasa_parse",status="200"' in data, data[-500:])
        finally:
            s.kill()


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
    wait_gen(port, 2)
    st, j, _, _ = request(port, "GET", "/healthz")
    check("SIGHUP reload", st == 200 and j["generation"] == 2, j)
    st, j, _, _ = request(s.admin, "POST", "/admin/reload", "", s.admin_headers())
    check("admin reload", st == 200 and j["status"] == "reloaded" and j["generation"] == 3, j)
    st, j, _, _ = request(s.admin, "POST", "/admin/reload",
                          json.dumps({"model": os.path.join(tmp, "missing.model")}),
                          s.admin_headers())
    check("admin reload of a missing file", st == 500 and j["error"]["code"] == "reload_failed"
          and "missing.model" in j["error"]["message"], j)
    trunc = os.path.join(tmp, "trunc.model")
    with open(model, "rb") as f, open(trunc, "wb") as g:
        g.write(f.read(2000))
    st, j, _, _ = request(s.admin, "POST", "/admin/reload", json.dumps({"model": trunc}),
                          s.admin_headers())
    check("admin reload of a truncated file", st == 500 and j["error"]["code"] == "reload_failed")
    expect_error("admin reload bad body", s.admin, "POST", "/admin/reload", "[1]", 400,
                 "bad_json", headers=s.admin_headers())
    time.sleep(0.3)
    stop.set()
    for t in ths:
        t.join()
    check("no failed request during reloads", not errors, errors[:5])
    st, j, _, _ = request(port, "GET", "/healthz")
    check("model kept after failed reload", st == 200 and j["generation"] == 3, j)

    audit_main_server(s, port, model, tmp)

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
    # without --model: $MILLE_MODEL (else the shipped model) is the one loaded
    env = dict(os.environ, MILLE_MODEL=os.path.join(tmp, "env-missing.model"))
    r = subprocess.run([MILLE, "serve", "--port", "0"], capture_output=True, timeout=30, env=env)
    check("serve without --model loads $MILLE_MODEL",
          r.returncode == 1 and b"env-missing.model" in r.stderr, r.stderr)
    r = subprocess.run([MILLE, "serve", "--model", model, "--port", "70000"],
                       capture_output=True, timeout=30)
    check("serve bad port", r.returncode == 2 and b"--port" in r.stderr, r.stderr)


# ---- audit 2026-12 (issue 15) -----------------------------------------------------------------

SIGS = {signal.SIGHUP: "HUP", signal.SIGINT: "INT", signal.SIGTERM: "TERM"}


def threads_not_blocking(pid):
    """[(tid, name, SigBlk)] of the threads of pid that do not block HUP, INT and TERM."""
    bad = []
    for st in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            txt = open(st).read()
        except OSError:
            continue  # the thread ended
        blk = int(re.search(r"SigBlk:\s*([0-9a-f]+)", txt).group(1), 16)
        if any(not blk >> (int(sig) - 1) & 1 for sig in SIGS):
            bad.append((st.split("/")[4], re.search(r"Name:\s*(\S+)", txt).group(1), hex(blk)))
    return bad


def healthz_gen(port):
    st, j, _, _ = request(port, "GET", "/healthz", timeout=10)
    return j["generation"] if st == 200 else None


def wait_gen(port, want, timeout=20.0):
    """The model generation once it reaches `want` (a reload's end is awaited, not guessed: a
    loaded machine under ASan can take seconds), or what it is at the deadline."""
    end = time.monotonic() + timeout
    while True:
        g = healthz_gen(port)
        if g is None or g >= want or time.monotonic() > end:
            return g
        time.sleep(0.05)


def audit_main_server(s, port, model, tmp):
    # #1: no thread may take SIGHUP/SIGTERM/SIGINT but through the main loop's signalfd
    bad = threads_not_blocking(s.p.pid)
    n = len(glob.glob(f"/proc/{s.p.pid}/task/*"))
    check("every thread blocks HUP, INT, TERM", n >= 3 and not bad, (n, bad))
    check("no signal fallback warning", b"do not block" not in s.log(), s.log()[-300:])

    # #7: the admin route. Each check on its own, everything else right.
    good = s.admin_headers()
    A = s.admin
    R = "/admin/reload"
    expect_error("admin: no token", A, "POST", R, "{}", 401, "unauthorized", "token",
                 {"Content-Type": "application/json"})
    expect_error("admin: wrong token", A, "POST", R, "{}", 401, "unauthorized", "wrong",
                 s.admin_headers("0" * 64))
    expect_error("admin: foreign Origin", A, "POST", R, "{}", 403, "forbidden", "Origin",
                 dict(good, Origin="http://evil.example"))
    expect_error("admin: foreign Host", A, "POST", R, "{}", 403, "forbidden", "Host",
                 dict(good, Host=f"evil.example:{A}"))
    expect_error("admin: text/plain", A, "POST", R, "{}", 415, "unsupported_media_type",
                 "application/json", dict(good, **{"Content-Type": "text/plain"}))
    st, _, _, r = request(A, "POST", R, "{}", {"Content-Type": "application/json"})
    check("admin: 401 has WWW-Authenticate", (r.getheader("WWW-Authenticate") or "")
          .startswith("Bearer"), r.getheader("WWW-Authenticate"))
    fifo = os.path.join(tmp, "model.fifo")
    os.mkfifo(fifo)
    t0 = time.time()
    try:
        st, j, data, _ = request(A, "POST", R, json.dumps({"model": fifo}), good, timeout=10)
    except OSError as e:
        st, j, data = None, None, str(e)
    check("admin: FIFO path is a 400, at once", st == 400 and j["error"]["code"] ==
          "bad_request" and "not a regular file" in j["error"]["message"]
          and time.time() - t0 < 5, (st, data, time.time() - t0))
    st, j, _, _ = request(A, "POST", R, json.dumps({"model": model}), dict(
        good, Host=f"localhost:{A}", Origin=f"http://localhost:{A}"))
    check("admin: same Origin, localhost, token: reloads", st == 200 and
          j["status"] == "reloaded", j)
    check("served after the admin checks", post(port, "/v1/parse", {"text": "play jazz"})[0]
          == 200)

    # #9: the batch is counted before it is parsed: an unclosed array of 5 items (the limit
    # is 4) is a 413, not the 400 of its invalid JSON
    expect_error("batch counted before the parse", port, "POST", "/v1/parse/batch",
                 "[{}, {}, {}, {}, {}", 413, "batch_too_large", "before parsing")
    # #10: public replies name the file only; file_bytes is there
    st, j, _, _ = request(port, "GET", "/healthz")
    check("healthz: file name only", st == 200 and j["model"] == "m.model", j)
    st, j, _, _ = request(port, "GET", "/v1/model")
    check("model: file name and size", st == 200 and j["path"] == "m.model"
          and j["file_bytes"] == os.path.getsize(model), {k: j.get(k) for k in (
              "path", "file_bytes")})


def audit_signals(model, tmp):
    """Two SIGHUPs 4 ms apart, and SIGHUP then SIGTERM: the reload ends, requests in flight
    finish, exit 0. Also --max-body over 64 MiB (#8) on this server."""
    # a model of 8 MB, whose reload takes long enough for a second signal to land in it
    mid = os.path.join(tmp, "mid.model")
    subprocess.run([MILLE, "train", "--data", os.path.join(ROOT, "data/sample"), "--locales",
                    "en-US", "--out", mid, "--epochs", "1", "--hidden", "16", "--dim", "16",
                    "--buckets", "262144", "--layers", "2", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    s = Server(mid, "--max-body", "70000000")
    try:
        port = s.port
        check("every thread blocks HUP, INT, TERM (2)", not threads_not_blocking(s.p.pid))
        # #1: two SIGHUPs 4 ms apart, while the first one's reload runs (it killed the server
        # through OpenBLAS's thread); a pending SIGHUP is reloaded after the running one
        g0 = healthz_gen(port)
        for _ in range(5):
            s.p.send_signal(signal.SIGHUP)
            time.sleep(0.004)
            s.p.send_signal(signal.SIGHUP)
            time.sleep(0.05)
        time.sleep(0.5)
        alive = s.p.poll() is None
        # at least 5 reloads; then give any pending one time to end before counting
        g1 = wait_gen(port, g0 + 5) if alive else None
        time.sleep(1.0)
        alive = s.p.poll() is None
        g1 = healthz_gen(port) if alive else None
        check("SIGHUP x2 4 ms apart: alive", alive, s.log()[-300:])
        check("SIGHUP x2 4 ms apart: reloaded 5 to 10 times",
              g1 is not None and 5 <= g1 - g0 <= 10, (g0, g1))
        if not alive:
            return

        big = b'{"text": "play some jazz"}' + b" " * (65 << 20)
        st, j, data, _ = request(port, "POST", "/v1/parse", big,
                                 {"Content-Type": "application/json"}, timeout=120)
        check("--max-body over 64 MiB: a 65 MiB body is parsed", st == 200 and "intent" in j,
              (st, data[:200]))
        stop = threading.Event()
        results = []

        def client():
            while not stop.is_set():
                try:
                    results.append(post(port, "/v1/parse", {"text": "wake me up at five"})[0])
                except OSError:
                    break

        ths = [threading.Thread(target=client) for _ in range(2)]
        for t in ths:
            t.start()
        time.sleep(0.3)
        s.p.send_signal(signal.SIGHUP)
        time.sleep(0.002)
        s.p.send_signal(signal.SIGTERM)
        try:
            rc = s.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        stop.set()
        for t in ths:
            t.join()
        log = s.log()
        check("SIGHUP then SIGTERM: exit 0 after draining", rc == 0 and
              b"mille serve: stopped" in log and b"cut off" not in log, (rc, log[-400:]))
        check("SIGHUP then SIGTERM: answered requests were 200", results and
              all(x == 200 for x in results), results[-5:])
    finally:
        s.kill()


def connect(port, src="127.0.0.1"):
    c = socket.socket()
    c.settimeout(10)
    c.bind((src, 0))
    c.connect(("127.0.0.1", port))
    return c


def closed_by_server(c, wait):
    """True if the server closes c (EOF or reset) within wait seconds."""
    c.settimeout(wait)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def audit_hostile_clients(model):
    """#5 and #6: trickling clients hit the deadline, the per-IP limit, the body budget."""
    s = Server(model, "--deadline", "2", "--timeout", "3", "--max-per-ip", "4",
               "--max-body", "4096", "--max-buffered", "8200")
    try:
        port = s.port
        # trickling clients: one byte every 0.4 s keeps clear of --timeout 3, not of
        # --deadline 2; one trickles its body, one its headers
        body = socket.create_connection(("127.0.0.1", port), timeout=10)
        body.sendall(b"POST /v1/parse HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        head = socket.create_connection(("127.0.0.1", port), timeout=10)
        t0 = time.time()
        cut = {}
        req = b"POST /v1/parse HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100
        k = 0
        while time.time() - t0 < 8 and len(cut) < 2:
            for name, c, byte in (("body", body, b"{"), ("head", head, req[k:k + 1])):
                if name in cut:
                    continue
                try:
                    c.sendall(byte)
                    c.settimeout(0.001)
                    if c.recv(100) == b"":
                        cut[name] = time.time() - t0
                except socket.timeout:
                    pass
                except OSError:
                    cut[name] = time.time() - t0
            k += 1
            if k == 3:
                st = post(port, "/v1/parse", {"text": "play jazz"})[0]
                check("served while two clients trickle", st == 200, st)
            time.sleep(0.4)
        body.close()
        head.close()
        check("trickled body cut at the deadline", 1.8 < cut.get("body", 99) < 4.5, cut)
        check("trickled headers cut at the deadline", 1.8 < cut.get("head", 99) < 4.5, cut)
        st, _, data, _ = request(port, "GET", "/metrics")
        check("metrics count deadline", re.search(rb'errors_total\{code="deadline"\} [2-9]',
                                                  data) is not None)

        # per-IP limit: 4 connections from 127.0.0.1 held open; a 5th is closed at once
        # while 127.0.0.2 is served; once they close, 127.0.0.1 is served again
        held = [connect(port) for _ in range(4)]
        time.sleep(0.2)
        fifth = connect(port)
        try:
            fifth.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        except OSError:
            pass
        check("5th connection from one IP is refused", closed_by_server(fifth, 3))
        fifth.close()
        other = connect(port, "127.0.0.2")
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        resp = recv_all(other)
        check("another IP is served meanwhile", b" 200 " in resp.split(b"\r\n")[0], resp[:100])
        other.close()
        for c in held:
            c.close()
        time.sleep(0.3)
        check("served again once they close", request(port, "GET", "/healthz")[0] == 200)

        # body budget: two bodies of 4000 bytes in progress hold 8192 of the 8200 bytes; a
        # third gets 503 busy once sent; a body after they finish is served
        holders = [connect(port) for _ in range(2)]
        for c in holders:
            c.sendall(b"POST /v1/parse HTTP/1.1\r\nHost: t\r\nContent-Length: 4000\r\n\r\n"
                      b'{"text": "play jazz"')
        time.sleep(0.3)
        pad = json.dumps({"text": "play jazz", "pad": "x" * 3900})
        expect_error("body budget: 503 busy", port, "POST", "/v1/parse", pad, 503, "busy",
                     "--max-buffered")
        for c in holders:
            c.sendall(b"}" + b" " * (4000 - 21))
            resp = recv_all(c)
            check("budget holders are served", b" 200 " in resp.split(b"\r\n")[0], resp[:100])
            c.close()
        st, j, _, _ = post(port, "/v1/parse", {"text": "play jazz", "pad": "x" * 3900})
        check("budget released: served", st == 200, (st, j))
    finally:
        s.kill()


def post_from(port, src, body, chunked=False):
    """POST body to /v1/parse from the address src: (status, json, response, seconds)."""
    t0 = time.time()
    st, j, _, r = request(port, "POST", "/v1/parse", body, {"Content-Type": "application/json"},
                          source=src, chunked=chunked)
    return st, j, r, time.time() - t0


def audit_rate_limit(model):
    """--max-ip-rate: an address over its budget of body bytes waits, unread, for its turn;
    one that would wait past half of --deadline gets 429; other addresses are not slowed."""
    s = Server(model, "--max-body", "4096", "--max-ip-rate", "8192", "--deadline", "4")
    try:
        port = s.port
        body = json.dumps({"text": "play jazz", "pad": "x" * 3960})
        # a bucket of 8192 bytes (two maximal bodies) refilled at 8192 bytes/s
        times = []
        for i in range(3):
            st, j, _, dt = post_from(port, "127.0.0.1", body)
            check(f"rate limit: request {i} served", st == 200 and j and "intent" in j, (st, j))
            times.append(dt)
        check("rate limit: a burst of two is not slowed", max(times[:2]) < 0.3, times)
        check("rate limit: the third waits for its budget", 0.3 < times[2] < 1.5, times)
        st, j, _, dt = post_from(port, "127.0.0.4", body)
        check("rate limit: another address is not slowed", st == 200 and dt < 0.3, (st, dt))
        # eight at once from one address: the debt grows by ~0.5 s a request; those that
        # would wait more than 2 s (half of --deadline) are refused with Retry-After
        res = []
        lock = threading.Lock()

        def one():
            r = post_from(port, "127.0.0.5", body)
            with lock:
                res.append(r)

        ths = [threading.Thread(target=one) for _ in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        ok = [r for r in res if r[0] == 200]
        refused = [r for r in res if r[0] == 429]
        check("rate limit: the others are served or refused", len(ok) + len(refused) == 8,
              [r[0] for r in res])
        check("rate limit: some served late", len(ok) >= 4 and max(r[3] for r in ok) > 1.0,
              [(r[0], round(r[3], 2)) for r in res])
        check("rate limit: some refused with 429 rate_limited",
              len(refused) >= 1 and all(r[1]["error"]["code"] == "rate_limited" and
                                        r[2].getheader("Retry-After") for r in refused),
              [(r[0], r[1]) for r in refused])
        check("rate limit: refused at once", all(r[3] < 1.0 for r in refused),
              [round(r[3], 2) for r in refused])
        # bodies over --max-body are drained, not parsed, but charged as a maximal one
        big = json.dumps({"text": "play jazz", "pad": "x" * 5000})
        res = [post_from(port, "127.0.0.6", big) for _ in range(3)]
        check("rate limit: bodies over --max-body get 413", all(r[0] == 413 for r in res),
              [r[0] for r in res])
        check("rate limit: bodies over --max-body are charged too", 0.3 < res[2][3] < 1.5,
              [round(r[3], 2) for r in res])
        # a chunked body (no Content-Length) is charged once it is in: the next request waits
        res = [post_from(port, "127.0.0.7", body, chunked=True) for _ in range(2)]
        check("rate limit: chunked bodies served", all(r[0] == 200 for r in res),
              [(r[0], r[1]) for r in res])
        st, j, _, dt = post_from(port, "127.0.0.7", body)
        check("rate limit: a chunked body's debt slows the next request",
              st == 200 and 0.3 < dt < 1.5, (st, round(dt, 2)))
        st, _, data, _ = request(port, "GET", "/metrics")
        check("metrics count throttled and rate_limited",
              re.search(rb'errors_total\{code="throttled"\} [1-9]', data) is not None and
              re.search(rb'errors_total\{code="rate_limited"\} [1-9]', data) is not None)
        check("rate limit: server stops cleanly", s.stop() == 0)
    finally:
        s.kill()


def audit_token_file(model, tmp):
    """--admin-token-file: made with mode 0600 when missing, read when present, refused when
    others can read it."""
    tok = os.path.join(tmp, "admin.token")
    s = Server(model, "--admin-token-file", tok)
    try:
        mode = stat.S_IMODE(os.stat(tok).st_mode) if os.path.exists(tok) else None
        check("token file made 0600", mode == 0o600, oct(mode or 0))
        check("token not printed when in a file", s.token is None, s.log()[-300:])
        t = open(tok).read().strip()
        st, j, _, _ = request(s.admin, "POST", "/admin/reload", "{}", s.admin_headers(t))
        check("token from the file reloads", st == 200 and j["generation"] == 2, j)
    finally:
        s.kill()
    s = Server(model, "--admin-token-file", tok)  # read back: the same token
    try:
        st, _, _, _ = request(s.admin, "POST", "/admin/reload", "{}", s.admin_headers(t))
        check("token file read at start", st == 200, st)
    finally:
        s.kill()
    os.chmod(tok, 0o644)
    r = subprocess.run([MILLE, "serve", "--model", model, "--port", "0", "--admin-port", "0",
                        "--admin-token-file", tok], capture_output=True, timeout=30)
    check("token file readable by others is refused", r.returncode == 1 and b"chmod 600"
          in r.stderr, r.stderr)
    r = subprocess.run([MILLE, "serve", "--model", model, "--max-body", "100000",
                        "--max-buffered", "5000"], capture_output=True, timeout=30)
    check("--max-buffered below --max-body", r.returncode == 2 and b"--max-buffered" in r.stderr,
          r.stderr)


def same_parse(a, b, tol=1e-4):
    """Two parses alike: every field equal, scores within tol (a batch call may round the
    last bits of a float differently from a single one)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_parse(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_parse(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol
    return a == b


def rejection(port):
    """reject_below per request (issue 14): the parse keeps its best guess and says
    "rejected"; the default is the model's threshold (mille train calibrates on dev)."""
    text = {"text": "wake me up at five am", "locale": "en-US"}
    st, j, _, _ = post(port, "/v1/parse", dict(text, reject_below=1))
    check("reject_below 1: rejected, best guess kept", st == 200 and j["rejected"] is True
          and j["intent"] and j["top_intents"], j)
    st, j0, _, _ = post(port, "/v1/parse", dict(text, reject_below=0))
    check("reject_below 0: accepted", st == 200 and j0["rejected"] is False, j0)
    st, jd, _, _ = post(port, "/v1/parse", text)
    check("default threshold: the model's", st == 200 and isinstance(jd["rejected"], bool)
          and jd["intent"] == j0["intent"], jd)
    st, jn, _, _ = post(port, "/v1/parse", dict(text, reject_below=None))
    check("reject_below null = default", st == 200 and jn == jd, jn)
    st, jb, _, _ = post(port, "/v1/parse/batch", [dict(text, reject_below=1), dict(text, reject_below=0)])
    check("batch: per-item reject_below", st == 200 and jb["results"][0]["rejected"] is True
          and jb["results"][1]["rejected"] is False, jb)
    for bad in ("1", 1.5, -0.1, [0.5]):
        expect_error(f"reject_below {bad!r}", port, "POST", "/v1/parse",
                     json.dumps(dict(text, reject_below=bad)), 400, "bad_request", "reject_below")


def micro_batching(model):
    """--batch-wait-us with one slot: 8 clients at once get the replies a server without
    micro-batching gives, and the requests share calls."""
    texts = ["wake me up at five am", "play some jazz", "what is the weather in paris",
             "turn the lights off", "今週は午前五時に起こして", "joue du jazz"]
    s = Server(model, "--threads", "8", "--batch-wait-us", "2000", "--batch-slots", "1")
    ref = Server(model)
    try:
        want = {t: post(ref.port, "/v1/parse", {"text": t})[1] for t in texts}
        got, errs = [], []

        def client(i):
            for k in range(20):
                t = texts[(i + k) % len(texts)]
                try:
                    st, j, _, _ = post(s.port, "/v1/parse", {"text": t})
                    got.append(st == 200 and same_parse(j, want[t]))
                    if not got[-1]:
                        errs.append((j, want[t]))
                except OSError as e:
                    errs.append(str(e))

        ths = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        check("micro-batching: replies equal the reference (scores within 1e-4)",
              len(got) == 160 and all(got)
              and not errs, (sum(got), len(got), errs[:3]))
        _, _, data, _ = request(s.port, "GET", "/metrics")
        g = re.search(rb"mille_parse_groups_total (\d+)", data)
        n = re.search(rb"mille_parse_grouped_total (\d+)", data)
        check("micro-batching: 160 requests in fewer calls", g and n and int(n.group(1)) == 160
              and 1 <= int(g.group(1)) < 160, (g and g.group(1), n and n.group(1)))
    finally:
        s.kill()
        ref.kill()


def learn_rewrites_and_log(model, tmp):
    """--rewrites: a source is parsed as its target, the reply says rewritten_from, a reload
    re-reads the table; --log: requests with a session are logged with the fields of
    docs/learn.md, the others not. Single parses go through micro-batching here."""
    rw = os.path.join(tmp, "rw.jsonl")
    logdir = os.path.join(tmp, "turns")
    os.makedirs(logdir, exist_ok=True)

    def table(target):
        with open(rw, "w") as f:
            f.write(json.dumps({"locale": "en-US", "source": "olly hush", "target": target,
                                "users": 3, "sessions": 3, "confidence": 0.9}) + "\n")
    table("wake me up at five am")
    s = Server(model, "--rewrites", rw, "--log", logdir, "--batch-wait-us", "500")
    try:
        st, j, _, _ = post(s.port, "/v1/parse", {"text": "wake me up at five am", "locale": "en-US"})
        st2, j2, _, _ = post(s.port, "/v1/parse", {"text": "Olly  hush!", "locale": "en-US",
                                                   "session": "s1", "user": "u1"})
        check("rewrite: applied and reported", st2 == 200 and j2.get("rewritten_from") == "Olly  hush!"
              and j2.get("intent") == j.get("intent") and j2.get("slots") == j.get("slots"), j2)
        check("rewrite: no field when nothing matches", st == 200 and "rewritten_from" not in j, j)
        st, j, _, _ = post(s.port, "/v1/parse", {"text": "olly hush", "locale": "fr-FR",
                                                 "session": "s1"})
        check("rewrite: other locale untouched", st == 200 and "rewritten_from" not in j, j)
        st, j, _, _ = post(s.port, "/v1/parse/batch", [{"text": "olly hush", "locale": "en-US"},
                                                       {"text": "olly", "locale": "en-US"}])
        r = j.get("results", [{}, {}]) if j else [{}, {}]
        check("rewrite: in a batch", st == 200 and r[0].get("rewritten_from") == "olly hush"
              and "rewritten_from" not in r[1], j)
        table("play some jazz in the kitchen")
        gen = healthz_gen(s.port)
        s.p.send_signal(signal.SIGHUP)
        for _ in range(200):
            if healthz_gen(s.port) != gen:
                break
            time.sleep(0.05)
        _, ref, _, _ = post(s.port, "/v1/parse", {"text": "play some jazz in the kitchen",
                                                  "locale": "en-US"})
        _, j, _, _ = post(s.port, "/v1/parse", {"text": "olly hush", "locale": "en-US"})
        check("rewrite: table reloaded with the model", j and ref and
              j.get("rewritten_from") == "olly hush" and j.get("slots") == ref.get("slots"), j)
        check("rewrite: stop", s.stop() == 0)
    finally:
        s.kill()
    lines = []
    for f in sorted(glob.glob(os.path.join(logdir, "turns*.jsonl"))):
        lines += [json.loads(l) for l in open(f, encoding="utf-8")]
    check("log: the two requests with a session", len(lines) == 2, lines)
    if lines:
        t = lines[0]
        check("log: fields", set(t) == {"session", "user", "time", "locale", "text", "intent",
                                        "confidence", "slots"} and t["session"] == "s1"
              and t["text"] == "wake me up at five am" and abs(t["time"] - time.time()) < 600, t)
        check("log: no user when none given", len(lines) < 2 or "user" not in lines[1], lines)


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


def langid_locale(model, tmp):
    """A request without a locale (absent, null or "auto") gets the locale the model's
    language-identification head found and its probability ("locale", "locale_p"), single,
    batched and micro-batched; a request with a locale, or a model without a head, does not."""
    lid = os.path.join(tmp, "lid.model")
    subprocess.run([MILLE, "langid-fit", model, "--data", os.path.join(ROOT, "data/sample"),
                    "--out", lid, "--rows", "4096", "--width", "8", "--epochs", "3", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    en = "wake me up at nine am"
    for args in ((), ("--batch-wait-us", "1000", "--batch-slots", "1")):
        s = Server(lid, *args)
        try:
            for loc in (None, "auto"):
                body = {"text": en} if loc is None else {"text": en, "locale": loc}
                st, j, _, _ = post(s.port, "/v1/parse", body)
                check(f"langid: locale {loc} {args}", st == 200 and
                      re.fullmatch(r"[a-z]{2,3}-[A-Z]{2}", j.get("locale", "")) is not None
                      and 0 < j.get("locale_p", 0) <= 1, j)
            st, j, _, _ = post(s.port, "/v1/parse", {"text": en, "locale": None})
            check(f"langid: locale null {args}", st == 200 and "locale_p" in j, j)
            st, j, _, _ = post(s.port, "/v1/parse", {"text": en, "locale": "en-US"})
            check(f"langid: a given locale is kept {args}", st == 200 and
                  j.get("locale") == "en-US" and "locale_p" not in j, j)
            st, j, _, _ = post(s.port, "/v1/parse/batch", [{"text": "今週は午前五時に起こして"},
                                                           {"text": en, "locale": "en-US"}])
            res = (j or {}).get("results", [])
            check(f"langid: batch {args}", st == 200 and len(res) == 2 and "locale_p" in res[0]
                  and "locale_p" not in res[1] and res[1]["locale"] == "en-US", j)
            check("langid: stop", s.stop() == 0)
        finally:
            s.kill()
    s = Server(model)
    try:
        st, j, _, _ = post(s.port, "/v1/parse", {"text": en})
        check("langid: no head, no locale", st == 200 and "locale" not in j
              and "locale_p" not in j, j)
        check("langid: stop", s.stop() == 0)
    finally:
        s.kill()

# ---- POST /v1/dialogue and webhooks (issue 12; docs/dialogue.md) ----------------------------

class Hook:
    """A local webhook (http.server in a thread) that records what it is sent and answers by
    a marker word in the request's text: "garbage" (not JSON), "slowly" (after 3 s), "huge"
    (200 KB, over the 64 KiB cap), "redirect" (302 to file:///etc/passwd), "broken" (500),
    else {"text": "hook heard <text>"}."""

    def __init__(self):
        import http.server
        hook = self
        self.got = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, status, body, headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                try:
                    req = json.loads(raw)
                except ValueError:
                    req = {"unparsed": raw.decode(errors="replace")}
                hook.got.append((self.headers.get("Content-Type"), req))
                text = req.get("text", "")
                if "garbage" in text:
                    self.answer(200, b"this is not json {")
                elif "slowly" in text:
                    time.sleep(3)
                    self.answer(200, b'{"text": "too late"}')
                elif "huge" in text:
                    self.answer(200, json.dumps({"text": "x" * 200000}).encode())
                elif "redirect" in text:
                    self.answer(302, b"", [("Location", "file:///etc/passwd")])
                elif "broken" in text:
                    self.answer(500, b'{"text": "no"}')
                else:
                    self.answer(200, json.dumps({"text": "hook heard " + text}).encode())

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def dialogue_and_webhooks(tmp):
    """The shipped model behind POST /v1/dialogue: a session asks for a missing slot and is
    completed by the answer, cancel, repeat, stateless turns, the error shape and limits of
    the other routes; then declared webhooks: hostile text reaches the hook as JSON strings,
    and a hook that times out, answers garbage, too much, a redirect or 500, or is not there
    gives the fallback answer and a reason, while the server stays up."""
    shipped = os.path.join(ROOT, "models", "mille.model")
    db = os.path.join(tmp, "dialogue.db")
    # the route is off without --dialogue-db
    s = Server(shipped, "--max-body", "4096", "--max-text", "200")
    try:
        expect_error("dialogue: off without --dialogue-db", s.port, "POST", "/v1/dialogue",
                     '{"text": "hi"}', 404, "not_found", "--dialogue-db")
    finally:
        s.kill()
    s = Server(shipped, "--dialogue-db", db, "--max-body", "4096", "--max-text", "200",
               "--max-sessions", "5")
    try:
        def say(text, session="kitchen", **kw):
            body = dict({"text": text, "locale": "en-US"}, **kw)
            if session:
                body["session"] = session
            return post(s.port, "/v1/dialogue", body)
        st, j, _, _ = say("set an alarm")
        check("dialogue: missing slot asks", st == 200 and j["action"] == "ask"
              and j["response"] == "For what time?" and j["session"] == "kitchen", j)
        check("dialogue: the fields of mille-voice --json", j and {"intent", "scenario",
              "confidence", "slots", "action", "response", "locale", "skill",
              "template_fallback"} <= set(j), j)
        st, j, _, _ = say("repeat")
        check("dialogue: repeat", st == 200 and j["response"] == "For what time?", j)
        st, j, _, _ = say("seven thirty pm")
        check("dialogue: the answer fills the slot", st == 200 and j["action"] == "act"
              and j["skill"] == "alarm" and "7:30" in j["response"]
              and j["slots"] and j["slots"][0]["slot"] == "time"
              and j["slots"][0]["value"] == "seven thirty pm" and j["slots"][0]["start"] == 0, j)
        st, j, _, _ = say("set an alarm", session="other")
        st, j, _, _ = say("cancel", session="other")
        check("dialogue: cancel", st == 200 and j["response"] == "Okay, cancelled.", j)
        st, j, _, _ = say("seven pm", session="other")
        check("dialogue: after cancel no alarm", st == 200 and j["skill"] != "alarm", j)
        st, j, _, _ = say("set an alarm", session=None)
        st2, j2, _, _ = say("seven pm", session=None)
        check("dialogue: no session, no state", st == 200 and j["action"] == "ask"
              and st2 == 200 and j2["skill"] != "alarm" and "session" not in j2, (j, j2))
        st, j, _, _ = say("wie spät ist es", session=None, locale="de-DE")
        check("dialogue: answers in the locale", st == 200 and j["locale"] == "de-DE"
              and j["response"].startswith("Es ist"), j)
        st, j, _, _ = post(s.port, "/v1/dialogue", {"text": "wie spät ist es"})
        check("dialogue: without a locale, answers in the one identified", st == 200
              and j["locale"] == "de-DE" and j["response"].startswith("Es ist"), j)
        # clients inventing ids: the store keeps 5
        for i in range(12):
            say("what time is it", session=f"invented-{i}")
        st, j, _, _ = say("seven pm")
        check("dialogue: an evicted session is new", st == 200 and j["skill"] != "alarm", j)
        # errors have the server's shape; limits are the other routes'
        p = s.port
        expect_error("dialogue: empty body", p, "POST", "/v1/dialogue", "", 400, "bad_json")
        expect_error("dialogue: not JSON", p, "POST", "/v1/dialogue", "{text", 400, "bad_json")
        expect_error("dialogue: no text", p, "POST", "/v1/dialogue", '{"session": "a"}', 400,
                     "missing_text")
        expect_error("dialogue: session not a string", p, "POST", "/v1/dialogue",
                     '{"text": "hi", "session": 1}', 400, "bad_request", "session")
        expect_error("dialogue: session too long", p, "POST", "/v1/dialogue",
                     json.dumps({"text": "hi", "session": "s" * 129}), 400, "bad_request")
        expect_error("dialogue: text too long", p, "POST", "/v1/dialogue",
                     json.dumps({"text": "a " * 150}), 413, "text_too_long")
        expect_error("dialogue: body too large", p, "POST", "/v1/dialogue",
                     json.dumps({"text": "hi", "pad": "x" * 5000}), 413, "body_too_large")
        expect_error("dialogue: invalid UTF-8", p, "POST", "/v1/dialogue",
                     b'{"text": "set an alarm \xff"}', 400, "invalid_utf8")
        expect_error("dialogue: unknown locale", p, "POST", "/v1/dialogue",
                     '{"text": "hi", "locale": "xx-XX"}', 400, "unknown_locale")
        expect_error("dialogue: GET", p, "GET", "/v1/dialogue", None, 405, "method_not_allowed")
        check("dialogue: stop", s.stop() == 0)
    finally:
        s.kill()
    # the session survives a restart (SQLite)
    s = Server(shipped, "--dialogue-db", db)
    try:
        post(s.port, "/v1/dialogue", {"session": "r", "text": "set an alarm"})
        s.stop()
        s = Server(shipped, "--dialogue-db", db)
        st, j, _, _ = post(s.port, "/v1/dialogue", {"session": "r", "text": "eight am"})
        check("dialogue: a session survives a restart", st == 200 and j["skill"] == "alarm", j)
    finally:
        s.kill()

    hook = Hook()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    intents = json.loads(subprocess.run([MILLE, "inspect", shipped], capture_output=True,
                                        check=True).stdout)["intents"]
    url = f"http://127.0.0.1:{hook.port}/hook"
    skills = [{"intent": i, "webhook": url, "timeout_ms": 500,
               "response": {"en-US": "Hook: {output}"}}
              for i in intents if i not in ("weather_query", "datetime_query")]
    skills.append({"intent": "weather_query", "webhook": f"http://127.0.0.1:{dead}/x",
                   "timeout_ms": 500})
    skills.append({"intent": "datetime_query", "webhook": url, "timeout_ms": 500})
    sk = os.path.join(tmp, "skills.json")
    with open(sk, "w") as f:
        json.dump({"skills": skills}, f)
    s = Server(shipped, "--dialogue-db", os.path.join(tmp, "hooks.db"), "--skills", sk,
               "--dialogue-act", "0", "--dialogue-confirm", "0", "--max-text", "1000")
    try:
        def say(text):
            return post(s.port, "/v1/dialogue", {"text": text, "locale": "en-US",
                                                 "session": "hooks"})
        hostile = ("play \"jazz\" '; touch /tmp/mille-pwned; echo $(id) `id` | tee && "
                   "rm -rf x \\ {time} \u00e9\u6771")
        hook.got.clear()
        st, j, _, _ = say(hostile)
        got = hook.got[-1][1] if hook.got else {}
        check("webhook: called with JSON", hook.got and hook.got[-1][0] == "application/json"
              and set(got) == {"intent", "scenario", "slots", "locale", "session", "text"},
              hook.got)
        check("webhook: hostile text arrives intact", got.get("text") == hostile
              and got.get("session") == "hooks" and got.get("locale") == "en-US", got)
        check("webhook: slot values are pieces of the text, intact",
              all(sl["value"] in hostile for sl in got.get("slots", [])), got)
        check("webhook: its text is the response", st == 200 and j["action"] == "act"
              and j["response"] == "Hook: hook heard " + hostile and j["skill"] == "declared",
              j)
        check("webhook: no shell ran", not os.path.exists("/tmp/mille-pwned"))
        # invalid UTF-8 never reaches a hook: the body is refused first
        n = len(hook.got)
        expect_error("webhook: invalid UTF-8 refused", s.port, "POST", "/v1/dialogue",
                     b'{"text": "play \xff\xfe jazz", "session": "hooks"}', 400, "invalid_utf8")
        check("webhook: not called for invalid UTF-8", len(hook.got) == n)
        for word, why in (("garbage", "not JSON"), ("slowly", "within 500 ms"),
                          ("huge", "over 65536 bytes"), ("redirect", "redirects are not followed"),
                          ("broken", "status 500")):
            t0 = time.time()
            st, j, _, _ = say(f"play {word} music by the beatles")
            check(f"webhook {word}: fallback answer, reason", st == 200
                  and j["action"] == "fallback"
                  and j["response"] == "Sorry, that skill is not answering right now."
                  and why in j.get("skill_error", ""), j)
            check(f"webhook {word}: bounded time", time.time() - t0 < 2.5, time.time() - t0)
        st, j, _, _ = say("what is the weather like today")
        check("webhook unreachable: fallback answer", st == 200 and j["action"] == "fallback"
              and j.get("skill_error", "").startswith("webhook: ")
              and j["intent"] == "weather_query", j)
        st, j, _, _ = say("what time is it")
        check("webhook without a template: its text", st == 200
              and j["response"] == "hook heard what time is it", j)
        st, _, _, _ = request(s.port, "GET", "/healthz")
        check("webhook: the server is still up", st == 200)
        check("webhook: stop", s.stop() == 0)
    finally:
        s.kill()
        hook.close()
    # a declared command run by a server thread (fork + execve, no shell)
    with open(sk, "w") as f:
        json.dump({"skills": [{"intent": "datetime_query", "command": ["/bin/echo", "{text}"],
                               "response": {"en-US": "Ran: {output}"}}]}, f)
    s = Server(shipped, "--dialogue-db", os.path.join(tmp, "cmd.db"), "--skills", sk)
    try:
        st, j, _, _ = post(s.port, "/v1/dialogue", {"text": "what time is it $(id)"})
        check("command skill through the server", st == 200
              and j["response"] == "Ran: what time is it $(id)", j)
    finally:
        s.kill()
    # a skill file with another scheme is refused at start
    with open(sk, "w") as f:
        json.dump({"skills": [{"intent": "play_music", "webhook": "file:///etc/passwd"}]}, f)
    r = subprocess.run([MILLE, "serve", "--model", shipped, "--port", "0", "--dialogue-db",
                        os.path.join(tmp, "x.db"), "--skills", sk], capture_output=True,
                       timeout=60)
    check("webhook: file:// refused at start", r.returncode == 1 and b"http://" in r.stderr,
          r.stderr)


if __name__ == "__main__":
    sys.exit(main())
