/*
 * pretok.c - the pre-tokenizer: cuts an utterance into words, numbers, punctuation marks and
 * symbols, each reported as byte offsets into the caller's original text. Later stages
 * (features, subwords, the tagger) work on these tokens; slot spans are unions of them.
 *
 * How each script family is split:
 *   1. Unicode whitespace (text_is_space: Python's str.isspace, which MASSIVE's own
 *      preparation uses) separates chunks and belongs to no token.
 *   2. A chunk that contains a character of a script written without spaces (Thai, Lao,
 *      Khmer, Myanmar, Han, Hiragana, Katakana: text_script_spaceless) goes whole to ICU's
 *      word break iterator (UBRK_WORD: UAX #29 rules plus ICU's dictionaries for Thai, Lao,
 *      Khmer, Burmese and Chinese/Japanese). Whole chunk, not just the spaceless run, so
 *      that Common characters that belong to those scripts ("ー", "々", "、") are seen in
 *      context; ICU applies the same UAX #29 rules as below to Latin or digits inside it.
 *   3. Any other chunk (Latin, Cyrillic, Greek, Arabic, Hebrew, Indic, Hangul, Ethiopic ...)
 *      is split here by a hand-written subset of UAX #29 word boundaries, as ICU would but
 *      without a UTF-16 copy or a library call per chunk:
 *        - letters (L*), marks (M*) and digits (N*) form one run ("mp3", "5pm", Indic
 *          clusters with virama and vowel signs); format characters (Cf: ZWJ, ZWNJ, ZWSP,
 *          bidi marks) never break (WB4), so Persian and Malayalam joiners stay inside;
 *        - between letters, apostrophes and periods (MidNumLet, Single_Quote) and the
 *          MidLetter set without the colon (as ICU: "col·legi", "can't", "l'alarme") keep
 *          the run together; between digits, '.' ',' ';' and the Arabic separators
 *          (MidNum) do ("3.5", "10,000", "٣٫٥"); Hebrew letter + '"' + Hebrew letter and
 *          Hebrew letter + "'" stay together (WB7a-c);
 *        - every other character (punctuation, symbols) is a token of one grapheme cluster,
 *          so an emoji with skin tone or ZWJ sequence stays whole.
 *
 * Not done: no splitting of clitics (French "l'", Catalan "-me") or compounds, no
 * locale-specific tailoring, no normalization (tokens are slices of the original text;
 * normalize them with text_normalize).
 *
 * Reference: UAX #29 "Unicode Text Segmentation", section 4 (word boundaries).
 */
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/utf16.h>
#include <utf8proc.h>

#include "text.h"

struct text_pretok_ctx {
    UBreakIterator *bi; /* ICU word break iterator, re-pointed at each spaceless chunk */
    UChar *u16;         /* (u16_cap) the current chunk in UTF-16 */
    uint32_t *u16_off;  /* (u16_cap + 1) byte offset in s of each UTF-16 unit, then the end */
    size_t u16_cap;
    text_token *toks; /* (toks_cap) the result of the last call */
    size_t toks_cap;
    /* Characters decoded by the last call, summed over every pass over the text. Tests and
     * the fuzzer bound it by a constant times the input length: the audit of 2026-12 (#4)
     * found a quadratic path ("!" then thousands of U+00AD), and a count, unlike a time,
     * catches one on any machine. */
    uint64_t work;
};

/* ---- character classes ------------------------------------------------------------------- */

enum { C_SPACE, C_LETTER, C_MARK, C_DIGIT, C_PUNCT, C_SYMBOL, C_FORMAT };

