/*
 * lexicon.c - bilingual lexicons (FreeDict dictd files, TSV word pairs) and word-by-word
 * synthesis of labeled MASSIVE records in another language.
 *
 * What it implements:
 *   - the dictd index format (dictfmt(1)): "headword<TAB>offset<TAB>length" with offset and
 *     length in dictd's base64 (A-Z a-z 0-9 + /, most significant digit first), pointing
 *     into the uncompressed .dict; .dict.dz is dictzip, i.e. gzip with a random-access extra
 *     field, read here whole with zlib;
 *   - the entry text of the FreeDict TEI exports (freedict-tools' teiformat): a headword line
 *     ("alarm clock /pron/ <n>") then translation lines, in three layouts seen in Debian's
 *     30 eng-* packages: one line of comma-separated translations (old FreeDict, Ding
 *     eng-deu, whose notes, examples and cross-references follow indented), numbered senses
 *     ("1. alarme, alerte") possibly each followed by an English gloss line (WikDict
 *     dictionaries: eng-jpn, eng-fin, eng-nor ...), and Roman/letter sub-numbering
 *     (Piotrowski+Saloni eng-pol). Tags <...>, [...], {...}, (...) and quoted examples are
 *     dropped; what remains is split at ',' and ';';
 *   - the synthesis of docs/lexicon.md.
 * What it does not: morphology (no inflection or agreement), word order, part-of-speech
 * matching between source and translation, the dictzip random-access table (a whole
 * dictionary is a few to 60 MB uncompressed, read once).
 *
 * References: dictfmt(1) and dictd(8) man pages (index format and base64 alphabet); FreeDict
 * https://freedict.org/ (TEI sources and the dictd exports); the MASSIVE annot_utt syntax
 * (src/data/annot.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "lexicon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- small helpers ----------------------------------------------------------------------- */

static int is_hspace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static void trim(const char **s, size_t *n)
{
    while (*n && is_hspace(**s)) (*s)++, (*n)--;
    while (*n && is_hspace((*s)[*n - 1])) (*n)--;
}

static int starts_with(const char *s, size_t n, const char *p)
{
    size_t m = strlen(p);
    return n >= m && memcmp(s, p, m) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *memstr(const char *s, size_t n, const char *p)
{
    size_t m = strlen(p);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, p, m) == 0) return s + i;
    return NULL;
}

/* Growable byte buffer used as scratch. */
typedef struct bytes {
    char *p;
    size_t n, cap;
} bytes;

static int bytes_put(bytes *b, const char *s, size_t n)
{
    if (vec_reserve((void **)&b->p, &b->cap, b->n + n + 1, 1)) return MILLE_ENOMEM;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return MILLE_OK;
}

/* Collapse runs of Unicode whitespace in s[0..n) (valid UTF-8) to one ' ', dropping it at both
 * ends; in place, returns the new length. */
static size_t collapse_space(char *s, size_t n)
{
    size_t o = 0;
    int pending = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len = text_decode(s + i, n - i, &cp);
        if (len < 0) len = 1, cp = 0xFFFD; /* callers validated; keep going regardless */
        if (text_is_space(cp)) {
            pending = 1;
        } else {
            if (pending && o) s[o++] = ' ';
            pending = 0;
            memmove(s + o, s + i, (size_t)len);
            o += (size_t)len;
        }
        i += (size_t)len;
    }
    return o;
}

static size_t count_words(const char *s, size_t n)
{
    size_t w = n ? 1 : 0;
    for (size_t i = 0; i < n; i++) w += s[i] == ' ';
    return w;
}

int lexicon_normalize(const char *s, size_t n, text_buf *tb, mille_error *err)
{
    int rc = text_normalize(s, n, TEXT_NORM_NFKC | TEXT_NORM_CASEFOLD, tb, err);
    if (rc < 0) return rc;
    tb->len = collapse_space(tb->s, tb->len);
    tb->s[tb->len] = '\0';
    return MILLE_OK;
}

/* Lower-case s[0..n) for output: NFKC, then case folding of each source segment unless it
 * changes the number of code points ("ß" -> "ss", "İ" -> "i̇") or is the final sigma ς, which
 * folding would turn into σ. MASSIVE's utterances are lower case; the model case-folds anyway,
 * so this only keeps the written text natural. Result in out (replaced). */
static int lower_text(lexicon *lx, const char *s, size_t n, bytes *out, mille_error *err)
{
    int rc = text_normalize(s, n, TEXT_NORM_NFKC, &lx->tb, err);
    if (rc < 0) return rc;
    rc = text_normalize(lx->tb.s, lx->tb.len, TEXT_NORM_CASEFOLD, &lx->tb2, err);
    if (rc < 0) return rc;
    const text_buf *a = &lx->tb, *b = &lx->tb2;
    out->n = 0;
    for (size_t i = 0; i < b->len;) {
        size_t j = i + 1, s0 = b->src[i], s1 = b->src_end[i];
        while (j < b->len && b->src[j] == s0) j++;
        size_t cin = 0, cout = 0;
        for (size_t k = s0; k < s1; k++) cin += ((unsigned char)a->s[k] & 0xC0) != 0x80;
        for (size_t k = i; k < j; k++) cout += ((unsigned char)b->s[k] & 0xC0) != 0x80;
        int sigma = s1 - s0 == 2 && memcmp(a->s + s0, "\xcf\x82", 2) == 0;
        rc = (cin != cout || sigma) ? bytes_put(out, a->s + s0, s1 - s0)
                                    : bytes_put(out, b->s + i, j - i);
        if (rc) return err_set(err, MILLE_ENOMEM, "out of memory");
        i = j;
    }
    if (bytes_put(out, "", 0)) return err_set(err, MILLE_ENOMEM, "out of memory");
    return MILLE_OK;
}

/* ---- the pair store ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static int pairset_grow(lexicon *lx)
{
    size_t ncap = lx->pairset_cap ? lx->pairset_cap * 2 : 1024;
    uint64_t *t = calloc(ncap, sizeof *t);
    if (!t) return MILLE_ENOMEM;
    for (size_t i = 0; i < lx->pairset_cap; i++) {
        uint64_t v = lx->pairset[i];
        if (!v) continue;
        size_t h = mix64(v) & (ncap - 1);
        while (t[h]) h = (h + 1) & (ncap - 1);
        t[h] = v;
    }
    free(lx->pairset);
    lx->pairset = t;
    lx->pairset_cap = ncap;
    return MILLE_OK;
}

/* Add (key, translation); both already normalized. Returns 1 if new, 0 if known or the key
 * already has LEXICON_MAX_TRANS translations, MILLE_ENOMEM. */
