/*
 * train.c - training loop for model.c: data and features, deterministic data-parallel
 * gradient computation, AdamW (Loshchilov & Hutter 2019) with lazy updates of embedding
 * rows, dev evaluation for model selection and early stopping, checkpoints.
 *
 * Determinism: a step's batch is cut into TRAIN_SHARDS fixed shards whatever the thread
 * count; threads compute shard gradients into per-shard buffers, and the main thread sums
 * them in shard order. Same seed and data = bit-identical weights for any number of threads.
 * Each epoch's order is a shuffle seeded by (seed, epoch), so a checkpoint only needs the
 * step to resume exactly.
 */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crf.h"
#include "kern.h"

#define TRAIN_SHARDS 8

train_params train_default_params(void)
{
    train_params p;
    memset(&p, 0, sizeof p);
    p.cfg = model_default_config();
    p.epochs = 8;
    p.batch = 64;
    p.lr = 2e-3f;
    p.emb_lr = 1e-2f;
    p.weight_decay = 0.01f;
    p.clip = 5.0f;
    p.dropout = 0.2f;
    p.threads = 2;
    p.seed = 1;
    p.patience = 3;
    p.evals_per_epoch = 1;
    p.half = 1;
    return p;
}

/* ---- features ------------------------------------------------------------------------------ */

typedef struct feat_job {
    const data_set *ds;
    const model_config *cfg;
    size_t r0, r1; /* records */
    uint32_t *feats;
    size_t n, cap;
    uint32_t *count; /* (ds->n_words) features per word, for the words of r0..r1 */
    int rc;
    mille_error err;
} feat_job;

static void *feat_worker(void *arg)
{
    feat_job *j = arg;
    feat_scratch sc = {0};
    uint32_t *off = NULL;
    size_t cap_off = 0;
    for (size_t r = j->r0; r < j->r1 && !j->rc; r++) {
        const data_record *rec = &j->ds->recs[r];
        if (vec_reserve((void **)&off, &cap_off, rec->n_words + 1, sizeof *off)) {
            j->rc = err_set(&j->err, MILLE_ENOMEM, "features: out of memory");
            break;
        }
        int rc = model_utt_features(j->cfg, data_str(j->ds, rec->utt), j->ds->words + rec->word0,
                                    sizeof(data_word), rec->n_words, &sc, &j->feats, &j->n, &j->cap,
                                    off, &j->err);
        if (rc) {
            j->rc = rc;
            break;
        }
        for (uint32_t k = 0; k < rec->n_words; k++) j->count[rec->word0 + k] = off[k + 1] - off[k];
    }
    free(off);
    feat_scratch_free(&sc);
    return NULL;
}

int featset_build(featset *fs, const data_set *ds, const model_config *cfg, int threads,
                  mille_error *err)
{
    memset(fs, 0, sizeof *fs);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    feat_job jobs[64];
    pthread_t tid[64];
    int started[64] = {0};
    uint32_t *count = calloc(ds->n_words + 1, sizeof *count);
    fs->off = malloc((ds->n_words + 1) * sizeof *fs->off);
    if (!count || !fs->off) {
        free(count);
        free(fs->off);
        return err_set(err, MILLE_ENOMEM, "features: out of memory");
    }
    for (int t = 0; t < threads; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].ds = ds;
        jobs[t].cfg = cfg;
        jobs[t].r0 = ds->n * (size_t)t / (size_t)threads;
        jobs[t].r1 = ds->n * (size_t)(t + 1) / (size_t)threads;
        jobs[t].count = count;
        /* a thread that cannot be started does its share on this thread instead */
        started[t] = t && pthread_create(&tid[t], NULL, feat_worker, &jobs[t]) == 0;
        if (t && !started[t]) feat_worker(&jobs[t]);
    }
    feat_worker(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (started[t]) pthread_join(tid[t], NULL);
    int rc = MILLE_OK;
    size_t total = 0;
    for (int t = 0; t < threads; t++) {
        if (jobs[t].rc && !rc) {
            rc = jobs[t].rc;
            if (err) *err = jobs[t].err;
        }
        total += jobs[t].n;
    }
    if (!rc && total >= UINT32_MAX) rc = err_set(err, MILLE_ERANGE, "features: too many");
    if (!rc && !(fs->feats = malloc((total + 1) * sizeof *fs->feats)))
        rc = err_set(err, MILLE_ENOMEM, "features: out of memory");
    if (!rc) {
        /* threads cover records in order, and records' words are in order: concatenate */
        size_t o = 0;
        for (int t = 0; t < threads; t++) {
            memcpy(fs->feats + o, jobs[t].feats, jobs[t].n * sizeof *fs->feats);
            o += jobs[t].n;
        }
        uint32_t acc = 0;
        for (size_t w = 0; w < ds->n_words; w++) {
            fs->off[w] = acc;
            acc += count[w];
        }
        fs->off[ds->n_words] = acc;
        fs->n = total;
    }
    for (int t = 0; t < threads; t++) free(jobs[t].feats);
    free(count);
    if (rc) featset_free(fs);
    return rc;
}

