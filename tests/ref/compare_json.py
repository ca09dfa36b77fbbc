#!/usr/bin/env python3
"""compare_json.py A B [TOL] - compare two `mille eval --json` outputs (or the reference's):
same locales, same n per locale, same locale count, and every metric (per locale and
average) within TOL percentage points (default 0.01). Prints each difference; exit 1 if any.
"""
import json
import sys


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    a, b = (json.load(open(p, encoding="utf-8")) for p in argv[1:3])
    tol = float(argv[3]) if len(argv) == 4 else 0.01
    bad = []
    keys = ("exact_match", "intent_accuracy", "slot_f1")
    if a["average"]["locales"] != b["average"]["locales"]:
        bad.append("average locales: %s vs %s" % (a["average"]["locales"], b["average"]["locales"]))
    for k in keys:
        if abs(a["average"][k] - b["average"][k]) > tol:
            bad.append("average %s: %s vs %s" % (k, a["average"][k], b["average"][k]))
    la, lb = a["by_locale"], b["by_locale"]
    if set(la) != set(lb):
        bad.append("locales differ: %s" % sorted(set(la) ^ set(lb)))
    for loc in sorted(set(la) & set(lb)):
        if la[loc]["n"] != lb[loc]["n"]:
            bad.append("%s n: %s vs %s" % (loc, la[loc]["n"], lb[loc]["n"]))
        for k in keys:
            if abs(la[loc][k] - lb[loc][k]) > tol:
                bad.append("%s %s: %s vs %s" % (loc, k, la[loc][k], lb[loc][k]))
    for line in bad:
        print("compare_json: " + line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
