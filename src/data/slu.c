/*
 * slu.c - SLURP's SLU-F1 and its parts (span F1, word- and char-distance F1). The
 * definitions, and the edge cases SLURP leaves open, are in slu.h; this file follows the
 * order of operations of SLURP's SpanDistanceFMeasure so that ties resolve the same way.
 *
 * Not here: SLURP's macro average (per-type F1 averaged), and its scenario/action metrics
 * (mille eval reports intent accuracy instead).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "data.h"
#include "slu.h"
#include "text.h"

/* Units (words or code points) per value the distances accept: the DP is O(n m) time. */
#define SLU_MAX_UNITS 4096

/* ---- units ------------------------------------------------------------------------------- */

/* Code points of s[0..n) into cp (room for n); an invalid byte is one unit of its own, with
 * a negative value so that it equals no code point. Returns the count. */
static size_t code_points(const char *s, size_t n, int32_t *cp)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int32_t c;
        int l = text_decode(s + i, n - i, &c);
        if (l < 0) {
            c = -1 - (int32_t)(unsigned char)s[i];
            l = 1;
        }
        cp[k++] = c;
        i += (size_t)l;
    }
    return k;
}

typedef struct word {
    const char *s;
    size_t n;
} word;

/* Whitespace-separated words of s[0..n) into w (room for n / 2 + 1); returns the count. */
static size_t words(const char *s, size_t n, word *w)
{
    size_t k = 0, i = 0;
    while (i < n) {
        int32_t c;
        int l = text_decode(s + i, n - i, &c);
        if (l < 0) l = 1, c = 'x'; /* an invalid byte is part of a word */
        if (text_is_space(c)) {
            i += (size_t)l;
            continue;
        }
        size_t start = i;
        while (i < n) {
            l = text_decode(s + i, n - i, &c);
            if (l < 0) l = 1, c = 'x';
            if (text_is_space(c)) break;
            i += (size_t)l;
        }
        w[k].s = s + start;
        w[k].n = i - start;
        k++;
    }
    return k;
}

/* ---- edit distances (one DP row; insertion, deletion and substitution cost 1) ------------- */

