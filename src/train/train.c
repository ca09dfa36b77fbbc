/*
 * train.c - `mille train`: data and features, the gold-label objective that plugs into the
 * training loop (loop.c: shards, AdamW, evaluation, checkpoints), prediction of records for
 * evaluation, and starting from a pretrained embedding.
 */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "codeswitch.h"
#include "crf.h"
#include "kern.h"
#include "loop.h"

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
    p.reject_recall = 0.95f;
    p.cs_rate = 0.5f;
    p.cs_copies = 1;
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
            if (jobs[t].n) /* a thread with no records has no buffer (memcpy from NULL) */
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

int train_batch_add(batch *b, const data_set *ds, const featset *fs, size_t r,
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
                train_batch_add(&b, j->ds, j->fs, j->idx[i], j->intent_map, j->slot_map, tagbuf)) {
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

/* ---- the objective: gold labels ---------------------------------------------------------- */

typedef struct gold_obj {
    const train_params *p;
    const train_data *td; /* item k < n_train of an epoch is record td->train_idx[k] */
    /* code-switching: item n_train + j is copy 1 + j / n_src of record cs_src[j % n_src] */
    const cs_set *cs; /* NULL: off */
    const uint32_t *cs_src;
    size_t n_src;
} gold_obj;

typedef struct gold_scratch {
    int *tagbuf;
    size_t tag_cap;
    cs_scratch cs;    /* the code-switched copy being made */
    feat_scratch fsc; /* its features */
    uint32_t *feats, *off;
    size_t feat_cap, off_cap;
} gold_scratch;

/* Add the code-switched copy of item k (>= n_train) for this epoch to the shard's batch. */
static int gold_add_switched(gold_obj *o, const model *m, loop_shard *h, gold_scratch *sc,
                             uint32_t k)
{
    size_t j = k - o->td->n_train;
    uint32_t r = o->cs_src[j % o->n_src], copy = (uint32_t)(1 + j / o->n_src);
    mille_error err;
    int rc = cs_record(o->cs, &o->td->ds, r, h->epoch, copy, &sc->cs, &err);
    if (rc) return rc;
    size_t n = sc->cs.n_words, nf = 0;
    if (vec_reserve((void **)&sc->off, &sc->off_cap, n + 1, sizeof *sc->off) ||
        vec_reserve((void **)&sc->tagbuf, &sc->tag_cap, n + 1, sizeof *sc->tagbuf))
        return MILLE_ENOMEM;
    if ((rc = model_utt_features(&m->cfg, sc->cs.text, sc->cs.words, sizeof(data_word), n, &sc->fsc,
                                 &sc->feats, &nf, &sc->feat_cap, sc->off, &err)))
        return rc;
    for (size_t w = 0; w < n; w++) sc->tagbuf[w] = (int)sc->cs.words[w].label;
    return batch_add(&h->b, sc->feats, sc->off, n, o->td->ds.recs[r].intent, sc->tagbuf);
}

static void gold_shard(void *ud, const model *m, const crf_trans *tr, loop_shard *h,
                       const uint32_t *items, size_t n, float scale)
{
    gold_obj *o = ud;
    gold_scratch *sc = h->scratch;
    if (!sc && !(sc = h->scratch = calloc(1, sizeof *sc))) {
        h->rc = MILLE_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i] >= o->td->n_train) {
            int rc = gold_add_switched(o, m, h, sc, items[i]);
            if (rc) {
                h->rc = rc;
                return;
            }
            continue;
        }
        uint32_t r = o->td->train_idx[items[i]];
        const data_record *rec = &o->td->ds.recs[r];
        if (vec_reserve((void **)&sc->tagbuf, &sc->tag_cap, rec->n_words + 1, sizeof *sc->tagbuf) ||
            train_batch_add(&h->b, &o->td->ds, &o->td->fs, r, NULL, NULL, sc->tagbuf)) {
            h->rc = MILLE_ENOMEM;
            return;
        }
    }
    if (vec_reserve((void **)&h->dX, &h->dX_cap, h->b.n_words * m->cfg.dim, sizeof *h->dX) ||
        model_forward(m, &h->b, &h->ws)) {
        h->rc = MILLE_ENOMEM;
        return;
    }
    h->loss = model_backward(m, &h->b, &h->ws, tr, scale, h->g, h->dX);
}

