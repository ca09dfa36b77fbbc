/*
 * distill.c - teacher-student distillation (see distill.h).
 *
 * Stages: load the labeled data (train.c), add perturbed copies (augment.c) and unlabeled
 * text, let the teachers label every training item (intent distribution at temperature T,
 * CRF unary and pairwise marginals, averaged over teachers, mixed with gold, sparsified),
 * then train the student in the one training loop (loop.c) with model_backward_soft.
 *
 * Determinism: items are labeled in fixed chunks of LABEL_CHUNK (their content does not
 * depend on the thread count), and each thread takes a contiguous run of chunks, so the
 * targets are the same for any number of threads; the student's training is the loop's.
 */
#define _POSIX_C_SOURCE 200809L
#include "distill.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "crf.h"
#include "kern.h"
#include "lexicon.h"
#include "loop.h"

#define LABEL_CHUNK 64

distill_params distill_default_params(void)
{
    distill_params p;
    memset(&p, 0, sizeof p);
    p.tp = train_default_params();
    p.temp = 2.0f;
    p.alpha = 0.5f;
    p.beta = 0.5f;
    p.copies = 1;
    p.aug = aug_default_opts();
    p.copy_gold = 1;
    p.min_p = 1e-3f;
    return p;
}

static void note(const distill_params *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const distill_params *p, const char *fmt, ...)
{
    if (!p->note) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    p->note(p->tp.ud, buf);
}

/* ---- what the student learns from ---------------------------------------------------------- */

/* Item k of an epoch: record rec[k] of the data set; its intent target intent[k*I ..], gold
 * flag gold[k], slot target entries ent[ioff[k] .. ioff[k+1]) of which word w (a global
 * word index) has wn[w], in word order. */
typedef struct targets {
    size_t n, I;
    uint32_t *rec;
    uint8_t *gold;
    float *intent;
    uint64_t *ioff;
    uint32_t *wn;
    crf_entry *ent;
    size_t n_ent;
} targets;

static void targets_free(targets *t)
{
    free(t->rec);
    free(t->gold);
    free(t->intent);
    free(t->ioff);
    free(t->wn);
    free(t->ent);
    memset(t, 0, sizeof *t);
}

/* Add one unlabeled utterance (its words by MASSIVE's rules) to ds as a record like `like`
 * with locale loc and partition part. Returns 1 if added, 0 if it has no words. */
static int add_unlabeled(data_set *ds, const data_record *like, uint32_t loc, uint32_t part,
                         const char *s, size_t n, annot_word **aw, size_t *cap_aw, data_word **dw,
                         size_t *cap_dw, mille_error *err)
{
    const char *ln = strtab_str(&ds->locales, loc);
    if (vec_reserve((void **)aw, cap_aw, n + 1, sizeof **aw) ||
        vec_reserve((void **)dw, cap_dw, n + 1, sizeof **dw))
        return err_set(err, MILLE_ENOMEM, "distill: out of memory");
    int nw = annot_words(s, n, annot_char_split(ln, strlen(ln)), *aw, &ds->scratch, err);
    if (nw <= 0) return nw;
    for (int k = 0; k < nw; k++) (*dw)[k] = (data_word){(*aw)[k].start, (*aw)[k].end, DATA_OTHER};
    data_record r = *like;
    r.locale = loc;
    int rc = data_add_words(ds, &r, part, s, n, *dw, (size_t)nw, err);
    return rc ? rc : 1;
}

