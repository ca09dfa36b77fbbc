/*
 * text.h - Unicode text handling: UTF-8 decoding and validation, character classes from
 * Unicode properties (never <ctype.h> on bytes). Only the text module includes the Unicode
 * libraries (utf8proc, ICU); everything else goes through this header.
 */
#ifndef MILLE_TEXT_H
#define MILLE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* Decode the code point at s[0..n): returns its byte length (1..4) and sets *cp, or returns
 * -1 for invalid UTF-8 (overlong, surrogate, out of range, truncated). n must be > 0. */
int text_decode(const char *s, size_t n, int32_t *cp);

/* Check that s[0..n) is valid UTF-8 with no NUL byte. Returns 0, or MILLE_EUTF8 with
 * *bad_off set to the byte offset of the first bad sequence. */
int text_utf8_check(const char *s, size_t n, size_t *bad_off);

/* s[0..n) (valid UTF-8) with its first code point upper-cased (simple Unicode mapping),
 * NUL-terminated in out: returns the length, or 0 when s is empty or invalid or cap < n + 5.
 * ("musik" -> "Musik": dictionaries list German nouns capitalized.) */
size_t text_upper_first(const char *s, size_t n, char *out, size_t cap);

/* Whitespace exactly as Python's str.split() sees it (str.isspace): Unicode categories Zs,
 * Zl, Zp, the ASCII controls 9-13 and 28-31, and U+0085. MASSIVE's official preparation
 * splits words with str.split(), so this is the definition that keeps us identical to it.
 * Note U+200B ZERO WIDTH SPACE is *not* whitespace (category Cf). */
int text_is_space(int32_t cp);

/* ---- normalization (norm.c) -------------------------------------------------------------- */

/* Normalization options, a bitmask. Models record the mask they were trained with (the bit
 * values are part of the model format: never renumber, only add). */
enum {
    TEXT_NORM_NFKC = 1u << 0,      /* compatibility decomposition + canonical composition  */
    TEXT_NORM_CASEFOLD = 1u << 1,  /* Unicode full case folding ("Straße" -> "strasse")    */
    TEXT_NORM_STRIPMARK = 1u << 2, /* drop combining marks (Mn, Mc, Me) after decomposing  */
    TEXT_NORM_IGNORABLE = 1u << 3, /* drop Default_Ignorable code points (ZWSP, ZWJ, ZWNJ,
                                      soft hyphen, BOM, variation selectors, bidi marks)   */
    TEXT_NORM_ALL = 0xfu
};
/* What models use unless told otherwise: NFKC + case folding, keeping marks and ZWJ/ZWNJ
 * (which are spelling in Persian, Malayalam, Kannada, Telugu, Sinhala). */
#define TEXT_NORM_DEFAULT (TEXT_NORM_NFKC | TEXT_NORM_CASEFOLD)

/* Output of text_normalize: caller-owned and reusable. Zero-initialize it once
 * (`text_buf b = {0};`), pass it to any number of calls (each call overwrites it; memory is
 * only allocated when an output is longer than any before), release it with text_buf_free.
 *
 * Offsets: output byte i came from the input bytes [src[i], src_end[i]), a whole "source
 * segment": the input cut at normalization boundaries, i.e. one code point, or a base with
 * the combining marks (or conjoining jamo) that compose or reorder with it - inside such a
 * segment characters move and merge, so nothing finer is well defined. A span [a, b) of s maps
 * back to the original bytes [src[a], src_end[b - 1]) (text_buf_span does that). Offsets are
 * 32-bit: inputs are limited to UINT32_MAX - 1 bytes. */
typedef struct text_buf {
    char *s;           /* (len + 1) normalized UTF-8, NUL-terminated */
    uint32_t *src;     /* (len + 1) start of the source segment of each byte; src[len] = n */
    uint32_t *src_end; /* (len + 1) end of the source segment of each byte; src_end[len] = n */
    size_t len;        /* bytes in s, without the NUL */
    /* private: capacities and scratch */
    size_t cap;
    int32_t *cps;
    size_t cps_cap;
} text_buf;

/* Normalize s[0..n) (UTF-8) under `flags` (TEXT_NORM_*) into out, with per-byte offsets.
 * flags == 0 copies the text (after validating it). Without TEXT_NORM_NFKC, STRIPMARK
 * implies canonical (NFC) composition, since marks are only found after decomposition.
 * Returns 0; MILLE_EUTF8 for invalid UTF-8 or a NUL byte (err names the byte offset);
 * MILLE_ERANGE when n or the output exceeds UINT32_MAX - 1 bytes; MILLE_EINVAL for unknown
 * flag bits; MILLE_ENOMEM. On failure out->len is 0 and out stays reusable. */
