/*
 * cmd_eval.c - `mille eval GOLD PRED`: MASSIVE's official metrics (exact match, intent
 * accuracy, slot micro F1; per locale and the unweighted mean over locales) of a prediction
 * file against gold data. Rules and deviations: docs/eval.md; the scoring is src/data/eval.c.
 *
 * This command includes the internal headers data.h and eval.h: the public header has no
 * data or eval API yet. When mille.h grows one (mille_eval_*), this file should move to it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "calib.h"
#include "cli.h"
#include "data.h"
#include "eval.h"
#include "eval_html.h"
#include "slu.h"

#define NOTE_SHOWN 5 /* records shown per kind of note; the rest are only counted */

static void eval_usage(FILE *f)
{
    fprintf(
        f,
        "usage: mille eval GOLD PRED [--locales L1,L2] [--partition P] [--json] [--strict]\n"
        "                 [--html FILE [--baseline JSON]]\n"
        "\n"
        "Scores predictions with MASSIVE's official metrics (docs/eval.md).\n"
        "\n"
        "  GOLD             MASSIVE data: .jsonl, .jsonl.gz, a directory of them, or the\n"
        "                   release archive (.tar.gz)\n"
        "  PRED             JSON lines {id, locale, intent, annot_utt[, utt]}; '-' = stdin\n"
        "  --locales LIST   score only these locales (default: all in GOLD)\n"
        "  --partition P    score only gold records of partition(s) P, e.g. dev\n"
        "                   (default: every gold record)\n"
        "  --json           print {\"average\": {...}, \"by_locale\": {...}} (percent, rounded\n"
        "                   to 1e-6) instead of the table (default: table)\n"
        "  --strict         a malformed line is an error (default: report it and skip it)\n"
        "  --html FILE      also write a self-contained HTML report: per-locale bars, the\n"
        "                   most confused intent pairs with examples, F1 per slot type, a\n"
        "                   reliability diagram (when predictions carry a confidence)\n"
        "  --baseline JSON  with --html: another run's `mille eval --json` output, drawn\n"
        "                   beside this one with the differences\n"
        "  --slu-f1         also SLURP's SLU-F1 over all scored records (docs/eval.md):\n"
        "                   slot values compared as text, partial credit for near misses\n"
        "\n"
        "When the predictions carry \"confidence\" (mille predict writes it), each locale also\n"
        "gets its expected calibration error of the intent (ece: percent, %d equal-width\n"
        "bins; 0 = confidence means accuracy) and the table a column for it.\n"
        "\n"
        "Records match by (locale, id). Gold records without a prediction count as wrong.\n"
        "exit codes: 0 ok, 1 runtime error (unreadable or malformed input), 2 usage error.\n",
        CALIB_BINS);
}

static void on_skip(void *ud, const mille_error *e)
{
    (void)ud;
    fprintf(stderr, "mille eval: skipped %s\n", e->msg);
}

static const char *note_what[EVAL_NOTE_COUNT] = {
    [EVAL_NOTE_MISSING] = "gold records without a prediction (scored as wrong)",
    [EVAL_NOTE_EXTRA] = "predictions matching no selected gold record (ignored)",
    [EVAL_NOTE_DUPLICATE] = "duplicate predictions (the first one is used)",
    [EVAL_NOTE_TEXT] = "predictions whose text differs from the gold utt (compared by position)",
    [EVAL_NOTE_BAD_ANNOT] = "predictions with an unparsable annot_utt (all labels Other)",
};

static void on_note(void *ud, int kind, const data_set *ds, const data_record *r, const char *msg)
{
    size_t *seen = ud;
    if (seen[kind]++ >= NOTE_SHOWN) return;
    fprintf(stderr, "mille eval: %s:%u: %s locale %s id %s%s%s\n", strtab_str(&ds->srcs, r->src),
            r->line,
            kind == EVAL_NOTE_MISSING     ? "no prediction for"
            : kind == EVAL_NOTE_EXTRA     ? "no gold record for"
            : kind == EVAL_NOTE_DUPLICATE ? "duplicate prediction for"
            : kind == EVAL_NOTE_TEXT      ? "text differs from gold utt for"
                                          : "bad annot_utt for",
            strtab_str(&ds->locales, r->locale), data_str(ds, r->id), *msg ? ": " : "", msg);
}

