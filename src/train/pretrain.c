/*
 * pretrain.c - skip-gram pretraining of the hashed embedding (see pretrain.h).
 *
 * Corpus: every utterance split into MASSIVE words (annot_words) with the model's own
 * features (model_utt_features), all in flat arrays: tokens T, features F.
 * Lexicon links: sorted (word hash -> entry) pairs, an entry being one translation word with
 * its features; a token with links may be swapped for one of them.
 * Training: per token, h = mean of its feature rows; each context word within a random
 * window predicts itself (label 1) and `neg` words drawn from the corpus (label 0) through
 * output rows indexed by the word's whole-word feature; gradients go to every feature row
 * (as fastText does for its unsupervised models). Threads update shared rows without locks
 * (Hogwild): fast, and reproducible only with one thread.
 */
#define _POSIX_C_SOURCE 200809L
#include "pretrain.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "lexicon.h"
#include "loop.h"

pretrain_params pretrain_default_params(void)
{
    pretrain_params p;
    memset(&p, 0, sizeof p);
    p.partitions = "train";
    p.code_switch = 0.3f;
    p.max_senses = 3;
    p.cfg = model_default_config();
    p.epochs = 5;
    p.window = 4;
    p.neg = 5;
    p.lr = 0.05f;
    p.threads = 2;
    p.seed = 1;
    return p;
}

/* ---- corpus ------------------------------------------------------------------------------ */

typedef struct corpus {
    uint32_t *feats, *foff; /* (F) features; (T+1) token t has feats[foff[t] .. foff[t+1]) */
    uint64_t *wh;           /* (T) whole-word hashes                                      */
    uint32_t *uoff;         /* (U+1) utterance u has tokens uoff[u] .. uoff[u+1]           */
    size_t nf, nt, nu, cap_f, cap_foff, cap_wh, cap_uoff;
    annot_word *w;
    size_t cap_w;
    uint32_t *off;
    size_t cap_off;
    annot_scratch as;
    feat_scratch fs;
} corpus;

static void corpus_free(corpus *c)
{
    free(c->feats), free(c->foff), free(c->wh), free(c->uoff), free(c->w), free(c->off);
    annot_scratch_free(&c->as);
    feat_scratch_free(&c->fs);
}

/* Add one utterance; returns 0, 1 (skipped: invalid UTF-8 or no words) or MILLE_ENOMEM. */
static int corpus_add(corpus *c, const model_config *cfg, const char *s, size_t n)
{
    size_t bad;
    if (n == 0 || text_utf8_check(s, n, &bad)) return 1;
    int sc = text_dominant_script(s, n);
    int cs = sc == TEXT_SCRIPT_HAN || sc == TEXT_SCRIPT_HIRAGANA || sc == TEXT_SCRIPT_KATAKANA;
    if (vec_reserve((void **)&c->w, &c->cap_w, n + 1, sizeof *c->w)) return MILLE_ENOMEM;
    mille_error e;
    int nw = annot_words(s, n, cs, c->w, &c->as, &e);
    if (nw == MILLE_ENOMEM) return MILLE_ENOMEM;
    if (nw <= 0) return 1;
    if (vec_reserve((void **)&c->off, &c->cap_off, (size_t)nw + 1, sizeof *c->off) ||
        vec_reserve((void **)&c->foff, &c->cap_foff, c->nt + (size_t)nw + 1, sizeof *c->foff) ||
        vec_reserve((void **)&c->wh, &c->cap_wh, c->nt + (size_t)nw, sizeof *c->wh) ||
        vec_reserve((void **)&c->uoff, &c->cap_uoff, c->nu + 2, sizeof *c->uoff))
        return MILLE_ENOMEM;
    size_t nf0 = c->nf;
    int rc = model_utt_features(cfg, s, c->w, sizeof *c->w, (size_t)nw, &c->fs, &c->feats, &c->nf,
                                &c->cap_f, c->off, &e);
    if (rc == MILLE_ENOMEM) return rc;
    if (rc) {
        c->nf = nf0;
        return 1;
    }
    if (c->nu == 0) c->uoff[0] = 0, c->foff[0] = 0;
    for (int k = 0; k < nw; k++) {
        c->foff[c->nt + (size_t)k] = c->off[k];
        c->wh[c->nt + (size_t)k] = c->fs.wh[k];
    }
    c->nt += (size_t)nw;
    c->foff[c->nt] = (uint32_t)c->nf;
    c->uoff[++c->nu] = (uint32_t)c->nt;
    return 0;
}

