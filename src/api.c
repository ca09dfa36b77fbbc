/*
 * api.c - the public API of include/mille.h on top of model.c: load a model, open sessions,
 * parse utterances (one, or a batch in one forward pass) into intent, top-k, slots with byte
 * offsets into the caller's text, and a MASSIVE-format annotation.
 *
 * A parse: validate UTF-8 and locale -> MASSIVE words (whitespace; characters in ja/zh,
 * chosen by the locale or, without one, by the text's script) -> hashed features per word ->
 * one forward pass over every valid input -> intent softmax and CRF Viterbi -> runs of one
 * slot label become one slot.
 *
 * Results of a batch live in session arrays shared by all its inputs (words, tags, slots,
 * annotations); the result pointers are set only once every input is done, because the
 * arrays may move while they grow.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crf.h"
#include "data.h"
#include "kern.h"
#include "langid.h"
#include "learn.h"
#include "model.h"
#include "text.h"

/* A model, or an ensemble: m is then its first member, whose label tables are the
 * ensemble's, and more[] the others, with their labels mapped to m's by name. */
typedef struct member {
    model m;
    uint32_t *imap, *smap; /* member intent / slot id -> m's */
} member;

struct mille_model {
    model m;
    member *more;
    size_t n_more;
    crf_trans *tr; /* (1 + n_more) prepared CRF transitions: ensembles decode by marginals */
    int64_t oos;   /* id of the out-of-scope intent ("oos"), -1 when the model has none */
};

/* Where one input's results sit in the session arrays. */
typedef struct item {
    int code;       /* 0 or the MILLE_E* of this input                          */
    int char_split; /* words are characters (ja/zh)                              */
    size_t word0, n_words, slot0, n_slots, annot0;
    int64_t lid; /* the locale identified for it (id in the head), -1: none was      */
    float lid_p; /* its probability                                                  */
} item;

struct mille_session {
    const mille_model *mm;
    size_t max_text;
    size_t max_words, max_batch_words; /* word limits (mille.h): bound the workspace */
    int strict_locale;
    float reject_below; /* threshold of rejection, or MILLE_REJECT_MODEL */
    batch b;
    model_ws ws;
    feat_scratch fsc;
    annot_scratch sc;
    annot_word *words; /* every input's words */
    size_t cap_words;
    uint32_t *feats, *foff; /* one input's features (batch_add copies them) */
    size_t cap_feats, cap_foff;
    int *tags; /* (N) */
    size_t cap_tags;
    uint32_t *intent; /* (U) */
    float *prob;
    size_t cap_intent, cap_prob;
    mille_slot *slots;
    size_t cap_slots;
    mille_intent_score *top; /* (U, MILLE_TOP_K) */
    size_t cap_top;
    char *annot; /* every input's annotation, NUL-terminated one after another */
    size_t cap_annot;
    item *items;
    size_t cap_items;
    /* ensembles: each further member's batch and workspace, and the averaged distributions */
    batch *bm;
    model_ws *wsm;
    float *lavg; /* (U, I) log of the averaged intent probabilities */
    size_t cap_lavg;
    double *un, *uk, *scr; /* (T, S) averaged marginals, one member's, CRF scratch */
    size_t cap_un, cap_uk, cap_scr;
    const struct mille_rewrites *rw; /* applied by mille_parse_rewrite (may be NULL) */
    text_buf rw_tb;                  /* scratch of the rewrite lookup */
    /* language identification (langid.h): a one-utterance batch for the encoder features,
     * dense features, probabilities; items of the last call */
    batch lb;
    model_ws lws;
    float *lx, *lp; /* (F) (K) */
    size_t cap_lx, cap_lp, n_items;
};

MILLE_API int mille_model_load(const char *path, mille_model **out, mille_error *err)
{
    if (!out) return err_set(err, MILLE_EINVAL, "mille_model_load: out is NULL");
    *out = NULL;
    if (!path) return err_set(err, MILLE_EINVAL, "model path is NULL");
    kern_init(); /* BLAS must not spin threads of its own under ours */
    mille_model *mm = calloc(1, sizeof *mm);
    if (!mm) return err_set(err, MILLE_ENOMEM, "out of memory");
    int rc = model_load(&mm->m, path, err);
    if (rc) {
        free(mm);
        return rc;
    }
    if (mm->m.pretrained) {
        model_free(&mm->m);
        free(mm);
        return err_set(err, MILLE_EFORMAT,
                       "%s: a pretrained embedding (mille pretrain), not a trained model: "
                       "train one with mille train --init %s",
                       path, path);
    }
    mm->oos = strtab_find(&mm->m.intents, "oos", 3); /* calib.h: CALIB_OOS_INTENT */
    *out = mm;
    return MILLE_OK;
}

