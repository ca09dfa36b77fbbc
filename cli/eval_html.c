/*
 * eval_html.c - the evaluation report of `mille eval --html FILE` (issue 14, part 4): one
 * self-contained HTML page (inline CSS and script, no outside resource) with
 *   - per-locale bars of exact match, intent accuracy and slot F1, against a baseline run
 *     (`--baseline OTHER.json`, the output of another `mille eval --json`) when given;
 *   - the most confused intent pairs (gold -> predicted) with example utterances;
 *   - F1 per slot type;
 *   - a reliability diagram (accuracy against confidence, 15 bins) when the predictions
 *     carry a confidence.
 * The numbers are computed here, in C, into one JSON object embedded in the page; the page's
 * script only draws them. The per-locale and average numbers are the very JSON of `mille
 * eval --json` (tests/browser/report_test.py checks that the page shows them).
 *
 * Per-slot F1 follows the official rules of eval.c (a span is a maximal run of one label;
 * predicted labels are cut or padded with Other to the gold length; a record without a
 * prediction predicts Other everywhere), by position in the predicted annot_utt.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "eval_html.h"

#define HTML_PAIRS    20 /* confused pairs shown */
#define HTML_EXAMPLES 3  /* example utterances per pair */

/* ---- matching ------------------------------------------------------------------------------ */

static int record_key(const data_set *ds, const data_record *r, char *key, size_t cap)
{
    int n =
        snprintf(key, cap, "%s\x1f%s", strtab_str(&ds->locales, r->locale), data_str(ds, r->id));
    if (n < 0) return 0;
    return (size_t)n >= cap ? (int)cap - 1 : n; /* a very long id: its prefix */
}

int eval_match(const data_set *gold, const data_set *pred, int64_t *pred_of)
{
    strtab keys = {0};
    char key[512];
    int64_t *slot = malloc((gold->n + 1) * sizeof *slot); /* key id -> gold record */
    if (!slot) return -1;
    for (size_t i = 0; i < gold->n; i++) {
        pred_of[i] = -1;
        size_t n = (size_t)record_key(gold, &gold->recs[i], key, sizeof key);
        if (strtab_find(&keys, key, n) >= 0) continue; /* a duplicate gold record: the first */
        int64_t k = strtab_intern(&keys, key, n);
        if (k < 0) goto oom;
        slot[k] = (int64_t)i;
    }
    for (size_t i = 0; i < pred->n; i++) {
        int n = record_key(pred, &pred->recs[i], key, sizeof key);
        int64_t k = strtab_find(&keys, key, (size_t)n);
        if (k < 0) continue;
        int64_t g = slot[k];
        if (pred_of[g] < 0) pred_of[g] = (int64_t)i;
    }
    free(slot);
    strtab_free(&keys);
    return 0;
oom:
    free(slot);
    strtab_free(&keys);
    return -1;
}

/* ---- confused pairs ------------------------------------------------------------------------ */

typedef struct pair {
    uint32_t key; /* id in the pair table */
    uint32_t count;
    uint32_t ex[HTML_EXAMPLES]; /* gold records */
    uint32_t n_ex;
} pair;

static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->key > y->key) - (x->key < y->key); /* first seen first: stable */
}

static json_t *confusions(const data_set *gold, const data_set *pred, const int64_t *pred_of)
{
    strtab keys = {0};
    pair *p = calloc(gold->n + 1, sizeof *p);
    json_t *out = json_array();
    char key[512];
    if (!p || !out) goto fail;
    for (size_t i = 0; i < gold->n; i++) {
        if (pred_of[i] < 0) continue; /* no prediction: not a confusion of two intents */
        const char *g = strtab_str(&gold->intents, gold->recs[i].intent),
                   *q = strtab_str(&pred->intents, pred->recs[pred_of[i]].intent);
        if (strcmp(g, q) == 0) continue;
        int n = snprintf(key, sizeof key, "%s\x1f%s", g, q);
        if (n < 0 || (size_t)n >= sizeof key) continue;
        int64_t k = strtab_intern(&keys, key, (size_t)n);
        if (k < 0) goto fail;
        p[k].key = (uint32_t)k;
        p[k].count++;
        if (p[k].n_ex < HTML_EXAMPLES) p[k].ex[p[k].n_ex++] = (uint32_t)i;
    }
    qsort(p, keys.n, sizeof *p, cmp_pair);
    for (size_t j = 0; j < keys.n && j < HTML_PAIRS; j++) {
        const char *k = strtab_str(&keys, p[j].key), *sep = strchr(k, '\x1f');
        json_t *ex = json_array();
        for (uint32_t e = 0; e < p[j].n_ex; e++) {
            const data_record *r = &gold->recs[p[j].ex[e]];
            json_array_append_new(ex, json_pack("{s:s,s:s}", "locale",
                                                strtab_str(&gold->locales, r->locale), "utt",
                                                data_str(gold, r->utt)));
        }
        json_array_append_new(out,
                              json_pack("{s:s%,s:s,s:I,s:o}", "gold", k, (size_t)(sep - k), "pred",
                                        sep + 1, "count", (json_int_t)p[j].count, "examples", ex));
    }
    free(p);
    strtab_free(&keys);
    return out;
fail:
    free(p);
    strtab_free(&keys);
    json_decref(out);
    return NULL;
}

