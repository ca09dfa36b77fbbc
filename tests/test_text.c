/* test_text.c - the text module: UTF-8 errors, normalization with offsets (against
 * hand-checked values and against whole-string utf8proc as a reference), scripts, and the
 * pre-tokenizer (hand cases + golden file of 2 real utterances for each of the 52 locales). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "text.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static int norm(const char *s, unsigned flags, text_buf *b)
{
    mille_error e;
    int rc = text_normalize(s, strlen(s), flags, b, &e);
    if (rc) fprintf(stderr, "text_normalize(\"%s\"): %s\n", s, e.msg);
    return rc;
}

/* Offsets of a normalization of s[0..n): ends at n, each byte's source segment is a non-empty
 * range of the input, segments are non-decreasing, and a code point's bytes share one. */
static void check_offsets(const text_buf *b, size_t n)
{
    CHECK_INT(b->src[b->len], n);
    CHECK_INT(b->src_end[b->len], n);
    for (size_t i = 0; i < b->len; i++) {
        CHECK(b->src[i] < b->src_end[i]);
        CHECK(b->src_end[i] <= n);
        if (i > 0) CHECK(b->src[i] >= b->src[i - 1] && b->src_end[i] >= b->src_end[i - 1]);
        /* continuation bytes come from the same place as their lead byte */
        if (((unsigned char)b->s[i] & 0xC0) == 0x80) CHECK(i > 0 && b->src[i] == b->src[i - 1]);
    }
}

/* text_normalize == text_normalize_ref (whole-string utf8proc) under every flag combination. */
static int same_as_ref(const char *s, size_t n)
{
    text_buf a = {0}, r = {0};
    int ok = 1;
    for (unsigned f = 0; f <= TEXT_NORM_ALL; f++) {
        int ra = text_normalize(s, n, f, &a, NULL), rr = text_normalize_ref(s, n, f, &r, NULL);
        if (ra != rr || a.len != r.len || (a.len && memcmp(a.s, r.s, a.len) != 0)) {
            fprintf(stderr, "flags 0x%x: \"%.*s\" -> \"%s\" (%d) vs ref \"%s\" (%d)\n", f, (int)n,
                    s, a.s ? a.s : "", ra, r.s ? r.s : "", rr);
            ok = 0;
        }
        if (ra == 0) check_offsets(&a, n);
    }
    text_buf_free(&a);
    text_buf_free(&r);
    return ok;
}

/* ---- UTF-8 errors ------------------------------------------------------------------------ */

