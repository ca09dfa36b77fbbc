/*
 * calib.c - temperature scaling, expected calibration error, out-of-scope scores and their
 * AUROC / false-accept rate (calib.h has the references and the definitions).
 *
 * What it does not do: per-locale temperatures (one T per model: the model is one, and 2,000
 * dev records of a locale would fit 52 temperatures noisily), vector or matrix scaling, or
 * any change of the argmax. Sums are in double; softmaxes subtract the maximum first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "train.h"

const char *const calib_score_name[CALIB_SCORE_COUNT] = {"prob", "margin", "energy", "maxlogit"};

/* ---- logits of a data set ------------------------------------------------------------------ */

#define CALIB_BATCH 128

void calib_logits_free(calib_logits *c)
{
    free(c->L);
    free(c->gold);
    free(c->locale);
    free(c->rec);
    memset(c, 0, sizeof *c);
}

int calib_collect(const model *m, const data_set *ds, const featset *given, const uint32_t *idx,
                  size_t n, int threads, calib_logits *out, mille_error *err)
{
    memset(out, 0, sizeof *out);
    size_t I = m->cfg.n_intents;
    featset own = {0};
    const featset *fs = given ? given : &own;
    batch b = {0};
    model_ws ws = {0};
    uint32_t *imap = NULL, *smap = NULL;
    int *tagbuf = NULL;
    size_t cap_t = 0;
    int rc = given ? MILLE_OK : featset_build(&own, ds, &m->cfg, threads, err);
    if (rc) return rc;
    out->I = I;
    out->oos_id = CALIB_OOS;
    int64_t oos = strtab_find(&m->intents, CALIB_OOS_INTENT, strlen(CALIB_OOS_INTENT));
    if (oos >= 0) out->oos_id = (uint32_t)oos;
    /* the data's intents by name in the model's table; its slots all map to Other (the labels
     * of a forward pass do not matter, only its logits) */
    imap = malloc((ds->intents.n + 1) * sizeof *imap);
    smap = calloc(ds->slots.n + 1, sizeof *smap);
    out->L = malloc((n * I + 1) * sizeof *out->L);
    out->gold = malloc((n + 1) * sizeof *out->gold);
    out->locale = malloc((n + 1) * sizeof *out->locale);
    out->rec = malloc((n + 1) * sizeof *out->rec);
    if (!imap || !smap || !out->L || !out->gold || !out->locale || !out->rec) {
        rc = err_set(err, MILLE_ENOMEM, "calibrate: out of memory for %zu records", n);
        goto out;
    }
    for (size_t i = 0; i < ds->intents.n; i++) {
        int64_t id = strtab_find(&m->intents, strtab_str(&ds->intents, i), ds->intents.lens[i]);
        imap[i] = id < 0 ? CALIB_OOS : (uint32_t)id;
    }
    for (size_t i = 0; i < n;) {
        batch_clear(&b);
        size_t u0 = out->n;
        for (; i < n && b.n_utt < CALIB_BATCH; i++) {
            const data_record *r = &ds->recs[idx[i]];
            if (r->n_words == 0) continue;
            if (vec_reserve((void **)&tagbuf, &cap_t, r->n_words, sizeof *tagbuf) ||
                train_batch_add(&b, ds, fs, idx[i], NULL, smap, tagbuf)) {
                rc = err_set(err, MILLE_ENOMEM, "calibrate: out of memory");
                goto out;
            }
            out->gold[out->n] = imap[r->intent];
            out->locale[out->n] = r->locale;
            out->rec[out->n] = idx[i];
            out->n++;
        }
        if (b.n_utt == 0) continue;
        if (model_forward(m, &b, &ws)) {
            rc = err_set(err, MILLE_ENOMEM, "calibrate: out of memory in the forward pass");
            goto out;
        }
        memcpy(out->L + u0 * I, ws.L, b.n_utt * I * sizeof *out->L);
    }
out:
    if (rc) calib_logits_free(out);
    free(imap);
    free(smap);
    free(tagbuf);
    featset_free(&own);
    batch_free(&b);
    model_ws_free(&ws);
    return rc;
}

/* ---- temperature --------------------------------------------------------------------------- */

/* log sum_k exp(beta * l[k]) and the argmax, max-subtracted. */
static double lse(const float *l, size_t I, double beta, uint32_t *argmax)
{
    size_t best = 0;
    for (size_t k = 1; k < I; k++)
        if (l[k] > l[best]) best = k;
    double z = 0;
    for (size_t k = 0; k < I; k++) z += exp(beta * ((double)l[k] - (double)l[best]));
    if (argmax) *argmax = (uint32_t)best;
    return beta * (double)l[best] + log(z);
}

double calib_nll(const float *L, const uint32_t *gold, const uint8_t *sel, size_t n, size_t I,
                 double T)
{
    double beta = 1.0 / T, s = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (gold[i] == CALIB_OOS || (sel && !sel[i])) continue;
        const float *l = L + i * I;
        s += lse(l, I, beta, NULL) - beta * (double)l[gold[i]];
        cnt++;
    }
    return cnt ? s / (double)cnt : 0;
}