void featset_free(featset *fs)
{
    free(fs->feats);
    free(fs->off);
    memset(fs, 0, sizeof *fs);
}

/* Append record r of ds (its words' features) to batch b. */
static int batch_add_record(batch *b, const data_set *ds, const featset *fs, size_t r,
                            const uint32_t *intent_map, const uint32_t *slot_map, int *tagbuf)
{
    const data_record *rec = &ds->recs[r];
    for (uint32_t k = 0; k < rec->n_words; k++) {
        uint32_t l = ds->words[rec->word0 + k].label;
        tagbuf[k] = (int)(slot_map ? slot_map[l] : l);
    }
    uint32_t intent = intent_map ? intent_map[rec->intent] : rec->intent;
    return batch_add(b, fs->feats, fs->off + rec->word0, rec->n_words, intent, tagbuf);
}

/* ---- prediction over records --------------------------------------------------------------- */

typedef struct pred_job {
    const model *m;
    const data_set *ds;
    const featset *fs;
    const uint32_t *idx;
    size_t i0, i1;
    const uint32_t *intent_map, *slot_map;
    eval_acc acc;
    int want_acc;
    uint32_t *intents;
    int *tags;
    int rc;
} pred_job;

#define PRED_BATCH 128

static void *pred_worker(void *arg)
{
    pred_job *j = arg;
    batch b = {0};
    model_ws ws = {0};
    int *tagbuf = NULL, *out = NULL;
    uint32_t *gl = NULL, *pl = NULL;
    size_t cap_t = 0, cap_o = 0, cap_gl = 0, cap_pl = 0;
    uint32_t bi[PRED_BATCH];
    for (size_t i = j->i0; i < j->i1 && !j->rc;) {
        batch_clear(&b);
        size_t n = 0;
        for (; i < j->i1 && n < PRED_BATCH; i++) {
            const data_record *rec = &j->ds->recs[j->idx[i]];
            if (rec->n_words == 0) { /* nothing to tag: an empty utterance */
                if (j->intents) j->intents[i] = 0;
                continue;
            }
            if (vec_reserve((void **)&tagbuf, &cap_t, rec->n_words, sizeof *tagbuf) ||
                batch_add_record(&b, j->ds, j->fs, j->idx[i], j->intent_map, j->slot_map, tagbuf)) {
                j->rc = MILLE_ENOMEM;
                break;
            }
            bi[n++] = (uint32_t)i;
        }
        if (j->rc || n == 0) continue;
        if (model_forward(j->m, &b, &ws) ||
            vec_reserve((void **)&out, &cap_o, b.n_words, sizeof *out)) {
            j->rc = MILLE_ENOMEM;
            break;
        }
        uint32_t intents[PRED_BATCH];
        model_decode(j->m, &b, &ws, intents, NULL, out);
        for (size_t u = 0; u < n; u++) {
            size_t pos = bi[u];
            const data_record *rec = &j->ds->recs[j->idx[pos]];
            size_t a = b.utt_off[u], T = b.utt_off[u + 1] - a;
            if (j->intents) j->intents[pos] = intents[u];
            if (j->tags) memcpy(j->tags + rec->word0, out + a, T * sizeof *out);
            if (j->want_acc) {
                if (vec_reserve((void **)&gl, &cap_gl, T, sizeof *gl) ||
                    vec_reserve((void **)&pl, &cap_pl, T, sizeof *pl)) {
                    j->rc = MILLE_ENOMEM;
                    break;
                }
                for (size_t k = 0; k < T; k++) {
                    gl[k] = (uint32_t)b.tags[a + k];
                    pl[k] = (uint32_t)out[a + k];
                }
                if (eval_add(&j->acc, rec->locale, b.intent[u], intents[u], gl, T, pl, T))
                    j->rc = MILLE_ENOMEM;
            }
        }
    }
    free(tagbuf);
    free(out);
    free(gl);
    free(pl);
    batch_free(&b);
    model_ws_free(&ws);
    return NULL;
}

