/*
 * codeswitch.c - code-switched copies of labeled utterances, remade every epoch (see
 * codeswitch.h). The matching follows synth_record (lexicon.c): the record's words are
 * normalized the way lexicon keys are and joined by one space, so that a phrase of words
 * i..j is one substring to look up; the longest phrase (at most LEXICON_MAX_WORDS, never
 * across a slot boundary) wins. What differs from synthesis: each match is swapped only with
 * probability rate, words without a translation always stay, and the copy is returned as
 * words with labels (it is fed to the model at once, never written as annot_utt).
 *
 * Not done here: word order (the copy keeps the English order) and inflection.
 */
#include "codeswitch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ------------------------------------------------------------------------------- */

/* The locale a lexicon file name tells: "fr-FR.tsv", "x/fr-FR.tsv" or
 * "freedict-eng-fra.index" (the language code after "eng-"). */
static void locale_of_path(const char *path, char out[16])
{
    out[0] = '\0';
    char loc[6];
    if (data_path_locale(path, loc)) {
        snprintf(out, 16, "%s", loc);
        return;
    }
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *e = strstr(b, "eng-");
    if (!e || strncmp(b, "freedict-", 9) != 0) return;
    e += 4;
    char code[8];
    size_t k = 0;
    while (e[k] && e[k] != '.' && k < sizeof code - 1) code[k] = e[k], k++;
    code[k] = '\0';
    const char *l = lexicon_code_locale(code, 0);
    if (l) snprintf(out, 16, "%s", l);
}

int cs_load(cs_set *cs, const char *const *specs, size_t n, float rate, uint64_t seed,
            mille_error *err)
{
    memset(cs, 0, sizeof *cs);
    if (rate < 0 || rate > 1)
        return err_set(err, MILLE_EINVAL, "code-switch: rate %g is not in [0, 1]", (double)rate);
    cs->rate = rate;
    cs->seed = seed;
    if (n == 0) return MILLE_OK;
    if (!(cs->lex = calloc(n, sizeof *cs->lex)))
        return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
    for (size_t i = 0; i < n; i++) {
        cs_lexicon *c = &cs->lex[i];
        const char *path = specs[i], *eq = strchr(specs[i], '=');
        cs->n = i + 1; /* so that cs_free frees what was loaded */
        if (eq && eq > specs[i] && (size_t)(eq - specs[i]) < sizeof c->locale &&
            !memchr(specs[i], '/', (size_t)(eq - specs[i]))) {
            memcpy(c->locale, specs[i], (size_t)(eq - specs[i]));
            c->locale[eq - specs[i]] = '\0';
            path = eq + 1;
        } else {
            locale_of_path(path, c->locale);
        }
        c->char_split = annot_char_split(c->locale, strlen(c->locale));
        int rc = lexicon_load(&c->lx, path, NULL, err);
        if (rc) {
            err_prefix(err, "code-switch: ");
            cs_free(cs);
            return rc;
        }
    }
    return MILLE_OK;
}

void cs_free(cs_set *cs)
{
    if (!cs) return;
    for (size_t i = 0; i < cs->n; i++) lexicon_free(&cs->lex[i].lx);
    free(cs->lex);
    memset(cs, 0, sizeof *cs);
}

void cs_scratch_free(cs_scratch *sc)
{
    free(sc->text);
    free(sc->words);
    free(sc->norm);
    free(sc->noff);
    free(sc->aw);
    annot_scratch_free(&sc->as);
    text_buf_free(&sc->tb);
    memset(sc, 0, sizeof *sc);
}

/* ---- one copy ------------------------------------------------------------------------------ */

size_t cs_lexicon_of(const cs_set *cs, uint32_t r, uint64_t epoch, uint32_t copy)
{
    if (cs->n == 0) return 0;
    return (size_t)(((uint64_t)r + epoch + copy) % cs->n);
}

/* Append one word with label to the copy: s[0..n), with pre[0..pre_n) before it and
 * suf[0..suf_n) after it (punctuation that was around the source word, "today?"). */
static int put_word(cs_scratch *sc, const char *pre, size_t pre_n, const char *s, size_t n,
                    const char *suf, size_t suf_n, uint32_t label)
{
    size_t add = pre_n + n + suf_n;
    if (sc->len + add + 2 > UINT32_MAX ||
        vec_reserve((void **)&sc->text, &sc->cap_text, sc->len + add + 2, 1) ||
        vec_reserve((void **)&sc->words, &sc->cap_words, sc->n_words + 1, sizeof *sc->words))
        return MILLE_ENOMEM;
    if (sc->n_words) sc->text[sc->len++] = ' ';
    size_t start = sc->len;
    if (pre_n) memcpy(sc->text + sc->len, pre, pre_n);
    sc->len += pre_n;
    memcpy(sc->text + sc->len, s, n);
    sc->len += n;
    if (suf_n) memcpy(sc->text + sc->len, suf, suf_n);
    sc->len += suf_n;
    sc->text[sc->len] = '\0';
    sc->words[sc->n_words++] = (data_word){(uint32_t)start, (uint32_t)sc->len, label};
    return MILLE_OK;
}

/* Append translation t, split into words by the target's rules, each with label; pre and
 * suf stick to its first and last word. */
