/*
 * loop.c - the training loop (see loop.h): shards and threads, reduction, clipping, AdamW
 * (Loshchilov & Hutter 2019) with lazy embedding-row updates, schedule, evaluation,
 * checkpoints, progress.
 *
 * Determinism: a step's batch is cut into LOOP_SHARDS (or --shards) fixed shards whatever the
 * thread count; threads compute shard gradients into per-shard buffers, and the main thread
 * sums them in shard order. Same seed and data = bit-identical weights for any number of
 * threads, and of processes (loop_comm, loop.h: the shards are spread over the processes and
 * summed in the same order; the chain of the dense sums and the gathered word gradients; the
 * update sharded over the processes, the gradient norm summed over fixed groups).
 * Each epoch's order is a shuffle seeded by (seed, epoch), so a checkpoint only needs the
 * step to resume exactly.
 */
#define _POSIX_C_SOURCE 200809L
#include "loop.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- processes ----------------------------------------------------------------------------- */

int loop_comm_size(const loop_comm *c) { return c ? c->size : 1; }
int loop_comm_rank(const loop_comm *c) { return c ? c->rank : 0; }

/* The agreement of every step: rc and a flag of this rank in, the lowest failing rank's code
 * and the max of the flags out, in one all-reduce of two integers. */
static int comm_agree2(const loop_comm *c, int rc, int *flag, mille_error *err)
{
    if (!c || c->size <= 1) return rc;
    /* the lowest failing rank has the largest key; its code rides in the low 32 bits */
    int64_t v[2] = {rc ? ((int64_t)(c->size - c->rank) << 32) | (int64_t)(uint32_t)(-rc) : 0,
                    flag ? *flag : 0};
    int trc = c->allreduce_i64(c->ud, v, 2, LOOP_OP_MAX);
    if (trc) return err_set(err, trc, "rank %d: the processes could not agree", c->rank);
    if (flag) *flag = (int)v[1];
    if (v[0] == 0) return MILLE_OK;
    int failed = c->size - (int)(v[0] >> 32), code = -(int)(v[0] & 0xffffffff);
    if (c->on_failure) c->on_failure(c->ud, failed);
    if (failed != c->rank) err_set(err, code, "stopped: rank %d of %d failed", failed, c->size);
    return rc ? rc : code;
}

int loop_comm_agree(const loop_comm *c, int rc, mille_error *err)
{
    return comm_agree2(c, rc, NULL, err);
}

/* transports take int counts: big buffers go in pieces of at most 1 GiB */
#define COMM_PIECE ((size_t)1 << 30)

int loop_comm_bcast(const loop_comm *c, void *buf, size_t n, int root)
{
    if (!c || c->size <= 1) return MILLE_OK;
    for (size_t o = 0; o < n; o += COMM_PIECE) {
        size_t k = n - o < COMM_PIECE ? n - o : COMM_PIECE;
        int rc = c->bcast(c->ud, (char *)buf + o, k, root);
        if (rc) return rc;
    }
    return MILLE_OK;
}

/* ---- one step ------------------------------------------------------------------------------ */

typedef struct trainer {
    const train_params *p;
    const loop_objective *obj;
    const loop_comm *comm; /* NULL: one process */
    int rank, size;
    int n_shards, s0, s1; /* all shards; this rank's are [s0, s1) */
    model *m;
    const uint32_t *order; /* this epoch's shuffled item ids */
    size_t step_start, step_len;
    uint64_t step;      /* global step number, for the dropout masks */
    uint64_t epoch;     /* of that step */
    float *mom1, *mom2; /* AdamW moments: same layout as m->p */
    float *gemb;        /* (rhi - rlo, D) gradient of this rank's rows, valid where touched */
    uint8_t *touched;   /* (B) rows this step touched (every rank's, not only its own) */
    uint32_t *rows;     /* (B) touched rows of this step, in first-touch order */
    uint16_t *owner;    /* (B) the rank that owns rows[i] */
    size_t n_rows;
    size_t dense0, n_dense;
    /* the sharded update: this rank sums, clips and updates only what it owns, the dense
     * slice [dlo, dhi) (offsets into the dense block) and the embedding rows [rlo, rhi); both
     * are unions of the SHARD_GROUPS fixed groups, [G*r/N, G*(r+1)/N) for rank r */
    size_t dlo, dhi;
    uint32_t rlo, rhi;
    size_t *dense_at;  /* (size + 1) every rank's dlo, then n_dense */
    uint32_t *row_at;  /* (size + 1) every rank's rlo, then B */
    size_t *own_rows;  /* (size) touched rows each rank owns this step */
    double *norm_part; /* (2 * SHARD_GROUPS) squared-gradient sums of the groups */
    float *red;        /* (n_dense) the dense sum on ranks > 0 (rank 0 sums into its first shard) */
    float *xbuf;       /* word gradients in transit (bytes, float-aligned) */
    size_t xcap;
    float *ybuf; /* updated embedding rows in transit */
    size_t ycap;
    double t_compute, t_wait, t_comm, t_step; /* seconds since the run started */
    double t_rows;      /* of t_comm: adding the word gradients to the embedding rows */
    double t_adds;      /* of t_rows: add_rows (reading every word gradient, summing own rows) */
    double t_update;    /* clipping and AdamW of this rank's share */
    double t_gather;    /* the norm's parts and the updated weights, all-gathered */
    double t_norm_comm; /* of this step's norm: the exchange (moved from t_update to t_gather) */
    uint64_t rows_run;  /* touched rows, summed over steps */
    uint64_t bytes;     /* bytes this rank sent */
    double expA_buf[512 * 512];
    crf_trans tr;
    loop_shard *sh; /* (n_shards) */
} trainer;

/* ---- the sharded update ----------------------------------------------------------------------
 *
 * Each rank clips and updates only its share of the parameters: a contiguous slice of the
 * dense block and a contiguous range of embedding rows (hashed rows are uniform, so a range
 * holds its share of the touched rows). Both are cut along SHARD_GROUPS fixed groups, whole
 * groups per rank, and the gradient norm is summed per group, then over the groups in
 * order: the same double additions for every process count (a per-rank partial sum would
 * depend on N). The updated weights are then all-gathered; the AdamW moments stay with
 * their owner (a checkpoint gathers them to rank 0). With one process everything is one
 * group range and nothing travels. */
#define SHARD_GROUPS LOOP_MAX_SHARDS

