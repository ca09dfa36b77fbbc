/*
 * langid_fit.c - fit the language-identification head of a trained model (langid.h) with
 * the model frozen: collect each utterance's features once, then plain SGD one utterance at
 * a time with a linearly decaying step, as fastText trains (Joulin et al. 2017), the dense
 * features standardized (and the standardization folded into W at the end), the epoch
 * chosen by dev accuracy.
 *
 * What it does not do: train the model's own tensors (the intent and slot predictions of
 * the model stay exactly as they were), or use threads (features of 700k utterances take
 * about a minute on one core, an epoch of SGD seconds), which keeps it deterministic for a
 * seed without more care. The n-gram table starts at uniform(-1/Q, 1/Q) and the rest at
 * zero, fastText's initialization.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "langid_fit.h"

#define LANGID_FWD_BATCH 128 /* utterances per forward pass while collecting */

void langid_set_free(langid_set *s)
{
    free(s->X);
    free(s->ids);
    free(s->ioff);
    free(s->y);
    memset(s, 0, sizeof *s);
}

langid_fit_opts langid_fit_default_opts(void)
{
    langid_fit_opts o = {LANGID_FEAT_NGRAM, 1u << 15, 16, 5, 0.2, 0, 1, 0, 0};
    return o;
}

/* ---- features ------------------------------------------------------------------------------ */

int langid_collect(const model *m, uint32_t feats, const data_set *ds, const uint32_t *idx,
                   size_t n, const strtab *labels, langid_set *out, mille_error *err)
{
    memset(out, 0, sizeof *out);
    size_t F = langid_dim(&m->cfg, feats), H = m->cfg.hidden;
    out->F = F;
    batch b = {0};
    model_ws ws = {0};
    feat_scratch fsc = {0};
    annot_scratch asc = {0};
    annot_word *words = NULL;
    uint32_t *f = NULL, *fo = NULL, *lab = NULL;
    size_t cap_w = 0, cap_f = 0, cap_fo = 0, cap_ids = 0, F1 = F ? F : 1;
    int rc = MILLE_OK;
    uint32_t *yl = malloc((ds->locales.n + 1) * sizeof *yl);
    out->X = malloc((n * F1 + 1) * sizeof *out->X);
    out->y = malloc((n + 1) * sizeof *out->y);
    out->ioff = malloc((n + 1) * sizeof *out->ioff);
    lab = malloc((LANGID_FWD_BATCH + 1) * sizeof *lab);
    if (!yl || !out->X || !out->y || !out->ioff || !lab) {
        rc = err_set(err, MILLE_ENOMEM, "langid: out of memory for %zu utterances", n);
        goto done;
    }
    out->ioff[0] = 0;
    for (size_t l = 0; l < ds->locales.n; l++) {
        int64_t id = strtab_find(labels, strtab_str(&ds->locales, l), ds->locales.lens[l]);
        yl[l] = id < 0 ? UINT32_MAX : (uint32_t)id;
    }
    for (size_t i = 0; i < n;) {
        batch_clear(&b);
        for (; i < n && b.n_utt < LANGID_FWD_BATCH; i++) {
            const data_record *r = &ds->recs[idx[i]];
            if (yl[r->locale] == UINT32_MAX) continue;
            const char *text = data_str(ds, r->utt);
            size_t len = r->utt_len;
            if (vec_reserve((void **)&words, &cap_w, len + 1, sizeof *words) ||
                vec_reserve((void **)&fo, &cap_fo, len + 2, sizeof *fo)) {
                rc = err_set(err, MILLE_ENOMEM, "langid: out of memory");
                goto done;
            }
            int nw = annot_words(text, len, langid_char_split(text, len), words, &asc, err);
            if (nw < 0) {
                rc = nw;
                goto done;
            }
            if (nw == 0) continue;
            size_t nf = 0;
            if ((rc = model_utt_features(&m->cfg, text, words, sizeof *words, (size_t)nw, &fsc, &f,
                                         &nf, &cap_f, fo, err)))
                goto done;
            if (batch_add(&b, f, fo, (size_t)nw, 0, NULL)) {
                rc = err_set(err, MILLE_ENOMEM, "langid: out of memory");
                goto done;
            }
            lab[b.n_utt - 1] = yl[r->locale];
        }
        if (b.n_utt == 0) continue;
        if ((feats & LANGID_FEAT_POOL) && model_forward(m, &b, &ws)) {
            rc = err_set(err, MILLE_ENOMEM, "langid: out of memory in the forward pass");
            goto done;
        }
        for (size_t u = 0; u < b.n_utt; u++) {
            uint32_t f0 = b.feat_off[b.utt_off[u]], f1 = b.feat_off[b.utt_off[u + 1]];
            langid_features(m, feats, b.feats + f0, f1 - f0,
                            (feats & LANGID_FEAT_POOL) ? ws.P + u * 2 * H : NULL,
                            out->X + out->n * F);
            uint64_t o = out->ioff[out->n];
            if (feats & LANGID_FEAT_NGRAM) {
                if (vec_reserve((void **)&out->ids, &cap_ids, o + (f1 - f0) + 1,
                                sizeof *out->ids)) {
                    rc = err_set(err, MILLE_ENOMEM, "langid: out of memory");
                    goto done;
                }
                memcpy(out->ids + o, b.feats + f0, (f1 - f0) * sizeof *out->ids);
                o += f1 - f0;
            }
            out->ioff[out->n + 1] = o;
            out->y[out->n++] = lab[u];
        }
    }
done:
    if (rc) langid_set_free(out);
    free(yl);
    free(lab);
    free(words);
    free(f);
    free(fo);
    batch_free(&b);
    model_ws_free(&ws);
    feat_scratch_free(&fsc);
    annot_scratch_free(&asc);
    return rc;
}