/* A text file named like a locale ("fr-FR.txt", "fr-FR.txt.gz") adds it to locales. */
static int file_locale(const char *path, strtab *locales)
{
    char loc[6];
    return data_path_locale(path, loc) && strtab_intern(locales, loc, 5) < 0 ? MILLE_ENOMEM
                                                                             : MILLE_OK;
}

static int load_texts(corpus *c, const pretrain_params *p, pretrain_stats *st, strtab *locales,
                      mille_error *err)
{
    for (int i = 0; i < p->n_texts; i++) {
        const char *path = p->texts[i];
        int rc = 0;
        if (data_is_massive_path(path)) {
            data_set ds = {0};
            data_opts o = data_default_opts();
            o.mode = DATA_TEXT;
            o.locales = p->locales;
            o.partitions = p->partitions;
            if ((rc = data_load(&ds, path, &o, err))) {
                data_free(&ds);
                return rc;
            }
            for (size_t r = 0; r < ds.n && rc >= 0; r++) {
                rc = corpus_add(c, &p->cfg, data_str(&ds, ds.recs[r].utt), ds.recs[r].utt_len);
                st->skipped_lines += rc == 1;
            }
            for (size_t l = 0; l < ds.locales.n && rc >= 0; l++) {
                const char *name = strtab_str(&ds.locales, l);
                if (*name && strtab_intern(locales, name, strlen(name)) < 0) rc = MILLE_ENOMEM;
            }
            data_free(&ds);
        } else {
            char *buf = NULL;
            size_t len = 0;
            if ((rc = file_read_gz(path, SIZE_MAX, SIZE_MAX, &buf, &len, err))) return rc;
            if (file_locale(path, locales)) {
                free(buf);
                return err_set(err, MILLE_ENOMEM, "%s: out of memory", path);
            }
            for (size_t a = 0; a < len && rc >= 0;) {
                char *nl = memchr(buf + a, '\n', len - a);
                size_t b = nl ? (size_t)(nl - buf) : len, e = b;
                if (e > a && buf[e - 1] == '\r') e--;
                if (e > a) {
                    rc = corpus_add(c, &p->cfg, buf + a, e - a);
                    st->skipped_lines += rc == 1;
                }
                a = b + 1;
            }
            free(buf);
        }
        if (rc < 0) return err_set(err, rc, "%s: out of memory", path);
    }
    st->utterances = c->nu;
    st->tokens = c->nt;
    if (c->nt < 2)
        return err_set(err, MILLE_EINVAL, "pretrain: the texts hold %zu words; nothing to learn",
                       c->nt);
    return MILLE_OK;
}

/* ---- lexicon links ----------------------------------------------------------------------- */

typedef struct entry {
    uint32_t f0, nf; /* features in links.feats */
} entry;

typedef struct lexlink {
    uint64_t h; /* whole-word hash of the word that may be swapped */
    uint32_t e; /* the entry it may become */
} lexlink;

typedef struct links {
    lexlink *l;
    size_t n, cap;
    entry *e;
    size_t ne, cap_e;
    uint32_t *feats;
    size_t nf, cap_f;
    uint32_t *tlo, *tn; /* (T) each token's links: l[tlo[t] .. tlo[t] + tn[t]) */
} links;

static void links_free(links *L)
{
    free(L->l), free(L->e), free(L->feats), free(L->tlo), free(L->tn);
}