static int cp_class(int32_t cp)
{
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return C_LETTER;
        if (cp >= '0' && cp <= '9') return C_DIGIT;
        if (text_is_space(cp)) return C_SPACE;
        if (cp < 0x20 || cp == 0x7f) return C_SYMBOL; /* controls that are not spaces */
        /* ASCII punctuation (Pc Pd Ps Pe Po) vs symbols (Sm Sc Sk): $ + < = > ^ ` | ~ */
        return strchr("$+<=>^`|~", (int)cp) ? C_SYMBOL : C_PUNCT;
    }
    if (text_is_space(cp)) return C_SPACE;
    if (cp == 0x05F3) return C_LETTER; /* HEBREW GERESH: a letter for UAX #29 (ALetter) */
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return C_LETTER;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return C_MARK;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return C_DIGIT;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return C_PUNCT;
    case UTF8PROC_CATEGORY_CF:
        return C_FORMAT;
    default:
        return C_SYMBOL; /* S*, Cc, Co, Cn */
    }
}

/* UAX #29 Word_Break MidNumLet + Single_Quote: keep letters or digits on both sides together. */
static int is_midnumlet(int32_t cp)
{
    return cp == '.' || cp == '\'' || cp == 0x2018 || cp == 0x2019 || cp == 0x2024 ||
           cp == 0xFE52 || cp == 0xFF07 || cp == 0xFF0E;
}
/* MidLetter without the colons (ICU drops them too: "7:30", "a:b" split). */
static int is_midletter(int32_t cp)
{
    return cp == 0x00B7 || cp == 0x0387 || cp == 0x055F || cp == 0x05F4 || cp == 0x2027;
}
/* MidNum, plus U+066B ARABIC DECIMAL SEPARATOR (Word_Break=Numeric, but category Po). */
static int is_midnum(int32_t cp)
{
    return cp == ',' || cp == ';' || cp == 0x037E || cp == 0x0589 || cp == 0x060C || cp == 0x060D ||
           cp == 0x066B || cp == 0x066C || cp == 0x07F8 || cp == 0x2044 || cp == 0xFE10 ||
           cp == 0xFE14 || cp == 0xFE50 || cp == 0xFE54 || cp == 0xFF0C || cp == 0xFF1B;
}
static int is_hebrew_letter(int32_t cp) { return cp >= 0x05D0 && cp <= 0x05F2; }

/* ---- context ----------------------------------------------------------------------------- */

text_pretok_ctx *text_pretok_new(mille_error *err)
{
    text_pretok_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        err_set(err, MILLE_ENOMEM, "out of memory allocating a pre-tokenizer");
        return NULL;
    }
    UErrorCode st = U_ZERO_ERROR;
    /* Root locale: the dictionaries are chosen by script, not by locale. */
    ctx->bi = ubrk_open(UBRK_WORD, "", NULL, 0, &st);
    if (U_FAILURE(st) || !ctx->bi) {
        err_set(err, MILLE_EIO, "ICU ubrk_open(UBRK_WORD): %s", u_errorName(st));
        text_pretok_free(ctx);
        return NULL;
    }
    return ctx;
}

void text_pretok_free(text_pretok_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->bi) ubrk_close(ctx->bi);
    free(ctx->u16);
    free(ctx->u16_off);
    free(ctx->toks);
    free(ctx);
}

const char *text_token_kind_name(int kind)
{
    static const char *const names[] = {"word", "number", "punct", "symbol"};
    return kind >= 0 && kind <= TEXT_TOK_SYMBOL ? names[kind] : "unknown";
}

/* ---- splitting --------------------------------------------------------------------------- */

/* Decode the (already validated) code point at s[i], i < end. */
static inline int32_t cp_at(const char *s, size_t i, size_t end, int *len)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    int32_t cp;
    *len = text_decode(s + i, end - i, &cp);
    MILLE_ASSERT(*len > 0);
    return cp;
}

