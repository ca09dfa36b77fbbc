#!/usr/bin/env python3
"""perturb.py - write predictions for MASSIVE gold data with seeded random errors, to test
`mille eval` against massive_eval_ref.py (plain Python 3, stdlib only).

usage: perturb.py GOLD [--seed N] [--locales L1,L2] [--partition P] [--rate X] > pred.jsonl

Per record, each error below happens with probability about `rate` (default 0.1):
  wrong intent (another intent of the locale, or an unknown one), slot shifted by one word,
  two neighbouring slots merged into one, slot dropped, extra slot added, slot type changed
  (to another type or an unknown one), a multi-word slot written as two adjacent brackets of
  one type (scores like the unsplit slot), a word's text replaced (the text no longer matches
  the gold utt), the label sequence truncated or extended (words cut or appended), the record
  omitted, and a duplicate prediction after it (the first one must win). Some unknown records
  (unknown id, unknown locale) are added at the end.

annot_utt is written in MASSIVE's format: "[slot : words]" with spaces between words; in
ja-JP / zh-CN / zh-TW a space before '[' and after ']' and elsewhere only where utt has one.
Word boundaries used for the errors are boundaries in BOTH the official tokenization and
mille's (ASCII runs whole), so that the reference and mille agree on every position; records
where the two could differ (a utt chunk mixing ASCII and other characters, brackets in utt)
keep their gold annot_utt and only get intent / omission errors.
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from massive_eval_ref import CHAR_SPLIT, isascii, labels_of, load  # noqa: E402

O = "Other"


def units_of(utt, char_split):
    """Words of utt and whether whitespace precedes each."""
    if not char_split:
        w = utt.split()
        return w, [True] * len(w)
    units, spaces, space = [], [], False
    for ch in utt:
        if ch.isspace():
            space = True
            continue
        if units and not space and ord(ch) < 128 and isascii(units[-1]):
            units[-1] += ch  # ASCII runs stay whole
        else:
            units.append(ch)
            spaces.append(space)
        space = False
    return units, spaces


def runs_of(labels, splits=()):
    """Maximal runs (label, start, end) of one label; a split point starts a new run."""
    runs = []
    for i, l in enumerate(labels):
        if runs and runs[-1][0] == l and i not in splits:
            runs[-1][2] = i + 1
        else:
            runs.append([l, i, i + 1])
    return runs


def emit(units, spaces, labels, splits, char_split):
    out = []
    for k, (l, s, e) in enumerate(runs_of(labels, splits)):
        if char_split:
            text = "".join((" " if i > s and spaces[i] else "") + units[i] for i in range(s, e))
        else:
            text = " ".join(units[s:e])
        piece = text if l == O else "[" + l + " : " + text + "]"
        if k > 0:
            prev_slot = labels[s - 1] != O
            sep = " " if (not char_split or l != O or prev_slot or spaces[s]) else ""
            out.append(sep)
        out.append(piece)
    return "".join(out)


def perturb_labels(rng, labels, pool, rate, splits):
    n = len(labels)
    slot_runs = [r for r in runs_of(labels) if r[0] != O]
    if slot_runs and rng.random() < rate:  # shift by one word
        l, s, e = rng.choice(slot_runs)
        d = rng.choice((-1, 1))
        if 0 <= s + d and e + d <= n:
            for i in range(s, e):
                labels[i] = O
            for i in range(s + d, e + d):
                labels[i] = l
    slot_runs = [r for r in runs_of(labels) if r[0] != O]
    if len(slot_runs) >= 2 and rng.random() < rate:  # merge two neighbouring slots
        k = rng.randrange(len(slot_runs) - 1)
        (l1, s1, e1), (l2, s2, e2) = slot_runs[k], slot_runs[k + 1]
        if s2 - e1 <= 1:
            for i in range(s1, e2):
                labels[i] = l1
    slot_runs = [r for r in runs_of(labels) if r[0] != O]
    if slot_runs and rng.random() < rate:  # drop a slot
        l, s, e = rng.choice(slot_runs)
        for i in range(s, e):
            labels[i] = O
    others = [i for i in range(n) if labels[i] == O]
    if others and rng.random() < rate:  # add a slot
        i = rng.choice(others)
        labels[i] = rng.choice(pool)
    slot_runs = [r for r in runs_of(labels) if r[0] != O]
    if slot_runs and rng.random() < rate:  # change a slot's type
        l, s, e = rng.choice(slot_runs)
        t = rng.choice(pool)
        for i in range(s, e):
            labels[i] = t
    slot_runs = [r for r in runs_of(labels) if r[0] != O and r[2] - r[1] >= 2]
    if slot_runs and rng.random() < rate:  # one slot written as two same-type brackets
        l, s, e = rng.choice(slot_runs)
        splits.add(rng.randrange(s + 1, e))


def main(argv):
    seed, locales, partition, rate, gold_path = 1, None, None, 0.1, None
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("--seed", "--locales", "--partition", "--rate") and i + 1 < len(argv):
            v = argv[i + 1]
            if a == "--seed":
                seed = int(v)
            elif a == "--locales":
                locales = set(v.split(","))
            elif a == "--partition":
                partition = set(v.split(","))
            else:
                rate = float(v)
            i += 2
            continue
        gold_path = a
        i += 1
    if gold_path is None:
        print(__doc__, file=sys.stderr)
        return 2
    rng = random.Random(seed)
    gold = load(gold_path, ("id", "locale", "utt", "intent", "annot_utt"), locales, partition)
    intents, slots = {}, {}
    for g in gold:
        intents.setdefault(g["locale"], set()).add(g["intent"])
        slots.setdefault(g["locale"], set()).update(
            l for l in labels_of(g["annot_utt"], g["locale"]) if l != O)
    intents = {k: sorted(v) + ["no_such_intent"] for k, v in intents.items()}
    slots = {k: sorted(v) + ["no_such_slot"] for k, v in slots.items()}
    out = sys.stdout
    for g in gold:
        loc, cs = g["locale"], g["locale"] in CHAR_SPLIT
        if rng.random() < rate / 3:
            continue  # omitted
        intent = g["intent"]
        if rng.random() < rate * 1.5:
            intent = rng.choice(intents[loc])
        units, spaces = units_of(g["utt"], cs)
        labels = labels_of(g["annot_utt"], loc)
        safe = (len(units) == len(labels) and "[" not in g["utt"] and "]" not in g["utt"]
                and not (cs and any(not isascii(c) and not all(ord(x) >= 128 for x in c)
                                    for c in g["utt"].split())))
        rec = {"id": g["id"], "locale": loc, "intent": intent}
        if not safe:
            rec["annot_utt"] = g["annot_utt"]
        else:
            splits = set()
            perturb_labels(rng, labels, slots[loc], rate, splits)
            same_text = True
            if units and rng.random() < rate / 2:  # replace a word's text
                i = rng.randrange(len(units))
                units[i] = "xyz" if isascii(units[i]) else "某"
                spaces[i] = spaces[i] or (cs and units[i] == "xyz")
                same_text = False
            if len(units) > 1 and rng.random() < rate / 2:  # truncate
                k = rng.randrange(1, len(units))
                units, spaces, labels = units[:k], spaces[:k], labels[:k]
                splits = {s for s in splits if s < k}
                same_text = False
            if rng.random() < rate / 2:  # extend
                for _ in range(rng.randint(1, 3)):
                    units.append(rng.choice(["了", "吧", "ok"] if cs else ["please", "ok", "now"]))
                    spaces.append(True)
                    labels.append(rng.choice([O, O] + slots[loc]))
                same_text = False
            rec["annot_utt"] = emit(units, spaces, labels, splits, cs)
            if same_text and rng.random() < 0.5:
                rec["utt"] = g["utt"]
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        if rng.random() < rate / 5:  # a duplicate that must be ignored
            dup = dict(rec, intent="no_such_intent")
            dup["annot_utt"] = g["utt"] if not any(c in g["utt"] for c in "[]") else g["annot_utt"]
            out.write(json.dumps(dup, ensure_ascii=False) + "\n")
    for k in range(3):  # unknown records
        out.write(json.dumps({"id": "no-such-id-%d" % k, "locale": "en-US", "intent": "x",
                              "annot_utt": "hello [x : world]"}) + "\n")
    out.write(json.dumps({"id": "1", "locale": "xx-XX", "intent": "x", "annot_utt": "hi"}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
