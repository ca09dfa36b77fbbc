#!/bin/sh
# learn_retrain.sh - does retraining on mined data help on phrasings never logged? (issue 11)
#   sh tools/learn_retrain.sh LOCALE SIMDIR [MASSIVE] [BUILD]
# SIMDIR is an output directory of tools/learn_sim.py (p1.jsonl: the period-1 log,
# mined.jsonl: what mille learn mined from it). Trains two small models for LOCALE with the
# same settings and seed: on the train partition alone, and on it plus mined.jsonl (dev
# selects both). Scores both on the dev utterances whose text never appears in the log:
# exact match (intent and every slot), intent accuracy; and on the logged ones apart.
# TRAIN_ARGS adds options to both trainings (e.g. "--time-budget 120").
# Heavy (two trainings): run it under flock /tmp/mille-heavy.lock on a shared machine.
set -eu
L=$1
S=$2
M=${3:-../shared/massive-1.1}
B=${4:-build}
O=$S/retrain
mkdir -p "$O"
ARGS="--locales $L --dev-locales $L --hidden 128 --layers 2 --buckets 131072 --epochs 8 --threads 2 --seed 1 --quiet ${TRAIN_ARGS:-}"
"$B/mille" train --data "$M/$L.jsonl.gz" $ARGS --out "$O/base.model"
"$B/mille" train --data "$M/$L.jsonl.gz" --data "$S/mined.jsonl" $ARGS --out "$O/mined.model"
for k in base mined; do
    "$B/mille" predict --model "$O/$k.model" --locales "$L" --partitions dev "$M/$L.jsonl.gz" >"$O/$k.pred"
done
python3 - "$M/$L.jsonl.gz" "$S/p1.jsonl" "$O/base.pred" "$O/mined.pred" "$L" <<'PY'
import gzip, json, re, sys
gold_path, log, base, mined, loc = sys.argv[1:]
SLOT = re.compile(r"\[\s*([^\]\s]+)\s*:\s*([^\]]*?)\s*\]")
def parse(intent, annot):
    return intent, sorted((s, " ".join(v.split())) for s, v in SLOT.findall(annot))
gold = {}
with gzip.open(gold_path, "rt", encoding="utf-8") as f:
    for l in f:
        r = json.loads(l)
        if r["partition"] == "dev":
            gold[r["id"]] = (r["utt"], parse(r["intent"], r["annot_utt"]))
logged = {json.loads(l)["text"] for l in open(log, encoding="utf-8")}
mined_utts = {json.loads(l)["utt"] for l in open(sys.argv[2].replace("p1.jsonl", "mined.jsonl"), encoding="utf-8")}
for name, path in (("base", base), ("mined", mined)):
    score = {"never logged": [0, 0, 0], "logged": [0, 0, 0]}
    for l in open(path, encoding="utf-8"):
        p = json.loads(l)
        utt, g = gold[p["id"]]
        k = "logged" if utt in logged else "never logged"
        got = parse(p["intent"], p["annot_utt"])
        score[k][0] += 1
        score[k][1] += got == g
        score[k][2] += got[0] == g[0]
    print(json.dumps({"locale": loc, "model": name, "mined_records": len(mined_utts),
                      **{k: {"n": v[0], "exact_match": round(100 * v[1] / max(v[0], 1), 2),
                             "intent_acc": round(100 * v[2] / max(v[0], 1), 2)}
                         for k, v in score.items()}}))
PY
