/* test_morph.c - inflected forms for lexicon translations (morph.h) on small hunspell
 * dictionaries the test writes, one per language family the issue names: Finnish and
 * Hungarian case suffixes, Turkish vowel harmony, Russian and Polish noun endings, German
 * capitalized nouns looked up from lower-case text, French plurals; a dictionary in
 * ISO 8859-2 (as Debian's Polish one is); forms ranked by their count in the text; the
 * inflected lexicon written as TSV; missing files named. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "morph.h"

/* Write PREFIX.aff and PREFIX.dic; returns prefix (static buffer per call site tag). */
static void write_dict(char *prefix, size_t cap, const char *tag, const char *aff, const char *dic)
{
    snprintf(prefix, cap, "/tmp/mille_test_morph_%ld_%s", (long)getpid(), tag);
    char path[300];
    snprintf(path, sizeof path, "%s.aff", prefix);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) fputs(aff, f), fclose(f);
    snprintf(path, sizeof path, "%s.dic", prefix);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) fputs(dic, f), fclose(f);
}

static void remove_dict(const char *prefix)
{
    char path[300];
    snprintf(path, sizeof path, "%s.aff", prefix);
    unlink(path);
    snprintf(path, sizeof path, "%s.dic", prefix);
    unlink(path);
}

/* The forms of word as "form:count form:count" (most frequent first). */
static void forms(morph *m, const char *word, char *out, size_t cap)
{
    uint32_t ids[16];
    mille_error e;
    int n = morph_forms(m, word, strlen(word), ids, 16, &e);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o < cap; i++) {
        uint32_t c;
        const char *f = morph_form(m, ids[i], &c);
        o += (size_t)snprintf(out + o, cap - o, "%s%s:%u", i ? " " : "", f, c);
    }
}

/* One language: a dictionary, a text, and the expected forms of one lemma. */
static void golden(const char *tag, const char *aff, const char *dic, const char *text,
                   const char *lemma, const char *want)
{
    char prefix[256], got[512];
    write_dict(prefix, sizeof prefix, tag, aff, dic);
    mille_error e;
    morph *m = morph_open(prefix, &e);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(morph_add_text(m, text, strlen(text), 0, &e), 0);
        forms(m, lemma, got, sizeof got);
        if (strcmp(got, want) != 0) fprintf(stderr, "morph golden %s:\n", tag);
        CHECK_STR(got, want);
        morph_free(m);
    }
    remove_dict(prefix);
}

TEST(morph_golden_per_language)
{
    /* fi: talo (house) + inessive -ssa, adessive -lla */
    golden("fi", "SET UTF-8\nSFX A Y 3\nSFX A 0 ssa .\nSFX A 0 lla .\nSFX A 0 n .\n",
           "2\ntalo/A\nherätys/A\n", "talossa on valo\ntalon ovi\ntalossa\nherätyksen\n", "talo",
           "talossa:2 talon:1");
    /* hu: ébresztő (alarm clock) + accusative -t, sublative -re */
    golden("hu", "SET UTF-8\nSFX B Y 2\nSFX B 0 t .\nSFX B 0 re .\n", "1\nébresztő/B\n",
           "állítsd be az ébresztőt\nébresztőt hétre\naz ébresztő szól\n", "ébresztő",
           "ébresztőt:2 ébresztő:1");
    /* tr: müzik (music) + accusative with vowel harmony -i / -ı by the preceding vowel */
    golden("tr", "SET UTF-8\nSFX C Y 2\nSFX C 0 i [iü]k\nSFX C 0 ı [aı]k\n", "2\nmüzik/C\nçocuk\n",
           "müziği değil müziki çal\nmüzik çal\nmüziki aç\n", "müzik", "müziki:2 müzik:1");
    /* ru: будильник (alarm clock) + genitive -а, instrumental -ом */
    golden("ru", "SET UTF-8\nSFX D Y 2\nSFX D 0 а .\nSFX D 0 ом .\n", "1\nбудильник/D\n",
           "поставь будильник\nвремя будильника\nс будильником\nнет будильника\n", "будильник",
           "будильника:2 будильник:1 будильником:1");
    /* pl: muzyka + accusative -ę (replace a), dictionary in ISO 8859-2 as Debian's pl_PL */
    golden("pl", "SET ISO8859-2\nSFX E Y 1\nSFX E a \xea a\n", "1\nmuzyka/E\n",
           "włącz muzykę\nmuzykę proszę\ngłośniej muzyka\n", "muzyka", "muzykę:2 muzyka:1");
    /* de: the dictionary lists "Musik" capitalized; the (case folded) text has "musik" */
    golden("de", "SET UTF-8\nSFX F Y 1\nSFX F 0 en .\n", "2\nWecker/F\nMusik\n",
           "spiel Musik\nstell den wecker\nmusik bitte\n", "musik", "musik:2");
    /* fr: réveil + plural -s */
    golden("fr", "SET UTF-8\nSFX G Y 1\nSFX G 0 s .\n", "1\nréveil/G\n",
           "mets les réveils\nmes réveils\nle réveil\n", "réveil", "réveils:2 réveil:1");
}

TEST(morph_inflects_a_lexicon)
{
    char prefix[256];
    write_dict(prefix, sizeof prefix, "lex", "SET UTF-8\nSFX D Y 2\nSFX D 0 а .\nSFX D 0 ом .\n",
               "2\nбудильник/D\nмузыка\n");
    mille_error e;
    morph *m = morph_open(prefix, &e);
    CHECK(m != NULL);
    if (!m) return;
    const char *text = "поставь будильник на семь\nвремя будильника\nнет будильника\n";
    CHECK_INT(morph_add_text(m, text, strlen(text), 0, &e), 0);
    lexicon lx = {0};
    const char *tsv = "alarm\tбудильник\nalarm\tтревога\nwake me up\tразбуди меня\n";
    CHECK_INT(lexicon_add_tsv(&lx, tsv, strlen(tsv), "t.tsv", NULL, &e), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    morph_stats st;
    CHECK_INT(morph_inflect(m, &lx, 3, out, &st, &e), 0);
    fclose(out);
    /* the attested forms replace the lemma, most frequent first; an unknown translation and
     * a phrase stay */
    CHECK_STR(buf, "alarm\tбудильника\nalarm\tбудильник\nalarm\tтревога\n"
                   "wake me up\tразбуди меня\n");
    CHECK_INT(st.keys, 2);
    CHECK_INT(st.translations, 2);
    CHECK_INT(st.inflected, 1);
    CHECK_INT(st.pairs, 4);
    /* and it reads back as a lexicon */
    lexicon back = {0};
    CHECK_INT(lexicon_add_tsv(&back, buf, len, "out.tsv", NULL, &e), 0);
    const uint32_t *tr;
    CHECK_INT(lexicon_lookup(&back, "alarm", 5, &tr), 3);
    free(buf);
    lexicon_free(&lx);
    lexicon_free(&back);
    /* invalid UTF-8 in the text is an error naming the offset, not a crash */
    CHECK_INT(morph_add_text(m, "ab\xff", 3, 0, &e), MILLE_EUTF8);
    CHECK(strstr(e.msg, "byte 2") != NULL);
    morph_free(m);
    remove_dict(prefix);
    /* missing files are named */
    CHECK(morph_open("/nonexistent/xx_XX", &e) == NULL);
    CHECK_INT(e.code, MILLE_EIO);
    CHECK(strstr(e.msg, "/nonexistent/xx_XX.aff") != NULL);
    morph_free(NULL);
}