int predict_records(const model *m, const data_set *ds, const featset *fs, const uint32_t *idx,
                    size_t n, int threads, const uint32_t *intent_map, const uint32_t *slot_map,
                    eval_acc *acc, uint32_t *intents, int *tags)
{
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pred_job jobs[64];
    pthread_t tid[64];
    int started[64] = {0};
    for (int t = 0; t < threads; t++) {
        pred_job *j = &jobs[t];
        memset(j, 0, sizeof *j);
        j->m = m, j->ds = ds, j->fs = fs, j->idx = idx;
        j->i0 = n * (size_t)t / (size_t)threads;
        j->i1 = n * (size_t)(t + 1) / (size_t)threads;
        j->intent_map = intent_map, j->slot_map = slot_map;
        j->want_acc = acc != NULL;
        j->intents = intents, j->tags = tags;
        if (t) started[t] = pthread_create(&tid[t], NULL, pred_worker, j) == 0;
    }
    pred_worker(&jobs[0]);
    int rc = jobs[0].rc;
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            pred_worker(&jobs[t]);
        if (!rc) rc = jobs[t].rc;
    }
    for (int t = 0; t < threads; t++) {
        if (acc && !rc && eval_merge(acc, &jobs[t].acc)) rc = MILLE_ENOMEM;
        eval_acc_free(&jobs[t].acc);
    }
    return rc;
}

/* ---- training state ------------------------------------------------------------------------ */

typedef struct shard {
    batch b;
    model_ws ws;
    float *g;  /* (n_dense) dense gradient */
    float *dX; /* (N, D) */
    size_t dX_cap;
    int *tagbuf;
    size_t tag_cap;
    double loss;
    int rc;
} shard;

typedef struct trainer {
    const train_params *p;
    model *m;
    const data_set *ds;
    const featset *fs;
    const uint32_t *order; /* this epoch's shuffled training record ids */
    size_t step_start, step_len;
    uint64_t step;      /* global step number, for the dropout masks */
    float *mom1, *mom2; /* AdamW moments: same layout as m->p */
    float *gemb;        /* (B, D) embedding gradient rows, valid where touched */
    uint8_t *touched;   /* (B) */
    uint32_t *rows;     /* touched rows of this step, in first-touch order */
    size_t n_rows, cap_rows;
    size_t dense0, n_dense;
    double expA_buf[512 * 512];
    crf_trans tr;
    shard sh[TRAIN_SHARDS];
} trainer;

typedef struct worker_arg {
    trainer *tr;
    int first, stride;
} worker_arg;

