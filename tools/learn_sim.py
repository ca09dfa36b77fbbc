#!/usr/bin/env python3
"""learn_sim.py - the self-learning simulator of issue 11 (docs/learn.md, "Measuring it").

Users with goals from MASSIVE train+dev (a goal: intent + the multiset of (slot, value)),
phrasings of a goal drawn from the utterances that share it, Zipf frequencies over goals and
over the phrasings of a goal (so phrasings recur across users), per-user style, the real
model's parse of every phrasing (models/mille.model through `mille predict`), users who
rephrase after a failure with probability --p-rephrase, noisy outcome signals, and
distractors (an unrelated request right after a goal ends).

Period 1 writes a log with the fields of docs/learn.md; `mille learn` mines it. Period 2 is
fresh traffic (another seed): its first turns are measured with no learning, with the mined
rewrites (applied by `mille predict --rewrites`, the real runtime) and with an oracle (every
failing phrasing seen in period 1 rewritten to a phrasing of its goal that the model parses
right). The learner never sees gold: gold decides only the users' satisfaction and the
scores. MASSIVE test is never read.

    python3 tools/learn_sim.py --locale en-US --out /tmp/sim        # one JSON line of numbers

Deterministic for a seed (random.Random, sorted iteration; mille learn is deterministic).
"""
import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
from collections import defaultdict

SLOT_RE = re.compile(r"\[\s*([^\]\s]+)\s*:\s*([^\]]*?)\s*\]")


def load_locale(massive, locale):
    """Records of locale's train and dev partitions (never test)."""
    path = os.path.join(massive, locale + ".jsonl.gz")
    recs = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("partition") in ("train", "dev"):
                recs.append(r)
    return recs


def goal_of(intent, annot):
    slots = tuple(sorted((s, " ".join(v.lower().split())) for s, v in SLOT_RE.findall(annot)))
    return (intent, slots)


def form_key(text):
    return " ".join(text.lower().split())


def run_predict(mille, model, locale, texts, rewrites=None):
    """{text: (goal, confidence, slots, rewritten)} from `mille predict` of every text."""
    inp = "".join(json.dumps({"id": str(i), "locale": locale, "utt": t}, ensure_ascii=False) + "\n"
                  for i, t in enumerate(texts))
    cmd = [mille, "predict", "--model", model, "-"]
    if rewrites:
        cmd[2:2] = ["--rewrites", rewrites]
    p = subprocess.run(cmd, input=inp.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=False)
    out = {}
    for line in p.stdout.decode().splitlines():
        r = json.loads(line)
        t = texts[int(r["id"])]
        slots = [{"slot": s["slot"], "value": s["value"], "start": s["start"], "end": s["end"]}
                 for s in r["slots"]]
        g = (r["intent"], tuple(sorted((s["slot"], " ".join(s["value"].lower().split()))
                                       for s in slots)))
        out[t] = (g, r["confidence"], slots, "rewritten_from" in r, r["utt"])
    missing = [t for t in texts if t not in out]
    if missing:
        sys.stderr.write("learn_sim: %d texts not parsed: %s\n" % (len(missing), p.stderr.decode()[-500:]))
    return out


class World:
    def __init__(self, recs, args):
        rng = random.Random(args.seed)
        forms = defaultdict(dict)  # goal -> {form_key: raw text}
        for r in recs:
            g = goal_of(r["intent"], r["annot_utt"])
            forms[g].setdefault(form_key(r["utt"]), r["utt"])
        # goals a user can rephrase: those with >= --min-forms phrasings (C.3 of the notes)
        self.goals = sorted(g for g in forms if len(forms[g]) >= args.min_forms)
        self.utts_in_goals = sum(1 for r in recs
                                 if len(forms[goal_of(r["intent"], r["annot_utt"])]) >= args.min_forms)
        self.utts = len(recs)
        order = list(range(len(self.goals)))
        rng.shuffle(order)
        # Zipf over goals (random rank) and over the forms of each goal (random rank)
        self.goal_w = [0.0] * len(self.goals)
        for rank, gi in enumerate(order):
            self.goal_w[gi] = 1.0 / (rank + 1) ** args.zipf_goals
        self.forms = []
        self.form_w = []
        for g in self.goals:
            fs = [forms[g][k] for k in sorted(forms[g])]
            rng.shuffle(fs)
            self.forms.append(fs)
            self.form_w.append([1.0 / (i + 1) ** args.zipf_forms for i in range(len(fs))])
        self.texts = sorted({t for fs in self.forms for t in fs})
        self.gold = defaultdict(set)  # text -> goals it expresses
        for gi, fs in enumerate(self.forms):
            for t in fs:
                self.gold[t].add(self.goals[gi])
        acc = 0.0
        self.cum = []
        for w in self.goal_w:
            acc += w
            self.cum.append(acc)

    def draw_goal(self, rng):
        import bisect
        return bisect.bisect_left(self.cum, rng.random() * self.cum[-1])

    def draw_form(self, rng, gi, user, exclude, args):
        """A user's phrasing: a personal favorite (fixed per user and goal) with probability
        --style, else the goal's Zipf; never one already tried in the session."""
        fs = self.forms[gi]
        cands = [i for i in range(len(fs)) if fs[i] not in exclude]
        if not cands:
            return None
        ur = random.Random("%d/%d/%d" % (args.seed, user, gi))
        fav = ur.randrange(len(fs))
        if fs[fav] not in exclude and rng.random() < args.style:
            return fs[fav]
        ws = [self.form_w[gi][i] for i in cands]
        return fs[rng.choices(cands, weights=ws)[0]]