/* ---- per-slot F1 --------------------------------------------------------------------------- */

typedef struct slot_counts {
    uint64_t gold, pred, ok;
} slot_counts;

/* Spans of labels lab[0..n): calls back (type, start, end) for each maximal run != Other. */
static size_t spans(const uint32_t *lab, size_t n, uint32_t *type, size_t *start, size_t *end)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && lab[j] == lab[i]) j++;
        if (lab[i] != DATA_OTHER) type[k] = lab[i], start[k] = i, end[k] = j, k++;
        i = j;
    }
    return k;
}

static json_t *slot_f1(const data_set *gold, const data_set *pred, const int64_t *pred_of)
{
    size_t S = gold->slots.n;
    slot_counts *c = calloc(S + 1, sizeof *c);
    uint32_t *map = malloc((pred->slots.n + 1) * sizeof *map);
    size_t cap = 0;
    for (size_t i = 0; i < gold->n; i++)
        if (gold->recs[i].n_words > cap) cap = gold->recs[i].n_words;
    uint32_t *gl = malloc((cap + 1) * sizeof *gl), *pl = malloc((cap + 1) * sizeof *pl),
             *gt = malloc((cap + 1) * sizeof *gt), *pt = malloc((cap + 1) * sizeof *pt);
    size_t *gs = malloc((cap + 1) * sizeof *gs), *ge = malloc((cap + 1) * sizeof *ge),
           *ps = malloc((cap + 1) * sizeof *ps), *pe = malloc((cap + 1) * sizeof *pe);
    json_t *out = NULL;
    if (!c || !map || !gl || !pl || !gt || !pt || !gs || !ge || !ps || !pe) goto done;
    /* predicted slot names in the gold table; a name gold lacks is a type of its own (it can
     * never be right, and counts as predicted): ids S + j */
    for (size_t j = 0; j < pred->slots.n; j++) {
        int64_t id = strtab_find(&gold->slots, strtab_str(&pred->slots, j), pred->slots.lens[j]);
        map[j] = id < 0 ? UINT32_MAX : (uint32_t)id;
    }
    uint64_t unknown = 0;
    for (size_t i = 0; i < gold->n; i++) {
        const data_record *r = &gold->recs[i];
        size_t n = r->n_words;
        for (size_t w = 0; w < n; w++) {
            gl[w] = gold->words[r->word0 + w].label;
            pl[w] = DATA_OTHER;
        }
        if (pred_of[i] >= 0) {
            const data_record *q = &pred->recs[pred_of[i]];
            for (size_t w = 0; w < n && w < q->n_words; w++) {
                uint32_t l = pred->words[q->word0 + w].label;
                pl[w] = l == DATA_OTHER ? DATA_OTHER : map[l];
            }
        }
        size_t ng = spans(gl, n, gt, gs, ge), np = spans(pl, n, pt, ps, pe);
        for (size_t a = 0; a < ng; a++) c[gt[a]].gold++;
        for (size_t b = 0; b < np; b++) {
            if (pt[b] == UINT32_MAX) {
                unknown++;
                continue;
            }
            c[pt[b]].pred++;
            for (size_t a = 0; a < ng; a++)
                if (gt[a] == pt[b] && gs[a] == ps[b] && ge[a] == pe[b]) c[pt[b]].ok++;
        }
    }
    out = json_array();
    for (size_t s = 1; out && s < S; s++) {
        if (!c[s].gold && !c[s].pred) continue;
        double p = c[s].pred ? (double)c[s].ok / (double)c[s].pred : 0,
               rc = c[s].gold ? (double)c[s].ok / (double)c[s].gold : 0;
        double f1 = p + rc > 0 ? 200 * p * rc / (p + rc) : 0;
        json_array_append_new(
            out, json_pack("{s:s,s:I,s:I,s:I,s:f}", "slot", strtab_str(&gold->slots, s), "gold",
                           (json_int_t)c[s].gold, "pred", (json_int_t)c[s].pred, "ok",
                           (json_int_t)c[s].ok, "f1", round(f1 * 1e4) / 1e4));
    }
    if (out && unknown)
        json_array_append_new(out, json_pack("{s:s,s:I,s:I,s:I,s:f}", "slot", "(types gold lacks)",
                                             "gold", (json_int_t)0, "pred", (json_int_t)unknown,
                                             "ok", (json_int_t)0, "f1", 0.0));
done:
    free(c), free(map), free(gl), free(pl), free(gt), free(pt);
    free(gs), free(ge), free(ps), free(pe);
    return out;
}