static void shard_run(trainer *t, int s)
{
    shard *h = &t->sh[s];
    const model_config *c = &t->m->cfg;
    size_t a = t->step_start + t->step_len * (size_t)s / TRAIN_SHARDS;
    size_t e = t->step_start + t->step_len * (size_t)(s + 1) / TRAIN_SHARDS;
    batch_clear(&h->b);
    h->loss = 0;
    h->rc = 0;
    memset(h->g, 0, t->n_dense * sizeof *h->g);
    for (size_t i = a; i < e; i++) {
        const data_record *rec = &t->ds->recs[t->order[i]];
        if (vec_reserve((void **)&h->tagbuf, &h->tag_cap, rec->n_words + 1, sizeof *h->tagbuf) ||
            batch_add_record(&h->b, t->ds, t->fs, t->order[i], NULL, NULL, h->tagbuf)) {
            h->rc = MILLE_ENOMEM;
            return;
        }
    }
    if (h->b.n_utt == 0) return;
    h->ws.drop = t->p->dropout;
    uint64_t key[3] = {t->step, t->p->seed, (uint64_t)s};
    h->ws.drop_seed = hash_bytes(key, sizeof key);
    if (vec_reserve((void **)&h->dX, &h->dX_cap, h->b.n_words * c->dim, sizeof *h->dX) ||
        model_forward(t->m, &h->b, &h->ws)) {
        h->rc = MILLE_ENOMEM;
        return;
    }
    h->loss = model_backward(t->m, &h->b, &h->ws, &t->tr, 1.0f / (float)t->step_len, h->g, h->dX);
    if (isnan(h->loss)) h->rc = MILLE_ENOMEM;
}

static void *train_worker(void *arg)
{
    worker_arg *w = arg;
    for (int s = w->first; s < TRAIN_SHARDS; s += w->stride) shard_run(w->tr, s);
    return NULL;
}

