/*
 * morph.c - inflected forms for lexicon translations (see morph.h), on libhunspell's C API
 * (Hunspell_stem) and glibc's iconv for dictionaries not in UTF-8.
 *
 * The index: every distinct word of the text (NFKC + case folded, as the model sees words)
 * is a form with a count; hunspell gives each form its stems (a form may have several:
 * Polish "mam" is a form of "mieć" and of "mama"); a stem's forms, most frequent first, are
 * what a translation with that stem is replaced by. The dictionary files are read by
 * hunspell itself, not parsed here.
 *
 * Reference: hunspell(3), hunspell(5) (the .aff/.dic formats); Németh, "Hunspell" (2003-).
 */
#define _POSIX_C_SOURCE 200809L
#include "morph.h"

#include <hunspell.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

/* Longest word looked up, in bytes: longer "words" are not words. */
#define MORPH_MAX_WORD 200

struct morph {
    Hunhandle *h;
    int conv;         /* the dictionary is not UTF-8: convert with to / from */
    iconv_t to, from; /* UTF-8 -> dictionary encoding, and back */
    strtab forms;     /* distinct words of the text, case folded */
    uint32_t *count;  /* (forms.n) occurrences */
    size_t cap_count;
    size_t stemmed;      /* forms[0..stemmed) have their stems in pairs */
    strtab stems;        /* case folded stems */
    uint32_t *pair_stem; /* (n_pairs) */
    uint32_t *pair_form; /* (n_pairs) */
    size_t n_pairs, cap_ps, cap_pf;
    uint32_t *off, *csr; /* stem s has forms csr[off[s] .. off[s+1]), most frequent first */
    int built;           /* off/csr match the pairs */
    strtab tmp;          /* stems of one word */
    text_buf tb;
    annot_word *aw;
    size_t cap_aw;
    annot_scratch as;
};

/* ---- opening ------------------------------------------------------------------------------- */

static int readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

morph *morph_open(const char *prefix, mille_error *err)
{
    size_t n = strlen(prefix);
    char *aff = malloc(n + 5), *dic = malloc(n + 5);
    morph *m = calloc(1, sizeof *m);
    if (!aff || !dic || !m) {
        free(aff), free(dic), free(m);
        return err_set(err, MILLE_ENOMEM, "hunspell: out of memory"), NULL;
    }
    snprintf(aff, n + 5, "%s.aff", prefix);
    snprintf(dic, n + 5, "%s.dic", prefix);
    m->to = m->from = (iconv_t)-1;
    /* hunspell opens missing files without a word: say so instead */
    if (!readable(aff) || !readable(dic)) {
        err_set(err, MILLE_EIO, "hunspell: cannot read %s", readable(aff) ? dic : aff);
        goto fail;
    }
    if (!(m->h = Hunspell_create(aff, dic))) {
        err_set(err, MILLE_EIO, "hunspell: cannot load %s", prefix);
        goto fail;
    }
    const char *enc = Hunspell_get_dic_encoding(m->h);
    if (enc && strcmp(enc, "UTF-8") != 0 && strcmp(enc, "utf-8") != 0) {
        /* hunspell's names ("ISO8859-2", "microsoft-cp1251") as iconv knows them */
        if (strncmp(enc, "microsoft-", 10) == 0) enc += 10;
        m->conv = 1;
        m->to = iconv_open(enc, "UTF-8");
        m->from = iconv_open("UTF-8", enc);
        if (m->to == (iconv_t)-1 || m->from == (iconv_t)-1) {
            err_set(err, MILLE_EINVAL, "hunspell: %s: encoding \"%s\" unknown to iconv", prefix,
                    enc);
            goto fail;
        }
    }
    free(aff), free(dic);
    return m;
fail:
    free(aff), free(dic);
    morph_free(m);
    return NULL;
}

void morph_free(morph *m)
{
    if (!m) return;
    if (m->h) Hunspell_destroy(m->h);
    if (m->to != (iconv_t)-1) iconv_close(m->to);
    if (m->from != (iconv_t)-1) iconv_close(m->from);
    strtab_free(&m->forms);
    strtab_free(&m->stems);
    strtab_free(&m->tmp);
    free(m->count);
    free(m->pair_stem);
    free(m->pair_form);
    free(m->off);
    free(m->csr);
    text_buf_free(&m->tb);
    free(m->aw);
    annot_scratch_free(&m->as);
    free(m);
}

/* ---- stems --------------------------------------------------------------------------------- */

/* s (NUL-terminated) through cd into out (cap bytes, NUL-terminated): 0, or -1 when a
 * character has no equivalent or it does not fit. */
static int convert(iconv_t cd, const char *s, char *out, size_t cap)
{
    char *in = (char *)(uintptr_t)s, *o = out;
    size_t inl = strlen(s), outl = cap - 1;
    iconv(cd, NULL, NULL, NULL, NULL); /* initial shift state */
    if (iconv(cd, &in, &inl, &o, &outl) == (size_t)-1) return -1;
    *o = '\0';
    return 0;
}