static int add_pair(lexicon *lx, const char *key, size_t kn, const char *tr, size_t tn, int tier)
{
    int64_t k = strtab_intern(&lx->keys, key, kn);
    if (k < 0) return MILLE_ENOMEM;
    if ((size_t)k >= lx->cap_key_count) {
        size_t old = lx->cap_key_count;
        if (vec_reserve((void **)&lx->key_count, &lx->cap_key_count, (size_t)k + 1, 1))
            return MILLE_ENOMEM;
        memset(lx->key_count + old, 0, lx->cap_key_count - old);
    }
    if (lx->key_count[k] >= LEXICON_MAX_TRANS) return 0;
    int64_t t = strtab_intern(&lx->trans, tr, tn);
    if (t < 0) return MILLE_ENOMEM;
    if (2 * (lx->n_pairs + 1) > lx->pairset_cap && pairset_grow(lx)) return MILLE_ENOMEM;
    uint64_t v = ((uint64_t)k + 1) << 32 | (uint64_t)t;
    size_t h = mix64(v) & (lx->pairset_cap - 1);
    while (lx->pairset[h]) {
        if (lx->pairset[h] == v) return 0;
        h = (h + 1) & (lx->pairset_cap - 1);
    }
    if (lx->n_pairs >= UINT32_MAX) return MILLE_ENOMEM;
    size_t c1 = lx->cap_pairs, c2 = lx->cap_pairs, c3 = lx->cap_pairs;
    if (vec_reserve((void **)&lx->pair_key, &c1, lx->n_pairs + 1, sizeof *lx->pair_key) ||
        vec_reserve((void **)&lx->pair_tr, &c2, lx->n_pairs + 1, sizeof *lx->pair_tr) ||
        vec_reserve((void **)&lx->pair_tier, &c3, lx->n_pairs + 1, 1))
        return MILLE_ENOMEM;
    lx->cap_pairs = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
    lx->pairset[h] = v;
    lx->pair_key[lx->n_pairs] = (uint32_t)k;
    lx->pair_tr[lx->n_pairs] = (uint32_t)t;
    lx->pair_tier[lx->n_pairs] = (uint8_t)tier;
    lx->n_pairs++;
    lx->key_count[k]++;
    unsigned w = (unsigned)count_words(key, kn);
    if (w > lx->max_words) lx->max_words = w;
    return 1;
}

/* Rebuild the lookup arrays (CSR by key; each key's tier-0 translations first, then tier 1,
 * each tier in load order). Called at the end of every load, successful or not, so that lx is
 * always consistent. */
static int freeze(lexicon *lx, mille_error *err)
{
    size_t nk = lx->keys.n;
    uint32_t *off = realloc(lx->off, (nk + 1) * sizeof *off);
    if (!off) return err_set(err, MILLE_ENOMEM, "out of memory");
    lx->off = off;
    uint32_t *csr = realloc(lx->csr, (lx->n_pairs ? lx->n_pairs : 1) * sizeof *csr);
    if (!csr) return err_set(err, MILLE_ENOMEM, "out of memory");
    lx->csr = csr;
    /* off[k] = end of key k's run; filling pairs backwards moves it to the start */
    uint32_t sum = 0;
    for (size_t k = 0; k < nk; k++) {
        sum += lx->key_count[k];
        off[k] = sum;
    }
    off[nk] = sum;
    MILLE_ASSERT(sum == lx->n_pairs);
    for (int tier = 1; tier >= 0; tier--)
        for (size_t p = lx->n_pairs; p-- > 0;)
            if (lx->pair_tier[p] == tier) csr[--off[lx->pair_key[p]]] = lx->pair_tr[p];
    return MILLE_OK;
}

size_t lexicon_lookup(const lexicon *lx, const char *key, size_t n, const uint32_t **tr)
{
    *tr = NULL;
    int64_t k = strtab_find(&lx->keys, key, n);
    if (k < 0) return 0;
    MILLE_ASSERT(lx->off != NULL);
    *tr = lx->csr + lx->off[k];
    return lx->off[k + 1] - lx->off[k];
}

int lexicon_find(const lexicon *lx, const char *src, size_t n, text_buf *tb, const uint32_t **tr,
                 mille_error *err)
{
    *tr = NULL;
    int rc = lexicon_normalize(src, n, tb, err);
    if (rc < 0) return rc;
    return (int)lexicon_lookup(lx, tb->s, tb->len, tr);
}

void lexicon_free(lexicon *lx)
{
    if (!lx) return;
    strtab_free(&lx->keys);
    strtab_free(&lx->trans);
    free(lx->pair_key);
    free(lx->pair_tr);
    free(lx->pair_tier);
    free(lx->pairset);
    free(lx->key_count);
    free(lx->off);
    free(lx->csr);
    text_buf_free(&lx->tb);
    text_buf_free(&lx->tb2);
    memset(lx, 0, sizeof *lx);
}

/* ---- translations: cleaning one translation line ----------------------------------------- */

/* Caps on the work of one dictionary (audit 2026-12 #15): the translation lines of an entry
 * are parsed once per key, so keys per entry (the comma-separated spellings of a headword
 * line, "adapter, adaptor") and bytes per entry bound the work of an entry; real FreeDict
 * headwords have a handful of spellings and entries a few KB. Index lines may point at
 * the same entry (one line per spelling), so the bytes of entries that the index refers
 * to, summed over its lines, are capped at a multiple of the .dict's size. */
#define LEXICON_MAX_KEYS   16
#define LEXICON_MAX_ENTRY  (256u << 10)
#define LEXICON_MAX_REREAD 16 /* entry bytes referred to <= this x .dict bytes + 1 MiB */

/* Scratch of one load call (kept out of the lexicon so that lexicon.h stays small). */
typedef struct load_ctx {
    lexicon *lx;
    bytes clean, low, cand, keys, fold_a, fold_b;
    size_t n_keys;
    lexicon_stats st;
} load_ctx;

static void load_ctx_free(load_ctx *c)
{
    free(c->clean.p);
    free(c->low.p);
    free(c->cand.p);
    free(c->keys.p);
    free(c->fold_a.p);
    free(c->fold_b.p);
}

/* Remove bracketed groups (...), [...], {...}, <...> and "..." quotes; "[[x]]" (wiki links
 * in WikDict's Bulgarian) keeps x. An unclosed group runs to the end of the line. */
static int strip_groups(const char *s, size_t n, bytes *out)
{
    out->n = 0;
    int depth = 0, quote = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c == '[' || c == ']') && i + 1 < n && s[i + 1] == c) {
            i++; /* "[[" / "]]": wiki link markup, keep the text */
            continue;
        }
        if (c == '"') {
            quote = !quote;
            continue;
        }
        if (quote) continue;
        if (c == '(' || c == '[' || c == '{' || c == '<') {
            depth++;
        } else if (c == ')' || c == ']' || c == '}' || c == '>') {
            if (depth) depth--;
        } else if (!depth) {
            if (c == '~') c = ' '; /* the Hindi dictionary joins words with '~' */
            if (bytes_put(out, &c, 1)) return MILLE_ENOMEM;
        }
    }
    return bytes_put(out, "", 0);
}

/* A piece is usable as a translation when it is not an explanation, an example or a template:
 * no leftover markup, no sentence punctuation, no abbreviation inside ("etw. mampfen"), no
 * ellipsis or dash placeholders. */
static int piece_ok(const char *s, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c && strchr("/~=:?!\"[](){}<>|*_#@\\$%^&+", c)) return 0;
        if (c < 0x20) return 0;
        if (c == '.' && (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '.')) return 0;
    }
    /* ellipsis and en/em dashes: template marks ("Kamera bereit? – Kamera bereit!") */
    static const char *const bad[] = {"\xe2\x80\xa6", "\xe2\x80\x93", "\xe2\x80\x94"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (memstr(s, n, bad[k])) return 0;
    return 1;
}

