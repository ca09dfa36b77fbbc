/*
 * rewrite.c - the rewrite table of self-learning (learn.h): normalized source phrasing ->
 * target phrasing, per locale, looked up before parsing, and its JSON-lines file.
 *
 * Lookup cost: one normalization of the input (NFKC + case fold, the same one the model's
 * features start with) and one hash probe; an empty table costs nothing (the probe is
 * skipped before normalizing). The table is an open-addressing array of indices, kept at
 * most half full, so a miss ends at the first empty slot.
 *
 * Not here: how rewrites are mined (mine.c), their monitoring after deployment.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"

/* ---- keys -------------------------------------------------------------------------------- */

/* Trailing punctuation dropped from keys: what a speech recognizer or a typist adds at the
 * end of a request without changing it (after NFKC, full-width ？！ are ASCII already). */
static size_t trailing_punct(const char *s, size_t n)
{
    static const char *const tails[] = {
        ".", "?", "!", "\xe3\x80\x82" /* 。 */, "\xd8\x9f" /* ؟ */, "\xe0\xa5\xa4" /* । */};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        size_t k = strlen(tails[i]);
        if (n >= k && memcmp(s + n - k, tails[i], k) == 0) return k;
    }
    return 0;
}

int learn_key(const char *s, size_t n, text_buf *tb, const char **key, size_t *key_len,
              mille_error *err)
{
    int rc = text_normalize(s, n, TEXT_NORM_DEFAULT, tb, err);
    if (rc < 0) return rc;
    /* collapse whitespace in place: the output is never longer than the input */
    char *o = tb->s;
    size_t w = 0;
    int space = 1; /* drops leading spaces */
    for (size_t i = 0; i < tb->len; i++) {
        char c = tb->s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            if (!space) o[w++] = ' ';
            space = 1;
        } else {
            o[w++] = c;
            space = 0;
        }
    }
    for (;;) {
        size_t k;
        if (w && o[w - 1] == ' ')
            w--;
        else if ((k = trailing_punct(o, w)) > 0)
            w -= k;
        else
            break;
    }
    o[w] = '\0';
    *key = o;
    *key_len = w;
    return 0;
}

/* ---- the table --------------------------------------------------------------------------- */

static uint64_t key_hash(const char *k, size_t n) { return hash_bytes(k, n); }

static int grow_slots(learn_rewrites *rw)
{
    size_t ns = rw->nslots ? rw->nslots * 2 : 64;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s) return MILLE_ENOMEM;
    for (size_t i = 0; i < rw->n; i++) {
        const learn_rewrite *r = &rw->r[i];
        size_t h = (size_t)key_hash(rw->st.buf + r->source, r->source_len) & (ns - 1);
        while (s[h]) h = (h + 1) & (ns - 1);
        s[h] = (uint32_t)i + 1;
    }
    free(rw->slots);
    rw->slots = s;
    rw->nslots = ns;
    return 0;
}

static int locale_match(const char *entry, const char *want)
{
    return !want || !*entry || strcmp(entry, want) == 0;
}

int learn_rewrites_add(learn_rewrites *rw, const char *locale, const char *source, size_t slen,
                       const char *target, size_t tlen, uint32_t users, uint32_t sessions,
                       float confidence, text_buf *tb, mille_error *err)
{
    const char *key;
    size_t klen;
    if (!locale) locale = "";
    int rc = learn_key(source, slen, tb, &key, &klen, err);
    if (rc < 0) return rc;
    if (klen == 0 || tlen == 0) return err_set(err, MILLE_EINVAL, "empty source or target");
    size_t bad;
    if (text_utf8_check(target, tlen, &bad) < 0)
        return err_set(err, MILLE_EUTF8, "target is not UTF-8 text");
    if (klen >= UINT32_MAX || tlen >= UINT32_MAX) return err_set(err, MILLE_ERANGE, "too long");
    /* replace an entry of the same locale and source */
    learn_rewrite *r = NULL;
    if (rw->nslots) {
        size_t h = (size_t)key_hash(key, klen) & (rw->nslots - 1);
        for (; rw->slots[h]; h = (h + 1) & (rw->nslots - 1)) {
            learn_rewrite *e = &rw->r[rw->slots[h] - 1];
            if (e->source_len == klen && memcmp(rw->st.buf + e->source, key, klen) == 0 &&
                strcmp(rw->st.buf + e->locale, locale) == 0) {
                r = e;
                break;
            }
        }
    }
    if (!r) {
        if ((rw->n + 1) * 2 > rw->nslots && grow_slots(rw) < 0)
            return err_set(err, MILLE_ENOMEM, "out of memory");
        if (vec_reserve((void **)&rw->r, &rw->cap, rw->n + 1, sizeof *rw->r) < 0)
            return err_set(err, MILLE_ENOMEM, "out of memory");
        r = &rw->r[rw->n];
        memset(r, 0, sizeof *r);
        if (strstore_add(&rw->st, key, klen, &r->source) < 0)
            return err_set(err, MILLE_ENOMEM, "out of memory");
        size_t h = (size_t)key_hash(key, klen) & (rw->nslots - 1);
        while (rw->slots[h]) h = (h + 1) & (rw->nslots - 1);
        rw->slots[h] = (uint32_t)++rw->n;
    }
    r->source_len = (uint32_t)klen;
    r->target_len = (uint32_t)tlen;
    r->users = users;
    r->sessions = sessions;
    r->confidence = confidence;
    if (strstore_add(&rw->st, locale, strlen(locale), &r->locale) < 0 ||
        strstore_add(&rw->st, target, tlen, &r->target) < 0 ||
        strstore_add(&rw->st, source, slen, &r->raw_source) < 0)
        return err_set(err, MILLE_ENOMEM, "out of memory");
    return 0;
}