/* An entry for word s (its features), and its whole-word hash in *h. -1: no features. */
static int64_t add_entry(links *L, const model_config *cfg, const char *s, text_buf *nb,
                         uint64_t *h)
{
    uint32_t f[MODEL_MAX_FEATS];
    mille_error e;
    int n = model_word_features(cfg, s, strlen(s), nb, f, MODEL_MAX_FEATS, h, &e);
    if (n <= 0) return -1;
    if (vec_reserve((void **)&L->feats, &L->cap_f, L->nf + (size_t)n, sizeof *L->feats) ||
        vec_reserve((void **)&L->e, &L->cap_e, L->ne + 1, sizeof *L->e))
        return MILLE_ENOMEM;
    memcpy(L->feats + L->nf, f, (size_t)n * sizeof *f);
    L->e[L->ne] = (entry){(uint32_t)L->nf, (uint32_t)n};
    L->nf += (size_t)n;
    return (int64_t)L->ne++;
}

static int push_link(links *L, uint64_t h, uint32_t e)
{
    if (vec_reserve((void **)&L->l, &L->cap, L->n + 1, sizeof *L->l)) return MILLE_ENOMEM;
    L->l[L->n++] = (lexlink){h, e};
    return MILLE_OK;
}

static int link_cmp(const void *a, const void *b)
{
    const lexlink *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->e < y->e ? -1 : x->e > y->e;
}

/* Links both ways between single-word keys and their first max_senses single-word
 * translations; then each token's range of links. */
static int build_links(links *L, const lexicon *lx, const corpus *c, const pretrain_params *p,
                       pretrain_stats *st, mille_error *err)
{
    text_buf nb = {0};
    int rc = MILLE_OK;
    int64_t *tr_entry = malloc((lx->trans.n + 1) * sizeof *tr_entry);
    uint64_t *tr_hash = malloc((lx->trans.n + 1) * sizeof *tr_hash);
    if (!tr_entry || !tr_hash) rc = MILLE_ENOMEM;
    for (size_t t = 0; t < lx->trans.n && !rc; t++) tr_entry[t] = -2; /* not made yet */
    for (size_t k = 0; k < lx->keys.n && rc == MILLE_OK; k++) {
        const char *key = strtab_str(&lx->keys, k);
        if (strchr(key, ' ')) continue;
        uint64_t kh;
        int64_t ke = -2;
        int used = 0;
        for (uint32_t q = lx->off[k]; q < lx->off[k + 1] && used < p->max_senses; q++) {
            uint32_t t = lx->csr[q];
            const char *tr = lexicon_str(lx, t);
            if (strchr(tr, ' ')) continue;
            if (tr_entry[t] == -2) tr_entry[t] = add_entry(L, &p->cfg, tr, &nb, &tr_hash[t]);
            if (tr_entry[t] == MILLE_ENOMEM) rc = MILLE_ENOMEM;
            if (tr_entry[t] < 0) continue;
            if (ke == -2) ke = add_entry(L, &p->cfg, key, &nb, &kh);
            if (ke == MILLE_ENOMEM) rc = MILLE_ENOMEM;
            if (ke < 0) break;
            if (push_link(L, kh, (uint32_t)tr_entry[t]) || push_link(L, tr_hash[t], (uint32_t)ke))
                rc = MILLE_ENOMEM;
            used++;
        }
    }
    free(tr_entry);
    free(tr_hash);
    text_buf_free(&nb);
    if (rc) return err_set(err, rc, "pretrain: out of memory for lexicon links");
    qsort(L->l, L->n, sizeof *L->l, link_cmp);
    size_t u = 0;
    for (size_t i = 0; i < L->n; i++)
        if (u == 0 || L->l[i].h != L->l[u - 1].h || L->l[i].e != L->l[u - 1].e) L->l[u++] = L->l[i];
    L->n = u;
    st->lexicon_links = u;
    L->tlo = calloc(c->nt + 1, sizeof *L->tlo);
    L->tn = calloc(c->nt + 1, sizeof *L->tn);
    if (!L->tlo || !L->tn) return err_set(err, MILLE_ENOMEM, "pretrain: out of memory");
    for (size_t t = 0; t < c->nt; t++) {
        size_t lo = 0, hi = L->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (L->l[mid].h < c->wh[t])
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t n = 0;
        while (lo + n < L->n && L->l[lo + n].h == c->wh[t]) n++;
        L->tlo[t] = (uint32_t)lo;
        L->tn[t] = (uint32_t)n;
        st->linked_tokens += n > 0;
    }
    return MILLE_OK;
}

