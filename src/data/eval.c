/*
 * eval.c - MASSIVE's official metrics on label ids, and the matching of a prediction set to
 * a gold set.
 *
 * Reference: alexa/massive src/massive/utils/training_utils.py (eval_preds, convert_to_bio)
 * and seqeval's f1_score (default, non-strict mode), which eval_preds calls. What they compute,
 * restated on word labels (0 = Other):
 *   - pred is cut or padded with Other to the gold length;
 *   - convert_to_bio writes B- when a label differs from the previous one and I- when it is
 *     the same, so a span is a maximal run of one label: two adjacent slots of one type are
 *     ONE span. seqeval's entities of such a BIO sequence are exactly these runs;
 *   - slot F1 is micro: spans (type, start, end) counted over all records of a locale;
 *     P = ok/pred, R = ok/gold, F1 = 2PR/(P+R) = 2 ok / (gold + pred), 0 when ok == 0
 *     (seqeval returns 0 when a denominator is 0);
 *   - exact match compares the BIO sequences, which are equal iff the label sequences are
 *     equal (the BIO form determines the labels), and the intent.
 * Not here: reading files (data.c), printing (cli/cmd_eval.c), confidence intervals.
 */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

/* ---- accumulator ------------------------------------------------------------------------- */

void eval_acc_free(eval_acc *a)
{
    if (!a) return;
    free(a->loc);
    a->loc = NULL;
    a->n_loc = a->cap = 0;
}

void eval_acc_reset(eval_acc *a)
{
    if (a->n_loc) memset(a->loc, 0, a->n_loc * sizeof *a->loc);
}

/* Make locale ids [0, n) valid; new entries are zero. */
static int acc_grow(eval_acc *a, size_t n)
{
    if (n <= a->n_loc) return MILLE_OK;
    if (vec_reserve((void **)&a->loc, &a->cap, n, sizeof *a->loc)) return MILLE_ENOMEM;
    memset(a->loc + a->n_loc, 0, (n - a->n_loc) * sizeof *a->loc);
    a->n_loc = n;
    return MILLE_OK;
}

/* Label of word i of pred after cut/pad: Other past its end. */
static inline uint32_t pred_at(const uint32_t *pred, size_t n_pred, size_t i)
{
    return i < n_pred ? pred[i] : DATA_OTHER;
}

void eval_count_record(eval_counts *c, uint32_t gold_intent, uint32_t pred_intent,
                       const uint32_t *gold, size_t n_gold, const uint32_t *pred, size_t n_pred)
{
    int intent_ok = pred_intent != EVAL_MISSING && pred_intent == gold_intent;
    int same = 1;
    uint64_t ng = 0, np = 0, nok = 0;
    for (size_t i = 0; i < n_gold; i++) {
        uint32_t g = gold[i], p = pred_at(pred, n_pred, i);
        same &= g == p;
        if (g != DATA_OTHER && (i == 0 || gold[i - 1] != g)) ng++;
        if (p == DATA_OTHER || (i > 0 && pred_at(pred, n_pred, i - 1) == p)) continue;
        /* a predicted span starts at i: find its end e, then ask whether gold has the very
         * same run (same start, same end, same type) */
        np++;
        size_t e = i + 1;
        while (e < n_gold && pred_at(pred, n_pred, e) == p) e++;
        int ok = g == p && (i == 0 || gold[i - 1] != p) && (e == n_gold || gold[e] != p);
        for (size_t k = i + 1; ok && k < e; k++) ok = gold[k] == p;
        nok += (uint64_t)ok;
    }
    c->n++;
    c->intent_ok += (uint64_t)intent_ok;
    c->exact_ok += (uint64_t)(intent_ok && same);
    c->gold_spans += ng;
    c->pred_spans += np;
    c->ok_spans += nok;
}