static int load_unlabeled(const distill_params *p, data_set *ds, const data_record *like,
                          size_t *added, mille_error *err)
{
    int64_t part = strtab_intern(&ds->partitions, "unlabeled", 9);
    if (part < 0) return err_set(err, MILLE_ENOMEM, "distill: out of memory");
    annot_word *aw = NULL;
    data_word *dw = NULL;
    size_t cap_aw = 0, cap_dw = 0;
    int rc = MILLE_OK;
    for (int f = 0; f < p->n_unlabeled && !rc; f++) {
        const char *path = p->unlabeled[f];
        if (data_is_massive_path(path)) {
            data_set ux = {0};
            data_opts o = data_default_opts();
            o.mode = DATA_TEXT;
            o.locales = p->tp.locales;
            o.on_skip = p->tp.on_skip;
            o.ud = p->tp.ud;
            if (!(rc = data_load(&ux, path, &o, err)))
                for (size_t i = 0; i < ux.n && !rc; i++) {
                    const data_record *r = &ux.recs[i];
                    const char *l = strtab_str(&ux.locales, r->locale);
                    int64_t loc = strtab_intern(&ds->locales, l, strlen(l));
                    if (loc < 0) {
                        rc = err_set(err, MILLE_ENOMEM, "distill: out of memory");
                        break;
                    }
                    int k = add_unlabeled(ds, like, (uint32_t)loc, (uint32_t)part,
                                          data_str(&ux, r->utt), r->utt_len, &aw, &cap_aw, &dw,
                                          &cap_dw, err);
                    if (k < 0) {
                        err_prefix(err, "%s:%u", path, r->line);
                        rc = k;
                    } else {
                        *added += (size_t)k;
                    }
                }
            data_free(&ux);
            continue;
        }
        char locale[6];
        if (!data_path_locale(path, locale)) {
            rc = err_set(err, MILLE_EINVAL,
                         "%s: a text file of unlabeled utterances must be named like its locale "
                         "(ja-JP.txt, fr-FR.txt.gz), or be MASSIVE data",
                         path);
            break;
        }
        if (!data_list_has(p->tp.locales, locale, 5)) continue;
        int64_t loc = strtab_intern(&ds->locales, locale, 5);
        char *text = NULL;
        size_t len = 0;
        if (loc < 0) rc = err_set(err, MILLE_ENOMEM, "distill: out of memory");
        if (!rc) rc = file_read_gz(path, SIZE_MAX, (size_t)1 << 31, &text, &len, err);
        size_t lineno = 0;
        for (size_t i = 0; !rc && i < len;) {
            size_t e = i;
            while (e < len && text[e] != '\n') e++;
            lineno++;
            size_t n = e - i;
            if (n && text[i + n - 1] == '\r') n--;
            int k = add_unlabeled(ds, like, (uint32_t)loc, (uint32_t)part, text + i, n, &aw,
                                  &cap_aw, &dw, &cap_dw, err);
            if (k < 0) {
                err_prefix(err, "%s:%zu", path, lineno);
                rc = k;
            } else {
                *added += (size_t)k;
            }
            i = e + 1;
        }
        free(text);
    }
    free(aw);
    free(dw);
    return rc;
}

/* ---- the teachers -------------------------------------------------------------------------- */

typedef struct teacher {
    model m;
    featset fs;
    uint32_t *imap, *smap; /* teacher intent / slot id -> data set id */
    double *expA;
    crf_trans tr;
} teacher;

static void teacher_free(teacher *t)
{
    model_free(&t->m);
    featset_free(&t->fs);
    free(t->imap);
    free(t->smap);
    free(t->expA);
    memset(t, 0, sizeof *t);
}

/* Map a teacher's labels to the data set's by name: a teacher label the data does not know
 * is an error (the student could not learn it). */
static int teacher_maps(teacher *t, const char *path, const data_set *ds, mille_error *err)
{
    const model *m = &t->m;
    size_t miss;
    int rc = strtab_map(&m->intents, &ds->intents, &t->imap, &miss);
    if (rc == MILLE_ENOTFOUND)
        return err_set(err, MILLE_EINVAL, "teacher %s: intent \"%s\" is not in the data", path,
                       strtab_str(&m->intents, miss));
    if (!rc) rc = strtab_map(&m->slots, &ds->slots, &t->smap, &miss);
    if (rc == MILLE_ENOTFOUND)
        return err_set(err, MILLE_EINVAL, "teacher %s: slot \"%s\" is not in the data", path,
                       strtab_str(&m->slots, miss));
    t->expA = malloc((size_t)m->cfg.n_slots * m->cfg.n_slots * sizeof *t->expA);
    if (rc || !t->expA) return err_set(err, MILLE_ENOMEM, "distill: out of memory");
    t->tr.expA = t->expA;
    crf_prepare(&t->tr, model_tensor(m, T_TRANS), m->cfg.n_slots);
    return MILLE_OK;
}

typedef struct label_job {
    const distill_params *p;
    const data_set *ds;
    const teacher *tch;
    int nt;
    targets *tg;
    size_t c0, c1; /* chunks */
    crf_entry *ent;
    size_t n_ent, cap_ent;
    uint64_t *icount; /* (tg->n) entries of each item (global, disjoint writes) */
    int rc;
} label_job;