static void gold_shard_free(void *ud, loop_shard *h)
{
    (void)ud;
    gold_scratch *sc = h->scratch;
    if (sc) {
        free(sc->tagbuf);
        cs_scratch_free(&sc->cs);
        feat_scratch_free(&sc->fsc);
        free(sc->feats);
        free(sc->off);
    }
    free(sc);
    h->scratch = NULL;
}

static int gold_evaluate(void *ud, const model *m, eval_metrics *em, mille_error *err)
{
    gold_obj *o = ud;
    return train_evaluate_comm(m, o->td, o->p->threads, o->p->comm, em, err);
}

uint64_t train_fingerprint(const train_params *p, const model *m, size_t n_train)
{
    char buf[1024];
    int n = snprintf(
        buf, sizeof buf, "%s|%s|%u|%u|%u|%u|%u|%u|%u|%d|%g|%g|%g|%g|%g|%llu|%zu|%zu", p->data,
        p->locales ? p->locales : "", m->cfg.buckets, m->cfg.dim, m->cfg.hidden, m->cfg.minn,
        m->cfg.maxn, m->cfg.norm_flags,
        m->cfg.bigrams * 2 + m->cfg.subwords + 4 * m->cfg.layers + 64 * m->cfg.translit, p->batch,
        (double)p->lr, (double)p->emb_lr, (double)p->weight_decay, (double)p->clip,
        (double)p->dropout, (unsigned long long)p->seed, n_train, m->n_params);
    return hash_bytes(buf, (size_t)(n > 0 ? n : 0));
}

/* ---- the loop ------------------------------------------------------------------------------ */

static int copy_table(strtab *dst, const strtab *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (strtab_intern(dst, strtab_str(src, i), src->lens[i]) != (int64_t)i) return MILLE_ENOMEM;
    return MILLE_OK;
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
    if (pre.cfg.buckets != m->cfg.buckets || pre.cfg.dim != m->cfg.dim) {
        model_free(&pre);
        return err_set(err, MILLE_EFORMAT, "--init %s: embedding shape changed", path);
    }
    float *e = model_tensor(m, T_EMB);
    for (size_t r = 0; r < m->cfg.buckets; r++) /* f32, f16 or int8 */
        model_emb_row(&pre, r, e + r * m->cfg.dim);
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

int train_data_load(const train_params *p, train_data *td, mille_error *err)
{
    memset(td, 0, sizeof *td);
    if (p->batch < 1 || p->epochs < 1 || p->lr <= 0 || p->emb_lr < 0)
        return err_set(err, MILLE_EINVAL,
                       "train: batch, epochs and learning rate must be > 0, emb_lr >= 0");
    data_set *ds = &td->ds;
    data_opts o = data_default_opts();
    o.locales = p->locales;
    o.partitions = "train,dev";
    o.strict = p->strict;
    o.on_skip = p->on_skip;
    o.ud = p->ud;
    int rc;
    if ((rc = data_load(ds, p->data, &o, err))) return rc;
    for (int i = 0; i < p->n_data_more; i++)
        if ((rc = data_load(ds, p->data_more[i], &o, err))) return rc;
    int64_t ptrain = strtab_find(&ds->partitions, "train", 5),
            pdev = strtab_find(&ds->partitions, "dev", 3);
    td->train_idx = malloc((ds->n + 1) * sizeof *td->train_idx);
    td->dev_idx = malloc((ds->n + 1) * sizeof *td->dev_idx);
    if (!td->train_idx || !td->dev_idx) return err_set(err, MILLE_ENOMEM, "train: out of memory");
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->recs[i].n_words == 0) continue;
        if ((int64_t)ds->recs[i].partition == ptrain)
            td->train_idx[td->n_train++] = (uint32_t)i;
        else if ((int64_t)ds->recs[i].partition == pdev &&
                 data_list_has(p->dev_locales, strtab_str(&ds->locales, ds->recs[i].locale),
                               ds->locales.lens[ds->recs[i].locale]))
            td->dev_idx[td->n_dev++] = (uint32_t)i;
    }
    if (td->n_train == 0)
        return err_set(err, MILLE_ENOTFOUND, "%s: no training records (partition \"train\")%s%s",
                       p->data, p->locales ? " for locales " : "", p->locales ? p->locales : "");
    if (p->max_train && td->n_train > p->max_train) td->n_train = p->max_train;
    return MILLE_OK;
}

