/*
 * oos_feat.c - experiment (not part of mille): out-of-scope scores from the encoder's pooled
 * features instead of the intent head's output, on the leave-intents-out split of
 * bench/oos.sh. Fits, on the training records, one Gaussian per intent with a shared
 * covariance over the pooled [mean; max] features (2H), and scores a dev utterance by
 *   maha:     - min over intents of the Mahalanobis distance (Lee et al. 2018)
 *   relmaha:  - (that minimum - the distance to one Gaussian of all training features)
 *             ("relative Mahalanobis", Ren et al. 2021, meant for near-OOD)
 * and prints AUROC and the false-accept rate at 95% in-scope recall, mean over locales.
 *
 * build: cc -O2 -Iinclude -Isrc -Isrc/text -Isrc/data -Isrc/model -Isrc/train \
 *          $(pkg-config --cflags openblas) dev/oos_feat.c build/libmille.a <mille's LDLIBS>
 * usage: oos_feat MODEL TRAIN_DATA DEV_DATA
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "kern.h"
#include "train.h"

/* Pooled features (n, D) of records idx[0..n) of ds; gold intent ids in the model. */
static float *pooled(const model *m, const data_set *ds, const uint32_t *idx, size_t n,
                     uint32_t *gold)
{
    size_t D = 2 * m->cfg.hidden;
    featset fs = {0};
    mille_error e;
    if (featset_build(&fs, ds, &m->cfg, 2, &e)) return NULL;
    float *X = malloc(n * D * sizeof *X);
    uint32_t *smap = calloc(ds->slots.n + 1, sizeof *smap);
    int *tag = malloc(4096 * sizeof *tag);
    batch b = {0};
    model_ws ws = {0};
    size_t done = 0;
    for (size_t i = 0; i < n;) {
        batch_clear(&b);
        size_t u0 = done;
        for (; i < n && b.n_utt < 256; i++) {
            const data_record *r = &ds->recs[idx[i]];
            train_batch_add(&b, ds, &fs, idx[i], NULL, smap, tag);
            int64_t g = strtab_find(&m->intents, strtab_str(&ds->intents, r->intent),
                                    ds->intents.lens[r->intent]);
            gold[done++] = g < 0 ? CALIB_OOS : (uint32_t)g;
        }
        model_forward(m, &b, &ws);
        memcpy(X + u0 * D, ws.P, b.n_utt * D * sizeof *X);
    }
    free(smap);
    free(tag);
    batch_free(&b);
    model_ws_free(&ws);
    featset_free(&fs);
    return X;
}

/* In place: A (D, D) symmetric positive definite -> its inverse, by Cholesky. */
static int invert(double *A, size_t D)
{
    double *L = calloc(D * D, sizeof *L), *I = calloc(D * D, sizeof *I);
    for (size_t j = 0; j < D; j++) {
        double s = A[j * D + j];
        for (size_t k = 0; k < j; k++) s -= L[j * D + k] * L[j * D + k];
        if (s <= 0) return -1;
        L[j * D + j] = sqrt(s);
        for (size_t i = j + 1; i < D; i++) {
            double t = A[i * D + j];
            for (size_t k = 0; k < j; k++) t -= L[i * D + k] * L[j * D + k];
            L[i * D + j] = t / L[j * D + j];
        }
    }
    /* columns of the inverse: solve L L^T x = e_c */
    double *y = malloc(D * sizeof *y);
    for (size_t c = 0; c < D; c++) {
        for (size_t i = 0; i < D; i++) {
            double t = i == c;
            for (size_t k = 0; k < i; k++) t -= L[i * D + k] * y[k];
            y[i] = t / L[i * D + i];
        }
        for (size_t i = D; i-- > 0;) {
            double t = y[i];
            for (size_t k = i + 1; k < D; k++) t -= L[k * D + i] * I[k * D + c];
            I[i * D + c] = t / L[i * D + i];
        }
    }
    memcpy(A, I, D * D * sizeof *A);
    free(L), free(I), free(y);
    return 0;
}

/* Gaussian(s): means mu (K, D), shared precision P (D, D) from X (n, D) with labels lab
 * (K = 1 and lab NULL: one Gaussian). */
static void fit(const float *X, const uint32_t *lab, size_t n, size_t D, size_t K, double *mu,
                double *P)
{
    size_t *cnt = calloc(K, sizeof *cnt);
    memset(mu, 0, K * D * sizeof *mu);
    memset(P, 0, D * D * sizeof *P);
    for (size_t i = 0; i < n; i++) {
        size_t k = lab ? lab[i] : 0;
        cnt[k]++;
        for (size_t d = 0; d < D; d++) mu[k * D + d] += X[i * D + d];
    }
    for (size_t k = 0; k < K; k++)
        for (size_t d = 0; d < D; d++) mu[k * D + d] /= cnt[k] ? (double)cnt[k] : 1;
    double *v = malloc(D * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        size_t k = lab ? lab[i] : 0;
        for (size_t d = 0; d < D; d++) v[d] = X[i * D + d] - mu[k * D + d];
        for (size_t a = 0; a < D; a++)
            for (size_t c = 0; c <= a; c++) P[a * D + c] += v[a] * v[c];
    }
    double tr = 0;
    for (size_t a = 0; a < D; a++)
        for (size_t c = 0; c <= a; c++) {
            P[a * D + c] /= (double)n;
            P[c * D + a] = P[a * D + c];
        }
    for (size_t a = 0; a < D; a++) tr += P[a * D + a];
    for (size_t a = 0; a < D; a++) P[a * D + a] += 1e-3 * tr / (double)D; /* ridge */
    invert(P, D);
    free(v), free(cnt);
}

