/*
 * cldr.c - English / target-language word pairs from Unicode CLDR through ICU: the words
 * assistants hear in dates and times, for any locale ICU has data for.
 *
 * What it implements: for a locale, pairs (English, target) of
 *   - weekday names (format and stand-alone, wide: "monday" / "lundi");
 *   - month names (format and stand-alone: Russian "января" and "январь" are both used);
 *   - relative days, weeks, months and years: -1 / 0 / +1 ("yesterday" / "hier", "next week" /
 *     "la semaine prochaine"), from ureldatefmt's text forms;
 *   - numbers 0..100 spelled out by ICU's rule-based number format (RBNF spellout), for the
 *     locales that have spellout rules ("five" / "cinq").
 * Both sides come from the same ICU call with "en" and with the target locale, so each pair
 * is what CLDR says in each language. Targets are lower-cased with the target locale's rules
 * (u_strToLower: Turkish dotted i stays right, German ß stays).
 * What it does not: units, currencies, territories, emoji names (CLDR has them, ICU's C API
 * does not expose all of them simply), day periods.
 *
 * Reference: Unicode CLDR (cldr.unicode.org), ICU4C udat.h, ureldatefmt.h, unum.h.
 */
#include <string.h>
#include <unicode/udat.h>
#include <unicode/unum.h>
#include <unicode/ureldatefmt.h>
#include <unicode/ustring.h>

#include "text.h"

/* One ICU string as lower-cased UTF-8 in out (cap bytes). Returns its length or -1. */
static int32_t to_utf8_lower(const UChar *s, int32_t n, const char *loc, char *out, int32_t cap)
{
    UChar low[256];
    UErrorCode st = U_ZERO_ERROR;
    int32_t ln = u_strToLower(low, 256, s, n, loc, &st);
    if (U_FAILURE(st) || ln >= 256) return -1;
    int32_t on = 0;
    st = U_ZERO_ERROR;
    u_strToUTF8(out, cap, &on, low, ln, &st);
    if (U_FAILURE(st) || on >= cap) return -1;
    out[on] = '\0';
    return on;
}

typedef struct cldr_side {
    UDateFormat *df;
    UNumberFormat *spell;
    URelativeDateTimeFormatter *rel;
} cldr_side;

static void side_close(cldr_side *s)
{
    if (s->df) udat_close(s->df);
    if (s->spell) unum_close(s->spell);
    if (s->rel) ureldatefmt_close(s->rel);
}

static void side_open(cldr_side *s, const char *loc)
{
    UErrorCode st = U_ZERO_ERROR;
    s->df = udat_open(UDAT_DEFAULT, UDAT_DEFAULT, loc, NULL, 0, NULL, 0, &st);
    if (U_FAILURE(st)) s->df = NULL;
    st = U_ZERO_ERROR;
    s->spell = unum_open(UNUM_SPELLOUT, NULL, 0, loc, NULL, &st);
    /* (ICU reports U_USING_DEFAULT_WARNING for every locale here; a locale without spellout
     * rules of its own gets the root's, which writes digits: those are skipped below) */
    if (U_FAILURE(st)) s->spell = NULL;
    st = U_ZERO_ERROR;
    s->rel = ureldatefmt_open(loc, NULL, UDAT_STYLE_LONG, UDISPCTX_CAPITALIZATION_NONE, &st);
    if (U_FAILURE(st)) s->rel = NULL;
}

/* A symbol, spelled number or relative date of each side; what selects the call. */
enum { K_SYM, K_SPELL, K_REL };
static int32_t get(const cldr_side *s, int kind, int a, int b, UChar *buf, int32_t cap)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t n = -1;
    if (kind == K_SYM && s->df)
        n = udat_getSymbols(s->df, (UDateFormatSymbolType)a, b, buf, cap, &st);
    else if (kind == K_SPELL && s->spell)
        n = unum_format(s->spell, a, buf, cap, NULL, &st);
    else if (kind == K_REL && s->rel)
        n = ureldatefmt_format(s->rel, (double)b, (URelativeDateTimeUnit)a, buf, cap, &st);
    if (U_FAILURE(st) || n <= 0 || n >= cap) return -1;
    return n;
}

int text_cldr_pairs(const char *locale, text_pair_fn fn, void *ud, mille_error *err)
{
    char loc[32];
    size_t ln = strlen(locale);
    if (ln == 0 || ln >= sizeof loc)
        return err_set(err, MILLE_EINVAL, "cldr: bad locale \"%.40s\"", locale);
    for (size_t i = 0; i <= ln; i++) loc[i] = locale[i] == '-' ? '_' : locale[i];
    cldr_side en = {0}, tg = {0};
    side_open(&en, "en");
    side_open(&tg, loc);
    /* (kind, a, b range) of every item: symbols (type, index), spellout (number), relative
     * (unit, offset) */
    static const struct {
        int kind, a, b0, b1;
        const char *what;
    } items[] = {
        {K_SYM, UDAT_WEEKDAYS, 1, 7, "weekday"},
        {K_SYM, UDAT_STANDALONE_WEEKDAYS, 1, 7, "weekday"},
        {K_SYM, UDAT_MONTHS, 0, 11, "month"},
        {K_SYM, UDAT_STANDALONE_MONTHS, 0, 11, "month"},
        {K_REL, UDAT_REL_UNIT_DAY, -1, 1, "relative"},
        {K_REL, UDAT_REL_UNIT_WEEK, -1, 1, "relative"},
        {K_REL, UDAT_REL_UNIT_MONTH, -1, 1, "relative"},
        {K_REL, UDAT_REL_UNIT_YEAR, -1, 1, "relative"},
        {K_SPELL, 0, 0, 100, "number"},
    };
    int rc = MILLE_OK;
    UChar ub[256], tb[256];
    char e8[512], t8[512];
    for (size_t i = 0; i < sizeof items / sizeof items[0] && rc == MILLE_OK; i++) {
        for (int b = items[i].b0; b <= items[i].b1 && rc == MILLE_OK; b++) {
            int a = items[i].kind == K_SPELL ? b : items[i].a;
            int32_t en_n = get(&en, items[i].kind, a, b, ub, 256);
            int32_t tg_n = get(&tg, items[i].kind, a, b, tb, 256);
            if (en_n < 0 || tg_n < 0) continue;
            int32_t e = to_utf8_lower(ub, en_n, "en", e8, sizeof e8);
            int32_t t = to_utf8_lower(tb, tg_n, loc, t8, sizeof t8);
            if (e <= 0 || t <= 0) continue;
            if (items[i].kind == K_SPELL && strpbrk(t8, "0123456789")) continue; /* no rules */
            rc = fn(ud, e8, (size_t)e, t8, (size_t)t, items[i].what);
        }
    }
    side_close(&en);
    side_close(&tg);
    return rc;
}
