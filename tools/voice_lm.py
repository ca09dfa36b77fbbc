#!/usr/bin/env python3
"""Write a pocketsphinx language model (ARPA trigram) and a matching pronunciation dictionary
from MASSIVE's en-US *train* text (never dev or test), for mille-voice.

Debian 12 packages no n-gram LM builder (sphinxbase-utils only converts), so this is one:
interpolated absolute discounting (Ney, Essen & Kneser 1994), written in ARPA back-off form
(each stored probability is the interpolated one, each back-off weight makes the unseen mass
sum to one). Words are lower-cased, punctuation other than apostrophes dropped; words missing
from the package's CMU dictionary (about 1% of tokens) are dropped from the sentence rather
than mapped to <unk>, which pocketsphinx cannot pronounce anyway.

usage: voice_lm.py --massive DIR --out PREFIX [--order 3] [--discount 0.7]
writes PREFIX.arpa and PREFIX.dict
"""
import argparse
import collections
import gzip
import json
import math
import os
import re
import sys

CMUDICT = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"


def load_dict(path):
    prons = collections.defaultdict(list)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            word = re.sub(r"\(\d+\)$", "", parts[0])
            prons[word].append(" ".join(parts[1:]))
    return prons


def sentences(massive, prons, stats):
    path = os.path.join(massive, "en-US.jsonl.gz")
    if not os.path.exists(path):
        path = os.path.join(massive, "en-US.jsonl")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                d = json.loads(line)
            except ValueError as e:
                sys.exit(f"{path}:{lineno}: {e}")
            if d.get("partition") != "train":
                continue
            words = re.sub(r"[^a-z0-9' ]+", " ", d["utt"].lower()).split()
            kept = [w for w in words if w in prons]
            stats["tokens"] += len(words)
            stats["oov"] += len(words) - len(kept)
            if kept:
                yield ["<s>"] + kept + ["</s>"]


def build(sents, order, D):
    counts = [collections.Counter() for _ in range(order + 1)]  # counts[n][ngram tuple]
    for s in sents:
        for n in range(1, order + 1):
            for i in range(len(s) - n + 1):
                counts[n][tuple(s[i:i + n])] += 1
    # context totals and distinct followers for each order
    ctx_total = [collections.Counter() for _ in range(order + 1)]
    ctx_types = [collections.Counter() for _ in range(order + 1)]
    for n in range(2, order + 1):
        for g, c in counts[n].items():
            ctx_total[n][g[:-1]] += c
            ctx_types[n][g[:-1]] += 1
    total = sum(c for g, c in counts[1].items() if g[0] != "<s>")
    prob = [dict() for _ in range(order + 1)]
    bow = [dict() for _ in range(order + 1)]
    for g, c in counts[1].items():
        prob[1][g] = c / total if g[0] != "<s>" else 0.0

    def p_backoff(g):
        """probability of the last word of g under the model of order len(g), backing off"""
        n = len(g)
        if n == 1:
            return prob[1].get(g, 1e-12)
        if g in prob[n]:
            return prob[n][g]
        return bow[n - 1].get(g[:-1], 1.0) * p_backoff(g[1:])

    for n in range(2, order + 1):
        for g, c in counts[n].items():
            h = g[:-1]
            alpha = D * ctx_types[n][h] / ctx_total[n][h]
            prob[n][g] = (c - D) / ctx_total[n][h] + alpha * p_backoff(g[1:])
        # back-off weights of the contexts of this order (order n-1 n-grams)
        seen_hi = collections.Counter()
        seen_lo = collections.Counter()
        for g in counts[n]:
            seen_hi[g[:-1]] += prob[n][g]
            seen_lo[g[:-1]] += p_backoff(g[1:])
        for h in counts[n - 1]:
            num = 1.0 - seen_hi.get(h, 0.0)
            den = 1.0 - seen_lo.get(h, 0.0)
            bow[n - 1][h] = num / den if num > 0 and den > 0 else 1.0
    return counts, prob, bow


def write_arpa(path, order, counts, prob, bow):
    def lg(x):
        return -99.0 if x <= 0 else math.log10(x)

    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        for n in range(1, order + 1):
            f.write(f"ngram {n}={len(counts[n])}\n")
        for n in range(1, order + 1):
            f.write(f"\n\\{n}-grams:\n")
            for g in sorted(counts[n]):
                line = f"{lg(prob[n][g]):.6f}\t{' '.join(g)}"
                if n < order and g in bow[n]:
                    line += f"\t{lg(bow[n][g]):.6f}"
                f.write(line + "\n")
        f.write("\n\\end\\\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--massive", required=True)
    ap.add_argument("--out", required=True, help="prefix: writes PREFIX.arpa, PREFIX.dict")
    ap.add_argument("--order", type=int, default=3)
    ap.add_argument("--discount", type=float, default=0.7)
    ap.add_argument("--dict", default=CMUDICT)
    a = ap.parse_args()
    if not 1 <= a.order <= 5 or not 0 < a.discount < 1:
        sys.exit("voice_lm.py: --order 1..5 and --discount in (0, 1)")
    prons = load_dict(a.dict)
    stats = collections.Counter()
    sents = list(sentences(a.massive, prons, stats))
    counts, prob, bow = build(sents, a.order, a.discount)
    write_arpa(a.out + ".arpa", a.order, counts, prob, bow)
    words = sorted(g[0] for g in counts[1] if g[0] not in ("<s>", "</s>"))
    with open(a.out + ".dict.tmp", "w", encoding="utf-8") as f:
        for w in words:
            for i, p in enumerate(prons[w]):
                f.write(f"{w} {p}\n" if i == 0 else f"{w}({i + 1}) {p}\n")
    os.replace(a.out + ".dict.tmp", a.out + ".dict")
    print(f"voice_lm: {len(sents)} train sentences, {len(words)} words, "
          f"{stats['oov']}/{stats['tokens']} tokens not in the dictionary dropped "
          f"({100.0 * stats['oov'] / max(1, stats['tokens']):.2f}%), "
          + ", ".join(f"{n}-grams {len(counts[n])}" for n in range(1, a.order + 1)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
