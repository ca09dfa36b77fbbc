/*
 * fuzz_morph.c - libFuzzer target for the zero-shot v2 inputs from outside: unlabeled text
 * read by morph_add_text (words, case folding, hunspell stems of each distinct word, in a
 * small UTF-8 dictionary and an ISO 8859-2 one written at start), and words spelled in Latin
 * by text_translit_word and capitalized by text_upper_first. Invariants: no crash, an error
 * only for invalid UTF-8, a transliteration that fits its buffer and is valid UTF-8, forms
 * returned at most as many as asked and each one a form of the text.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "morph.h"
#include "text.h"

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_morph: %s failed at %s:%d\n", #c, __FILE__, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static morph *dicts[2];
static char prefixes[2][128];
static text_translit *tl;
static unsigned long inputs;

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    FUZZ_ASSERT(f != NULL);
    fputs(s, f);
    fclose(f);
}

static void setup(void)
{
    char(*p)[128] = prefixes;
    snprintf(p[0], sizeof p[0], "/tmp/fuzz_morph_%ld_u8", (long)getpid());
    snprintf(p[1], sizeof p[1], "/tmp/fuzz_morph_%ld_l2", (long)getpid());
    const char *aff[2] = {
        "SET UTF-8\nSFX A Y 2\nSFX A 0 а .\nSFX A 0 s .\nPFX B Y 1\nPFX B 0 un .\n",
        "SET ISO8859-2\nSFX E Y 1\nSFX E a \xea a\n"};
    const char *dic[2] = {"3\nбудильник/A\nréveil/AB\nMusik/A\n", "1\nmuzyka/E\n"};
    for (int k = 0; k < 2; k++) {
        char path[160];
        snprintf(path, sizeof path, "%s.aff", p[k]);
        write_file(path, aff[k]);
        snprintf(path, sizeof path, "%s.dic", p[k]);
        write_file(path, dic[k]);
        mille_error e;
        dicts[k] = morph_open(p[k], &e);
        FUZZ_ASSERT(dicts[k] != NULL);
    }
    mille_error e;
    tl = text_translit_new(&e);
    FUZZ_ASSERT(tl != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tl) setup();
    /* the index grows with every input (one long text): start afresh now and then, so that
     * long runs stay within libFuzzer's memory limit */
    if (++inputs % 20000 == 0)
        for (int k = 0; k < 2; k++) {
            mille_error e0;
            morph_free(dicts[k]);
            dicts[k] = morph_open(prefixes[k], &e0);
            FUZZ_ASSERT(dicts[k] != NULL);
        }
    const char *s = (const char *)data;
    int valid = text_utf8_check(s, size, NULL) == 0;
    mille_error e;
    /* the text: an error exactly when it is not UTF-8 (the index keeps growing across inputs,
     * as one long text would) */
    morph *m = dicts[size ? data[0] & 1 : 0];
    int rc = morph_add_text(m, s, size, size > 1 ? data[1] & 1 : 0, &e);
    FUZZ_ASSERT(valid ? rc == 0 : rc == MILLE_EUTF8);
    if (!valid) return 0;
    /* each whitespace-separated word: its forms, its Latin spelling, its capital */
    for (size_t a = 0; a < size;) {
        size_t b = a;
        while (b < size && s[b] != ' ' && s[b] != '\n') b++;
        if (b > a) {
            uint32_t ids[4];
            int n = morph_forms(m, s + a, b - a, ids, 4, &e);
            FUZZ_ASSERT(n >= 0 && n <= 4);
            for (int i = 0; i < n; i++) FUZZ_ASSERT(morph_form(m, ids[i], NULL) != NULL);
            char out[64];
            int ln = text_translit_word(tl, s + a, b - a, out, sizeof out, &e);
            FUZZ_ASSERT(ln >= 0 && (size_t)ln < sizeof out);
            if (ln > 0) FUZZ_ASSERT(text_utf8_check(out, (size_t)ln, NULL) == 0);
            char up[300];
            size_t un = text_upper_first(s + a, b - a, up, sizeof up);
            if (un) FUZZ_ASSERT(text_utf8_check(up, un, NULL) == 0);
        }
        a = b + 1;
    }
    return 0;
}
