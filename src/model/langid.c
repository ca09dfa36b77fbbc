/*
 * langid.c - the language-identification head: its features, its softmax, one SGD step
 * on its cross-entropy, and setting it on a model (langid.h has the definitions).
 *
 * What it does not do: fitting (src/train/langid_fit.c: it needs the data reader), file
 * reading and writing (modelio.c, section "langid"), or the parse without a locale
 * (src/api.c). The head is linear on purpose: the features are fixed, a few hundred wide,
 * and 600k utterances fit a 52 x F matrix in seconds; a hidden layer would buy little on
 * features this wide and cost a second kernel at inference.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "langid.h"

size_t langid_dim(const model_config *cfg, uint32_t feats)
{
    return ((feats & LANGID_FEAT_EMB) ? cfg->dim : 0) +
           ((feats & LANGID_FEAT_POOL) ? 2 * (size_t)cfg->hidden : 0);
}

static const char *const feat_names[8] = {"",      "emb",       "pool",       "emb+pool",
                                          "ngram", "ngram+emb", "ngram+pool", "ngram+emb+pool"};

const char *langid_feats_name(uint32_t feats) { return feats < 8 ? feat_names[feats] : "?"; }

uint32_t langid_feats_parse(const char *s)
{
    for (uint32_t f = 1; f < 8; f++)
        if (strcmp(s, feat_names[f]) == 0) return f;
    return 0;
}

int langid_char_split(const char *text, size_t len)
{
    int sc = text_dominant_script(text, len);
    return sc == TEXT_SCRIPT_HAN || sc == TEXT_SCRIPT_HIRAGANA || sc == TEXT_SCRIPT_KATAKANA;
}

void langid_features(const model *m, uint32_t feats, const uint32_t *f, size_t nf,
                     const float *pool, float *x)
{
    size_t D = m->cfg.dim, H = m->cfg.hidden;
    if (feats & LANGID_FEAT_EMB) {
        /* the sum in feature order, in float like the forward pass's word vectors: at most a
         * few thousand terms of rows of similar scale */
        const q8_mat *eq = &m->q8[T_EMB];
        const float *emb = model_tensor(m, T_EMB);
        memset(x, 0, D * sizeof *x);
        for (size_t k = 0; k < nf; k++) {
            size_t row = (size_t)f[k] * D;
            if (eq->q)
                q8_axpy(x, eq->scale[f[k]], eq->q + row, D);
            else if (m->emb16)
                for (size_t d = 0; d < D; d++) x[d] += model_half_to_float(m->emb16[row + d]);
            else
                for (size_t d = 0; d < D; d++) x[d] += emb[row + d];
        }
        float inv = nf ? 1.0f / (float)nf : 0.0f;
        for (size_t d = 0; d < D; d++) x[d] *= inv;
        x += D;
    }
    if (feats & LANGID_FEAT_POOL) memcpy(x, pool, 2 * H * sizeof *x);
}

/* The forward pass: hid (Q) = mean of E's rows (n-gram heads), z (K) = softmax(b + W x +
 * A hid). Returns the argmax. */
static uint32_t forward(const langid_head *h, const float *x, const uint32_t *f, size_t nf,
                        double *z, double *hid)
{
    size_t K = h->K, F = h->F, Q = h->Q;
    if (h->e) {
        for (size_t q = 0; q < Q; q++) hid[q] = 0;
        for (size_t j = 0; j < nf; j++) {
            const float *r = h->e + (size_t)(f[j] % h->R) * Q;
            for (size_t q = 0; q < Q; q++) hid[q] += r[q];
        }
        for (size_t q = 0; q < Q; q++) hid[q] /= (double)(nf ? nf : 1);
    }
    uint32_t best = 0;
    for (size_t k = 0; k < K; k++) {
        double v = h->b[k];
        if (F) {
            const float *w = h->w + k * F;
            for (size_t j = 0; j < F; j++) v += (double)w[j] * x[j];
        }
        if (h->e) {
            const float *a = h->a + k * Q;
            for (size_t q = 0; q < Q; q++) v += (double)a[q] * hid[q];
        }
        z[k] = v;
        if (v > z[best]) best = (uint32_t)k;
    }
    double mx = z[best], s = 0;
    for (size_t k = 0; k < K; k++) s += (z[k] = exp(z[k] - mx));
    for (size_t k = 0; k < K; k++) z[k] /= s;
    return best;
}

uint32_t langid_predict(const langid_head *h, const float *x, const uint32_t *f, size_t nf,
                        float *p)
{
    double z[LANGID_MAX_LOCALES], hid[LANGID_MAX_Q];
    MILLE_ASSERT(h->K >= 1 && h->K <= LANGID_MAX_LOCALES && h->Q <= LANGID_MAX_Q);
    uint32_t best = forward(h, x, f, nf, z, hid);
    if (p)
        for (size_t k = 0; k < h->K; k++) p[k] = (float)z[k];
    return best;
}