/* Add one translation piece (raw dictionary text) for key: trim, lower-case, check. */
static int add_translation(load_ctx *c, const char *key, size_t kn, const char *s, size_t n,
                           int tier, mille_error *err)
{
    trim(&s, &n);
    while (n && (*s == '.' || *s == '-' || *s == ' ')) s++, n--;
    while (n && (s[n - 1] == '.' || s[n - 1] == '!' || s[n - 1] == '?' || s[n - 1] == ' ')) n--;
    if (!piece_ok(s, n)) return 0;
    int rc = lower_text(c->lx, s, n, &c->low, err);
    if (rc < 0) return rc;
    size_t m = collapse_space(c->low.p, c->low.n);
    /* U+2010 HYPHEN (FreeDict's "chou‐fleur") is written '-' in MASSIVE */
    size_t o = 0;
    for (size_t i = 0; i < m; i++) {
        if (i + 2 < m && memcmp(c->low.p + i, "\xe2\x80\x90", 3) == 0) {
            c->low.p[o++] = '-';
            i += 2;
        } else {
            c->low.p[o++] = c->low.p[i];
        }
    }
    if (!o || o > 128 || count_words(c->low.p, o) > LEXICON_MAX_TRANS_WORDS) return 0;
    rc = add_pair(c->lx, key, kn, c->low.p, o, tier);
    if (rc < 0) return err_set(err, MILLE_ENOMEM, "out of memory");
    return rc;
}

/* Clean one translation line and add each of its comma/semicolon-separated pieces. */
static int add_line(load_ctx *c, const char *key, size_t kn, const char *s, size_t n, size_t *added,
                    mille_error *err)
{
    trim(&s, &n);
    /* WikDict marks sub-senses of the next gloss with a trailing " 2.": drop it */
    if (n >= 3 && s[n - 1] == '.') {
        size_t d = n - 1;
        while (d && s[d - 1] >= '0' && s[d - 1] <= '9') d--;
        if (d < n - 1 && d >= 1 && s[d - 1] == ' ') n = d - 1;
    }
    /* Turkish eng-tur runs sub-entries of other headwords after ". ": keep the first
     * sentence. A period after a short word is an abbreviation ("etw. mampfen"), not an end. */
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '.' || s[i + 1] != ' ') continue;
        size_t w = i;
        while (w && s[w - 1] != ' ') w--;
        if (i - w >= 5) {
            n = i;
            break;
        }
    }
    /* a domain or context tag ("Besteck [med.]", "[drzwi] ciężko chodzący") marks a
     * specialised sense: such translations go after the plain ones (tier 1) */
    int tier = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '[' && (i + 1 >= n || s[i + 1] != '[') && (i == 0 || s[i - 1] != '[')) tier = 1;
    if (strip_groups(s, n, &c->clean)) return err_set(err, MILLE_ENOMEM, "out of memory");
    /* add_translation works in other buffers: c->clean stays put */
    const char *p = c->clean.p;
    size_t m = c->clean.n, a = 0;
    for (size_t i = 0; i <= m; i++) {
        if (i < m && p[i] != ',' && p[i] != ';') continue;
        int rc = add_translation(c, key, kn, p + a, i - a, tier, err);
        if (rc < 0) return rc;
        *added += (size_t)rc;
        a = i + 1;
    }
    return MILLE_OK;
}

/* ---- FreeDict entries ---------------------------------------------------------------------- */

/* What a body line of an entry is. */
enum { LINE_SKIP = 0, LINE_TEXT, LINE_NUMBERED };

/* Classify a body line; *s, *n are moved past any enumeration ("1.", "II.", "a.") and part of
 * speech tags ("<N>"). Notes, examples, synonyms and cross-references are LINE_SKIP. */
static int classify(const char **s, size_t *n)
{
    trim(s, n);
    if (!*n) return LINE_SKIP;
    static const char *const notes[] = {"\"",      "\xe2\x80\x9c", "\xe2\x80\x9e", "Note:",
                                        "Synonym", "see:",         "See:",         "See also",
                                        "Syn:",    "Usage:",       "- ",           "Example"};
    for (size_t k = 0; k < sizeof notes / sizeof notes[0]; k++)
        if (starts_with(*s, *n, notes[k])) return LINE_SKIP;
    int numbered = 0;
    for (;;) {
        const char *p = *s;
        size_t m = *n, j = 0;
        if (m && *p == '<') {
            const char *gt = memchr(p, '>', m);
            if (!gt) break;
            j = (size_t)(gt - p) + 1;
        } else {
            while (j < m && p[j] >= '0' && p[j] <= '9') j++;
            if (j == 0) /* Roman numerals of the Polish dictionary's homographs */
                while (j < m && (p[j] == 'I' || p[j] == 'V' || p[j] == 'X')) j++;
            if (j == 0 && numbered && m >= 2 && p[0] >= 'a' && p[0] <= 'z') j = 1;
            if (j == 0 || j >= m || p[j] != '.' || (j + 1 < m && p[j + 1] != ' ')) break;
            j++;
            numbered = 1;
        }
        *s += j;
        *n -= j;
        trim(s, n);
    }
    if (numbered) return LINE_NUMBERED;
    return *n ? LINE_TEXT : LINE_SKIP;
}

/* dictd's index key of a headword: NFKC + case folded, ASCII punctuation and the Latin-1 and
 * General Punctuation symbols dropped (dictfmt keeps only alphanumerics and spaces), spaces
 * collapsed. Used to tell an entry's own headword from a cross-reference: the German
 * dictionary indexes the entry "Maine (ME)" under "me" as well. */
static int dictd_fold(load_ctx *c, const char *s, size_t n, bytes *out, mille_error *err)
{
    int rc = lexicon_normalize(s, n, &c->lx->tb, err);
    if (rc < 0) return rc;
    out->n = 0;
    const char *p = c->lx->tb.s;
    size_t m = c->lx->tb.len;
    for (size_t i = 0; i < m;) {
        int32_t cp;
        int len = text_decode(p + i, m - i, &cp);
        if (len < 0) return err_set(err, MILLE_EUTF8, "invalid UTF-8");
        int keep;
        if (cp < 0x80)
            keep = cp == ' ' || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
                   (cp >= 'A' && cp <= 'Z');
        else
            keep = !(cp >= 0xA0 && cp <= 0xBF) && !(cp >= 0x2000 && cp <= 0x206F);
        if (keep && bytes_put(out, p + i, (size_t)len))
            return err_set(err, MILLE_ENOMEM, "out of memory");
        i += (size_t)len;
    }
    if (out->n) out->n = collapse_space(out->p, out->n);
    if (bytes_put(out, "", 0)) return err_set(err, MILLE_ENOMEM, "out of memory");
    return MILLE_OK;
}

/* One candidate spelling of the headword: the alternative a[0..n) with parentheses either
 * dropped with their content (drop = 1) or unwrapped. */
static int candidate(const char *a, size_t n, int drop, bytes *out)
{
    out->n = 0;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '(') {
            depth++;
            continue;
        }
        if (a[i] == ')') {
            if (depth) depth--;
            continue;
        }
        if (drop && depth) continue;
        if (bytes_put(out, a + i, 1)) return MILLE_ENOMEM;
    }
    return bytes_put(out, "", 0);
}

/* Fold candidate a[0..n) (parentheses dropped or unwrapped) and compare with c->fold_a.
 * Returns 1 on a match, with the normalized spelling appended to c->keys as a NUL-terminated
 * key (unless it is empty or too long), 0 otherwise. */