/* Kind and script of the token s[a..b) from its characters. */
static void classify(const char *s, size_t a, size_t b, text_token *t, uint64_t *work)
{
    int letter = 0, digit = 0, first = -1, script = TEXT_SCRIPT_COMMON;
    for (size_t i = a; i < b;) {
        int k;
        int32_t cp = cp_at(s, i, b, &k);
        ++*work;
        int c = cp_class(cp);
        if (first < 0) first = c;
        letter |= c == C_LETTER || c == C_MARK;
        digit |= c == C_DIGIT;
        if (script == TEXT_SCRIPT_COMMON) {
            int sc = text_script(cp);
            if (sc != TEXT_SCRIPT_COMMON && sc != TEXT_SCRIPT_INHERITED) script = sc;
        }
        i += (size_t)k;
    }
    t->start = (uint32_t)a;
    t->end = (uint32_t)b;
    t->script = (uint8_t)script;
    t->kind = letter             ? TEXT_TOK_WORD
              : digit            ? TEXT_TOK_NUMBER
              : first == C_PUNCT ? TEXT_TOK_PUNCT
                                 : TEXT_TOK_SYMBOL;
}

/* Extend token t to end at b with the format characters (Cf) s[t->end..b) (WB4). Those
 * never change its kind: they are neither letters nor digits, and the token already has its
 * first character. Only a token without a script yet may take one from them (a Cf of the
 * Arabic block, say). So only the new characters are looked at: re-classifying the whole
 * token made a run of n format characters after punctuation cost O(n^2). */
static void extend_format(const char *s, size_t b, text_token *t, uint64_t *work)
{
    for (size_t i = t->end; i < b && t->script == TEXT_SCRIPT_COMMON;) {
        int k;
        int sc = text_script(cp_at(s, i, b, &k));
        ++*work;
        if (sc != TEXT_SCRIPT_COMMON && sc != TEXT_SCRIPT_INHERITED) t->script = (uint8_t)sc;
        i += (size_t)k;
    }
    t->end = (uint32_t)b;
}

/* Rule-based split of the chunk s[cs..ce) (no whitespace, no spaceless script). */
static size_t split_rules(const char *s, size_t cs, size_t ce, text_token *out, uint64_t *work)
{
    size_t nt = 0, i = cs;
    while (i < ce) {
        int k;
        int32_t cp = cp_at(s, i, ce, &k);
        ++*work;
        int c = cp_class(cp);
        size_t start = i;
        i += (size_t)k;
        if (c == C_FORMAT && nt > 0 && out[nt - 1].end == start) {
            /* WB4: a format character sticks to what precedes it. */
            extend_format(s, i, &out[nt - 1], work);
            continue;
        }
        if (c == C_LETTER || c == C_MARK || c == C_DIGIT || c == C_FORMAT) {
            /* `last` is the class of the last letter or digit, to apply the Mid* rules;
             * marks count as letters and format characters are transparent. */
            int last = c == C_DIGIT ? C_DIGIT : c == C_FORMAT ? C_FORMAT : C_LETTER;
            int32_t last_cp = cp;
            while (i < ce) {
                int k2;
                int32_t cp2 = cp_at(s, i, ce, &k2);
                int c2 = cp_class(cp2);
                ++*work;
                if (c2 == C_LETTER || c2 == C_MARK || c2 == C_DIGIT || c2 == C_FORMAT) {
                    if (c2 != C_FORMAT) {
                        last = c2 == C_DIGIT ? C_DIGIT : C_LETTER;
                        last_cp = cp2;
                    }
                    i += (size_t)k2;
                    continue;
                }
                if (cp2 == '\'' && is_hebrew_letter(last_cp)) { /* WB7a */
                    i += (size_t)k2;
                    last = C_PUNCT; /* a second quote or '.' after it breaks */
                    continue;
                }
                if (i + (size_t)k2 >= ce) break;
                int k3;
                int32_t cp3 = cp_at(s, i + (size_t)k2, ce, &k3);
                ++*work;
                int c3 = cp_class(cp3);
                int keep = 0;
                if (last == C_LETTER && (c3 == C_LETTER || c3 == C_MARK))
                    keep = is_midnumlet(cp2) || is_midletter(cp2) ||
                           (cp2 == '"' && is_hebrew_letter(last_cp) && is_hebrew_letter(cp3));
                else if (last == C_DIGIT && c3 == C_DIGIT)
                    keep = is_midnumlet(cp2) || is_midnum(cp2);
                if (!keep) break;
                i += (size_t)k2; /* the next iteration takes cp3 */
            }
        } else {
            /* Punctuation or symbol: one extended grapheme cluster. */
            int32_t prev = cp, state = 0;
            while (i < ce) {
                int k2;
                int32_t cp2 = cp_at(s, i, ce, &k2);
                ++*work;
                if (utf8proc_grapheme_break_stateful(prev, cp2, &state)) break;
                prev = cp2;
                i += (size_t)k2;
            }
        }
        classify(s, start, i, &out[nt++], work);
    }
    return nt;
}