const learn_rewrite *learn_rewrites_find(const learn_rewrites *rw, const char *text, size_t n,
                                         const char *locale, text_buf *tb)
{
    if (!rw || rw->n == 0) return NULL; /* nothing to match: no normalization at all */
    const char *key;
    size_t klen;
    if (learn_key(text, n, tb, &key, &klen, NULL) < 0 || klen == 0) return NULL;
    size_t h = (size_t)key_hash(key, klen) & (rw->nslots - 1);
    for (; rw->slots[h]; h = (h + 1) & (rw->nslots - 1)) {
        const learn_rewrite *e = &rw->r[rw->slots[h] - 1];
        if (e->source_len == klen && memcmp(rw->st.buf + e->source, key, klen) == 0 &&
            locale_match(rw->st.buf + e->locale, locale))
            return e;
    }
    return NULL;
}

/* ---- file -------------------------------------------------------------------------------- */

#define REWRITES_MAX_BYTES ((size_t)1 << 30)

int learn_rewrites_load(learn_rewrites *rw, const char *path, mille_error *err)
{
    char *buf;
    size_t len;
    int rc = file_read_gz(path, SIZE_MAX, REWRITES_MAX_BYTES, &buf, &len, err);
    if (rc < 0) return rc;
    text_buf tb = {0};
    size_t line = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        const char *s = buf + i, *nl = memchr(s, '\n', len - i);
        size_t n = nl ? (size_t)(nl - s) : len - i;
        i += n + 1;
        line++;
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' ')) n--;
        if (n == 0) continue;
        json_error_t je;
        json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
        const char *loc = "", *src = NULL, *tgt = NULL;
        size_t sl = 0, tl = 0;
        json_int_t users = 0, sessions = 0;
        double conf = 0;
        if (!j) {
            rc = err_set(err, MILLE_EFORMAT, "%s:%zu: %s", path, line, je.text);
        } else if (json_unpack_ex(j, &je, 0, "{s?s,s:s%,s:s%,s?I,s?I,s?F}", "locale", &loc,
                                  "source", &src, &sl, "target", &tgt, &tl, "users", &users,
                                  "sessions", &sessions, "confidence", &conf) < 0) {
            rc = err_set(err, MILLE_EFORMAT, "%s:%zu: %s", path, line, je.text);
        } else if (users < 0 || sessions < 0 || users > UINT32_MAX || sessions > UINT32_MAX) {
            rc = err_set(err, MILLE_EFORMAT, "%s:%zu: users/sessions out of range", path, line);
        } else if ((rc = learn_rewrites_add(rw, loc, src, sl, tgt, tl, (uint32_t)users,
                                            (uint32_t)sessions, (float)conf, &tb, err)) < 0) {
            err_prefix(err, "%s:%zu: ", path, line);
            if (rc != MILLE_ENOMEM) rc = MILLE_EFORMAT;
        }
        json_decref(j);
    }
    text_buf_free(&tb);
    free(buf);
    return rc;
}

int learn_rewrites_save(const learn_rewrites *rw, const char *path, mille_error *err)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < rw->n && rc == 0; i++) {
        const learn_rewrite *r = &rw->r[i];
        json_t *j =
            json_pack("{s:s,s:s%,s:s%,s:I,s:I,s:f}", "locale", rw->st.buf + r->locale, "source",
                      rw->st.buf + r->raw_source, strlen(rw->st.buf + r->raw_source), "target",
                      rw->st.buf + r->target, (size_t)r->target_len, "users", (json_int_t)r->users,
                      "sessions", (json_int_t)r->sessions, "confidence", (double)r->confidence);
        char *s =
            j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4)) : NULL;
        json_decref(j);
        size_t n = s ? strlen(s) : 0;
        if (!s || vec_reserve((void **)&out, &cap, len + n + 2, 1) < 0) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
        } else {
            memcpy(out + len, s, n);
            len += n;
            out[len++] = '\n';
        }
        free(s);
    }
    if (rc == 0) rc = file_write_atomic(path, out ? out : "", len, err);
    free(out);
    return rc;
}

void learn_rewrites_free(learn_rewrites *rw)
{
    if (!rw) return;
    strstore_free(&rw->st);
    free(rw->r);
    free(rw->slots);
    memset(rw, 0, sizeof *rw);
}