static size_t group_of_rank(int r, int n) { return (size_t)SHARD_GROUPS * (size_t)r / (size_t)n; }

/* first dense offset of group g of a dense block of n floats */
static size_t dense_group_at(size_t g, size_t n)
{
    return (size_t)((uint64_t)n * g / SHARD_GROUPS);
}

/* first row of group g of B rows: rows with row * G / B == g */
static uint32_t row_group_at(size_t g, size_t B)
{
    return (uint32_t)(((uint64_t)g * B + SHARD_GROUPS - 1) / SHARD_GROUPS);
}

static size_t row_group(uint32_t row, size_t B)
{
    return (size_t)((uint64_t)row * SHARD_GROUPS / B);
}

static int row_owner(const trainer *t, uint32_t row)
{
    int lo = 0, hi = t->size - 1; /* the last rank whose first row is <= row */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (t->row_at[mid] <= row)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

typedef struct worker_arg {
    trainer *tr;
    int first, stride;
} worker_arg;

static void shard_run(trainer *t, int s)
{
    loop_shard *h = &t->sh[s];
    size_t S = (size_t)t->n_shards;
    size_t a = t->step_start + t->step_len * (size_t)s / S;
    size_t e = t->step_start + t->step_len * (size_t)(s + 1) / S;
    batch_clear(&h->b);
    h->loss = 0;
    h->rc = 0;
    memset(h->g, 0, t->n_dense * sizeof *h->g);
    if (e == a) return;
    h->ws.drop = t->p->dropout;
    h->epoch = t->epoch;
    uint64_t key[3] = {t->step, t->p->seed, (uint64_t)s};
    h->ws.drop_seed = hash_bytes(key, sizeof key);
    t->obj->shard(t->obj->ud, t->m, &t->tr, h, t->order + a, e - a, 1.0f / (float)t->step_len);
    if (!h->rc && isnan(h->loss)) h->rc = MILLE_ENOMEM;
}

static void *train_worker(void *arg)
{
    worker_arg *w = arg;
    for (int s = w->tr->s0 + w->first; s < w->tr->s1; s += w->stride) shard_run(w->tr, s);
    return NULL;
}

/* A failure in the middle of an exchange cannot be agreed on (the other ranks wait inside
 * it): the whole job ends here. One process never gets here. */
static int comm_fail(trainer *t, int rc, const char *what)
{
    if (t->size > 1) {
        char msg[256];
        snprintf(msg, sizeof msg, "rank %d of %d: %s failed (%s); ending every rank", t->rank,
                 t->size, what, mille_strerror(rc));
        if (t->comm->fatal) t->comm->fatal(t->comm->ud, msg);
        fprintf(stderr, "mille: %s\n", msg);
        abort();
    }
    return rc;
}

static int send_to(trainer *t, int peer, const void *buf, size_t n)
{
    for (size_t o = 0; o < n; o += COMM_PIECE) {
        size_t k = n - o < COMM_PIECE ? n - o : COMM_PIECE;
        int rc = t->comm->send(t->comm->ud, peer, (const char *)buf + o, k);
        if (rc) return comm_fail(t, rc, "sending gradients");
    }
    t->bytes += n;
    return MILLE_OK;
}

static int recv_from(trainer *t, int peer, void *buf, size_t n)
{
    for (size_t o = 0; o < n; o += COMM_PIECE) {
        size_t k = n - o < COMM_PIECE ? n - o : COMM_PIECE;
        int rc = t->comm->recv(t->comm->ud, peer, (char *)buf + o, k);
        if (rc) return comm_fail(t, rc, "receiving gradients");
    }
    return MILLE_OK;
}

/* ---- the main thread's element-wise work, over the threads --------------------------------
 *
 * The sums of the rank's shards, the gradient norm's groups and AdamW are element-wise (or
 * per group): cutting them over the --threads changes no addition, only who makes it. Below
 * PAR_MIN elements one thread does it all (a thread start costs more). */
#define PAR_MIN ((size_t)1 << 12)

typedef void (*par_fn)(trainer *t, void *arg, size_t lo, size_t hi);

typedef struct par_arg {
    trainer *t;
    par_fn fn;
    void *arg;
    size_t lo, hi;
} par_arg;

static void *par_worker(void *v)
{
    par_arg *a = v;
    a->fn(a->t, a->arg, a->lo, a->hi);
    return NULL;
}

/* fn over [lo, hi) in up to --threads contiguous parts; cost: elements per index, to size
 * the parts' minimum */
static void par_for(trainer *t, size_t lo, size_t hi, size_t cost, par_fn fn, void *arg)
{
    size_t n = hi - lo;
    int T = t->p->threads < 1 ? 1 : t->p->threads > 64 ? 64 : t->p->threads;
    if ((size_t)T > n * cost / PAR_MIN) T = (int)(n * cost / PAR_MIN);
    if (T <= 1) {
        fn(t, arg, lo, hi);
        return;
    }
    pthread_t tid[64];
    par_arg pa[64];
    int started[64] = {0};
    for (int k = 0; k < T; k++)
        pa[k] = (par_arg){t, fn, arg, lo + n * (size_t)k / (size_t)T,
                          lo + n * (size_t)(k + 1) / (size_t)T};
    for (int k = 1; k < T; k++) started[k] = pthread_create(&tid[k], NULL, par_worker, &pa[k]) == 0;
    par_worker(&pa[0]);
    for (int k = 1; k < T; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            par_worker(&pa[k]);
    }
}

typedef struct dsum_arg {
    float *g;
    int first;
} dsum_arg;

/* g[lo..hi) += this rank's shards from `first` on, in shard order */
static void dense_sum_part(trainer *t, void *arg, size_t lo, size_t hi)
{
    dsum_arg *a = arg;
    for (int s = a->first; s < t->s1; s++) {
        const float *hg = t->sh[s].g;
        for (size_t i = lo; i < hi; i++) a->g[i] += hg[i];
    }
}

/* The last rank of the chain holds the whole sum: every other rank receives its slice. */
static int scatter_last(trainer *t, float *g)
{
    int last = t->size - 1;
    for (int r = 0; r < last; r++) {
        size_t a = t->dense_at[r], e = t->dense_at[r + 1];
        if (e == a) continue;
        if (t->rank == last && send_to(t, r, g + a, (e - a) * sizeof *g)) return -1;
        if (t->rank == r && recv_from(t, last, g + a, (e - a) * sizeof *g)) return -1;
    }
    return MILLE_OK;
}

/* The dense gradient of the whole step into the returned buffer, valid in this rank's slice
 * [dlo, dhi): the sum of every shard's gradient in shard order, passed along the chain of
 * ranks in pipelined chunks; the last rank then sends each rank its slice (a reduce-scatter
 * whose additions are the ones one process makes). */
/* The chain is a pipeline N-1 hops deep: k pieces of s bytes cost (k + N - 2) * (latency +
 * s / bandwidth), least at s = sqrt(M * latency * bandwidth / (N - 2)) for M bytes: ~70 KB
 * for the all-locale model's 2.4 MB at 16 nodes on 10 Gb/s (25 us), ~100 KB at 8, ~50 KB at
 * 32. About 2 (N-1) pieces is that size within a third (bench/mpi_scaling.py), and at
 * least 64 KiB keeps the latency from dominating; two processes send one piece (there is
 * no pipeline to fill). The piece size changes no result. */
#define DENSE_MIN_PIECE ((size_t)1 << 14) /* floats */
static float *reduce_dense(trainer *t)
{
    size_t n = t->n_dense;
    float *g = t->rank == 0 ? t->sh[t->s0].g : t->red;
    int first = t->rank == 0 ? t->s0 + 1 : t->s0; /* rank 0 starts from its first shard */
    size_t parts = t->size > 2 ? 2 * (size_t)(t->size - 1) : 1;
    size_t piece = (n + parts - 1) / parts;
    if (piece < DENSE_MIN_PIECE) piece = DENSE_MIN_PIECE;
    for (size_t a = 0; a < n; a += piece) {
        size_t e = n - a < piece ? n : a + piece;
        if (t->rank > 0 && recv_from(t, t->rank - 1, g + a, (e - a) * sizeof *g)) return NULL;
        dsum_arg da = {g, first};
        if (first < t->s1) par_for(t, a, e, 1, dense_sum_part, &da);
        if (t->rank < t->size - 1 && send_to(t, t->rank + 1, g + a, (e - a) * sizeof *g))
            return NULL;
    }
    if (t->size > 1 && scatter_last(t, g)) return NULL;
    return g;
}

/* Add the word-vector gradients dX (n_words, D) of one shard to the rows they came from (a
 * word's vector is the mean of its feature rows: word i has feats[off[i] .. off[i+1])),
 * appending rows touched for the first time. Every rank lists every touched row (it knows
 * so which rows the others will send back updated, and in which order) but sums only the
 * rows it owns: each row's sum is still the chain of additions one process makes. */
static void add_rows(trainer *t, size_t n_words, const uint32_t *off, const uint32_t *feats,
                     const float *dX)
{
    size_t D = t->m->cfg.dim;
    uint32_t rlo = t->rlo, own = t->rhi - t->rlo;
    for (size_t i = 0; i < n_words; i++) {
        uint32_t f0 = off[i], f1 = off[i + 1];
        float inv = 1.0f / (float)(f1 - f0);
        const float *dx = dX + i * D;
        for (uint32_t f = f0; f < f1; f++) {
            uint32_t row = feats[f];
            int mine = row - rlo < own; /* unsigned: rows below rlo wrap to large */
            float *gr = mine ? t->gemb + (size_t)(row - rlo) * D : NULL;
            if (!t->touched[row]) {
                int k = t->size > 1 ? row_owner(t, row) : 0;
                t->touched[row] = 1;
                t->owner[t->n_rows] = (uint16_t)k;
                t->rows[t->n_rows++] = row;
                t->own_rows[k]++;
                if (gr) memset(gr, 0, D * sizeof *gr);
            }
            if (gr)
                for (size_t d = 0; d < D; d++) gr[d] += dx[d] * inv;
        }
    }
}

/* What a shard contributes to the embedding gradient, as it travels: a head, then the
 * words' feature offsets (n_words + 1), their features (n_feats) and their vector gradients
 * (n_words, D). Much smaller than the rows it touches: a word's D floats reach ~15 rows. */
typedef struct shard_head {
    uint64_t n_words, n_feats;
    double loss;
} shard_head;

static size_t shard_bytes(size_t n_words, size_t n_feats, size_t D)
{
    return sizeof(shard_head) + (n_words + 1 + n_feats) * 4 + n_words * D * sizeof(float);
}

/* The embedding gradient (rows, gemb) and the loss of the whole step, the same on every rank
 * and the same as one process makes: every rank gathers every shard's word gradients
 * (all-gather in rank order = shard order) and adds them all up itself, shard by shard.
 * Returns the loss or NAN. */
static double reduce_rows(trainer *t)
{
    size_t D = t->m->cfg.dim;
    double loss = 0;
    if (t->size == 1) {
        for (int s = t->s0; s < t->s1; s++) {
            const batch *b = &t->sh[s].b;
            loss += t->sh[s].loss;
            double ta = clock_s();
            add_rows(t, b->n_words, b->feat_off, b->feats, t->sh[s].dX);
            t->t_adds += clock_s() - ta;
        }
        return loss;
    }
    /* this rank's shards, packed */
    size_t mine = 0;
    for (int s = t->s0; s < t->s1; s++)
        mine += shard_bytes(t->sh[s].b.n_words, t->sh[s].b.n_feats, D);
    int64_t sizes[LOOP_MAX_SHARDS] = {0}; /* bytes of each rank (size <= shards) */
    sizes[t->rank] = (int64_t)mine;
    int rc = t->comm->allreduce_i64(t->comm->ud, sizes, (size_t)t->size, LOOP_OP_SUM);
    if (rc) return comm_fail(t, rc, "exchanging sizes"), NAN;
    size_t total = 0, at = 0;
    for (int r = 0; r < t->size; r++) {
        if (r < t->rank) at += (size_t)sizes[r];
        total += (size_t)sizes[r];
    }
    if (vec_reserve((void **)&t->xbuf, &t->xcap, total / sizeof(float) + 1, sizeof(float)))
        return comm_fail(t, MILLE_ENOMEM, "gathering word gradients"), NAN;
    unsigned char *all = (unsigned char *)t->xbuf, *o = all + at;
    for (int s = t->s0; s < t->s1; s++) {
        const batch *b = &t->sh[s].b;
        shard_head h = {b->n_words, b->n_feats, t->sh[s].loss};
        static const uint32_t zero = 0; /* an empty shard's batch may have no offsets yet */
        memcpy(o, &h, sizeof h), o += sizeof h;
        memcpy(o, h.n_words ? b->feat_off : &zero, (h.n_words + 1) * 4), o += (h.n_words + 1) * 4;
        memcpy(o, b->feats, h.n_feats * 4), o += h.n_feats * 4;
        if (h.n_words) memcpy(o, t->sh[s].dX, h.n_words * D * sizeof(float));
        o += h.n_words * D * sizeof(float);
    }
    size_t counts[LOOP_MAX_SHARDS];
    for (int r = 0; r < t->size; r++) counts[r] = (size_t)sizes[r];
    if ((rc = t->comm->allgather(t->comm->ud, all + at, mine, all, counts)))
        return comm_fail(t, rc, "gathering word gradients"), NAN;
    t->bytes += mine;
    /* every shard in order, from the gathered copy (this rank's own too: one code path) */
    o = all;
    size_t B = t->m->t[T_EMB].rows;
    for (int s = 0; s < t->n_shards; s++) {
        shard_head h;
        if ((size_t)(o - all) + sizeof h > total)
            return comm_fail(t, MILLE_EFORMAT, "reading word gradients"), NAN;
        memcpy(&h, o, sizeof h);
        if (h.n_words > total || h.n_feats > total ||
            (size_t)(o - all) + shard_bytes(h.n_words, h.n_feats, D) > total)
            return comm_fail(t, MILLE_EFORMAT, "reading word gradients"), NAN;
        const uint32_t *off = (const uint32_t *)(o + sizeof h), *feats = off + h.n_words + 1;
        const float *dX = (const float *)(feats + h.n_feats);
        int ok = off[0] == 0 && off[h.n_words] == h.n_feats;
        for (size_t i = 0; i < h.n_words && ok; i++) ok = off[i] <= off[i + 1];
        for (size_t f = 0; f < h.n_feats && ok; f++) ok = feats[f] < B;
        if (!ok) return comm_fail(t, MILLE_EFORMAT, "reading word gradients"), NAN;
        loss += h.loss;
        double ta = clock_s();
        add_rows(t, h.n_words, off, feats, dX);
        t->t_adds += clock_s() - ta;
        o += shard_bytes(h.n_words, h.n_feats, D);
    }
    return loss;
}

typedef struct norm_arg {
    const float *g;
    double *part; /* indexed by group */
} norm_arg;

/* the squared sums of dense groups lo..hi, each in index order */
static void norm_dense_part(trainer *t, void *arg, size_t lo, size_t hi)
{
    norm_arg *a = arg;
    for (size_t k = lo; k < hi; k++) {
        double s = 0;
        for (size_t i = dense_group_at(k, t->n_dense); i < dense_group_at(k + 1, t->n_dense); i++)
            s += (double)a->g[i] * a->g[i];
        a->part[k] = s;
    }
}

/* The squared norm of the step's whole gradient (dense and rows), the same double on every
 * rank and for every process count: each rank sums the groups it owns (the dense in index
 * order, the rows in first-touch order: as one process visits them), the parts are
 * all-gathered in group order and summed in that order. */
static int grad_norm2(trainer *t, const float *g, double *norm2)
{
    size_t D = t->m->cfg.dim, B = t->m->t[T_EMB].rows;
    size_t g0 = group_of_rank(t->rank, t->size), g1 = group_of_rank(t->rank + 1, t->size);
    /* this rank's parts at [2 * g0, 2 * g1): its dense groups, then its row groups */
    double *dp = t->norm_part + 2 * g0, *rp = dp + (g1 - g0);
    norm_arg na = {g, dp - g0};
    par_for(t, g0, g1, t->n_dense / SHARD_GROUPS + 1, norm_dense_part, &na);
    for (size_t k = g0; k < g1; k++) rp[k - g0] = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        if (t->owner[r] != t->rank) continue;
        const float *v = t->gemb + (size_t)(t->rows[r] - t->rlo) * D;
        double *s = &rp[row_group(t->rows[r], B) - g0];
        for (size_t d = 0; d < D; d++) *s += (double)v[d] * v[d];
    }
    if (t->size > 1) {
        double tn = clock_s();
        size_t counts[LOOP_MAX_SHARDS];
        for (int k = 0; k < t->size; k++)
            counts[k] =
                2 * (group_of_rank(k + 1, t->size) - group_of_rank(k, t->size)) * sizeof(double);
        int rc = t->comm->allgather(t->comm->ud, dp, counts[t->rank], t->norm_part, counts);
        if (rc) return comm_fail(t, rc, "gathering the gradient norm");
        t->bytes += counts[t->rank];
        t->t_norm_comm += clock_s() - tn;
    }
    double s = 0; /* every dense group in order, then every row group */
    for (int k = 0; k < t->size; k++) {
        size_t a = group_of_rank(k, t->size), e = group_of_rank(k + 1, t->size);
        for (size_t j = 0; j < e - a; j++) s += t->norm_part[2 * a + j];
    }
    for (int k = 0; k < t->size; k++) {
        size_t a = group_of_rank(k, t->size), e = group_of_rank(k + 1, t->size);
        for (size_t j = 0; j < e - a; j++) s += t->norm_part[2 * a + (e - a) + j];
    }
    *norm2 = s;
    return MILLE_OK;
}