int eval_add(eval_acc *a, uint32_t locale, uint32_t gold_intent, uint32_t pred_intent,
             const uint32_t *gold, size_t n_gold, const uint32_t *pred, size_t n_pred)
{
    if (acc_grow(a, (size_t)locale + 1)) return MILLE_ENOMEM; /* locale < 2^32: no overflow */
    eval_count_record(&a->loc[locale], gold_intent, pred_intent, gold, n_gold, pred, n_pred);
    return MILLE_OK;
}

int eval_merge(eval_acc *dst, const eval_acc *src)
{
    if (acc_grow(dst, src->n_loc)) return MILLE_ENOMEM;
    for (size_t i = 0; i < src->n_loc; i++) {
        eval_counts *d = &dst->loc[i];
        const eval_counts *s = &src->loc[i];
        d->n += s->n;
        d->intent_ok += s->intent_ok;
        d->exact_ok += s->exact_ok;
        d->gold_spans += s->gold_spans;
        d->pred_spans += s->pred_spans;
        d->ok_spans += s->ok_spans;
    }
    return MILLE_OK;
}

/* 100 * a / b, or 0 when b == 0 (seqeval's zero_division behaviour). */
static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

eval_metrics eval_metrics_of(const eval_counts *c)
{
    eval_metrics m = {0};
    m.n = c->n;
    m.n_locales = c->n ? 1 : 0;
    m.exact_match = pct(c->exact_ok, c->n);
    m.intent_accuracy = pct(c->intent_ok, c->n);
    m.slot_precision = pct(c->ok_spans, c->pred_spans);
    m.slot_recall = pct(c->ok_spans, c->gold_spans);
    /* 2PR/(P+R) simplifies to 2 ok / (gold + pred); it is 0 when ok == 0. */
    m.slot_f1 = pct(2 * c->ok_spans, c->gold_spans + c->pred_spans);
    return m;
}

eval_metrics eval_locale_metrics(const eval_acc *a, uint32_t locale)
{
    static const eval_counts none;
    return eval_metrics_of(locale < a->n_loc ? &a->loc[locale] : &none);
}

eval_metrics eval_average(const eval_acc *a)
{
    eval_metrics avg = {0};
    for (size_t i = 0; i < a->n_loc; i++) {
        if (!a->loc[i].n) continue;
        eval_metrics m = eval_metrics_of(&a->loc[i]);
        avg.n += m.n;
        avg.n_locales++;
        avg.exact_match += m.exact_match;
        avg.intent_accuracy += m.intent_accuracy;
        avg.slot_f1 += m.slot_f1;
        avg.slot_precision += m.slot_precision;
        avg.slot_recall += m.slot_recall;
    }
    if (avg.n_locales) {
        double k = (double)avg.n_locales;
        avg.exact_match /= k;
        avg.intent_accuracy /= k;
        avg.slot_f1 /= k;
        avg.slot_precision /= k;
        avg.slot_recall /= k;
    }
    return avg;
}

/* ---- names ------------------------------------------------------------------------------- */

void eval_map_names(const strtab *from, const strtab *to, uint32_t *map)
{
    for (size_t i = 0; i < from->n; i++) {
        int64_t id = strtab_find(to, strtab_str(from, i), from->lens[i]);
        map[i] = id >= 0 ? (uint32_t)id : (uint32_t)(to->n + i);
    }
}

/* ---- gold set against prediction set ----------------------------------------------------- */

/* Open-addressing index of gold records by (locale id, id string). */
typedef struct rec_index {
    uint32_t *slots; /* (mask + 1) record index + 1, 0 = empty */
    size_t mask;
} rec_index;

static uint64_t key_hash(uint32_t locale, const char *id, size_t n)
{
    return hash_bytes(id, n) ^ ((uint64_t)locale * 0x9E3779B97F4A7C15ULL);
}

