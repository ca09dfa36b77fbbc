/*
 * annot.c - parse MASSIVE's annot_utt ("wake me up at [time : nine am]") into words with
 * byte offsets into utt and one slot label per word.
 *
 * Reference: alexa/massive scripts/create_hf_dataset.py (_build_in_mem_dicts), which defines
 * MASSIVE's word-level labels. The rules and our two deliberate differences are stated in
 * data.h above annot_parse. Method: both strings become streams of non-space code points;
 * annot's stream carries the label of each code point and whether a bracket came before it.
 * The two streams must hold the same code points. Word boundaries come from utt (whitespace;
 * per code point in char-split locales, ASCII runs kept whole) plus every slot bracket.
 */
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "text.h"

typedef struct achar {
    uint32_t off, len; /* bytes of this code point in its source string */
    int32_t cp;
    uint32_t label_off, label_len; /* label (a range of annot); len 0 = Other */
    uint8_t space_before;          /* whitespace between the previous code point and this */
    uint8_t bracket_before;        /* a '[' or ']' between the previous code point and this */
} achar;

void annot_scratch_free(annot_scratch *s)
{
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

int annot_char_split(const char *locale, size_t len)
{
    return len == 5 && (memcmp(locale, "ja-JP", 5) == 0 || memcmp(locale, "zh-CN", 5) == 0 ||
                        memcmp(locale, "zh-TW", 5) == 0);
}

/* Decode s[i..n) into *cp; errors name which string and where. */
static int decode_at(const char *s, size_t n, size_t i, const char *what, int32_t *cp,
                     mille_error *err)
{
    int len = text_decode(s + i, n - i, cp);
    if (len < 0) return err_set(err, MILLE_EUTF8, "%s: invalid UTF-8 at byte %zu", what, i);
    if (*cp == 0) return err_set(err, MILLE_EUTF8, "%s: NUL character at byte %zu", what, i);
    return len;
}

/* Stream of the plain text: non-space code points of utt with their spacing. */
static int utt_stream(const char *s, size_t n, achar *out, size_t *n_out, mille_error *err)
{
    size_t k = 0;
    int space = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len = decode_at(s, n, i, "utt", &cp, err);
        if (len < 0) return len;
        if (text_is_space(cp)) {
            space = 1;
        } else {
            out[k] = (achar){(uint32_t)i, (uint32_t)len, cp, 0, 0, (uint8_t)space, 0};
            k++;
            space = 0;
        }
        i += (size_t)len;
    }
    *n_out = k;
    return MILLE_OK;
}

/* Stream of annot without its bracket syntax, each code point labeled. */
static int annot_stream(const char *s, size_t n, achar *out, size_t *n_out, mille_error *err)
{
    size_t k = 0, open_at = 0, in_value = 0;
    uint32_t label_off = 0, label_len = 0;
    int space = 0, bracket = 0, in_slot = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len = decode_at(s, n, i, "annot_utt", &cp, err);
        if (len < 0) return len;
        if (cp == '[') {
            if (in_slot)
                return err_set(err, MILLE_EANNOT,
                               "annot_utt: '[' at byte %zu inside the slot opened at byte %zu", i,
                               open_at);
            /* "[label : value]": the label runs to whitespace or ':' */
            size_t j = i + 1;
            while (j < n && s[j] != ':' && s[j] != '[' && s[j] != ']') {
                int32_t c2;
                int l2 = decode_at(s, n, j, "annot_utt", &c2, err);
                if (l2 < 0) return l2;
                if (text_is_space(c2)) break;
                j += (size_t)l2;
            }
            if (j == i + 1)
                return err_set(err, MILLE_EANNOT,
                               "annot_utt: slot name missing after '[' at byte %zu", i);
            label_off = (uint32_t)(i + 1);
            label_len = (uint32_t)(j - i - 1);
            while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
            if (j >= n || s[j] != ':')
                return err_set(err, MILLE_EANNOT,
                               "annot_utt: expected ' : ' after slot name '%.*s' at byte %zu",
                               (int)label_len, s + label_off, j);
            i = j + 1;
            open_at = label_off - 1;
            in_slot = 1;
            in_value = 0;
            bracket = 1;
            continue;
        }
        if (cp == ']') {
            if (!in_slot)
                return err_set(err, MILLE_EANNOT, "annot_utt: ']' at byte %zu closes no slot", i);
            if (!in_value)
                return err_set(err, MILLE_EANNOT, "annot_utt: empty value in the slot at byte %zu",
                               open_at);
            in_slot = 0;
            label_len = 0;
            bracket = 1;
            i++;
            continue;
        }
        if (text_is_space(cp)) {
            space = 1;
        } else {
            out[k] = (achar){(uint32_t)i,
                             (uint32_t)len,
                             cp,
                             in_slot ? label_off : 0,
                             in_slot ? label_len : 0,
                             (uint8_t)space,
                             (uint8_t)bracket};
            k++;
            space = bracket = 0;
            in_value += in_slot;
        }
        i += (size_t)len;
    }
    if (in_slot)
        return err_set(err, MILLE_EANNOT, "annot_utt: slot opened at byte %zu is never closed",
                       open_at);
    *n_out = k;
    return MILLE_OK;
}

/* Words from the plain stream u (n code points) and its labeled twin a (a == u when the
 * text has no annotation): a word starts after whitespace, at a slot bracket, and in
 * char-split locales at every code point except inside runs of ASCII. */