static int all_format(const char *s, size_t a, size_t b, uint64_t *work)
{
    for (size_t i = a; i < b;) {
        int k;
        ++*work;
        if (cp_class(cp_at(s, i, b, &k)) != C_FORMAT) return 0;
        i += (size_t)k;
    }
    return 1;
}

/* ICU split of the chunk s[cs..ce). Returns the number of tokens, or a MILLE_E* code. */
static int64_t split_icu(text_pretok_ctx *ctx, const char *s, size_t cs, size_t ce, text_token *out,
                         mille_error *err)
{
    /* A UTF-8 sequence of b bytes never needs more than b UTF-16 units. */
    size_t need = ce - cs + 1, cap = ctx->u16_cap;
    if (need > cap) {
        if (vec_reserve((void **)&ctx->u16, &cap, need, sizeof *ctx->u16))
            return err_set(err, MILLE_ENOMEM, "out of memory in the pre-tokenizer");
        cap = ctx->u16_cap;
        if (vec_reserve((void **)&ctx->u16_off, &cap, need, sizeof *ctx->u16_off))
            return err_set(err, MILLE_ENOMEM, "out of memory in the pre-tokenizer");
        ctx->u16_cap = cap;
    }
    int32_t m = 0;
    for (size_t i = cs; i < ce;) {
        int k;
        int32_t cp = cp_at(s, i, ce, &k);
        ctx->work++;
        if (cp < 0x10000) {
            ctx->u16_off[m] = (uint32_t)i;
            ctx->u16[m++] = (UChar)cp;
        } else {
            ctx->u16_off[m] = ctx->u16_off[m + 1] = (uint32_t)i;
            ctx->u16[m++] = U16_LEAD(cp);
            ctx->u16[m++] = U16_TRAIL(cp);
        }
        i += (size_t)k;
    }
    ctx->u16_off[m] = (uint32_t)ce;
    UErrorCode st = U_ZERO_ERROR;
    ubrk_setText(ctx->bi, ctx->u16, m, &st);
    if (U_FAILURE(st)) return err_set(err, MILLE_EIO, "ICU ubrk_setText: %s", u_errorName(st));
    size_t nt = 0;
    int32_t p = ubrk_first(ctx->bi), q;
    while ((q = ubrk_next(ctx->bi)) != UBRK_DONE) {
        /* ICU only breaks at code point boundaries, but be strict: a break inside a
         * surrogate pair would map to a 0-byte token; skip such a boundary. */
        size_t a = ctx->u16_off[p], b = ctx->u16_off[q];
        if (b <= a) continue;
        p = q;
        /* ICU returns a ZWSP between Khmer or Myanmar words as a piece of its own; like the
         * rules above (WB4), glue format characters to the token before them. */
        if (nt > 0 && out[nt - 1].end == a && all_format(s, a, b, &ctx->work)) {
            extend_format(s, b, &out[nt - 1], &ctx->work);
            continue;
        }
        classify(s, a, b, &out[nt++], &ctx->work);
    }
    return (int64_t)nt;
}

