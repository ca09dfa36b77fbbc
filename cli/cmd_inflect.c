/*
 * cmd_inflect.c - `mille inflect --lexicon L --hunspell PREFIX --text FILE --out OUT`: a
 * lexicon whose one-word translations are replaced by the inflected forms that unlabeled
 * target text uses, found by stem with a hunspell dictionary (src/lexicon/morph.h). The
 * output is a TSV lexicon that `mille synth --lexicon` and `mille train --code-switch` read.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "lexicon.h"
#include "morph.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mille inflect --lexicon L --hunspell PREFIX --text FILE [options]\n"
               "\n"
               "Replaces each one-word translation of a lexicon by the forms of the unlabeled\n"
               "text that share its stem (hunspell's affix rules), most frequent first, so that\n"
               "synthesized utterances use the forms people write (\"budzik\" -> \"budzika\").\n"
               "Translations whose stem the text never shows stay as they are. Writes a TSV\n"
               "lexicon; a report goes to stderr.\n"
               "\n"
               "  --lexicon L       the lexicon (FreeDict .index, or TSV; repeatable, merged)\n"
               "  --hunspell PREFIX the dictionary PREFIX.aff + PREFIX.dic, e.g.\n"
               "                    /usr/share/hunspell/pl_PL (Debian: hunspell-pl)\n"
               "  --text FILE       unlabeled target-language text, one utterance a line\n"
               "                    (repeatable; .gz read too)\n"
               "  --locale LOCALE   the text's locale: ja-JP, zh-CN and zh-TW are split into\n"
               "                    characters as MASSIVE does (default: split at spaces)\n"
               "  --forms N         forms kept per translation (default 3)\n"
               "  --out FILE        output TSV, written atomically; - is stdout (default -)\n"
               "  --show WORD       print the forms of WORD (form<TAB>count lines) instead of a\n"
               "                    lexicon\n");
}

int cmd_inflect(int argc, char **argv)
{
    const char *lex[64], *texts[64], *dict = NULL, *out = "-", *locale = "", *show = NULL;
    int n_lex = 0, n_text = 0, bad = 0;
    long forms = 3;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--lexicon", &bad))) {
            if (n_lex < 64) lex[n_lex++] = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--text", &bad))) {
            if (n_text < 64) texts[n_text++] = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--hunspell", &bad))) {
            dict = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locale", &bad))) {
            locale = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--show", &bad))) {
            show = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--forms", &bad))) {
            bad = cli_long("inflect", "--forms", v, 1, 64, &forms);
        } else if (!bad) {
            fprintf(stderr, "mille inflect: unknown option '%s' (see --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return CLI_USAGE;
    if (!dict || !n_text || (!n_lex && !show)) {
        fprintf(stderr, "mille inflect: --hunspell, --text and --lexicon are required\n");
        return CLI_USAGE;
    }
    mille_error err;
    morph *m = morph_open(dict, &err);
    if (!m) {
        fprintf(stderr, "mille inflect: %s\n", err.msg);
        return CLI_ERR;
    }
    int rc = MILLE_OK, split = annot_char_split(locale, strlen(locale));
    for (int i = 0; i < n_text && !rc; i++) {
        char *data = NULL;
        size_t len = 0;
        rc = file_read_gz(texts[i], SIZE_MAX, (size_t)1 << 31, &data, &len, &err);
        if (!rc) rc = morph_add_text(m, data, len, split, &err);
        if (rc) err_prefix(&err, "%s: ", texts[i]);
        free(data);
    }
    if (!rc && show) {
        uint32_t ids[64];
        int n = morph_forms(m, show, strlen(show), ids, (size_t)forms, &err);
        if (n < 0) rc = n;
        for (int i = 0; i < n; i++) {
            uint32_t c;
            const char *f = morph_form(m, ids[i], &c);
            printf("%s\t%u\n", f, c);
        }
    } else if (!rc) {
        lexicon lx = {0};
        for (int i = 0; i < n_lex && !rc; i++) rc = lexicon_load(&lx, lex[i], NULL, &err);
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = rc ? NULL : open_memstream(&buf, &len);
        morph_stats st;
        if (!rc && !mem) rc = err_set(&err, MILLE_ENOMEM, "out of memory");
        if (!rc) rc = morph_inflect(m, &lx, (size_t)forms, mem, &st, &err);
        if (mem) fclose(mem);
        if (!rc && strcmp(out, "-") == 0)
            rc = fwrite(buf, 1, len, stdout) == len
                     ? MILLE_OK
                     : err_set(&err, MILLE_EIO, "stdout: write failed");
        else if (!rc)
            rc = file_write_atomic(out, buf, len, &err);
        if (!rc)
            fprintf(stderr,
                    "mille inflect: %zu keys, %zu one-word translations, %zu of them with forms "
                    "in the text (%.1f%%), %zu pairs written\n",
                    st.keys, st.translations, st.inflected,
                    st.translations ? 100.0 * (double)st.inflected / (double)st.translations : 0.0,
                    st.pairs);
        free(buf);
        lexicon_free(&lx);
    }
    morph_free(m);
    if (rc) {
        fprintf(stderr, "mille inflect: %s: %s\n", mille_strerror(rc), err.msg);
        return CLI_ERR;
    }
    return CLI_OK;
}
