#!/usr/bin/env python3
"""report_test.py - the HTML report of `mille eval --html` in headless Chromium.

    python3 tests/browser/report_test.py [--mille build/mille]

Python stdlib only; the WebDriver client and the Chromium setup are playground_test.py's.
Predicts data/sample's dev records with the shipped model (models/mille.model, with its
confidences) and with tests/data/model_v1.mille (the baseline), scores both with
`mille eval --json`, writes the report with --html --baseline, opens it from a file:// URL
and checks that it renders, that every number of its per-locale table equals the JSON
report's (to the 2 decimals shown, deltas to the baseline included), that the confused
pairs, slot rows and reliability bins are those of the embedded data and add up, and that
it makes no request and logs no error. Ends with "N passed, N failed".
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from playground_test import (ROOT, Fail, Runner, expect, http_json,  # noqa: E402
                             start_chromedriver)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mille", default=os.environ.get("MILLE", os.path.join(ROOT, "build/mille")))
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "chromedriver"))
    a = ap.parse_args()
    t = Runner()
    tmp = tempfile.mkdtemp(prefix="mille_report.")
    procs, wd = [], None
    data = os.path.join(ROOT, "data/sample")
    try:
        for exe in (a.chromium, a.chromedriver, a.mille):
            if not shutil.which(exe):
                raise Fail("%s not found (apt-get install chromium chromium-driver; make)" % exe)

        def mille(*args, out=None):
            with open(out, "w") if out else open(os.devnull, "w") as f:
                subprocess.run([a.mille, *args], check=True, stdout=f, timeout=300)
        pred, base = os.path.join(tmp, "pred.jsonl"), os.path.join(tmp, "base.jsonl")
        mille("predict", "--model", os.path.join(ROOT, "models/mille.model"), data,
              "--partitions", "dev", out=pred)
        mille("predict", "--model", os.path.join(ROOT, "tests/data/model_v1.mille"), data,
              "--partitions", "dev", out=base)
        mille("eval", data, base, "--partition", "dev", "--json", out=os.path.join(tmp, "b.json"))
        mille("eval", data, pred, "--partition", "dev", "--json", out=os.path.join(tmp, "r.json"))
        page = os.path.join(tmp, "report.html")
        mille("eval", data, pred, "--partition", "dev", "--html", page, "--baseline",
              os.path.join(tmp, "b.json"))
        with open(os.path.join(tmp, "r.json")) as f:
            rep = json.load(f)
        with open(os.path.join(tmp, "b.json")) as f:
            brep = json.load(f)
        with open(page, encoding="utf-8") as f:
            html = f.read()
        t.run("self-contained: no src= or href= to anything",
              lambda: expect("src=" not in html and "href=" not in html, "outside resource"))

        wd = start_chromedriver(a.chromedriver, tmp, procs)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
                "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND",
                "--window-size=1100,1250", "--user-data-dir=" + os.path.join(tmp, "profile")]
        wd.start({"browserName": "chrome",
                  "goog:chromeOptions": {"binary": a.chromium, "args": args},
                  "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
                  "timeouts": {"pageLoad": 30000, "script": 30000, "implicit": 0}})
        wd.call("POST", "/url", {"url": "file://" + page})

        def t_render():
            wd.wait("return document.body.getAttribute('data-ready') === '1'", "the page's script")
            n = wd.js("return document.querySelectorAll('#locales tr[data-locale]').length")
            expect(n == len(rep["by_locale"]) + 1, "%s locale rows, want %d + average" %
                   (n, len(rep["by_locale"])))
        t.run("renders", t_render)

        def t_numbers():
            rows = wd.js("""return [...document.querySelectorAll('#locales tr[data-locale]')]
                .map(tr => [tr.dataset.locale, ...[...tr.children].slice(1, 6)
                .map(td => td.firstChild ? td.firstChild.textContent : '')]);""")
            bad = []
            for loc, n, em, ia, sf, ece in rows:
                m = rep["average"] if loc == "average" else rep["by_locale"][loc]
                if loc != "average" and int(n) != m["n"]:
                    bad.append((loc, "n", n, m["n"]))
                for shown, key in ((em, "exact_match"), (ia, "intent_accuracy"), (sf, "slot_f1"),
                                   (ece, "ece")):
                    if shown != "%.2f" % m[key]:
                        bad.append((loc, key, shown, m[key]))
            expect(not bad, "page != JSON: %r" % bad[:5])
            deltas = wd.js("""return [...document.querySelectorAll('#locales tr[data-locale]')]
                .map(tr => [tr.dataset.locale, tr.querySelector('td.exact_match span').textContent]);""")
            for loc, d in deltas:
                m = rep["average"] if loc == "average" else rep["by_locale"][loc]
                b = brep["average"] if loc == "average" else brep["by_locale"][loc]
                want = " (%s%.2f)" % ("+" if m["exact_match"] - b["exact_match"] >= 0 else "",
                                      m["exact_match"] - b["exact_match"])
                expect(d == want, "%s: delta %r, want %r" % (loc, d, want))
            return "%d rows" % len(rows)
        t.run("per-locale numbers and deltas equal mille eval --json", t_numbers)

        def t_sections():
            emb = wd.js("return JSON.parse(document.getElementById('report').textContent)")
            pairs = wd.js("""return [...document.querySelectorAll('#confusions tr.pair')].map(tr =>
                [+tr.querySelector('.count').textContent, tr.querySelector('.gold').textContent,
                 tr.querySelector('.pred').textContent, tr.querySelectorAll('.ex div').length]);""")
            expect(pairs and len(pairs) == len(emb["confusions"]), "confused pairs: %r" % pairs[:2])
            expect(all(p[1] != p[2] and p[3] >= 1 for p in pairs), "pairs: %r" % pairs[:3])
            expect([p[0] for p in pairs] == sorted((p[0] for p in pairs), reverse=True),
                   "pairs not by count")
            slots = wd.js("""return [...document.querySelectorAll('#slots tr[data-slot]')]
                .map(tr => [tr.dataset.slot, tr.querySelector('.f1').textContent]);""")
            expect(len(slots) == len(emb["slots"]) and slots, "slot rows")
            for (name, f1), s in zip(slots, emb["slots"]):
                expect(name == s["slot"] and f1 == "%.2f" % s["f1"], "slot %s: %s vs %r" %
                       (name, f1, s))
            # micro F1 over the slot types is the report's pooled slot F1 (one locale: equal)
            bins = wd.js("""return [...document.querySelectorAll('#reliability rect.bin')]
                .map(r => +r.dataset.n);""")
            want = [b["n"] for b in emb["reliability"] if b["n"]]
            expect(bins == want, "reliability bins %r, want %r" % (bins, want))
            n_dev = sum(m["n"] for m in rep["by_locale"].values())
            expect(sum(bins) == n_dev, "reliability bins hold %d records, dev has %d" %
                   (sum(bins), n_dev))
            return "%d pairs, %d slot types, %d bins" % (len(pairs), len(slots), len(bins))
        t.run("confused pairs, slot F1, reliability diagram", t_sections)

        def t_offline():
            urls = []
            for e in wd.log("performance"):
                m = json.loads(e["message"])["message"]
                if m.get("method") == "Network.requestWillBeSent":
                    urls.append(m["params"]["request"]["url"])
            away = [u for u in urls if urlsplit(u).scheme not in ("file", "data", "chrome",
                                                                  "about")]
            expect(not away, "requests: %r" % away[:5])
            errs = [e["message"] for e in wd.log("browser") if e.get("level") == "SEVERE"]
            expect(not errs, "console errors: %r" % errs[:5])
        t.run("no request, no console error", t_offline)
    except Exception as e:
        t.failed += 1
        print("FAIL: setup: %s" % e, flush=True)
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
    print("%d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
