/*
 * cmd_synth.c - two subcommands around bilingual lexicons (src/lexicon/lexicon.h, docs/lexicon.md):
 *
 *   mille synth --lexicon L [--lexicon L2 ...] --to fr-FR --data PATH [--from en-US] ...
 *       translate labeled MASSIVE records word by word, slot labels carried along, and write
 *       them as MASSIVE JSON lines that `mille train --data FILE` reads;
 *   mille lexicons [DIR] [--json] | mille lexicons --dump LEXICON
 *       list the FreeDict eng-* dictionaries installed in DIR (default /usr/share/dictd) with
 *       the MASSIVE locale each covers, or print a lexicon's pairs as TSV.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "lexicon.h"
#include "out.h"

/* ---- mille synth ----------------------------------------------------------------------- */

static void synth_usage(FILE *f)
{
    fprintf(
        f, "usage: mille synth --lexicon L [--lexicon L ...] --to LOCALE --data PATH [options]\n"
           "\n"
           "Translates labeled MASSIVE records word by word with bilingual lexicons, slot\n"
           "labels carried along, and writes MASSIVE JSON lines (id \"synth-<id>\", partition\n"
           "train) that `mille train --data FILE` reads. A report goes to stderr.\n"
           "\n"
           "  --lexicon L      FreeDict dictionary (its .index, with the .dict.dz or .dict beside\n"
           "                   it) or TSV word pairs (.tsv/.txt: source<TAB>target); repeatable,\n"
           "                   the translations of earlier lexicons come first (required)\n"
           "  --data PATH      MASSIVE data: .jsonl, .jsonl.gz, directory, release .tar.gz\n"
           "                   (required)\n"
           "  --from LOCALE    source locale of the records (default en-US)\n"
           "  --to LOCALE      locale of the output records (required); ja-JP, zh-CN, zh-TW\n"
           "                   get MASSIVE's spacing for them\n"
           "  --partition P    partitions to translate, comma-separated (default train)\n"
           "  --out FILE       output file, written atomically; - is stdout (default -)\n"
           "  --seed N         seed of the choice among translations (default 1)\n"
           "  --keep-unknown   keep words no lexicon knows as they are (default)\n"
           "  --drop-unknown   drop them instead\n"
           "  --top N          untranslated words listed in the report (default 10)\n"
           "  --quiet          no report\n");
}

static void on_skip(void *ud, const mille_error *e)
{
    (void)ud;
    fprintf(stderr, "mille synth: skipped: %s\n", e->msg);
}