static void clear_tab(strtab *t)
{
    strtab_free(t);
    memset(t, 0, sizeof *t);
}

/* Hunspell's stems of word (UTF-8, NUL-terminated), case folded, added to out. */
static int stems_of(morph *m, const char *word, strtab *out, mille_error *err)
{
    char enc[4 * MORPH_MAX_WORD + 8];
    const char *q = word;
    if (m->conv) {
        if (convert(m->to, word, enc, sizeof enc)) return 0; /* not writable in its encoding */
        q = enc;
    }
    char **list = NULL;
    int k = Hunspell_stem(m->h, &list, q);
    int added = 0;
    for (int i = 0; i < k; i++) {
        char u8[4 * MORPH_MAX_WORD + 8];
        const char *s = list[i];
        if (m->conv) {
            if (convert(m->from, list[i], u8, sizeof u8)) continue;
            s = u8;
        }
        int rc = text_normalize(s, strlen(s), TEXT_NORM_NFKC | TEXT_NORM_CASEFOLD, &m->tb, err);
        if (rc < 0 || m->tb.len == 0) continue; /* a stem that is not UTF-8: skip it */
        if (strtab_intern(out, m->tb.s, m->tb.len) < 0) {
            Hunspell_free_list(m->h, &list, k);
            return err_set(err, MILLE_ENOMEM, "hunspell: out of memory");
        }
        added++;
    }
    if (k > 0) Hunspell_free_list(m->h, &list, k);
    return added;
}

int morph_stems(morph *m, const char *w, size_t n, strtab *out, mille_error *err)
{
    clear_tab(out);
    if (n == 0 || n > MORPH_MAX_WORD) return 0;
    char word[MORPH_MAX_WORD + 8];
    memcpy(word, w, n);
    word[n] = '\0';
    if (memchr(word, '\0', n)) return 0;
    int rc = stems_of(m, word, out, err);
    if (rc < 0) return rc;
    if (out->n == 0) { /* "musik": the dictionary has "Musik" */
        char up[MORPH_MAX_WORD + 8];
        size_t un = text_upper_first(word, n, up, sizeof up);
        if (un && (un != n || memcmp(up, word, n) != 0) && (rc = stems_of(m, up, out, err)) < 0)
            return rc;
    }
    return (int)out->n;
}

/* ---- the text ------------------------------------------------------------------------------ */

/* Stems of the forms added since the last call, as (stem, form) pairs. */
static int stem_new_forms(morph *m, mille_error *err)
{
    for (; m->stemmed < m->forms.n; m->stemmed++) {
        uint32_t f = (uint32_t)m->stemmed;
        int k = morph_stems(m, strtab_str(&m->forms, f), m->forms.lens[f], &m->tmp, err);
        if (k < 0) return k;
        for (int i = 0; i < k; i++) {
            int64_t s = strtab_intern(&m->stems, strtab_str(&m->tmp, (size_t)i), m->tmp.lens[i]);
            if (s < 0 ||
                vec_reserve((void **)&m->pair_stem, &m->cap_ps, m->n_pairs + 1, sizeof(uint32_t)) ||
                vec_reserve((void **)&m->pair_form, &m->cap_pf, m->n_pairs + 1, sizeof(uint32_t)))
                return err_set(err, MILLE_ENOMEM, "hunspell: out of memory");
            m->pair_stem[m->n_pairs] = (uint32_t)s;
            m->pair_form[m->n_pairs++] = f;
        }
    }
    m->built = 0;
    return MILLE_OK;
}

int morph_add_text(morph *m, const char *text, size_t n, int char_split, mille_error *err)
{
    size_t bad;
    if (text_utf8_check(text, n, &bad))
        return err_set(err, MILLE_EUTF8, "text: invalid UTF-8 at byte %zu", bad);
    for (size_t a = 0; a < n;) {
        const char *nl = memchr(text + a, '\n', n - a);
        size_t e = nl ? (size_t)(nl - text) : n;
        const char *line = text + a;
        size_t len = e - a;
        if (vec_reserve((void **)&m->aw, &m->cap_aw, len + 1, sizeof *m->aw))
            return err_set(err, MILLE_ENOMEM, "text: out of memory");
        int nw = annot_words(line, len, char_split, m->aw, &m->as, err);
        if (nw < 0) return nw;
        for (int k = 0; k < nw; k++) {
            const annot_word *w = &m->aw[k];
            int rc = text_normalize(line + w->start, w->end - w->start,
                                    TEXT_NORM_NFKC | TEXT_NORM_CASEFOLD, &m->tb, err);
            if (rc < 0) return rc;
            size_t before = m->forms.n;
            int64_t id = m->tb.len ? strtab_intern(&m->forms, m->tb.s, m->tb.len) : -1;
            if (id == MILLE_ENOMEM ||
                vec_reserve((void **)&m->count, &m->cap_count, m->forms.n + 1, sizeof *m->count))
                return err_set(err, MILLE_ENOMEM, "text: out of memory");
            if (id < 0) continue;
            if (m->forms.n > before) m->count[id] = 0; /* new: stemmed at the end */
            m->count[id]++;
        }
        a = e + 1;
    }
    return stem_new_forms(m, err);
}