int text_pretokenize(text_pretok_ctx *ctx, const char *s, size_t n, const text_token **toks,
                     size_t *ntoks, mille_error *err)
{
    *toks = ctx->toks;
    *ntoks = 0;
    ctx->work = 0;
    if (n > INT32_MAX) return err_set(err, MILLE_ERANGE, "text of %zu bytes: longer than 2 GiB", n);
    size_t nt = 0, i = 0;
    while (i < n) {
        /* Skip whitespace, then find the chunk [cs, i), validating as we go. */
        int32_t cp;
        int k;
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            cp = c;
            k = 1;
        } else if ((k = text_decode(s + i, n - i, &cp)) < 0) {
            goto bad;
        }
        if (cp == 0) goto bad;
        ctx->work++;
        if (text_is_space(cp)) {
            i += (size_t)k;
            continue;
        }
        size_t cs = i;
        int spaceless = 0;
        for (;;) {
            if (cp >= 0x80 && !spaceless) spaceless = text_script_spaceless(text_script(cp));
            i += (size_t)k;
            if (i >= n) break;
            c = (unsigned char)s[i];
            if (c < 0x80) {
                cp = c;
                k = 1;
            } else if ((k = text_decode(s + i, n - i, &cp)) < 0) {
                goto bad;
            }
            if (cp == 0) goto bad;
            ctx->work++;
            if (text_is_space(cp)) break;
        }
        /* At most one token per byte of the chunk. */
        if (vec_reserve((void **)&ctx->toks, &ctx->toks_cap, nt + (i - cs), sizeof *ctx->toks))
            return err_set(err, MILLE_ENOMEM, "out of memory in the pre-tokenizer");
        if (spaceless) {
            int64_t r = split_icu(ctx, s, cs, i, ctx->toks + nt, err);
            if (r < 0) return (int)r;
            nt += (size_t)r;
        } else {
            nt += split_rules(s, cs, i, ctx->toks + nt, &ctx->work);
        }
    }
    *toks = ctx->toks;
    *ntoks = nt;
    return MILLE_OK;
bad:
    if (s[i] == 0) return err_set(err, MILLE_EUTF8, "NUL byte at byte offset %zu", i);
    return err_set(err, MILLE_EUTF8, "invalid UTF-8 at byte offset %zu (0x%02x)", i,
                   (unsigned)(unsigned char)s[i]);
}

uint64_t text_pretok_work(const text_pretok_ctx *ctx) { return ctx->work; }

/* ---- checking ---------------------------------------------------------------------------- */

int text_pretok_verify(const char *s, size_t n, const text_token *t, size_t nt, mille_error *err)
{
    size_t i = 0, k = 0; /* i walks the text by code point, k the tokens */
    while (i < n) {
        int32_t cp;
        int len = text_decode(s + i, n - i, &cp);
        if (len < 0) return err_set(err, MILLE_EINVAL, "invalid UTF-8 at byte offset %zu", i);
        if (k < nt && t[k].start == i) {
            /* Walk the whole token: it must end on a code point boundary, hold no space. */
            if (t[k].end <= t[k].start || t[k].end > n)
                return err_set(err, MILLE_EINVAL, "token %zu: bad span [%u, %u)", k, t[k].start,
                               t[k].end);
            if (t[k].kind > TEXT_TOK_SYMBOL || t[k].script >= TEXT_SCRIPT_COUNT)
                return err_set(err, MILLE_EINVAL, "token %zu: bad kind or script", k);
            while (i < t[k].end) {
                len = text_decode(s + i, n - i, &cp);
                if (len < 0 || text_is_space(cp))
                    return err_set(err, MILLE_EINVAL, "token %zu: %s at byte offset %zu", k,
                                   len < 0 ? "invalid UTF-8" : "whitespace", i);
                i += (size_t)len;
            }
            if (i != t[k].end)
                return err_set(err, MILLE_EINVAL, "token %zu ends inside a character (%u)", k,
                               t[k].end);
            k++;
            continue;
        }
        if (k < nt && t[k].start < i)
            return err_set(err, MILLE_EINVAL,
                           "token %zu starts at %u: out of order, overlapping "
                           "or inside a character",
                           k, t[k].start);
        if (!text_is_space(cp))
            return err_set(err, MILLE_EINVAL,
                           "non-space character at byte offset %zu is in no "
                           "token",
                           i);
        i += (size_t)len;
    }
    if (k != nt)
        return err_set(err, MILLE_EINVAL, "token %zu starts past the end (%u)", k, t[k].start);
    return MILLE_OK;
}
