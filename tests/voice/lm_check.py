#!/usr/bin/env python3
"""Check an ARPA LM written by tools/voice_lm.py: the unigram distribution and P(. | h) for
the 20 bigram contexts with most followers sum to one (tolerance 1e-3, for the 6-digit
rounding of the file)."""
import collections
import sys

TOL = 1e-3
p = {1: {}, 2: {}, 3: {}}
bow = {1: {}, 2: {}}
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if line.startswith("\\") and line.endswith("-grams:"):
        n = int(line[1])
        continue
    parts = line.split("\t")
    if n and len(parts) >= 2:
        g = tuple(parts[1].split())
        p[n][g] = 10 ** float(parts[0])
        if len(parts) == 3:
            bow[n][g] = 10 ** float(parts[2])
ok = True
uni = sum(v for g, v in p[1].items() if g != ("<s>",))
if abs(uni - 1) >= TOL:
    print(f"lm_check: unigrams sum to {uni:.6f}", file=sys.stderr)
    ok = False
seen = collections.defaultdict(dict)
for g, v in p[2].items():
    seen[g[:1]][g[1]] = v
for h in sorted(seen, key=lambda h: -len(seen[h]))[:20]:
    tot = sum(seen[h].values()) + bow[1].get(h, 1) * sum(
        v for g, v in p[1].items() if g[0] not in seen[h] and g != ("<s>",))
    if abs(tot - 1) >= TOL:
        print(f"lm_check: P(. | {h[0]}) sums to {tot:.6f}", file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