/* Indexes of the `top` most frequent unknown words, most frequent first (ties: first seen). */
static size_t top_unknown(const synth_stats *st, size_t top, size_t *idx)
{
    size_t k = 0;
    for (size_t i = 0; i < st->unknown.n; i++) {
        uint32_t c = st->unknown_count[i];
        size_t j;
        if (k < top)
            j = k++;
        else if (top && c > st->unknown_count[idx[top - 1]])
            j = top - 1;
        else
            continue;
        while (j > 0 && st->unknown_count[idx[j - 1]] < c) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return k;
}

static double pct(size_t a, size_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

int cmd_synth(int argc, char **argv)
{
    const char *lex[64], *data = NULL, *from = "en-US", *to = NULL, *part = "train", *out = "-";
    const char *v;
    size_t n_lex = 0;
    long seed = 1, top = 10;
    int bad = 0, drop = 0, quiet = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            synth_usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--lexicon", &bad))) {
            if (n_lex == sizeof lex / sizeof lex[0]) {
                fprintf(stderr, "mille synth: at most %zu --lexicon\n", n_lex);
                bad = 1;
            } else {
                lex[n_lex++] = v;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--data", &bad))) {
            data = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--from", &bad))) {
            from = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--to", &bad))) {
            to = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partition", &bad))) {
            part = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &bad))) {
            if (parse_long(v, 0, 2147483647L, &seed)) {
                fprintf(stderr, "mille synth: --seed must be an integer 0..2147483647\n");
                bad = 1;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--top", &bad))) {
            if (parse_long(v, 0, 1000, &top)) {
                fprintf(stderr, "mille synth: --top must be 0..1000\n");
                bad = 1;
            }
        } else if (!bad && strcmp(argv[i], "--keep-unknown") == 0) {
            drop = 0;
        } else if (!bad && strcmp(argv[i], "--drop-unknown") == 0) {
            drop = 1;
        } else if (!bad && strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (!bad) {
            fprintf(stderr, "mille synth: unexpected argument '%s' (see --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!n_lex || !data || !to)) {
        fprintf(stderr, "mille synth: --lexicon, --data and --to are required (see --help)\n");
        bad = 1;
    }
    if (!bad && (!*from || !*to || !*part || !*out)) {
        fprintf(stderr, "mille synth: empty --from, --to, --partition or --out\n");
        bad = 1;
    }
    if (bad) return CLI_USAGE;

    mille_error err;
    lexicon lx = {0};
    for (size_t i = 0; i < n_lex; i++) {
        lexicon_stats ls;
        if (lexicon_load(&lx, lex[i], &ls, &err) < 0) {
            fprintf(stderr, "mille synth: %s\n", err.msg);
            lexicon_free(&lx);
            return CLI_ERR;
        }
        if (!quiet)
            fprintf(stderr, "mille synth: %s: %zu entries, %zu new pairs\n", lex[i], ls.entries,
                    ls.pairs);
    }
    data_set ds = {0};
    data_opts dopt = data_default_opts();
    dopt.mode = DATA_GOLD;
    dopt.locales = from;
    dopt.partitions = part;
    dopt.on_skip = on_skip;
    if (data_load(&ds, data, &dopt, &err) < 0) {
        fprintf(stderr, "mille synth: %s\n", err.msg);
        lexicon_free(&lx);
        data_free(&ds);
        return CLI_ERR;
    }
    int rc = CLI_OK;
    if (ds.n == 0) {
        fprintf(stderr, "mille synth: %s: no %s records in partition %s\n", data, from, part);
        rc = CLI_ERR;
    }

    synth_opts so = {(uint64_t)seed, drop, annot_char_split(from, strlen(from)),
                     annot_char_split(to, strlen(to))};
    synth_ctx sc = {0};
    synth_stats st = {0};
    out_buf ob = out_open(out);
    char idbuf[256];
    for (size_t i = 0; i < ds.n && rc == CLI_OK; i++) {
        const data_record *r = &ds.recs[i];
        const char *id = data_str(&ds, r->id);
        int got = synth_record(&sc, &lx, id, data_str(&ds, r->utt), r->utt_len,
                               data_str(&ds, r->annot), r->annot_len, &so, &st, &err);
        if (got < 0) {
            fprintf(stderr, "mille synth: %s:%u: %s\n", strtab_str(&ds.srcs, r->src), r->line,
                    err.msg);
            if (got == MILLE_ENOMEM) rc = CLI_ERR;
            continue;
        }
        if (got == 0) continue;
        snprintf(idbuf, sizeof idbuf, "synth-%s", id);
        if (out_massive(&ob, idbuf, to, "train", strtab_str(&ds.scenarios, r->scenario),
                        strtab_str(&ds.intents, r->intent), sc.utt, sc.utt_len, sc.annot,
                        sc.annot_len) < 0) {
            fprintf(stderr, "mille synth: %s: write failed\n", out);
            rc = CLI_ERR;
        }
    }
    if (rc == CLI_OK && out_close(&ob, &err) < 0) {
        fprintf(stderr, "mille synth: %s\n", err.msg);
        rc = CLI_ERR;
    }
    out_discard(&ob);
    if (!quiet && ds.n) {
        fprintf(stderr,
                "mille synth: %zu records %s/%s -> %s written, %zu skipped\n"
                "mille synth: words translated %.1f%% (%zu/%zu), slot words %.1f%% (%zu/%zu)\n",
                st.records, from, part, to, st.skipped, pct(st.words_translated, st.words),
                st.words_translated, st.words, pct(st.slot_words_translated, st.slot_words),
                st.slot_words_translated, st.slot_words);
        size_t idx[1000], k = top_unknown(&st, (size_t)top, idx);
        if (k) {
            fprintf(stderr, "mille synth: top untranslated:");
            for (size_t i = 0; i < k; i++)
                fprintf(stderr, " %s %u", strtab_str(&st.unknown, idx[i]),
                        st.unknown_count[idx[i]]);
            fprintf(stderr, "\n");
        }
    }
    synth_stats_free(&st);
    synth_free(&sc);
    data_free(&ds);
    lexicon_free(&lx);
    return rc;
}

/* ---- mille lexicons -------------------------------------------------------------------- */

static void lexicons_usage(FILE *f)
{
    fprintf(f,
            "usage: mille lexicons [DIR] [--json]\n"
            "       mille lexicons --dump LEXICON\n"
            "\n"
            "Lists the FreeDict English-X dictionaries (freedict-eng-*.index) in DIR with their\n"
            "entries and the MASSIVE locale each covers, then the MASSIVE locales none covers.\n"
            "\n"
            "  DIR             where dictd dictionaries are (default /usr/share/dictd)\n"
            "  --json          one JSON object per dictionary, then {\"uncovered\": [...]}\n"
            "  --dump LEXICON  print a lexicon (.index, .dict.dz, .tsv) as TSV pairs, source\n"
            "                  then translation, in lookup order\n");
}

static int dump_lexicon(const char *path)
{
    lexicon lx = {0};
    mille_error err;
    lexicon_stats ls;
    if (lexicon_load(&lx, path, &ls, &err) < 0) {
        fprintf(stderr, "mille lexicons: %s\n", err.msg);
        lexicon_free(&lx);
        return CLI_ERR;
    }
    for (size_t k = 0; k < lexicon_n_keys(&lx); k++)
        for (uint32_t p = lx.off[k]; p < lx.off[k + 1]; p++)
            printf("%s\t%s\n", strtab_str(&lx.keys, k), lexicon_str(&lx, lx.csr[p]));
    fprintf(stderr, "mille lexicons: %s: %zu entries (%zu gave nothing), %zu phrases, %zu pairs\n",
            path, ls.entries, ls.skipped, lexicon_n_keys(&lx), lx.n_pairs);
    lexicon_free(&lx);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERR;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_lexicons(int argc, char **argv)
{
    const char *dir = "/usr/share/dictd", *dump = NULL, *v;
    int bad = 0, json = 0, n_pos = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            lexicons_usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--dump", &bad))) {
            dump = v;
        } else if (!bad && strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (!bad && argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "mille lexicons: unknown option '%s' (see --help)\n", argv[i]);
            bad = 1;
        } else if (!bad) {
            dir = argv[i];
            if (++n_pos > 1) {
                fprintf(stderr, "mille lexicons: unexpected argument '%s'\n", argv[i]);
                bad = 1;
            }
        }
    }
    if (bad) return CLI_USAGE;
    if (dump) return dump_lexicon(dump);

    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "mille lexicons: %s: cannot open directory\n", dir);
        return CLI_ERR;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = CLI_OK;
    struct dirent *de;
    static const char prefix[] = "freedict-eng-", suffix[] = ".index";
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= strlen(prefix) + strlen(suffix) || strncmp(de->d_name, prefix, 13) != 0 ||
            strcmp(de->d_name + len - strlen(suffix), suffix) != 0)
            continue;
        char *s = strdup(de->d_name);
        if (!s || vec_reserve((void **)&names, &cap, n + 1, sizeof *names)) {
            free(s);
            rc = CLI_ERR;
            break;
        }
        names[n++] = s;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    unsigned char covered[64] = {0};
    if (!json && rc == CLI_OK)
        printf("%-20s %-5s %-6s %8s  %s\n", "dictionary", "code", "locale", "entries",
               "description");
    for (size_t i = 0; i < n && rc == CLI_OK; i++) {
        char path[4096], code[64], desc[256];
        size_t len = strlen(names[i]) - strlen(prefix) - strlen(suffix);
        snprintf(code, sizeof code, "%.*s", (int)len, names[i] + strlen(prefix));
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t entries = 0;
        mille_error err;
        if (lexicon_freedict_info(path, &entries, desc, sizeof desc, &err) < 0) {
            fprintf(stderr, "mille lexicons: %s\n", err.msg);
            snprintf(desc, sizeof desc, "(unreadable)");
        }
        char locs[64] = "";
        size_t lo = 0;
        const char *loc;
        for (size_t k = 0; (loc = lexicon_code_locale(code, k)); k++) {
            lo += (size_t)snprintf(locs + lo, sizeof locs - lo, "%s%s", k ? "," : "", loc);
            if (lo >= sizeof locs) lo = sizeof locs - 1;
            for (size_t m = 0; m < lexicon_n_massive_locales && m < 64; m++)
                if (strcmp(lexicon_massive_locales[m], loc) == 0) covered[m] = 1;
        }
        names[i][strlen(names[i]) - strlen(suffix)] = '\0';
        if (json) {
            json_t *j =
                json_pack("{s:s,s:s,s:s,s:I,s:s}", "dictionary", names[i], "code", code, "locale",
                          locs, "entries", (json_int_t)entries, "description", desc);
            char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (line) puts(line);
            free(line);
            json_decref(j);
        } else {
            printf("%-20s %-5s %-6s %8zu  %s\n", names[i], code, *locs ? locs : "-", entries, desc);
        }
    }
    if (rc == CLI_OK) {
        size_t n_cov = 0;
        json_t *unc = json_array();
        for (size_t m = 0; m < lexicon_n_massive_locales; m++) {
            /* en-US is the source side of every eng-* dictionary */
            if (strcmp(lexicon_massive_locales[m], "en-US") == 0) covered[m] = 1;
            if (covered[m])
                n_cov++;
            else
                json_array_append_new(unc, json_string(lexicon_massive_locales[m]));
        }
        if (json) {
            json_t *j = json_pack("{s:o}", "uncovered", unc);
            char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
            if (line) puts(line);
            free(line);
            json_decref(j);
        } else {
            printf("\n%zu dictionaries; %zu of %zu MASSIVE locales covered (en-US is the "
                   "source); none for:",
                   n, n_cov, lexicon_n_massive_locales);
            for (size_t k = 0; k < json_array_size(unc); k++)
                printf(" %s", json_string_value(json_array_get(unc, k)));
            printf("\n");
            json_decref(unc);
        }
    } else {
        fprintf(stderr, "mille lexicons: out of memory\n");
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (fflush(stdout) != 0) rc = CLI_ERR;
    return rc;
}