/* ---- calibration of the predictions' "confidence" ---------------------------------------------
 */

/* Per gold locale: the ECE of the predictions that carry a confidence, in percent, or -1 for
 * a locale without any (pred_of: eval_match). Returns 1 if any prediction had a confidence,
 * 0 if none, -1 when out of memory. */
static int confidence_ece(const data_set *gold, const data_set *pred, const int64_t *pred_of,
                          double *ece)
{
    size_t L = gold->locales.n;
    for (size_t l = 0; l < L; l++) ece[l] = -1;
    int any = 0;
    for (size_t i = 0; i < pred->n && !any; i++) any = pred->recs[i].confidence >= 0;
    if (!any) return 0;
    double *c = malloc((gold->n + 1) * sizeof *c);
    uint8_t *k = malloc(gold->n + 1);
    if (!c || !k) {
        free(c);
        free(k);
        return -1;
    }
    /* a pass per locale keeps this simple (there are 52 or so) */
    for (size_t l = 0; l < L; l++) {
        size_t n = 0;
        for (size_t i = 0; i < gold->n; i++) {
            const data_record *r = &gold->recs[i];
            if (r->locale != l || pred_of[i] < 0 || pred->recs[pred_of[i]].confidence < 0) continue;
            const data_record *q = &pred->recs[pred_of[i]];
            c[n] = q->confidence;
            k[n] = strcmp(strtab_str(&gold->intents, r->intent),
                          strtab_str(&pred->intents, q->intent)) == 0;
            n++;
        }
        if (n) ece[l] = 100 * calib_ece(c, k, n, CALIB_BINS);
    }
    free(c);
    free(k);
    return 1;
}

/* Unweighted mean of the locales' ECE over those listed in order[0..n) that have one. */
static double mean_ece(const double *ece, const uint32_t *order, size_t n)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ece[order[i]] >= 0) s += ece[order[i]], k++;
    return k ? s / (double)k : -1;
}

/* Percent rounded to 1e-6, so that the JSON text does not depend on the last bits. */
static double r6(double x) { return round(x * 1e6) / 1e6; }

static json_t *metrics_json(const eval_metrics *m, int average)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    if (!average) bad |= json_object_set_new(o, "n", json_integer((json_int_t)m->n));
    bad |= json_object_set_new(o, "exact_match", json_real(r6(m->exact_match)));
    bad |= json_object_set_new(o, "intent_accuracy", json_real(r6(m->intent_accuracy)));
    bad |= json_object_set_new(o, "slot_f1", json_real(r6(m->slot_f1)));
    if (average) bad |= json_object_set_new(o, "locales", json_integer((json_int_t)m->n_locales));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* qsort has no user pointer: the table of the locale names being sorted. */
static const strtab *sort_tab;
static int cmp_locale(const void *a, const void *b)
{
    return strcmp(strtab_str(sort_tab, *(const uint32_t *)a),
                  strtab_str(sort_tab, *(const uint32_t *)b));
}