/* Keep the entries of one distribution (n values, sum 1) at or above min_p, renormalized.
 * from: CRF_UNARY, or the pair's first label (then v is a row-major (S,S) table). */
static int push_entries(label_job *j, const double *v, size_t S, int pair, uint32_t *count)
{
    double kept = 0;
    size_t n = pair ? S * S : S, n0 = j->n_ent;
    for (size_t k = 0; k < n; k++)
        if (v[k] >= j->p->min_p) kept += v[k];
    for (size_t k = 0; k < n; k++) {
        if (v[k] < j->p->min_p) continue;
        if (vec_reserve((void **)&j->ent, &j->cap_ent, j->n_ent + 1, sizeof *j->ent))
            return MILLE_ENOMEM;
        j->ent[j->n_ent++] = (crf_entry){pair ? (uint16_t)(k / S) : CRF_UNARY,
                                         (uint16_t)(pair ? k % S : k), (float)(v[k] / kept)};
    }
    *count += (uint32_t)(j->n_ent - n0);
    return MILLE_OK;
}

static void *label_worker(void *arg)
{
    label_job *j = arg;
    const distill_params *p = j->p;
    const data_set *ds = j->ds;
    targets *tg = j->tg;
    size_t I = tg->I, S = ds->slots.n, nt = (size_t)j->nt;
    batch b[DISTILL_MAX_TEACHERS];
    model_ws ws[DISTILL_MAX_TEACHERS];
    memset(b, 0, sizeof b);
    memset(ws, 0, sizeof ws);
    int *tagbuf = NULL;
    double *un = NULL, *pr = NULL, *tun = NULL, *tpr = NULL, *scr = NULL;
    size_t cap_tag = 0, cap_un = 0, cap_pr = 0, cap_tun = 0, cap_tpr = 0, cap_scr = 0;
    double *acc = calloc(I, sizeof *acc);
    if (!acc) j->rc = MILLE_ENOMEM;
    for (size_t c = j->c0; c < j->c1 && !j->rc; c++) {
        size_t i0 = c * LABEL_CHUNK, i1 = i0 + LABEL_CHUNK < tg->n ? i0 + LABEL_CHUNK : tg->n;
        for (size_t t = 0; t < nt && !j->rc; t++) {
            batch_clear(&b[t]);
            for (size_t i = i0; i < i1 && !j->rc; i++) {
                const data_record *rec = &ds->recs[tg->rec[i]];
                if (vec_reserve((void **)&tagbuf, &cap_tag, rec->n_words + 1, sizeof *tagbuf) ||
                    train_batch_add(&b[t], ds, &j->tch[t].fs, tg->rec[i], NULL, NULL, tagbuf))
                    j->rc = MILLE_ENOMEM;
            }
            if (!j->rc && model_forward(&j->tch[t].m, &b[t], &ws[t])) j->rc = MILLE_ENOMEM;
        }
        for (size_t i = i0; i < i1 && !j->rc; i++) {
            size_t u = i - i0;
            const data_record *rec = &ds->recs[tg->rec[i]];
            size_t T = rec->n_words;
            /* intent: the teachers' distributions at temperature T, averaged */
            memset(acc, 0, I * sizeof *acc);
            for (size_t t = 0; t < nt; t++) {
                const teacher *th = &j->tch[t];
                size_t It = th->m.cfg.n_intents;
                const float *l = ws[t].L + u * It;
                double mx = l[0], z = 0;
                for (size_t k = 1; k < It; k++)
                    if (l[k] > mx) mx = l[k];
                for (size_t k = 0; k < It; k++) z += exp(((double)l[k] - mx) / p->temp);
                for (size_t k = 0; k < It; k++)
                    acc[th->imap[k]] += exp(((double)l[k] - mx) / p->temp) / z / (double)nt;
            }
            for (size_t k = 0; k < I; k++) tg->intent[i * I + k] = (float)acc[k];
            /* slots: marginals of the teachers' mixture, mixed with gold */
            if (vec_reserve((void **)&un, &cap_un, T * S, sizeof *un) ||
                vec_reserve((void **)&pr, &cap_pr, T * S * S, sizeof *pr)) {
                j->rc = MILLE_ENOMEM;
                break;
            }
            memset(un, 0, T * S * sizeof *un);
            memset(pr, 0, T * S * S * sizeof *pr);
            for (size_t t = 0; t < nt && !j->rc; t++) {
                const teacher *th = &j->tch[t];
                size_t St = th->m.cfg.n_slots, a = b[t].utt_off[u];
                if (vec_reserve((void **)&tun, &cap_tun, T * St, sizeof *tun) ||
                    vec_reserve((void **)&tpr, &cap_tpr, T * St * St, sizeof *tpr) ||
                    vec_reserve((void **)&scr, &cap_scr, crf_scratch_doubles(T, St), sizeof *scr)) {
                    j->rc = MILLE_ENOMEM;
                    break;
                }
                crf_marginals(ws[t].E + a * St, &th->tr, model_tensor(&th->m, T_START),
                              model_tensor(&th->m, T_END), T, tun, tpr, scr);
                for (size_t w = 0; w < T; w++)
                    for (size_t s = 0; s < St; s++) {
                        un[w * S + th->smap[s]] += tun[w * St + s] / (double)nt;
                        if (w + 1 < T)
                            for (size_t s2 = 0; s2 < St; s2++)
                                pr[(w * S + th->smap[s]) * S + th->smap[s2]] +=
                                    tpr[(w * St + s) * St + s2] / (double)nt;
                    }
            }
            if (j->rc) break;
            if (tg->gold[i]) {
                double beta = p->beta;
                const data_word *wd = ds->words + rec->word0;
                for (size_t k = 0; k < T * S; k++) un[k] *= beta;
                for (size_t k = 0; T > 1 && k < (T - 1) * S * S; k++) pr[k] *= beta;
                for (size_t w = 0; w < T; w++) {
                    un[w * S + wd[w].label] += 1 - beta;
                    if (w + 1 < T) pr[(w * S + wd[w].label) * S + wd[w + 1].label] += 1 - beta;
                }
            }
            /* word w's entries: its unary ones, then the pair (w-1, w) */
            uint64_t before = j->n_ent;
            for (size_t w = 0; w < T && !j->rc; w++) {
                uint32_t *cnt = &tg->wn[rec->word0 + w];
                *cnt = 0;
                if (push_entries(j, un + w * S, S, 0, cnt) ||
                    (w && push_entries(j, pr + (w - 1) * S * S, S, 1, cnt)))
                    j->rc = MILLE_ENOMEM;
            }
            j->icount[i] = j->n_ent - before;
        }
    }
    for (size_t t = 0; t < DISTILL_MAX_TEACHERS; t++) {
        batch_free(&b[t]);
        model_ws_free(&ws[t]);
    }
    free(acc);
    free(tagbuf);
    free(un);
    free(pr);
    free(tun);
    free(tpr);
    free(scr);
    return NULL;
}