/* ---- training ---------------------------------------------------------------------------- */

typedef struct job {
    const pretrain_params *p;
    const corpus *c;
    const links *L;
    float *E, *O; /* (B, D) input rows, (B, D) output rows */
    uint32_t *order;
    size_t u0, u1; /* this thread's utterances in order[] */
    int epoch;
    atomic_ullong *done_tokens;
    unsigned long long total_tokens;
    double loss;
    unsigned long long preds;
    atomic_int *stop;
} job;

static inline float sigmoidf(float x)
{
    if (x > 16) return 1;
    if (x < -16) return 0;
    return 1.0f / (1.0f + expf(-x));
}

static void *train_thread(void *arg)
{
    job *j = arg;
    const pretrain_params *p = j->p;
    const corpus *c = j->c;
    const links *L = j->L;
    size_t D = p->cfg.dim;
    rng r;
    rng_seed(&r, p->seed * 7919u + (uint64_t)j->epoch * 104729u + j->u0);
    float h[512], g[512];
    MILLE_ASSERT(D <= 512);
    for (size_t oi = j->u0; oi < j->u1; oi++) {
        if ((oi & 255) == 0 && atomic_load(j->stop)) break;
        uint32_t u = j->order[oi];
        size_t t0 = c->uoff[u], t1 = c->uoff[u + 1];
        double frac = (double)atomic_load(j->done_tokens) / (double)j->total_tokens;
        float lr = p->lr * (float)(1.0 - frac > 1e-4 ? 1.0 - frac : 1e-4);
        for (size_t t = t0; t < t1; t++) {
            /* the centre word, or its translation */
            const uint32_t *f = c->feats + c->foff[t];
            size_t nf = c->foff[t + 1] - c->foff[t];
            if (L && L->tn[t] && rng_uniform(&r) < p->code_switch) {
                const entry *e = &L->e[L->l[L->tlo[t] + rng_below(&r, L->tn[t])].e];
                f = L->feats + e->f0;
                nf = e->nf;
            }
            memset(h, 0, D * sizeof *h);
            for (size_t k = 0; k < nf; k++) {
                const float *row = j->E + (size_t)f[k] * D;
                for (size_t d = 0; d < D; d++) h[d] += row[d];
            }
            for (size_t d = 0; d < D; d++) h[d] /= (float)nf;
            memset(g, 0, D * sizeof *g);
            size_t w = 1 + rng_below(&r, (uint64_t)p->window);
            size_t a = t >= t0 + w ? t - w : t0, b = t + w + 1 < t1 ? t + w + 1 : t1;
            for (size_t ctx = a; ctx < b; ctx++) {
                if (ctx == t) continue;
                uint32_t target = c->feats[c->foff[ctx]];
                if (L && L->tn[ctx] && rng_uniform(&r) < p->code_switch) {
                    const entry *e = &L->e[L->l[L->tlo[ctx] + rng_below(&r, L->tn[ctx])].e];
                    target = L->feats[e->f0];
                }
                for (int s = 0; s <= p->neg; s++) {
                    uint32_t o = target;
                    float label = 1;
                    if (s) {
                        o = c->feats[c->foff[rng_below(&r, c->nt)]];
                        if (o == target) continue;
                        label = 0;
                    }
                    float *orow = j->O + (size_t)o * D, dot = 0;
                    for (size_t d = 0; d < D; d++) dot += h[d] * orow[d];
                    float sg = sigmoidf(dot);
                    j->loss += label ? -log(sg + 1e-7) : -log(1 - sg + 1e-7);
                    j->preds++;
                    float gr = lr * (label - sg);
                    for (size_t d = 0; d < D; d++) {
                        g[d] += gr * orow[d];
                        orow[d] += gr * h[d];
                    }
                }
            }
            for (size_t k = 0; k < nf; k++) {
                float *row = j->E + (size_t)f[k] * D;
                for (size_t d = 0; d < D; d++) row[d] += g[d];
            }
        }
        atomic_fetch_add(j->done_tokens, t1 - t0);
    }
    return NULL;
}