MILLE_API void mille_model_free(mille_model *mm)
{
    if (!mm) return;
    model_free(&mm->m);
    for (size_t k = 0; k < mm->n_more; k++) {
        model_free(&mm->more[k].m);
        free(mm->more[k].imap);
        free(mm->more[k].smap);
    }
    free(mm->more);
    if (mm->tr)
        for (size_t k = 0; k <= mm->n_more; k++) free(mm->tr[k].expA);
    free(mm->tr);
    free(mm);
}

/* Map table `from` (a member's labels) to `to` (the ensemble's) by name. */
static int map_labels(const strtab *from, const strtab *to, uint32_t **out, const char *what,
                      const char *path, mille_error *err)
{
    size_t miss;
    int rc = strtab_map(from, to, out, &miss);
    if (rc == MILLE_ENOTFOUND)
        return err_set(err, MILLE_EFORMAT, "%s: %s \"%s\" is not one of the first model's", path,
                       what, strtab_str(from, miss));
    return rc ? err_set(err, rc, "out of memory") : MILLE_OK;
}

MILLE_API int mille_model_load_ensemble(const char *const *paths, size_t n, mille_model **out,
                                        mille_error *err)
{
    *out = NULL;
    if (!paths || n == 0 || n > MILLE_MAX_ENSEMBLE)
        return err_set(err, MILLE_EINVAL, "an ensemble needs 1 to %d model paths (got %zu)",
                       MILLE_MAX_ENSEMBLE, n);
    mille_model *mm;
    int rc = mille_model_load(paths[0], &mm, err);
    if (rc) return rc;
    if (n == 1) {
        *out = mm;
        return MILLE_OK;
    }
    mm->more = calloc(n - 1, sizeof *mm->more);
    mm->tr = calloc(n, sizeof *mm->tr);
    if (!mm->more || !mm->tr) {
        rc = err_set(err, MILLE_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t k = 0; k + 1 < n; k++) {
        member *e = &mm->more[k];
        if ((rc = model_load(&e->m, paths[k + 1], err))) goto fail;
        mm->n_more = k + 1;
        if (e->m.pretrained) {
            rc = err_set(err, MILLE_EFORMAT, "%s: a pretrained embedding, not a trained model",
                         paths[k + 1]);
            goto fail;
        }
        if ((rc = map_labels(&e->m.intents, &mm->m.intents, &e->imap, "intent", paths[k + 1],
                             err)) ||
            (rc = map_labels(&e->m.slots, &mm->m.slots, &e->smap, "slot", paths[k + 1], err)))
            goto fail;
    }
    for (size_t k = 0; k < n; k++) {
        const model *m = k ? &mm->more[k - 1].m : &mm->m;
        size_t S = m->cfg.n_slots;
        if (!(mm->tr[k].expA = malloc(S * S * sizeof(double)))) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            goto fail;
        }
        crf_prepare(&mm->tr[k], model_tensor(m, T_TRANS), S);
    }
    *out = mm;
    return MILLE_OK;
fail:
    mille_model_free(mm);
    return rc;
}

MILLE_API const char *mille_model_metadata(const mille_model *mm)
{
    if (!mm) return NULL;
    return mm->m.meta ? mm->m.meta : "{}";
}

MILLE_API int mille_model_has_locale(const mille_model *mm, const char *locale)
{
    return mm && locale && strtab_find(&mm->m.locales, locale, strlen(locale)) >= 0;
}