typedef struct adamw_arg {
    const float *g;
    float gscale, lr, elr;
    double c1, c2;
} adamw_arg;

static void adamw_dense(trainer *t, void *arg, size_t lo, size_t hi)
{
    const adamw_arg *a = arg;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const float wd = t->p->weight_decay; /* float * float, as ever: the same roundings */
    float *w = t->m->p;
    for (size_t i = lo; i < hi; i++) {
        size_t k = t->dense0 + i;
        float gi = a->g[i] * a->gscale;
        t->mom1[k] = (float)(b1 * t->mom1[k] + (1 - b1) * gi);
        t->mom2[k] = (float)(b2 * t->mom2[k] + (1 - b2) * (double)gi * gi);
        double upd = (t->mom1[k] / a->c1) / (sqrt(t->mom2[k] / a->c2) + eps);
        w[k] -= (float)(a->lr * (upd + wd * w[k]));
    }
}

/* rows[lo..hi) of the step's touched rows, those this rank owns */
static void adamw_rows(trainer *t, void *arg, size_t lo, size_t hi)
{
    const adamw_arg *a = arg;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const float wd = t->p->weight_decay; /* float * float, as ever: the same roundings */
    size_t D = t->m->cfg.dim;
    float *w = t->m->p;
    for (size_t r = lo; r < hi; r++) {
        if (t->owner[r] != t->rank) continue;
        size_t base = (size_t)t->rows[r] * D;
        const float *gr = t->gemb + (size_t)(t->rows[r] - t->rlo) * D;
        for (size_t d = 0; d < D; d++) {
            size_t k = base + d;
            float gi = gr[d] * a->gscale;
            t->mom1[k] = (float)(b1 * t->mom1[k] + (1 - b1) * gi);
            t->mom2[k] = (float)(b2 * t->mom2[k] + (1 - b2) * (double)gi * gi);
            double upd = (t->mom1[k] / a->c1) / (sqrt(t->mom2[k] / a->c2) + eps);
            w[k] -= (float)(a->elr * (upd + wd * w[k]));
        }
    }
}