/* ---- processes: averaging the copies ------------------------------------------------------ */

/* The rows of M (B, D) that differ from the last averaged copy S, ascending. */
static size_t changed_rows(const float *M, const float *S, size_t B, size_t D, uint32_t *rows)
{
    size_t n = 0;
    for (size_t r = 0; r < B; r++)
        if (memcmp(M + r * D, S + r * D, D * sizeof *M) != 0) rows[n++] = (uint32_t)r;
    return n;
}

/* Collective: every rank's M becomes S + (sum over ranks of M_rank - S) / N, and S = M. The
 * changed rows and their deltas travel along the chain 0 -> N-1 as an ascending list merged
 * at each rank (a row's deltas summed in rank order: reproducible for a fixed N); the last
 * rank broadcasts the union. buf: (B) rows, vals: (B, D), in: (B) rows + (B, D) values. */
static int average_copies(const loop_comm *c, float *M, float *S, size_t B, size_t D,
                          uint32_t *rows, float *vals, uint32_t *in_rows, float *in_vals,
                          uint64_t *bytes)
{
    size_t n = changed_rows(M, S, B, D, rows);
    for (size_t k = 0; k < n; k++)
        for (size_t d = 0; d < D; d++) {
            size_t i = (size_t)rows[k] * D + d;
            vals[k * D + d] = M[i] - S[i];
        }
    int rc = MILLE_OK, rank = c->rank, last = c->size - 1;
    uint64_t m = 0;
    if (rank > 0) { /* merge the chain so far (ascending) with this rank's rows */
        if ((rc = c->recv(c->ud, rank - 1, &m, sizeof m)) || m > B) return rc ? rc : MILLE_EFORMAT;
        if (m && ((rc = c->recv(c->ud, rank - 1, in_rows, m * sizeof *in_rows)) ||
                  (rc = c->recv(c->ud, rank - 1, in_vals, m * D * sizeof *in_vals))))
            return rc;
        /* merge backwards in place into rows/vals: the union has at most n + m rows */
        size_t i = m, j = n, o = 0;
        for (size_t a = 0, b = 0; a < m || b < n; o++) /* count the union */
            if (b == n || (a < m && in_rows[a] < rows[b]))
                a++;
            else if (a == m || rows[b] < in_rows[a])
                b++;
            else
                a++, b++;
        size_t total = o;
        while (i > 0 || j > 0) {
            o--;
            if (j == 0 || (i > 0 && in_rows[i - 1] > rows[j - 1])) {
                i--;
                rows[o] = in_rows[i];
                memmove(vals + o * D, in_vals + i * D, D * sizeof *vals);
            } else if (i == 0 || rows[j - 1] > in_rows[i - 1]) {
                j--;
                rows[o] = rows[j];
                memmove(vals + o * D, vals + j * D, D * sizeof *vals);
            } else { /* both: the chain's sum first, then this rank's delta */
                i--, j--;
                rows[o] = rows[j];
                for (size_t d = 0; d < D; d++)
                    vals[o * D + d] = in_vals[i * D + d] + vals[j * D + d];
            }
        }
        n = total;
    }
    m = n;
    if (rank < last) {
        if ((rc = c->send(c->ud, rank + 1, &m, sizeof m)) ||
            (m && ((rc = c->send(c->ud, rank + 1, rows, m * sizeof *rows)) ||
                   (rc = c->send(c->ud, rank + 1, vals, m * D * sizeof *vals)))))
            return rc;
        *bytes += sizeof m + m * (sizeof *rows + D * sizeof *vals);
    }
    if ((rc = loop_comm_bcast(c, &m, sizeof m, last))) return rc;
    if (m > B) return MILLE_EFORMAT;
    if ((rc = loop_comm_bcast(c, rows, m * sizeof *rows, last)) ||
        (rc = loop_comm_bcast(c, vals, m * D * sizeof *vals, last)))
        return rc;
    if (rank == last) *bytes += sizeof m + m * (sizeof *rows + D * sizeof *vals);
    float inv = 1.0f / (float)c->size;
    for (size_t k = 0; k < m; k++) {
        if (rows[k] >= B) return MILLE_EFORMAT;
        for (size_t d = 0; d < D; d++) {
            size_t i = (size_t)rows[k] * D + d;
            S[i] += vals[k * D + d] * inv;
        }
        memcpy(M + (size_t)rows[k] * D, S + (size_t)rows[k] * D, D * sizeof *M);
    }
    /* rows this rank changed that nobody else did are in the union too: M == S everywhere */
    return MILLE_OK;
}

