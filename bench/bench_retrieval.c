/*
 * bench_retrieval.c - how shared is a model's representation across languages?
 * `bench_retrieval MODEL MASSIVE [PARTITION] [LOCALES]`: for every locale L other than
 * en-US, each en-US utterance of PARTITION (default dev) that has a translation in L (the
 * record of the same id) is a query; the candidates are all utterances of L in PARTITION;
 * the query is a hit at k when its translation is among the k nearest candidates by cosine
 * of the utterance vectors (mille_embed, unit length: cosine = dot product). Pires et al.
 * (2019, "How multilingual is multilingual BERT?") measured the same kind of nearest-
 * neighbour translation retrieval with mBERT's pooled hidden states (up to 75% top-1).
 *
 * Correctness first: en-US against itself must give (nearly) 100% top-1, or the vectors,
 * the id join or the search is wrong; the benchmark stops if it is below 90%. Only the
 * parallel ids are joined; nothing is trained, so reading dev is harmless.
 *
 * Prints one line per locale, `bench=retrieval locale=L queries=N candidates=M top1=..
 * top5=.. chance=..`, then a mean over the locales (`locale=mean`). MODEL may be an
 * ensemble, files joined by '+'. MASSIVE may be any form data_load reads.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "data.h"
#include "kern.h"
#include "mille.h"

/* The vectors of the records of one locale: (n, dim) row-major, and their record ids. */
typedef struct loc_vecs {
    float *v;
    const char **id;
    size_t n;
} loc_vecs;

static int embed_locale(mille_session *s, const data_set *ds, uint32_t loc, size_t dim,
                        loc_vecs *out)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++) n += ds->recs[i].locale == loc;
    out->v = malloc((n ? n : 1) * dim * sizeof *out->v);
    out->id = malloc((n ? n : 1) * sizeof *out->id);
    out->n = 0;
    if (!out->v || !out->id) return -1;
    mille_error err;
    for (size_t i = 0; i < ds->n; i++) {
        const data_record *r = &ds->recs[i];
        if (r->locale != loc) continue;
        if (mille_embed(s, data_str(ds, r->utt), r->utt_len, strtab_str(&ds->locales, loc),
                        out->v + out->n * dim, dim, &err) < 0) {
            fprintf(stderr, "bench_retrieval: %s:%u: %s\n", strtab_str(&ds->srcs, r->src), r->line,
                    err.msg);
            return -1;
        }
        out->id[out->n++] = data_str(ds, r->id);
    }
    return 0;
}

static void loc_free(loc_vecs *l)
{
    free(l->v);
    free((void *)l->id);
}

/* Queries q (en-US) against candidates c: counts hits at 1 and 5 over the queries whose id is
 * among the candidates. sim is scratch of (BLOCK, c->n) floats. */
enum { BLOCK = 256 };
static void retrieve(const loc_vecs *q, const loc_vecs *c, size_t dim, float *sim, size_t *queries,
                     size_t *top1, size_t *top5)
{
    *queries = *top1 = *top5 = 0;
    for (size_t q0 = 0; q0 < q->n; q0 += BLOCK) {
        size_t nq = q->n - q0 < BLOCK ? q->n - q0 : BLOCK;
        /* sim (nq, C) = Q C^T: cosines, the vectors having unit length */
        kern_gemm(0, 1, nq, c->n, dim, 1.0f, q->v + q0 * dim, dim, c->v, dim, 0.0f, sim, c->n);
        for (size_t a = 0; a < nq; a++) {
            const char *id = q->id[q0 + a];
            size_t gold = SIZE_MAX;
            for (size_t j = 0; j < c->n && gold == SIZE_MAX; j++)
                if (strcmp(c->id[j], id) == 0) gold = j;
            if (gold == SIZE_MAX) continue;
            const float *row = sim + a * c->n;
            size_t above = 0; /* candidates strictly closer than the translation */
            for (size_t j = 0; j < c->n; j++) above += row[j] > row[gold];
            (*queries)++;
            *top1 += above == 0;
            *top5 += above < 5;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_retrieval MODEL MASSIVE [PARTITION] [LOCALES]\n");
        return 2;
    }
    const char *partition = argc > 3 ? argv[3] : "dev";
    mille_error err;
    mille_model *m;
    mille_session *s;
    if (bench_load_model(argv[1], "bench_retrieval", &m, &s)) return 1;
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.mode = DATA_TEXT;
    o.partitions = partition;
    if (argc > 4) o.locales = argv[4];
    if (data_load(&ds, argv[2], &o, &err) < 0) {
        fprintf(stderr, "bench_retrieval: %s\n", err.msg);
        return 1;
    }
    size_t dim = mille_embed_dim(m), en = SIZE_MAX;
    for (size_t l = 0; l < ds.locales.n; l++)
        if (strcmp(strtab_str(&ds.locales, l), "en-US") == 0) en = l;
    if (en == SIZE_MAX) {
        fprintf(stderr, "bench_retrieval: no en-US records in %s (%s)\n", argv[2], partition);
        return 1;
    }
    loc_vecs q = {0};
    size_t maxn = 0;
    for (size_t l = 0; l < ds.locales.n; l++) {
        size_t n = 0;
        for (size_t i = 0; i < ds.n; i++) n += ds.recs[i].locale == l;
        if (n > maxn) maxn = n;
    }
    float *sim = malloc((size_t)BLOCK * (maxn ? maxn : 1) * sizeof *sim);
    double t0 = bench_now();
    if (!sim || embed_locale(s, &ds, (uint32_t)en, dim, &q) < 0) return 1;
    size_t nq, h1, h5;
    retrieve(&q, &q, dim, sim, &nq, &h1, &h5);
    double self = nq ? 100.0 * (double)h1 / (double)nq : 0;
    printf("bench=retrieval model=%s locale=en-US(self) queries=%zu top1=%.2f dim=%zu\n", argv[1],
           nq, self, dim);
    if (self < 90.0) {
        fprintf(stderr,
                "bench_retrieval: en-US finds itself only %.2f%% of the time: the vectors "
                "are broken\n",
                self);
        return 1;
    }
    double s1 = 0, s5 = 0;
    size_t n_loc = 0;
    for (size_t l = 0; l < ds.locales.n; l++) {
        if (l == en) continue;
        loc_vecs c = {0};
        if (embed_locale(s, &ds, (uint32_t)l, dim, &c) < 0) return 1;
        retrieve(&q, &c, dim, sim, &nq, &h1, &h5);
        if (nq) {
            double t1 = 100.0 * (double)h1 / (double)nq, t5 = 100.0 * (double)h5 / (double)nq;
            printf("bench=retrieval locale=%s queries=%zu candidates=%zu top1=%.2f top5=%.2f "
                   "chance=%.3f\n",
                   strtab_str(&ds.locales, l), nq, c.n, t1, t5, 100.0 / (double)c.n);
            s1 += t1, s5 += t5, n_loc++;
        }
        loc_free(&c);
        fflush(stdout);
    }
    if (n_loc)
        printf("bench=retrieval model=%s locale=mean locales=%zu partition=%s top1=%.2f top5=%.2f "
               "seconds=%.1f\n",
               argv[1], n_loc, partition, s1 / (double)n_loc, s5 / (double)n_loc, bench_now() - t0);
    loc_free(&q);
    free(sim);
    data_free(&ds);
    mille_session_free(s);
    mille_model_free(m);
    return 0;
}