/* One optimizer step on order[start .. start+len). Returns the summed loss, or NAN. */
static double train_step(trainer *t, size_t start, size_t len, uint64_t step, double lr_scale)
{
    const train_params *p = t->p;
    model *m = t->m;
    size_t D = m->cfg.dim;
    t->step_start = start;
    t->step_len = len;
    t->step = step;
    crf_prepare(&t->tr, model_tensor(m, T_TRANS), m->cfg.n_slots);
    int T = p->threads < 1 ? 1 : p->threads > TRAIN_SHARDS ? TRAIN_SHARDS : p->threads;
    pthread_t tid[TRAIN_SHARDS];
    worker_arg wa[TRAIN_SHARDS];
    int started[TRAIN_SHARDS] = {0};
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
    /* reduce in shard order: dense into shard 0's buffer, embedding rows into gemb */
    double loss = 0;
    float *g = t->sh[0].g;
    for (int s = 0; s < TRAIN_SHARDS; s++) {
        shard *h = &t->sh[s];
        if (h->rc) return NAN;
        loss += h->loss;
        if (s)
            for (size_t i = 0; i < t->n_dense; i++) g[i] += h->g[i];
        const batch *b = &h->b;
        for (size_t i = 0; i < b->n_words; i++) {
            uint32_t f0 = b->feat_off[i], f1 = b->feat_off[i + 1];
            float inv = 1.0f / (float)(f1 - f0);
            for (uint32_t f = f0; f < f1; f++) {
                uint32_t row = b->feats[f];
                float *gr = t->gemb + (size_t)row * D;
                if (!t->touched[row]) {
                    t->touched[row] = 1;
                    if (vec_reserve((void **)&t->rows, &t->cap_rows, t->n_rows + 1,
                                    sizeof *t->rows))
                        return NAN;
                    t->rows[t->n_rows++] = row;
                    memset(gr, 0, D * sizeof *gr);
                }
                const float *dx = h->dX + i * D;
                for (size_t d = 0; d < D; d++) gr[d] += dx[d] * inv;
            }
        }
    }
    /* global norm clipping */
    double norm2 = 0;
    for (size_t i = 0; i < t->n_dense; i++) norm2 += (double)g[i] * g[i];
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t d = 0; d < D; d++) {
            float v = t->gemb[(size_t)t->rows[r] * D + d];
            norm2 += (double)v * v;
        }
    float gscale = 1;
    if (p->clip > 0 && sqrt(norm2) > p->clip) gscale = (float)(p->clip / sqrt(norm2));
    /* AdamW; embedding rows lazily (only rows this step touched) */
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1 - pow(b1, (double)step), c2 = 1 - pow(b2, (double)step);
    float lr = (float)(p->lr * lr_scale), elr = (float)(p->emb_lr * lr_scale);
    float *w = m->p;
    for (size_t i = 0; i < t->n_dense; i++) {
        size_t k = t->dense0 + i;
        float gi = g[i] * gscale;
        t->mom1[k] = (float)(b1 * t->mom1[k] + (1 - b1) * gi);
        t->mom2[k] = (float)(b2 * t->mom2[k] + (1 - b2) * (double)gi * gi);
        double upd = (t->mom1[k] / c1) / (sqrt(t->mom2[k] / c2) + eps);
        w[k] -= (float)(lr * (upd + p->weight_decay * w[k]));
    }
    for (size_t r = 0; r < t->n_rows; r++) {
        size_t base = (size_t)t->rows[r] * D;
        for (size_t d = 0; d < D; d++) {
            size_t k = base + d;
            float gi = t->gemb[k] * gscale;
            t->mom1[k] = (float)(b1 * t->mom1[k] + (1 - b1) * gi);
            t->mom2[k] = (float)(b2 * t->mom2[k] + (1 - b2) * (double)gi * gi);
            double upd = (t->mom1[k] / c1) / (sqrt(t->mom2[k] / c2) + eps);
            w[k] -= (float)(elr * (upd + p->weight_decay * w[k]));
        }
        t->touched[t->rows[r]] = 0;
    }
    t->n_rows = 0;
    return loss;
}

/* ---- checkpoints --------------------------------------------------------------------------- */

/* Checkpoint: "MILLECKP", u32 version, u32 reserved, u64 fingerprint of the run's settings,
 * u64 step, f64 best_em, i32 evals_since_best, i32 pad, then params, moment 1, moment 2 and
 * the best params so far (n_params floats each), then u32 CRC-32 of everything before. */
#define CKPT_VERSION 1u

static uint64_t run_fingerprint(const train_params *p, const model *m, size_t n_train)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s|%s|%u|%u|%u|%u|%u|%u|%u|%d|%g|%g|%g|%g|%g|%llu|%zu|%zu",
                     p->data, p->locales ? p->locales : "", m->cfg.buckets, m->cfg.dim,
                     m->cfg.hidden, m->cfg.minn, m->cfg.maxn, m->cfg.norm_flags,
                     m->cfg.bigrams * 2 + m->cfg.subwords + 4 * m->cfg.layers, p->batch,
                     (double)p->lr, (double)p->emb_lr, (double)p->weight_decay, (double)p->clip,
                     (double)p->dropout, (unsigned long long)p->seed, n_train, m->n_params);
    return hash_bytes(buf, (size_t)(n > 0 ? n : 0));
}

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

int train_ckpt_check(const unsigned char *buf, size_t len, size_t n, uint64_t fingerprint,
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
                       "%s: checkpoint is larger than the %zu bytes "
                       "expected for this model",
                       path, want);
    if (rc) return rc;
    rc = ckpt_from_memory(buf, len, 1, path, h, blocks, n, fingerprint, err);
    free(buf);
    return rc;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static int copy_table(strtab *dst, const strtab *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (strtab_intern(dst, strtab_str(src, i), src->lens[i]) != (int64_t)i) return MILLE_ENOMEM;
    return MILLE_OK;
}