static int try_candidate(load_ctx *c, const char *a, size_t n, int drop, int force,
                         mille_error *err)
{
    if (candidate(a, n, drop, &c->cand)) return err_set(err, MILLE_ENOMEM, "out of memory");
    int rc;
    if (!force) {
        rc = dictd_fold(c, c->cand.p, c->cand.n, &c->fold_b, err);
        if (rc < 0) return rc;
        if (c->fold_b.n != c->fold_a.n || memcmp(c->fold_b.p, c->fold_a.p, c->fold_a.n)) return 0;
    }
    rc = lexicon_normalize(c->cand.p, c->cand.n, &c->lx->tb, err);
    if (rc < 0) return rc;
    size_t m = c->lx->tb.len;
    while (m && strchr(".!? ", c->lx->tb.s[m - 1])) m--;
    if (!m || count_words(c->lx->tb.s, m) > LEXICON_MAX_WORDS) return 1;
    if (c->n_keys >= LEXICON_MAX_KEYS) return 1; /* matched, but no more keys: see the cap */
    if (bytes_put(&c->keys, c->lx->tb.s, m) || bytes_put(&c->keys, "", 1))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    c->n_keys++;
    return 1;
}

/* The lexicon keys of an entry, NUL-separated in c->keys: the spelling on its headword line
 * that dictd indexed under idx (the line may list several, "adapter, adaptor"; then only the
 * one indexed here), or all of them when the index key is the whole line ("druse, druze");
 * normalized, a final . ! ? dropped. Returns the number of keys, 0 when the entry is a
 * cross-reference indexed under another word (or unusable), or a negative code. */
static int entry_keys(load_ctx *c, const char *idx, size_t idx_n, const char *hw, size_t hw_n,
                      mille_error *err)
{
    c->keys.n = 0;
    c->n_keys = 0;
    int rc = dictd_fold(c, idx, idx_n, &c->fold_a, err);
    if (rc < 0) return rc;
    if (!c->fold_a.n) return 0;
    /* the headword ends at its pronunciation, part of speech or a tab */
    for (size_t i = 1; i < hw_n; i++)
        if (hw[i] == '\t' || (hw[i - 1] == ' ' && (hw[i] == '/' || hw[i] == '<'))) {
            hw_n = i;
            break;
        }
    trim(&hw, &hw_n);
    for (int whole = 0; whole < 2; whole++) {
        if (whole) {
            /* the index key is the whole line: every alternative is a key */
            int match = 0;
            for (int drop = 1; drop >= 0 && !match; drop--) {
                if (candidate(hw, hw_n, drop, &c->cand))
                    return err_set(err, MILLE_ENOMEM, "out of memory");
                rc = dictd_fold(c, c->cand.p, c->cand.n, &c->fold_b, err);
                if (rc < 0) return rc;
                match =
                    c->fold_b.n == c->fold_a.n && !memcmp(c->fold_b.p, c->fold_a.p, c->fold_a.n);
            }
            if (!match) return 0;
        }
        size_t a0 = 0;
        for (size_t i = 0; i <= hw_n; i++) {
            if (i < hw_n && hw[i] != ',') continue;
            for (int drop = 1; drop >= 0; drop--) {
                rc = try_candidate(c, hw + a0, i - a0, drop, whole, err);
                if (rc < 0) return rc;
                if (rc) break;
            }
            if (rc && !whole) return c->n_keys;
            a0 = i + 1;
        }
        if (whole) return c->n_keys;
    }
    return 0;
}

/* Parse one entry's text e[0..n) indexed under idx and add its translations. Returns the
 * number of pairs added or a negative code. */
static int parse_entry(load_ctx *c, const char *idx, size_t idx_n, const char *e, size_t n,
                       mille_error *err)
{
    const char *nl = memchr(e, '\n', n);
    size_t hw_n = nl ? (size_t)(nl - e) : n;
    /* affixes ("-on <suffix>" of physics) share their spelling with words: not translations */
    static const char *const affix[] = {"<suffix>", "<prefix>",   "<affix>",
                                        "<infix>",  "<interfix>", "<circumfix>"};
    for (size_t k = 0; k < sizeof affix / sizeof affix[0]; k++)
        if (memstr(e, hw_n, affix[k])) return 0;
    int rc = entry_keys(c, idx, idx_n, e, hw_n, err);
    if (rc <= 0) return rc;
    const char *body = e + hw_n, *end = e + n;
    /* pass 1: numbered senses? then only numbered lines are translations (the others are
     * glosses); else only the first text line is */
    int numbered = 0;
    for (const char *p = body; p < end;) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        if (!q) q = end;
        const char *s = p;
        size_t m = (size_t)(q - p);
        /* a bare " 3." (WikDict's sub-sense of the line before) does not count */
        if (classify(&s, &m) == LINE_NUMBERED && m) numbered = 1;
        p = q + 1;
    }
    size_t added = 0;
    const char *key = c->keys.p;
    for (size_t k = 0; k < c->n_keys; k++, key += strlen(key) + 1) {
        for (int alias = 0; alias < 2; alias++) {
            const char *kp = key;
            size_t kn = strlen(key);
            if (alias) {
                /* "to plunk" (the Hungarian dictionary's verbs) is also "plunk" */
                if (kn <= 3 || memcmp(kp, "to ", 3) != 0) break;
                kp += 3, kn -= 3;
            }
            for (const char *p = body; p < end;) {
                const char *q = memchr(p, '\n', (size_t)(end - p));
                if (!q) q = end;
                const char *s = p;
                size_t m = (size_t)(q - p);
                int kind = classify(&s, &m);
                p = q + 1;
                if (kind == LINE_SKIP || (numbered && kind != LINE_NUMBERED)) continue;
                rc = add_line(c, kp, kn, s, m, &added, err);
                if (rc < 0) return rc;
                if (!numbered) break;
            }
        }
    }
    return (int)(added > INT32_MAX ? INT32_MAX : added);
}

/* ---- FreeDict index ------------------------------------------------------------------------ */