static int put_translation(cs_scratch *sc, const cs_lexicon *c, const char *t, const char *pre,
                           size_t pre_n, const char *suf, size_t suf_n, uint32_t label,
                           mille_error *err)
{
    size_t tn = strlen(t);
    if (vec_reserve((void **)&sc->aw, &sc->cap_aw, tn + 1, sizeof *sc->aw))
        return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
    int nw = annot_words(t, tn, c->char_split, sc->aw, &sc->as, err);
    if (nw < 0) return nw;
    for (int k = 0; k < nw; k++) {
        const annot_word *w = &sc->aw[k];
        if (put_word(sc, pre, k == 0 ? pre_n : 0, t + w->start, w->end - w->start, suf,
                     k == nw - 1 ? suf_n : 0, label))
            return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
    }
    return MILLE_OK;
}

static int is_punct(char ch) { return ch && strchr(".,!?;:\"'()", ch) != NULL; }

int cs_record(const cs_set *cs, const data_set *ds, uint32_t r, uint64_t epoch, uint32_t copy,
              cs_scratch *sc, mille_error *err)
{
    const data_record *rec = &ds->recs[r];
    const data_word *w = ds->words + rec->word0;
    const char *text = data_str(ds, rec->utt);
    size_t nw = rec->n_words;
    sc->len = sc->n_words = sc->swapped = 0;
    sc->locale = "";
    if (vec_reserve((void **)&sc->text, &sc->cap_text, 1, 1))
        return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
    sc->text[0] = '\0';
    if (cs->n == 0 || nw == 0) { /* nothing to switch to: the record as it is */
        for (size_t i = 0; i < nw; i++)
            if (put_word(sc, NULL, 0, text + w[i].start, w[i].end - w[i].start, NULL, 0,
                         w[i].label))
                return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
        return MILLE_OK;
    }
    const cs_lexicon *c = &cs->lex[cs_lexicon_of(cs, r, epoch, copy)];
    sc->locale = c->locale;

    /* normalized words, one space apart (as synth_record) */
    size_t nn = 0;
    if (vec_reserve((void **)&sc->noff, &sc->cap_noff, 2 * nw + 2, sizeof *sc->noff))
        return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
    for (size_t i = 0; i < nw; i++) {
        int rc = lexicon_normalize(text + w[i].start, w[i].end - w[i].start, &sc->tb, err);
        if (rc < 0) return rc;
        if (nn > UINT32_MAX - sc->tb.len - 2 ||
            vec_reserve((void **)&sc->norm, &sc->cap_norm, nn + sc->tb.len + 2, 1))
            return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
        if (i) sc->norm[nn++] = ' ';
        memcpy(sc->norm + nn, sc->tb.s, sc->tb.len);
        sc->noff[2 * i] = (uint32_t)nn;
        sc->noff[2 * i + 1] = (uint32_t)sc->tb.len;
        nn += sc->tb.len;
    }

    /* the choices of this copy: one stream per (seed, epoch, record, copy) */
    uint64_t key[4] = {cs->seed, epoch, r, copy};
    rng g;
    rng_seed(&g, hash_bytes(key, sizeof key));
    unsigned maxw = c->lx.max_words < LEXICON_MAX_WORDS ? c->lx.max_words : LEXICON_MAX_WORDS;
    if (maxw < 1) maxw = 1;
    for (size_t i = 0; i < nw;) {
        /* longest match first, never across a slot boundary */
        size_t k = 1;
        while (k < maxw && i + k < nw && w[i + k].label == w[i].label) k++;
        const uint32_t *tr = NULL;
        size_t cnt = 0;
        for (; k >= 1; k--) {
            size_t a = sc->noff[2 * i],
                   b = sc->noff[2 * (i + k - 1)] + sc->noff[2 * (i + k - 1) + 1];
            if ((cnt = lexicon_lookup(&c->lx, sc->norm + a, b - a, &tr))) break;
        }
        const char *pre = NULL, *suf = NULL;
        size_t pre_n = 0, suf_n = 0;
        if (!cnt) { /* a word unknown as it is: try it without surrounding punctuation */
            k = 1;
            const char *s = sc->norm + sc->noff[2 * i];
            size_t n = sc->noff[2 * i + 1], p = 0, q = n;
            while (p < q && is_punct(s[p])) p++;
            while (q > p && is_punct(s[q - 1])) q--;
            if (q > p && (p > 0 || q < n) && (cnt = lexicon_lookup(&c->lx, s + p, q - p, &tr))) {
                pre = s, pre_n = p;
                suf = s + q, suf_n = n - q;
            }
        }
        /* a draw per unit the lexicon knows, then one more for the translation if swapped */
        int swap = cnt && rng_uniform(&g) < (double)cs->rate;
        int rc = MILLE_OK;
        if (swap) {
            const char *t = lexicon_str(&c->lx, tr[lexicon_pick(&g, cnt)]);
            rc = put_translation(sc, c, t, pre, pre_n, suf, suf_n, w[i].label, err);
            if (rc) return rc;
            sc->swapped += k;
        } else {
            for (size_t j = i; j < i + k && !rc; j++)
                rc = put_word(sc, NULL, 0, text + w[j].start, w[j].end - w[j].start, NULL, 0,
                              w[j].label);
            if (rc) return err_set(err, MILLE_ENOMEM, "code-switch: out of memory");
        }
        i += k;
    }
    if (sc->n_words == 0) /* every translation was empty of words: keep the record */
        return cs_record(&(cs_set){NULL, 0, 0, 0}, ds, r, epoch, copy, sc, err);
    return MILLE_OK;
}
