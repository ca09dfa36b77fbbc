/*
 * cmd_perturb.c - `mille perturb`: noisy copies of labeled MASSIVE data, labels aligned
 * (src/train/augment.h): typos (a deleted, doubled, swapped or neighbouring-key character),
 * dropped and repeated words. For measuring robustness, e.g. intent accuracy on dev with 10%
 * of its words misspelled (bench/typos.sh), and for training on noisy text.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "cli.h"
#include "data.h"
#include "out.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mille perturb DATA [--typos P] [--drop P] [--repeat P] [options]\n"
               "\n"
               "Writes every record of DATA (MASSIVE: .jsonl, .jsonl.gz, directory, release\n"
               "archive) as MASSIVE JSON lines with its words perturbed, slot labels kept on the\n"
               "words they belong to; records keep their id, locale, partition and intent, and a\n"
               "record that no perturbation touched is written as it is. A report goes to stderr.\n"
               "\n"
               "  --typos P        probability that a word of 3 or more characters gets one typo:\n"
               "                   a character deleted, doubled, swapped with the next, or (ASCII\n"
               "                   letters) replaced by a neighbouring QWERTY key; the first\n"
               "                   character is kept (default 0)\n"
               "  --drop P         probability of dropping a word (never the last) (default 0)\n"
               "  --repeat P       probability of repeating a word (default 0)\n"
               "  --locales L      comma-separated locales to keep (default all)\n"
               "  --partition P    partitions to keep, comma-separated (default dev)\n"
               "  --seed N         seed (default 1); the output depends only on it and the input\n"
               "  --out FILE       output file, written atomically; - is stdout (default -)\n"
               "  --quiet          no report\n"
               "\n"
               "In ja-JP, zh-CN and zh-TW every character is a word, so typos touch only their\n"
               "runs of ASCII letters.\n");
}

static void on_skip(void *ud, const mille_error *e)
{
    (void)ud;
    fprintf(stderr, "mille perturb: skipped: %s\n", e->msg);
}

/* Words of record r whose text differs from the original's word at the same place, when the
 * copy has as many words (typos only); else the words of the two that differ in count. */
static size_t words_changed(const data_set *ds, const data_record *a, const data_record *b)
{
    if (a->n_words != b->n_words)
        return a->n_words > b->n_words ? a->n_words - b->n_words : b->n_words - a->n_words;
    size_t c = 0;
    for (uint32_t k = 0; k < a->n_words; k++) {
        const data_word *x = &ds->words[a->word0 + k], *y = &ds->words[b->word0 + k];
        size_t nx = x->end - x->start, ny = y->end - y->start;
        if (nx != ny ||
            memcmp(data_str(ds, a->utt) + x->start, data_str(ds, b->utt) + y->start, nx) != 0)
            c++;
    }
    return c;
}

