/*
 * utf8.c - UTF-8 decoding, validation and whitespace classes, on top of utf8proc.
 * Does not normalize (see norm.c) or segment (see pretok.c).
 */
#include <string.h>
#include <utf8proc.h>

#include "text.h"

int text_decode(const char *s, size_t n, int32_t *cp)
{
    utf8proc_int32_t c;
    /* utf8proc_iterate rejects overlong forms, surrogates and values above U+10FFFF. */
    utf8proc_ssize_t len =
        utf8proc_iterate((const utf8proc_uint8_t *)s, n > 4 ? 4 : (utf8proc_ssize_t)n, &c);
    if (len <= 0 || c < 0) return -1;
    *cp = c;
    return (int)len;
}

int text_utf8_check(const char *s, size_t n, size_t *bad_off)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x01 && b < 0x80) { /* ASCII fast path */
            i++;
            continue;
        }
        int32_t cp;
        int len = b ? text_decode(s + i, n - i, &cp) : -1;
        if (len < 0) {
            if (bad_off) *bad_off = i;
            return MILLE_EUTF8;
        }
        i += (size_t)len;
    }
    return MILLE_OK;
}

int text_is_space(int32_t cp)
{
    if (cp < 0x80) return (cp >= 9 && cp <= 13) || (cp >= 28 && cp <= 32);
    if (cp == 0x85) return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

size_t text_upper_first(const char *s, size_t n, char *out, size_t cap)
{
    int32_t cp;
    int len = n ? text_decode(s, n, &cp) : -1;
    if (len <= 0 || cap < n + 5) return 0;
    utf8proc_uint8_t enc[4];
    utf8proc_ssize_t k = utf8proc_encode_char(utf8proc_toupper(cp), enc);
    if (k <= 0) return 0;
    memcpy(out, enc, (size_t)k);
    memcpy(out + k, s + len, n - (size_t)len);
    out[(size_t)k + n - (size_t)len] = '\0';
    return (size_t)k + n - (size_t)len;
}