def signal(rng, success, noise):
    """Noisy outcome signal of a turn: 'success', 'defect' or None (unknown)."""
    x = rng.random()
    if success:
        if x < 0.05 * noise:
            return "defect"
        return "success" if x < 0.55 else None
    if x < 0.05 * noise:
        return "success"
    return "defect" if x < 1 - 0.2 * noise else None


def period1(world, pred, args):
    rng = random.Random(args.seed * 1000003 + 1)
    lines = []
    truth_reph = 0
    for k in range(args.sessions1):
        user = rng.randrange(args.users)
        sid = "p1-%d" % k
        t = 1.7e9 + k * 600.0
        gi = world.draw_goal(rng)
        goal = world.goals[gi]
        tried = set()
        form = world.draw_form(rng, gi, user, tried, args)
        for turn in range(3):
            tried.add(form)
            g, conf, slots, _, _ = pred[form]
            ok = g == goal
            lines.append({"session": sid, "user": "u%d" % user, "time": round(t, 3),
                          "locale": args.locale, "text": form, "intent": g[0],
                          "confidence": conf, "slots": slots,
                          "outcome": signal(rng, ok, args.noise)})
            if ok or rng.random() >= args.p_rephrase:
                break
            nxt = world.draw_form(rng, gi, user, tried, args)
            if nxt is None:
                break
            truth_reph += 1
            form = nxt
            t += rng.uniform(2, 10)
        if rng.random() < args.distractor:  # an unrelated request inside the rephrase window
            gj = world.draw_goal(rng)
            f2 = world.draw_form(rng, gj, user, set(), args)
            t += rng.uniform(2, 10)
            g, conf, slots, _, _ = pred[f2]
            lines.append({"session": sid, "user": "u%d" % user, "time": round(t, 3),
                          "locale": args.locale, "text": f2, "intent": g[0], "confidence": conf,
                          "slots": slots,
                          "outcome": signal(rng, g == world.goals[gj], args.noise)})
    for l in lines:
        if l["outcome"] is None:
            del l["outcome"]
    return lines, truth_reph


def pairwise_table(lines, path):
    """The baseline without aggregation: every signalled defect followed within 30 s in its
    session by a signalled success becomes a rewrite (the latest wins), from one user alone."""
    table = {}
    for a, b in zip(lines, lines[1:]):
        if (a["session"] == b["session"] and a.get("outcome") == "defect"
                and b.get("outcome") == "success" and 0 <= b["time"] - a["time"] <= 30
                and a["text"] != b["text"]):
            table[form_key(a["text"])] = (a["text"], b["text"])
    with open(path, "w", encoding="utf-8") as f:
        for src, tgt in table.values():
            f.write(json.dumps({"locale": "", "source": src, "target": tgt, "users": 1,
                                "sessions": 1, "confidence": 1}, ensure_ascii=False) + "\n")
    return [{"source": s_, "target": t_} for s_, t_ in table.values()]