void train_data_free(train_data *td)
{
    free(td->train_idx);
    free(td->dev_idx);
    featset_free(&td->fs);
    data_free(&td->ds);
    memset(td, 0, sizeof *td);
}

int train_model_new(const train_params *p, const data_set *ds, model *m, mille_error *err)
{
    memset(m, 0, sizeof *m);
    model_config cfg = p->cfg;
    int rc;
    if (p->init && (rc = init_config(p->init, &cfg, err))) return rc;
    cfg.n_intents = (uint32_t)ds->intents.n;
    cfg.n_slots = (uint32_t)ds->slots.n;
    if ((rc = model_new(m, &cfg, err))) return rc;
    if (copy_table(&m->intents, &ds->intents) || copy_table(&m->slots, &ds->slots) ||
        copy_table(&m->scenarios, &ds->scenarios) || copy_table(&m->locales, &ds->locales))
        return err_set(err, MILLE_ENOMEM, "train: out of memory");
    for (size_t i = 0; i < ds->n; i++)
        m->intent_scenario[ds->recs[i].intent] = ds->recs[i].scenario;
    model_init_params(m, p->seed);
    if (p->init && (rc = init_embedding(m, p->init, err))) return rc;
    return MILLE_OK;
}

int train_evaluate(const model *m, const train_data *td, int threads, eval_metrics *em,
                   mille_error *err)
{
    return train_evaluate_comm(m, td, threads, NULL, em, err);
}

/* The per-locale counts of every rank summed: integers, so the order does not matter. */
static int sum_counts(const loop_comm *comm, eval_acc *acc, size_t n_loc)
{
    enum { K = sizeof(eval_counts) / sizeof(uint64_t) };
    int64_t *v = calloc(n_loc * K + 1, sizeof *v);
    eval_counts *loc = calloc(n_loc + 1, sizeof *loc);
    if (!v || !loc) {
        free(v);
        free(loc);
        return MILLE_ENOMEM;
    }
    for (size_t l = 0; l < acc->n_loc && l < n_loc; l++)
        memcpy(v + l * K, &acc->loc[l], sizeof *loc);
    int rc = comm->allreduce_i64(comm->ud, v, n_loc * K, LOOP_OP_SUM);
    for (size_t l = 0; l < n_loc; l++) memcpy(&loc[l], v + l * K, sizeof *loc);
    free(v);
    free(acc->loc);
    acc->loc = loc;
    acc->n_loc = acc->cap = n_loc;
    return rc;
}

int train_evaluate_comm(const model *m, const train_data *td, int threads, const loop_comm *comm,
                        eval_metrics *em, mille_error *err)
{
    eval_acc acc = {0};
    size_t R = (size_t)loop_comm_size(comm), r = (size_t)loop_comm_rank(comm);
    size_t i0 = td->n_dev * r / R, i1 = td->n_dev * (r + 1) / R;
    int rc = predict_records(m, &td->ds, &td->fs, td->dev_idx + i0, i1 - i0, threads, NULL, NULL,
                             &acc, NULL, NULL);
    if (rc) err_set(err, rc, "train: dev evaluation failed");
    if ((rc = loop_comm_agree(comm, rc, err))) {
        eval_acc_free(&acc);
        return rc;
    }
    if (R > 1 && (rc = sum_counts(comm, &acc, td->ds.locales.n))) {
        eval_acc_free(&acc);
        return err_set(err, rc, "train: summing the dev counts of the processes failed");
    }
    *em = eval_average(&acc);
    eval_acc_free(&acc);
    return MILLE_OK;
}

void train_ckpt_path(const train_params *p, char *buf, size_t n)
{
    if (p->checkpoint)
        snprintf(buf, n, "%s", p->checkpoint);
    else
        snprintf(buf, n, "%s.ckpt", p->out);
}