/* ---- fit ----------------------------------------------------------------------------------- */

/* Utterance i's feature ids (NULL when the set has none: no arithmetic on NULL). */
static const uint32_t *ids_of(const langid_set *s, size_t i)
{
    return s->ids ? s->ids + s->ioff[i] : NULL;
}

/* Accuracy of the head h on set s. */
static double accuracy(const langid_head *h, const langid_set *s)
{
    size_t ok = 0;
    for (size_t i = 0; i < s->n; i++)
        ok += langid_predict(h, s->X + i * s->F, ids_of(s, i), s->ioff[i + 1] - s->ioff[i], NULL) ==
              s->y[i];
    return s->n ? (double)ok / (double)s->n : 0;
}

/* The indices of ds's records in partition `part` (at most per_locale per locale when
 * per_locale > 0, the first in file order). */
static uint32_t *partition_idx(const data_set *ds, const char *part, size_t per_locale, size_t *n)
{
    int64_t p = strtab_find(&ds->partitions, part, strlen(part));
    uint32_t *idx = malloc((ds->n + 1) * sizeof *idx);
    size_t *cnt = calloc(ds->locales.n + 1, sizeof *cnt);
    *n = 0;
    if (!idx || !cnt) {
        free(idx);
        free(cnt);
        return NULL;
    }
    for (size_t i = 0; i < ds->n && p >= 0; i++) {
        const data_record *r = &ds->recs[i];
        if (r->partition != (uint32_t)p) continue;
        if (per_locale && cnt[r->locale] >= per_locale) continue;
        cnt[r->locale]++;
        idx[(*n)++] = (uint32_t)i;
    }
    free(cnt);
    return idx;
}