/* 1 if s is an item of the comma-separated list (NULL = everything). */
static int in_list(const char *list, const char *s)
{
    if (!list) return 1;
    size_t n = strlen(s);
    for (const char *q = list; *q;) {
        const char *e = strchr(q, ',');
        size_t len = e ? (size_t)(e - q) : strlen(q);
        if (len == n && memcmp(q, s, n) == 0) return 1;
        if (!e) break;
        q = e + 1;
    }
    return 0;
}

/* The feature settings of a pretrained model replace cfg's: its embedding rows mean
 * something only under the same hashing. */
static int init_config(const char *path, model_config *cfg, mille_error *err)
{
    model pre;
    int rc = model_load(&pre, path, err);
    if (rc) return err_prefix(err, "--init"), rc;
    cfg->buckets = pre.cfg.buckets;
    cfg->dim = pre.cfg.dim;
    cfg->minn = pre.cfg.minn;
    cfg->maxn = pre.cfg.maxn;
    cfg->norm_flags = pre.cfg.norm_flags;
    cfg->bigrams = pre.cfg.bigrams;
    cfg->subwords = pre.cfg.subwords;
    model_free(&pre);
    return MILLE_OK;
}

/* Copy the embedding of the pretrained model at path into m (same feature settings). */
static int init_embedding(model *m, const char *path, mille_error *err)
{
    model pre;
    int rc = model_load(&pre, path, err);
    if (rc) return err_prefix(err, "--init"), rc;
    size_t n = (size_t)m->cfg.buckets * m->cfg.dim;
    if (pre.cfg.buckets != m->cfg.buckets || pre.cfg.dim != m->cfg.dim) {
        model_free(&pre);
        return err_set(err, MILLE_EFORMAT, "--init %s: embedding shape changed", path);
    }
    float *e = model_tensor(m, T_EMB);
    if (pre.emb16)
        for (size_t i = 0; i < n; i++) e[i] = model_half_to_float(pre.emb16[i]);
    else
        memcpy(e, model_tensor(&pre, T_EMB), n * sizeof *e);
    /* the languages it was prepared for are the model's too (zero-shot locales) */
    for (size_t i = 0; i < pre.locales.n; i++) {
        const char *l = strtab_str(&pre.locales, i);
        if (strtab_intern(&m->locales, l, strlen(l)) < 0) {
            model_free(&pre);
            return err_set(err, MILLE_ENOMEM, "train: out of memory");
        }
    }
    model_free(&pre);
    return MILLE_OK;
}