/* Save E as the embedding of a model file whose supervised parts are untrained, scaled so
 * that its rows have the spread the model's own initialization gives them. */
static int save(const pretrain_params *p, const float *E, const strtab *locales, mille_error *err)
{
    model m;
    model_config cfg = p->cfg;
    cfg.n_intents = 1;
    cfg.n_slots = 1;
    int rc = model_new(&m, &cfg, err);
    if (rc) return rc;
    if (strtab_intern(&m.intents, "none", 4) < 0 || strtab_intern(&m.slots, "Other", 5) < 0 ||
        strtab_intern(&m.scenarios, "none", 4) < 0) {
        model_free(&m);
        return err_set(err, MILLE_ENOMEM, "pretrain: out of memory");
    }
    for (size_t i = 0; i < locales->n && rc == 0; i++) {
        const char *s = strtab_str(locales, i);
        if (strtab_intern(&m.locales, s, strlen(s)) < 0) rc = MILLE_ENOMEM;
    }
    model_init_params(&m, p->seed);
    size_t n = (size_t)cfg.buckets * cfg.dim;
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)E[i] * E[i];
    double rms = sqrt(ss / (double)n), want = 0.5 / sqrt(3.0); /* uniform(+-0.5) */
    float scale = rms > 0 ? (float)(want / rms) : 1;
    float *e = model_tensor(&m, T_EMB);
    for (size_t i = 0; i < n; i++) e[i] = E[i] * scale;
    m.pretrained = 1;
    if (!rc) rc = model_save(&m, p->out, 1, err);
    model_free(&m);
    return rc;
}

/* Call p->progress for epoch ep: this rank has done `done` of its `total` tokens (each of the N
 * ranks as many), with loss_sum over preds predictions; epoch_end as in pretrain_progress. */
static void report(const pretrain_params *p, int ep, unsigned long long done,
                   unsigned long long total, size_t N, double loss_sum, unsigned long long preds,
                   double t_start, double now, int epoch_end)
{
    pretrain_progress pr;
    double d = (double)done / (double)total;
    pr.epoch = ep + 1, pr.epochs = p->epochs, pr.done = d;
    pr.loss = preds ? loss_sum / (double)preds : 0;
    pr.elapsed_s = now - t_start;
    pr.tokens_s = (double)done * (double)N / (now - t_start);
    pr.eta_s = d > 0 ? pr.elapsed_s * (1 - d) / d : 0;
    pr.epoch_end = epoch_end;
    p->progress(p->ud, &pr);
}

