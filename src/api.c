/*
 * api.c - the public API of include/mille.h on top of model.c: load a model, open sessions,
 * parse one utterance into intent, top-k, slots with byte offsets into the caller's text, and
 * a MASSIVE-format annotation.
 *
 * A parse: validate UTF-8 -> MASSIVE words (whitespace; characters in ja/zh, chosen by the
 * locale or, without one, by the text's script) -> hashed features per word -> forward pass
 * -> intent softmax and CRF Viterbi -> runs of one slot label become one slot.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "kern.h"
#include "model.h"
#include "text.h"

#define SESSION_MAX_TEXT (64u << 10)

struct mille_model {
    model m;
};

struct mille_session {
    const mille_model *mm;
    batch b;
    model_ws ws;
    feat_scratch fsc;
    annot_scratch sc;
    annot_word *words;
    size_t cap_words;
    uint32_t *feats, *foff;
    size_t cap_feats, cap_foff;
    int *tags;
    size_t cap_tags;
    mille_slot *slots;
    size_t cap_slots;
    mille_intent_score top[MILLE_TOP_K];
    char *annot;
    size_t cap_annot;
};

MILLE_API int mille_model_load(const char *path, mille_model **out, mille_error *err)
{
    *out = NULL;
    kern_init(); /* BLAS must not spin threads of its own under ours */
    mille_model *mm = calloc(1, sizeof *mm);
    if (!mm) return err_set(err, MILLE_ENOMEM, "out of memory");
    int rc = model_load(&mm->m, path, err);
    if (rc) {
        free(mm);
        return rc;
    }
    *out = mm;
    return MILLE_OK;
}

MILLE_API void mille_model_free(mille_model *mm)
{
    if (!mm) return;
    model_free(&mm->m);
    free(mm);
}

MILLE_API const char *mille_model_metadata(const mille_model *mm)
{
    return mm->m.meta ? mm->m.meta : "{}";
}

MILLE_API int mille_session_new(const mille_model *mm, mille_session **out, mille_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return err_set(err, MILLE_ENOMEM, "out of memory");
    (*out)->mm = mm;
    return MILLE_OK;
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
    free(s->slots);
    free(s->annot);
    free(s);
}

/* Append n bytes to the session's annotation buffer. */
static int annot_put(mille_session *s, size_t *len, const char *p, size_t n)
{
    if (vec_reserve((void **)&s->annot, &s->cap_annot, *len + n + 1, 1)) return MILLE_ENOMEM;
    memcpy(s->annot + *len, p, n);
    *len += n;
    s->annot[*len] = '\0';
    return MILLE_OK;
}

/* "[slot : " before a run of one label, "]" after it, the text between words kept as it is.
 * In char-split locales (ja/zh) MASSIVE writes exactly one space on each side of a bracketed
 * slot (none at the ends of the text), spaces the utterance itself does not have. */
static int build_annot(mille_session *s, const char *text, size_t n_words, int char_split)
{
    const model *m = &s->mm->m;
    size_t len = 0, pos = 0;
    int rc = annot_put(s, &len, "", 0), space_after = 0;
    for (size_t i = 0; i < n_words && !rc; i++) {
        const annot_word *w = &s->words[i];
        int tag = s->tags[i], opens = tag && (i == 0 || s->tags[i - 1] != tag);
        int closes = tag && (i + 1 == n_words || s->tags[i + 1] != tag);
        size_t g0 = pos, g1 = w->start;
        if (char_split && (opens || space_after)) {
            while (g0 < g1 && text[g0] == ' ') g0++;
            while (!opens && g1 > g0 && text[g1 - 1] == ' ') g1--;
            if (opens)
                while (g1 > g0 && text[g1 - 1] == ' ') g1--;
            if (space_after) rc = annot_put(s, &len, " ", 1);
            if (!rc) rc = annot_put(s, &len, text + g0, g1 - g0);
            if (opens && len && s->annot[len - 1] != ' ' && !rc) rc = annot_put(s, &len, " ", 1);
        } else {
            rc = annot_put(s, &len, text + g0, g1 - g0);
        }
        space_after = 0;
        if (opens && !rc) {
            const char *name = strtab_str(&m->slots, (size_t)tag);
            rc = annot_put(s, &len, "[", 1) || annot_put(s, &len, name, strlen(name)) ||
                 annot_put(s, &len, " : ", 3);
        }
        if (!rc) rc = annot_put(s, &len, text + w->start, w->end - w->start);
        if (closes && !rc) {
            rc = annot_put(s, &len, "]", 1);
            space_after = char_split;
        }
        pos = w->end;
    }
    return rc ? MILLE_ENOMEM : MILLE_OK;
}