/* ---- forms of a stem ----------------------------------------------------------------------- */

static const morph *g_sort; /* for the comparison below (one thread: a morph is single-threaded) */
static int by_count(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint32_t cx = g_sort->count[x], cy = g_sort->count[y];
    if (cx != cy) return cx > cy ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int build(morph *m, mille_error *err)
{
    if (m->built) return MILLE_OK;
    size_t S = m->stems.n;
    free(m->off), free(m->csr);
    m->off = calloc(S + 2, sizeof *m->off);
    m->csr = malloc((m->n_pairs + 1) * sizeof *m->csr);
    if (!m->off || !m->csr) return err_set(err, MILLE_ENOMEM, "hunspell: out of memory");
    for (size_t p = 0; p < m->n_pairs; p++) m->off[m->pair_stem[p] + 1]++;
    for (size_t s = 0; s < S; s++) m->off[s + 1] += m->off[s];
    uint32_t *at = malloc((S + 1) * sizeof *at);
    if (!at) return err_set(err, MILLE_ENOMEM, "hunspell: out of memory");
    memcpy(at, m->off, (S + 1) * sizeof *at);
    for (size_t p = 0; p < m->n_pairs; p++) m->csr[at[m->pair_stem[p]]++] = m->pair_form[p];
    free(at);
    g_sort = m;
    for (size_t s = 0; s < S; s++)
        qsort(m->csr + m->off[s], m->off[s + 1] - m->off[s], sizeof *m->csr, by_count);
    g_sort = NULL;
    m->built = 1;
    return MILLE_OK;
}

const char *morph_form(const morph *m, uint32_t id, uint32_t *count)
{
    if (count) *count = m->count[id];
    return strtab_str(&m->forms, id);
}

int morph_forms(morph *m, const char *w, size_t n, uint32_t *ids, size_t cap, mille_error *err)
{
    int rc = build(m, err);
    if (rc) return rc;
    int k = morph_stems(m, w, n, &m->tmp, err);
    if (k < 0) return k;
    /* the word's own (case folded) spelling stands for its stem when hunspell does not know
     * it: a form of the text that hunspell reduces to it still matches */
    if (k == 0) {
        if ((rc = text_normalize(w, n, TEXT_NORM_NFKC | TEXT_NORM_CASEFOLD, &m->tb, err)) < 0)
            return rc;
        if (m->tb.len && strtab_intern(&m->tmp, m->tb.s, m->tb.len) < 0)
            return err_set(err, MILLE_ENOMEM, "hunspell: out of memory");
    }
    size_t got = 0;
    for (size_t i = 0; i < m->tmp.n; i++) {
        int64_t s = strtab_find(&m->stems, strtab_str(&m->tmp, i), m->tmp.lens[i]);
        if (s < 0) continue;
        for (uint32_t j = m->off[s]; j < m->off[s + 1]; j++) {
            uint32_t f = m->csr[j];
            size_t d = 0;
            while (d < got && ids[d] != f) d++;
            if (d == got && got < cap) ids[got++] = f;
        }
    }
    /* several stems: merge their lists by count */
    g_sort = m;
    qsort(ids, got, sizeof *ids, by_count);
    g_sort = NULL;
    return (int)got;
}

/* ---- the inflected lexicon ----------------------------------------------------------------- */

int morph_inflect(morph *m, const lexicon *lx, size_t max_forms, FILE *out, morph_stats *st,
                  mille_error *err)
{
    morph_stats z = {0, 0, 0, 0};
    if (!st) st = &z;
    *st = z;
    if (max_forms < 1) max_forms = 1;
    if (max_forms > 64) max_forms = 64;
    uint32_t ids[64];
    const char *written[LEXICON_MAX_TRANS * 64];
    for (size_t k = 0; k < lexicon_n_keys(lx); k++) {
        const char *key = strtab_str(&lx->keys, k);
        size_t nw = 0;
        for (uint32_t j = lx->off[k]; j < lx->off[k + 1]; j++) {
            const char *t = lexicon_str(lx, lx->csr[j]);
            int n = 0;
            if (!strchr(t, ' ')) {
                st->translations++;
                n = morph_forms(m, t, strlen(t), ids, max_forms, err);
                if (n < 0) return n;
                if (n > 0) st->inflected++;
            }
            for (int i = 0; i < (n > 0 ? n : 1); i++) {
                const char *f = n > 0 ? morph_form(m, ids[i], NULL) : t;
                size_t d = 0;
                while (d < nw && strcmp(written[d], f) != 0) d++;
                if (d < nw || nw == sizeof written / sizeof *written) continue;
                written[nw++] = f;
                if (fprintf(out, "%s\t%s\n", key, f) < 0)
                    return err_set(err, MILLE_EIO, "inflect: write failed");
                st->pairs++;
            }
        }
        if (nw) st->keys++;
    }
    return MILLE_OK;
}