/* Each bad input is rejected with MILLE_EUTF8 at the given offset by every entry point. */
TEST(text_invalid_utf8)
{
    static const struct {
        const char *s;
        size_t n, off;
        const char *what;
    } cases[] = {
        {"ab\xff"
         "cd",
         5, 2, "0xff never appears"},
        {"abc\xe2\x82", 5, 3, "truncated 3-byte sequence at the end"},
        {"\xe2\x82"
         "abc",
         5, 0, "truncated sequence followed by ASCII"},
        {"x\xc0\xaf", 3, 1, "overlong '/'"},
        {"xy\xe0\x80\xaf", 5, 2, "overlong 3-byte"},
        {"caf\xc3\xa9\xed\xa0\x80", 8, 5, "UTF-16 surrogate D800"},
        {"\xf4\x90\x80\x80", 4, 0, "above U+10FFFF"},
        {"ab\0c", 4, 2, "NUL byte"},
        {"\x80", 1, 0, "lone continuation byte"},
        {"\xd0\xb4\xd0", 3, 2, "truncated Cyrillic"},
        {"ok \xf0\x9f\x91", 6, 3, "truncated emoji"},
    };
    text_buf b = {0};
    text_pretok_ctx *ctx = text_pretok_new(NULL);
    CHECK(ctx != NULL);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mille_error e;
        char want[64];
        snprintf(want, sizeof want, "offset %zu", cases[c].off);
        size_t bad = 999;
        CHECK_INT(text_utf8_check(cases[c].s, cases[c].n, &bad), MILLE_EUTF8);
        CHECK_INT(bad, cases[c].off);
        CHECK_INT(text_normalize(cases[c].s, cases[c].n, TEXT_NORM_DEFAULT, &b, &e), MILLE_EUTF8);
        CHECK_INT(e.code, MILLE_EUTF8);
        CHECK_INT(b.len, 0);
        if (!strstr(e.msg, want)) fprintf(stderr, "case %s: %s\n", cases[c].what, e.msg);
        CHECK(strstr(e.msg, want) != NULL);
        CHECK_INT(text_normalize_ref(cases[c].s, cases[c].n, TEXT_NORM_DEFAULT, &b, &e),
                  MILLE_EUTF8);
        CHECK(strstr(e.msg, want) != NULL);
        const text_token *t;
        size_t nt;
        CHECK_INT(text_pretokenize(ctx, cases[c].s, cases[c].n, &t, &nt, &e), MILLE_EUTF8);
        CHECK(strstr(e.msg, want) != NULL);
        CHECK_INT(nt, 0);
        CHECK_INT(text_dominant_script(cases[c].s, cases[c].n), MILLE_EUTF8);
    }
    /* the buffer is still usable after errors */
    CHECK_INT(norm("OK", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_STR(b.s, "ok");
    text_buf_free(&b);
    text_pretok_free(ctx);
}

/* ---- normalization ----------------------------------------------------------------------- */

TEST(text_norm_fullwidth)
{
    text_buf b = {0};
    /* "ＡＢＣ１２３": six 3-byte full-width characters; NFKC + fold gives ASCII. */
    CHECK_INT(norm("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93",
                   TEXT_NORM_DEFAULT, &b),
              0);
    CHECK_STR(b.s, "abc123");
    CHECK_INT(b.len, 6);
    for (size_t i = 0; i < 6; i++) {
        CHECK_INT(b.src[i], 3 * i);
        CHECK_INT(b.src_end[i], 3 * i + 3);
    }
    /* NFKC without folding keeps case; the ligature and circled digit expand. */
    CHECK_INT(norm("\xef\xbc\xa1\xef\xac\x81\xe2\x91\xa0", TEXT_NORM_NFKC, &b), 0); /* Ａﬁ① */
    CHECK_STR(b.s, "Afi1");
    CHECK_INT(b.src[1], 3);
    CHECK_INT(b.src[2], 3); /* both "f" and "i" come from the ligature at 3..6 */
    CHECK_INT(b.src_end[2], 6);
    CHECK_INT(b.src[3], 6);
    text_buf_free(&b);
}

TEST(text_norm_casefold)
{
    text_buf b = {0};
    CHECK_INT(norm("Stra\xc3\x9f"
                   "e",
                   TEXT_NORM_DEFAULT, &b),
              0); /* Straße */
    CHECK_STR(b.s, "strasse");
    size_t a, e;
    text_buf_span(&b, 4, 6, &a, &e); /* "ss" <- "ß" at bytes 4..6 */
    CHECK_INT(a, 4);
    CHECK_INT(e, 6);
    text_buf_span(&b, 0, b.len, &a, &e);
    CHECK_INT(a, 0);
    CHECK_INT(e, 7);
    /* Turkish: U+0130 İ folds to "i" + U+0307 (no precomposed form, so NFKC keeps two code
     * points); dotless ı U+0131 stays; plain I folds to i (locale-independent folding). */
    CHECK_INT(norm("\xc4\xb0stanbul I\xc4\xb1", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_STR(b.s, "i\xcc\x87stanbul i\xc4\xb1");
    CHECK_INT(b.src[0], 0);
    CHECK_INT(b.src[1], 0); /* U+0307 comes from İ too */
    CHECK_INT(b.src_end[2], 2);
    CHECK_INT(b.src[3], 2); /* "s" */
    /* Greek final sigma folds to σ; Cyrillic and Armenian fold. */
    CHECK_INT(
        norm("\xce\x9f\xce\xb4\xce\xbf\xcf\x82 \xd0\x9c\xd0\x98\xd0\xa0", TEXT_NORM_DEFAULT, &b),
        0); /* Οδος МИР */
    CHECK_STR(b.s, "\xce\xbf\xce\xb4\xce\xbf\xcf\x83 \xd0\xbc\xd0\xb8\xd1\x80");
    text_buf_free(&b);
}

TEST(text_norm_composition_offsets)
{
    text_buf b = {0};
    /* Decomposed "Cafe" + U+0301: the é comes from the whole cluster "e" U+0301 (3..6). */
    CHECK_INT(norm("Cafe\xcc\x81 x", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_STR(b.s, "caf\xc3\xa9 x");
    CHECK_INT(b.src[3], 3);
    CHECK_INT(b.src[4], 3);
    CHECK_INT(b.src_end[4], 6);
    CHECK_INT(b.src[5], 6); /* the space */
    CHECK_INT(b.src[6], 7);
    check_offsets(&b, 8);
    /* Precomposed input: é is 3..5. */
    CHECK_INT(norm("Caf\xc3\xa9 x", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_STR(b.s, "caf\xc3\xa9 x");
    CHECK_INT(b.src[3], 3);
    CHECK_INT(b.src_end[3], 5);
    CHECK_INT(b.src[5], 5);
    /* Marks in non-canonical order are reordered inside their cluster: a + dot below (220)
     * + ring above (230) vs a + ring above + dot below give the same NFC. */
    text_buf c = {0};
    CHECK_INT(norm("a\xcc\x8a\xcc\xa3", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_INT(norm("a\xcc\xa3\xcc\x8a", TEXT_NORM_DEFAULT, &c), 0);
    CHECK_STR(b.s, c.s);
    CHECK_INT(b.src_end[0], 5);
    /* Hangul conjoining jamo L V T compose to one syllable: 한 U+D55C from 9 bytes. */
    CHECK_INT(norm("\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab!", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_STR(b.s, "\xed\x95\x9c!");
    CHECK_INT(b.src[2], 0);
    CHECK_INT(b.src_end[2], 9);
    CHECK_INT(b.src[3], 9);
    /* Half-width katakana ｶ + voiced mark ﾞ -> ガ U+30AC (compat + composition). */
    CHECK_INT(norm("\xef\xbd\xb6\xef\xbe\x9e", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_STR(b.s, "\xe3\x82\xac");
    CHECK_INT(b.src_end[0], 6);
    /* Bengali two-part vowel: U+0995 KA + U+09C7 + U+09BE -> KA + U+09CB (two starters). */
    CHECK_INT(norm("\xe0\xa6\x95\xe0\xa7\x87\xe0\xa6\xbe", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_STR(b.s, "\xe0\xa6\x95\xe0\xa7\x8b");
    /* Mark stripping: accents go, the offsets still cover the whole cluster. */
    CHECK_INT(norm("Cafe\xcc\x81 \xc3\xa0 la", TEXT_NORM_DEFAULT | TEXT_NORM_STRIPMARK, &b), 0);
    CHECK_STR(b.s, "cafe a la");
    CHECK_INT(b.src[3], 3);
    CHECK_INT(b.src_end[3], 6);
    /* Ignorables: ZWSP and ZWNJ dropped only on request. */
    CHECK_INT(norm("a\xe2\x80\x8b"
                   "b",
                   TEXT_NORM_DEFAULT, &b),
              0);
    CHECK_INT(b.len, 5);
    CHECK_INT(norm("a\xe2\x80\x8b"
                   "b",
                   TEXT_NORM_DEFAULT | TEXT_NORM_IGNORABLE, &b),
              0);
    CHECK_STR(b.s, "ab");
    CHECK_INT(b.src[1], 4);
    /* flags 0 copies; unknown bits are refused; the empty string is fine. */
    CHECK_INT(norm("Ｘ\xc3\x9f", 0, &b), 0);
    CHECK_STR(b.s, "Ｘ\xc3\x9f");
    mille_error e;
    CHECK_INT(text_normalize("a", 1, 0x100, &b, &e), MILLE_EINVAL);
    CHECK_INT(norm("", TEXT_NORM_DEFAULT, &b), 0);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.s, "");
    CHECK_INT(b.src[0], 0);
    text_buf_free(&c);
    text_buf_free(&b);
    text_buf_free(&b); /* twice is fine: it was zeroed */
    text_buf_free(NULL);
}

/* Per-cluster normalization gives the same bytes as normalizing the whole string at once. */
TEST(text_norm_matches_reference)
{
    static const char *const cases[] = {
        "Wake me up at 9 a.m. ＦＲＩＤＡＹ",
        "e\xcc\x81\xcc\xa3 o\xcc\x88\xcc\x84 \xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
        "\xef\xbd\xb6\xef\xbe\x9e\xef\xbd\xb7\xef\xbe\x9f \xe3\x8d\xbf \xe3\x88\xb1",
        "\xc4\xb0\xc4\xb1\xc7\x85\xe1\xba\x9e\xef\xac\x81\xef\xac\x86 \xe2\x84\xab",
        "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd \xf0\x9f\x87\xaf\xf0\x9f\x87\xb5 "
        "\xe2\x9d\xa4\xef\xb8\x8f",
        "\xcc\x81\xcc\x81 leading marks, \r\n CRLF and \xc2\xa0 NBSP",
        "\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7 \xe0\xaa\x95\xe0\xab\x8d "
        "\xe0\xb8\x81\xe0\xb9\x8d\xe0\xb8\xb2",
        /* found by the fuzzer: compatibility jamo U+3161 decomposes to a V jamo that composes
         * with the L before it, across what would be a grapheme cluster boundary */
        "\xe1\x84\x92\xe3\x85\xa1\xe1\x86\xab",
        /* a dropped ignorable (ZWSP) lets a base and a mark meet: e ZWSP U+0301 */
        "e\xe2\x80\x8b\xcc\x81 \xc3\xa9\xe2\x80\x8c\xcc\xa3",
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        CHECK(same_as_ref(cases[c], strlen(cases[c])));
    /* and on every golden utterance */
    FILE *f = fopen(test_path("tests/data/pretok_golden.tsv"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *utt = strchr(line, '\t'), *end = utt ? strchr(utt + 1, '\t') : NULL;
        CHECK(end != NULL);
        if (!end) break;
        CHECK(same_as_ref(utt + 1, (size_t)(end - utt - 1)));
    }
    fclose(f);
}

/* ---- scripts ----------------------------------------------------------------------------- */

TEST(text_scripts)
{
    static const struct {
        int32_t cp;
        int script;
    } cases[] = {
        {'a', TEXT_SCRIPT_LATIN},         {'Z', TEXT_SCRIPT_LATIN},
        {'7', TEXT_SCRIPT_COMMON},        {' ', TEXT_SCRIPT_COMMON},
        {0x00E9, TEXT_SCRIPT_LATIN},      {0x1EA1, TEXT_SCRIPT_LATIN},     /* é ạ */
        {0xFF21, TEXT_SCRIPT_LATIN},      {0x0301, TEXT_SCRIPT_INHERITED}, /* Ａ, acute */
        {0x0436, TEXT_SCRIPT_CYRILLIC},   {0x04E9, TEXT_SCRIPT_CYRILLIC},  /* ж ө (mn) */
        {0x03C9, TEXT_SCRIPT_GREEK},      {0x0561, TEXT_SCRIPT_ARMENIAN},
        {0x10D0, TEXT_SCRIPT_GEORGIAN},   {0x05D0, TEXT_SCRIPT_HEBREW},
        {0x0628, TEXT_SCRIPT_ARABIC},     {0x06CC, TEXT_SCRIPT_ARABIC},   /* ب ی (fa) */
        {0x06D2, TEXT_SCRIPT_ARABIC},     {0x1200, TEXT_SCRIPT_ETHIOPIC}, /* ے (ur), ሀ */
        {0x0915, TEXT_SCRIPT_DEVANAGARI}, {0x0995, TEXT_SCRIPT_BENGALI},
        {0x0B95, TEXT_SCRIPT_TAMIL},      {0x0C15, TEXT_SCRIPT_TELUGU},
        {0x0C95, TEXT_SCRIPT_KANNADA},    {0x0D15, TEXT_SCRIPT_MALAYALAM},
        {0x0E01, TEXT_SCRIPT_THAI},       {0x0E81, TEXT_SCRIPT_LAO},
        {0x1780, TEXT_SCRIPT_KHMER},      {0x1000, TEXT_SCRIPT_MYANMAR},
        {0x4E2D, TEXT_SCRIPT_HAN},        {0x20000, TEXT_SCRIPT_HAN}, /* 中, ext. B */
        {0x3042, TEXT_SCRIPT_HIRAGANA},   {0x30A2, TEXT_SCRIPT_KATAKANA},
        {0xFF76, TEXT_SCRIPT_KATAKANA},   {0xAC00, TEXT_SCRIPT_HANGUL}, /* ｶ, 가 */
        {0x1820, TEXT_SCRIPT_MONGOLIAN},  {0x0D85, TEXT_SCRIPT_OTHER},  /* Sinhala */
        {0x30FC, TEXT_SCRIPT_COMMON},     {0x3001, TEXT_SCRIPT_COMMON}, /* ー 、 */
        {0x200C, TEXT_SCRIPT_INHERITED},  {0x0964, TEXT_SCRIPT_COMMON}, /* ZWNJ, danda */
        {0x1F600, TEXT_SCRIPT_COMMON},    {0xD800, TEXT_SCRIPT_COMMON}, /* emoji, surrogate */
        {-1, TEXT_SCRIPT_COMMON},         {0x110000, TEXT_SCRIPT_COMMON},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int got = text_script(cases[c].cp);
        if (got != cases[c].script)
            fprintf(stderr, "U+%04X: %s, want %s\n", (unsigned)cases[c].cp, text_script_name(got),
                    text_script_name(cases[c].script));
        CHECK_INT(got, cases[c].script);
    }
    CHECK_STR(text_script_name(TEXT_SCRIPT_HAN), "han");
    CHECK_STR(text_script_name(TEXT_SCRIPT_MONGOLIAN), "mongolian");
    CHECK_STR(text_script_name(TEXT_SCRIPT_COUNT), "unknown");
    CHECK_STR(text_script_name(-1), "unknown");
    for (int sc = 0; sc < TEXT_SCRIPT_COUNT; sc++) CHECK(text_script_name(sc) != NULL);
    CHECK(text_script_spaceless(TEXT_SCRIPT_KHMER));
    CHECK(!text_script_spaceless(TEXT_SCRIPT_HANGUL));

#define DOM(s) text_dominant_script(s, strlen(s))
    CHECK_INT(DOM("hello \xd0\xbc\xd0\xb8\xd1\x80 \xd0\xbc\xd0\xb8\xd1\x80"), TEXT_SCRIPT_CYRILLIC);
    /* 金曜日のアラーム: 3 Han, 1 Hiragana, 3 Katakana (ー is Common): tie -> first seen. */
    CHECK_INT(DOM("\xe9\x87\x91\xe6\x9b\x9c\xe6\x97\xa5\xe3\x81\xae\xe3\x82\xa2\xe3\x83\xa9"
                  "\xe3\x83\xbc\xe3\x83\xa0"),
              TEXT_SCRIPT_HAN);
    CHECK_INT(DOM("olly \xe0\xb8\x9b\xe0\xb8\xa5\xe0\xb8\xb8\xe0\xb8\x81"), TEXT_SCRIPT_LATIN);
    CHECK_INT(DOM("olly \xe0\xb8\x9b\xe0\xb8\xa5\xe0\xb8\xb8\xe0\xb8\x81\xe0\xb8\x89\xe0\xb8\xb1"
                  "\xe0\xb8\x99"),
              TEXT_SCRIPT_THAI); /* ปลุกฉัน: 7 Thai code points beat 4 Latin */
    CHECK_INT(DOM("12:30 !"), TEXT_SCRIPT_COMMON);
    CHECK_INT(DOM(""), TEXT_SCRIPT_COMMON);
#undef DOM
}

/* ---- pre-tokenizer ----------------------------------------------------------------------- */

/* Tokens of s joined by '|' with kinds as letters, e.g. "Hello|,|world" "wpw". */
static void pretok_str(text_pretok_ctx *ctx, const char *s, size_t n, char *toks, size_t cap,
                       char *kinds)
{
    const text_token *t;
    size_t nt, k = 0;
    mille_error e;
    toks[0] = kinds[0] = '\0';
    int rc = text_pretokenize(ctx, s, n, &t, &nt, &e);
    CHECK_INT(rc, 0);
    if (rc) return;
    rc = text_pretok_verify(s, n, t, nt, &e);
    if (rc) fprintf(stderr, "\"%.*s\": %s\n", (int)n, s, e.msg);
    CHECK_INT(rc, 0);
    for (size_t i = 0; i < nt; i++) {
        int w = snprintf(toks + k, cap - k, "%s%.*s", i ? "|" : "", (int)(t[i].end - t[i].start),
                         s + t[i].start);
        if (w < 0 || (size_t)w >= cap - k) break;
        k += (size_t)w;
        kinds[i] = "wnps"[t[i].kind];
        kinds[i + 1] = '\0';
    }
}

TEST(text_pretok_cases)
{
    static const struct {
        const char *in, *toks, *kinds;
    } cases[] = {
        {"Hello, world! It's 3.5 km.", "Hello|,|world|!|It's|3.5|km|.", "wpwpwnwp"},
        {"  wake me\tup\n", "wake|me|up", "www"},
        {"", "", ""},
        {" \xe3\x80\x80\xc2\xa0 ", "", ""}, /* ideographic space, NBSP: whitespace only */
        {"play mp3 at 7:30pm $5 10,000", "play|mp3|at|7|:|30pm|$|5|10,000", "wwwnpwsnn"},
        {"e-mail a.b.c. don\xe2\x80\x99t", "e|-|mail|a.b.c|.|don\xe2\x80\x99t", "wpwwpw"},
        {"col\xc2\xb7legi l'alarma", "col\xc2\xb7legi|l'alarma", "ww"},
        {"((ok))...", "(|(|ok|)|)|.|.|.", "ppwppppp"},
        /* emoji with skin tone and a flag stay whole; the ZWSP sticks to "hi" */
        {"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5 hi\xe2\x80\x8b",
         "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd|\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5|hi\xe2\x80\x8b", "ssw"},
        /* Persian ZWNJ inside a word: می‌خواهم */
        {"\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85.",
         "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85|.", "wp"},
        /* Hebrew gershayim with ASCII '"': צה"ל, and geresh ג' at the end */
        {"\xd7\xa6\xd7\x94\"\xd7\x9c \xd7\x92'", "\xd7\xa6\xd7\x94\"\xd7\x9c|\xd7\x92'", "ww"},
        /* Arabic-Indic digits with the Arabic decimal separator: ٣٫٥ */
        {"\xd9\xa3\xd9\xab\xd9\xa5", "\xd9\xa3\xd9\xab\xd9\xa5", "n"},
        /* a stray combining mark starts a word; a lone ZWSP is a symbol */
        {"\xcc\x81x \xe2\x80\x8b", "\xcc\x81x|\xe2\x80\x8b", "ws"},
        /* Thai by dictionary: ตั้งนาฬิกาปลุก = ตั้ง|นาฬิกา|ปลุก (set | clock | alarm) */
        {"\xe0\xb8\x95\xe0\xb8\xb1\xe0\xb9\x89\xe0\xb8\x87\xe0\xb8\x99\xe0\xb8\xb2\xe0\xb8\xac"
         "\xe0\xb8\xb4\xe0\xb8\x81\xe0\xb8\xb2\xe0\xb8\x9b\xe0\xb8\xa5\xe0\xb8\xb8\xe0\xb8\x81",
         "\xe0\xb8\x95\xe0\xb8\xb1\xe0\xb9\x89\xe0\xb8\x87|\xe0\xb8\x99\xe0\xb8\xb2\xe0\xb8\xac"
         "\xe0\xb8\xb4\xe0\xb8\x81\xe0\xb8\xb2|\xe0\xb8\x9b\xe0\xb8\xa5\xe0\xb8\xb8\xe0\xb8\x81",
         "www"},
        /* Chinese with Latin and a full-width comma: 播放Taylor，谢谢 */
        {"\xe6\x92\xad\xe6\x94\xbeTaylor\xef\xbc\x8c\xe8\xb0\xa2\xe8\xb0\xa2",
         "\xe6\x92\xad\xe6\x94\xbe|Taylor|\xef\xbc\x8c|\xe8\xb0\xa2\xe8\xb0\xa2", "wwpw"},
        /* Khmer words separated by ZWSP: ខ្ញុំ​ចង់​ទៅ, the ZWSPs stay with
         * the word before
         */
        {"\xe1\x9e\x81\xe1\x9f\x92\xe1\x9e\x89\xe1\x9e\xbb\xe1\x9f\x86\xe2\x80\x8b\xe1\x9e\x85"
         "\xe1\x9e\x84\xe1\x9f\x8b\xe2\x80\x8b\xe1\x9e\x91\xe1\x9f\x85",
         "\xe1\x9e\x81\xe1\x9f\x92\xe1\x9e\x89\xe1\x9e\xbb\xe1\x9f\x86\xe2\x80\x8b|\xe1\x9e\x85"
         "\xe1\x9e\x84\xe1\x9f\x8b\xe2\x80\x8b|\xe1\x9e\x91\xe1\x9f\x85",
         "www"},
    };
    text_pretok_ctx *ctx = text_pretok_new(NULL);
    CHECK(ctx != NULL);
    if (!ctx) return;
    char toks[1024], kinds[256];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pretok_str(ctx, cases[c].in, strlen(cases[c].in), toks, sizeof toks, kinds);
        CHECK_STR(toks, cases[c].toks);
        CHECK_STR(kinds, cases[c].kinds);
    }
    /* scripts of tokens */
    const text_token *t;
    size_t nt;
    const char *s = "olly \xe0\xb8\x9b\xe0\xb8\xa5\xe0\xb8\xb8\xe0\xb8\x81 42"; /* olly ปลุก 42 */
    CHECK_INT(text_pretokenize(ctx, s, strlen(s), &t, &nt, NULL), 0);
    CHECK_INT(nt, 3);
    CHECK_INT(t[0].script, TEXT_SCRIPT_LATIN);
    CHECK_INT(t[1].script, TEXT_SCRIPT_THAI);
    CHECK_INT(t[2].script, TEXT_SCRIPT_COMMON);
    CHECK_INT(t[2].kind, TEXT_TOK_NUMBER);
    CHECK_STR(text_token_kind_name(TEXT_TOK_PUNCT), "punct");
    /* the verifier catches broken token lists */
    text_token bad[2] = {{0, 4, TEXT_SCRIPT_LATIN, TEXT_TOK_WORD}, {3, 4, 0, TEXT_TOK_WORD}};
    CHECK_INT(text_pretok_verify("olly x", 6, bad, 2, NULL), MILLE_EINVAL); /* overlap */
    CHECK_INT(text_pretok_verify("olly x", 6, bad, 1, NULL), MILLE_EINVAL); /* "x" uncovered */
    bad[0].end = 5;
    CHECK_INT(text_pretok_verify("olly x", 6, bad, 1, NULL), MILLE_EINVAL); /* has a space */
    text_pretok_free(ctx);
    text_pretok_free(NULL);
}

/* Golden file: 2 real utterances of each of the 52 locales; tokens and kinds must match, and
 * the invariants hold (text_pretok_verify). */
TEST(text_pretok_golden)
{
    FILE *f = fopen(test_path("tests/data/pretok_golden.tsv"), "r");
    CHECK(f != NULL);
    if (!f) return;
    text_pretok_ctx *ctx = text_pretok_new(NULL);
    CHECK(ctx != NULL);
    char line[4096], toks[4096], kinds[1024], locales[64][8];
    int nloc = 0, nlines = 0;
    while (ctx && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = '\0';
        char *fields[4] = {line, NULL, NULL, NULL};
        for (int i = 1; i < 4; i++) {
            fields[i] = fields[i - 1] ? strchr(fields[i - 1], '\t') : NULL;
            if (fields[i]) *fields[i]++ = '\0';
        }
        CHECK(fields[3] != NULL);
        if (!fields[3]) break;
        nlines++;
        if (nloc == 0 || strcmp(locales[nloc - 1], fields[0]) != 0)
            if (nloc < 64) snprintf(locales[nloc++], sizeof locales[0], "%.7s", fields[0]);
        pretok_str(ctx, fields[1], strlen(fields[1]), toks, sizeof toks, kinds);
        /* the golden file joins tokens with spaces (tokens never contain whitespace) */
        for (char *p = toks; *p; p++)
            if (*p == '|') *p = ' ';
        if (strcmp(toks, fields[2]) != 0) fprintf(stderr, "golden %s: %s\n", fields[0], fields[1]);
        CHECK_STR(toks, fields[2]);
        CHECK_STR(kinds, fields[3]);
    }
    fclose(f);
    CHECK_INT(nloc, 52);
    CHECK_INT(nlines, 104);
    text_pretok_free(ctx);
}

/* U+11A7 is not a composable trailing consonant (Hangul composition needs 0 < TIndex <
 * TCount, TBase = U+11A7), so NFC/NFKC of <U+1112, U+1161, U+11A7> is <U+D558, U+11A7>.
 * utf8proc 2.8's utf8proc_map drops the U+11A7; text_normalize must keep it. Found by
 * the fuzzer (tests/fuzz/corpus/utf8/hangul_11a7). */
TEST(text_hangul_11a7_kept)
{
    const char *s = "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xa7";
    text_buf b = {0};
    mille_error e;
    CHECK_INT(text_normalize(s, strlen(s), TEXT_NORM_DEFAULT, &b, &e), 0);
    CHECK_INT(b.len, 6);
    CHECK(b.len == 6 && memcmp(b.s, "\xed\x95\x98\xe1\x86\xa7", 6) == 0);
    text_buf_free(&b);
}

/* Audit 2026-12 #4: a run of format characters (Cf: U+00AD soft hyphen, U+200B zero width
 * space ...) after punctuation re-classified the whole token at each character, O(n^2):
 * "!" + 8000 U+00AD took 1.4 s. Measured here as work (characters the pre-tokenizer
 * decodes), not time: each input of n characters must cost at most 8 n, and doubling n must
 * not more than double-and-a-bit the work. Quadratic code fails both by orders of magnitude
 * (n^2/2 = 32 million for n = 8000). Every result is also checked against the contract. */
static uint64_t pretok_work_of(text_pretok_ctx *ctx, const char *head, const char *rep, size_t n,
                               size_t *chars)
{
    size_t hn = strlen(head), rn = strlen(rep), len = hn + n * rn;
    char *s = malloc(len);
    if (!s) return UINT64_MAX;
    memcpy(s, head, hn);
    for (size_t i = 0; i < n; i++) memcpy(s + hn + i * rn, rep, rn);
    const text_token *t;
    size_t nt;
    mille_error e;
    uint64_t w = UINT64_MAX;
    int rc = text_pretokenize(ctx, s, len, &t, &nt, &e);
    if (rc == 0) rc = text_pretok_verify(s, len, t, nt, &e);
    if (rc)
        fprintf(stderr, "pretok of %s + %zu x %s: %s\n", head, n, rep, e.msg);
    else
        w = text_pretok_work(ctx);
    /* characters: a code point of UTF-8 has exactly one byte outside 0x80..0xbf */
    *chars = 0;
    for (size_t i = 0; i < len; i++) *chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    free(s);
    return w;
}

TEST(text_pretok_work_is_linear)
{
    static const struct {
        const char *head, *rep;
    } cases[] = {
        {"!", "\xc2\xad"},                 /* "!" + U+00AD: the audit's input */
        {"!", "\xe2\x80\x8b"},             /* "!" + U+200B ZWSP */
        {"a", "\xc2\xad"},                 /* a letter run (was linear already) */
        {"$", "\xe2\x80\x8d"},             /* a symbol + ZWJ */
        {"\xd8\x9f", "\xd8\x80"},          /* Arabic "؟" + U+0600 (Cf of the Arabic script) */
        {"!", "!\xc2\xad"},                /* many tokens of "!" + U+00AD */
        {"\xe0\xb8\x81!", "\xe2\x80\x8b"}, /* Thai: the ICU path, ZWSP glued piece by piece */
        {"\xe1\x9e\x80", "\xe2\x80\x8b\xe1\x9e\x80"}, /* Khmer words between ZWSPs */
    };
    text_pretok_ctx *ctx = text_pretok_new(NULL);
    CHECK(ctx != NULL);
    if (!ctx) return;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t ch1, ch2;
        uint64_t w1 = pretok_work_of(ctx, cases[c].head, cases[c].rep, 4000, &ch1);
        uint64_t w2 = pretok_work_of(ctx, cases[c].head, cases[c].rep, 8000, &ch2);
        if (w1 > 8 * (uint64_t)ch1 || w2 > 8 * (uint64_t)ch2 || w2 > w1 * 21 / 10 || w1 == 0)
            fprintf(stderr, "case %zu: work %llu for %zu characters, %llu for %zu\n", c,
                    (unsigned long long)w1, ch1, (unsigned long long)w2, ch2);
        CHECK(w1 > 0 && w1 <= 8 * (uint64_t)ch1);
        CHECK(w2 <= 8 * (uint64_t)ch2);
        CHECK(w2 <= w1 * 21 / 10);
    }
    /* the token is still one "!" with its soft hyphens, a punctuation mark */
    const text_token *t;
    size_t nt;
    const char *s = "!\xc2\xad\xc2\xad x";
    CHECK_INT(text_pretokenize(ctx, s, strlen(s), &t, &nt, NULL), 0);
    CHECK_INT(nt, 2);
    if (nt == 2) {
        CHECK_INT(t[0].end, 5);
        CHECK_INT(t[0].kind, TEXT_TOK_PUNCT);
    }
    text_pretok_free(ctx);
}