int lexicon_b64(const char *s, size_t n, uint64_t *out)
{
    /* 10 digits are 60 bits: no overflow, and far beyond any dictionary */
    if (n == 0 || n > 10) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int d;
        if (ch >= 'A' && ch <= 'Z')
            d = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            d = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            d = ch - '0' + 52;
        else if (ch == '+')
            d = 62;
        else if (ch == '/')
            d = 63;
        else
            return -1;
        v = v * 64 + (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int is_meta(const char *hw, size_t n)
{
    return starts_with(hw, n, "00database") || starts_with(hw, n, "00-database");
}

/* Split an index line into headword, offset and length (a fourth field, dictfmt's original
 * headword, is ignored). Returns 0 or an error naming file and line. */
static int index_fields(const char *ln, size_t n, const char *name, size_t lineno, const char **hw,
                        size_t *hw_n, uint64_t *off, uint64_t *len, mille_error *err)
{
    const char *t1 = memchr(ln, '\t', n);
    const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(ln + n - t1 - 1)) : NULL;
    if (!t2)
        return err_set(err, MILLE_EFORMAT,
                       "%s:%zu: expected 'headword<TAB>offset<TAB>length' (dictd index)", name,
                       lineno);
    const char *t3 = memchr(t2 + 1, '\t', (size_t)(ln + n - t2 - 1));
    const char *le = t3 ? t3 : ln + n;
    *hw = ln;
    *hw_n = (size_t)(t1 - ln);
    if (lexicon_b64(t1 + 1, (size_t)(t2 - t1 - 1), off))
        return err_set(err, MILLE_EFORMAT, "%s:%zu: bad base64 offset '%.*s'", name, lineno,
                       (int)(t2 - t1 - 1 > 40 ? 40 : t2 - t1 - 1), t1 + 1);
    if (lexicon_b64(t2 + 1, (size_t)(le - t2 - 1), len))
        return err_set(err, MILLE_EFORMAT, "%s:%zu: bad base64 length '%.*s'", name, lineno,
                       (int)(le - t2 - 1 > 40 ? 40 : le - t2 - 1), t2 + 1);
    return MILLE_OK;
}

int lexicon_add_freedict(lexicon *lx, const char *index, size_t index_len, const char *dict,
                         size_t dict_len, const char *name, lexicon_stats *st, mille_error *err)
{
    load_ctx c = {.lx = lx};
    int rc = MILLE_OK;
    size_t lineno = 0;
    uint64_t referred = 0, budget = (uint64_t)dict_len * LEXICON_MAX_REREAD + (1u << 20);
    for (size_t i = 0; i < index_len && !rc;) {
        const char *ln = index + i, *nl = memchr(ln, '\n', index_len - i);
        size_t n = nl ? (size_t)(nl - ln) : index_len - i;
        i += n + 1;
        lineno++;
        if (n && ln[n - 1] == '\r') n--;
        if (!n) continue;
        size_t bad;
        if (text_utf8_check(ln, n, &bad)) {
            rc = err_set(err, MILLE_EUTF8, "%s:%zu: invalid UTF-8 at byte %zu of the line", name,
                         lineno, bad);
            break;
        }
        const char *hw;
        size_t hw_n;
        uint64_t off, len;
        rc = index_fields(ln, n, name, lineno, &hw, &hw_n, &off, &len, err);
        if (rc) break;
        if (off > dict_len || len > dict_len - off) {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s:%zu: entry '%.*s' at offset %llu, length %llu ends past the end "
                         "of the .dict (%zu bytes)",
                         name, lineno, (int)(hw_n > 60 ? 60 : hw_n), hw, (unsigned long long)off,
                         (unsigned long long)len, dict_len);
            break;
        }
        if (is_meta(hw, hw_n)) continue;
        c.st.entries++;
        if ((referred += len) > budget) {
            rc = err_set(err, MILLE_ERANGE,
                         "%s:%zu: the index refers to more than %llu bytes of entries, %d times "
                         "the .dict (%zu bytes): corrupt, or entries repeated on purpose",
                         name, lineno, (unsigned long long)budget, LEXICON_MAX_REREAD, dict_len);
            break;
        }
        if (len > LEXICON_MAX_ENTRY) { /* no real entry is that long: skip, don't parse */
            c.st.skipped++;
            continue;
        }
        const char *e = dict + off;
        if (text_utf8_check(e, (size_t)len, &bad)) {
            rc = err_set(err, MILLE_EUTF8,
                         "%s:%zu: entry '%.*s' at .dict offset %llu: invalid UTF-8 at byte %zu "
                         "of the entry",
                         name, lineno, (int)(hw_n > 60 ? 60 : hw_n), hw, (unsigned long long)off,
                         bad);
            break;
        }
        rc = parse_entry(&c, hw, hw_n, e, (size_t)len, err);
        if (rc < 0) {
            err_prefix(err, "%s:%zu: ", name, lineno);
            break;
        }
        c.st.pairs += (size_t)rc;
        c.st.skipped += rc == 0;
        rc = MILLE_OK;
    }
    if (!rc && c.st.entries == 0)
        rc = err_set(err, MILLE_EFORMAT, "%s: no dictionary entries (empty index?)", name);
    int frc = freeze(lx, rc ? NULL : err);
    if (!rc) rc = frc;
    if (st) *st = c.st;
    load_ctx_free(&c);
    return rc;
}

/* ---- TSV word pairs ------------------------------------------------------------------------ */