/* Every teacher labels every item: tg->intent and the slot entries. */
static int label_items(const distill_params *p, const data_set *ds, const teacher *tch, int nt,
                       targets *tg, mille_error *err)
{
    int T = p->tp.threads < 1 ? 1 : p->tp.threads > 64 ? 64 : p->tp.threads;
    size_t chunks = (tg->n + LABEL_CHUNK - 1) / LABEL_CHUNK;
    label_job jobs[64];
    pthread_t tid[64];
    int started[64] = {0};
    uint64_t *icount = calloc(tg->n + 1, sizeof *icount);
    if (!icount) return err_set(err, MILLE_ENOMEM, "distill: out of memory");
    for (int t = 0; t < T; t++) {
        jobs[t] = (label_job){p,
                              ds,
                              tch,
                              nt,
                              tg,
                              chunks * (size_t)t / (size_t)T,
                              chunks * (size_t)(t + 1) / (size_t)T,
                              NULL,
                              0,
                              0,
                              icount,
                              0};
        if (t) started[t] = pthread_create(&tid[t], NULL, label_worker, &jobs[t]) == 0;
    }
    label_worker(&jobs[0]);
    for (int t = 1; t < T; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            label_worker(&jobs[t]);
    }
    int rc = MILLE_OK;
    size_t total = 0;
    for (int t = 0; t < T; t++) {
        if (jobs[t].rc) rc = jobs[t].rc;
        total += jobs[t].n_ent;
    }
    if (!rc && !(tg->ent = malloc((total + 1) * sizeof *tg->ent))) rc = MILLE_ENOMEM;
    for (int t = 0; t < T; t++) { /* threads cover chunks in order: concatenate */
        if (!rc) memcpy(tg->ent + tg->n_ent, jobs[t].ent, jobs[t].n_ent * sizeof *tg->ent);
        tg->n_ent += jobs[t].n_ent;
        free(jobs[t].ent);
    }
    tg->ioff[0] = 0;
    for (size_t i = 0; i < tg->n; i++) tg->ioff[i + 1] = tg->ioff[i] + icount[i];
    free(icount);
    if (rc) return err_set(err, rc, "distill: labeling failed (out of memory)");
    return MILLE_OK;
}

