/*
 * tpl.c - response templates: the per-locale table (dialogue/responses.tsv), safe {slot}
 * substitution, locale-aware times and dates through ICU (CLDR patterns: "7:00 AM", "07:00",
 * "午前7:00"), and a small parser of spoken English times ("seven thirty pm").
 *
 * Substitution is text only: a value can never introduce a new placeholder (values are not
 * re-scanned), invalid UTF-8 becomes U+FFFD, and control characters become spaces, so a
 * hostile slot value ends up as inert text in the response (and, in skills.c, as one argv
 * element of a command run without a shell).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/udat.h>
#include <unicode/ustring.h>

#include "dlg.h"

/* ---- safe text ------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid (overlong forms,
 * surrogates and values above U+10FFFF are invalid, as in RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* append s[0..n) to out if it fits whole; returns 0 when full */
static int put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    if (*o + n + 1 > cap) return 0;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = 0;
    return 1;
}

static int put_clean(char *out, size_t cap, size_t *o, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t l = utf8_len(u + i, len - i);
        if (l == 0) {
            if (!put(out, cap, o, "\xEF\xBF\xBD", 3)) /* U+FFFD */
                return 0;
            i++;
        } else if (l == 1 && (u[i] < 0x20 || u[i] == 0x7F)) {
            if (!put(out, cap, o, " ", 1)) return 0;
            i++;
        } else {
            if (!put(out, cap, o, s + i, l)) return 0;
            i += l;
        }
    }
    return 1;
}

int tpl_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0, l; i < len; i += l)
        if ((l = utf8_len(u + i, len - i)) == 0 || (l == 1 && (u[i] < 0x20 || u[i] == 0x7F)))
            return 0;
    return 1;
}

void tpl_clean(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0) return;
    out[0] = 0;
    put_clean(out, cap, &o, s, len);
}

void tpl_render(const char *tpl, const kv *vars, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0) return;
    out[0] = 0;
    for (const char *p = tpl; *p;) {
        if (p[0] == '{' && p[1] == '{') {
            if (!put(out, cap, &o, "{", 1)) return;
            p += 2;
            continue;
        }
        const char *close = p[0] == '{' ? strchr(p, '}') : NULL;
        if (close) {
            size_t kl = (size_t)(close - p - 1);
            for (size_t i = 0; i < n; i++)
                if (strlen(vars[i].key) == kl && memcmp(vars[i].key, p + 1, kl) == 0) {
                    if (!put_clean(out, cap, &o, vars[i].val, strlen(vars[i].val))) return;
                    break;
                }
            p = close + 1;
            continue;
        }
        /* literal text up to the next '{' (a lone '{' without '}' is literal too) */
        size_t run = strcspn(p + 1, "{") + 1;
        if (!put_clean(out, cap, &o, p, run)) return;
        p += run;
    }
}

/* ---- the response table --------------------------------------------------------------------- */

typedef struct entry {
    char locale[16], key[48];
    char *text;
} entry;
struct tpl_table {
    entry *tab;
    size_t n;
};

void tpl_free(tpl_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->tab[i].text);
    free(t->tab);
    free(t);
}

tpl_table *tpl_parse(const char *buf, size_t len, const char *name, char *err)
{
    tpl_table *t = calloc(1, sizeof *t);
    size_t cap = 0, lineno = 0;
    if (!t) goto oom;
    for (size_t pos = 0; pos < len;) {
        const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        lineno++;
        while (n > 0 && line[n - 1] == '\r') n--;
        if (n == 0 || line[0] == '#') continue;
        const char *t1 = memchr(line, '\t', n);
        const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(line + n - t1 - 1)) : NULL;
        if (!t2 || (size_t)(t1 - line) >= sizeof t->tab->locale ||
            (size_t)(t2 - t1 - 1) >= sizeof t->tab->key || memchr(line, 0, n)) {
            snprintf(err, DLG_ERR, "%s:%zu: expected locale<TAB>key<TAB>template", name, lineno);
            tpl_free(t);
            return NULL;
        }
        if (t->n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            entry *ne = realloc(t->tab, nc * sizeof *ne);
            if (!ne) goto oom;
            t->tab = ne;
            cap = nc;
        }
        entry *e = &t->tab[t->n];
        snprintf(e->locale, sizeof e->locale, "%.*s", (int)(t1 - line), line);
        snprintf(e->key, sizeof e->key, "%.*s", (int)(t2 - t1 - 1), t1 + 1);
        if (!(e->text = strndup(t2 + 1, (size_t)(line + n - t2 - 1)))) goto oom;
        t->n++;
    }
    return t;
oom:
    snprintf(err, DLG_ERR, "%s: out of memory", name);
    tpl_free(t);
    return NULL;
}

