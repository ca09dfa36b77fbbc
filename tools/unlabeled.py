#!/usr/bin/env python3
"""unlabeled.py MASSIVE_DIR OUTDIR [SEED]: the zero-shot protocol's unlabeled target text.

For every locale file of MASSIVE_DIR (LOCALE.jsonl.gz), writes OUTDIR/LOCALE.txt with the
utterances of the *train* partition only, one per line, without ids or labels, shuffled with
a fixed seed (a different permutation per locale), so that nothing lines up across locales
and nothing of dev is read. See docs/zeroshot.md.
"""
import gzip
import json
import os
import random
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, out = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.makedirs(out, exist_ok=True)
    n_files = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith(".jsonl.gz"):
            continue
        locale = name[: -len(".jsonl.gz")]
        utts = []
        with gzip.open(os.path.join(src, name), "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r.get("partition") == "train":
                    utts.append(r["utt"].replace("\n", " "))
        random.Random(f"{seed}:{locale}").shuffle(utts)
        tmp = os.path.join(out, locale + ".txt.tmp")
        with open(tmp, "w", encoding="utf-8") as g:
            g.write("".join(u + "\n" for u in utts))
        os.replace(tmp, os.path.join(out, locale + ".txt"))
        n_files += 1
    print(f"unlabeled.py: {n_files} locales written to {out}", file=sys.stderr)
    return 0 if n_files else 1


if __name__ == "__main__":
    sys.exit(main())