MILLE_API int mille_session_new(const mille_model *mm, mille_session **out, mille_error *err)
{
    if (!out) return err_set(err, MILLE_EINVAL, "mille_session_new: out is NULL");
    *out = NULL;
    if (!mm) return err_set(err, MILLE_EINVAL, "model is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return err_set(err, MILLE_ENOMEM, "out of memory allocating a session");
    (*out)->mm = mm;
    (*out)->max_text = MILLE_MAX_TEXT_DEFAULT;
    (*out)->max_words = MILLE_MAX_WORDS_DEFAULT;
    (*out)->max_batch_words = MILLE_MAX_BATCH_WORDS_DEFAULT;
    (*out)->reject_below = MILLE_REJECT_MODEL;
    if (mm->n_more) {
        (*out)->bm = calloc(mm->n_more, sizeof *(*out)->bm);
        (*out)->wsm = calloc(mm->n_more, sizeof *(*out)->wsm);
        if (!(*out)->bm || !(*out)->wsm) {
            mille_session_free(*out);
            *out = NULL;
            return err_set(err, MILLE_ENOMEM, "out of memory");
        }
    }
    return MILLE_OK;
}

MILLE_API int mille_session_set_max_text(mille_session *s, size_t max_bytes)
{
    if (!s) return MILLE_EINVAL;
    if (max_bytes < 1 || max_bytes > MILLE_MAX_TEXT_LIMIT) return MILLE_ERANGE;
    s->max_text = max_bytes;
    return MILLE_OK;
}

MILLE_API int mille_session_set_max_words(mille_session *s, size_t max_words)
{
    if (!s) return MILLE_EINVAL;
    if (max_words < 1 || max_words > MILLE_MAX_WORDS_LIMIT) return MILLE_ERANGE;
    s->max_words = max_words;
    return MILLE_OK;
}

MILLE_API int mille_session_set_max_batch_words(mille_session *s, size_t max_words)
{
    if (!s) return MILLE_EINVAL;
    if (max_words < 1 || max_words > MILLE_MAX_WORDS_LIMIT) return MILLE_ERANGE;
    s->max_batch_words = max_words;
    return MILLE_OK;
}

MILLE_API void mille_session_set_strict_locale(mille_session *s, int on)
{
    if (s) s->strict_locale = on != 0;
}

MILLE_API void mille_session_free(mille_session *s)
{
    if (!s) return;
    batch_free(&s->b);
    model_ws_free(&s->ws);
    feat_scratch_free(&s->fsc);
    annot_scratch_free(&s->sc);
    free(s->words);
    free(s->feats);
    free(s->foff);
    free(s->tags);
    free(s->intent);
    free(s->prob);
    free(s->slots);
    free(s->top);
    free(s->annot);
    free(s->items);
    text_buf_free(&s->rw_tb);
    batch_free(&s->lb);
    model_ws_free(&s->lws);
    free(s->lx);
    free(s->lp);
    if (s->bm)
        for (size_t k = 0; k < s->mm->n_more; k++) {
            batch_free(&s->bm[k]);
            model_ws_free(&s->wsm[k]);
        }
    free(s->bm);
    free(s->wsm);
    free(s->lavg);
    free(s->un);
    free(s->uk);
    free(s->scr);
    free(s);
}

/* A locale is a language subtag of 2-3 ASCII letters followed by subtags of 1-8 letters or
 * digits, each after '-' or '_' ("fr-FR", "zh-Hant-TW"); at most 16 bytes. */
static int locale_valid(const char *loc)
{
    size_t n = strlen(loc), i = 0;
    if (n < 2 || n > 16) return 0;
    while (i < n && ((loc[i] | 32) >= 'a' && (loc[i] | 32) <= 'z')) i++;
    if (i < 2 || i > 3) return 0;
    while (i < n) {
        if (loc[i] != '-' && loc[i] != '_') return 0;
        size_t j = ++i;
        while (i < n &&
               (((loc[i] | 32) >= 'a' && (loc[i] | 32) <= 'z') || (loc[i] >= '0' && loc[i] <= '9')))
            i++;
        if (i == j || i - j > 8) return 0;
    }
    return 1;
}

/* Split text into words (at s->words + it->word0, by it->char_split) and hash the first
 * member's features into s->feats / s->foff. Returns the number of words or a code. */
static int split_features(mille_session *s, const char *text, size_t len, item *it,
                          mille_error *err)
{
    const model *m = &s->mm->m;
    if (vec_reserve((void **)&s->words, &s->cap_words, it->word0 + len + 1, sizeof *s->words))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    annot_word *words = s->words + it->word0;
    int nw = annot_words(text, len, it->char_split, words, &s->sc, err);
    if (nw < 0) return nw;
    if (nw == 0) return err_set(err, MILLE_EINVAL, "text has no words");
    /* before the features: those and the workspace grow with the words */
    if ((size_t)nw > s->max_words)
        return err_set(err, MILLE_ELIMIT, "text has %d words, the limit is %zu words per text", nw,
                       s->max_words);
    size_t nf = 0;
    if (vec_reserve((void **)&s->foff, &s->cap_foff, (size_t)nw + 1, sizeof *s->foff))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    int rc = model_utt_features(&m->cfg, text, words, sizeof *words, (size_t)nw, &s->fsc, &s->feats,
                                &nf, &s->cap_feats, s->foff, err);
    return rc ? rc : nw;
}

/* The locale probabilities (s->lp, K) of the utterance whose nw words' features are in
 * s->feats / s->foff, by the first member's head; the argmax is returned. */
static int identify(mille_session *s, size_t nw, uint32_t *best)
{
    const model *m = &s->mm->m;
    const langid_head *h = &m->lid;
    if (vec_reserve((void **)&s->lp, &s->cap_lp, h->K, sizeof *s->lp) ||
        vec_reserve((void **)&s->lx, &s->cap_lx, (size_t)h->F + 1, sizeof *s->lx))
        return MILLE_ENOMEM;
    const float *pool = NULL;
    if (h->feats & LANGID_FEAT_POOL) { /* the encoder's features: a forward pass of its own */
        batch_clear(&s->lb);
        if (batch_add(&s->lb, s->feats, s->foff, nw, 0, NULL) || model_forward(m, &s->lb, &s->lws))
            return MILLE_ENOMEM;
        pool = s->lws.P;
    }
    langid_features(m, h->feats, s->feats, s->foff[nw], pool, s->lx);
    *best = langid_predict(h, s->lx, s->feats, s->foff[nw], s->lp);
    return MILLE_OK;
}

/* Check one input, split it into words (appended at s->words + it->word0) and add its
 * features to the batch. Without a locale (NULL or MILLE_LOCALE_AUTO) and with a model that
 * has a language-identification head, the locale is identified first on words split by
 * script, and the text is split again when the locale found splits it otherwise. Returns 0
 * or the input's error code. */
static int prepare(mille_session *s, const mille_input *in, item *it, mille_error *err)
{
    const model *m = &s->mm->m;
    const char *text = in->text, *locale = in->locale;
    size_t len = in->len;
    it->lid = -1;
    if (!text) return err_set(err, MILLE_EINVAL, "text is NULL");
    if (len > s->max_text)
        return err_set(err, MILLE_ERANGE, "text is %zu bytes, the limit is %zu", len, s->max_text);
    size_t bad;
    if (text_utf8_check(text, len, &bad))
        return err_set(err, MILLE_EUTF8, "text: invalid UTF-8 at byte %zu", bad);
    if (locale && strcmp(locale, MILLE_LOCALE_AUTO) == 0) locale = NULL;
    if (locale) {
        if (!locale_valid(locale))
            return err_set(err, MILLE_EINVAL,
                           "locale \"%.32s\" is malformed (expected a tag like \"fr-FR\")", locale);
        if (s->strict_locale && !mille_model_has_locale(s->mm, locale))
            return err_set(err, MILLE_ENOTFOUND, "locale \"%s\" is not one of the model's %zu",
                           locale, m->locales.n);
        it->char_split = annot_char_split(locale, strlen(locale));
    } else {
        it->char_split = langid_char_split(text, len);
    }
    int nw = split_features(s, text, len, it, err);
    if (nw < 0) return nw;
    if (!locale && m->lid.K) {
        uint32_t best;
        if (identify(s, (size_t)nw, &best)) return err_set(err, MILLE_ENOMEM, "out of memory");
        it->lid = best;
        it->lid_p = s->lp[best];
        const char *loc = strtab_str(&m->lid.locales, best);
        int cs = annot_char_split(loc, m->lid.locales.lens[best]);
        if (cs != it->char_split) { /* e.g. Japanese written in Latin letters: "ok google" */
            it->char_split = cs;
            if ((nw = split_features(s, text, len, it, err)) < 0) return nw;
        }
    }
    annot_word *words = s->words + it->word0;
    if (batch_add(&s->b, s->feats, s->foff, (size_t)nw, 0, NULL))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    /* the other members of an ensemble hash their own features */
    for (size_t k = 0; k < s->mm->n_more; k++) {
        size_t nf = 0;
        int rc = model_utt_features(&s->mm->more[k].m.cfg, text, words, sizeof *words, (size_t)nw,
                                    &s->fsc, &s->feats, &nf, &s->cap_feats, s->foff, err);
        if (rc) return rc;
        if (batch_add(&s->bm[k], s->feats, s->foff, (size_t)nw, 0, NULL))
            return err_set(err, MILLE_ENOMEM, "out of memory");
    }
    it->n_words = (size_t)nw;
    return MILLE_OK;
}

/* The k best intents of utterance u by softmax of its logits times beta (1 / temperature),
 * best first. */
static void top_k(const model *m, const float *l, double beta, uint32_t best_id,
                  mille_intent_score *top, size_t k)
{
    size_t I = m->cfg.n_intents;
    double z = 0;
    for (size_t i = 0; i < I; i++) z += exp(beta * (double)(l[i] - l[best_id]));
    for (size_t j = 0; j < k; j++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < I; i++) {
            int taken = 0;
            for (size_t q = 0; q < j; q++) taken |= top[q].intent == strtab_str(&m->intents, i);
            if (!taken && (best == SIZE_MAX || l[i] > l[best])) best = i;
        }
        top[j].intent = strtab_str(&m->intents, best);
        top[j].score = (float)(exp(beta * (double)(l[best] - l[best_id])) / z);
    }
}