tpl_table *tpl_load(const char *path, char *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) {
        snprintf(err, DLG_ERR, "%s: cannot open response table", path);
        return NULL;
    }
    for (;;) {
        if (n + 4096 > cap) {
            char *nb = cap > ((size_t)64 << 20) ? NULL : realloc(buf, cap ? 2 * cap : 65536);
            if (!nb) {
                snprintf(err, DLG_ERR, "%s: too large, or out of memory", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap ? 2 * cap : 65536;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    tpl_table *t = NULL;
    if (bad)
        snprintf(err, DLG_ERR, "%s: read error", path);
    else
        t = tpl_parse(buf, n, path, err);
    free(buf);
    return t;
}

static const char *find(const tpl_table *t, const char *locale, const char *key, int lang_only)
{
    for (size_t i = 0; i < t->n; i++) {
        const entry *e = &t->tab[i];
        if (strcmp(e->key, key) != 0) continue;
        if (!lang_only && strcmp(e->locale, locale) == 0) return e->text;
        if (lang_only && strncmp(e->locale, locale, 2) == 0 && e->locale[2] == '-' &&
            locale[2] == '-')
            return e->text;
    }
    return NULL;
}

const char *tpl_get(const tpl_table *t, const char *locale, const char *key, int *fallback)
{
    const char *s = locale ? find(t, locale, key, 0) : NULL;
    *fallback = 0;
    if (s) return s;
    *fallback = 1;
    if (locale && strlen(locale) > 2 && (s = find(t, locale, key, 1))) return s;
    return find(t, "en-US", key, 0);
}

/* ---- ICU dates and times -------------------------------------------------------------------- */

/* ICU wants "fr_FR"; MASSIVE writes "fr-FR". */
static void icu_locale(const char *locale, char *out, size_t cap)
{
    snprintf(out, cap, "%s", locale ? locale : "en-US");
    for (char *p = out; *p; p++)
        if (*p == '-') *p = '_';
}

static void format(const char *locale, double ms, UDateFormatStyle t, UDateFormatStyle d, char *out,
                   size_t cap)
{
    char loc[32];
    UErrorCode st = U_ZERO_ERROR;
    icu_locale(locale, loc, sizeof loc);
    /* "UTC" keeps the output independent of the machine's zone; the clock given to the skills
     * is already local wall time (mille_dialogue_request.now_ms) */
    static const UChar utc[] = {'U', 'T', 'C', 0};
    UDateFormat *f = udat_open(t, d, loc, utc, -1, NULL, -1, &st);
    UChar buf[128];
    out[0] = 0;
    if (U_FAILURE(st)) return;
    int32_t n = udat_format(f, ms, buf, 128, NULL, &st);
    udat_close(f);
    if (U_FAILURE(st) || n < 0) return;
    int32_t outn = 0;
    u_strToUTF8(out, (int32_t)cap - 1, &outn, buf, n, &st);
    if (U_FAILURE(st) || outn >= (int32_t)cap)
        out[0] = 0;
    else
        out[outn] = 0;
}

void tpl_format_time(const char *locale, double ms, char *out, size_t cap)
{
    format(locale, ms, UDAT_SHORT, UDAT_NONE, out, cap);
}

void tpl_format_date(const char *locale, double ms, char *out, size_t cap)
{
    format(locale, ms, UDAT_NONE, UDAT_FULL, out, cap);
}

/* ---- spoken times -----------------------------------------------------------------------------
 */

static int number_word(const char *w)
{
    static const char *const ones[] = {"zero",    "one",     "two",       "three",    "four",
                                       "five",    "six",     "seven",     "eight",    "nine",
                                       "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                       "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
    static const char *const tens[] = {"twenty", "thirty", "forty", "fifty"};
    for (int i = 0; i < 20; i++)
        if (strcasecmp(w, ones[i]) == 0) return i;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(w, tens[i]) == 0) return 20 + 10 * i;
    if (strcasecmp(w, "oh") == 0 || strcasecmp(w, "o") == 0) return 0;
    char *end;
    long v = strtol(w, &end, 10);
    if (end != w && *end == 0 && v >= 0 && v < 60) return (int)v;
    return -1;
}

int tpl_parse_time(const char *s)
{
    char buf[128], *words[16];
    size_t nw = 0;
    snprintf(buf, sizeof buf, "%s", s);
    /* "7:30pm" -> "7 30 pm"; "a.m." -> "am" */
    char norm[256];
    size_t o = 0;
    for (const char *p = buf; *p && o + 3 < sizeof norm; p++) {
        char c = *p;
        if (c == '.') continue;
        if (c == ':' || c == '-') {
            norm[o++] = ' ';
            continue;
        }
        if (o > 0 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && norm[o - 1] >= '0' &&
            norm[o - 1] <= '9')
            norm[o++] = ' ';
        norm[o++] = c;
    }
    norm[o] = 0;
    for (char *save = NULL, *w = strtok_r(norm, " \t", &save); w && nw < 16;
         w = strtok_r(NULL, " \t", &save))
        words[nw++] = w;
    int h = -1, m = 0, pm = -1;
    for (size_t i = 0; i < nw; i++) {
        const char *w = words[i];
        if (!strcasecmp(w, "noon") || !strcasecmp(w, "midday")) return 12 * 60;
        if (!strcasecmp(w, "midnight")) return 0;
        if (!strcasecmp(w, "am") || !strcasecmp(w, "morning")) {
            pm = 0;
            continue;
        }
        if (!strcasecmp(w, "pm") || !strcasecmp(w, "evening") || !strcasecmp(w, "afternoon") ||
            !strcasecmp(w, "night") || !strcasecmp(w, "tonight")) {
            pm = 1;
            continue;
        }
        if (!strcasecmp(w, "o'clock") || !strcasecmp(w, "at") || !strcasecmp(w, "in") ||
            !strcasecmp(w, "the"))
            continue;
        int v = number_word(w);
        if (v < 0 && w[0] >= '0' && w[0] <= '9') return -1; /* "99" is no hour or minute */
        if (v < 0) continue;
        if (h < 0) {
            if (v > 23) return -1;
            h = v;
        } else {
            m += v; /* "thirty five" adds up */
        }
    }
    if (h < 0 || m > 59) return -1;
    if (pm == 1 && h < 12) h += 12;
    if (pm == 0 && h == 12) h = 0;
    return h * 60 + m;
}
