#!/usr/bin/env python3
"""oos_split.py - the data of the leave-intents-out protocol (bench/oos.sh).

usage: oos_split.py MASSIVE_DIR OUT_DIR K SEED LOCALES

Chooses K intents out of MASSIVE's 60 with Python's random.Random(SEED) over the sorted intent
names (so the choice does not depend on the file order), then writes, for each locale in the
comma-separated LOCALES:
  OUT_DIR/train/L.jsonl   train and dev records of the other intents (what the model sees:
                          the train partition trains, the in-scope dev records select)
  OUT_DIR/dev/L.jsonl     every dev record (the held-out intents are the out-of-scope set)
and OUT_DIR/held_out.txt, the held-out intents one per line. Standard library only.
"""
import gzip
import json
import os
import random
import sys


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    src, out, k, seed, locales = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    locales = [x for x in locales.split(",") if x]
    recs = {}
    for loc in locales:
        path = os.path.join(src, loc + ".jsonl.gz")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            recs[loc] = [json.loads(line) for line in f if line.strip()]
    intents = sorted({r["intent"] for rs in recs.values() for r in rs})
    if not 0 < k < len(intents):
        sys.exit("oos_split.py: K must be 1..%d" % (len(intents) - 1))
    held = set(random.Random(seed).sample(intents, k))
    os.makedirs(os.path.join(out, "train"), exist_ok=True)
    os.makedirs(os.path.join(out, "dev"), exist_ok=True)
    with open(os.path.join(out, "held_out.txt"), "w") as f:
        f.write("".join(i + "\n" for i in sorted(held)))
    for loc, rs in recs.items():
        with open(os.path.join(out, "train", loc + ".jsonl"), "w", encoding="utf-8") as tr, \
             open(os.path.join(out, "dev", loc + ".jsonl"), "w", encoding="utf-8") as dv:
            for r in rs:
                line = json.dumps(r, ensure_ascii=False) + "\n"
                if r["partition"] in ("train", "dev") and r["intent"] not in held:
                    tr.write(line)
                if r["partition"] == "dev":
                    dv.write(line)
    print("held out: " + " ".join(sorted(held)), file=sys.stderr)


if __name__ == "__main__":
    main()