/* ---- reliability --------------------------------------------------------------------------- */

static json_t *reliability(const data_set *gold, const data_set *pred, const int64_t *pred_of)
{
    double sc[CALIB_BINS] = {0}, sa[CALIB_BINS] = {0};
    uint64_t cnt[CALIB_BINS] = {0}, total = 0;
    for (size_t i = 0; i < gold->n; i++) {
        if (pred_of[i] < 0) continue;
        const data_record *q = &pred->recs[pred_of[i]];
        if (q->confidence < 0) continue;
        int k = (int)(q->confidence * CALIB_BINS);
        if (k >= CALIB_BINS) k = CALIB_BINS - 1;
        sc[k] += q->confidence;
        sa[k] += strcmp(strtab_str(&gold->intents, gold->recs[i].intent),
                        strtab_str(&pred->intents, q->intent)) == 0;
        cnt[k]++;
        total++;
    }
    if (!total) return json_null();
    json_t *out = json_array();
    for (int k = 0; k < CALIB_BINS; k++)
        json_array_append_new(
            out, json_pack("{s:f,s:f,s:I,s:f,s:f}", "lo", (double)k / CALIB_BINS, "hi",
                           (double)(k + 1) / CALIB_BINS, "n", (json_int_t)cnt[k], "conf",
                           cnt[k] ? round(100 * sc[k] / (double)cnt[k] * 1e4) / 1e4 : 0.0, "acc",
                           cnt[k] ? round(100 * sa[k] / (double)cnt[k] * 1e4) / 1e4 : 0.0));
    return out;
}

/* ---- the page ------------------------------------------------------------------------------ */

static const char *const page_head[] = {
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n",
    "<title>mille eval report</title>\n",
    "<style>\n",
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\n",
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\n",
    "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}\n",
    "th{background:#f3f3f3}td.l,th.l{text-align:left}\n",
    ".bar{display:inline-block;height:8px;vertical-align:middle}\n",
    ".cur{background:#2b6cb0}.base{background:#bbb}\n",
    ".up{color:#1a7f37}.down{color:#c62828}.ex{color:#555;font-size:12px}\n",
    "</style></head><body>\n<h1>mille eval report</h1>\n",
    "<p id=\"summary\"></p>\n",
    "<h2>Per locale</h2><p>Bars: this run (blue) and the baseline (grey), 0-100.</p>\n",
    "<table id=\"locales\"><thead><tr><th class=\"l\">locale</th><th>n</th>",
    "<th>exact match</th><th>intent acc.</th><th>slot F1</th><th>ECE</th>",
    "<th class=\"l\">bars (EM / intent / slot F1)</th></tr></thead><tbody></tbody></table>\n",
    "<h2>Most confused intents</h2><table id=\"confusions\"><thead><tr><th>count</th>",
    "<th class=\"l\">gold</th><th class=\"l\">predicted</th><th class=\"l\">examples</th>",
    "</tr></thead><tbody></tbody></table>\n",
    "<h2>Slot F1 per type</h2><table id=\"slots\"><thead><tr><th class=\"l\">slot</th>",
    "<th>gold</th><th>predicted</th><th>right</th><th>F1</th></tr></thead><tbody></tbody>",
    "</table>\n",
    "<h2>Reliability</h2><p id=\"rel-note\"></p><div id=\"reliability\"></div>\n",
    "<script type=\"application/json\" id=\"report\">",
    NULL};