int train_calibrate(const train_params *p, model *m, const train_data *td, mille_error *err)
{
    if (!td->n_dev || p->reject_recall <= 0) return MILLE_OK;
    calib_logits cl;
    int rc = calib_collect(m, &td->ds, &td->fs, td->dev_idx, td->n_dev, p->threads, &cl, err);
    if (rc) return rc;
    rc = calib_apply(m, &cl, p->reject_recall);
    calib_logits_free(&cl);
    if (rc == MILLE_ENOMEM) return err_set(err, rc, "train: out of memory calibrating");
    return MILLE_OK; /* MILLE_ENOTFOUND: no in-scope dev record, the model stays uncalibrated */
}

/* The training records code-switching copies: those of p->cs_from (en-US by default). */
static int cs_sources(const train_params *p, const train_data *td, uint32_t **src, size_t *n,
                      mille_error *err)
{
    const char *from = p->cs_from ? p->cs_from : "en-US";
    if (p->cs_copies < 1 || p->cs_rate < 0 || p->cs_rate > 1)
        return err_set(err, MILLE_EINVAL,
                       "train: code-switching needs copies >= 1, rate in [0, 1]");
    if (!(*src = malloc((td->n_train + 1) * sizeof **src)))
        return err_set(err, MILLE_ENOMEM, "train: out of memory");
    *n = 0;
    for (size_t i = 0; i < td->n_train; i++) {
        const data_record *rec = &td->ds.recs[td->train_idx[i]];
        const char *loc = strtab_str(&td->ds.locales, rec->locale);
        if (strcmp(loc, from) == 0) (*src)[(*n)++] = td->train_idx[i];
    }
    if (*n == 0)
        return err_set(err, MILLE_ENOTFOUND, "train: no %s training records to code-switch", from);
    return MILLE_OK;
}

int train_run(const train_params *p, model *out, eval_metrics *best_dev, mille_error *err)
{
    kern_init();
    double t0 = clock_s();
    int rc;
    train_data td;
    model m;
    memset(&m, 0, sizeof m);
    cs_set cs;
    memset(&cs, 0, sizeof cs);
    uint32_t *cs_src = NULL;
    char ckpt_path[4096];
    train_ckpt_path(p, ckpt_path, sizeof ckpt_path);
    /* every process reads the data; a failure on any of them stops them all (agreed) */
    if (!(rc = train_data_load(p, &td, err)) && !(rc = train_model_new(p, &td.ds, &m, err)))
        rc = featset_build(&td.fs, &td.ds, &m.cfg, p->threads, err);
    gold_obj go = {p, &td, NULL, NULL, 0};
    size_t n_items = td.n_train;
    uint64_t fp = 0;
    if (!rc && p->n_cs > 0 &&
        !(rc = cs_load(&cs, p->cs_lexicons, (size_t)p->n_cs, p->cs_rate, p->seed, err)))
        rc = cs_sources(p, &td, &cs_src, &go.n_src, err);
    if ((rc = loop_comm_agree(p->comm, rc, err))) goto out;
    if (p->n_cs > 0) {
        go.cs = &cs;
        go.cs_src = cs_src;
        n_items += go.n_src * (size_t)p->cs_copies;
    }
    fp = train_fingerprint(p, &m, n_items);
    if (p->n_cs > 0) { /* the lexicons and settings of code-switching are part of the run */
        fp = hash_more(fp, &p->cs_rate, sizeof p->cs_rate);
        for (int i = 0; i < p->n_cs; i++)
            fp = hash_more(fp, p->cs_lexicons[i], strlen(p->cs_lexicons[i]) + 1);
    }
    loop_objective obj = {&go, n_items, gold_shard, td.n_dev ? gold_evaluate : NULL,
                          gold_shard_free};
    if ((rc = loop_run(p, &m, &obj, fp, ckpt_path, t0, best_dev, err))) goto out;
    /* every rank holds the same model (and computes the same calibration): rank 0 writes it */
    rc = train_calibrate(p, &m, &td, err);
    if (!rc && loop_comm_rank(p->comm) == 0) rc = model_save(&m, p->out, p->half, err);
    if ((rc = loop_comm_agree(p->comm, rc, err))) goto out;
    if (out) {
        *out = m;
        memset(&m, 0, sizeof m);
    }
out:
    model_free(&m);
    train_data_free(&td);
    cs_free(&cs);
    free(cs_src);
    return rc;
}