/* AdamW on this rank's share: its dense slice and the touched rows it owns (lazily: the
 * moments of a row change only in the steps that touch it), over the threads. Element-wise,
 * so neither the share nor the threads change a value. */
static void adamw(trainer *t, const float *g, float gscale, uint64_t step, double lr_scale)
{
    const train_params *p = t->p;
    adamw_arg a = {g,
                   gscale,
                   (float)(p->lr * lr_scale),
                   (float)(p->emb_lr * lr_scale),
                   1 - pow(0.9, (double)step),
                   1 - pow(0.999, (double)step)};
    par_for(t, t->dlo, t->dhi, 1, adamw_dense, &a);
    /* a row is D elements, and this rank's about one in size of them */
    par_for(t, 0, t->n_rows, t->m->cfg.dim / (size_t)t->size + 1, adamw_rows, &a);
}

/* Every rank's updated weights to every rank: the dense slices in place (they are
 * contiguous in rank order), then the touched rows each rank owns, values only: every rank
 * listed every touched row with its owner (add_rows), so it knows which rows arrive in
 * which order. */
static int gather_weights(trainer *t)
{
    if (t->size == 1) return MILLE_OK;
    size_t D = t->m->cfg.dim;
    float *w = t->m->p;
    size_t counts[LOOP_MAX_SHARDS], at[LOOP_MAX_SHARDS + 1];
    for (int k = 0; k < t->size; k++)
        counts[k] = (t->dense_at[k + 1] - t->dense_at[k]) * sizeof(float);
    float *dense = w + t->dense0;
    int rc = t->comm->allgather(t->comm->ud, dense + t->dlo, counts[t->rank], dense, counts);
    if (rc) return comm_fail(t, rc, "gathering the updated weights");
    t->bytes += counts[t->rank];
    at[0] = 0;
    for (int k = 0; k < t->size; k++) at[k + 1] = at[k] + t->own_rows[k] * D;
    if (vec_reserve((void **)&t->ybuf, &t->ycap, at[t->size] + 1, sizeof(float)))
        return comm_fail(t, MILLE_ENOMEM, "gathering the updated rows");
    float *mine = t->ybuf + at[t->rank];
    for (size_t r = 0; r < t->n_rows; r++)
        if (t->owner[r] == t->rank) {
            memcpy(mine, w + (size_t)t->rows[r] * D, D * sizeof *mine);
            mine += D;
        }
    for (int k = 0; k < t->size; k++) counts[k] = (at[k + 1] - at[k]) * sizeof(float);
    rc = t->comm->allgather(t->comm->ud, t->ybuf + at[t->rank], counts[t->rank], t->ybuf, counts);
    if (rc) return comm_fail(t, rc, "gathering the updated rows");
    t->bytes += counts[t->rank];
    for (size_t r = 0; r < t->n_rows; r++) { /* each rank's rows, in its order */
        int k = t->owner[r];
        if (k != t->rank) memcpy(w + (size_t)t->rows[r] * D, t->ybuf + at[k], D * sizeof *w);
        at[k] += D;
    }
    return MILLE_OK;
}

