/* test_translit.c - transliteration as a feature (translit.c, model_config.translit): golden
 * Latin spellings per script (what ICU 72's "Any-Latin; Latin-ASCII" gives, recorded
 * 2026-12-02), Latin words left alone, and a word in another script getting the features of
 * its Latin spelling only when the model asks for them, stored in the model file. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "model.h"
#include "text.h"

static void golden(text_translit *t, const char *word, const char *want)
{
    char out[256];
    mille_error e;
    int n = text_translit_word(t, word, strlen(word), out, sizeof out, &e);
    if (!want) {
        CHECK_INT(n, 0);
        return;
    }
    CHECK_INT(n, (int)strlen(want));
    if (n > 0) CHECK_STR(out, want);
}

TEST(translit_golden_per_script)
{
    mille_error e;
    text_translit *t = text_translit_new(&e);
    CHECK(t != NULL);
    if (!t) return;
    /* "radio", a loanword in every MASSIVE script of the list */
    golden(t, "радио", "radio");  /* ru: Cyrillic */
    golden(t, "ράδιο", "radio");  /* el: Greek (the accent dropped) */
    golden(t, "راديو", "radyw");  /* ar: Arabic (no short vowels in the script) */
    golden(t, "רדיו", "rdyw");    /* he: Hebrew */
    golden(t, "रेडियो", "rediyo"); /* hi: Devanagari */
    golden(t, "ラジオ", "rajio"); /* ja: Katakana */
    golden(t, "라디오", "ladio"); /* ko: Hangul */
    golden(t, "วิทยุ", "withyu");   /* th: Thai (a native word: no match with "radio") */
    golden(t, "будильник", "budil'nik");
    golden(t, "おはよう", "ohayou"); /* Hiragana */
    golden(t, "音楽", "yin le");     /* Han is read as Mandarin, even in Japanese */
    /* nothing to do: Latin (with diacritics), digits, punctuation */
    golden(t, "radio", NULL);
    golden(t, "café", NULL);
    golden(t, "42", NULL);
    golden(t, "?", NULL);
    CHECK(text_translit_needed("мир", strlen("мир")));
    CHECK(!text_translit_needed("über", strlen("über")));
    /* invalid UTF-8 is not a word of another script: nothing, no crash */
    golden(t, "\xd0", NULL);
    /* a very long word is skipped, not truncated */
    char longw[600];
    for (size_t i = 0; i + 2 <= sizeof longw; i += 2) memcpy(longw + i, "\xd0\xb0", 2); /* а */
    char out[64];
    CHECK_INT(text_translit_word(t, longw, sizeof longw, out, sizeof out, &e), 0);
    /* an output that would not fit is dropped */
    CHECK_INT(text_translit_word(t, "будильник", strlen("будильник"), out, 4, &e), 0);
    text_translit_free(t);
    text_translit_free(NULL);
}

/* Features of one one-word utterance. */
static size_t utt_feats(const model_config *c, const char *w, uint32_t *out, size_t cap)
{
    feat_scratch sc = {0};
    uint32_t *f = NULL, off[2];
    size_t nf = 0, fcap = 0;
    uint32_t words[2] = {0, (uint32_t)strlen(w)};
    mille_error e;
    CHECK_INT(model_utt_features(c, w, words, sizeof words, 1, &sc, &f, &nf, &fcap, off, &e), 0);
    size_t n = nf < cap ? nf : cap;
    if (f) memcpy(out, f, n * sizeof *out);
    free(f);
    feat_scratch_free(&sc);
    return n;
}

static int has(const uint32_t *f, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (f[i] == x) return 1;
    return 0;
}

TEST(translit_features_share_latin_rows)
{
    model_config c = model_default_config();
    c.bigrams = 0, c.subwords = 0;
    uint32_t lat[256], ru[256], ja[256];
    size_t nl = utt_feats(&c, "radio", lat, 256);
    size_t nr = utt_feats(&c, "радио", ru, 256);
    /* off: the Cyrillic word shares nothing with the Latin one */
    int shared = 0;
    for (size_t i = 0; i < nl; i++) shared += has(ru, nr, lat[i]);
    CHECK_INT(shared, 0);
    /* on: it also has every feature of "radio" (the word and its n-grams) */
    c.translit = 1;
    size_t nr2 = utt_feats(&c, "радио", ru, 256);
    CHECK_INT(nr2, nr + nl);
    for (size_t i = 0; i < nl; i++) CHECK(has(ru, nr2, lat[i]));
    /* Katakana "rajio" shares the n-grams "<ra", "io>" ... with "radio", not the word */
    size_t nj = utt_feats(&c, "ラジオ", ja, 256);
    shared = 0;
    for (size_t i = 0; i < nl; i++) shared += has(ja, nj, lat[i]);
    CHECK(shared >= 2 && shared < (int)nl);
    /* a Latin word is not changed by the option */
    uint32_t lat2[256];
    CHECK_INT(utt_feats(&c, "radio", lat2, 256), nl);
    CHECK(memcmp(lat, lat2, nl * sizeof *lat) == 0);
}

TEST(translit_setting_is_saved_in_the_model)
{
    model_config c = model_default_config();
    c.buckets = 1024, c.dim = 8, c.hidden = 8, c.n_intents = 2, c.n_slots = 2;
    c.translit = 1;
    model m, back;
    mille_error e;
    CHECK_INT(model_new(&m, &c, &e), 0);
    strtab_intern(&m.intents, "a", 1);
    strtab_intern(&m.intents, "b", 1);
    strtab_intern(&m.scenarios, "s", 1);
    strtab_intern(&m.slots, "Other", 5);
    strtab_intern(&m.slots, "x", 1);
    model_init_params(&m, 1);
    char path[128];
    snprintf(path, sizeof path, "/tmp/mille_test_translit_%ld.model", (long)getpid());
    CHECK_INT(model_save(&m, path, 0, &e), 0);
    CHECK_INT(model_load(&back, path, &e), 0);
    CHECK_INT(back.cfg.translit, 1);
    model_free(&back);
    /* off: the key is not written, and reads back as 0 */
    m.cfg.translit = 0;
    CHECK_INT(model_save(&m, path, 0, &e), 0);
    CHECK_INT(model_load(&back, path, &e), 0);
    CHECK_INT(back.cfg.translit, 0);
    model_free(&back);
    model_free(&m);
    unlink(path);
}
