#!/usr/bin/env python3
"""Error classes of predictions on MASSIVE dev: why records miss exact match.

usage: dev/errors.py MASSIVE_DIR PRED.jsonl
Per record (dev partition): intent right or wrong, slot labels right or wrong (comparing the
bracketed spans of annot_utt as (type, value) multisets, a close proxy for the word labels).
Prints the shares overall and the worst intents' confusions.
"""
import collections, glob, gzip, json, os, re, sys

SPAN = re.compile(r'\[([^\]:]+?) : ([^\]]*)\]')

def spans(a):
    return sorted((t.strip(), re.sub(r'\s+', '', v)) for t, v in SPAN.findall(a))

gold = {}
for f in glob.glob(os.path.join(sys.argv[1], '*.jsonl.gz')):
    for l in gzip.open(f, 'rt', encoding='utf-8'):
        r = json.loads(l)
        if r['partition'] == 'dev':
            gold[(r['locale'], r['id'])] = r
cnt = collections.Counter()
conf = collections.Counter()
scen = collections.Counter()
for l in open(sys.argv[2], encoding='utf-8'):
    p = json.loads(l)
    g = gold.get((p.get('locale'), p.get('id')))
    if not g:
        continue
    i_ok = p['intent'] == g['intent']
    s_ok = spans(p['annot_utt']) == spans(g['annot_utt'])
    cnt[(i_ok, s_ok)] += 1
    if not i_ok:
        conf[(g['intent'], p['intent'])] += 1
        scen['same scenario' if g['scenario'] == p['scenario'] else 'other scenario'] += 1
n = sum(cnt.values())
print('records', n)
for k, lab in (((True, True), 'intent and slots right'), ((True, False), 'intent right, slots wrong'),
               ((False, True), 'intent wrong, slots right'), ((False, False), 'both wrong')):
    print('%-28s %6.2f%%' % (lab, 100.0 * cnt[k] / n))
wrong = sum(scen.values())
for k, v in scen.items():
    print('intent errors within %-15s %6.2f%%' % (k, 100.0 * v / wrong))
print('most frequent intent confusions (gold -> predicted):')
for (a, b), v in conf.most_common(12):
    print('  %5d  %s -> %s' % (v, a, b))
