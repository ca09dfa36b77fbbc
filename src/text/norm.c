/*
 * norm.c - the one place where mille normalizes text: NFKC + Unicode full case folding, and
 * optionally mark and Default_Ignorable stripping (UAX #15, Unicode ch. 3.13 / 5.18), with a
 * map from every output byte back to the input bytes it came from.
 *
 * Why per segment. Normalization is not a function of single code points: canonical
 * reordering and composition move and merge characters inside a combining sequence
 * ("e" U+0301 -> "é", Hangul L V T jamo -> one syllable, Bengali U+09C7 U+09BE -> U+09CB,
 * half-width "ｶ" U+FF9E -> "ガ"), and compatibility decomposition can create such sequences
 * (U+1112 + compatibility jamo U+3161 -> U+1112 U+1173 -> a syllable). So the input is cut
 * into segments at normalization boundaries (UAX #15 section 9.1: before a code point that
 * ICU's Normalizer2 says "has a boundary before" - it never interacts with what precedes
 * it), each segment is normalized on its own with utf8proc, and every output byte maps to
 * the whole source segment [src, src_end). In practice a segment is one code point, or a
 * base with its combining marks. text_normalize_ref normalizes the whole string at once;
 * the tests and the fuzzer check that both give the same bytes.
 *
 * What it does not do: locale-specific folding (Turkish dotless i: "I" folds to "i" and
 * U+0130 to "i" U+0307 in every locale), transliteration, punctuation lumping, whitespace
 * collapsing. Offsets never point inside a source cluster.
 */
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <utf8proc.h>

#include "text.h"

static utf8proc_option_t norm_options(unsigned flags)
{
    utf8proc_option_t o = 0;
    if (flags & TEXT_NORM_NFKC)
        o |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else if (flags & TEXT_NORM_STRIPMARK)
        o |= UTF8PROC_COMPOSE; /* utf8proc strips marks only while (de)composing */
    if (flags & TEXT_NORM_CASEFOLD) o |= UTF8PROC_CASEFOLD;
    if (flags & TEXT_NORM_STRIPMARK) o |= UTF8PROC_STRIPMARK;
    if (flags & TEXT_NORM_IGNORABLE) o |= UTF8PROC_IGNORE;
    return o;
}

static int bad_utf8(mille_error *err, const char *s, size_t off)
{
    if (s[off] == 0) return err_set(err, MILLE_EUTF8, "NUL byte at byte offset %zu", off);
    return err_set(err, MILLE_EUTF8, "invalid UTF-8 at byte offset %zu (0x%02x)", off,
                   (unsigned)(unsigned char)s[off]);
}

/* Grow the three parallel output arrays to hold `need` elements. On failure the arrays that
 * were grown stay valid and cap keeps the old (smaller) value, so b is still consistent. */
static int buf_reserve(text_buf *b, size_t need)
{
    if (need <= b->cap) return MILLE_OK;
    size_t ncap = b->cap ? b->cap : 64, bytes;
    while (ncap < need)
        if (size_mul(ncap, 2, &ncap)) return MILLE_ENOMEM;
    if (size_mul(ncap, sizeof *b->src, &bytes)) return MILLE_ENOMEM;
    char *s = realloc(b->s, ncap);
    if (!s) return MILLE_ENOMEM;
    b->s = s;
    uint32_t *src = realloc(b->src, bytes);
    if (!src) return MILLE_ENOMEM;
    b->src = src;
    uint32_t *src_end = realloc(b->src_end, bytes);
    if (!src_end) return MILLE_ENOMEM;
    b->src_end = src_end;
    b->cap = ncap;
    return MILLE_OK;
}

/* Where segments may end. Under composition (NFKC, or NFC for STRIPMARK), before a code
 * point c that ICU says "has a boundary before" in the normalizer that applies: c never
 * interacts with what precedes it (its decomposition starts with a starter that composes
 * with nothing before it). Both the NFKC and the NFKC_Casefold instances must agree, since
 * we fold with utf8proc, not ICU. Two more cases join a segment to its predecessor because
 * removing c could let its neighbours meet: default-ignorables when they are dropped, and
 * marks when they are stripped. Without composition nothing moves: every code point is a
 * segment. */
typedef struct norm_bounds {
    const UNormalizer2 *a, *b; /* NULL: no composition */
    int ignorable, marks;
} norm_bounds;

static int bounds_init(norm_bounds *nb, unsigned flags)
{
    UErrorCode st = U_ZERO_ERROR;
    memset(nb, 0, sizeof *nb);
    if (flags & TEXT_NORM_NFKC) {
        nb->a = unorm2_getNFKCInstance(&st);
        nb->b = unorm2_getNFKCCasefoldInstance(&st);
    } else if (flags & TEXT_NORM_STRIPMARK) {
        nb->a = nb->b = unorm2_getNFCInstance(&st);
    }
    nb->ignorable = (flags & TEXT_NORM_IGNORABLE) != 0;
    nb->marks = (flags & TEXT_NORM_STRIPMARK) != 0;
    return U_FAILURE(st) ? -1 : 0;
}

static int boundary_before(const norm_bounds *nb, int32_t cp)
{
    if (!nb->a) return 1;
    if (!unorm2_hasBoundaryBefore(nb->a, cp) || !unorm2_hasBoundaryBefore(nb->b, cp)) return 0;
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    if (nb->ignorable && p->ignorable) return 0;
    if (nb->marks && (p->category == UTF8PROC_CATEGORY_MN || p->category == UTF8PROC_CATEGORY_MC ||
                      p->category == UTF8PROC_CATEGORY_ME))
        return 0;
    return 1;
}