int lexicon_add_tsv(lexicon *lx, const char *s, size_t n, const char *name, lexicon_stats *st,
                    mille_error *err)
{
    lexicon_stats sts = {0};
    bytes key = {0};
    int rc = MILLE_OK;
    size_t lineno = 0;
    for (size_t i = 0; i < n && !rc;) {
        const char *ln = s + i, *nl = memchr(ln, '\n', n - i);
        size_t m = nl ? (size_t)(nl - ln) : n - i;
        i += m + 1;
        lineno++;
        size_t bad;
        if (text_utf8_check(ln, m, &bad)) {
            rc = err_set(err, MILLE_EUTF8, "%s:%zu: invalid UTF-8 at byte %zu of the line", name,
                         lineno, bad);
            break;
        }
        const char *t = ln;
        size_t tn = m;
        trim(&t, &tn);
        if (!tn || *t == '#') continue;
        const char *tab = memchr(ln, '\t', m);
        if (!tab) {
            rc = err_set(err, MILLE_EFORMAT, "%s:%zu: expected 'source<TAB>target'", name, lineno);
            break;
        }
        const char *src = ln, *tgt = tab + 1;
        size_t sn = (size_t)(tab - ln), gn = m - sn - 1;
        const char *tab2 = memchr(tgt, '\t', gn);
        if (tab2) gn = (size_t)(tab2 - tgt); /* a third column (weight) is ignored */
        trim(&src, &sn);
        trim(&tgt, &gn);
        sts.entries++;
        rc = lexicon_normalize(src, sn, &lx->tb, err);
        if (rc < 0) {
            err_prefix(err, "%s:%zu: ", name, lineno);
            break;
        }
        key.n = 0;
        if (bytes_put(&key, lx->tb.s, lx->tb.len)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        if (!key.n) {
            rc = err_set(err, MILLE_EFORMAT, "%s:%zu: empty source", name, lineno);
            break;
        }
        if (count_words(key.p, key.n) > LEXICON_MAX_WORDS) {
            sts.skipped++;
            continue;
        }
        /* the target is kept as written, whitespace collapsed */
        rc = text_normalize(tgt, gn, 0, &lx->tb, err);
        if (rc < 0) {
            err_prefix(err, "%s:%zu: ", name, lineno);
            break;
        }
        size_t tl = collapse_space(lx->tb.s, lx->tb.len);
        if (!tl) {
            rc = err_set(err, MILLE_EFORMAT, "%s:%zu: empty target", name, lineno);
            break;
        }
        rc = add_pair(lx, key.p, key.n, lx->tb.s, tl, 0);
        if (rc < 0) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        sts.pairs += (size_t)rc;
        rc = MILLE_OK;
    }
    if (!rc && sts.entries == 0)
        rc = err_set(err, MILLE_EFORMAT, "%s: no word pairs (empty file?)", name);
    int frc = freeze(lx, rc ? NULL : err);
    if (!rc) rc = frc;
    if (st) *st = sts;
    free(key.p);
    return rc;
}

/* ---- files --------------------------------------------------------------------------------- */

/* Dictionaries are at most a few hundred MB uncompressed; refuse anything absurd. */
#define LEXICON_MAX_FILE ((size_t)1 << 30)

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Paths of a dictd dictionary named by any of its files: the .index and the .dict.dz or
 * .dict beside it. */
static int dict_paths(const char *path, char *idx, char *dict, size_t cap, mille_error *err)
{
    size_t n = strlen(path), base;
    if (ends_with(path, ".index"))
        base = n - 6;
    else if (ends_with(path, ".dict.dz"))
        base = n - 8;
    else
        base = n - 5; /* .dict */
    if (base + 16 > cap) return err_set(err, MILLE_ERANGE, "%s: path too long", path);
    snprintf(idx, cap, "%.*s.index", (int)base, path);
    if (!ends_with(path, ".index")) {
        snprintf(dict, cap, "%s", path);
        return MILLE_OK;
    }
    snprintf(dict, cap, "%.*s.dict.dz", (int)base, path);
    if (file_exists(dict)) return MILLE_OK;
    snprintf(dict, cap, "%.*s.dict", (int)base, path);
    if (file_exists(dict)) return MILLE_OK;
    return err_set(err, MILLE_EIO, "%s: no %.*s.dict.dz or .dict beside it", path, (int)base, path);
}

/* A .index or .tsv whole, at most LEXICON_MAX_FILE bytes (checked before reading; a FIFO or
 * directory is refused at once). */
static int read_capped(const char *path, char **data, size_t *len, mille_error *err)
{
    void *p;
    int rc = file_read_regular(path, LEXICON_MAX_FILE, 0, &p, len, err);
    if (!rc) *data = p;
    return rc;
}

int lexicon_load(lexicon *lx, const char *path, lexicon_stats *st, mille_error *err)
{
    if (st) memset(st, 0, sizeof *st);
    char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    int rc;
    if (ends_with(path, ".tsv") || ends_with(path, ".txt")) {
        rc = read_capped(path, &a, &an, err);
        if (!rc) rc = lexicon_add_tsv(lx, a, an, path, st, err);
    } else if (ends_with(path, ".index") || ends_with(path, ".dict.dz") ||
               ends_with(path, ".dict")) {
        char idx[4096], dict[4096];
        rc = dict_paths(path, idx, dict, sizeof idx, err);
        if (!rc) rc = read_capped(idx, &a, &an, err);
        if (!rc) rc = file_read_gz(dict, SIZE_MAX, LEXICON_MAX_FILE, &b, &bn, err);
        if (!rc) rc = lexicon_add_freedict(lx, a, an, b, bn, idx, st, err);
    } else {
        rc = err_set(err, MILLE_EINVAL,
                     "%s: unknown lexicon type (expected .index, .dict.dz, .dict, .tsv or .txt)",
                     path);
    }
    free(a);
    free(b);
    return rc;
}

int lexicon_freedict_info(const char *index_path, size_t *entries, char *desc, size_t desc_cap,
                          mille_error *err)
{
    char idx[4096], dict[4096];
    char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    *entries = 0;
    if (desc_cap) desc[0] = '\0';
    int rc = dict_paths(index_path, idx, dict, sizeof idx, err);
    if (!rc) rc = read_capped(idx, &a, &an, err);
    uint64_t d_off = 0, d_len = 0;
    int have = 0;
    size_t lineno = 0;
    for (size_t i = 0; !rc && i < an;) {
        const char *ln = a + i, *nl = memchr(ln, '\n', an - i);
        size_t n = nl ? (size_t)(nl - ln) : an - i;
        i += n + 1;
        lineno++;
        if (n && ln[n - 1] == '\r') n--;
        if (!n) continue;
        const char *hw;
        size_t hw_n;
        uint64_t off, len;
        rc = index_fields(ln, n, idx, lineno, &hw, &hw_n, &off, &len, err);
        if (rc) break;
        if (!is_meta(hw, hw_n)) {
            (*entries)++;
        } else if (hw_n == 15 && memcmp(hw, "00databaseshort", 15) == 0 && len < 4096) {
            d_off = off, d_len = len, have = 1;
        }
    }
    /* the description is near the start of the .dict: read only up to it */
    if (!rc && have && d_off < ((uint64_t)64 << 20)) {
        rc = file_read_gz(dict, (size_t)(d_off + d_len), LEXICON_MAX_FILE, &b, &bn, err);
        if (!rc && d_off + d_len <= bn) {
            const char *s = b + d_off;
            size_t n = (size_t)d_len, bad;
            if (starts_with(s, n, "00-database-short")) {
                const char *nl = memchr(s, '\n', n);
                n = nl ? n - (size_t)(nl + 1 - s) : 0;
                s = nl ? nl + 1 : s;
            }
            const char *nl = memchr(s, '\n', n);
            if (nl) n = (size_t)(nl - s);
            trim(&s, &n);
            if (text_utf8_check(s, n, &bad))
                rc = err_set(err, MILLE_EUTF8, "%s: description: invalid UTF-8 at byte %zu", dict,
                             bad);
            else if (desc_cap)
                snprintf(desc, desc_cap, "%.*s", (int)(n < desc_cap ? n : desc_cap - 1), s);
        }
    }
    free(a);
    free(b);
    return rc;
}

/* ---- languages ----------------------------------------------------------------------------- */

const char *const lexicon_massive_locales[] = {
    "af-ZA", "am-ET", "ar-SA", "az-AZ", "bn-BD", "ca-ES", "cy-GB", "da-DK", "de-DE",
    "el-GR", "en-US", "es-ES", "fa-IR", "fi-FI", "fr-FR", "he-IL", "hi-IN", "hu-HU",
    "hy-AM", "id-ID", "is-IS", "it-IT", "ja-JP", "jv-ID", "ka-GE", "km-KH", "kn-IN",
    "ko-KR", "lv-LV", "ml-IN", "mn-MN", "ms-MY", "my-MM", "nb-NO", "nl-NL", "pl-PL",
    "pt-PT", "ro-RO", "ru-RU", "sl-SL", "sq-AL", "sv-SE", "sw-KE", "ta-IN", "te-IN",
    "th-TH", "tl-PH", "tr-TR", "ur-PK", "vi-VN", "zh-CN", "zh-TW"};
const size_t lexicon_n_massive_locales =
    sizeof lexicon_massive_locales / sizeof lexicon_massive_locales[0];

/* FreeDict language codes (ISO 639-3, with FreeDict's own exceptions) to MASSIVE locales.
 * Exceptions, checked against each dictionary's 00-database-short entry:
 *   rom  "English-Romanian FreeDict Dictionary" (the RomDict project): Romanian, not Romani,
 *        whatever ISO 639-3 says; FreeDict has since renamed it eng-ron;
 *   nor  "English-Norsk FreeDict+WikDict dictionary": Wiktionary's Norwegian, i.e. Bokmål;
 *   swh  Swahili (individual language), the one MASSIVE's sw-KE is written in. */
static const struct {
    const char *code, *locale;
} code_table[] = {
    {"afr", "af-ZA"}, {"amh", "am-ET"}, {"ara", "ar-SA"}, {"arb", "ar-SA"}, {"aze", "az-AZ"},
    {"azj", "az-AZ"}, {"ben", "bn-BD"}, {"cat", "ca-ES"}, {"cym", "cy-GB"}, {"dan", "da-DK"},
    {"deu", "de-DE"}, {"ell", "el-GR"}, {"eng", "en-US"}, {"spa", "es-ES"}, {"fas", "fa-IR"},
    {"pes", "fa-IR"}, {"fin", "fi-FI"}, {"fra", "fr-FR"}, {"heb", "he-IL"}, {"hin", "hi-IN"},
    {"hun", "hu-HU"}, {"hye", "hy-AM"}, {"ind", "id-ID"}, {"isl", "is-IS"}, {"ita", "it-IT"},
    {"jpn", "ja-JP"}, {"jav", "jv-ID"}, {"kat", "ka-GE"}, {"khm", "km-KH"}, {"kan", "kn-IN"},
    {"kor", "ko-KR"}, {"lav", "lv-LV"}, {"lvs", "lv-LV"}, {"mal", "ml-IN"}, {"mon", "mn-MN"},
    {"khk", "mn-MN"}, {"msa", "ms-MY"}, {"zsm", "ms-MY"}, {"mya", "my-MM"}, {"nob", "nb-NO"},
    {"nor", "nb-NO"}, {"nld", "nl-NL"}, {"pol", "pl-PL"}, {"por", "pt-PT"}, {"ron", "ro-RO"},
    {"rom", "ro-RO"}, {"rus", "ru-RU"}, {"slv", "sl-SL"}, {"sqi", "sq-AL"}, {"als", "sq-AL"},
    {"swe", "sv-SE"}, {"swh", "sw-KE"}, {"swa", "sw-KE"}, {"tam", "ta-IN"}, {"tel", "te-IN"},
    {"tha", "th-TH"}, {"tgl", "tl-PH"}, {"tur", "tr-TR"}, {"urd", "ur-PK"}, {"vie", "vi-VN"},
    {"zho", "zh-CN"}, {"zho", "zh-TW"}, {"cmn", "zh-CN"}, {"cmn", "zh-TW"},
};

const char *lexicon_code_locale(const char *code, size_t k)
{
    for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++)
        if (strcmp(code_table[i].code, code) == 0 && k-- == 0) return code_table[i].locale;
    return NULL;
}