/* One optimizer step on order[start .. start+len). *over in: this rank wants to stop (time
 * budget); out: some rank does. Returns the summed loss, or NAN with *rc set. */
static double train_step(trainer *t, size_t start, size_t len, uint64_t step, double lr_scale,
                         int *over, int *rc, mille_error *err)
{
    const train_params *p = t->p;
    model *m = t->m;
    t->step_start = start;
    t->step_len = len;
    t->step = step;
    double tc0 = clock_s();
    crf_prepare(&t->tr, model_tensor(m, T_TRANS), m->cfg.n_slots);
    int n_local = t->s1 - t->s0;
    int T = p->threads < 1 ? 1 : p->threads > n_local ? n_local : p->threads;
    if (T > LOOP_MAX_SHARDS) T = LOOP_MAX_SHARDS;
    pthread_t tid[LOOP_MAX_SHARDS];
    worker_arg wa[LOOP_MAX_SHARDS];
    int started[LOOP_MAX_SHARDS] = {0};
    for (int k = 1; k < T; k++) {
        wa[k] = (worker_arg){t, k, T};
        started[k] = pthread_create(&tid[k], NULL, train_worker, &wa[k]) == 0;
    }
    wa[0] = (worker_arg){t, 0, T};
    train_worker(&wa[0]);
    for (int k = 1; k < T; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            train_worker(&wa[k]);
    }
    int lrc = 0;
    for (int s = t->s0; s < t->s1 && !lrc; s++) lrc = t->sh[s].rc;
    double tc1 = clock_s();
    t->t_compute += tc1 - tc0;
    /* every rank has its shards (or a failure): agree before anything travels */
    if ((*rc = comm_agree2(t->comm, lrc, over, err))) {
        if (*rc == lrc)
            err_set(err, lrc, "train: step %llu failed (out of memory or diverged)",
                    (unsigned long long)step);
        return NAN;
    }
    double tc2 = clock_s();
    t->t_wait += tc2 - tc1;
    /* reduce in shard order: dense along the chain, embedding rows into gemb */
    float *g = reduce_dense(t);
    double tc3 = clock_s();
    double loss = g ? reduce_rows(t) : NAN;
    t->t_comm += clock_s() - tc2;
    t->t_rows += clock_s() - tc3;
    if (isnan(loss)) {
        *rc = err_set(err, MILLE_ENOMEM, "train: step %llu failed (out of memory or diverged)",
                      (unsigned long long)step);
        return NAN;
    }
    t->rows_run += t->n_rows;
    double tc4 = clock_s();
    float gscale = 1;
    if (p->clip > 0) {
        double norm2 = 0; /* set by grad_norm2 on success; gcc -O1 with TSan cannot tell */
        if ((*rc = grad_norm2(t, g, &norm2))) return NAN;
        if (sqrt(norm2) > p->clip) gscale = (float)(p->clip / sqrt(norm2));
    }
    adamw(t, g, gscale, step, lr_scale);
    double tc5 = clock_s();
    if ((*rc = gather_weights(t))) return NAN;
    for (size_t r = 0; r < t->n_rows; r++) t->touched[t->rows[r]] = 0;
    t->n_rows = 0;
    memset(t->own_rows, 0, (size_t)t->size * sizeof *t->own_rows);
    double tc6 = clock_s();
    t->t_update += tc5 - tc4 - t->t_norm_comm;
    t->t_gather += tc6 - tc5 + t->t_norm_comm;
    t->t_norm_comm = 0;
    t->t_step += tc6 - tc0;
    return loss;
}