/* An ensemble's decision for the U utterances of the batch: the members' intent
 * probabilities averaged (their logs into lavg, for top_k), and each word's label the one of
 * highest averaged marginal probability (posterior decoding: Viterbi needs one model's
 * transition scores, a mixture has none). */
static int ensemble_decode(mille_session *s, size_t U)
{
    const mille_model *mm = s->mm;
    const model *m = &mm->m;
    size_t I = m->cfg.n_intents, S = m->cfg.n_slots, K = 1 + mm->n_more;
    for (size_t k = 0; k < mm->n_more; k++)
        if (model_forward(&mm->more[k].m, &s->bm[k], &s->wsm[k])) return MILLE_ENOMEM;
    if (vec_reserve((void **)&s->lavg, &s->cap_lavg, U * I, sizeof *s->lavg)) return MILLE_ENOMEM;
    for (size_t u = 0; u < U; u++) {
        float *avg = s->lavg + u * I;
        for (size_t i = 0; i < I; i++) avg[i] = 0;
        for (size_t k = 0; k < K; k++) {
            const model *mk = k ? &mm->more[k - 1].m : m;
            const float *l = (k ? s->wsm[k - 1].L : s->ws.L) + u * mk->cfg.n_intents;
            size_t Ik = mk->cfg.n_intents;
            /* each member's probabilities at its own temperature */
            double mx = l[0], z = 0, beta = mk->temperature > 0 ? 1.0 / mk->temperature : 1.0;
            for (size_t i = 1; i < Ik; i++)
                if (l[i] > mx) mx = l[i];
            for (size_t i = 0; i < Ik; i++) z += exp(beta * ((double)l[i] - mx));
            for (size_t i = 0; i < Ik; i++)
                avg[k ? mm->more[k - 1].imap[i] : i] +=
                    (float)(exp(beta * ((double)l[i] - mx)) / z / (double)K);
        }
        size_t best = 0;
        for (size_t i = 1; i < I; i++)
            if (avg[i] > avg[best]) best = i;
        s->intent[u] = (uint32_t)best;
        s->prob[u] = avg[best];
        for (size_t i = 0; i < I; i++) avg[i] = logf(avg[i] > 1e-30f ? avg[i] : 1e-30f);
        /* slots */
        size_t a = s->b.utt_off[u], T = s->b.utt_off[u + 1] - a;
        if (vec_reserve((void **)&s->un, &s->cap_un, T * S, sizeof *s->un)) return MILLE_ENOMEM;
        for (size_t i = 0; i < T * S; i++) s->un[i] = 0;
        for (size_t k = 0; k < K; k++) {
            const model *mk = k ? &mm->more[k - 1].m : m;
            size_t Sk = mk->cfg.n_slots;
            const float *E = (k ? s->wsm[k - 1].E : s->ws.E) + a * Sk;
            if (vec_reserve((void **)&s->uk, &s->cap_uk, T * Sk, sizeof *s->uk) ||
                vec_reserve((void **)&s->scr, &s->cap_scr, crf_scratch_doubles(T, Sk),
                            sizeof *s->scr))
                return MILLE_ENOMEM;
            crf_marginals(E, &mm->tr[k], model_tensor(mk, T_START), model_tensor(mk, T_END), T,
                          s->uk, NULL, s->scr);
            for (size_t t = 0; t < T; t++)
                for (size_t j = 0; j < Sk; j++)
                    s->un[t * S + (k ? mm->more[k - 1].smap[j] : j)] += s->uk[t * Sk + j];
        }
        for (size_t t = 0; t < T; t++) {
            size_t bj = 0;
            for (size_t j = 1; j < S; j++)
                if (s->un[t * S + j] > s->un[t * S + bj]) bj = j;
            s->tags[a + t] = (int)bj;
        }
    }
    return MILLE_OK;
}

