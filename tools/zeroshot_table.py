#!/usr/bin/env python3
"""zeroshot_table.py LEXICONS NAME=EVAL.json...: per-locale dev table (EM / intent / slot F1)
of zero-shot conditions side by side, with averages over all target locales and over the
locales that have a lexicon (LEXICONS: the "locale path" lines tools/zeroshot.sh writes)."""
import json
import sys


def main():
    lex = {l.split()[0] for l in open(sys.argv[1]) if l.strip()}
    runs = []
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        runs.append((name, json.load(open(path))["by_locale"]))
    locales = sorted(set().union(*(r[1].keys() for r in runs)))
    head = "| locale | lexicon | " + " | ".join(f"{n} EM / intent / F1" for n, _ in runs) + " |"
    print(head)
    print("| --- | :-: |" + " ---: |" * len(runs))

    def cell(by, locs):
        locs = [l for l in locs if l in by]
        if not locs:
            return "-"
        v = [sum(by[l][k] for l in locs) / len(locs)
             for k in ("exact_match", "intent_accuracy", "slot_f1")]
        return "%.1f / %.1f / %.1f" % tuple(v)

    for loc in locales:
        print(f"| {loc} | {'yes' if loc in lex else ''} | " +
              " | ".join(cell(by, [loc]) for _, by in runs) + " |")
    lexl = [l for l in locales if l in lex]
    print(f"| **average, {len(lexl)} lexicon locales** | | " +
          " | ".join("**" + cell(by, lexl) + "**" for _, by in runs) + " |")
    print(f"| **average, all {len(locales)} targets** | | " +
          " | ".join("**" + cell(by, locales) + "**" for _, by in runs) + " |")


if __name__ == "__main__":
    main()