/* ---- checkpoints --------------------------------------------------------------------------- */

/* Checkpoint: "MILLECKP", u32 version, u32 reserved, u64 fingerprint of the run's settings,
 * u64 step, f64 best_em, i32 evals_since_best, i32 pad, then params, moment 1, moment 2 and
 * the best params so far (n_params floats each), then u32 CRC-32 of everything before. */
#define CKPT_VERSION 1u

typedef struct ckpt_head {
    char magic[8];
    uint32_t version, reserved;
    uint64_t fingerprint, step;
    double best_em;
    int32_t since_best, pad;
} ckpt_head;

static int ckpt_save(const char *path, const ckpt_head *h, const float *const blocks[4], size_t n,
                     mille_error *err)
{
    size_t bytes = sizeof *h + 4 * n * sizeof(float) + 4;
    unsigned char *buf = malloc(bytes);
    if (!buf) return err_set(err, MILLE_ENOMEM, "checkpoint: out of memory");
    memcpy(buf, h, sizeof *h);
    for (int k = 0; k < 4; k++) memcpy(buf + sizeof *h + (size_t)k * n * 4, blocks[k], n * 4);
    uint32_t crc = file_crc32(buf, bytes - 4);
    memcpy(buf + bytes - 4, &crc, 4);
    int rc = file_write_atomic(path, buf, bytes, err);
    free(buf);
    return rc;
}

/* The checks of ckpt_load on a checkpoint image buf[0..len) (a separate function for the
 * fuzzer, which passes verify_crc = 0 to reach the later checks). */
static int ckpt_from_memory(const unsigned char *buf, size_t len, int verify_crc, const char *path,
                            ckpt_head *h, float *const blocks[4], size_t n, uint64_t fingerprint,
                            mille_error *err)
{
    size_t want = sizeof *h + 4 * n * sizeof(float) + 4;
    int rc = MILLE_EFORMAT;
    if (len != want)
        return err_set(err, rc, "%s: checkpoint is %zu bytes, expected %zu for this model", path,
                       len, want);
    memcpy(h, buf, sizeof *h);
    uint32_t crc;
    memcpy(&crc, buf + len - 4, 4);
    if (memcmp(h->magic, "MILLECKP", 8) != 0 || h->version != CKPT_VERSION)
        return err_set(err, rc, "%s: not a mille checkpoint of version %u", path, CKPT_VERSION);
    if (verify_crc && file_crc32(buf, len - 4) != crc)
        return err_set(err, rc, "%s: checkpoint checksum mismatch (file corrupt)", path);
    if (h->fingerprint != fingerprint)
        return err_set(err, MILLE_EINVAL,
                       "%s: checkpoint is from a run with other data or settings", path);
    for (int k = 0; k < 4; k++) memcpy(blocks[k], buf + sizeof *h + (size_t)k * n * 4, n * 4);
    return MILLE_OK;
}

int loop_ckpt_check(const unsigned char *buf, size_t len, size_t n, uint64_t fingerprint,
                    float *const blocks[4], uint64_t *step, mille_error *err)
{
    ckpt_head h;
    int rc = ckpt_from_memory(buf, len, 0, "<memory>", &h, blocks, n, fingerprint, err);
    if (!rc) *step = h.step;
    return rc;
}

