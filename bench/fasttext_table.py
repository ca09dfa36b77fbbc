#!/usr/bin/env python3
"""fasttext_table.py RESULTS.txt OUT.md

Reads the key=value lines of bench/fasttext.sh (one "locale=..." line per locale, "#" header
lines), prints the average line (unweighted mean over locales) and writes a markdown table.
Python 3 stdlib only."""
import sys

KEYS = ["fasttext_intent", "mille_intent", "fasttext_utt_per_s", "mille_utt_per_s",
        "fasttext_load_s", "mille_load_s", "fasttext_net_utt_per_s", "mille_net_utt_per_s",
        "fasttext_train_s", "fasttext_model_mb"]
FMT = {"fasttext_intent": "%.4f", "mille_intent": "%.4f", "fasttext_load_s": "%.3f",
       "mille_load_s": "%.3f", "fasttext_train_s": "%.1f", "fasttext_model_mb": "%.1f"}


def num(x):
    try:
        return float(x)
    except ValueError:
        return None


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    header, rows = [], []
    with open(argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("#"):
                header.append(line[1:].strip())
            elif line.startswith("locale="):
                rows.append(dict(kv.split("=", 1) for kv in line.split()))
    if not rows:
        sys.exit("fasttext_table: no locale lines in %s" % argv[1])
    avg = {}
    for k in KEYS:
        vals = [num(r.get(k, "na")) for r in rows]
        vals = [v for v in vals if v is not None]
        avg[k] = (FMT.get(k, "%.0f") % (sum(vals) / len(vals))) if vals else "na"
    print("average locales=%d %s" % (len(rows), " ".join("%s=%s" % (k, avg[k]) for k in KEYS)))

    def pct(x):
        v = num(x)
        return "—" if v is None else "%.2f" % (100 * v)

    def plain(x):
        return "—" if num(x) is None else x

    out = ["# fastText vs mille: MASSIVE 1.1 dev intent accuracy and speed", ""]
    out += ["- " + h for h in header]
    out += ["- accuracy in %%; average = unweighted mean over the %d locales" % len(rows), ""]
    out.append("| locale | fastText intent | mille intent | fastText utt/s | mille utt/s "
               "| fastText load s | mille load s | fastText net utt/s | mille net utt/s |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows + [dict(avg, locale="**average**")]:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["locale"], pct(r.get("fasttext_intent", "na")), pct(r.get("mille_intent", "na")),
            plain(r.get("fasttext_utt_per_s", "na")), plain(r.get("mille_utt_per_s", "na")),
            plain(r.get("fasttext_load_s", "na")), plain(r.get("mille_load_s", "na")),
            plain(r.get("fasttext_net_utt_per_s", "na")),
            plain(r.get("mille_net_utt_per_s", "na"))))
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv)