MILLE_API int mille_parse_batch(mille_session *s, const mille_input *in, size_t n,
                                mille_result *res, mille_error *errs)
{
    mille_error local;
    if (!s) return MILLE_EINVAL;
    const model *m = &s->mm->m;
    if (n == 0) return 0;
    if (!in || !res) return MILLE_EINVAL;
    memset(res, 0, n * sizeof *res);
    s->n_items = 0; /* set once the call succeeds: mille_session_locale reads the items */
    if (vec_reserve((void **)&s->items, &s->cap_items, n + 1, sizeof *s->items))
        return MILLE_ENOMEM;
    batch_clear(&s->b);
    for (size_t k = 0; k < s->mm->n_more; k++) batch_clear(&s->bm[k]);
    size_t U = 0, N = 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &s->items[i];
        memset(it, 0, sizeof *it);
        it->word0 = N;
        mille_error *e = errs ? &errs[i] : &local;
        e->code = 0;
        e->msg[0] = '\0';
        it->code = prepare(s, &in[i], it, e);
        e->code = it->code;
        if (it->code == MILLE_ENOMEM) return MILLE_ENOMEM;
        if (it->code == 0 && it->n_words > s->max_batch_words - N) {
            /* the whole call fails: a partial batch would depend on the order of inputs */
            e->code = err_set(e, MILLE_ELIMIT,
                              "inputs 0..%zu of the batch have %zu words, the limit is %zu words "
                              "per batch",
                              i, N + it->n_words, s->max_batch_words);
            return MILLE_ELIMIT;
        }
        if (it->code == 0) {
            N += it->n_words;
            U++;
        }
    }
    if (U) {
        if (vec_reserve((void **)&s->tags, &s->cap_tags, N, sizeof *s->tags) ||
            vec_reserve((void **)&s->intent, &s->cap_intent, U, sizeof *s->intent) ||
            vec_reserve((void **)&s->prob, &s->cap_prob, U, sizeof *s->prob) ||
            vec_reserve((void **)&s->slots, &s->cap_slots, N, sizeof *s->slots) ||
            vec_reserve((void **)&s->top, &s->cap_top, U * MILLE_TOP_K, sizeof *s->top) ||
            model_forward(m, &s->b, &s->ws))
            return MILLE_ENOMEM;
        if (s->mm->n_more) {
            if (ensemble_decode(s, U)) return MILLE_ENOMEM;
        } else {
            model_decode(m, &s->b, &s->ws, s->intent, s->prob, s->tags);
        }
    }
    /* slots and annotations, by offset: the arrays may still move */
    size_t k = m->cfg.n_intents < MILLE_TOP_K ? m->cfg.n_intents : MILLE_TOP_K;
    size_t u = 0, ns = 0, alen = 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &s->items[i];
        if (it->code) continue;
        const int *tags = s->tags + it->word0;
        const annot_word *w = s->words + it->word0;
        it->slot0 = ns;
        for (size_t j = 0; j < it->n_words; j++) {
            int t = tags[j];
            if (!t) continue;
            if (j && tags[j - 1] == t)
                s->slots[ns - 1].end = w[j].end;
            else
                s->slots[ns++] =
                    (mille_slot){strtab_str(&m->slots, (size_t)t), w[j].start, w[j].end};
        }
        it->n_slots = ns - it->slot0;
        it->annot0 = alen;
        if (annot_format(&s->annot, &s->cap_annot, &alen, in[i].text, w, tags, it->n_words,
                         it->char_split, &m->slots))
            return MILLE_ENOMEM;
        mille_result *r = &res[i];
        uint32_t intent = s->intent[u];
        /* an ensemble's lavg is already the log of its calibrated probabilities */
        double beta = s->mm->n_more || m->temperature <= 0 ? 1.0 : 1.0 / m->temperature;
        top_k(m, (s->mm->n_more ? s->lavg : s->ws.L) + u * m->cfg.n_intents, beta, intent,
              s->top + u * MILLE_TOP_K, k);
        r->intent = strtab_str(&m->intents, intent);
        r->scenario = strtab_str(&m->scenarios, m->intent_scenario[intent]);
        r->confidence = s->prob[u];
        r->top = s->top + u * MILLE_TOP_K;
        r->n_top = k;
        r->n_words = it->n_words;
        r->rejected = mille_result_rejected(s->mm, r, s->reject_below);
        u++;
    }
    int ok = 0;
    s->n_items = n;
    for (size_t i = 0; i < n; i++) {
        const item *it = &s->items[i];
        if (it->code) continue;
        res[i].slots = s->slots + it->slot0;
        res[i].n_slots = it->n_slots;
        res[i].annot_utt = s->annot + it->annot0;
        ok++;
    }
    return ok;
}