static int index_build(rec_index *x, const data_set *gold)
{
    size_t n = 16;
    while (n < 2 * gold->n) n *= 2;
    x->slots = calloc(n, sizeof *x->slots);
    if (!x->slots) return MILLE_ENOMEM;
    x->mask = n - 1;
    for (size_t i = 0; i < gold->n; i++) {
        const data_record *r = &gold->recs[i];
        const char *id = data_str(gold, r->id);
        size_t h = (size_t)key_hash(r->locale, id, strlen(id)) & x->mask;
        while (x->slots[h]) h = (h + 1) & x->mask;
        x->slots[h] = (uint32_t)i + 1;
    }
    return MILLE_OK;
}

/* Index of the FIRST gold record with (locale, id), or -1. Duplicate gold keys stay in the
 * table (all are scored), but predictions attach to the first. */
static int64_t index_find(const rec_index *x, const data_set *gold, uint32_t locale, const char *id)
{
    size_t n = strlen(id);
    int64_t best = -1;
    for (size_t h = (size_t)key_hash(locale, id, n) & x->mask; x->slots[h]; h = (h + 1) & x->mask) {
        const data_record *r = &gold->recs[x->slots[h] - 1];
        if (r->locale == locale && strcmp(data_str(gold, r->id), id) == 0) {
            int64_t i = (int64_t)x->slots[h] - 1;
            if (best < 0 || i < best) best = i;
        }
    }
    return best;
}

void eval_report_free(eval_report *r)
{
    if (r) eval_acc_free(&r->acc);
}

/* Scratch of eval_sets, freed in one place. */
typedef struct sets_scratch {
    rec_index index;
    uint32_t *pred_of;    /* (gold->n) pred record index + 1, 0 = none */
    uint32_t *loc_map;    /* (pred->locales.n) pred locale id -> gold locale id */
    uint32_t *intent_map; /* (pred->intents.n) */
    uint32_t *gold_labels, *pred_labels;
    size_t cap_gold, cap_pred;
    annot_word *words;
    size_t cap_words;
    annot_scratch annot;
    strtab unknown; /* slot names that gold does not have */
} sets_scratch;

static void scratch_free(sets_scratch *s)
{
    free(s->index.slots);
    free(s->pred_of);
    free(s->loc_map);
    free(s->intent_map);
    free(s->gold_labels);
    free(s->pred_labels);
    free(s->words);
    annot_scratch_free(&s->annot);
    strtab_free(&s->unknown);
}

static void notify(eval_report *out, eval_note_fn note, void *ud, int kind, const data_set *ds,
                   const data_record *r, const char *msg)
{
    out->notes[kind]++;
    if (note) note(ud, kind, ds, r, msg);
}

/* Word labels of prediction p for gold record g, in gold slot ids, into s->pred_labels.
 * Returns the number of labels, or a negative code (only MILLE_ENOMEM is fatal; others are
 * reported through note by the caller). */
static int64_t pred_labels(sets_scratch *s, const data_set *gold, const data_record *g,
                           const data_set *pred, const data_record *p, int *text_mismatch,
                           mille_error *perr)
{
    const char *annot = data_str(pred, p->annot);
    const char *utt = data_str(gold, g->utt);
    const char *loc = strtab_str(&gold->locales, g->locale);
    int cs = annot_char_split(loc, strlen(loc));
    size_t need = (g->utt_len > p->annot_len ? g->utt_len : p->annot_len) + 1;
    if (vec_reserve((void **)&s->words, &s->cap_words, need, sizeof *s->words) ||
        vec_reserve((void **)&s->pred_labels, &s->cap_pred, need, sizeof *s->pred_labels))
        return MILLE_ENOMEM;
    *text_mismatch = 0;
    int nw = annot_parse(utt, g->utt_len, annot, p->annot_len, cs, s->words, &s->annot, perr);
    if (nw == MILLE_EANNOT) {
        /* not the gold text: the official rule compares word labels by position */
        *text_mismatch = 1;
        nw = annot_parse(NULL, 0, annot, p->annot_len, cs, s->words, &s->annot, perr);
    }
    if (nw < 0) return nw;
    for (int k = 0; k < nw; k++) {
        const annot_word *w = &s->words[k];
        uint32_t id = DATA_OTHER;
        if (w->label_len) {
            const char *name = annot + w->label_off;
            int64_t v = strtab_find(&gold->slots, name, w->label_len);
            if (v < 0) {
                v = strtab_intern(&s->unknown, name, w->label_len);
                if (v < 0) return MILLE_ENOMEM;
                v += (int64_t)gold->slots.n; /* fresh: matches no gold id */
            }
            id = (uint32_t)v;
        }
        s->pred_labels[k] = id;
    }
    return nw;
}