int train_run(const train_params *p, model *out, eval_metrics *best_dev, mille_error *err)
{
    kern_init();
    double t0 = clock_s();
    int rc;
    data_set ds = {0};
    featset fs = {0};
    model m;
    memset(&m, 0, sizeof m);
    trainer *t = NULL;
    uint32_t *train_idx = NULL, *dev_idx = NULL, *order = NULL;
    float *best = NULL;
    size_t n_train = 0, n_dev = 0;
    if (p->batch < 1 || p->epochs < 1 || p->lr <= 0 || p->emb_lr < 0)
        return err_set(err, MILLE_EINVAL,
                       "train: batch, epochs and learning rate must be > 0, emb_lr >= 0");

    data_opts o = data_default_opts();
    o.locales = p->locales;
    o.partitions = "train,dev";
    o.strict = p->strict;
    o.on_skip = p->on_skip;
    o.ud = p->ud;
    if ((rc = data_load(&ds, p->data, &o, err))) goto out;
    for (int i = 0; i < p->n_data_more; i++)
        if ((rc = data_load(&ds, p->data_more[i], &o, err))) goto out;
    int64_t ptrain = strtab_find(&ds.partitions, "train", 5),
            pdev = strtab_find(&ds.partitions, "dev", 3);
    train_idx = malloc((ds.n + 1) * sizeof *train_idx);
    dev_idx = malloc((ds.n + 1) * sizeof *dev_idx);
    if (!train_idx || !dev_idx) {
        rc = err_set(err, MILLE_ENOMEM, "train: out of memory");
        goto out;
    }
    for (size_t i = 0; i < ds.n; i++) {
        if (ds.recs[i].n_words == 0) continue;
        if ((int64_t)ds.recs[i].partition == ptrain)
            train_idx[n_train++] = (uint32_t)i;
        else if ((int64_t)ds.recs[i].partition == pdev &&
                 in_list(p->dev_locales, strtab_str(&ds.locales, ds.recs[i].locale)))
            dev_idx[n_dev++] = (uint32_t)i;
    }
    if (n_train == 0) {
        rc = err_set(err, MILLE_ENOTFOUND, "%s: no training records (partition \"train\")%s%s",
                     p->data, p->locales ? " for locales " : "", p->locales ? p->locales : "");
        goto out;
    }
    if (p->max_train && n_train > p->max_train) n_train = p->max_train;

    model_config cfg = p->cfg;
    if (p->init && (rc = init_config(p->init, &cfg, err))) goto out;
    cfg.n_intents = (uint32_t)ds.intents.n;
    cfg.n_slots = (uint32_t)ds.slots.n;
    if ((rc = model_new(&m, &cfg, err))) goto out;
    if (copy_table(&m.intents, &ds.intents) || copy_table(&m.slots, &ds.slots) ||
        copy_table(&m.scenarios, &ds.scenarios) || copy_table(&m.locales, &ds.locales)) {
        rc = err_set(err, MILLE_ENOMEM, "train: out of memory");
        goto out;
    }
    for (size_t i = 0; i < ds.n; i++) m.intent_scenario[ds.recs[i].intent] = ds.recs[i].scenario;
    model_init_params(&m, p->seed);
    if (p->init && (rc = init_embedding(&m, p->init, err))) goto out;
    if ((rc = featset_build(&fs, &ds, &cfg, p->threads, err))) goto out;

    t = calloc(1, sizeof *t);
    best = malloc(m.n_params * sizeof *best);
    order = malloc(n_train * sizeof *order);
    if (!t || !best || !order) {
        rc = err_set(err, MILLE_ENOMEM, "train: out of memory");
        goto out;
    }
    t->p = p, t->m = &m, t->ds = &ds, t->fs = &fs, t->order = order;
    t->dense0 = m.t[T_W1].off;
    t->n_dense = m.n_params - t->dense0;
    t->mom1 = calloc(m.n_params, sizeof *t->mom1);
    t->mom2 = calloc(m.n_params, sizeof *t->mom2);
    t->gemb = malloc(m.t[T_EMB].rows * cfg.dim * sizeof *t->gemb);
    t->touched = calloc(m.t[T_EMB].rows, 1);
    t->tr.expA = t->expA_buf;
    int oom = !t->mom1 || !t->mom2 || !t->gemb || !t->touched;
    for (int s = 0; s < TRAIN_SHARDS && !oom; s++)
        oom = !(t->sh[s].g = malloc(t->n_dense * sizeof(float)));
    if (oom) {
        rc = err_set(err, MILLE_ENOMEM, "train: out of memory for optimizer state");
        goto out;
    }
    memcpy(best, m.p, m.n_params * sizeof *best);

    /* resume */
    char ckpt_path[4096];
    snprintf(ckpt_path, sizeof ckpt_path, "%s", p->checkpoint ? p->checkpoint : "");
    if (!p->checkpoint) snprintf(ckpt_path, sizeof ckpt_path, "%s.ckpt", p->out);
    uint64_t fp = run_fingerprint(p, &m, n_train);
    uint64_t steps_per_epoch = (n_train + (size_t)p->batch - 1) / (size_t)p->batch;
    uint64_t total = steps_per_epoch * (uint64_t)p->epochs, step = 0;
    double best_em = -1;
    int since_best = 0;
    if (p->resume) {
        ckpt_head h;
        float *const blocks[4] = {m.p, t->mom1, t->mom2, best};
        if ((rc = ckpt_load(ckpt_path, &h, blocks, m.n_params, fp, err))) goto out;
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
            memcpy(order, train_idx, n_train * sizeof *order);
            shuffle_u32(order, n_train, p->seed * 1000003u + (uint64_t)epoch);
            cur_epoch = epoch;
        }
        size_t start = (size_t)(step % steps_per_epoch) * (size_t)p->batch;
        size_t len = n_train - start < (size_t)p->batch ? n_train - start : (size_t)p->batch;
        step++;
        double frac = (double)step / (double)total;
        double lr_scale =
            (step <= warmup && warmup ? (double)step / (double)warmup : 1.0) * (1.0 - 0.9 * frac);
        double loss = train_step(t, start, len, step, lr_scale);
        if (isnan(loss) || isinf(loss)) {
            rc = err_set(err, MILLE_ENOMEM, "train: step %llu failed (out of memory or diverged)",
                         (unsigned long long)step);
            goto out;
        }
        loss_sum += loss;
        loss_n += len;
        utts += len;
        double tnow = clock_s();
        int over = (p->time_budget > 0 && tnow - t0 >= p->time_budget) ||
                   (p->stop_after && step >= p->stop_after);
        int do_eval = step % eval_every == 0 || step == total || over;
        if (do_eval) {
            eval_acc acc = {0};
            eval_metrics em;
            memset(&em, 0, sizeof em);
            if (n_dev) {
                if ((rc = predict_records(&m, &ds, &fs, dev_idx, n_dev, p->threads, NULL, NULL,
                                          &acc, NULL, NULL))) {
                    eval_acc_free(&acc);
                    err_set(err, rc, "train: dev evaluation failed");
                    goto out;
                }
                em = eval_average(&acc);
            }
            eval_acc_free(&acc);
            /* without dev data the last model is the one kept */
            double score = n_dev ? em.exact_match : (double)step;
            if (score > best_em) {
                best_em = score;
                best_metrics = em;
                since_best = 0;
                memcpy(best, m.p, m.n_params * sizeof *best);
            } else {
                since_best++;
            }
            pr.dev_em = em.exact_match;
            pr.dev = em;
            pr.best_dev_em = n_dev ? best_em : -1;
            pr.evaluated = 1;
            ckpt_head h = {"MILLECKP", CKPT_VERSION, 0, fp, step, best_em, since_best, 0};
            const float *const blocks[4] = {m.p, t->mom1, t->mom2, best};
            if ((rc = ckpt_save(ckpt_path, &h, blocks, m.n_params, err))) goto out;
            if (n_dev && since_best >= p->patience) stop = 1;
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
            if (p->progress) p->progress(p->ud, &pr);
            pr.evaluated = 0;
            last_report = tnow;
            loss_sum = 0;
            loss_n = 0;
        }
    }
    memcpy(m.p, best, m.n_params * sizeof *best);
    if ((rc = model_save(&m, p->out, p->half, err))) goto out;
    if (best_dev) *best_dev = best_metrics;
    if (out) {
        *out = m;
        memset(&m, 0, sizeof m);
    }
out:
    if (t) {
        for (int s = 0; s < TRAIN_SHARDS; s++) {
            batch_free(&t->sh[s].b);
            model_ws_free(&t->sh[s].ws);
            free(t->sh[s].g);
            free(t->sh[s].dX);
            free(t->sh[s].tagbuf);
        }
        free(t->mom1);
        free(t->mom2);
        free(t->gemb);
        free(t->touched);
        free(t->rows);
        free(t);
    }
    free(best);
    free(order);
    free(train_idx);
    free(dev_idx);
    featset_free(&fs);
    model_free(&m);
    data_free(&ds);
    return rc;
}