/* ---- the objective: soft targets ----------------------------------------------------------- */

typedef struct soft_obj {
    const distill_params *p;
    const train_data *td;
    const targets *tg;
} soft_obj;

typedef struct soft_scratch {
    int *tagbuf;
    float *intent;
    uint8_t *gold;
    uint32_t *eoff;
    crf_entry *ent;
    size_t cap_tag, cap_int, cap_gold, cap_eoff, cap_ent;
} soft_scratch;

static void soft_shard(void *ud, const model *m, const crf_trans *tr, loop_shard *h,
                       const uint32_t *items, size_t n, float scale)
{
    soft_obj *o = ud;
    const targets *tg = o->tg;
    const data_set *ds = &o->td->ds;
    size_t I = tg->I, n_ent = 0;
    soft_scratch *sc = h->scratch;
    if (!sc && !(sc = h->scratch = calloc(1, sizeof *sc))) goto oom;
    if (vec_reserve((void **)&sc->intent, &sc->cap_int, n * I, sizeof *sc->intent) ||
        vec_reserve((void **)&sc->gold, &sc->cap_gold, n, 1))
        goto oom;
    for (size_t i = 0; i < n; i++) {
        uint32_t it = items[i], r = tg->rec[it];
        const data_record *rec = &ds->recs[r];
        size_t w0 = h->b.n_words;
        if (vec_reserve((void **)&sc->tagbuf, &sc->cap_tag, rec->n_words + 1, sizeof *sc->tagbuf) ||
            train_batch_add(&h->b, ds, &o->td->fs, r, NULL, NULL, sc->tagbuf) ||
            vec_reserve((void **)&sc->eoff, &sc->cap_eoff, h->b.n_words + 1, sizeof *sc->eoff))
            goto oom;
        memcpy(sc->intent + i * I, tg->intent + (size_t)it * I, I * sizeof *sc->intent);
        sc->gold[i] = tg->gold[it];
        size_t k = n_ent, e = tg->ioff[it], ne = tg->ioff[it + 1] - e;
        if (vec_reserve((void **)&sc->ent, &sc->cap_ent, n_ent + ne + 1, sizeof *sc->ent)) goto oom;
        memcpy(sc->ent + n_ent, tg->ent + e, ne * sizeof *sc->ent);
        for (uint32_t w = 0; w < rec->n_words; w++) {
            sc->eoff[w0 + w] = (uint32_t)k;
            k += tg->wn[rec->word0 + w];
        }
        n_ent += ne;
    }
    sc->eoff[h->b.n_words] = (uint32_t)n_ent;
    if (vec_reserve((void **)&h->dX, &h->dX_cap, h->b.n_words * m->cfg.dim, sizeof *h->dX) ||
        model_forward(m, &h->b, &h->ws))
        goto oom;
    model_soft s = {sc->intent, o->p->temp, o->p->alpha, sc->gold, sc->eoff, sc->ent};
    h->loss = model_backward_soft(m, &h->b, &h->ws, tr, &s, scale, h->g, h->dX);
    return;
oom:
    h->rc = MILLE_ENOMEM;
}

static void soft_shard_free(void *ud, loop_shard *h)
{
    (void)ud;
    soft_scratch *sc = h->scratch;
    if (sc) {
        free(sc->tagbuf);
        free(sc->intent);
        free(sc->gold);
        free(sc->eoff);
        free(sc->ent);
    }
    free(sc);
    h->scratch = NULL;
}

