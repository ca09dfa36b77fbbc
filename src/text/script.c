/*
 * script.c - which writing system a character belongs to: the Unicode Script property
 * (UAX #24) from ICU's uscript_getScript, folded into mille's small text_script_id enum, and
 * the dominant script of an utterance.
 *
 * Coverage: every script that occurs in the 52 MASSIVE locales (checked over all utt fields
 * of MASSIVE 1.1 train+dev): Latin (31 locales), Cyrillic (ru, mn), Greek, Armenian,
 * Georgian, Hebrew, Arabic (ar, fa, ur), Ethiopic (am), Devanagari (hi), Bengali, Tamil,
 * Telugu, Kannada, Malayalam, Thai, Khmer, Myanmar, Han + Hiragana + Katakana (ja),
 * Han (zh-CN, zh-TW), Hangul (ko); plus Lao and Mongolian, which mille may meet in
 * neighbouring data. Everything else is TEXT_SCRIPT_OTHER.
 *
 * Not done: Script_Extensions. "ー" U+30FC and "、" U+3001 are Common even though they only
 * occur in Japanese/Chinese; the pre-tokenizer does not need more (ICU handles them inside
 * a spaceless chunk), and dominant-script counting ignores Common anyway.
 */
#include <unicode/uscript.h>

#include "text.h"

static const char *const script_names[TEXT_SCRIPT_COUNT] = {
    [TEXT_SCRIPT_COMMON] = "common",
    [TEXT_SCRIPT_INHERITED] = "inherited",
    [TEXT_SCRIPT_OTHER] = "other",
    [TEXT_SCRIPT_LATIN] = "latin",
    [TEXT_SCRIPT_CYRILLIC] = "cyrillic",
    [TEXT_SCRIPT_GREEK] = "greek",
    [TEXT_SCRIPT_ARMENIAN] = "armenian",
    [TEXT_SCRIPT_GEORGIAN] = "georgian",
    [TEXT_SCRIPT_HEBREW] = "hebrew",
    [TEXT_SCRIPT_ARABIC] = "arabic",
    [TEXT_SCRIPT_ETHIOPIC] = "ethiopic",
    [TEXT_SCRIPT_DEVANAGARI] = "devanagari",
    [TEXT_SCRIPT_BENGALI] = "bengali",
    [TEXT_SCRIPT_TAMIL] = "tamil",
    [TEXT_SCRIPT_TELUGU] = "telugu",
    [TEXT_SCRIPT_KANNADA] = "kannada",
    [TEXT_SCRIPT_MALAYALAM] = "malayalam",
    [TEXT_SCRIPT_THAI] = "thai",
    [TEXT_SCRIPT_LAO] = "lao",
    [TEXT_SCRIPT_KHMER] = "khmer",
    [TEXT_SCRIPT_MYANMAR] = "myanmar",
    [TEXT_SCRIPT_HAN] = "han",
    [TEXT_SCRIPT_HIRAGANA] = "hiragana",
    [TEXT_SCRIPT_KATAKANA] = "katakana",
    [TEXT_SCRIPT_HANGUL] = "hangul",
    [TEXT_SCRIPT_MONGOLIAN] = "mongolian",
};

const char *text_script_name(int script)
{
    if (script < 0 || script >= TEXT_SCRIPT_COUNT) return "unknown";
    return script_names[script];
}

int text_script_spaceless(int script)
{
    switch (script) {
    case TEXT_SCRIPT_THAI:
    case TEXT_SCRIPT_LAO:
    case TEXT_SCRIPT_KHMER:
    case TEXT_SCRIPT_MYANMAR:
    case TEXT_SCRIPT_HAN:
    case TEXT_SCRIPT_HIRAGANA:
    case TEXT_SCRIPT_KATAKANA:
        return 1;
    default:
        return 0;
    }
}

int text_script(int32_t cp)
{
    /* ASCII without a library call: letters are Latin, the rest (digits, punctuation,
     * controls, space) Common. This is most of the characters of most locales. */
    if (cp >= 0 && cp < 0x80)
        return ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') ? TEXT_SCRIPT_LATIN : TEXT_SCRIPT_COMMON;
    if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return TEXT_SCRIPT_COMMON;
    UErrorCode st = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(cp, &st);
    if (U_FAILURE(st)) return TEXT_SCRIPT_COMMON;
    switch (sc) {
    case USCRIPT_COMMON:
        return TEXT_SCRIPT_COMMON;
    case USCRIPT_INHERITED:
        return TEXT_SCRIPT_INHERITED;
    case USCRIPT_LATIN:
        return TEXT_SCRIPT_LATIN;
    case USCRIPT_CYRILLIC:
        return TEXT_SCRIPT_CYRILLIC;
    case USCRIPT_GREEK:
        return TEXT_SCRIPT_GREEK;
    case USCRIPT_ARMENIAN:
        return TEXT_SCRIPT_ARMENIAN;
    case USCRIPT_GEORGIAN:
        return TEXT_SCRIPT_GEORGIAN;
    case USCRIPT_HEBREW:
        return TEXT_SCRIPT_HEBREW;
    case USCRIPT_ARABIC:
        return TEXT_SCRIPT_ARABIC;
    case USCRIPT_ETHIOPIC:
        return TEXT_SCRIPT_ETHIOPIC;
    case USCRIPT_DEVANAGARI:
        return TEXT_SCRIPT_DEVANAGARI;
    case USCRIPT_BENGALI:
        return TEXT_SCRIPT_BENGALI;
    case USCRIPT_TAMIL:
        return TEXT_SCRIPT_TAMIL;
    case USCRIPT_TELUGU:
        return TEXT_SCRIPT_TELUGU;
    case USCRIPT_KANNADA:
        return TEXT_SCRIPT_KANNADA;
    case USCRIPT_MALAYALAM:
        return TEXT_SCRIPT_MALAYALAM;
    case USCRIPT_THAI:
        return TEXT_SCRIPT_THAI;
    case USCRIPT_LAO:
        return TEXT_SCRIPT_LAO;
    case USCRIPT_KHMER:
        return TEXT_SCRIPT_KHMER;
    case USCRIPT_MYANMAR:
        return TEXT_SCRIPT_MYANMAR;
    case USCRIPT_HAN:
        return TEXT_SCRIPT_HAN;
    case USCRIPT_HIRAGANA:
        return TEXT_SCRIPT_HIRAGANA;
    case USCRIPT_KATAKANA:
        return TEXT_SCRIPT_KATAKANA;
    case USCRIPT_HANGUL:
        return TEXT_SCRIPT_HANGUL;
    case USCRIPT_MONGOLIAN:
        return TEXT_SCRIPT_MONGOLIAN;
    default:
        return TEXT_SCRIPT_OTHER;
    }
}

int text_dominant_script(const char *s, size_t n)
{
    unsigned count[TEXT_SCRIPT_COUNT] = {0};
    size_t first[TEXT_SCRIPT_COUNT];
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        int k = text_decode(s + i, n - i, &cp);
        if (k < 0 || cp == 0) return MILLE_EUTF8;
        int sc = text_script(cp);
        if (sc != TEXT_SCRIPT_COMMON && sc != TEXT_SCRIPT_INHERITED && count[sc]++ == 0)
            first[sc] = i;
        i += (size_t)k;
    }
    int best = TEXT_SCRIPT_COMMON;
    for (int sc = 0; sc < TEXT_SCRIPT_COUNT; sc++) {
        if (!count[sc]) continue;
        if (best == TEXT_SCRIPT_COMMON || count[sc] > count[best] ||
            (count[sc] == count[best] && first[sc] < first[best]))
            best = sc;
    }
    return best;
}
