/*
 * cmd_lexsrc.c - `mille lexicons --coverage` and `mille lexicons --build OUTDIR`: merge every
 * installed source (FreeDict both ways, Apertium dumps, CC-CEDICT, CLDR through ICU, pivots)
 * into one scored lexicon per MASSIVE locale (src/lexicon/sources.c), report per locale which
 * sources cover it, its entries by tier and the share of English (en-US train) tokens it
 * covers, and with --build write each as OUTDIR/LOCALE.tsv (atomically).
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "lexicon.h"
#include "sources.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mille lexicons --coverage [--source PATH ...] [--build OUTDIR] [--text DIR]\n"
            "                      [--data MASSIVE] [--locales L1,L2] [--no-cldr] [--json]\n"
            "\n"
            "Merges the sources into one lexicon per MASSIVE locale: direct entries first\n"
            "(FreeDict eng-X, X-eng reversed, CC-CEDICT, CLDR from ICU), then Apertium, then\n"
            "translations through a pivot language that two or more pivots agree on, then\n"
            "single pivots; at most %d candidates per English word, ranked by frequency in the\n"
            "locale's unlabeled text. Prints per locale: entries by tier, English-token\n"
            "coverage of MASSIVE en-US train, and the sources used.\n"
            "\n"
            "  --source PATH   a source file or a directory of them (repeatable; default\n"
            "                  /usr/share/dictd): freedict-AAA-BBB.index, AAA-BBB.att\n"
            "                  (lt-print of an Apertium bidix), *cedict*.u8, AAA-BBB.tsv\n"
            "  --build OUTDIR  also write OUTDIR/LOCALE.tsv (english, target, tier, frequency,\n"
            "                  source); `mille synth --lexicon` reads them\n"
            "  --text DIR      unlabeled text, DIR/LOCALE.txt (tools/unlabeled.py): ranks\n"
            "                  candidates and drops pivot candidates the text never shows\n"
            "  --data MASSIVE  where en-US train is, for coverage (default ../shared/massive-1.1)\n"
            "  --locales L1,L2 only these locales (default: the 51 besides en-US)\n"
            "  --no-cldr       without the CLDR pairs\n"
            "  --json          one JSON object per locale\n",
            LXS_MAX_CAND);
}

/* English tokens of en-US train: distinct normalized words and their counts. */
typedef struct en_toks {
    strtab w;
    size_t *cnt, cap, total;
} en_toks;

static int load_en(en_toks *t, const char *massive, mille_error *err)
{
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.mode = DATA_TEXT;
    o.locales = "en-US";
    o.partitions = "train";
    int rc = data_load(&ds, massive, &o, err);
    text_buf tb = {0};
    for (size_t i = 0; i < ds.n && rc >= 0; i++) {
        const data_record *r = &ds.recs[i];
        rc = lexicon_normalize(data_str(&ds, r->utt), r->utt_len, &tb, err);
        for (size_t a = 0; rc >= 0 && a < tb.len;) {
            size_t e = a;
            while (e < tb.len && tb.s[e] != ' ') e++;
            size_t before = t->w.n;
            int64_t id = strtab_intern(&t->w, tb.s + a, e - a);
            if (id < 0 || vec_reserve((void **)&t->cnt, &t->cap, (size_t)id + 1, sizeof *t->cnt)) {
                rc = err_set(err, MILLE_ENOMEM, "out of memory");
                break;
            }
            if ((size_t)id == before) t->cnt[id] = 0;
            t->cnt[id]++;
            t->total++;
            a = e + 1;
        }
    }
    if (rc >= 0 && t->total == 0) rc = err_set(err, MILLE_EFORMAT, "%s: no en-US train", massive);
    text_buf_free(&tb);
    data_free(&ds);
    return rc < 0 ? rc : 0;
}

static double coverage(const lexicon *lx, const en_toks *t)
{
    size_t hit = 0;
    char tmp[512];
    for (size_t i = 0; i < t->w.n; i++)
        if (lxs_en_covered(lx, strtab_str(&t->w, i), t->w.lens[i], tmp, sizeof tmp))
            hit += t->cnt[i];
    return t->total ? 100.0 * (double)hit / (double)t->total : 0;
}

/* The sources a merged lexicon used: direct and Apertium ones by name, pivots by language. */
static void sources_used(const lxs_merged *m, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    unsigned char *used = calloc(m->names.n ? m->names.n : 1, 1);
    if (!used) return;
    for (size_t p = 0; p < m->lx.n_pairs; p++) used[m->source[p]] = 1;
    char piv[256] = "";
    size_t po = 0;
    for (size_t i = 0; i < m->names.n && o < cap; i++) {
        if (!used[i]) continue;
        const char *nm = strtab_str(&m->names, i);
        if (strncmp(nm, "pivot ", 6) == 0) {
            char code[8];
            snprintf(code, sizeof code, "%.3s", nm + 6);
            if (!strstr(piv, code) && po + 5 < sizeof piv)
                po += (size_t)snprintf(piv + po, sizeof piv - po, "%s%s", po ? "," : "", code);
            continue;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "; " : "", nm);
    }
    if (po && o < cap) snprintf(out + o, cap - o, "%spivots %s", o ? "; " : "", piv);
    free(used);
}