MILLE_API int mille_parse(mille_session *s, const char *text, size_t len, const char *locale,
                          mille_result *res, mille_error *err)
{
    mille_input in = {text, len, locale};
    mille_error local;
    mille_error *e = err ? err : &local;
    if (!s) return err_set(err, MILLE_EINVAL, "mille_parse: session is NULL");
    if (!res) return err_set(err, MILLE_EINVAL, "mille_parse: result is NULL");
    e->code = 0;
    e->msg[0] = '\0';
    int rc = mille_parse_batch(s, &in, 1, res, e);
    if (rc < 0) {
        /* the batch call filled e for a limit; say what failed otherwise */
        if (rc == MILLE_ELIMIT && e->code == rc) return rc;
        return err_set(err, rc, "mille_parse: %s", mille_strerror(rc));
    }
    return rc == 1 ? MILLE_OK : e->code;
}

/* ---- utterance vectors ------------------------------------------------------------------ */

MILLE_API size_t mille_embed_dim(const mille_model *mm)
{
    if (!mm) return 0;
    size_t d = 2 * (size_t)mm->m.cfg.hidden;
    for (size_t k = 0; k < mm->n_more; k++) d += 2 * (size_t)mm->more[k].m.cfg.hidden;
    return d;
}

/* One member's pooled vector P (2H floats of the last forward pass) into out, scaled to
 * length `len` (sums in double: 2H is a few hundred terms of mixed magnitude). */
