#!/usr/bin/env python3
"""playground_test.py - drives the playground page of `mille serve` in headless Chromium.

    python3 tests/browser/playground_test.py [--mille build/mille] [--model M]
                                             [--screenshot build/playground.png]

Python stdlib only. Speaks the W3C WebDriver protocol over HTTP to Debian's chromedriver
(apt-get install chromium chromium-driver), whose version always matches chromium's. Trains
a tiny model on data/sample (unless --model or MODEL is given), starts
`mille serve --port 0 --admin-port -1`, opens / and checks, against POST /v1/parse for the
same input, what the page shows: intent, confidence, top intents, slots highlighted at the
right characters (UTF-8 byte offsets -> JS string indices, for Japanese and an emoji), the
server's error message for an empty text, right-to-left text, and that no request leaves
127.0.0.1 (hosts other than loopback do not even resolve in the browser). Saves a
screenshot. Ends with "N passed, N failed[, N skipped]"; exit status 1 if anything failed.
Every wait is bounded; the server, chromedriver and chromium are stopped on exit.
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ELEM = "element-6066-11e4-a52e-4f735466cecf"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
# No proxy, whatever the environment says: everything here is on 127.0.0.1.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))

EN = "wake me up at five am"
JA = "明日の朝七時に起こして"
EMOJI = "😀 wake me up at five am"  # a 4-byte character (2 UTF-16 units) before the slots


class Fail(Exception):
    pass


def http_json(method, url, body=None, timeout=30):
    """(status, JSON body) of one request; HTTP errors are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with HTTP.open(req, timeout=timeout) as f:
            return f.status, json.load(f)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