/* ---- synthesis ----------------------------------------------------------------------------- */

/* One output token: [pre][s][suf] (pre/suf: punctuation split off a source word so that its
 * core could be looked up), inside the slot `span` (0 = Other; else 1 + the byte offset of
 * the slot's label in the source annot_utt, which tells two slots of one type apart). */
typedef struct synth_tok {
    const char *pre, *s, *suf;
    uint32_t pre_n, n, suf_n;
    uint32_t span, label_off, label_len;
} synth_tok;

void synth_free(synth_ctx *c)
{
    if (!c) return;
    free(c->utt);
    free(c->annot);
    annot_scratch_free(&c->as);
    free(c->aw);
    free(c->norm);
    free(c->noff);
    free(c->toks);
    text_buf_free(&c->tb);
    memset(c, 0, sizeof *c);
}

void synth_stats_free(synth_stats *st)
{
    if (!st) return;
    strtab_free(&st->unknown);
    free(st->unknown_count);
    memset(st, 0, sizeof *st);
}

static int note_unknown(synth_stats *st, const char *w, size_t n)
{
    int64_t id = strtab_intern(&st->unknown, w, n);
    if (id < 0) return MILLE_ENOMEM;
    if ((size_t)id >= st->cap_unknown) {
        size_t old = st->cap_unknown;
        if (vec_reserve((void **)&st->unknown_count, &st->cap_unknown, (size_t)id + 1,
                        sizeof *st->unknown_count))
            return MILLE_ENOMEM;
        memset(st->unknown_count + old, 0, (st->cap_unknown - old) * sizeof *st->unknown_count);
    }
    st->unknown_count[id]++;
    return MILLE_OK;
}

static int push_tok(synth_ctx *c, size_t *nt, synth_tok t)
{
    if (vec_reserve((void **)&c->toks, &c->cap_toks, *nt + 1, sizeof *c->toks)) return MILLE_ENOMEM;
    c->toks[(*nt)++] = t;
    return MILLE_OK;
}

/* Push translation tr (words separated by spaces) as one token per word, punctuation pre/suf
 * on the first/last. */
static int push_translation(synth_ctx *c, size_t *nt, const char *tr, synth_tok base)
{
    size_t n = strlen(tr), i = 0;
    const char *pre = base.pre, *suf = base.suf;
    uint32_t pre_n = base.pre_n, suf_n = base.suf_n;
    while (i < n) {
        size_t j = i;
        while (j < n && tr[j] != ' ') j++;
        synth_tok t = base;
        t.s = tr + i;
        t.n = (uint32_t)(j - i);
        t.pre = pre, t.pre_n = pre_n;
        t.suf = j >= n ? suf : NULL, t.suf_n = j >= n ? suf_n : 0;
        pre = NULL, pre_n = 0;
        if (push_tok(c, nt, t)) return MILLE_ENOMEM;
        i = j + 1;
    }
    return MILLE_OK;
}

/* Rank among cnt translations: the first with probability 2/3, each later one a third as
 * likely as the one before, looking at most at the first 8 (later senses of big dictionaries
 * are mostly technical). */
size_t lexicon_pick(rng *g, size_t cnt)
{
    size_t r = 0, lim = cnt < 8 ? cnt : 8;
    while (r + 1 < lim && rng_below(g, 3) == 0) r++;
    return r;
}

static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (vec_reserve((void **)buf, cap, *len + n + 1, 1)) return MILLE_ENOMEM;
    if (n) memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return MILLE_OK;
}

static int put_tok(char **buf, size_t *len, size_t *cap, const synth_tok *t)
{
    return put(buf, len, cap, t->pre, t->pre_n) || put(buf, len, cap, t->s, t->n) ||
           put(buf, len, cap, t->suf, t->suf_n);
}