static void embed_put(const float *P, size_t n, double len, float *out)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)P[i] * P[i];
    double f = ss > 0 ? len / sqrt(ss) : 0;
    for (size_t i = 0; i < n; i++) out[i] = (float)(P[i] * f);
}

MILLE_API int mille_embed(mille_session *s, const char *text, size_t len, const char *locale,
                          float *out, size_t cap, mille_error *err)
{
    if (!s) return err_set(err, MILLE_EINVAL, "mille_embed: session is NULL");
    if (!out) return err_set(err, MILLE_EINVAL, "mille_embed: out is NULL");
    const mille_model *mm = s->mm;
    size_t dim = mille_embed_dim(mm);
    if (cap < dim)
        return err_set(err, MILLE_ERANGE,
                       "mille_embed: out holds %zu floats, the model's vectors "
                       "have %zu",
                       cap, dim);
    if (vec_reserve((void **)&s->items, &s->cap_items, 1, sizeof *s->items))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    batch_clear(&s->b);
    for (size_t k = 0; k < mm->n_more; k++) batch_clear(&s->bm[k]);
    item *it = &s->items[0];
    memset(it, 0, sizeof *it);
    s->n_items = 0;
    mille_input in = {text, len, locale};
    int rc = prepare(s, &in, it, err);
    if (rc) return rc;
    s->n_items = 1;
    if (model_forward(&mm->m, &s->b, &s->ws)) return err_set(err, MILLE_ENOMEM, "out of memory");
    double part = 1.0 / sqrt((double)(1 + mm->n_more));
    size_t n = 2 * (size_t)mm->m.cfg.hidden;
    embed_put(s->ws.P, n, part, out);
    for (size_t k = 0; k < mm->n_more; k++) {
        if (model_forward(&mm->more[k].m, &s->bm[k], &s->wsm[k]))
            return err_set(err, MILLE_ENOMEM, "out of memory");
        size_t nk = 2 * (size_t)mm->more[k].m.cfg.hidden;
        embed_put(s->wsm[k].P, nk, part, out + n);
        n += nk;
    }
    return MILLE_OK;
}
/* ---- confidence and rejection ------------------------------------------------------------ */

MILLE_API float mille_model_temperature(const mille_model *mm)
{
    if (!mm) return 0;
    return mm->n_more ? 1.0f : mm->m.temperature;
}

MILLE_API float mille_model_reject_below(const mille_model *mm)
{
    return mm ? mm->m.reject_below : 0;
}

MILLE_API int mille_session_set_reject_below(mille_session *s, float threshold)
{
    if (!s) return MILLE_EINVAL;
    if (threshold != MILLE_REJECT_MODEL && !(threshold >= 0 && threshold <= 1)) return MILLE_ERANGE;
    s->reject_below = threshold;
    return MILLE_OK;
}

MILLE_API int mille_result_rejected(const mille_model *mm, const mille_result *r, float threshold)
{
    if (!mm || !r || !r->intent) return 0;
    float t = threshold == MILLE_REJECT_MODEL ? mm->m.reject_below : threshold;
    /* the intent names are the model's own strings: compare pointers */
    if (mm->oos >= 0 && r->intent == strtab_str(&mm->m.intents, (size_t)mm->oos)) return 1;
    return r->confidence < t;
}

/* ---- self-learning: rewrites and interaction logs (src/learn/, docs/learn.md) ------------ */

struct mille_rewrites {
    learn_rewrites t;
};

MILLE_API int mille_rewrites_load(const char *path, mille_rewrites **out, mille_error *err)
{
    if (!path || !out) return err_set(err, MILLE_EINVAL, "mille_rewrites_load: NULL argument");
    mille_rewrites *rw = calloc(1, sizeof *rw);
    if (!rw) return err_set(err, MILLE_ENOMEM, "out of memory");
    int rc = learn_rewrites_load(&rw->t, path, err);
    if (rc < 0) {
        mille_rewrites_free(rw);
        return rc;
    }
    *out = rw;
    return 0;
}

MILLE_API void mille_rewrites_free(mille_rewrites *rw)
{
    if (!rw) return;
    learn_rewrites_free(&rw->t);
    free(rw);
}

MILLE_API size_t mille_rewrites_count(const mille_rewrites *rw) { return rw ? rw->t.n : 0; }

MILLE_API void mille_session_set_rewrites(mille_session *s, const mille_rewrites *rw)
{
    if (s) s->rw = rw;
}

MILLE_API const char *mille_session_rewrite(mille_session *s, const char *text, size_t len,
                                            const char *locale, size_t *target_len)
{
    if (!s || !s->rw || !text) return NULL;
    const learn_rewrite *r = learn_rewrites_find(&s->rw->t, text, len, locale, &s->rw_tb);
    if (!r) return NULL;
    if (target_len) *target_len = r->target_len;
    return s->rw->t.st.buf + r->target;
}