static const char *const page_tail[] = {
    "</script>\n<script>\n",
    "'use strict';\n",
    "const R = JSON.parse(document.getElementById('report').textContent);\n",
    "const f2 = x => (x === undefined || x === null) ? '' : x.toFixed(2);\n",
    "function el(tag, attrs, text) { const e = document.createElement(tag);\n",
    "  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);\n",
    "  if (text !== undefined) e.textContent = text; return e; }\n",
    "function bar(v, cls) { const s = el('span', {class: 'bar ' + cls});\n",
    "  s.style.width = Math.max(0, Math.min(100, v)) + 'px'; return s; }\n",
    "const keys = ['exact_match', 'intent_accuracy', 'slot_f1'];\n",
    "const B = R.baseline && R.baseline.by_locale ? R.baseline : null;\n",
    "const a = R.average;\n",
    "document.getElementById('summary').textContent = 'Average over ' + a.locales +\n",
    "  ' locales: exact match ' + f2(a.exact_match) + ', intent accuracy ' +\n",
    "  f2(a.intent_accuracy) + ', slot F1 ' + f2(a.slot_f1) +\n",
    "  (a.ece !== undefined ? ', ECE ' + f2(a.ece) : '') +\n",
    "  (B ? ' (baseline: ' + keys.map(k => f2(B.average[k])).join(' / ') + ')' : '');\n",
    "function row(name, m, b, n) {\n",
    "  const tr = el('tr', {'data-locale': name});\n",
    "  tr.appendChild(el('td', {class: 'l'}, name));\n",
    "  tr.appendChild(el('td', {class: 'n'}, n === undefined ? '' : String(n)));\n",
    "  for (const k of keys) { const td = el('td', {class: k}, f2(m[k]));\n",
    "    if (b && b[k] !== undefined) { const d = m[k] - b[k];\n",
    "      td.appendChild(el('span', {class: d >= 0 ? 'up' : 'down'},\n",
    "        ' (' + (d >= 0 ? '+' : '') + d.toFixed(2) + ')')); }\n",
    "    tr.appendChild(td); }\n",
    "  tr.appendChild(el('td', {class: 'ece'}, f2(m.ece)));\n",
    "  const bars = el('td', {class: 'l'});\n",
    "  for (const k of keys) { const d = el('div'); d.appendChild(bar(m[k], 'cur'));\n",
    "    if (b && b[k] !== undefined) { d.appendChild(el('br')); d.appendChild(bar(b[k], "
    "'base')); ",
    "}\n",
    "    bars.appendChild(d); }\n",
    "  tr.appendChild(bars); return tr; }\n",
    "const lt = document.querySelector('#locales tbody');\n",
    "for (const loc of Object.keys(R.by_locale)) { const m = R.by_locale[loc];\n",
    "  lt.appendChild(row(loc, m, B ? B.by_locale[loc] : null, m.n)); }\n",
    "lt.appendChild(row('average', a, B ? B.average : null));\n",
    "const ct = document.querySelector('#confusions tbody');\n",
    "for (const c of R.confusions) { const tr = el('tr', {class: 'pair'});\n",
    "  tr.appendChild(el('td', {class: 'count'}, String(c.count)));\n",
    "  tr.appendChild(el('td', {class: 'l gold'}, c.gold));\n",
    "  tr.appendChild(el('td', {class: 'l pred'}, c.pred));\n",
    "  const ex = el('td', {class: 'l ex'});\n",
    "  for (const e of c.examples) { const d = el('div', {}, e.locale + ': ' + e.utt);\n",
    "    d.dir = 'auto'; ex.appendChild(d); }\n",
    "  tr.appendChild(ex); ct.appendChild(tr); }\n",
    "const st = document.querySelector('#slots tbody');\n",
    "for (const s of R.slots) { const tr = el('tr', {'data-slot': s.slot});\n",
    "  tr.appendChild(el('td', {class: 'l'}, s.slot));\n",
    "  for (const k of ['gold', 'pred', 'ok']) tr.appendChild(el('td', {class: k}, ",
    "String(s[k])));\n",
    "  tr.appendChild(el('td', {class: 'f1'}, f2(s.f1))); st.appendChild(tr); }\n",
    "const rel = document.getElementById('reliability');\n",
    "if (!R.reliability) {\n",
    "  document.getElementById('rel-note').textContent =\n",
    "    'The predictions carry no confidence: no reliability diagram.';\n",
    "} else {\n",
    "  document.getElementById('rel-note').textContent = 'Accuracy (bars) against mean ' +\n",
    "    'confidence (line) in 15 bins of confidence; a calibrated model has bars on the line.';\n",
    "  const NS = 'http://www.w3.org/2000/svg', W = 450, H = 300, P = 30;\n",
    "  const svg = document.createElementNS(NS, 'svg');\n",
    "  svg.setAttribute('width', W + 2 * P); svg.setAttribute('height', H + 2 * P);\n",
    "  const mk = (t, at) => { const e = document.createElementNS(NS, t);\n",
    "    for (const k in at) e.setAttribute(k, at[k]); svg.appendChild(e); return e; };\n",
    "  mk('line', {x1: P, y1: P + H, x2: P + W, y2: P, stroke: '#999', 'stroke-dasharray': "
    "'4'});\n",
    "  mk('rect', {x: P, y: P, width: W, height: H, fill: 'none', stroke: '#333'});\n",
    "  for (const b of R.reliability) { if (!b.n) continue;\n",
    "    const x = P + b.lo * W, w = (b.hi - b.lo) * W - 2, h = b.acc / 100 * H;\n",
    "    const r = mk('rect', {x: x + 1, y: P + H - h, width: w, height: h, fill: '#2b6cb0',\n",
    "      class: 'bin', 'data-n': b.n, 'data-acc': b.acc, 'data-conf': b.conf});\n",
    "    const t = document.createElementNS(NS, 'title');\n",
    "    t.textContent = b.n + ' records, accuracy ' + f2(b.acc) + ', confidence ' + f2(b.conf);\n",
    "    r.appendChild(t);\n",
    "    mk('circle', {cx: P + b.conf / 100 * W, cy: P + H - b.conf / 100 * H, r: 3, fill: ",
    "'#c62828'}); }\n",
    "  mk('text', {x: P, y: P + H + 20}).textContent = 'confidence 0';\n",
    "  mk('text', {x: P + W - 20, y: P + H + 20}).textContent = '1';\n",
    "  rel.appendChild(svg);\n",
    "}\n",
    "document.body.setAttribute('data-ready', '1');\n",
    "</script>\n</body></html>\n",
    NULL};

