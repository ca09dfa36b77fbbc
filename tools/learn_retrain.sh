#!/bin/sh
# learn_retrain.sh - does retraining on mined data help on phrasings never logged? (issue 11)
#   sh tools/learn_retrain.sh LOCALE SIMDIR [MASSIVE] [BUILD]
# SIMDIR is an output directory of tools/learn_sim.py: p1.jsonl, the period-1 log, and
# mined.jsonl, what `mille learn --data-out` mined from it (records "mined":"rephrase" and,
# with `--positives X`, "mined":"positive"; docs/learn.md).
#
# Trains small models for LOCALE with the same settings and seed, one per variant
# (VARIANTS, default "base rephrase positive both"): base = the train partition alone;
# rephrase = + the records mined from rephrases; positive = + the positives; both = + all;
# and, only when asked, oracle = + every logged dev utterance with its gold label (what a
# perfect miner of the same log could add: the ceiling of retraining on it).
# The scoring set is the dev utterances whose text (normalized as mille learn does) never
# appears in the log: the script refuses to run (exit 3) if a mined record's text is in it.
# No model is selected on dev (that would look at the scoring set): each trains a fixed
# number of epochs and keeps the last. Prints one JSON line per variant: exact match and
# intent accuracy on the scoring set ("never logged") and on the logged dev utterances.
#
# Environment: SEED (training seed, default 1); TRAIN_ARGS (added to every training);
# DEDUP=1 (default) drops mined records whose text is in the train partition (the gold label
# stays; 0 keeps them); REPEAT=k repeats every mined record k times (default 1); BASE=FILE
# reuses a base model trained with the same LOCALE, SEED and TRAIN_ARGS; MINED=FILE instead
# of SIMDIR/mined.jsonl; OUT=DIR instead of SIMDIR/retrain. VARIANTS=check: only the checks.
# Heavy (up to four trainings): run it under flock /tmp/mille-heavy.lock on a shared machine.
set -eu
L=$1
S=$2
M=${3:-../shared/massive-1.1}
B=${4:-build}
O=${OUT:-$S/retrain}
MINED=${MINED:-$S/mined.jsonl}
VARIANTS=${VARIANTS:-base rephrase positive both}
mkdir -p "$O"
# split the mined records, check the scoring set, write the training additions
python3 - "$M/$L.jsonl.gz" "$S/p1.jsonl" "$MINED" "$O" "${DEDUP:-1}" "${REPEAT:-1}" <<'PY'
import gzip, json, sys, unicodedata
gold_path, log, mined, out, dedup, repeat = sys.argv[1:]
dedup, repeat = dedup == "1", int(repeat)
def key(t):  # learn_key: NFKC, case folding, whitespace collapsed, trailing . ? ! dropped
    k = " ".join(unicodedata.normalize("NFKC", t).casefold().split())
    while k and k[-1] in ".?!。？！؟।":
        k = k[:-1].rstrip()
    return k
train, dev = set(), {}
with gzip.open(gold_path, "rt", encoding="utf-8") as f:
    for l in f:
        r = json.loads(l)
        if r["partition"] == "train":
            train.add(key(r["utt"]))
        elif r["partition"] == "dev":
            dev[r["id"]] = key(r["utt"])
logged = {key(json.loads(l)["text"]) for l in open(log, encoding="utf-8")}
scoring = {i for i, k in dev.items() if k not in logged}
scoring_keys = {dev[i] for i in scoring}
recs = [json.loads(l) for l in open(mined, encoding="utf-8")]
leak = [r["utt"] for r in recs if key(r["utt"]) in scoring_keys]
if leak:  # mined data comes from the log; the scoring set is what the log never held
    sys.stderr.write("learn_retrain: %d mined records are in the scoring set, e.g. %r\n"
                     % (len(leak), leak[:3]))
    sys.exit(3)
kinds = {"rephrase": [], "positive": []}
dropped = {"rephrase": 0, "positive": 0}
for r in recs:
    k = r.get("mined", "rephrase")
    if dedup and key(r["utt"]) in train:
        dropped[k] += 1
        continue
    kinds[k].append(r)
