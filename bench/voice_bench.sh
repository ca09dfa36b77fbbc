#!/bin/sh
# End-to-end voice benchmark (docs/voice.md, docs/BENCHMARKS.md): N en-US *dev* utterances
# (every k-th line: deterministic), synthesized with flite (voice slt), recognized by
# pocketsphinx with mille's MASSIVE-train LM and with the package's generic LM, understood by
# mille; against the same utterances as text. Prints WER, intent accuracy, exact match
# (intent + the set of slot type/value pairs), slot F1 over (type, value) pairs and SLURP's
# SLU-F1 (both from `mille eval --slu-f1`: src/data/slu.c), per-stage latency medians and p99,
# and the real-time factor of recognition, as key=value lines and a Markdown table.
# Heavy (minutes of CPU): run under flock /tmp/mille-heavy.lock.
# Env: MILLE_VOICE, MILLE (for mille eval), VOICE_LM (prefix from tools/voice_lm.py), MASSIVE,
# MODEL, N (default 100).
set -eu
V=${MILLE_VOICE:-build/mille-voice}
MILLE=${MILLE:-build/mille}
MASSIVE=${MASSIVE:-../shared/massive-1.1}
MODEL=${MODEL:-models/mille.model}
VOICE_LM=${VOICE_LM:-build/voice/massive-en-us}
N=${N:-100}
W=$(mktemp -d /tmp/mille-voice-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
python3 - "$V" "$MASSIVE" "$MODEL" "$VOICE_LM" "$N" "$W" "$MILLE" <<'EOF'
import gzip, json, os, re, statistics, subprocess, sys, time, wave
V, massive, model, lm, n, w, mille = sys.argv[1:8]
n = int(n)
rows = [json.loads(l) for l in gzip.open(os.path.join(massive, "en-US.jsonl.gz"), "rt")]
dev = [r for r in rows if r["partition"] == "dev"]
step = max(1, len(dev) // n)
sample = dev[::step][:n]

def words(s):
    return re.sub(r"[^a-z0-9' ]+", " ", s.lower()).split()

def gold_slots(annot):
    return sorted((t, " ".join(words(v))) for t, v in re.findall(r"\[(\S+) : ([^\]]*)\]", annot))

def edit(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(b)]

def annot(o):
    """MASSIVE annot_utt of a mille-voice answer: its slots bracketed in its transcript (a slot
    whose value is not in the transcript is appended, so that SLU-F1 still sees it)."""
    text, out, at, tail = o["transcript"], "", 0, ""
    placed = sorted((s for s in o["slots"] if "start" in s), key=lambda s: s["start"])
    for s in placed:
        if s["start"] < at:
            tail += f" [{s['slot']} : {s['value']}]"
            continue
        out += text[at:s["start"]] + f"[{s['slot']} : {s['value']}]"
        at = s["end"]
    for s in o["slots"]:
        if "start" not in s:
            tail += f" [{s['slot']} : {s['value']}]"
    return out + text[at:] + tail

def slu_scores(outs):
    """Slot F1 over (type, value) pairs and SLURP's SLU-F1, by mille eval --slu-f1."""
    gold, pred = os.path.join(w, "gold.jsonl"), os.path.join(w, "pred.jsonl")
    with open(gold, "w") as f:
        for r in sample:
            f.write(json.dumps(r) + "\n")
    with open(pred, "w") as f:
        for r, o in zip(sample, outs):
            f.write(json.dumps({"id": r["id"], "locale": r["locale"], "intent": o["intent"] or "-",
                                "annot_utt": annot(o)}) + "\n")
    p = subprocess.run([mille, "eval", gold, pred, "--slu-f1", "--json"], capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"voice_bench: mille eval: {p.stderr.strip()}")
    return json.loads(p.stdout)["slu"]

def run(args):
    db = os.path.join(w, "state.db")
    t = time.time()
    p = subprocess.run([V, "--model", model, "--db", db, "--json"] + args,
                       capture_output=True, text=True)
    wall = (time.time() - t) * 1000
    if p.returncode != 0:
        sys.exit(f"voice_bench: {' '.join(args)}: {p.stderr.strip()}")
    o = json.loads(p.stdout)
    o["wall_ms"] = wall
    return o

configs = {"text": None, "speech+mille-lm": ["--lm", lm + ".arpa", "--dict", lm + ".dict",
                                             "--out-wav", os.path.join(w, "out.wav")],
           "speech+generic-lm": []}
if os.environ.get("RESCORE_ABLATION"):
    configs["speech+mille-lm,no-rescore"] = configs["speech+mille-lm"][:4] + ["--no-rescore"]
res = {k: [] for k in configs}
durations = []
for i, r in enumerate(sample):
    wav = os.path.join(w, f"{i}.wav")
    subprocess.run(["flite", "-voice", "slt", "-t", r["utt"], "-o", wav], check=True)
    with wave.open(wav) as f:
        durations.append(f.getnframes() / f.getframerate())
    for k, extra in configs.items():
        o = run(["--text", r["utt"]] if extra is None else ["--wav", wav] + extra)
        res[k].append(o)
    print(f"\r{i + 1}/{len(sample)}", end="", file=sys.stderr)
print(file=sys.stderr)

def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]

table = []
for k, outs in res.items():
    errs = sum(edit(words(r["utt"]), words(o["transcript"])) for r, o in zip(sample, outs))
    ref = sum(len(words(r["utt"])) for r in sample)
    acc = sum(o["intent"] == r["intent"] for r, o in zip(sample, outs)) / len(sample)
    em = sum(o["intent"] == r["intent"] and
             sorted((s["slot"], " ".join(words(s["value"]))) for s in o["slots"]) ==
             gold_slots(r["annot_utt"]) for r, o in zip(sample, outs)) / len(sample)
    t = {s: [o["timings_ms"][s] for o in outs] for s in outs[0]["timings_ms"]}
    rtf = sum(t["asr"]) / 1000 / sum(durations)
    slu = slu_scores(outs)
    line = {"config": k, "n": len(sample), "wer": 100.0 * errs / ref, "intent_acc": 100 * acc,
            "exact_match": 100 * em, "slot_f1": slu["span_f1"], "slu_f1": slu["slu_f1"],
            "word_f1": slu["word_f1"], "char_f1": slu["char_f1"], "rtf_asr": rtf,
            **{f"{s}_ms_median": statistics.median(v) for s, v in t.items()},
            **{f"{s}_ms_p99": pct(v, 0.99) for s, v in t.items()},
            "wall_ms_median": statistics.median(o["wall_ms"] for o in outs)}
    print("voice_bench " + " ".join(f"{a}={b:.4g}" if isinstance(b, float) else f"{a}={b}"
                                     for a, b in line.items()))
    table.append(line)
print(f"\nutterances: {len(sample)} en-US dev (every {step}th), mean audio "
      f"{statistics.mean(durations):.2f} s\n")
print("| input | WER % | intent acc % | exact match % | slot F1 % | SLU-F1 % | ASR ms (median/p99) | NLU ms (incl. n-best) | "
      "skill ms | TTS ms | load ms | ASR real-time factor |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for l in table:
    print(f"| {l['config']} | {l['wer']:.1f} | {l['intent_acc']:.1f} | {l['exact_match']:.1f} | "
          f"{l['slot_f1']:.1f} | {l['slu_f1']:.1f} | "
          f"{l['asr_ms_median']:.0f}/{l['asr_ms_p99']:.0f} | {l['rescore_ms_median'] + l['nlu_ms_median']:.2f} | "
          f"{l['skill_ms_median']:.2f} | {l['tts_ms_median']:.0f} | {l['load_ms_median']:.0f} | {l['rtf_asr']:.3f} |")
EOF