MILLE_API int mille_parse(mille_session *s, const char *text, size_t len, const char *locale,
                          mille_result *res, mille_error *err)
{
    const model *m = &s->mm->m;
    memset(res, 0, sizeof *res);
    if (!text) return err_set(err, MILLE_EINVAL, "text is NULL");
    if (len > SESSION_MAX_TEXT)
        return err_set(err, MILLE_ERANGE, "text is %zu bytes, the limit is %u", len,
                       SESSION_MAX_TEXT);
    size_t bad;
    if (text_utf8_check(text, len, &bad))
        return err_set(err, MILLE_EUTF8, "text: invalid UTF-8 at byte %zu", bad);
    int char_split;
    if (locale) {
        size_t ll = strlen(locale);
        if (ll < 2 || ll > 16)
            return err_set(err, MILLE_EINVAL, "locale \"%s\" is malformed", locale);
        char_split = annot_char_split(locale, ll);
    } else {
        int sc = text_dominant_script(text, len);
        char_split =
            sc == TEXT_SCRIPT_HAN || sc == TEXT_SCRIPT_HIRAGANA || sc == TEXT_SCRIPT_KATAKANA;
    }
    if (vec_reserve((void **)&s->words, &s->cap_words, len + 1, sizeof *s->words))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    int nw = annot_words(text, len, char_split, s->words, &s->sc, err);
    if (nw < 0) return nw;
    if (nw == 0) return err_set(err, MILLE_EINVAL, "text has no words");
    /* features */
    size_t nf = 0;
    if (vec_reserve((void **)&s->foff, &s->cap_foff, (size_t)nw + 1, sizeof *s->foff) ||
        vec_reserve((void **)&s->tags, &s->cap_tags, (size_t)nw, sizeof *s->tags))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    int rc = model_utt_features(&m->cfg, text, s->words, sizeof *s->words, (size_t)nw, &s->fsc,
                                &s->feats, &nf, &s->cap_feats, s->foff, err);
    if (rc) return rc;
    batch_clear(&s->b);
    if (batch_add(&s->b, s->feats, s->foff, (size_t)nw, 0, NULL) || model_forward(m, &s->b, &s->ws))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    uint32_t intent;
    float prob;
    model_decode(m, &s->b, &s->ws, &intent, &prob, s->tags);
    /* top-k by softmax of the logits */
    const float *l = s->ws.L;
    size_t I = m->cfg.n_intents, k = I < MILLE_TOP_K ? I : MILLE_TOP_K;
    double z = 0;
    for (size_t i = 0; i < I; i++) z += exp((double)(l[i] - l[intent]));
    for (size_t j = 0; j < k; j++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < I; i++) {
            int taken = 0;
            for (size_t q = 0; q < j; q++) taken |= s->top[q].intent == strtab_str(&m->intents, i);
            if (!taken && (best == SIZE_MAX || l[i] > l[best])) best = i;
        }
        s->top[j].intent = strtab_str(&m->intents, best);
        s->top[j].score = (float)(exp((double)(l[best] - l[intent])) / z);
    }
    /* slots: maximal runs of one label */
    size_t ns = 0;
    if (vec_reserve((void **)&s->slots, &s->cap_slots, (size_t)nw, sizeof *s->slots))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    for (int i = 0; i < nw; i++) {
        int t = s->tags[i];
        if (!t) continue;
        if (i && s->tags[i - 1] == t) {
            s->slots[ns - 1].end = s->words[i].end;
        } else {
            s->slots[ns++] =
                (mille_slot){strtab_str(&m->slots, (size_t)t), s->words[i].start, s->words[i].end};
        }
    }
    if (build_annot(s, text, (size_t)nw, char_split))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    res->intent = strtab_str(&m->intents, intent);
    res->scenario = strtab_str(&m->scenarios, m->intent_scenario[intent]);
    res->confidence = prob;
    res->top = s->top;
    res->n_top = k;
    res->slots = s->slots;
    res->n_slots = ns;
    res->annot_utt = s->annot;
    res->n_words = (size_t)nw;
    return MILLE_OK;
}