int eval_sets(const data_set *gold, const data_set *pred, eval_report *out, eval_note_fn note,
              void *ud, mille_error *err)
{
    sets_scratch s = {0};
    int rc = MILLE_OK;
    if (gold->n >= UINT32_MAX || pred->n >= UINT32_MAX) {
        return err_set(err, MILLE_ERANGE, "eval: more than 2^32 records");
    }
    s.pred_of = calloc(gold->n + 1, sizeof *s.pred_of);
    s.loc_map = malloc((pred->locales.n + 1) * sizeof *s.loc_map);
    s.intent_map = malloc((pred->intents.n + 1) * sizeof *s.intent_map);
    if (!s.pred_of || !s.loc_map || !s.intent_map || index_build(&s.index, gold) ||
        acc_grow(&out->acc, gold->locales.n)) {
        rc = MILLE_ENOMEM;
        goto out;
    }
    eval_map_names(&pred->locales, &gold->locales, s.loc_map);
    eval_map_names(&pred->intents, &gold->intents, s.intent_map);

    /* 1. attach each prediction to its gold record; the first of duplicates wins */
    for (size_t i = 0; i < pred->n; i++) {
        const data_record *p = &pred->recs[i];
        int64_t g = index_find(&s.index, gold, s.loc_map[p->locale], data_str(pred, p->id));
        if (g < 0) {
            notify(out, note, ud, EVAL_NOTE_EXTRA, pred, p, "");
        } else if (s.pred_of[g]) {
            notify(out, note, ud, EVAL_NOTE_DUPLICATE, pred, p, "");
        } else {
            s.pred_of[g] = (uint32_t)i + 1;
        }
    }

    /* 2. score every gold record */
    for (size_t i = 0; i < gold->n; i++) {
        const data_record *g = &gold->recs[i];
        if (vec_reserve((void **)&s.gold_labels, &s.cap_gold, (size_t)g->n_words + 1,
                        sizeof *s.gold_labels)) {
            rc = MILLE_ENOMEM;
            goto out;
        }
        for (uint32_t k = 0; k < g->n_words; k++)
            s.gold_labels[k] = gold->words[g->word0 + k].label;
        uint32_t pred_intent = EVAL_MISSING;
        int64_t np = 0;
        if (!s.pred_of[i]) {
            notify(out, note, ud, EVAL_NOTE_MISSING, gold, g, "");
        } else {
            const data_record *p = &pred->recs[s.pred_of[i] - 1];
            mille_error perr = {0};
            int mismatch = 0;
            pred_intent = s.intent_map[p->intent];
            np = pred_labels(&s, gold, g, pred, p, &mismatch, &perr);
            if (np == MILLE_ENOMEM) {
                rc = MILLE_ENOMEM;
                goto out;
            }
            if (np < 0) {
                notify(out, note, ud, EVAL_NOTE_BAD_ANNOT, pred, p, perr.msg);
                np = 0; /* all Other */
            } else if (mismatch) {
                notify(out, note, ud, EVAL_NOTE_TEXT, pred, p, "");
            }
        }
        eval_count_record(&out->acc.loc[g->locale], g->intent, pred_intent, s.gold_labels,
                          g->n_words, s.pred_labels, (size_t)np);
    }
out:
    scratch_free(&s);
    if (rc == MILLE_ENOMEM) err_set(err, rc, "eval: out of memory");
    return rc;
}