int cmd_perturb(int argc, char **argv)
{
    const char *data = NULL, *locales = NULL, *part = "dev", *out = "-", *v;
    double typos = 0, drop = 0, repeat = 0;
    long seed = 1;
    int bad = 0, quiet = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--typos", &bad))) {
            bad = cli_double("perturb", "--typos", v, 0, 1, &typos) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--drop", &bad))) {
            bad = cli_double("perturb", "--drop", v, 0, 1, &drop) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--repeat", &bad))) {
            bad = cli_double("perturb", "--repeat", v, 0, 1, &repeat) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locales", &bad))) {
            locales = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partition", &bad))) {
            part = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &bad))) {
            bad = cli_long("perturb", "--seed", v, 0, 2147483647L, &seed) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if (!bad && strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (!bad && argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mille perturb: unknown option '%s' (see --help)\n", argv[i]);
            bad = 1;
        } else if (!bad && data) {
            fprintf(stderr, "mille perturb: one DATA path only, got '%s' too\n", argv[i]);
            bad = 1;
        } else if (!bad) {
            data = argv[i];
        }
    }
    if (!bad && !data) {
        fprintf(stderr, "mille perturb: DATA is required (see --help)\n");
        bad = 1;
    }
    if (!bad && typos + drop + repeat > 1) {
        fprintf(stderr, "mille perturb: --typos + --drop + --repeat must be at most 1\n");
        bad = 1;
    }
    if (!bad && (!*part || !*out)) {
        fprintf(stderr, "mille perturb: empty --partition or --out\n");
        bad = 1;
    }
    if (bad) return CLI_USAGE;

    mille_error err;
    data_set ds = {0};
    data_opts dopt = data_default_opts();
    dopt.mode = DATA_GOLD;
    dopt.locales = locales;
    dopt.partitions = part;
    dopt.on_skip = on_skip;
    if (data_load(&ds, data, &dopt, &err) < 0) {
        fprintf(stderr, "mille perturb: %s\n", err.msg);
        data_free(&ds);
        return CLI_ERR;
    }
    int rc = CLI_OK;
    if (ds.n == 0) {
        fprintf(stderr, "mille perturb: %s: no records in partition %s\n", data, part);
        rc = CLI_ERR;
    }
    aug_opts ao = {(float)drop, (float)repeat, (float)typos, 0, NULL};
    aug_scratch sc = {0};
    rng g;
    rng_seed(&g, (uint64_t)seed);
    out_buf ob = out_open(out);
    char *annot = NULL;
    int *tags = NULL;
    annot_word *aw = NULL;
    size_t cap_annot = 0, cap_tags = 0, cap_aw = 0, n_in = ds.n, copies = 0, words = 0, changed = 0;
    for (size_t i = 0; i < n_in && rc == CLI_OK; i++) {
        int got = aug_perturb(&ds, (uint32_t)i, ds.recs[i].partition, &g, &ao, &sc, &err);
        if (got < 0) {
            fprintf(stderr, "mille perturb: %s\n", err.msg);
            rc = CLI_ERR;
            break;
        }
        const data_record *r0 = &ds.recs[i], *r = got ? &ds.recs[ds.n - 1] : r0;
        words += r0->n_words;
        if (got) {
            copies++;
            changed += words_changed(&ds, r0, r);
        }
        if (vec_reserve((void **)&tags, &cap_tags, r->n_words + 1, sizeof *tags) ||
            vec_reserve((void **)&aw, &cap_aw, r->n_words + 1, sizeof *aw)) {
            fprintf(stderr, "mille perturb: out of memory\n");
            rc = CLI_ERR;
            break;
        }
        for (uint32_t k = 0; k < r->n_words; k++) {
            const data_word *w = &ds.words[r->word0 + k];
            aw[k] = (annot_word){w->start, w->end, 0, 0};
            tags[k] = (int)w->label;
        }
        const char *loc = strtab_str(&ds.locales, r->locale);
        size_t alen = 0;
        if (annot_format(&annot, &cap_annot, &alen, data_str(&ds, r->utt), aw, tags, r->n_words,
                         annot_char_split(loc, strlen(loc)), &ds.slots) ||
            out_massive(&ob, data_str(&ds, r0->id), loc, strtab_str(&ds.partitions, r->partition),
                        strtab_str(&ds.scenarios, r->scenario), strtab_str(&ds.intents, r->intent),
                        data_str(&ds, r->utt), r->utt_len, annot, alen - 1) < 0) {
            fprintf(stderr, "mille perturb: %s: write failed\n", out);
            rc = CLI_ERR;
        }
    }
    if (rc == CLI_OK && out_close(&ob, &err) < 0) {
        fprintf(stderr, "mille perturb: %s\n", err.msg);
        rc = CLI_ERR;
    }
    out_discard(&ob);
    if (rc == CLI_OK && !quiet)
        fprintf(stderr,
                "mille perturb: %zu records, %zu changed; %zu of %zu words changed (%.1f%%)\n",
                n_in, copies, changed, words, words ? 100.0 * (double)changed / (double)words : 0);
    free(annot);
    free(tags);
    free(aw);
    aug_scratch_free(&sc);
    data_free(&ds);
    return rc;
}