static size_t edit_cp(const int32_t *a, size_t na, const int32_t *b, size_t nb, size_t *row)
{
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

static int same_word(const word *x, const word *y)
{
    return x->n == y->n && memcmp(x->s, y->s, x->n) == 0;
}

static size_t edit_words(const word *a, size_t na, const word *b, size_t nb, size_t *row)
{
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + !same_word(&a[i - 1], &b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

/* Both distances return -1 when out of memory or over SLU_MAX_UNITS. */
static double word_distance(const char *t, size_t tn, const char *h, size_t hn)
{
    if (tn > 2 * SLU_MAX_UNITS || hn > 2 * SLU_MAX_UNITS) return -1;
    word *wt = malloc((tn / 2 + 1) * sizeof *wt), *wh = malloc((hn / 2 + 1) * sizeof *wh);
    size_t *row = malloc((hn / 2 + 2) * sizeof *row);
    double d = -1;
    if (wt && wh && row) {
        size_t nt = words(t, tn, wt), nh = words(h, hn, wh);
        if (nt == 0)
            d = nh == 0 ? 0.0 : 1.0;
        else
            d = (double)edit_words(wt, nt, wh, nh, row) / (double)nt;
    }
    free(wt);
    free(wh);
    free(row);
    return d;
}

static double char_distance(const char *t, size_t tn, const char *h, size_t hn)
{
    if (tn > SLU_MAX_UNITS * 4 || hn > SLU_MAX_UNITS * 4) return -1;
    int32_t *ct = malloc((tn + 1) * sizeof *ct), *ch = malloc((hn + 1) * sizeof *ch);
    size_t *row = malloc((hn + 2) * sizeof *row);
    double d = -1;
    if (ct && ch && row) {
        size_t nt = code_points(t, tn, ct), nh = code_points(h, hn, ch);
        size_t longer = nt > nh ? nt : nh;
        d = longer == 0 ? 0.0 : (double)edit_cp(ct, nt, ch, nh, row) / (double)longer;
    }
    free(ct);
    free(ch);
    free(row);
    return d;
}

double slu_word_distance(const char *truth, size_t truth_len, const char *hyp, size_t hyp_len)
{
    return word_distance(truth, truth_len, hyp, hyp_len);
}

double slu_char_distance(const char *truth, size_t truth_len, const char *hyp, size_t hyp_len)
{
    return char_distance(truth, truth_len, hyp, hyp_len);
}

/* ---- one utterance ------------------------------------------------------------------------ */

static int same_type(const slu_entity *a, const slu_entity *b)
{
    return a->type_len == b->type_len && memcmp(a->type, b->type, a->type_len) == 0;
}

static int same_value(const slu_entity *a, const slu_entity *b)
{
    return a->value_len == b->value_len && memcmp(a->value, b->value, a->value_len) == 0;
}

/* SLURP's SpanDistanceFMeasure with one distance: returns 0 or -1 (out of memory). */
static int distance_counts(slu_counts *c, const slu_entity *gold, size_t ng, const slu_entity *pred,
                           size_t np, int chars)
{
    unsigned char left[SLU_MAX_ENTITIES];
    memset(left, 1, ng);
    size_t n_left = ng;
    for (size_t j = 0; j < np; j++) {
        size_t best_i = ng;
        double best = 0;
        for (size_t i = 0; i < ng; i++) {
            if (!left[i] || !same_type(&gold[i], &pred[j])) continue;
            double d = chars ? char_distance(gold[i].value, gold[i].value_len, pred[j].value,
                                             pred[j].value_len)
                             : word_distance(gold[i].value, gold[i].value_len, pred[j].value,
                                             pred[j].value_len);
            if (d < 0) return -1;
            if (best_i == ng || d < best) best_i = i, best = d; /* strict: the first on a tie */
        }
        if (best_i < ng) {
            c->tp += 1;
            c->fp += best;
            c->fn += best;
            left[best_i] = 0;
            n_left--;
        } else {
            c->fp += 1;
        }
    }
    c->fn += (double)n_left;
    return 0;
}

int slu_add(slu_acc *a, const slu_entity *gold, size_t n_gold, const slu_entity *pred,
            size_t n_pred)
{
    if (n_gold > SLU_MAX_ENTITIES || n_pred > SLU_MAX_ENTITIES) return MILLE_ENOMEM;
    slu_acc t = *a;
    /* span F1: a multiset match of identical (type, value) pairs */
    unsigned char left[SLU_MAX_ENTITIES];
    memset(left, 1, n_gold);
    size_t n_left = n_gold;
    for (size_t j = 0; j < n_pred; j++) {
        size_t i = 0;
        while (i < n_gold &&
               !(left[i] && same_type(&gold[i], &pred[j]) && same_value(&gold[i], &pred[j])))
            i++;
        if (i < n_gold) {
            t.span.tp += 1;
            left[i] = 0;
            n_left--;
        } else {
            t.span.fp += 1;
        }
    }
    t.span.fn += (double)n_left;
    if (distance_counts(&t.word, gold, n_gold, pred, n_pred, 0) < 0 ||
        distance_counts(&t.chr, gold, n_gold, pred, n_pred, 1) < 0)
        return MILLE_ENOMEM;
    t.n++;
    *a = t;
    return 0;
}

/* ---- metrics ------------------------------------------------------------------------------ */

static slu_prf prf(double tp, double fp, double fn)
{
    slu_prf m = {0, 0, 0};
    if (tp + fp > 0) m.p = tp / (tp + fp);
    if (tp + fn > 0) m.r = tp / (tp + fn);
    if (m.p + m.r > 0) m.f1 = 2 * m.p * m.r / (m.p + m.r);
    m.p *= 100;
    m.r *= 100;
    m.f1 *= 100;
    return m;
}

slu_metrics slu_metrics_of(const slu_acc *a)
{
    slu_metrics m;
    m.n = a->n;
    m.span = prf(a->span.tp, a->span.fp, a->span.fn);
    m.word = prf(a->word.tp, a->word.fp, a->word.fn);
    m.chr = prf(a->chr.tp, a->chr.fp, a->chr.fn);
    m.slu = prf(a->word.tp + a->chr.tp, a->word.fp + a->chr.fp, a->word.fn + a->chr.fn);
    return m;
}

/* ---- entities of a MASSIVE annot_utt ------------------------------------------------------ */

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ')) (*s)++, (*n)--;
    while (*n && (*s)[*n - 1] == ' ') (*n)--;
}

int slu_parse_annot(const char *annot, size_t len, slu_entity *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (annot[i] == ']') return MILLE_EANNOT;
        if (annot[i] != '[') continue;
        size_t j = i + 1, colon = 0;
        while (j < len && annot[j] != ']' && annot[j] != '[') {
            if (!colon && annot[j] == ':') colon = j;
            j++;
        }
        if (j == len || annot[j] != ']' || !colon) return MILLE_EANNOT;
        slu_entity e = {annot + i + 1, annot + colon + 1, colon - i - 1, j - colon - 1};
        trim(&e.type, &e.type_len);
        trim(&e.value, &e.value_len);
        if (e.type_len == 0) return MILLE_EANNOT;
        if (k < cap) out[k] = e;
        k++;
        i = j;
    }
    return k > (size_t)INT_MAX ? INT_MAX : (int)k;
}

/* ---- gold set against prediction set ------------------------------------------------------ */

/* Entities of annot after normalization into e[0..SLU_MAX_ENTITIES); b keeps the text. */
static int entities_of(const char *annot, size_t len, text_buf *b, slu_entity *e, size_t *n,
                       mille_error *err)
{
    *n = 0;
    int rc = text_normalize(annot, len, TEXT_NORM_DEFAULT, b, err);
    if (rc < 0) return err_prefix(err, "SLU-F1: ");
    int k = slu_parse_annot(b->s, b->len, e, SLU_MAX_ENTITIES);
    if (k < 0) return 0; /* unparsable: no entity */
    *n = (size_t)k < SLU_MAX_ENTITIES ? (size_t)k : SLU_MAX_ENTITIES;
    return 0;
}

int slu_sets(const data_set *gold, const data_set *pred, const int64_t *pred_of, slu_acc *out,
             mille_error *err)
{
    slu_entity *eg = malloc(2 * SLU_MAX_ENTITIES * sizeof *eg), *ep = eg + SLU_MAX_ENTITIES;
    text_buf bg = {0}, bp = {0};
    int rc = eg ? 0 : err_set(err, MILLE_ENOMEM, "SLU-F1: out of memory");
    for (size_t i = 0; i < gold->n && rc == 0; i++) {
        const data_record *g = &gold->recs[i];
        size_t ng = 0, np = 0;
        rc = entities_of(data_str(gold, g->annot), g->annot_len, &bg, eg, &ng, err);
        if (rc == 0 && pred_of[i] >= 0) {
            const data_record *p = &pred->recs[pred_of[i]];
            rc = entities_of(data_str(pred, p->annot), p->annot_len, &bp, ep, &np, err);
        }
        if (rc == 0 && (rc = slu_add(out, eg, ng, ep, np)) < 0)
            err_set(err, rc, "SLU-F1: out of memory");
    }
    free(eg);
    text_buf_free(&bg);
    text_buf_free(&bp);
    return rc;
}