int eval_html_write(const char *path, json_t *report_json, const data_set *gold,
                    const data_set *pred, const int64_t *pred_of, json_t *baseline)
{
    json_t *conf = confusions(gold, pred, pred_of), *slots = slot_f1(gold, pred, pred_of),
           *rel = reliability(gold, pred, pred_of);
    if (!conf || !slots || !rel) {
        json_decref(conf), json_decref(slots), json_decref(rel);
        fprintf(stderr, "mille eval: out of memory for the report\n");
        return -1;
    }
    json_t *r = json_deep_copy(report_json);
    int bad = !r || json_object_set_new(r, "confusions", conf) ||
              json_object_set_new(r, "slots", slots) ||
              json_object_set_new(r, "reliability", rel) ||
              json_object_set(r, "baseline", baseline ? baseline : json_null());
    char *js = bad ? NULL : json_dumps(r, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(r);
    if (!js) {
        fprintf(stderr, "mille eval: out of memory for the report\n");
        return -1;
    }
    /* inside <script>, "</" could close the element: JSON allows "<\/" for it */
    size_t n = strlen(js), total = 2 * n + 1;
    for (int i = 0; page_head[i]; i++) total += strlen(page_head[i]);
    for (int i = 0; page_tail[i]; i++) total += strlen(page_tail[i]);
    char *buf = malloc(total), *o = buf;
    if (!buf) {
        free(js);
        fprintf(stderr, "mille eval: out of memory for the report\n");
        return -1;
    }
    for (int i = 0; page_head[i]; i++)
        o += snprintf(o, total - (size_t)(o - buf), "%s", page_head[i]);
    for (size_t i = 0; i < n; i++) {
        *o++ = js[i];
        if (js[i] == '<' && js[i + 1] == '/') *o++ = '\\';
    }
    for (int i = 0; page_tail[i]; i++)
        o += snprintf(o, total - (size_t)(o - buf), "%s", page_tail[i]);
    free(js);
    total = (size_t)(o - buf);
    mille_error err;
    int rc = file_write_atomic(path, buf, total, &err);
    free(buf);
    if (rc) {
        fprintf(stderr, "mille eval: %s\n", err.msg);
        return -1;
    }
    return 0;
}