langid_head langid_params_head(const langid_params *p, uint32_t feats)
{
    langid_head h;
    memset(&h, 0, sizeof h);
    h.K = (uint32_t)p->K;
    h.F = (uint32_t)p->F;
    h.R = (uint32_t)p->R;
    h.Q = (uint32_t)p->Q;
    h.feats = feats;
    h.b = p->b;
    h.w = p->F ? p->w : NULL;
    h.e = p->R ? p->e : NULL;
    h.a = p->R ? p->a : NULL;
    return h;
}

double langid_sgd_step(langid_params *p, const float *x, const uint32_t *f, size_t nf, uint32_t y,
                       double lr, double l2, double *scratch)
{
    size_t K = p->K, F = p->F, Q = p->R ? p->Q : 0;
    double *z = scratch, *hid = z + K, *gh = hid + Q;
    langid_head h = langid_params_head(p, 0);
    MILLE_ASSERT(y < K);
    forward(&h, x, f, nf, z, hid);
    double loss = -log(z[y] > 1e-300 ? z[y] : 1e-300);
    if (lr == 0) return loss;
    /* dL/dz_k = p_k - [k == y]; dL/dhid = A^T dL/dz (with A before its step) */
    for (size_t q = 0; q < Q; q++) gh[q] = 0;
    for (size_t k = 0; k < K; k++) {
        double g = z[k] - (k == y);
        p->b[k] -= (float)(lr * g);
        float *w = p->w + k * F;
        for (size_t j = 0; j < F; j++) w[j] -= (float)(lr * (g * x[j] + l2 * w[j]));
        if (Q) {
            float *a = p->a + k * Q;
            for (size_t q = 0; q < Q; q++) {
                gh[q] += g * a[q];
                a[q] -= (float)(lr * (g * hid[q] + l2 * a[q]));
            }
        }
    }
    /* each occurrence of a row got 1/nf of hid */
    for (size_t j = 0; j < nf && Q; j++) {
        float *r = p->e + (size_t)(f[j] % p->R) * Q;
        for (size_t q = 0; q < Q; q++) r[q] -= (float)(lr * gh[q] / (double)nf);
    }
    return loss;
}

void langid_head_clear(model *m)
{
    free(m->lid.own);
    strtab_free(&m->lid.locales);
    memset(&m->lid, 0, sizeof m->lid);
}

int langid_head_set(model *m, uint32_t feats, const strtab *locales, const langid_params *p,
                    mille_error *err)
{
    size_t K = locales->n, F = langid_dim(&m->cfg, feats);
    int ngram = (feats & LANGID_FEAT_NGRAM) != 0;
    if (K < 2 || K > LANGID_MAX_LOCALES || p->K != K || p->F != F || !feats ||
        feats > LANGID_FEAT_ALL ||
        (ngram && (p->R < 1 || p->R > LANGID_MAX_ROWS || p->Q < 1 || p->Q > LANGID_MAX_Q)))
        return err_set(err, MILLE_EINVAL, "langid: %zu locales (need 2..%u), features %u", K,
                       LANGID_MAX_LOCALES, feats);
    size_t R = ngram ? p->R : 0, Q = ngram ? p->Q : 0, n = K + K * F + K * Q + R * Q;
    langid_head h;
    memset(&h, 0, sizeof h);
    h.K = (uint32_t)K;
    h.F = (uint32_t)F;
    h.R = (uint32_t)R;
    h.Q = (uint32_t)Q;
    h.feats = feats;
    if (!(h.own = malloc(n * sizeof *h.own)))
        return err_set(err, MILLE_ENOMEM, "langid: out of memory");
    for (size_t k = 0; k < K; k++)
        if (strtab_intern(&h.locales, strtab_str(locales, k), locales->lens[k]) != (int64_t)k) {
            free(h.own);
            strtab_free(&h.locales);
            return err_set(err, MILLE_EINVAL, "langid: locale %zu is a duplicate or no memory", k);
        }
    float *o = h.own;
    memcpy(o, p->b, K * sizeof *o);
    h.b = o, o += K;
    if (F) memcpy(o, p->w, K * F * sizeof *o), h.w = o, o += K * F;
    if (ngram) {
        memcpy(o, p->a, K * Q * sizeof *o), h.a = o, o += K * Q;
        memcpy(o, p->e, R * Q * sizeof *o), h.e = o;
    }
    langid_head_clear(m);
    m->lid = h;
    return MILLE_OK;
}