static int soft_evaluate(void *ud, const model *m, eval_metrics *em, mille_error *err)
{
    soft_obj *o = ud;
    return train_evaluate_comm(m, o->td, o->p->tp.threads, o->p->tp.comm, em, err);
}

/* The student's run (train_fingerprint) plus what distillation adds: its settings and the
 * teachers, unlabeled files and lexicons. */
static uint64_t distill_fingerprint(const distill_params *p, const model *m, size_t n_items)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "distill|%g|%g|%g|%d|%g", (double)p->temp, (double)p->alpha,
                     (double)p->beta, p->copies, (double)p->min_p);
    uint64_t h = hash_more(train_fingerprint(&p->tp, m, n_items), buf, (size_t)(n > 0 ? n : 0));
    for (int i = 0; i < p->n_teachers; i++)
        h = hash_more(h, p->teachers[i], strlen(p->teachers[i]));
    for (int i = 0; i < p->n_unlabeled; i++)
        h = hash_more(h, p->unlabeled[i], strlen(p->unlabeled[i]));
    for (int i = 0; i < p->n_lexicons; i++)
        h = hash_more(h, p->lexicons[i], strlen(p->lexicons[i]));
    return h;
}

/* ---- the run ------------------------------------------------------------------------------- */

int distill_run(const distill_params *p, eval_metrics *best_dev, distill_stats *st,
                mille_error *err)
{
    kern_init();
    double t0 = clock_s();
    distill_stats stats;
    memset(&stats, 0, sizeof stats);
    if (!st) st = &stats;
    memset(st, 0, sizeof *st);
    if (p->n_teachers < 1 || p->n_teachers > DISTILL_MAX_TEACHERS)
        return err_set(err, MILLE_EINVAL, "distill: give 1 to %d teachers (got %d)",
                       DISTILL_MAX_TEACHERS, p->n_teachers);
    if (!(p->temp > 0) || p->alpha < 0 || p->alpha > 1 || p->beta < 0 || p->beta > 1 ||
        p->copies < 0 || p->min_p < 0 || p->min_p >= 0.5f)
        return err_set(err, MILLE_EINVAL,
                       "distill: need temperature > 0, alpha and beta in [0, 1], copies >= 0, "
                       "0 <= min-p < 0.5");
    int rc;
    train_data td;
    model m;
    memset(&m, 0, sizeof m);
    lexicon lx;
    memset(&lx, 0, sizeof lx);
    targets tg;
    memset(&tg, 0, sizeof tg);
    teacher tch[DISTILL_MAX_TEACHERS];
    memset(tch, 0, sizeof tch);
    aug_scratch as;
    memset(&as, 0, sizeof as);
    /* over processes, each labels every item itself; a failure before the loop is agreed on
     * at `out` so that no rank waits for one that has given up */
    int agreed = 0;
    if ((rc = train_data_load(&p->tp, &td, err))) goto out;
    data_set *ds = &td.ds;
    for (int i = 0; i < p->n_lexicons; i++)
        if ((rc = lexicon_load(&lx, p->lexicons[i], NULL, err))) goto out;

    /* items: the labeled training records, their perturbed copies, unlabeled text */
    size_t cap = td.n_train * (size_t)(1 + p->copies) + 1;
    tg.rec = malloc(cap * sizeof *tg.rec);
    tg.gold = malloc(cap);
    if (!tg.rec || !tg.gold) goto oom;
    for (size_t i = 0; i < td.n_train; i++) tg.rec[i] = td.train_idx[i], tg.gold[i] = 1;
    tg.n = st->labeled = td.n_train;
    int64_t part_aug = strtab_intern(&ds->partitions, "augmented", 9);
    if (part_aug < 0) goto oom;
    aug_opts ao = p->aug;
    ao.lx = lx.keys.n ? &lx : NULL;
    for (int c = 0; c < p->copies; c++)
        for (size_t i = 0; i < td.n_train; i++) {
            uint64_t key[3] = {p->tp.seed, (uint64_t)c, (uint64_t)i};
            rng g;
            rng_seed(&g, hash_bytes(key, sizeof key));
            int k = aug_perturb(ds, td.train_idx[i], (uint32_t)part_aug, &g, &ao, &as, err);
            if (k < 0) {
                rc = k;
                goto out;
            }
            if (k)
                tg.rec[tg.n] = (uint32_t)(ds->n - 1),
                tg.gold[tg.n++] = (uint8_t)(p->copy_gold != 0), st->copies++;
        }
    size_t before = ds->n;
    data_record like = ds->recs[td.train_idx[0]];
    if ((rc = load_unlabeled(p, ds, &like, &st->unlabeled, err))) goto out;
    if (st->unlabeled) {
        uint32_t *r2 = realloc(tg.rec, (tg.n + st->unlabeled) * sizeof *tg.rec);
        if (!r2) goto oom;
        tg.rec = r2;
        uint8_t *g2 = realloc(tg.gold, tg.n + st->unlabeled);
        if (!g2) goto oom;
        tg.gold = g2;
        for (size_t r = before; r < ds->n; r++) tg.rec[tg.n] = (uint32_t)r, tg.gold[tg.n++] = 0;
    }
    note(p, "items: %zu labeled, %zu perturbed copies, %zu unlabeled (%.0f s)", st->labeled,
         st->copies, st->unlabeled, clock_s() - t0);

    /* the student's features; then the teachers label every item */
    if ((rc = train_model_new(&p->tp, ds, &m, err))) goto out;
    if ((rc = featset_build(&td.fs, ds, &m.cfg, p->tp.threads, err))) goto out;
    double tl = clock_s();
    tg.I = m.cfg.n_intents;
    tg.intent = malloc(tg.n * tg.I * sizeof *tg.intent);
    tg.ioff = malloc((tg.n + 1) * sizeof *tg.ioff);
    tg.wn = calloc(ds->n_words + 1, sizeof *tg.wn);
    if (!tg.intent || !tg.ioff || !tg.wn) goto oom;
    for (int t = 0; t < p->n_teachers; t++) {
        if ((rc = model_load(&tch[t].m, p->teachers[t], err))) goto out;
        if (tch[t].m.pretrained) {
            rc = err_set(err, MILLE_EINVAL,
                         "teacher %s: a pretrained embedding, not a trained "
                         "model",
                         p->teachers[t]);
            goto out;
        }
        if ((rc = teacher_maps(&tch[t], p->teachers[t], ds, err)) ||
            (rc = featset_build(&tch[t].fs, ds, &tch[t].m.cfg, p->tp.threads, err)))
            goto out;
    }
    if ((rc = label_items(p, ds, tch, p->n_teachers, &tg, err))) goto out;
    for (int t = 0; t < p->n_teachers; t++) teacher_free(&tch[t]);
    st->entries = tg.n_ent;
    st->label_s = clock_s() - tl;
    note(p, "teachers: %d labeled %zu utterances in %.0f s (%.2f slot target entries per word)",
         p->n_teachers, tg.n, st->label_s,
         (double)tg.n_ent / (double)(ds->n_words ? ds->n_words : 1));

    double ts = clock_s();
    char ckpt_path[4096];
    train_ckpt_path(&p->tp, ckpt_path, sizeof ckpt_path);
    soft_obj so = {p, &td, &tg};
    loop_objective obj = {&so, tg.n, soft_shard, td.n_dev ? soft_evaluate : NULL, soft_shard_free};
    agreed = 1;
    if ((rc = loop_comm_agree(p->tp.comm, rc, err))) goto out;
    if ((rc = loop_run(&p->tp, &m, &obj, distill_fingerprint(p, &m, tg.n), ckpt_path, t0, best_dev,
                       err)))
        goto out;
    st->train_s = clock_s() - ts;
    /* the student's own temperature and threshold on the dev records, as mille train does;
     * every rank holds the same student: rank 0 writes it */
    rc = train_calibrate(&p->tp, &m, &td, err);
    if (!rc && loop_comm_rank(p->tp.comm) == 0) rc = model_save(&m, p->tp.out, p->tp.half, err);
    rc = loop_comm_agree(p->tp.comm, rc, err);
    goto out;
oom:
    rc = err_set(err, MILLE_ENOMEM, "distill: out of memory");
out:
    if (!agreed) rc = loop_comm_agree(p->tp.comm, rc, err);
    for (int t = 0; t < DISTILL_MAX_TEACHERS; t++) teacher_free(&tch[t]);
    aug_scratch_free(&as);
    targets_free(&tg);
    lexicon_free(&lx);
    model_free(&m);
    train_data_free(&td);
    return rc;
}