MILLE_API int mille_parse_rewrite(mille_session *s, const char *text, size_t len,
                                  const char *locale, mille_result *res, const char **parsed,
                                  size_t *parsed_len, mille_error *err)
{
    size_t tl = 0;
    const char *t = mille_session_rewrite(
        s, text, len, locale && strcmp(locale, MILLE_LOCALE_AUTO) == 0 ? NULL : locale, &tl);
    if (parsed) *parsed = t ? t : text;
    if (parsed_len) *parsed_len = t ? tl : len;
    int rc = mille_parse(s, t ? t : text, t ? tl : len, locale, res, err);
    return rc < 0 ? rc : t != NULL;
}

struct mille_log {
    learn_log *lg;
};

MILLE_API int mille_log_open(const char *dir, size_t max_bytes, mille_log **out, mille_error *err)
{
    if (!out) return err_set(err, MILLE_EINVAL, "mille_log_open: NULL argument");
    mille_log *l = calloc(1, sizeof *l);
    if (!l) return err_set(err, MILLE_ENOMEM, "out of memory");
    int rc = learn_log_open(dir, max_bytes, &l->lg, err);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

MILLE_API int mille_log_turn(mille_log *l, const mille_turn *t, mille_error *err)
{
    if (!l || !t) return err_set(err, MILLE_EINVAL, "mille_log_turn: NULL argument");
    learn_slot_in sl[64];
    learn_turn_in in = {t->session, t->user, t->locale, t->time, t->text,   t->len,
                        NULL,       0,       sl,        0,       t->outcome};
    if (t->result && t->result->intent) {
        in.intent = t->result->intent;
        in.confidence = t->result->confidence;
        for (size_t i = 0; i < t->result->n_slots && i < 64; i++)
            sl[in.n_slots++] = (learn_slot_in){t->result->slots[i].slot, t->result->slots[i].start,
                                               t->result->slots[i].end};
    }
    return learn_log_write(l->lg, &in, err);
}

MILLE_API void mille_log_close(mille_log *l)
{
    if (!l) return;
    learn_log_close(l->lg);
    free(l);
}

/* ---- language identification (langid.h, docs/api.md) ----------------------------------- */

MILLE_API int mille_model_has_langid(const mille_model *mm) { return mm && mm->m.lid.K > 0; }

MILLE_API const char *mille_session_locale(const mille_session *s, size_t i, float *prob)
{
    if (prob) *prob = 0;
    if (!s || i >= s->n_items || s->items[i].code || s->items[i].lid < 0) return NULL;
    if (prob) *prob = s->items[i].lid_p;
    return strtab_str(&s->mm->m.lid.locales, (size_t)s->items[i].lid);
}

MILLE_API int mille_identify(mille_session *s, const char *text, size_t len,
                             mille_locale_score *out, size_t k, mille_error *err)
{
    if (!s || !out) return err_set(err, MILLE_EINVAL, "mille_identify: NULL argument");
    const model *m = &s->mm->m;
    if (!m->lid.K)
        return err_set(err, MILLE_EINVAL,
                       "the model has no language-identification head (mille langid-fit)");
    if (!text) return err_set(err, MILLE_EINVAL, "text is NULL");
    if (len > s->max_text)
        return err_set(err, MILLE_ERANGE, "text is %zu bytes, the limit is %zu", len, s->max_text);
    size_t bad;
    if (text_utf8_check(text, len, &bad))
        return err_set(err, MILLE_EUTF8, "text: invalid UTF-8 at byte %zu", bad);
    item it; /* words and features go to the session's scratch; results stay valid */
    memset(&it, 0, sizeof it);
    it.char_split = langid_char_split(text, len);
    int nw = split_features(s, text, len, &it, err);
    if (nw < 0) return nw;
    uint32_t best;
    if (identify(s, (size_t)nw, &best)) return err_set(err, MILLE_ENOMEM, "out of memory");
    size_t K = m->lid.K, n = k < K ? k : K;
    /* the n best by selection: n is small, K a few dozen */
    for (size_t j = 0; j < n; j++) {
        size_t bj = SIZE_MAX;
        for (size_t c = 0; c < K; c++) {
            int taken = 0;
            for (size_t q = 0; q < j && !taken; q++)
                taken = out[q].locale == strtab_str(&m->lid.locales, c);
            if (!taken && (bj == SIZE_MAX || s->lp[c] > s->lp[bj])) bj = c;
        }
        out[j].locale = strtab_str(&m->lid.locales, bj);
        out[j].score = s->lp[bj];
    }
    return (int)n;
}