int langid_fit(model *m, const data_set *ds, const langid_fit_opts *o, langid_fit_info *info,
               mille_error *err)
{
    memset(info, 0, sizeof *info);
    strtab labels = {0};
    langid_set tr = {0}, dv = {0};
    size_t n_tr = 0, n_dv = 0;
    uint32_t *itr = partition_idx(ds, "train", o->per_locale, &n_tr);
    uint32_t *idv = partition_idx(ds, "dev", 0, &n_dv);
    float *W = NULL, *best = NULL;
    double *mu = NULL, *sd = NULL, *pk = NULL;
    uint32_t *order = NULL;
    int rc = MILLE_OK;
    if (!itr || !idv) {
        rc = err_set(err, MILLE_ENOMEM, "langid: out of memory");
        goto done;
    }
    /* the labels: the locales of the training records, in ds's order */
    {
        uint8_t *seen = calloc(ds->locales.n + 1, 1);
        if (!seen) {
            rc = err_set(err, MILLE_ENOMEM, "langid: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n_tr; i++) seen[ds->recs[itr[i]].locale] = 1;
        for (size_t l = 0; l < ds->locales.n; l++)
            if (seen[l] && ds->locales.lens[l] &&
                strtab_intern(&labels, strtab_str(&ds->locales, l), ds->locales.lens[l]) < 0) {
                free(seen);
                rc = err_set(err, MILLE_ENOMEM, "langid: out of memory");
                goto done;
            }
        free(seen);
    }
    if (labels.n < 2 || labels.n > LANGID_MAX_LOCALES) {
        rc = err_set(err, MILLE_EINVAL,
                     "langid: the training partition has %zu locales (need 2..%u): records "
                     "need \"locale\" and \"partition\": \"train\"",
                     labels.n, LANGID_MAX_LOCALES);
        goto done;
    }
    if (n_dv == 0) {
        rc = err_set(err, MILLE_EINVAL, "langid: no records in partition \"dev\" to choose on");
        goto done;
    }
    double t0 = clock_s();
    if ((rc = langid_collect(m, o->feats, ds, itr, n_tr, &labels, &tr, err)) ||
        (rc = langid_collect(m, o->feats, ds, idv, n_dv, &labels, &dv, err)))
        goto done;
    info->t_features = clock_s() - t0;
    info->n_train = tr.n;
    info->n_dev = dv.n;
    if (o->verbose)
        fprintf(stderr, "langid: features of %zu train + %zu dev utterances in %.1f s\n", tr.n,
                dv.n, info->t_features);
    int ngram = (o->feats & LANGID_FEAT_NGRAM) != 0;
    size_t K = labels.n, F = tr.F, R = ngram ? o->rows : 0, Q = ngram ? o->width : 0;
    size_t np = K + K * F + K * Q + R * Q;
    /* standardize every dense feature (mean 0, deviation 1 on train): the embedding mean and
     * the pooled activations differ in scale by orders of magnitude, which one step size
     * would otherwise have to serve both */
    mu = calloc(F + 1, sizeof *mu);
    sd = calloc(F + 1, sizeof *sd);
    pk = malloc((K + 2 * Q) * sizeof *pk);
    W = calloc(np, sizeof *W);
    best = calloc(np, sizeof *best);
    order = malloc((tr.n + 1) * sizeof *order);
    if (!mu || !sd || !pk || !W || !best || !order) {
        rc = err_set(err, MILLE_ENOMEM, "langid: out of memory");
        goto done;
    }
    for (size_t i = 0; i < tr.n; i++)
        for (size_t j = 0; j < F; j++) mu[j] += tr.X[i * F + j];
    for (size_t j = 0; j < F; j++) mu[j] /= (double)(tr.n ? tr.n : 1);
    for (size_t i = 0; i < tr.n; i++)
        for (size_t j = 0; j < F; j++) {
            double d = tr.X[i * F + j] - mu[j];
            sd[j] += d * d;
        }
    for (size_t j = 0; j < F; j++) {
        sd[j] = sqrt(sd[j] / (double)(tr.n ? tr.n : 1));
        if (sd[j] < 1e-8) sd[j] = 1; /* a constant feature (a dead unit): leave it as it is */
    }
    for (langid_set *s = &tr; s; s = s == &tr ? &dv : NULL)
        for (size_t i = 0; i < s->n; i++)
            for (size_t j = 0; j < F; j++)
                s->X[i * F + j] = (float)((s->X[i * F + j] - mu[j]) / sd[j]);
    langid_params P = {K, F, R, Q, W, W + K, W + K + K * F, W + K + K * F + K * Q};
    {
        rng r;
        rng_seed(&r, o->seed);
        for (size_t j = 0; j < R * Q; j++) P.e[j] = (float)((2 * rng_uniform(&r) - 1) / (double)Q);
    }
    t0 = clock_s();
    size_t steps = tr.n * (size_t)o->epochs, step = 0;
    info->dev_acc = -1;
    for (int ep = 0; ep < o->epochs; ep++) {
        for (size_t i = 0; i < tr.n; i++) order[i] = (uint32_t)i;
        shuffle_u32(order, tr.n, o->seed + (uint64_t)ep);
        double loss = 0;
        for (size_t k = 0; k < tr.n; k++, step++) {
            size_t i = order[k];
            double lr = o->lr * (1.0 - (double)step / (double)steps);
            loss += langid_sgd_step(&P, tr.X + i * F, ids_of(&tr, i), tr.ioff[i + 1] - tr.ioff[i],
                                    tr.y[i], lr, o->l2, pk);
        }
        langid_head h = langid_params_head(&P, o->feats);
        double acc = accuracy(&h, &dv);
        if (o->verbose)
            fprintf(stderr, "langid: epoch %d: train loss %.4f, dev accuracy %.4f (%.1f s)\n",
                    ep + 1, loss / (double)(tr.n ? tr.n : 1), acc, clock_s() - t0);
        if (acc > info->dev_acc) {
            info->dev_acc = acc;
            info->best_epoch = ep + 1;
            memcpy(best, W, np * sizeof *W);
        }
    }
    info->t_fit = clock_s() - t0;
    /* fold the standardization in: w'_kj = w_kj / sd_j, b'_k = b_k - sum_j w_kj mu_j / sd_j */
    langid_params B = {K, F, R, Q, best, best + K, best + K + K * F, best + K + K * F + K * Q};
    for (size_t k = 0; k < K; k++) {
        double bb = B.b[k];
        for (size_t j = 0; j < F; j++) {
            double w = B.w[k * F + j] / sd[j];
            bb -= w * mu[j];
            B.w[k * F + j] = (float)w;
        }
        B.b[k] = (float)bb;
    }
    rc = langid_head_set(m, o->feats, &labels, &B, err);
done:
    free(itr);
    free(idv);
    free(W);
    free(best);
    free(order);
    free(mu);
    free(sd);
    free(pk);
    strtab_free(&labels);
    langid_set_free(&tr);
    langid_set_free(&dv);
    return rc;
}

long langid_confusions(const model *m, const data_set *ds, const uint32_t *idx, size_t n,
                       uint64_t *conf, mille_error *err)
{
    const langid_head *h = &m->lid;
    if (!h->K) return err_set(err, MILLE_EINVAL, "the model has no language-identification head");
    langid_set s;
    int rc = langid_collect(m, h->feats, ds, idx, n, &h->locales, &s, err);
    if (rc) return rc;
    memset(conf, 0, (size_t)h->K * h->K * sizeof *conf);
    for (size_t i = 0; i < s.n; i++)
        conf[(size_t)s.y[i] * h->K +
             langid_predict(h, s.X + i * s.F, ids_of(&s, i), s.ioff[i + 1] - s.ioff[i], NULL)]++;
    long cnt = (long)s.n;
    langid_set_free(&s);
    return cnt;
}