int pretrain_run(const pretrain_params *p, pretrain_stats *st, mille_error *err)
{
    double t_start = clock_s();
    pretrain_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (p->epochs < 1 || p->window < 1 || p->neg < 0 || p->lr <= 0 || p->threads < 1 ||
        p->cfg.dim < 1 || p->cfg.dim > 512 || p->n_texts < 1 || !p->out)
        return err_set(err, MILLE_EINVAL,
                       "pretrain: needs texts, an output, epochs/window/threads >= 1, "
                       "dim 1..512, lr > 0");
    corpus c;
    memset(&c, 0, sizeof c);
    links L;
    memset(&L, 0, sizeof L);
    lexicon lx;
    memset(&lx, 0, sizeof lx);
    strtab locales = {0};
    float *E = NULL, *O = NULL;
    uint32_t *order = NULL;
    int rc;
    /* over processes, each reads the texts; a failure before training is agreed on at `out` */
    const loop_comm *comm = p->comm && p->comm->size > 1 ? p->comm : NULL;
    int agreed = 0;
    if ((rc = load_texts(&c, p, st, &locales, err))) goto out;
    if (p->n_lexicons) {
        for (int i = 0; i < p->n_lexicons; i++)
            if ((rc = lexicon_load(&lx, p->lexicons[i], NULL, err))) goto out;
        if ((rc = build_links(&L, &lx, &c, p, st, err))) goto out;
    }
    size_t B = p->cfg.buckets, D = p->cfg.dim;
    E = malloc(B * D * sizeof *E);
    O = calloc(B * D, sizeof *O);
    order = malloc(c.nu * sizeof *order);
    if (!E || !O || !order) {
        rc = err_set(err, MILLE_ENOMEM, "pretrain: out of memory (%zu x %zu rows)", B, D);
        goto out;
    }
    rng r;
    rng_seed(&r, p->seed);
    for (size_t i = 0; i < B * D; i++) E[i] = (float)((rng_uniform(&r) * 2 - 1) / (double)D);
    atomic_ullong done;
    atomic_init(&done, 0);
    atomic_int stop;
    atomic_init(&stop, 0);
    /* over processes: rank r trains its share of each round of an epoch on its own copy, and
     * the copies are averaged after each round (average_copies) */
    int R = comm ? (p->syncs_per_epoch > 0 ? p->syncs_per_epoch : 4) : 1;
    size_t N = (size_t)loop_comm_size(comm), rank = (size_t)loop_comm_rank(comm);
    float *SE = NULL, *SO = NULL, *vals = NULL, *in_vals = NULL;
    uint32_t *rows = NULL, *in_rows = NULL;
    uint64_t sent = 0;
    if (comm) {
        SE = malloc(B * D * sizeof *SE), SO = calloc(B * D, sizeof *SO);
        vals = malloc(B * D * sizeof *vals), in_vals = malloc(B * D * sizeof *vals);
        rows = malloc(B * sizeof *rows), in_rows = malloc(B * sizeof *rows);
        if (!SE || !SO || !vals || !in_vals || !rows || !in_rows)
            rc = err_set(err, MILLE_ENOMEM, "pretrain: out of memory for averaging copies");
        else
            memcpy(SE, E, B * D * sizeof *SE);
    }
    agreed = 1;
    if ((rc = loop_comm_agree(comm, rc, err))) goto out2;
    /* the learning rate decays with this rank's share of the tokens */
    unsigned long long total = (unsigned long long)c.nt * (unsigned long long)p->epochs / N + 1;
    double last = clock_s(), ep_loss = 0;
    unsigned long long ep_preds = 0;
    int stopped = 0;
    for (int ep = 0; ep < p->epochs && !stopped; ep++) {
        for (size_t u = 0; u < c.nu; u++) order[u] = (uint32_t)u;
        shuffle_u32(order, c.nu, p->seed * 1000003u + (uint64_t)ep);
        for (int round = 0; round < R && !stopped; round++) {
            /* this rank's utterances of the round: order[r0 .. r1) */
            size_t g0 = c.nu * (size_t)round / (size_t)R,
                   g1 = c.nu * (size_t)(round + 1) / (size_t)R;
            size_t r0 = g0 + (g1 - g0) * rank / N, r1 = g0 + (g1 - g0) * (rank + 1) / N;
            enum { MAXT = 16 };
            pthread_t th[MAXT];
            job jobs[MAXT];
            int T = p->threads < MAXT ? p->threads : MAXT, started = 0;
            for (int i = 0; i < T; i++) {
                jobs[i] = (job){p,
                                &c,
                                p->n_lexicons ? &L : NULL,
                                E,
                                O,
                                order,
                                r0 + (r1 - r0) * (size_t)i / (size_t)T,
                                r0 + (r1 - r0) * (size_t)(i + 1) / (size_t)T,
                                ep,
                                &done,
                                total,
                                0,
                                0,
                                &stop};
                if (i > 0 && pthread_create(&th[i], NULL, train_thread, &jobs[i]) == 0)
                    started |= 1 << i;
            }
            /* thread 0 is this one, in slices so that it can report progress */
            job *j0 = &jobs[0];
            size_t end0 = j0->u1;
            while (j0->u0 < end0) {
                j0->u1 = j0->u0 + 512 < end0 ? j0->u0 + 512 : end0;
                train_thread(j0);
                j0->u0 = j0->u1;
                double tn = clock_s();
                if (p->time_budget > 0 && tn - t_start >= p->time_budget) atomic_store(&stop, 1);
                if (atomic_load(&stop)) break;
                if (p->progress && rank == 0 && tn - last >= 0.5) {
                    report(p, ep, atomic_load(&done), total, N, j0->loss, j0->preds, t_start, tn,
                           0);
                    last = tn;
                }
            }
            for (int i = 1; i < T; i++)
                if (started & (1 << i))
                    pthread_join(th[i], NULL);
                else
                    train_thread(&jobs[i]); /* could not start it: do its share here */
            double loss_sum = 0;
            unsigned long long preds = 0;
            for (int i = 0; i < T; i++) loss_sum += jobs[i].loss, preds += jobs[i].preds;
            if (round == 0) ep_loss = 0, ep_preds = 0;
            ep_loss += loss_sum, ep_preds += preds;
            stopped = atomic_load(&stop);
            if (comm) { /* average the copies; stop together (time budget) */
                int over = stopped;
                int64_t v[1] = {over};
                if ((rc = average_copies(comm, E, SE, B, D, rows, vals, in_rows, in_vals, &sent)) ||
                    (rc = average_copies(comm, O, SO, B, D, rows, vals, in_rows, in_vals, &sent)) ||
                    (rc = comm->allreduce_i64(comm->ud, v, 1, LOOP_OP_MAX))) {
                    rc = err_set(err, rc, "pretrain: rank %zu: averaging the copies failed", rank);
                    goto out2;
                }
                stopped = (int)v[0];
                atomic_store(&stop, stopped);
            }
        }
        if (p->progress && rank == 0 && !stopped) { /* one line per epoch, however short */
            last = clock_s();
            report(p, ep, atomic_load(&done), total, N, ep_loss, ep_preds, t_start, last, 1);
        }
        st->loss = ep_preds ? ep_loss / (double)ep_preds : 0;
    }
    st->comm_bytes = sent;
    /* every rank holds the same copy: rank 0 writes it */
    if (rank == 0) rc = save(p, E, &locales, err);
    rc = loop_comm_agree(comm, rc, err);
out2:
    free(SE), free(SO), free(vals), free(in_vals), free(rows), free(in_rows);
out:
    if (!agreed) rc = loop_comm_agree(comm, rc, err);
    st->seconds = clock_s() - t_start;
    free(E);
    free(O);
    free(order);
    corpus_free(&c);
    links_free(&L);
    lexicon_free(&lx);
    strtab_free(&locales);
    return rc;
}
