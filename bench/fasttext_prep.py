#!/usr/bin/env python3
"""Helpers for bench/fasttext.sh (Python 3 stdlib only).

  fasttext_prep.py prep MASSIVE_DIR OUTDIR LOCALE
      writes OUTDIR/LOCALE/{train.txt,dev.txt,dev.jsonl,one.txt,one.jsonl}
      train.txt / dev.txt: fastText format "__label__<intent> <words>", words segmented as mille
      segments them (see words() below) and lowercased with str.lower();
      dev.jsonl: the dev records unchanged (input for mille predict);
      one.txt / one.jsonl: the first dev utterance alone (to time model loading).
  fasttext_prep.py ftlines IN.jsonl OUT.txt
      writes the MASSIVE records of IN.jsonl in fastText format, as prep writes dev.txt (e.g.
      a dev file with typos from `mille perturb`, for bench/typos.sh).
  fasttext_prep.py timeit N CMD [ARG...]
      runs CMD N times with stdout to /dev/null, prints the median wall time in seconds.
  fasttext_prep.py score GOLD.jsonl PRED.jsonl
      prints "n correct" for the intent of PRED records (mille predict output) against GOLD by id.
  fasttext_prep.py ftscore DEV.txt FASTTEXT_PREDICT_OUTPUT
      prints "n correct": `fasttext predict` labels against the labels of DEV.txt, line by line.
  fasttext_prep.py fttest OUTPUT_OF_FASTTEXT_TEST
      prints "n p_at_1" parsed from `fasttext test` output (3 decimals only).
"""
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time

# Locales whose text has no spaces between words and where mille splits per code point.
CHAR_LOCALES = {"ja-JP", "zh-CN", "zh-TW"}
_ASCII_RUN_OR_CHAR = re.compile(r"[\x00-\x7f]+|.", re.S)


def words(utt, locale):
    """mille's word segmentation: str.split() words; in ja-JP/zh-CN/zh-TW every non-space code
    point is a word, except that runs of ASCII characters stay whole ("用iphone2打" ->
    用 iphone2 打)."""
    ws = utt.split()
    if locale in CHAR_LOCALES:
        ws = [t for w in ws for t in _ASCII_RUN_OR_CHAR.findall(w)]
    return ws


def ft_line(rec):
    ws = [w.lower() for w in words(rec["utt"], rec["locale"])]
    return "__label__%s %s\n" % (rec["intent"], " ".join(ws))


def prep(massive, outdir, locale):
    d = os.path.join(outdir, locale)
    os.makedirs(d, exist_ok=True)
    files = {p: open(os.path.join(d, p + ".txt"), "w", encoding="utf-8") for p in ("train", "dev")}
    devj = open(os.path.join(d, "dev.jsonl"), "w", encoding="utf-8")
    first = None
    counts = {"train": 0, "dev": 0}
    with gzip.open(os.path.join(massive, locale + ".jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            p = rec.get("partition")
            if p not in files:
                continue  # only train and dev are used; there is no test data here anyway
            files[p].write(ft_line(rec))
            counts[p] += 1
            if p == "dev":
                devj.write(line if line.endswith("\n") else line + "\n")
                if first is None:
                    first = (rec, line)
    for f in files.values():
        f.close()
    devj.close()
    if first is None:
        sys.exit("fasttext_prep: no dev records for %s" % locale)
    with open(os.path.join(d, "one.txt"), "w", encoding="utf-8") as f:
        f.write(ft_line(first[0]))
    with open(os.path.join(d, "one.jsonl"), "w", encoding="utf-8") as f:
        f.write(first[1].rstrip("\n") + "\n")
    print("%s train=%d dev=%d" % (locale, counts["train"], counts["dev"]))


def timeit(n, cmd):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        with open(os.devnull, "wb") as null:
            subprocess.run(cmd, stdout=null, check=True)
        ts.append(time.perf_counter() - t0)
    print("%.6f" % statistics.median(ts))


def score(gold_path, pred_path):
    gold = {}
    with open(gold_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                gold[r["id"]] = r["intent"]
    n = ok = 0
    seen = set()
    with open(pred_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("partition", "dev") != "dev" or r["id"] not in gold or r["id"] in seen:
                continue
            seen.add(r["id"])
            n += 1
            ok += r.get("intent") == gold[r["id"]]
    if n != len(gold):
        sys.exit("fasttext_prep score: %d predictions for %d gold records" % (n, len(gold)))
    print("%d %d" % (n, ok))


def ftscore(dev_path, pred_path):
    with open(dev_path, encoding="utf-8") as f:
        gold = [line.split(None, 1)[0] for line in f if line.strip()]
    with open(pred_path, encoding="utf-8") as f:
        pred = [line.strip() for line in f]
    if len(pred) != len(gold):
        sys.exit("fasttext_prep ftscore: %d predictions for %d dev lines" % (len(pred), len(gold)))
    print("%d %d" % (len(gold), sum(g == p for g, p in zip(gold, pred))))


def fttest(path):
    n = p = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition("\t")
            if k == "N":
                n = int(v)
            elif k == "P@1":
                p = float(v)
    if n is None or p is None:
        sys.exit("fasttext_prep fttest: cannot parse %s" % path)
    print("%d %.6f" % (n, p))


def ftlines(inp, out):
    with open(inp, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
        for line in f:
            if line.strip():
                o.write(ft_line(json.loads(line)))


def main(argv):
    if len(argv) >= 2 and argv[1] == "prep" and len(argv) == 5:
        prep(argv[2], argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "ftlines":
        ftlines(argv[2], argv[3])
    elif len(argv) >= 4 and argv[1] == "timeit":
        timeit(int(argv[2]), argv[3:])
    elif len(argv) == 4 and argv[1] == "score":
        score(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "ftscore":
        ftscore(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "fttest":
        fttest(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