static double maha(const float *x, const double *mu, const double *P, size_t D, double *v)
{
    for (size_t d = 0; d < D; d++) v[d] = x[d] - mu[d];
    double s = 0;
    for (size_t a = 0; a < D; a++) {
        double t = 0;
        for (size_t c = 0; c < D; c++) t += P[a * D + c] * v[c];
        s += v[a] * t;
    }
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: oos_feat MODEL TRAIN_DATA DEV_DATA\n");
        return 2;
    }
    kern_init();
    model m;
    mille_error e;
    data_set tr = {0}, dv = {0};
    data_opts o = data_default_opts();
    o.mode = DATA_GOLD;
    if (model_load(&m, argv[1], &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    o.partitions = "train";
    if (data_load(&tr, argv[2], &o, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    o.partitions = "dev";
    if (data_load(&dv, argv[3], &o, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    size_t D = 2 * m.cfg.hidden, K = m.cfg.n_intents;
    uint32_t *ti = malloc(tr.n * sizeof *ti), *di = malloc(dv.n * sizeof *di);
    size_t nt = 0, nd = 0;
    for (size_t i = 0; i < tr.n; i++)
        if (tr.recs[i].n_words) ti[nt++] = (uint32_t)i;
    for (size_t i = 0; i < dv.n; i++)
        if (dv.recs[i].n_words) di[nd++] = (uint32_t)i;
    uint32_t *tg = malloc(nt * sizeof *tg), *dg = malloc(nd * sizeof *dg);
    float *Xt = pooled(&m, &tr, ti, nt, tg), *Xd = pooled(&m, &dv, di, nd, dg);
    fprintf(stderr, "features: %zu train, %zu dev, D %zu\n", nt, nd, D);
    double *mu = malloc(K * D * sizeof *mu), *P = malloc(D * D * sizeof *P);
    double *mu0 = malloc(D * sizeof *mu0), *P0 = malloc(D * D * sizeof *P0);
    fit(Xt, tg, nt, D, K, mu, P);
    fit(Xt, NULL, nt, D, 1, mu0, P0);
    double *s1 = malloc(nd * sizeof *s1), *s2 = malloc(nd * sizeof *s2), *v = malloc(D * 8);
    /* d_k = x'Px - 2 mu_k'Px + mu_k'P mu_k: one product P x per utterance */
    double *c = malloc(K * sizeof *c), *y = malloc(D * sizeof *y);
    for (size_t k = 0; k < K; k++) {
        double t = 0;
        for (size_t a = 0; a < D; a++) {
            double u = 0;
            for (size_t b = 0; b < D; b++) u += P[a * D + b] * mu[k * D + b];
            t += mu[k * D + a] * u;
        }
        c[k] = t;
    }
    for (size_t i = 0; i < nd; i++) {
        const float *x = Xd + i * D;
        double xpx = 0;
        for (size_t a = 0; a < D; a++) {
            double u = 0;
            for (size_t b = 0; b < D; b++) u += P[a * D + b] * x[b];
            y[a] = u;
            xpx += x[a] * u;
        }
        double best = INFINITY;
        for (size_t k = 0; k < K; k++) {
            double t = 0;
            for (size_t a = 0; a < D; a++) t += mu[k * D + a] * y[a];
            double d = xpx - 2 * t + c[k];
            if (d < best) best = d;
        }
        s1[i] = -best;
        s2[i] = -(best - maha(Xd + i * D, mu0, P0, D, v));
    }
    double *in = malloc(nd * sizeof *in), *out = malloc(nd * sizeof *out);
    const char *name[2] = {"maha", "relmaha"};
    for (int s = 0; s < 2; s++) {
        double au = 0, far = 0;
        size_t nl = 0;
        for (size_t l = 0; l < dv.locales.n; l++) {
            size_t ni = 0, no = 0;
            for (size_t i = 0; i < nd; i++) {
                if (dv.recs[di[i]].locale != l) continue;
                double x = s ? s2[i] : s1[i];
                if (dg[i] == CALIB_OOS)
                    out[no++] = x;
                else
                    in[ni++] = x;
            }
            if (!ni || !no) continue;
            au += calib_auroc(in, ni, out, no);
            far += calib_accept_rate(out, no, calib_threshold(in, ni, 0.95));
            nl++;
        }
        printf("%-8s AUROC %.2f  FAR@95 %.2f  (mean over %zu locales)\n", name[s],
               100 * au / (double)nl, 100 * far / (double)nl, nl);
    }
    return 0;
}
