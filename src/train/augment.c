/*
 * augment.c - perturbed copies of labeled utterances (see augment.h).
 *
 * Text of a copy: the (possibly changed) words joined by one space, except in the locales
 * MASSIVE splits into characters (ja-JP, zh-*), where they are concatenated as written and a
 * space separates only two ASCII words (else they would read back as one word). The copy's
 * words are given explicitly with their offsets, so nothing is re-tokenized.
 */
#include "augment.h"

#include <stdlib.h>
#include <string.h>

aug_opts aug_default_opts(void)
{
    aug_opts o = {0.08f, 0.04f, 0.08f, 0.15f, NULL};
    return o;
}

void aug_scratch_free(aug_scratch *s)
{
    free(s->text);
    free(s->words);
    text_buf_free(&s->tb);
    memset(s, 0, sizeof *s);
}

/* QWERTY neighbours of the lowercase ASCII letters, for substitution typos. */
static const char *const qwerty[26] = {
    "qwsz",   "vghn",  "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko",
    "huikmn", "jiolm", "kop",  "njk",    "bhjm", "iklp",   "ol",     "wa",     "edft",
    "awedxz", "rfgy",  "yhji", "cfgb",   "qase", "zsdc",   "tghu",   "asx"};

size_t aug_typo(const char *w, size_t n, rng *g, char *out)
{
    /* code point boundaries */
    size_t cut[64], k = 0;
    for (size_t i = 0; i < n && k < 63;) {
        int32_t cp;
        int len = text_decode(w + i, n - i, &cp);
        if (len <= 0) return 0;
        cut[k++] = i;
        i += (size_t)len;
    }
    if (k < 3 || k >= 63) return 0;
    cut[k] = n;
    size_t at = 1 + rng_below(g, k - 1); /* keep the first character: typos rarely hit it */
    size_t a = cut[at], e = cut[at + 1], o = 0;
    int op = (int)rng_below(g, 4);
    unsigned char c = (unsigned char)w[a];
    if (op == 3 && !(e - a == 1 && c >= 'a' && c <= 'z')) op = 0; /* neighbour key: ASCII */
    if (op == 2 && at + 1 >= k) op = 0;                           /* swap needs a next one */
    memcpy(out, w, a);
    o = a;
    switch (op) {
    case 0: /* delete */
        break;
    case 1: /* double */
        memcpy(out + o, w + a, e - a);
        o += e - a;
        memcpy(out + o, w + a, e - a);
        o += e - a;
        break;
    case 2: { /* swap with the next character */
        size_t e2 = cut[at + 2];
        memcpy(out + o, w + e, e2 - e);
        o += e2 - e;
        memcpy(out + o, w + a, e - a);
        o += e - a;
        e = e2;
        break;
    }
    default: { /* a neighbouring key */
        const char *nb = qwerty[c - 'a'];
        out[o++] = nb[rng_below(g, strlen(nb))];
        break;
    }
    }
    memcpy(out + o, w + e, n - e);
    return o + n - e;
}

static int is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

/* Append word s (n bytes) with label to the copy being built. */
static int put_word(aug_scratch *sc, size_t *len, size_t *nw, int char_split, const char *s,
                    size_t n, uint32_t label)
{
    if (vec_reserve((void **)&sc->text, &sc->cap_text, *len + n + 2, 1) ||
        vec_reserve((void **)&sc->words, &sc->cap_words, *nw + 1, sizeof *sc->words))
        return MILLE_ENOMEM;
    if (*nw) {
        const data_word *p = &sc->words[*nw - 1];
        int space =
            !char_split || (is_ascii(sc->text + p->start, p->end - p->start) && is_ascii(s, n));
        if (space) sc->text[(*len)++] = ' ';
    }
    memcpy(sc->text + *len, s, n);
    sc->words[(*nw)++] = (data_word){(uint32_t)*len, (uint32_t)(*len + n), label};
    *len += n;
    return MILLE_OK;
}

int aug_perturb(data_set *ds, uint32_t r, uint32_t partition, rng *g, const aug_opts *o,
                aug_scratch *sc, mille_error *err)
{
    const data_record *rec = &ds->recs[r];
    const char *loc = strtab_str(&ds->locales, rec->locale);
    int char_split = annot_char_split(loc, strlen(loc));
    const char *text = data_str(ds, rec->utt);
    size_t len = 0, nw = 0, left = rec->n_words;
    int changed = 0;
    char tmp[512];
    for (uint32_t k = 0; k < rec->n_words; k++, left--) {
        const data_word *w = &ds->words[rec->word0 + k];
        const char *s = text + w->start;
        size_t n = w->end - w->start;
        double u = rng_uniform(g);
        int rc = MILLE_OK;
        if (u < o->drop && (nw > 0 || left > 1)) {
            changed = 1;
            continue;
        }
        u -= o->drop;
        if (u < o->repeat) {
            rc = put_word(sc, &len, &nw, char_split, s, n, w->label);
            if (!rc) rc = put_word(sc, &len, &nw, char_split, s, n, w->label);
            changed = 1;
        } else if ((u -= o->repeat) < o->typo && n + 4 <= sizeof tmp &&
                   (n = aug_typo(s, w->end - w->start, g, tmp)) > 0) {
            rc = put_word(sc, &len, &nw, char_split, tmp, n, w->label);
            changed = 1;
        } else {
            n = w->end - w->start;
            const uint32_t *tr = NULL;
            int nt = 0;
            if (u >= o->typo && u - o->typo < o->swap && o->lx) {
                nt = lexicon_find(o->lx, s, n, &sc->tb, &tr, err);
                if (nt < 0) nt = 0; /* a word the lexicon cannot normalize: keep it */
            }
            if (nt > 0) {
                const char *t = lexicon_str(o->lx, tr[rng_below(g, (uint64_t)nt)]);
                /* a phrase becomes several words, each with the label */
                for (const char *q = t; *q;) {
                    const char *e = strchr(q, ' ');
                    size_t tl = e ? (size_t)(e - q) : strlen(q);
                    if (tl && (rc = put_word(sc, &len, &nw, char_split, q, tl, w->label))) break;
                    q += tl + (e ? 1 : 0);
                }
                changed = 1;
            } else {
                rc = put_word(sc, &len, &nw, char_split, s, n, w->label);
            }
        }
        if (rc) return err_set(err, MILLE_ENOMEM, "augment: out of memory");
        text = data_str(ds, ds->recs[r].utt); /* ds is not modified above, but stay safe */
    }
    if (!changed || nw == 0) return 0;
    int rc = data_add_words(ds, &ds->recs[r], partition, sc->text, len, sc->words, nw, err);
    return rc ? rc : 1;
}