int text_normalize(const char *s, size_t n, unsigned flags, text_buf *out, mille_error *err);

/* Reference for tests and the fuzzer: the same normalization applied to the whole string at
 * once with utf8proc_map (no offsets; out->src and out->src_end are left untouched).
 * text_normalize must produce exactly the same bytes. */
int text_normalize_ref(const char *s, size_t n, unsigned flags, text_buf *out, mille_error *err);

/* Map the span [a, e) of b->s (0 <= a < e <= b->len) to the original bytes [*start, *end). */
static inline void text_buf_span(const text_buf *b, size_t a, size_t e, size_t *start, size_t *end)
{
    *start = b->src[a];
    *end = b->src_end[e - 1];
}

/* Release the memory of b and zero it; b may be reused afterwards. NULL is a no-op. */
void text_buf_free(text_buf *b);

/* ---- scripts (script.c) ------------------------------------------------------------------ */

/* The writing systems mille tells apart: every script of the 52 MASSIVE locales, plus Lao
 * and Mongolian (spaceless / vertical neighbours of covered ones). Values are stable (they
 * may be stored in model files): only append before TEXT_SCRIPT_COUNT. */
typedef enum text_script_id {
    TEXT_SCRIPT_COMMON = 0, /* digits, punctuation, symbols, spaces shared by all scripts */
    TEXT_SCRIPT_INHERITED,  /* combining marks that take the script of their base         */
    TEXT_SCRIPT_OTHER,      /* any script not listed here                                  */
    TEXT_SCRIPT_LATIN,
    TEXT_SCRIPT_CYRILLIC,
    TEXT_SCRIPT_GREEK,
    TEXT_SCRIPT_ARMENIAN,
    TEXT_SCRIPT_GEORGIAN,
    TEXT_SCRIPT_HEBREW,
    TEXT_SCRIPT_ARABIC,
    TEXT_SCRIPT_ETHIOPIC,
    TEXT_SCRIPT_DEVANAGARI,
    TEXT_SCRIPT_BENGALI,
    TEXT_SCRIPT_TAMIL,
    TEXT_SCRIPT_TELUGU,
    TEXT_SCRIPT_KANNADA,
    TEXT_SCRIPT_MALAYALAM,
    TEXT_SCRIPT_THAI,
    TEXT_SCRIPT_LAO,
    TEXT_SCRIPT_KHMER,
    TEXT_SCRIPT_MYANMAR,
    TEXT_SCRIPT_HAN,
    TEXT_SCRIPT_HIRAGANA,
    TEXT_SCRIPT_KATAKANA,
    TEXT_SCRIPT_HANGUL,
    TEXT_SCRIPT_MONGOLIAN,
    TEXT_SCRIPT_COUNT
} text_script_id;

/* Script of a code point (Unicode Script property, via ICU). Invalid code points (negative,
 * surrogates, above U+10FFFF) are TEXT_SCRIPT_COMMON. Thread-safe. */
int text_script(int32_t cp);

/* Lower-case name of a script id ("latin", "han", ...); "unknown" when out of range. */
const char *text_script_name(int script);

/* Whether text of this script is written without spaces between words (Thai, Lao, Khmer,
 * Myanmar, Han, Hiragana, Katakana): such runs need a dictionary to be split into words. */
int text_script_spaceless(int script);

/* Dominant script of s[0..n): the most frequent script other than COMMON and INHERITED,
 * counted in code points (ties go to the script seen first); TEXT_SCRIPT_COMMON when there
 * is none. Returns the id, or MILLE_EUTF8 for invalid UTF-8 (including NUL). */
int text_dominant_script(const char *s, size_t n);

/* ---- pre-tokenization (pretok.c) --------------------------------------------------------- */

/* Token kinds. */
enum {
    TEXT_TOK_WORD = 0, /* contains a letter (or is spaceless-script text)  */
    TEXT_TOK_NUMBER,   /* digits, with internal separators ("3.5", "10,000") */
    TEXT_TOK_PUNCT,    /* one punctuation mark (general category P*)          */
    TEXT_TOK_SYMBOL    /* one symbol or other character (S*, Co, Cn, Cc, ...) */
};

/* One pre-token: the bytes [start, end) of the caller's original text. */
typedef struct text_token {
    uint32_t start, end;
    uint8_t script; /* text_script_id of its first character that is not COMMON/INHERITED;
                       TEXT_SCRIPT_COMMON if none (digits, punctuation) */
    uint8_t kind;   /* TEXT_TOK_* */
} text_token;

/* Per-thread pre-tokenizer state: an ICU word break iterator and growable buffers. Build one
 * per thread (it is not thread-safe) and reuse it: after the buffers have grown to the
 * longest input, text_pretokenize does not allocate. */