/* Decompose (+ fold, strip) s[0..n) into b->cps, growing it as needed; then compose. Returns
 * the number of code points, or a negative MILLE_E* code. */
static int64_t norm_segment(text_buf *b, const char *s, size_t n, utf8proc_option_t opt)
{
    utf8proc_ssize_t m;
    for (;;) {
        m = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, b->cps,
                               (utf8proc_ssize_t)b->cps_cap, opt);
        if (m < 0) return m == UTF8PROC_ERROR_NOMEM ? MILLE_ENOMEM : MILLE_EUTF8;
        if ((size_t)m <= b->cps_cap) break;
        /* utf8proc returned the size it needs: grow and redo (rare, once per new maximum). */
        if (vec_reserve((void **)&b->cps, &b->cps_cap, (size_t)m, sizeof *b->cps))
            return MILLE_ENOMEM;
    }
    if ((opt & UTF8PROC_COMPOSE) && m > 1) m = utf8proc_normalize_utf32(b->cps, m, opt);
    return m;
}

int text_normalize(const char *s, size_t n, unsigned flags, text_buf *out, mille_error *err)
{
    out->len = 0;
    if (flags & ~(unsigned)TEXT_NORM_ALL)
        return err_set(err, MILLE_EINVAL, "unknown normalization flags 0x%x", flags);
    if (n >= UINT32_MAX)
        return err_set(err, MILLE_ERANGE, "text of %zu bytes: longer than 4 GiB", n);
    utf8proc_option_t opt = norm_options(flags);
    int fold = (flags & TEXT_NORM_CASEFOLD) != 0;
    norm_bounds nb;
    if (bounds_init(&nb, flags)) return err_set(err, MILLE_EIO, "ICU normalizer data is missing");
    /* ASCII needs at most one output byte per input byte: reserve that much up front. */
    if (buf_reserve(out, n + 1)) goto nomem;
    size_t len = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        /* Fast path: an ASCII character followed by ASCII (or the end) is its own cluster, and
         * NFKC, mark and ignorable stripping leave it alone; folding is A-Z -> a-z. */
        if (c < 0x80 && (i + 1 == n || (unsigned char)s[i + 1] < 0x80)) {
            if (c == 0) goto bad;
            if (buf_reserve(out, len + 2)) goto nomem;
            out->s[len] = (char)(fold && c >= 'A' && c <= 'Z' ? c + 32 : c);
            out->src[len] = (uint32_t)i;
            out->src_end[len] = (uint32_t)i + 1;
            len++;
            i++;
            continue;
        }
        /* General path: the segment runs from i to the next code point j that has a
         * normalization boundary before it, validating as we go (in order, so the first bad
         * byte is the one reported). */
        int32_t cp;
        int k = text_decode(s + i, n - i, &cp);
        if (k < 0 || cp == 0) goto bad;
        size_t j = i + (size_t)k;
        while (j < n) {
            k = text_decode(s + j, n - j, &cp);
            if (k < 0 || cp == 0) {
                i = j;
                goto bad;
            }
            if (boundary_before(&nb, cp)) break;
            j += (size_t)k;
        }
        int64_t m = norm_segment(out, s + i, j - i, opt);
        if (m < 0) {
            if (m == MILLE_ENOMEM) goto nomem;
            return err_set(err, MILLE_EUTF8, "utf8proc failed at byte offset %zu", i);
        }
        size_t need;
        if (size_add(len, 4 * (size_t)m + 1, &need) || buf_reserve(out, need)) goto nomem;
        for (int64_t q = 0; q < m; q++) {
            utf8proc_ssize_t w =
                utf8proc_encode_char(out->cps[q], (utf8proc_uint8_t *)out->s + len);
            for (utf8proc_ssize_t r = 0; r < w; r++) {
                out->src[len + (size_t)r] = (uint32_t)i;
                out->src_end[len + (size_t)r] = (uint32_t)j;
            }
            len += (size_t)w;
        }
        i = j;
    }
    out->s[len] = '\0';
    out->src[len] = out->src_end[len] = (uint32_t)n;
    out->len = len;
    return MILLE_OK;
bad:
    return bad_utf8(err, s, i);
nomem:
    return err_set(err, MILLE_ENOMEM, "out of memory normalizing %zu bytes", n);
}

int text_normalize_ref(const char *s, size_t n, unsigned flags, text_buf *out, mille_error *err)
{
    out->len = 0;
    if (flags & ~(unsigned)TEXT_NORM_ALL)
        return err_set(err, MILLE_EINVAL, "unknown normalization flags 0x%x", flags);
    size_t bad;
    if (text_utf8_check(s, n, &bad)) return bad_utf8(err, s, bad);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t m =
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, norm_options(flags));
    if (m < 0) return err_set(err, MILLE_EINVAL, "utf8proc_map: %s", utf8proc_errmsg(m));
    if (buf_reserve(out, (size_t)m + 1)) {
        free(dst);
        return err_set(err, MILLE_ENOMEM, "out of memory normalizing %zu bytes", n);
    }
    memcpy(out->s, dst, (size_t)m);
    out->s[m] = '\0';
    out->len = (size_t)m;
    free(dst);
    return MILLE_OK;
}

void text_buf_free(text_buf *b)
{
    if (!b) return;
    free(b->s);
    free(b->src);
    free(b->src_end);
    free(b->cps);
    memset(b, 0, sizeof *b);
}