/* Script of the first / last code point of a token (for joining in spaceless targets). */
static int edge_spaceless(const synth_tok *t, int last)
{
    const char *s = last ? (t->suf_n ? t->suf : t->s) : (t->pre_n ? t->pre : t->s);
    size_t n = last ? (t->suf_n ? t->suf_n : t->n) : (t->pre_n ? t->pre_n : t->n);
    if (!n) return 0;
    size_t i = 0;
    if (last) {
        i = n - 1;
        while (i && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    }
    int32_t cp;
    if (text_decode(s + i, n - i, &cp) < 0) return 0;
    return text_script_spaceless(text_script(cp));
}

/* Write c->utt and c->annot from the tokens. In spaceless targets (ja/zh) words are joined
 * without a space unless both sides are of a spaced script ("taylor swift" stays two words)
 * and annot_utt has one space on each side of a bracketed slot, as MASSIVE writes it. */
static int render(synth_ctx *c, const synth_tok *t, size_t nt, const char *annot, int split)
{
    c->utt_len = c->annot_len = 0;
    int rc = put(&c->utt, &c->utt_len, &c->cap_utt, "", 0) ||
             put(&c->annot, &c->annot_len, &c->cap_annot, "", 0);
    for (size_t k = 0; k < nt && !rc; k++) {
        int opens = t[k].span && (k == 0 || t[k - 1].span != t[k].span);
        int closed = k > 0 && t[k - 1].span && t[k - 1].span != t[k].span;
        int space =
            k > 0 && (!split || !(edge_spaceless(&t[k - 1], 1) || edge_spaceless(&t[k], 0)));
        if (space) rc = put(&c->utt, &c->utt_len, &c->cap_utt, " ", 1);
        if (!rc) rc = put_tok(&c->utt, &c->utt_len, &c->cap_utt, &t[k]);
        if (k > 0 && (space || (split && (opens || closed))))
            rc = rc || put(&c->annot, &c->annot_len, &c->cap_annot, " ", 1);
        if (opens)
            rc = rc || put(&c->annot, &c->annot_len, &c->cap_annot, "[", 1) ||
                 put(&c->annot, &c->annot_len, &c->cap_annot, annot + t[k].label_off,
                     t[k].label_len) ||
                 put(&c->annot, &c->annot_len, &c->cap_annot, " : ", 3);
        rc = rc || put_tok(&c->annot, &c->annot_len, &c->cap_annot, &t[k]);
        if (t[k].span && (k + 1 == nt || t[k + 1].span != t[k].span))
            rc = rc || put(&c->annot, &c->annot_len, &c->cap_annot, "]", 1);
    }
    return rc ? MILLE_ENOMEM : MILLE_OK;
}

static int is_punct(char ch) { return ch && strchr(".,!?;:\"'()", ch) != NULL; }

int synth_record(synth_ctx *c, const lexicon *lx, const char *id, const char *utt, size_t utt_len,
                 const char *annot, size_t annot_len, const synth_opts *o, synth_stats *st,
                 mille_error *err)
{
    size_t cap = (utt_len > annot_len ? utt_len : annot_len) + 1;
    if (vec_reserve((void **)&c->aw, &c->cap_aw, cap, sizeof *c->aw))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    int nw = annot_parse(utt, utt_len, annot, annot_len, o->src_split, c->aw, &c->as, err);
    if (nw < 0) {
        st->skipped++;
        return nw;
    }
    /* normalized words, one space apart: a phrase of words i..j is one substring */
    size_t nn = 0;
    if (vec_reserve((void **)&c->noff, &c->cap_n, 2 * (size_t)nw + 2, sizeof *c->noff))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    for (int i = 0; i < nw; i++) {
        const annot_word *w = &c->aw[i];
        int rc = lexicon_normalize(utt + w->start, w->end - w->start, &c->tb, err);
        if (rc < 0) return rc;
        if (nn > UINT32_MAX - c->tb.len - 2 ||
            vec_reserve((void **)&c->norm, &c->cap_norm, nn + c->tb.len + 2, 1))
            return err_set(err, MILLE_ENOMEM, "out of memory");
        if (i) c->norm[nn++] = ' ';
        memcpy(c->norm + nn, c->tb.s, c->tb.len);
        c->noff[2 * i] = (uint32_t)nn;
        c->noff[2 * i + 1] = (uint32_t)c->tb.len;
        nn += c->tb.len;
    }
    if (vec_reserve((void **)&c->norm, &c->cap_norm, nn + 1, 1))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    c->norm[nn] = '\0';

    rng g;
    const char *seed_s = id && *id ? id : utt;
    rng_seed(&g, o->seed ^ hash_bytes(seed_s, strlen(seed_s)));
    size_t nt = 0;
    unsigned maxw = lx->max_words < LEXICON_MAX_WORDS ? lx->max_words : LEXICON_MAX_WORDS;
    for (int i = 0; i < nw;) {
        const annot_word *w = &c->aw[i];
        uint32_t span = w->label_len ? w->label_off + 1 : 0;
        /* longest match first, never across a slot boundary */
        int k = 1;
        while (k < (int)maxw && i + k < nw &&
               (c->aw[i + k].label_len ? c->aw[i + k].label_off + 1 : 0) == span)
            k++;
        const uint32_t *tr = NULL;
        size_t cnt = 0;
        for (; k >= 1; k--) {
            size_t a = c->noff[2 * i], b = c->noff[2 * (i + k - 1)] + c->noff[2 * (i + k - 1) + 1];
            cnt = lexicon_lookup(lx, c->norm + a, b - a, &tr);
            if (cnt) break;
        }
        synth_tok base = {NULL, NULL, NULL, 0, 0, 0, span, w->label_off, w->label_len};
        if (!cnt) {
            /* one word unknown as it is: try it without surrounding punctuation ("today?") */
            k = 1;
            const char *s = c->norm + c->noff[2 * i];
            size_t n = c->noff[2 * i + 1], p = 0, q = n;
            while (p < q && is_punct(s[p])) p++;
            while (q > p && is_punct(s[q - 1])) q--;
            if (q > p && (p > 0 || q < n)) cnt = lexicon_lookup(lx, s + p, q - p, &tr);
            if (cnt) {
                base.pre = s, base.pre_n = (uint32_t)p;
                base.suf = s + q, base.suf_n = (uint32_t)(n - q);
            }
        }
        st->words += (size_t)k;
        if (span) st->slot_words += (size_t)k;
        int rc = MILLE_OK;
        if (cnt) {
            st->words_translated += (size_t)k;
            if (span) st->slot_words_translated += (size_t)k;
            rc = push_translation(c, &nt, lexicon_str(lx, tr[lexicon_pick(&g, cnt)]), base);
        } else {
            rc = note_unknown(st, c->norm + c->noff[2 * i], c->noff[2 * i + 1]);
            if (!rc && !o->drop_unknown) {
                base.s = utt + w->start;
                base.n = w->end - w->start;
                rc = push_tok(c, &nt, base);
            }
        }
        if (rc) return err_set(err, MILLE_ENOMEM, "out of memory");
        i += k;
    }
    if (nt == 0) {
        st->skipped++;
        return 0;
    }
    if (render(c, c->toks, nt, annot, o->dst_split))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    /* what we wrote must read back (a kept word or a TSV target could hold a bracket) */
    cap = (c->utt_len > c->annot_len ? c->utt_len : c->annot_len) + 1;
    if (vec_reserve((void **)&c->aw, &c->cap_aw, cap, sizeof *c->aw))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    int back =
        annot_parse(c->utt, c->utt_len, c->annot, c->annot_len, o->dst_split, c->aw, &c->as, err);
    if (back < 0) {
        st->skipped++;
        return err_prefix(err, "synthesized record does not read back: ");
    }
    st->records++;
    return 1;
}

/* ---- pairs from other readers (sources.c) -------------------------------------------------- */

int lexicon_add_pair(lexicon *lx, const char *src, size_t sn, const char *tgt, size_t tn,
                     mille_error *err)
{
    int rc = lexicon_normalize(src, sn, &lx->tb, err);
    if (rc < 0) return rc;
    bytes key = {0};
    if (bytes_put(&key, lx->tb.s, lx->tb.len)) return err_set(err, MILLE_ENOMEM, "out of memory");
    /* a key starting with '#' could not be written to a TSV lexicon (a comment there) */
    if (!key.n || key.p[0] == '#' || count_words(key.p, key.n) > LEXICON_MAX_WORDS) {
        free(key.p);
        return 0;
    }
    bytes tr = {0};
    rc = lower_text(lx, tgt, tn, &tr, err);
    if (rc == 0) {
        size_t tl = collapse_space(tr.p, tr.n);
        rc = tl && count_words(tr.p, tl) <= LEXICON_MAX_TRANS_WORDS
                 ? add_pair(lx, key.p, key.n, tr.p, tl, 0)
                 : 0;
        if (rc < 0) rc = err_set(err, MILLE_ENOMEM, "out of memory");
    }
    free(key.p);
    free(tr.p);
    return rc;
}

int lexicon_finish(lexicon *lx, mille_error *err) { return freeze(lx, err); }