int cmd_lexicons_sources(int argc, char **argv)
{
    const char *srcs[64], *build = NULL, *text_dir = NULL, *massive = "../shared/massive-1.1",
                          *locales = NULL, *v;
    size_t n_src = 0;
    int bad = 0, json = 0, cldr = 1;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--coverage") == 0) {
            continue;
        } else if ((v = cli_opt_value(argc, argv, &i, "--source", &bad))) {
            if (n_src < 64) {
                srcs[n_src++] = v;
            } else {
                fprintf(stderr, "mille lexicons: at most 64 --source options\n");
                bad = 1;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--build", &bad))) {
            build = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--text", &bad))) {
            text_dir = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--data", &bad))) {
            massive = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locales", &bad))) {
            locales = v;
        } else if (!bad && strcmp(argv[i], "--no-cldr") == 0) {
            cldr = 0;
        } else if (!bad && strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (!bad) {
            fprintf(stderr, "mille lexicons: unknown option '%s' (see --coverage --help)\n",
                    argv[i]);
            bad = 1;
        }
    }
    if (bad) return CLI_USAGE;
    if (!n_src) srcs[n_src++] = "/usr/share/dictd";
    mille_error err;
    lxs_set set = {0};
    en_toks en = {0};
    int rc = CLI_OK;
    for (size_t i = 0; i < n_src && rc == CLI_OK; i++) {
        int got = lxs_set_add(&set, srcs[i], &err);
        if (got < 0) {
            fprintf(stderr, "mille lexicons: %s\n", err.msg);
            rc = CLI_ERR;
        }
    }
    if (rc == CLI_OK && load_en(&en, massive, &err) < 0) {
        fprintf(stderr, "mille lexicons: %s\n", err.msg);
        rc = CLI_ERR;
    }
    if (rc == CLI_OK && !json)
        printf("%-6s %8s %8s %8s %8s %8s %7s  %s\n", "locale", "entries", "direct", "apertium",
               "pivot2", "pivot1", "en-cov%", "sources");
    double sum_cov = 0;
    size_t n_loc = 0;
    for (size_t l = 0; l < lexicon_n_massive_locales && rc == CLI_OK; l++) {
        const char *loc = lexicon_massive_locales[l];
        if (strcmp(loc, "en-US") == 0 || !data_list_has(locales, loc, strlen(loc))) continue;
        char *text = NULL;
        size_t tn = 0;
        if (text_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.txt", text_dir, loc);
            mille_error e2;
            if (file_read_all(path, &text, &tn, &e2) < 0) text = NULL; /* no text: no ranking */
        }
        lxs_opts o = {text, tn, cldr, 0};
        lxs_merged m = {0};
        if (lxs_merge(&set, loc, &o, &m, &err) < 0) {
            fprintf(stderr, "mille lexicons: %s: %s\n", loc, err.msg);
            rc = CLI_ERR;
        }
        if (rc == CLI_OK && build && m.lx.n_pairs) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.tsv", build, loc);
            if (lxs_write_tsv(&m, path, &err) < 0) {
                fprintf(stderr, "mille lexicons: %s\n", err.msg);
                rc = CLI_ERR;
            }
        }
        if (rc == CLI_OK) {
            double cov = coverage(&m.lx, &en);
            char used[2048];
            sources_used(&m, used, sizeof used);
            sum_cov += cov;
            n_loc++;
            if (json) {
                json_t *j = json_pack(
                    "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:s}", "locale", loc, "entries",
                    (json_int_t)lexicon_n_keys(&m.lx), "direct", (json_int_t)m.by_tier[LXS_DIRECT],
                    "apertium", (json_int_t)m.by_tier[LXS_APERTIUM], "pivot2",
                    (json_int_t)m.by_tier[LXS_PIVOT2], "pivot1", (json_int_t)m.by_tier[LXS_PIVOT1],
                    "dropped", (json_int_t)m.dropped, "en_coverage", cov, "sources", used);
                char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                if (line) puts(line);
                free(line);
                json_decref(j);
            } else {
                printf("%-6s %8zu %8zu %8zu %8zu %8zu %7.1f  %s\n", loc, lexicon_n_keys(&m.lx),
                       m.by_tier[LXS_DIRECT], m.by_tier[LXS_APERTIUM], m.by_tier[LXS_PIVOT2],
                       m.by_tier[LXS_PIVOT1], cov, *used ? used : "-");
            }
            fflush(stdout);
        }
        lxs_merged_free(&m);
        free(text);
    }
    if (rc == CLI_OK && !json && n_loc)
        printf("\n%zu locales, mean English-token coverage %.1f%% (%zu en-US train tokens)\n",
               n_loc, sum_cov / (double)n_loc, en.total);
    lxs_set_free(&set);
    strtab_free(&en.w);
    free(en.cnt);
    if (fflush(stdout) != 0) rc = CLI_ERR;
    return rc;
}