static int ckpt_load(const char *path, ckpt_head *h, float *const blocks[4], size_t n,
                     uint64_t fingerprint, mille_error *err)
{
    /* the size is checked (fstat) before a byte is read (audit 2026-12 #14) */
    size_t want = sizeof *h + 4 * n * sizeof(float) + 4, len;
    void *buf;
    int rc = file_read_regular(path, want, 0, &buf, &len, err);
    if (rc == MILLE_ERANGE)
        return err_set(err, MILLE_EFORMAT,
                       "%s: checkpoint is larger than the %zu bytes expected for this model", path,
                       want);
    if (rc) return rc;
    rc = ckpt_from_memory(buf, len, 1, path, h, blocks, n, fingerprint, err);
    free(buf);
    return rc;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void trainer_free(trainer *t)
{
    if (!t) return;
    for (int s = 0; s < t->n_shards && t->sh; s++) {
        if (t->obj->shard_free) t->obj->shard_free(t->obj->ud, &t->sh[s]);
        batch_free(&t->sh[s].b);
        model_ws_free(&t->sh[s].ws);
        free(t->sh[s].g);
        free(t->sh[s].dX);
    }
    free(t->sh);
    free(t->mom1);
    free(t->mom2);
    free(t->gemb);
    free(t->touched);
    free(t->rows);
    free(t->owner);
    free(t->dense_at);
    free(t->row_at);
    free(t->own_rows);
    free(t->norm_part);
    free(t->red);
    free(t->xbuf);
    free(t->ybuf);
    free(t);
}

/* The AdamW moments of every rank's share to rank 0, for a checkpoint (collective): each
 * rank's dense slice and embedding row range, whole (a row's moments are its owner's, touched
 * this step or not). Not counted in the bytes per step. */
static int gather_moments(trainer *t)
{
    if (t->size == 1) return MILLE_OK;
    size_t D = t->m->cfg.dim;
    uint64_t bytes = t->bytes;
    for (int k = 1; k < t->size; k++) {
        if (t->rank != 0 && t->rank != k) continue;
        size_t da = t->dense0 + t->dense_at[k], dn = t->dense_at[k + 1] - t->dense_at[k];
        size_t ra = (size_t)t->row_at[k] * D, rn = (size_t)(t->row_at[k + 1] - t->row_at[k]) * D;
        float *const mom[2] = {t->mom1, t->mom2};
        for (int j = 0; j < 2; j++) {
            int rc = t->rank == 0 ? recv_from(t, k, mom[j] + da, dn * sizeof(float))
                                  : send_to(t, 0, mom[j] + da, dn * sizeof(float));
            if (!rc)
                rc = t->rank == 0 ? recv_from(t, k, mom[j] + ra, rn * sizeof(float))
                                  : send_to(t, 0, mom[j] + ra, rn * sizeof(float));
            if (rc) return rc;
        }
    }
    t->bytes = bytes;
    return MILLE_OK;
}

/* The state every rank starts from: rank 0 reads the checkpoint, the others receive it. */
static int resume_state(trainer *t, const char *path, uint64_t fp, float *best, ckpt_head *h,
                        mille_error *err)
{
    model *m = t->m;
    float *const blocks[4] = {m->p, t->mom1, t->mom2, best};
    int rc = t->rank == 0 ? ckpt_load(path, h, blocks, m->n_params, fp, err) : MILLE_OK;
    if ((rc = loop_comm_agree(t->comm, rc, err))) return rc;
    if ((rc = loop_comm_bcast(t->comm, h, sizeof *h, 0))) return rc;
    for (int k = 0; k < 4 && !rc; k++)
        rc = loop_comm_bcast(t->comm, blocks[k], m->n_params * sizeof(float), 0);
    return rc ? err_set(err, rc, "rank %d: receiving the checkpoint failed", t->rank) : MILLE_OK;
}

int loop_run(const train_params *p, model *mp, const loop_objective *obj, uint64_t fp,
             const char *ckpt_path, double t0, eval_metrics *best_dev, mille_error *err)
{
    model *m = mp;
    const loop_comm *comm = p->comm && p->comm->size > 1 ? p->comm : NULL;
    size_t n_train = obj->n_items;
    int rc = MILLE_OK;
    trainer *t = calloc(1, sizeof *t);
    float *best = malloc(m->n_params * sizeof *best);
    uint32_t *order = malloc((n_train + 1) * sizeof *order);
    int n_shards = p->shards > 0 ? p->shards : LOOP_SHARDS;
    if (!t || !best || !order) {
        free(t);
        t = NULL;
        rc = err_set(err, MILLE_ENOMEM, "train: out of memory");
        goto agree;
    }
    t->p = p, t->obj = obj, t->m = m, t->order = order, t->comm = comm;
    t->rank = loop_comm_rank(comm), t->size = loop_comm_size(comm);
    if (n_train == 0) {
        rc = err_set(err, MILLE_ENOTFOUND, "train: nothing to train on");
        goto agree;
    }
    if (n_shards > LOOP_MAX_SHARDS || n_shards < t->size) {
        rc = err_set(err, MILLE_EINVAL,
                     "train: %d shards for %d processes: need processes <= shards <= %d", n_shards,
                     t->size, LOOP_MAX_SHARDS);
        goto agree;
    }
    /* the shards are part of the result; the default keeps the fingerprints of old runs */
    if (n_shards != LOOP_SHARDS) fp = hash_more(fp, &n_shards, sizeof n_shards);
    t->n_shards = n_shards;
    t->s0 = n_shards * t->rank / t->size;
    t->s1 = n_shards * (t->rank + 1) / t->size;
    t->dense0 = m->t[T_W1].off;
    t->n_dense = m->n_params - t->dense0;
    size_t B = m->t[T_EMB].rows;
    t->dense_at = malloc(((size_t)t->size + 1) * sizeof *t->dense_at);
    t->row_at = malloc(((size_t)t->size + 1) * sizeof *t->row_at);
    t->own_rows = calloc((size_t)t->size, sizeof *t->own_rows);
    t->norm_part = malloc(2 * SHARD_GROUPS * sizeof *t->norm_part);
    if (t->dense_at && t->row_at)
        for (int k = 0; k <= t->size; k++) {
            t->dense_at[k] = dense_group_at(group_of_rank(k, t->size), t->n_dense);
            t->row_at[k] = row_group_at(group_of_rank(k, t->size), B);
        }
    t->dlo = t->dense_at ? t->dense_at[t->rank] : 0;
    t->dhi = t->dense_at ? t->dense_at[t->rank + 1] : 0;
    t->rlo = t->row_at ? t->row_at[t->rank] : 0;
    t->rhi = t->row_at ? t->row_at[t->rank + 1] : 0;
    t->sh = calloc((size_t)n_shards, sizeof *t->sh);
    t->mom1 = calloc(m->n_params, sizeof *t->mom1);
    t->mom2 = calloc(m->n_params, sizeof *t->mom2);
    t->gemb = malloc(((size_t)(t->rhi - t->rlo) * m->cfg.dim + 1) * sizeof *t->gemb);
    t->touched = calloc(B, 1);
    t->rows = malloc((B + 1) * sizeof *t->rows);
    t->owner = malloc((B + 1) * sizeof *t->owner);
    t->red = t->rank > 0 ? malloc(t->n_dense * sizeof *t->red) : NULL;
    t->tr.expA = t->expA_buf;
    int oom = !t->sh || !t->mom1 || !t->mom2 || !t->gemb || !t->touched || !t->rows || !t->owner ||
              !t->dense_at || !t->row_at || !t->own_rows || !t->norm_part ||
              (t->rank > 0 && !t->red);
    for (int s = t->s0; s < t->s1 && !oom; s++)
        oom = !(t->sh[s].g = malloc(t->n_dense * sizeof(float)));
    if (oom) {
        rc = err_set(err, MILLE_ENOMEM, "train: out of memory for optimizer state");
        goto agree;
    }
    memcpy(best, m->p, m->n_params * sizeof *best);
    if (comm) { /* every rank must run the same data and settings: rank 0's fingerprint */
        uint64_t fp0 = fp;
        if ((rc = loop_comm_bcast(comm, &fp0, sizeof fp0, 0)))
            rc = err_set(err, rc, "rank %d: the processes could not agree", t->rank);
        else if (fp0 != fp)
            rc = err_set(err, MILLE_EINVAL,
                         "rank %d: its data or settings differ from rank 0's (give every "
                         "process the same arguments and files)",
                         t->rank);
    }
agree:
    if ((rc = loop_comm_agree(comm, rc, err))) goto out;

    uint64_t steps_per_epoch = (n_train + (size_t)p->batch - 1) / (size_t)p->batch;
    uint64_t total = steps_per_epoch * (uint64_t)p->epochs, step = 0;
    double best_em = -1;
    int since_best = 0;
    if (p->resume) {
        ckpt_head h;
        if ((rc = resume_state(t, ckpt_path, fp, best, &h, err))) goto out;
        step = h.step;
        best_em = h.best_em;
        since_best = h.since_best;
    }
    uint64_t eval_every =
        steps_per_epoch / (uint64_t)(p->evals_per_epoch > 0 ? p->evals_per_epoch : 1);
    if (eval_every == 0) eval_every = 1;
    uint64_t warmup = total / 50 < 1000 ? total / 50 : 1000;
    double loss_sum = 0, last_report = clock_s(), t_train0 = clock_s();
    uint64_t loss_n = 0, utts = 0, step0 = step;
    int64_t cur_epoch = -1;
    train_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.dev_em = -1;
    pr.best_dev_em = best_em;
    pr.epochs = p->epochs;
    pr.total_steps = total;
    eval_metrics best_metrics;
    memset(&best_metrics, 0, sizeof best_metrics);
    int stop = 0;
    while (step < total && !stop) {
        int64_t epoch = (int64_t)(step / steps_per_epoch);
        if (epoch != cur_epoch) {
            for (size_t i = 0; i < n_train; i++) order[i] = (uint32_t)i;
            shuffle_u32(order, n_train, p->seed * 1000003u + (uint64_t)epoch);
            cur_epoch = epoch;
            t->epoch = (uint64_t)epoch;
        }
        size_t start = (size_t)(step % steps_per_epoch) * (size_t)p->batch;
        size_t len = n_train - start < (size_t)p->batch ? n_train - start : (size_t)p->batch;
        step++;
        double frac = (double)step / (double)total;
        double lr_scale =
            (step <= warmup && warmup ? (double)step / (double)warmup : 1.0) * (1.0 - 0.9 * frac);
        /* the time budget is decided with the step's agreement: every rank stops together */
        int over = p->time_budget > 0 && clock_s() - t0 >= p->time_budget;
        double loss = train_step(t, start, len, step, lr_scale, &over, &rc, err);
        if (rc) goto out;
        if (isnan(loss) || isinf(loss)) {
            rc = err_set(err, MILLE_ENOMEM, "train: step %llu failed (out of memory or diverged)",
                         (unsigned long long)step);
            goto out;
        }
        loss_sum += loss;
        loss_n += len;
        utts += len;
        double tnow = clock_s();
        if (p->stop_after && step >= p->stop_after) over = 1;
        if (p->stop_after_epochs && step >= (uint64_t)p->stop_after_epochs * steps_per_epoch)
            over = 1;
        int do_eval = step % eval_every == 0 || step == total || over;
        if (do_eval) {
            eval_metrics em;
            memset(&em, 0, sizeof em);
            /* collective: every rank evaluates its share of the dev set */
            if (obj->evaluate && (rc = obj->evaluate(obj->ud, m, &em, err))) goto out;
            /* without dev data the last model is the one kept */
            double score = obj->evaluate ? em.exact_match : (double)step;
            if (score > best_em) {
                best_em = score;
                best_metrics = em;
                since_best = 0;
                memcpy(best, m->p, m->n_params * sizeof *best);
            } else {
                since_best++;
            }
            pr.dev_em = em.exact_match;
            pr.dev = em;
            pr.best_dev_em = obj->evaluate ? best_em : -1;
            pr.evaluated = 1;
            ckpt_head h = {"MILLECKP", CKPT_VERSION, 0, fp, step, best_em, since_best, 0};
            const float *const blocks[4] = {m->p, t->mom1, t->mom2, best};
            /* every rank holds the same weights, and rank 0 the moments now: it writes the
             * state (atomically) */
            if ((rc = gather_moments(t))) goto out;
            if (t->rank == 0) rc = ckpt_save(ckpt_path, &h, blocks, m->n_params, err);
            if ((rc = loop_comm_agree(comm, rc, err))) goto out;
            if (obj->evaluate && since_best >= p->patience) stop = 1;
            if (over) stop = 1;
        }
        if (do_eval || tnow - last_report >= 0.5 || step == total) {
            pr.step = step;
            pr.epoch = (int)(step / steps_per_epoch) + (step % steps_per_epoch ? 1 : 0);
            pr.loss = loss_n ? loss_sum / (double)loss_n : 0;
            pr.elapsed_s = tnow - t0;
            pr.utt_per_s = (double)utts / (tnow - t_train0);
            double rate = (double)(step - step0) / (tnow - t_train0);
            pr.eta_s = rate > 0 ? (double)(total - step) / rate : 0;
            if (p->time_budget > 0 && p->time_budget - pr.elapsed_s < pr.eta_s)
                pr.eta_s = p->time_budget - pr.elapsed_s > 0 ? p->time_budget - pr.elapsed_s : 0;
            pr.compute_s = t->t_compute;
            pr.wait_s = t->t_wait;
            pr.comm_s = t->t_comm;
            pr.comm_bytes = t->bytes;
            pr.steps_run = step - step0;
            pr.step_s = t->t_step;
            pr.rows_s = t->t_rows;
            pr.rows_run = t->rows_run;
            pr.update_s = t->t_update;
            pr.adds_s = t->t_adds;
            pr.gather_s = t->t_gather;
            pr.n_dense = t->n_dense;
            /* every rank reports (its own step times); a caller prints rank 0's */
            if (p->progress) p->progress(p->ud, &pr);
            pr.evaluated = 0;
            last_report = tnow;
            loss_sum = 0;
            loss_n = 0;
        }
    }
    memcpy(m->p, best, m->n_params * sizeof *best);
    if (best_dev) *best_dev = best_metrics;
out:
    trainer_free(t);
    free(best);
    free(order);
    return rc;
}