def period2(world, pred, pred_rw, oracle, args):
    rng = random.Random(args.seed * 1000003 + 2)
    n = base_def = rw_def = or_def = cov = cov_base = cov_rw = wins = losses = 0
    for _ in range(args.sessions2):
        user = args.users + rng.randrange(args.users)  # fresh users
        gi = world.draw_goal(rng)
        goal = world.goals[gi]
        form = world.draw_form(rng, gi, user, set(), args)
        b = pred[form][0] != goal
        fired = pred_rw[form][3]
        r = pred_rw[form][0] != goal
        o = b and form not in oracle
        n += 1
        base_def += b
        rw_def += r
        or_def += o
        if fired:
            cov += 1
            cov_base += b
            cov_rw += r
            wins += b and not r
            losses += r and not b
    return dict(turns=n, defect_base=base_def / n, defect_rewrites=rw_def / n,
                defect_oracle=or_def / n, covered=cov, covered_share=cov / n,
                covered_defect_base=cov_base / max(cov, 1),
                covered_defect_rewrites=cov_rw / max(cov, 1), wins=wins, losses=losses)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--locale", default="en-US")
    ap.add_argument("--massive", default=os.environ.get("MASSIVE", "../shared/massive-1.1"))
    ap.add_argument("--mille", default="build/mille")
    ap.add_argument("--model", default="models/mille.model")
    ap.add_argument("--out", required=True, help="directory for logs, rewrites, data")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sessions1", type=int, default=50000)
    ap.add_argument("--sessions2", type=int, default=50000)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--p-rephrase", type=float, default=0.7)
    ap.add_argument("--noise", type=float, default=1.0,
                    help="scale of the signal noise (0: clean; 1: a defect unsignalled 20%%, "
                         "a false signal 5%%)")
    ap.add_argument("--distractor", type=float, default=0.15)
    ap.add_argument("--style", type=float, default=0.3)
    ap.add_argument("--zipf-goals", type=float, default=1.0)
    ap.add_argument("--zipf-forms", type=float, default=1.0)
    ap.add_argument("--min-forms", type=int, default=2,
                    help="traffic: goals with at least this many phrasings")
    ap.add_argument("--learn-args", default="", help="extra options for mille learn")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    recs = load_locale(args.massive, args.locale)
    world = World(recs, args)
    pred = run_predict(args.mille, args.model, args.locale, world.texts)
    lines, truth_reph = period1(world, pred, args)
    log = os.path.join(args.out, "p1.jsonl")
    with open(log, "w", encoding="utf-8") as f:
        for l in lines:
            f.write(json.dumps(l, ensure_ascii=False) + "\n")
    rw = os.path.join(args.out, "rewrites.jsonl")
    data = os.path.join(args.out, "mined.jsonl")
    p = subprocess.run([args.mille, "learn", "--log", log, "--model", args.model, "--out", rw,
                        "--data-out", data] + args.learn_args.split(), stderr=subprocess.PIPE,
                       check=True)
    stats = json.loads(p.stderr.decode().strip().splitlines()[-1])
    pred_rw = run_predict(args.mille, args.model, args.locale, world.texts, rewrites=rw)
    # the oracle: logged phrasings that fail, when a phrasing of their goal was logged and
    # parses right (a perfect miner of the same logs)
    logged = defaultdict(set)
    for l in lines:
        for g in world.gold[l["text"]]:
            logged[g].add(l["text"])
    oracle = set()
    for g, ts in logged.items():
        if any(pred[t][0] == g for t in ts):
            oracle.update(t for t in ts if pred[t][0] != g)
    table = [json.loads(l) for l in open(rw, encoding="utf-8")]
    precise = sum(1 for r in table
                  if world.gold.get(r["source"], set()) & world.gold.get(r["target"], set()))
    res = period2(world, pred, pred_rw, oracle, args)
    # the baseline without aggregation, on the same logs and the same period 2
    pw_path = os.path.join(args.out, "pairwise.jsonl")
    pw = pairwise_table(lines, pw_path)
    pred_pw = run_predict(args.mille, args.model, args.locale, world.texts, rewrites=pw_path)
    base = period2(world, pred, pred_pw, oracle, args)
    res["pairwise"] = dict(defect=base["defect_rewrites"], wins=base["wins"],
                           losses=base["losses"], covered_share=base["covered_share"],
                           rewrites=len(pw),
                           precision=sum(1 for r in pw if world.gold[r["source"]]
                                         & world.gold[r["target"]]) / max(len(pw), 1))
    res.update(locale=args.locale, seed=args.seed, sessions1=args.sessions1,
               sessions2=args.sessions2, users=args.users, p_rephrase=args.p_rephrase,
               noise=args.noise, distractor=args.distractor, log_turns=len(lines),
               true_rephrases=truth_reph, rewrites=len(table),
               precision=precise / max(len(table), 1), goals=len(world.goals),
               utts_in_goals=world.utts_in_goals, utts=world.utts, mined_examples=stats["examples"],
               learn=stats)
    res["reduction_all"] = 1 - res["defect_rewrites"] / res["defect_base"]
    res["reduction_covered"] = 1 - res["covered_defect_rewrites"] / max(res["covered_defect_base"], 1e-9)
    res["reduction_oracle"] = 1 - res["defect_oracle"] / res["defect_base"]
    res["win_loss"] = res["wins"] / res["losses"] if res["losses"] else None
    # what retraining can learn (tools/learn_retrain.sh): the mined records by kind and by the
    # partition their phrasing comes from, and the dev phrasings the log never held (the
    # retraining's scoring set: no mined record is one of them, as mined data comes from the log)
    dev = {form_key(r["utt"]) for r in recs if r["partition"] == "dev"}
    logged_keys = {form_key(l["text"]) for l in lines}
    mined = defaultdict(int)
    for l in open(data, encoding="utf-8"):
        r = json.loads(l)
        mined["%s_%s" % (r.get("mined", "rephrase"), "dev" if form_key(r["utt"]) in dev else "train")] += 1
    res["mined"] = dict(mined)
    res["dev_phrasings"] = len(dev)
    res["dev_phrasings_logged"] = len(dev & logged_keys)
    print(json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    main()