def write(name, rs):
    with open("%s/%s.jsonl" % (out, name), "w", encoding="utf-8") as f:
        for j in range(repeat):
            for r in rs:
                f.write(json.dumps(dict(r, id="%s-%d" % (r["id"], j)), ensure_ascii=False) + "\n")
write("rephrase", kinds["rephrase"])
write("positive", kinds["positive"])
write("both", kinds["rephrase"] + kinds["positive"])
oracle = []
with gzip.open(gold_path, "rt", encoding="utf-8") as f:
    for l in f:
        r = json.loads(l)
        if r["partition"] == "dev" and r["id"] not in scoring:
            oracle.append(dict(r, partition="train"))
write("oracle", oracle)
kinds["oracle"] = oracle
with open(out + "/scoring.json", "w") as f:
    json.dump({"scoring_ids": sorted(scoring), "logged": sorted(logged),
               "records": {k: len(v) for k, v in kinds.items()}, "dropped_in_train": dropped,
               "repeat": repeat}, f)
PY
[ "$VARIANTS" = check ] && exit 0
ARGS="--locales $L --dev-locales none --reject-recall 0 --hidden 128 --layers 2 --buckets 131072 --epochs 8 --threads 2 --seed ${SEED:-1} --quiet ${TRAIN_ARGS:-}"
for k in $VARIANTS; do
    if [ "$k" = base ]; then
        if [ -n "${BASE:-}" ]; then
            cp "$BASE" "$O/base.model"
        else
            "$B/mille" train --data "$M/$L.jsonl.gz" $ARGS --out "$O/base.model" >&2
        fi
    else
        "$B/mille" train --data "$M/$L.jsonl.gz" --data "$O/$k.jsonl" $ARGS --out "$O/$k.model" >&2
    fi
    rm -f "$O/$k.model.ckpt"
    "$B/mille" predict --model "$O/$k.model" --locales "$L" --partitions dev "$M/$L.jsonl.gz" >"$O/$k.pred"
done
python3 - "$M/$L.jsonl.gz" "$O" "$L" "${SEED:-1}" $VARIANTS <<'PY'
import gzip, json, re, sys
gold_path, out, loc, seed, variants = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
SLOT = re.compile(r"\[\s*([^\]\s]+)\s*:\s*([^\]]*?)\s*\]")
def parse(intent, annot):
    return intent, sorted((s, " ".join(v.split())) for s, v in SLOT.findall(annot))
gold = {}
with gzip.open(gold_path, "rt", encoding="utf-8") as f:
    for l in f:
        r = json.loads(l)
        if r["partition"] == "dev":
            gold[r["id"]] = parse(r["intent"], r["annot_utt"])
info = json.load(open(out + "/scoring.json"))
scoring = set(info["scoring_ids"])
for name in variants:
    score = {"never logged": [0, 0, 0], "logged": [0, 0, 0]}
    for l in open("%s/%s.pred" % (out, name), encoding="utf-8"):
        p = json.loads(l)
        g = gold[p["id"]]
        got = parse(p["intent"], p["annot_utt"])
        s = score["never logged" if p["id"] in scoring else "logged"]
        s[0] += 1
        s[1] += got == g
        s[2] += got[0] == g[0]
    rec = info["records"]
    added = {"base": 0, "rephrase": rec["rephrase"], "positive": rec["positive"],
             "both": rec["rephrase"] + rec["positive"], "oracle": rec["oracle"]}[name]
    added *= info["repeat"]
    print(json.dumps({"locale": loc, "seed": int(seed), "model": name, "added_records": added,
                      "dropped_in_train": info["dropped_in_train"],
                      **{k: {"n": v[0], "exact_match": round(100 * v[1] / max(v[0], 1), 2),
                             "intent_acc": round(100 * v[2] / max(v[0], 1), 2)}
                         for k, v in score.items()}}))
PY