class WebDriver:
    def __init__(self, base):
        self.base, self.sid = base, None

    def call(self, method, path, body=None, timeout=60):
        if self.sid and not path.startswith("/session/"):
            path = "/session/%s%s" % (self.sid, path)
        if method == "POST" and body is None:
            body = {}
        status, out = http_json(method, self.base + path, body, timeout)
        v = out.get("value") if isinstance(out, dict) else None
        if status != 200:
            v = v or {}
            raise Fail("webdriver %s %s: %s: %s" % (method, path, v.get("error"),
                                                    str(v.get("message", out))[:300]))
        return v

    def start(self, caps):
        v = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        self.sid = v["sessionId"]

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", "/session/" + self.sid, timeout=20)
            except Exception:
                pass
            self.sid = None

    def js(self, script, *args):
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self.call("POST", "/element", {"using": "css selector", "value": css})[ELEM]

    def click(self, css):
        self.call("POST", "/element/%s/click" % self.find(css))

    def type(self, css, text, clear=True):
        e = self.find(css)
        if clear:
            self.call("POST", "/element/%s/clear" % e)
        if text:
            self.call("POST", "/element/%s/value" % e, {"text": text})

    def log(self, kind):
        return self.call("POST", "/se/log", {"type": kind})

    def wait(self, script, what, timeout=15, *args):
        end = time.monotonic() + timeout
        while True:
            v = self.js(script, *args)
            if v:
                return v
            if time.monotonic() > end:
                raise Fail("timed out after %ss waiting for %s" % (timeout, what))
            time.sleep(0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_chromedriver(chromedriver, tmp, procs):
    """Start chromedriver on a free port (logging to tmp, appended to procs) and wait until it
    is ready: a WebDriver client for it."""
    dport = free_port()
    drv = subprocess.Popen([chromedriver, "--port=%d" % dport,
                            "--log-path=" + os.path.join(tmp, "chromedriver.log")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    procs.append(drv)
    wd = WebDriver("http://127.0.0.1:%d" % dport)
    end = time.monotonic() + 30
    while True:
        try:
            if http_json("GET", wd.base + "/status", timeout=5)[1]["value"]["ready"]:
                return wd
        except (OSError, ValueError, KeyError):
            pass
        if drv.poll() is not None or time.monotonic() > end:
            raise Fail("chromedriver did not start")
        time.sleep(0.1)


class Runner:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def run(self, name, fn):
        try:
            note = fn()
        except Exception as e:  # a failed check, or anything the check did not expect
            self.failed += 1
            print("FAIL: %s: %s" % (name, e), flush=True)
            return
        if note and note.startswith("skip"):
            self.skipped += 1
            print("SKIP: %s: %s" % (name, note), flush=True)
        else:
            self.passed += 1
            print("ok: %s%s" % (name, " (%s)" % note if note else ""), flush=True)


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mille", default=os.environ.get("MILLE", os.path.join(ROOT, "build/mille")))
    ap.add_argument("--model", default=os.environ.get("MODEL"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data/sample"))
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "chromedriver"))
    ap.add_argument("--screenshot", default=os.path.join(ROOT, "build/playground.png"))
    a = ap.parse_args()

    t = Runner()
    tmp = tempfile.mkdtemp(prefix="mille_browser.")
    procs = []
    wd = None
    try:
        for exe in (a.chromium, a.chromedriver, a.mille):
            if not shutil.which(exe):
                raise Fail("%s not found (apt-get install chromium chromium-driver; make)" % exe)
        model = a.model
        if not model:
            model = os.path.join(tmp, "tiny.model")
            # 30 short epochs (a few seconds): enough for the tiny model to predict slots
            subprocess.run([a.mille, "train", "--data", a.data, "--locales", "en-US,fr-FR,ja-JP",
                            "--out", model, "--epochs", "30", "--hidden", "64", "--dim", "16",
                            "--buckets", "16384", "--layers", "2", "--threads", "1", "--quiet"],
                           check=True, stdout=subprocess.DEVNULL, timeout=300)

        # the server: read its port from "listening on http://127.0.0.1:PORT" on stderr
        srv = subprocess.Popen([a.mille, "serve", "--model", model, "--port", "0",
                                "--admin-port", "-1"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(srv)
        found, lines = [], []

        def drain():
            for line in srv.stderr:
                lines.append(line)
                m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if m and not found:
                    found.append(m.group(1))
        threading.Thread(target=drain, daemon=True).start()
        end = time.monotonic() + 30
        while not found and srv.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        if not found:
            raise Fail("mille serve did not start: %s" % "".join(lines)[-500:])
        base = found[0]
        model_info = http_json("GET", base + "/v1/model")[1]

        # chromedriver, then chromium through it
        wd = start_chromedriver(a.chromedriver, tmp, procs)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-dev-shm-usage", "--no-proxy-server", "--lang=en-US",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1100,1250", "--user-data-dir=" + os.path.join(tmp, "profile")]
        wd.start({"browserName": "chrome",
                  "goog:chromeOptions": {"binary": a.chromium, "args": args},
                  "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
                  "timeouts": {"pageLoad": 30000, "script": 30000, "implicit": 0}})

        def api(text, locale):
            body = {"text": text}
            if locale:
                body["locale"] = locale
            return http_json("POST", base + "/v1/parse", body)

        def loc(l):
            return l if l in model_info.get("locales", []) else ""

        def do_parse(text, locale, enter=False):
            """Type TEXT, pick LOCALE ("" = auto), submit; wait for the page to render."""
            n = wd.js("return performance.getEntriesByName(location.origin + '/v1/parse').length")
            wd.type("#text", text)
            wd.click('#locale option[value="%s"]' % locale)
            if enter:
                wd.call("POST", "/element/%s/value" % wd.find("#text"), {"text": "\ue007"})
            else:
                wd.click("#parse")
            wd.wait("return performance.getEntriesByName(location.origin + '/v1/parse').length"
                    " > arguments[0] && !document.getElementById('parse').disabled",
                    "the parse of %r" % text, 15, n)

        def shown():
            return wd.js("""
              const $ = (id) => document.getElementById(id);
              return {intent: $('intent').textContent, confidence: $('confidence').textContent,
                      hidden: $('result').hidden, error: $('error').textContent,
                      top: [...document.querySelectorAll('#top li code')].map(e => e.textContent),
                      slots: [...document.querySelectorAll('#slots .slot')].map(
                          e => [e.dataset.slot, e.textContent]),
                      slotText: $('slots').textContent, listed: document.querySelectorAll('#slotlist li code').length,
                      annot: $('annot').textContent, text: $('text').value};""")

        def check_slots(text, r, s):
            b = text.encode("utf-8")
            want = [[x["slot"], b[x["start"]:x["end"]].decode("utf-8")]
                    for x in sorted(r["slots"], key=lambda x: x["start"])]
            expect(s["slots"] == want, "highlighted slots %r, the API's %r" % (s["slots"], want))
            expect(s["slotText"] == text, "the highlighted text %r is not the utterance %r"
                   % (s["slotText"], text))
            expect(s["listed"] == len(r["slots"]), "%d slots listed, the API has %d"
                   % (s["listed"], len(r["slots"])))
            expect(s["annot"] == r["annot_utt"], "annot_utt %r, the API's %r"
                   % (s["annot"], r["annot_utt"]))
            if not r["slots"]:
                return "skip: the model predicts no slot for %r, nothing to highlight" % text
            return "%d slots: %s" % (len(want), ", ".join("%s=%s" % tuple(w) for w in want))

        def t_load():
            wd.call("POST", "/url", {"url": base + "/"})
            wd.wait("return document.getElementById('locale').options.length > 1",
                    "the locale list from GET /v1/model")
            ids = wd.js("return ['text','locale','parse','intent','confidence','slots','error']"
                        ".filter(id => !document.getElementById(id))")
            expect(not ids, "missing elements: %s" % ids)
            opts = wd.js("return [...document.getElementById('locale').options].map(o => o.value)")
            expect(opts == [""] + model_info["locales"],
                   "locale options %r, the model's %r" % (opts, model_info["locales"]))
            return "%d locales + auto" % len(model_info["locales"])
        t.run("the page loads and lists the model's locales", t_load)

        en = {}

        def t_en_intent():
            do_parse(EN, loc("en-US"))
            st, r = api(EN, loc("en-US"))
            expect(st == 200, "the API answered %s %r" % (st, r))
            s = shown()
            en.update(r=r, s=s)
            expect(not s["hidden"] and not s["error"], "no result shown (error %r)" % s["error"])
            expect(s["intent"] == r["intent"], "#intent %r, the API's %r" % (s["intent"], r["intent"]))
            pct = "%.1f%%" % (r["confidence"] * 100)
            expect(pct in s["confidence"] or r["confidence"] < 0.01,
                   "#confidence %r, the API's %s" % (s["confidence"], r["confidence"]))
            top = [x["intent"] for x in r["top_intents"]]
            expect(s["top"] == top, "top intents %r, the API's %r" % (s["top"], top))
            return "%s %s" % (s["intent"], s["confidence"])
        t.run("English: #intent, confidence and top intents match POST /v1/parse", t_en_intent)
        t.run("English: highlighted slots match the API's",
              lambda: check_slots(EN, en["r"], en["s"]) if en else expect(0, "no parse"))

        def t_empty():
            do_parse("", loc("en-US"))
            st, r = api("", loc("en-US"))
            expect(st == 400 and "error" in r, "the API answered %s %r" % (st, r))
            s = shown()
            msg = r["error"]["message"]
            expect(msg in s["error"] and r["error"]["code"] in s["error"],
                   "#error %r lacks the server's %r / %r" % (s["error"], r["error"]["code"], msg))
            expect(s["hidden"], "the previous result is still shown beside the error")
            return s["error"]
        t.run("empty text: #error shows the server's message", t_empty)

        def t_ja():
            do_parse(JA, loc("ja-JP"), enter=True)  # submitted with the Enter key
            st, r = api(JA, loc("ja-JP"))
            expect(st == 200, "the API answered %s %r" % (st, r))
            s = shown()
            expect(not s["error"], "error shown: %r" % s["error"])
            expect(s["intent"] == r["intent"], "#intent %r, the API's %r" % (s["intent"], r["intent"]))
            return check_slots(JA, r, s)
        t.run("Japanese (Enter key): slots highlighted at the right characters", t_ja)

        def t_emoji():
            do_parse(EMOJI, loc("en-US"))
            st, r = api(EMOJI, loc("en-US"))
            expect(st == 200, "the API answered %s %r" % (st, r))
            return check_slots(EMOJI, r, shown())
        t.run("a 4-byte character before the slots: offsets still right", t_emoji)

        def t_rtl():
            wd.click("#examples button[lang=ar]")
            wd.wait("return document.getElementById('text').value && "
                    "!document.getElementById('parse').disabled && "
                    "(!document.getElementById('result').hidden || "
                    "document.getElementById('error').textContent)", "the Arabic example")
            s = shown()
            text = s["text"]
            st, r = api(text, wd.js("return document.getElementById('locale').value"))
            if st != 200:  # e.g. a model without Arabic: the page must show the server's error
                expect(r["error"]["message"] in s["error"], "#error %r" % s["error"])
                return "the server said %s" % r["error"]["code"]
            expect(s["intent"] == r["intent"], "#intent %r, the API's %r" % (s["intent"], r["intent"]))
            check_slots(text, r, s)
            d = wd.js("return ['text','slots','annot'].map(id => "
                      "document.getElementById(id).matches(':dir(rtl)'))")
            expect(all(d), "not right-to-left (#text, #slots, #annot): %r" % d)
            return "%s, %d slots, shown right to left" % (r["intent"], len(r["slots"]))
        t.run("Arabic example button: parsed and shown right to left", t_rtl)

        def t_screenshot():
            do_parse(JA, loc("ja-JP"))
            png = base64.b64decode(wd.call("GET", "/screenshot"))
            os.makedirs(os.path.dirname(os.path.abspath(a.screenshot)), exist_ok=True)
            with open(a.screenshot, "wb") as f:
                f.write(png)
            expect(png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
            return a.screenshot
        t.run("screenshot", t_screenshot)

        def t_offline():
            urls = []
            for e in wd.log("performance"):
                m = json.loads(e["message"])["message"]
                if m.get("method") == "Network.requestWillBeSent":
                    urls.append(m["params"]["request"]["url"])
            expect(urls, "no request seen in the performance log")
            # chrome:// (the first blank tab), data: and blob: never touch the network
            away = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss", "ftp")
                    and urlsplit(u).hostname not in LOOPBACK]
            expect(not away, "requests leaving 127.0.0.1: %r" % away[:5])
            errs = [e["message"] for e in wd.log("browser") if e.get("level") == "SEVERE"
                    and "/v1/parse" not in e["message"]]  # the empty text's 400 is expected
            expect(not errs, "console errors: %r" % errs[:5])
            ours = [u for u in urls if u.startswith(base)]
            return "%d requests to the server, none elsewhere" % len(ours)
        t.run("no request leaves 127.0.0.1, no console error", t_offline)
    except Exception as e:
        t.failed += 1
        print("FAIL: setup: %s" % e, flush=True)
        log = os.path.join(tmp, "chromedriver.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                sys.stdout.write("".join(f.readlines()[-15:]))
    finally:
        if wd:
            wd.quit()
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed%s" % (t.passed, t.failed,
                                       ", %d skipped" % t.skipped if t.skipped else ""))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
