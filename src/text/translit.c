/*
 * translit.c - the Latin spelling of a word in another script, through ICU's transliterator
 * "Any-Latin; Latin-ASCII": "радио" -> "radio", "ράδιο" -> "radio", "ラジオ" -> "rajio",
 * "라디오" -> "ladio". The model hashes it as an extra feature of the word (model.c,
 * model_config.translit), in the same hash space as Latin words, so that loanwords and names
 * written in Cyrillic, Greek, Kana, Hangul, Arabic, Hebrew, Devanagari or Thai share
 * embedding rows (the word and its character n-grams) with their English spelling.
 *
 * What it does not do: pick a language-specific transform. The model is multilingual and a
 * word comes without a locale, so Any-Latin chooses one per script (Cyrillic-Latin,
 * Greek-Latin, Katakana-Latin ...); Han is read as Mandarin pinyin even in Japanese text,
 * Arabic and Hebrew lose the vowels their script does not write ("راديو" -> "rdyw"), and
 * Latin-ASCII drops diacritics. The spelling is what ICU's rules give, not a pronunciation.
 *
 * Reference: ICU4C utrans.h; CLDR transforms (the rules behind Any-Latin).
 */
#include <stdlib.h>
#include <string.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>

#include "text.h"

struct text_translit {
    UTransliterator *tr;
    UChar *u16; /* (cap16) the word in UTF-16, transliterated in place */
    int32_t cap16;
};

/* Words longer than this (bytes) are not transliterated: no word of an utterance is that
 * long, and the UTF-16 buffer stays bounded. */
#define TRANSLIT_MAX_BYTES 256

text_translit *text_translit_new(mille_error *err)
{
    text_translit *t = calloc(1, sizeof *t);
    if (!t) return err_set(err, MILLE_ENOMEM, "transliteration: out of memory"), NULL;
    static const char id[] = "Any-Latin; Latin-ASCII";
    UChar uid[32];
    u_charsToUChars(id, uid, (int32_t)sizeof id);
    UErrorCode st = U_ZERO_ERROR;
    t->tr = utrans_openU(uid, -1, UTRANS_FORWARD, NULL, 0, NULL, &st);
    /* the output of a transform can be longer than its input (a Han character is a
     * syllable): room for 8 UTF-16 units per input byte */
    t->cap16 = 8 * TRANSLIT_MAX_BYTES + 16;
    t->u16 = malloc((size_t)t->cap16 * sizeof *t->u16);
    if (U_FAILURE(st) || !t->u16) {
        int rc = U_FAILURE(st) ? MILLE_EIO : MILLE_ENOMEM;
        err_set(err, rc, "transliteration: ICU could not open \"%s\" (%s)", id, u_errorName(st));
        text_translit_free(t);
        return NULL;
    }
    return t;
}

void text_translit_free(text_translit *t)
{
    if (!t) return;
    if (t->tr) utrans_close(t->tr);
    free(t->u16);
    free(t);
}

int text_translit_needed(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len = text_decode(s + i, n - i, &cp);
        if (len <= 0) return 0;
        int sc = text_script(cp);
        if (sc != TEXT_SCRIPT_COMMON && sc != TEXT_SCRIPT_INHERITED && sc != TEXT_SCRIPT_LATIN)
            return 1;
        i += (size_t)len;
    }
    return 0;
}

int text_translit_word(text_translit *t, const char *s, size_t n, char *out, size_t cap,
                       mille_error *err)
{
    if (!text_translit_needed(s, n) || n > TRANSLIT_MAX_BYTES) return 0;
    UErrorCode st = U_ZERO_ERROR;
    int32_t len16 = 0;
    u_strFromUTF8(t->u16, t->cap16, &len16, s, (int32_t)n, &st);
    if (U_FAILURE(st))
        return err_set(err, MILLE_EUTF8, "transliteration: invalid UTF-8 (%s)", u_errorName(st));
    int32_t limit = len16;
    st = U_ZERO_ERROR;
    utrans_transUChars(t->tr, t->u16, &len16, t->cap16, 0, &limit, &st);
    if (U_FAILURE(st) || len16 > t->cap16) return 0; /* too long after the transform: skip */
    int32_t on = 0;
    st = U_ZERO_ERROR;
    u_strToUTF8(out, (int32_t)(cap > INT32_MAX ? INT32_MAX : cap), &on, t->u16, len16, &st);
    if (U_FAILURE(st) || (size_t)on >= cap) return 0; /* does not fit: no feature */
    out[on] = '\0';
    /* a transform that leaves the word as it was (a script without rules) gives nothing */
    if ((size_t)on == n && memcmp(out, s, n) == 0) return 0;
    return on;
}