double calib_fit_temperature(const float *L, const uint32_t *gold, const uint8_t *sel, size_t n,
                             size_t I)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) cnt += gold[i] != CALIB_OOS && (!sel || sel[i]);
    if (!cnt) return 1;
    /* golden section on x = log T: the interval shrinks by 0.618 per step, so 60 steps take
     * log(400) = 6 down to 1e-12, far below the 1e-6 that matters */
    const double g = (sqrt(5.0) - 1) / 2;
    double a = log(CALIB_T_MIN), b = log(CALIB_T_MAX);
    double c = b - g * (b - a), d = a + g * (b - a);
    double fc = calib_nll(L, gold, sel, n, I, exp(c)), fd = calib_nll(L, gold, sel, n, I, exp(d));
    while (b - a > 1e-7) {
        if (fc <= fd) {
            b = d, d = c, fd = fc;
            c = b - g * (b - a);
            fc = calib_nll(L, gold, sel, n, I, exp(c));
        } else {
            a = c, c = d, fc = fd;
            d = a + g * (b - a);
            fd = calib_nll(L, gold, sel, n, I, exp(d));
        }
    }
    return exp((a + b) / 2);
}

/* ---- scores -------------------------------------------------------------------------------- */

double calib_score(const float *l, size_t I, double T, int kind, uint32_t *argmax)
{
    double beta = 1.0 / T;
    uint32_t best;
    double z = lse(l, I, beta, &best);
    if (argmax) *argmax = best;
    switch (kind) {
    case CALIB_SCORE_PROB:
        return exp(beta * (double)l[best] - z);
    case CALIB_SCORE_MARGIN: {
        size_t second = best == 0 ? 1 : 0;
        if (I < 2) return 1;
        for (size_t k = 0; k < I; k++)
            if (k != best && l[k] > l[second]) second = k;
        return exp(beta * (double)l[best] - z) - exp(beta * (double)l[second] - z);
    }
    case CALIB_SCORE_ENERGY:
        return T * z;
    default:
        return (double)l[best];
    }
}

double calib_score_of(const calib_logits *c, size_t i, double T, int kind)
{
    uint32_t best;
    double s = calib_score(c->L + i * c->I, c->I, T, kind, &best);
    return best == c->oos_id ? -HUGE_VAL : s;
}

double calib_ece(const double *conf, const uint8_t *correct, size_t n, int bins)
{
    if (n == 0 || bins < 1) return 0;
    double sc[64] = {0}, sa[64] = {0};
    size_t cnt[64] = {0};
    if (bins > 64) bins = 64;
    for (size_t i = 0; i < n; i++) {
        int k = (int)(conf[i] * bins);
        if (k >= bins) k = bins - 1; /* confidence 1.0 is in the top bin */
        if (k < 0) k = 0;
        sc[k] += conf[i];
        sa[k] += correct[i] ? 1 : 0;
        cnt[k]++;
    }
    double e = 0;
    for (int k = 0; k < bins; k++)
        if (cnt[k]) e += fabs(sa[k] - sc[k]) / (double)n; /* = n_k/n * |acc_k - conf_k| */
    return e;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *sorted_copy(const double *v, size_t n)
{
    double *c = malloc((n + 1) * sizeof *c);
    if (!c) return NULL;
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    return c;
}

double calib_auroc(const double *in, size_t n_in, const double *out, size_t n_out)
{
    if (!n_in || !n_out) return 0.5;
    double *a = sorted_copy(in, n_in), *b = sorted_copy(out, n_out);
    if (!a || !b) {
        free(a);
        free(b);
        return -1;
    }
    /* for each in-scope score: out-of-scope scores below it count 1, equal ones 1/2; both
     * lists ascending, so two pointers into b walk once */
    double wins = 0;
    size_t lo = 0, hi = 0; /* b[0..lo) < x, b[0..hi) <= x */
    for (size_t i = 0; i < n_in; i++) {
        while (lo < n_out && b[lo] < a[i]) lo++;
        if (hi < lo) hi = lo;
        while (hi < n_out && b[hi] <= a[i]) hi++;
        wins += (double)lo + 0.5 * (double)(hi - lo);
    }
    free(a);
    free(b);
    return wins / ((double)n_in * (double)n_out);
}

double calib_threshold(const double *in, size_t n_in, double recall)
{
    if (!n_in) return NAN;
    double *a = sorted_copy(in, n_in);
    if (!a) return NAN;
    /* keep the top ceil(recall * n) scores: reject at most floor((1 - recall) * n) */
    size_t k = (size_t)floor((1 - recall) * (double)n_in + 1e-9);
    if (k >= n_in) k = n_in - 1;
    double t = a[k];
    free(a);
    return t;
}

double calib_accept_rate(const double *out, size_t n_out, double t)
{
    if (!n_out) return 0;
    size_t acc = 0;
    for (size_t i = 0; i < n_out; i++) acc += out[i] >= t;
    return (double)acc / (double)n_out;
}

int calib_apply(model *m, const calib_logits *c, double recall)
{
    size_t n_in = 0;
    for (size_t i = 0; i < c->n; i++) n_in += !calib_is_oos(c, i);
    if (!n_in) return MILLE_ENOTFOUND;
    double T = calib_fit_temperature(c->L, c->gold, NULL, c->n, c->I);
    double *s = malloc(n_in * sizeof *s);
    if (!s) return MILLE_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!calib_is_oos(c, i)) s[k++] = calib_score_of(c, i, T, CALIB_SCORE_PROB);
    double t = calib_threshold(s, n_in, recall);
    free(s);
    if (isnan(t)) return MILLE_ENOMEM;
    if (t < 0) t = 0; /* more than 1 - recall of the in-scope records fall in the oos class */
    m->temperature = (float)T;
    /* a float a hair below the double keeps the records at the threshold accepted */
    m->reject_below = nextafterf((float)t, 0);
    m->reject_recall = (float)recall;
    return MILLE_OK;
}
