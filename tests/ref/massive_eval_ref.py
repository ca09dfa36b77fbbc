#!/usr/bin/env python3
"""massive_eval_ref.py - an independent reference for `mille eval` (plain Python 3, stdlib).

Written from MASSIVE's official evaluation, not from mille's C code:
  - words and labels: alexa/massive scripts/create_hf_dataset.py (_build_in_mem_dicts);
  - metrics: alexa/massive src/massive/utils/training_utils.py (eval_preds, convert_to_bio)
    and seqeval's f1_score (default mode: get_entities with its start/end-of-chunk rules).
seqeval is not available here, so its entity extraction is restated below.

One deliberate difference from the official code, the one mille makes too (docs/eval.md):
in ja-JP / zh-CN / zh-TW an all-ASCII chunk ending in ']' closes its slot (the official
code leaves the slot open, so "[media_type : b. b. c.] のニュース" would label the rest of
the utterance), and a chunk that is only ']' adds no empty word.

usage: massive_eval_ref.py GOLD PRED [--locales L1,L2] [--partition P]
  GOLD: .jsonl / .jsonl.gz file, a directory of them, or a .tar.gz archive of them
  PRED: JSON lines {id, locale, intent, annot_utt}
Prints the same JSON as `mille eval --json` (percent, rounded to 1e-6).
"""
import gzip
import json
import os
import sys
import tarfile

CHAR_SPLIT = ("ja-JP", "zh-CN", "zh-TW")


def isascii(s):
    return all(ord(c) < 128 for c in s)


# ---- words and labels (create_hf_dataset.py) ---------------------------------------------

def labels_of(annot_utt, locale):
    """Word labels of annot_utt ("Other" outside slots), the official way plus the fix."""
    labels = []
    label = "Other"
    if locale in CHAR_SPLIT:
        skip_colon = False
        for chunk in annot_utt.split():
            if chunk.startswith("["):
                label = chunk.lstrip("[")
                skip_colon = True
                continue
            if chunk == ":" and skip_colon:
                skip_colon = False
                continue
            if isascii(chunk):
                # code-switched Latin words stay whole
                if chunk.rstrip("]"):
                    labels.append(label)
                if chunk.endswith("]"):  # the fix: close the slot here too
                    label = "Other"
            else:
                for ch in chunk:
                    if ch == "]":
                        label = "Other"
                    else:
                        labels.append(label)
    else:
        chunks = annot_utt.split()
        i = 0
        while i < len(chunks):
            if chunks[i].startswith("["):
                label = chunks[i].lstrip("[")
                i += 2  # the label and the ':'
            elif chunks[i].endswith("]"):
                labels.append(label)
                label = "Other"
                i += 1
            else:
                labels.append(label)
                i += 1
    return labels


# ---- metrics (training_utils.py + seqeval) -----------------------------------------------

def convert_to_bio(tags, outside="Other"):
    bio, prev = [], None
    for t in tags:
        if t == outside:
            bio.append("O")
        elif t != prev:
            bio.append("B-" + t)
        else:
            bio.append("I-" + t)
        prev = t
    return bio


def _end_of_chunk(prev_tag, tag, prev_type, type_):
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _start_of_chunk(prev_tag, tag, prev_type, type_):
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def get_entities(seqs):
    """seqeval.metrics.sequence_labeling.get_entities on a list of BIO sequences: the
    sequences are joined with an "O" between them; entities are (type, begin, end)."""
    flat = []
    for s in seqs:
        flat += s + ["O"]
    chunks = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate(flat + ["O"]):
        tag = chunk[0]
        type_ = chunk[1:].split("-", 1)[-1] or "_"
        if _end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return set(chunks)


def f1_score(gold_seqs, pred_seqs):
    true, pred = get_entities(gold_seqs), get_entities(pred_seqs)
    ok = len(true & pred)
    p = ok / len(pred) if pred else 0.0
    r = ok / len(true) if true else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


# ---- files -------------------------------------------------------------------------------

def _lines_of(path):
    if path == "-":
        for i, line in enumerate(sys.stdin, 1):
            yield path, i, line
    elif os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
                yield from _lines_of(os.path.join(path, name))
    elif path.endswith(".tar.gz") or path.endswith(".tgz") or path.endswith(".tar"):
        with tarfile.open(path) as tar:
            for m in tar:
                if m.isfile() and m.name.endswith(".jsonl"):
                    f = tar.extractfile(m)
                    for i, line in enumerate(f, 1):
                        yield m.name, i, line.decode("utf-8", "replace")
    else:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                yield path, i, line


def load(path, need, locales=None, partition=None):
    recs = []
    for name, i, line in _lines_of(path):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            if not isinstance(r, dict) or not all(isinstance(r.get(k), str) and r.get(k) for k in need):
                raise ValueError("missing field")
        except ValueError as e:
            print(f"ref: {name}:{i}: skipped: {e}", file=sys.stderr)
            continue
        if locales is not None and r["locale"] not in locales:
            continue
        if partition is not None and r.get("partition", "") not in partition:
            continue
        recs.append(r)
    return recs


# ---- main --------------------------------------------------------------------------------

def evaluate(gold, pred):
    first = {}
    for p in pred:
        first.setdefault((p["locale"], p["id"]), p)
    by_loc = {}
    for g in gold:
        by_loc.setdefault(g["locale"], []).append(g)
    out = {}
    for loc in sorted(by_loc):
        gold_bio, pred_bio, intent_ok, exact_ok = [], [], 0, 0
        for g in by_loc[loc]:
            lab = labels_of(g["annot_utt"], loc)
            p = first.get((loc, g["id"]))
            pl = labels_of(p["annot_utt"], loc) if p else []
            pl = pl[: len(lab)] + ["Other"] * (len(lab) - len(pl))  # cut / pad
            gb, pb = convert_to_bio(lab), convert_to_bio(pl)
            gold_bio.append(gb)
            pred_bio.append(pb)
            i_ok = p is not None and p["intent"] == g["intent"]
            intent_ok += i_ok
            exact_ok += i_ok and gb == pb
        n = len(by_loc[loc])
        out[loc] = {"n": n, "exact_match": 100.0 * exact_ok / n,
                    "intent_accuracy": 100.0 * intent_ok / n,
                    "slot_f1": 100.0 * f1_score(gold_bio, pred_bio)}
    return out


def main(argv):
    args, locales, partition = [], None, None
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("--locales", "--partition") and i + 1 < len(argv):
            v = set(argv[i + 1].split(","))
            if a == "--locales":
                locales = v
            else:
                partition = v
            i += 2
            continue
        args.append(a)
        i += 1
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    gold = load(args[0], ("id", "locale", "utt", "intent", "annot_utt"), locales, partition)
    pred = load(args[1], ("id", "locale", "intent", "annot_utt"), locales)
    by = evaluate(gold, pred)
    k = len(by)
    avg = {m: sum(v[m] for v in by.values()) / k if k else 0.0
           for m in ("exact_match", "intent_accuracy", "slot_f1")}
    r6 = lambda x: round(x * 1e6) / 1e6
    res = {"average": {"exact_match": r6(avg["exact_match"]),
                       "intent_accuracy": r6(avg["intent_accuracy"]),
                       "slot_f1": r6(avg["slot_f1"]), "locales": k},
           "by_locale": {loc: {"n": v["n"], "exact_match": r6(v["exact_match"]),
                               "intent_accuracy": r6(v["intent_accuracy"]),
                               "slot_f1": r6(v["slot_f1"])} for loc, v in by.items()}}
    print(json.dumps(res, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