/* The JSON report of --json (and of the HTML page), or NULL when out of memory. */
static json_t *report_json(const data_set *gold, const eval_acc *acc, const uint32_t *order,
                           size_t n, const double *ece)
{
    eval_metrics avg = eval_average(acc);
    json_t *root = json_object(), *by = json_object();
    int bad = !root || !by;
    json_t *ja = bad ? NULL : metrics_json(&avg, 1);
    double me = ece ? mean_ece(ece, order, n) : -1;
    if (ja && me >= 0) bad |= json_object_set_new(ja, "ece", json_real(r6(me)));
    if (!bad) bad |= json_object_set_new(root, "average", ja);
    for (size_t i = 0; !bad && i < n; i++) {
        eval_metrics m = eval_locale_metrics(acc, order[i]);
        json_t *jl = metrics_json(&m, 0);
        if (jl && ece && ece[order[i]] >= 0)
            bad |= json_object_set_new(jl, "ece", json_real(r6(ece[order[i]])));
        bad |= json_object_set_new(by, strtab_str(&gold->locales, order[i]), jl);
    }
    if (!bad) bad |= json_object_set(root, "by_locale", by);
    json_decref(by);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static int print_json(json_t *root)
{
    char *s = root ? json_dumps(root, JSON_REAL_PRECISION(15)) : NULL;
    if (!s) {
        fprintf(stderr, "mille eval: out of memory\n");
        return CLI_ERR;
    }
    printf("%s\n", s);
    free(s);
    return CLI_OK;
}

static void print_table(const data_set *gold, const eval_acc *acc, const uint32_t *order, size_t n,
                        const double *ece)
{
    printf("%-8s %8s %12s %12s %9s%s\n", "locale", "n", "exact_match", "intent_acc", "slot_f1",
           ece ? "       ece" : "");
    for (size_t i = 0; i < n; i++) {
        eval_metrics m = eval_locale_metrics(acc, order[i]);
        printf("%-8s %8llu %12.2f %12.2f %9.2f", strtab_str(&gold->locales, order[i]),
               (unsigned long long)m.n, m.exact_match, m.intent_accuracy, m.slot_f1);
        if (ece && ece[order[i]] >= 0) printf(" %9.2f", ece[order[i]]);
        printf("\n");
    }
    eval_metrics a = eval_average(acc);
    printf("%-8s %8llu %12.2f %12.2f %9.2f", "average", (unsigned long long)a.n, a.exact_match,
           a.intent_accuracy, a.slot_f1);
    double me = ece ? mean_ece(ece, order, n) : -1;
    if (me >= 0) printf(" %9.2f", me);
    printf("   (unweighted mean of %zu locales)\n", a.n_locales);
}

int cmd_eval(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL}, *locales = NULL, *partition = NULL, *html = NULL,
               *baseline = NULL;
    int json = 0, strict = 0, n_paths = 0, bad = 0, slu_f1 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_help(a)) {
            eval_usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locales", &bad))) {
            locales = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partition", &bad))) {
            partition = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--html", &bad))) {
            html = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--baseline", &bad))) {
            baseline = v;
        } else if (bad) {
            break;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--strict") == 0) {
            strict = 1;
        } else if (strcmp(a, "--slu-f1") == 0) {
            slu_f1 = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "mille eval: unknown option '%s'\n", a);
            bad = 1;
        } else if (n_paths < 2) {
            paths[n_paths++] = a;
        } else {
            fprintf(stderr, "mille eval: unexpected argument '%s'\n", a);
            bad = 1;
        }
    }
    if (!bad && n_paths != 2) {
        fprintf(stderr, "mille eval: expected GOLD and PRED\n");
        bad = 1;
    }
    if (!bad && baseline && !html) {
        fprintf(stderr, "mille eval: --baseline needs --html (the report draws it)\n");
        bad = 1;
    }
    if (!bad && ((locales && !*locales) || (partition && !*partition))) {
        fprintf(stderr, "mille eval: empty --locales or --partition\n");
        bad = 1;
    }
    if (bad) {
        eval_usage(stderr);
        return CLI_USAGE;
    }

    data_set gold = {0}, pred = {0};
    eval_report rep = {0};
    mille_error err = {0};
    uint32_t *order = NULL;
    double *ece = NULL;
    int64_t *pred_of = NULL;
    json_t *root = NULL;
    int rc = CLI_ERR;
    data_opts go = data_default_opts();
    go.mode = DATA_GOLD;
    go.locales = locales;
    go.partitions = partition;
    go.strict = strict;
    go.on_skip = on_skip;
    data_opts po = go;
    po.mode = DATA_PRED;
    /* predictions need not carry a partition; those that do (mille predict copies it) and
     * name another one are left out silently */

    if (data_load(&gold, paths[0], &go, &err) < 0 || data_load(&pred, paths[1], &po, &err) < 0) {
        fprintf(stderr, "mille eval: %s\n", err.msg);
        goto out;
    }
    if (gold.n == 0) {
        fprintf(stderr, "mille eval: %s: no gold records%s%s%s%s\n", paths[0],
                locales ? " in locales " : "", locales ? locales : "",
                partition ? " in partition " : "", partition ? partition : "");
        goto out;
    }
    size_t seen[EVAL_NOTE_COUNT] = {0};
    if (eval_sets(&gold, &pred, &rep, on_note, seen, &err) < 0) {
        fprintf(stderr, "mille eval: %s\n", err.msg);
        goto out;
    }
    if (gold.n_skipped)
        fprintf(stderr, "mille eval: %s: %zu malformed records skipped\n", paths[0],
                gold.n_skipped);
    if (pred.n_skipped)
        fprintf(stderr, "mille eval: %s: %zu malformed records skipped\n", paths[1],
                pred.n_skipped);
    for (int k = 0; k < EVAL_NOTE_COUNT; k++)
        if (rep.notes[k]) fprintf(stderr, "mille eval: %zu %s\n", rep.notes[k], note_what[k]);

    size_t n = 0;
    order = malloc((gold.locales.n + 1) * sizeof *order);
    if (!order) {
        fprintf(stderr, "mille eval: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < rep.acc.n_loc; i++)
        if (rep.acc.loc[i].n) order[n++] = (uint32_t)i;
    sort_tab = &gold.locales;
    qsort(order, n, sizeof *order, cmp_locale);
    ece = malloc((gold.locales.n + 1) * sizeof *ece);
    pred_of = malloc((gold.n + 1) * sizeof *pred_of);
    int has_conf = ece && pred_of && !eval_match(&gold, &pred, pred_of)
                       ? confidence_ece(&gold, &pred, pred_of, ece)
                       : -1;
    if (has_conf < 0) {
        fprintf(stderr, "mille eval: out of memory\n");
        goto out;
    }
    root = report_json(&gold, &rep.acc, order, n, has_conf ? ece : NULL);
    slu_acc slu = {0};
    if (slu_f1 && slu_sets(&gold, &pred, pred_of, &slu, &err) < 0) {
        fprintf(stderr, "mille eval: %s\n", err.msg);
        goto out;
    }
    slu_metrics sm = slu_metrics_of(&slu);
    if (slu_f1 && root)
        json_object_set_new(root, "slu",
                            json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)sm.n,
                                      "slu_f1", sm.slu.f1, "slu_precision", sm.slu.p, "slu_recall",
                                      sm.slu.r, "span_f1", sm.span.f1, "word_f1", sm.word.f1,
                                      "char_f1", sm.chr.f1));
    if (json) {
        rc = print_json(root);
    } else {
        print_table(&gold, &rep.acc, order, n, has_conf ? ece : NULL);
        if (slu_f1)
            printf("SLU-F1 %.2f (P %.2f R %.2f)  span F1 %.2f  word F1 %.2f  char F1 %.2f  "
                   "(%zu records)\n",
                   sm.slu.f1, sm.slu.p, sm.slu.r, sm.span.f1, sm.word.f1, sm.chr.f1, sm.n);
        rc = CLI_OK;
    }
    if (rc == CLI_OK && html) {
        json_t *base = NULL;
        if (baseline) {
            json_error_t je;
            base = json_load_file(baseline, 0, &je);
            if (!base || !json_is_object(json_object_get(base, "by_locale")) ||
                !json_is_object(json_object_get(base, "average"))) {
                fprintf(stderr, "mille eval: %s:%d: not a report of mille eval --json (%s)\n",
                        baseline, base ? 1 : je.line,
                        base ? "no \"average\" and \"by_locale\"" : je.text);
                json_decref(base);
                rc = CLI_ERR;
                goto out;
            }
        }
        if (!root || eval_html_write(html, root, &gold, &pred, pred_of, base) < 0) rc = CLI_ERR;
        json_decref(base);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mille eval: cannot write the results\n");
        rc = CLI_ERR;
    }
out:
    free(order);
    free(ece);
    free(pred_of);
    json_decref(root);
    eval_report_free(&rep);
    data_free(&gold);
    data_free(&pred);
    return rc;
}