static int segment(const achar *u, const achar *a, size_t n, int char_split, annot_word *words)
{
    int nw = 0;
    for (size_t k = 0; k < n; k++) {
        int start = k == 0 || u[k].space_before || a[k].bracket_before ||
                    (char_split && !(u[k - 1].cp < 0x80 && u[k].cp < 0x80));
        if (start) {
            words[nw++] =
                (annot_word){u[k].off, u[k].off + u[k].len, a[k].label_off, a[k].label_len};
        } else {
            /* labels change only at brackets, and a bracket always starts a word */
            MILLE_ASSERT(a[k].label_off == words[nw - 1].label_off);
            words[nw - 1].end = u[k].off + u[k].len;
        }
    }
    return nw;
}

int annot_words(const char *text, size_t len, int char_split, annot_word *words,
                annot_scratch *scratch, mille_error *err)
{
    if (len > UINT32_MAX / 2) return err_set(err, MILLE_ERANGE, "text longer than 2 GiB");
    if (vec_reserve(&scratch->buf, &scratch->cap, len + 1, sizeof(achar)))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    achar *u = scratch->buf;
    size_t n = 0;
    int rc = utt_stream(text, len, u, &n, err);
    if (rc < 0) return rc;
    return segment(u, u, n, char_split, words);
}

int annot_parse(const char *utt, size_t utt_len, const char *annot, size_t annot_len,
                int char_split, annot_word *words, annot_scratch *scratch, mille_error *err)
{
    if (annot_len > UINT32_MAX / 2 || utt_len > UINT32_MAX / 2)
        return err_set(err, MILLE_ERANGE, "annot_utt: text longer than 2 GiB");
    size_t need = annot_len + (utt ? utt_len : 0) + 2;
    if (vec_reserve(&scratch->buf, &scratch->cap, need, sizeof(achar)))
        return err_set(err, MILLE_ENOMEM, "annot_utt: out of memory");
    achar *a = scratch->buf, *u = a + annot_len + 1;
    size_t na = 0, nu = 0;
    int rc = annot_stream(annot, annot_len, a, &na, err);
    if (rc < 0) return rc;
    if (utt) {
        rc = utt_stream(utt, utt_len, u, &nu, err);
        if (rc < 0) return rc;
        for (size_t k = 0; k < na && k < nu; k++) {
            if (a[k].cp != u[k].cp)
                return err_set(err, MILLE_EANNOT,
                               "annot_utt does not match utt: utt byte %u, annot_utt byte %u",
                               u[k].off, a[k].off);
            if (char_split || k == 0) continue;
            /* whitespace-split locales: words of annot_utt and utt must be the same words */
            if (a[k].bracket_before && !u[k].space_before)
                return err_set(err, MILLE_EANNOT,
                               "annot_utt: slot bracket inside the word at utt byte %u", u[k].off);
            if (a[k].space_before != u[k].space_before)
                return err_set(err, MILLE_EANNOT,
                               "annot_utt words differ from utt words at utt byte %u", u[k].off);
        }
        if (na != nu) {
            size_t k = na < nu ? na : nu;
            return err_set(err, MILLE_EANNOT,
                           "annot_utt does not match utt: %s ends first (utt byte %zu)",
                           na < nu ? "annot_utt" : "utt", k < nu ? (size_t)u[k].off : utt_len);
        }
    } else {
        u = a;
        nu = na;
    }

    return segment(u, a, nu, char_split, words);
}

/* Append n bytes at *len, keeping a NUL after them. */
static int put(char **buf, size_t *cap, size_t *len, const char *p, size_t n)
{
    if (vec_reserve((void **)buf, cap, *len + n + 1, 1)) return MILLE_ENOMEM;
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return MILLE_OK;
}

int annot_format(char **buf, size_t *cap, size_t *len, const char *text, const annot_word *words,
                 const int *tags, size_t n_words, int char_split, const strtab *slots)
{
    size_t pos = 0;
    int rc = put(buf, cap, len, "", 0), space_after = 0;
    for (size_t i = 0; i < n_words && !rc; i++) {
        const annot_word *w = &words[i];
        int tag = tags[i], opens = tag && (i == 0 || tags[i - 1] != tag);
        int closes = tag && (i + 1 == n_words || tags[i + 1] != tag);
        size_t g0 = pos, g1 = w->start;
        if (char_split && (opens || space_after)) {
            while (g0 < g1 && text[g0] == ' ') g0++;
            while (!opens && g1 > g0 && text[g1 - 1] == ' ') g1--;
            if (opens)
                while (g1 > g0 && text[g1 - 1] == ' ') g1--;
            if (space_after) rc = put(buf, cap, len, " ", 1);
            if (!rc) rc = put(buf, cap, len, text + g0, g1 - g0);
            if (opens && *len && (*buf)[*len - 1] != ' ' && !rc) rc = put(buf, cap, len, " ", 1);
        } else {
            rc = put(buf, cap, len, text + g0, g1 - g0);
        }
        space_after = 0;
        if (opens && !rc) {
            const char *name = strtab_str(slots, (size_t)tag);
            rc = put(buf, cap, len, "[", 1) || put(buf, cap, len, name, strlen(name)) ||
                 put(buf, cap, len, " : ", 3);
        }
        if (!rc) rc = put(buf, cap, len, text + w->start, w->end - w->start);
        if (closes && !rc) {
            rc = put(buf, cap, len, "]", 1);
            space_after = char_split;
        }
        pos = w->end;
    }
    if (!rc) (*len)++; /* keep the NUL */
    return rc ? MILLE_ENOMEM : MILLE_OK;
}
