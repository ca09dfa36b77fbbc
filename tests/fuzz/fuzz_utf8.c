/*
 * fuzz_utf8.c - libFuzzer target for the text module on arbitrary bytes:
 *   - text_utf8_check, text_normalize, text_normalize_ref, text_pretokenize and
 *     text_dominant_script agree on validity and on the offset of the first bad byte;
 *   - for valid input, per-cluster normalization equals whole-string normalization for the
 *     flag set chosen by the first byte, and the offset map is well formed;
 *   - the pre-tokens satisfy text_pretok_verify (order, no overlap, no whitespace, coverage).
 * Any violated invariant aborts, which libFuzzer reports with the input.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_utf8: %s failed at %s:%d\n", #c, __FILE__, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Kept across inputs, as a real caller would: this also exercises buffer reuse. */
static text_buf norm_buf, ref_buf;
static text_pretok_ctx *ctx;

static size_t err_offset(const mille_error *e)
{
    const char *p = strstr(e->msg, "offset ");
    FUZZ_ASSERT(p != NULL);
    return (size_t)strtoul(p + 7, NULL, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx) {
        ctx = text_pretok_new(NULL);
        FUZZ_ASSERT(ctx != NULL);
    }
    /* The first byte picks the normalization flags; the rest is the text. */
    unsigned flags = size ? data[0] & TEXT_NORM_ALL : TEXT_NORM_DEFAULT;
    const char *s = size ? (const char *)data + 1 : "";
    size_t n = size ? size - 1 : 0;

    size_t bad = 0;
    int valid = text_utf8_check(s, n, &bad) == MILLE_OK;
    mille_error e;

    int rc = text_normalize(s, n, flags, &norm_buf, &e);
    FUZZ_ASSERT(rc == (valid ? MILLE_OK : MILLE_EUTF8));
    if (!valid) FUZZ_ASSERT(err_offset(&e) == bad);
    int rr = text_normalize_ref(s, n, flags, &ref_buf, &e);
    FUZZ_ASSERT(rr == rc);
    /* utf8proc 2.8's whole-string composition (the reference) drops U+11A7 after a Hangul LV
     * syllable, as if it were the "no trailing consonant" index 0; Unicode (UAX #15, Hangul
     * composition: 0 < TIndex < TCount) keeps it, and so does text_normalize
     * (tests/test_text.c: text_hangul_11a7_kept). Inputs holding U+11A7 skip the byte
     * comparison; every other check still applies. */
    int ref_bug = n >= 3 && memmem(s, n, "\xe1\x86\xa7", 3) != NULL;
    if (valid) {
        FUZZ_ASSERT(ref_bug || norm_buf.len == ref_buf.len);
        FUZZ_ASSERT(ref_bug || memcmp(norm_buf.s, ref_buf.s, norm_buf.len) == 0);
        FUZZ_ASSERT(norm_buf.s[norm_buf.len] == '\0');
        FUZZ_ASSERT(norm_buf.src[norm_buf.len] == n && norm_buf.src_end[norm_buf.len] == n);
        for (size_t i = 0; i < norm_buf.len; i++) {
            FUZZ_ASSERT(norm_buf.src[i] < norm_buf.src_end[i] && norm_buf.src_end[i] <= n);
            if (i) FUZZ_ASSERT(norm_buf.src[i - 1] <= norm_buf.src[i]);
            if (i) FUZZ_ASSERT(norm_buf.src_end[i - 1] <= norm_buf.src_end[i]);
            /* a source segment starts on a code point boundary */
            FUZZ_ASSERT(((unsigned char)s[norm_buf.src[i]] & 0xC0) != 0x80);
        }
        /* the output is itself valid UTF-8 (and NUL-free: NUL was rejected) */
        FUZZ_ASSERT(text_utf8_check(norm_buf.s, norm_buf.len, NULL) == MILLE_OK);
    }

    const text_token *t;
    size_t nt;
    rc = text_pretokenize(ctx, s, n, &t, &nt, &e);
    FUZZ_ASSERT(rc == (valid ? MILLE_OK : MILLE_EUTF8));
    if (valid) {
        if (text_pretok_verify(s, n, t, nt, &e) != MILLE_OK) {
            fprintf(stderr, "fuzz_utf8: %s\n", e.msg);
            abort();
        }
    } else {
        FUZZ_ASSERT(err_offset(&e) == bad);
        FUZZ_ASSERT(nt == 0);
    }

    int sc = text_dominant_script(s, n);
    FUZZ_ASSERT(valid ? (sc >= 0 && sc < TEXT_SCRIPT_COUNT) : sc == MILLE_EUTF8);
    return 0;
}