typedef struct text_pretok_ctx text_pretok_ctx;

/* Returns a new context, or NULL with err filled (MILLE_ENOMEM, or ICU failing to open its
 * break iterator data: MILLE_EIO). */
text_pretok_ctx *text_pretok_new(mille_error *err);
/* NULL is a no-op. */
void text_pretok_free(text_pretok_ctx *ctx);

/* Split s[0..n) (UTF-8, need not be NUL-terminated) into pre-tokens:
 *   - Unicode whitespace (text_is_space) separates tokens and belongs to none;
 *   - a whitespace-delimited chunk that contains a spaceless script (text_script_spaceless)
 *     is split by ICU's dictionary-based word break iterator (UAX #29 + dictionaries);
 *   - any other chunk is split by UAX #29-style rules: letters, marks and digits form words
 *     (with apostrophes and periods kept between letters, "can't", "col·legi", and '.' ','
 *     kept between digits, "3.5"); each punctuation mark or symbol is its own token (one
 *     grapheme cluster: an emoji with its modifiers stays whole); format characters (ZWJ,
 *     ZWNJ, ZWSP ...) stay with the preceding token.
 * Tokens are in text order, non-empty, non-overlapping, contain no whitespace and together
 * cover every non-whitespace byte. On success *toks points to *ntoks tokens owned by ctx,
 * valid until the next call with ctx. Returns 0; MILLE_EUTF8 (invalid UTF-8 or NUL, err names
 * the offset); MILLE_ERANGE for n > INT32_MAX; MILLE_ENOMEM; MILLE_EIO if ICU fails. */
int text_pretokenize(text_pretok_ctx *ctx, const char *s, size_t n, const text_token **toks,
                     size_t *ntoks, mille_error *err);

/* Characters the last text_pretokenize call on ctx decoded, summed over its passes (ICU's
 * own work on spaceless chunks not included): a measure of work, linear in the input, that
 * tests and the fuzzer bound. */
uint64_t text_pretok_work(const text_pretok_ctx *ctx);

/* Check the contract above for tokens t[0..nt) of s[0..n) (valid UTF-8): in order, non-empty,
 * non-overlapping, on code point boundaries, no whitespace inside, every non-whitespace code
 * point covered, kind and script in range. Returns 0, or MILLE_EINVAL with err naming the
 * token and offset. For tests, the fuzzer and the benchmark's correctness pass. */
int text_pretok_verify(const char *s, size_t n, const text_token *t, size_t nt, mille_error *err);

/* Name of a token kind ("word", "number", "punct", "symbol"). */
const char *text_token_kind_name(int kind);

/* ---- CLDR word pairs (cldr.c) ------------------------------------------------------------ */

/* Called once per (English, target) pair, both lower-cased UTF-8 (NUL-terminated, lengths
 * given); what names the kind ("weekday", "month", "relative", "number"). A non-zero return
 * stops the walk and is returned by text_cldr_pairs. */
typedef int (*text_pair_fn)(void *ud, const char *en, size_t en_n, const char *tgt, size_t tgt_n,
                            const char *what);
/* Weekday and month names, relative days / weeks / months / years (-1, 0, +1) and numbers
 * 0..100 spelled out (where ICU has spellout rules for the locale), in English and in locale
 * ("fr-FR" or "fr_FR"), from ICU's CLDR data. Items ICU lacks for the locale are skipped.
 * Returns 0, MILLE_EINVAL (malformed locale) or what fn returned. */
int text_cldr_pairs(const char *locale, text_pair_fn fn, void *ud, mille_error *err);

/* ---- transliteration (translit.c) ------------------------------------------------------- */

/* ICU's "Any-Latin; Latin-ASCII" transliterator and its buffer. Not thread-safe: one per
 * thread. Returns NULL with err set (MILLE_ENOMEM; MILLE_EIO when ICU lacks the rules). */
typedef struct text_translit text_translit;
text_translit *text_translit_new(mille_error *err);
/* NULL is a no-op. */
void text_translit_free(text_translit *t);
/* 1 if s[0..n) has a character of a script other than Latin (Common and Inherited do not
 * count), i.e. a word text_translit_word spells anew. */
int text_translit_needed(const char *s, size_t n);
/* The Latin (ASCII) spelling of the word s[0..n) (UTF-8), NUL-terminated in out (cap bytes):
 * returns its length; 0 when there is nothing to do (a Latin, digit or punctuation word, a
 * word over 256 bytes, an output that would not fit or that equals the input); MILLE_EUTF8
 * for invalid UTF-8. */
int text_translit_word(text_translit *t, const char *s, size_t n, char *out, size_t cap,
                       mille_error *err);

#endif /* MILLE_TEXT_H */
