/*
 * cmd_calibrate.c - `mille calibrate MODEL --data D [--out M2]`: fit the temperature of a
 * model's intent probabilities and its default rejection threshold on dev data (what `mille
 * train` does after training, for models trained before it did, distilled or quantized
 * ones), and report per locale: intent accuracy, expected calibration error before and after,
 * and, when the data has out-of-scope utterances (intents the model does not know, or its
 * "oos" class), how well each score separates them: AUROC and the false-accept rate at the
 * stated in-scope recall (src/train/calib.h has the definitions).
 *
 * Honest numbers: "ece_after" applies to each record a temperature fitted on the other half
 * of the data (two folds by utterance id, so the translations of one utterance fall in one
 * fold); "ece_fit" is the in-sample number of the temperature that is saved, fitted on all.
 * The false-accept rates use each locale's own threshold at the recall (the usual "FAR at
 * 95% TPR"); "far_model" uses the single model-wide threshold that is saved.
 *
 * Includes internal headers (model.h, data.h, calib.h) like cmd_eval.c and cmd_quantize.c.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "cli.h"
#include "data.h"
#include "model.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mille calibrate MODEL --data D [--out M2] [--recall R] [--partition P]\n"
            "                       [--locales L1,L2] [--threads N] [--json]\n\n"
            "Fits the temperature of MODEL's intent probabilities (minimum NLL on D) and its\n"
            "default rejection threshold (the calibrated top probability that keeps R of the\n"
            "in-scope utterances), and reports per locale the intent accuracy, the expected\n"
            "calibration error (%d bins) before and after, and for out-of-scope utterances in\n"
            "D (intents MODEL does not know, or its \"%s\" class) the AUROC and false-accept\n"
            "rate at recall R of each score: prob, margin, energy, maxlogit.\n\n"
            "  --data D         MASSIVE data with gold intents (file, directory, archive)\n"
            "  --out M2         write MODEL with the fitted temperature and threshold\n"
            "                   (default: report only)\n"
            "  --recall R       in-scope recall the threshold keeps (default 0.95)\n"
            "  --partition P    records of partition(s) P (default dev)\n"
            "  --locales L1,L2  only these locales (default all in D)\n"
            "  --threads N      threads for the features (default 2)\n"
            "  --json           one JSON object instead of the table\n\n"
            "exit codes: 0 ok, 1 runtime error, 2 usage error.\n",
            CALIB_BINS, CALIB_OOS_INTENT);
}

/* Metrics of one group of records (a locale, or all). */
typedef struct group_stats {
    size_t n_in, n_out;
    double acc, ece_before, ece_after, ece_fit;
    double ece_loc;   /* ece_after with a temperature per locale (cross-fitted the same way) */
    double ece_floor; /* the ECE a perfectly calibrated model with these confidences would
                         show on this many records: mean over CALIB_FLOOR_DRAWS draws of
                         correctness ~ Bernoulli(confidence) (the estimator's own noise) */
    double auroc[2][CALIB_SCORE_COUNT], far[2][CALIB_SCORE_COUNT]; /* [T = 1, fitted T] */
    double far_model, recall_model; /* at the saved model-wide threshold */
} group_stats;

#define CALIB_FLOOR_DRAWS 20

typedef struct calib_run {
    const calib_logits *c;
    double T, Tfold[2], recall, thr;
    const uint8_t *fold; /* (n) 0 or 1 */
} calib_run;

/* Stats of the records with locale loc (or all when loc == UINT32_MAX); 0 or MILLE_ENOMEM. */
static int group(const calib_run *r, uint32_t loc, group_stats *g)
{
    const calib_logits *c = r->c;
    memset(g, 0, sizeof *g);
    size_t n = 0;
    double *conf1 = malloc((c->n + 1) * sizeof *conf1), *confx = malloc((c->n + 1) * sizeof *confx),
           *conff = malloc((c->n + 1) * sizeof *conff);
    double *sin = malloc((c->n + 1) * sizeof *sin), *sout = malloc((c->n + 1) * sizeof *sout);
    uint8_t *ok = malloc(c->n + 1);
    int rc = MILLE_OK;
    if (!conf1 || !confx || !conff || !sin || !sout || !ok) {
        rc = MILLE_ENOMEM;
        goto out;
    }
    size_t correct = 0;
    /* the locale's own temperature on each fold, for comparison */
    double Tl[2] = {r->Tfold[0], r->Tfold[1]};
    double *confl = malloc((c->n + 1) * sizeof *confl);
    uint8_t *sel = malloc(c->n + 1);
    if (!confl || !sel) {
        free(confl);
        free(sel);
        rc = MILLE_ENOMEM;
        goto out;
    }
    for (int f = 0; f < 2 && loc != UINT32_MAX; f++) {
        for (size_t i = 0; i < c->n; i++) sel[i] = c->locale[i] == loc && r->fold[i] == f;
        Tl[f] = calib_fit_temperature(c->L, c->gold, sel, c->n, c->I);
    }
    for (size_t i = 0; i < c->n; i++) {
        if (loc != UINT32_MAX && c->locale[i] != loc) continue;
        const float *l = c->L + i * c->I;
        int oos = calib_is_oos(c, i);
        g->n_in += !oos;
        g->n_out += oos;
        if (c->gold[i] == CALIB_OOS) continue; /* a class the probabilities cannot describe */
        uint32_t best;
        conf1[n] = calib_score(l, c->I, 1, CALIB_SCORE_PROB, &best);
        confx[n] = calib_score(l, c->I, r->Tfold[!r->fold[i]], CALIB_SCORE_PROB, NULL);
        conff[n] = calib_score(l, c->I, r->T, CALIB_SCORE_PROB, NULL);
        confl[n] = calib_score(l, c->I, Tl[!r->fold[i]], CALIB_SCORE_PROB, NULL);
        ok[n] = best == c->gold[i];
        correct += ok[n] && !oos;
        n++;
    }
    g->acc = g->n_in ? 100.0 * (double)correct / (double)g->n_in : 0;
    g->ece_before = 100 * calib_ece(conf1, ok, n, CALIB_BINS);
    g->ece_after = 100 * calib_ece(confx, ok, n, CALIB_BINS);
    g->ece_fit = 100 * calib_ece(conff, ok, n, CALIB_BINS);
    g->ece_loc = 100 * calib_ece(confl, ok, n, CALIB_BINS);
    rng rg;
    rng_seed(&rg, 1);
    for (int d = 0; d < CALIB_FLOOR_DRAWS; d++) {
        for (size_t i = 0; i < n; i++) sel[i] = rng_uniform(&rg) < confx[i];
        g->ece_floor += 100 * calib_ece(confx, sel, n, CALIB_BINS) / CALIB_FLOOR_DRAWS;
    }
    free(confl);
    free(sel);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < CALIB_SCORE_COUNT; k++) {
            size_t ni = 0, no = 0;
            for (size_t i = 0; i < c->n; i++) {
                if (loc != UINT32_MAX && c->locale[i] != loc) continue;
                double s = calib_score_of(c, i, t ? r->T : 1, k);
                if (calib_is_oos(c, i))
                    sout[no++] = s;
                else
                    sin[ni++] = s;
            }
            g->auroc[t][k] = 100 * calib_auroc(sin, ni, sout, no);
            g->far[t][k] = 100 * calib_accept_rate(sout, no, calib_threshold(sin, ni, r->recall));
            if (t && k == CALIB_SCORE_PROB) {
                g->far_model = 100 * calib_accept_rate(sout, no, r->thr);
                g->recall_model = 100 * calib_accept_rate(sin, ni, r->thr);
            }
        }
out:
    free(conf1);
    free(confx);
    free(conff);
    free(sin);
    free(sout);
    free(ok);
    return rc;
}

static void add_into(group_stats *sum, const group_stats *g)
{
    sum->n_in += g->n_in;
    sum->n_out += g->n_out;
    sum->acc += g->acc;
    sum->ece_before += g->ece_before;
    sum->ece_after += g->ece_after;
    sum->ece_fit += g->ece_fit;
    sum->ece_loc += g->ece_loc;
    sum->ece_floor += g->ece_floor;
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < CALIB_SCORE_COUNT; k++) {
            sum->auroc[t][k] += g->auroc[t][k];
            sum->far[t][k] += g->far[t][k];
        }
    sum->far_model += g->far_model;
    sum->recall_model += g->recall_model;
}

static void scale(group_stats *g, double k)
{
    g->acc *= k, g->ece_before *= k, g->ece_after *= k, g->ece_fit *= k, g->ece_loc *= k;
    g->ece_floor *= k;
    for (int t = 0; t < 2; t++)
        for (int j = 0; j < CALIB_SCORE_COUNT; j++) g->auroc[t][j] *= k, g->far[t][j] *= k;
    g->far_model *= k, g->recall_model *= k;
}

static double r4(double x) { return round(x * 1e4) / 1e4; }

static json_t *stats_json(const group_stats *g)
{
    json_t *o = json_pack("{s:I,s:I,s:f,s:f,s:f,s:f,s:f}", "n_in", (json_int_t)g->n_in, "n_oos",
                          (json_int_t)g->n_out, "intent_accuracy", r4(g->acc), "ece_before",
                          r4(g->ece_before), "ece_after", r4(g->ece_after), "ece_fit",
                          r4(g->ece_fit), "ece_after_locale_t", r4(g->ece_loc));
    if (o) json_object_set_new(o, "ece_floor", json_real(r4(g->ece_floor)));
    if (!o || !g->n_out || !g->n_in) return o;
    json_t *sc = json_object();
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < CALIB_SCORE_COUNT; k++) {
            char name[32];
            snprintf(name, sizeof name, "%s%s", calib_score_name[k], t ? "" : "_t1");
            json_object_set_new(
                sc, name,
                json_pack("{s:f,s:f}", "auroc", r4(g->auroc[t][k]), "far", r4(g->far[t][k])));
        }
    json_object_set_new(o, "scores", sc);
    json_object_set_new(o, "far_model", json_real(r4(g->far_model)));
    json_object_set_new(o, "recall_model", json_real(r4(g->recall_model)));
    return o;
}

static void print_row(const char *name, const group_stats *g)
{
    printf("%-8s %6zu %6zu %8.2f %8.2f %8.2f %8.2f %8.2f", name, g->n_in, g->n_out, g->acc,
           g->ece_before, g->ece_after, g->ece_loc, g->ece_floor);
    if (g->n_out && g->n_in)
        printf(" %8.2f %8.2f %8.2f\n", g->auroc[1][CALIB_SCORE_PROB], g->far[1][CALIB_SCORE_PROB],
               g->far_model);
    else
        printf("\n");
}

/* Fold of record r: the parity of a hash of its id (MASSIVE ids are shared by the
 * translations of an utterance, so they land in one fold). */
static uint8_t fold_of(const data_set *ds, uint32_t r)
{
    const char *id = data_str(ds, ds->recs[r].id);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (uint8_t)((h >> 17) & 1);
}

int cmd_calibrate(int argc, char **argv)
{
    const char *in = NULL, *data = NULL, *out = NULL, *partition = "dev", *locales = NULL, *v;
    double recall = 0.95;
    long threads = 2;
    int json = 0, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--data", &bad))) {
            data = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partition", &bad))) {
            partition = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locales", &bad))) {
            locales = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--recall", &bad))) {
            bad = cli_double("calibrate", "--recall", v, 0.01, 1, &recall);
        } else if ((v = cli_opt_value(argc, argv, &i, "--threads", &bad))) {
            bad = cli_long("calibrate", "--threads", v, 1, 64, &threads);
        } else if (bad) {
            break;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mille calibrate: unknown option '%s'\n", argv[i]);
            bad = 1;
        } else if (!in) {
            in = argv[i];
        } else {
            fprintf(stderr, "mille calibrate: unexpected argument '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!in || !data)) {
        fprintf(stderr, "mille calibrate: %s\n", !in ? "MODEL is required" : "--data is required");
        bad = 1;
    }
    if (!bad && out && strcmp(out, "-") == 0) {
        fprintf(stderr, "mille calibrate: --out must be a file (written atomically)\n");
        bad = 1;
    }
    if (bad) {
        usage(stderr);
        return CLI_USAGE;
    }
    mille_error err;
    model m;
    data_set ds = {0};
    calib_logits cl = {0};
    uint32_t *idx = NULL;
    uint8_t *fold = NULL;
    group_stats *gs = NULL;
    int rc = CLI_ERR;
    if (model_load(&m, in, &err) < 0) {
        fprintf(stderr, "mille calibrate: %s\n", err.msg);
        return CLI_ERR;
    }
    data_opts o = data_default_opts();
    o.mode = DATA_GOLD;
    o.partitions = partition;
    o.locales = locales;
    if (m.pretrained) {
        fprintf(stderr, "mille calibrate: %s: a pretrained embedding, not a trained model\n", in);
        goto done;
    }
    if (data_load(&ds, data, &o, &err) < 0) {
        fprintf(stderr, "mille calibrate: %s\n", err.msg);
        goto done;
    }
    if (!(idx = malloc((ds.n + 1) * sizeof *idx))) goto oom;
    for (size_t i = 0; i < ds.n; i++) idx[i] = (uint32_t)i;
    if (calib_collect(&m, &ds, NULL, idx, ds.n, (int)threads, &cl, &err) < 0) {
        fprintf(stderr, "mille calibrate: %s\n", err.msg);
        goto done;
    }
    size_t n_in = 0;
    for (size_t i = 0; i < cl.n; i++) n_in += !calib_is_oos(&cl, i);
    if (!n_in) {
        fprintf(stderr,
                "mille calibrate: %s: no in-scope record (partition %s%s%s) to calibrate on\n",
                data, partition, locales ? ", locales " : "", locales ? locales : "");
        goto done;
    }
    if (!(fold = malloc(cl.n + 1))) goto oom;
    for (size_t i = 0; i < cl.n; i++) fold[i] = fold_of(&ds, cl.rec[i]);
    float T0 = m.temperature;
    if (calib_apply(&m, &cl, recall)) goto oom;
    calib_run run = {&cl, m.temperature, {1, 1}, recall, m.reject_below, fold};
    for (int f = 0; f < 2; f++) {
        uint8_t *sel = malloc(cl.n + 1);
        if (!sel) goto oom;
        for (size_t i = 0; i < cl.n; i++) sel[i] = fold[i] == f;
        run.Tfold[f] = calib_fit_temperature(cl.L, cl.gold, sel, cl.n, cl.I);
        free(sel);
    }
    size_t L = ds.locales.n;
    if (!(gs = calloc(L + 2, sizeof *gs))) goto oom;
    group_stats avg = {0};
    size_t n_loc = 0;
    for (uint32_t l = 0; l < L; l++) {
        if (group(&run, l, &gs[l])) goto oom;
        if (!gs[l].n_in && !gs[l].n_out) continue;
        add_into(&avg, &gs[l]);
        n_loc++;
    }
    if (n_loc) scale(&avg, 1.0 / (double)n_loc);
    group_stats pooled;
    if (group(&run, UINT32_MAX, &pooled)) goto oom;
    if (T0 != 1)
        fprintf(stderr, "mille calibrate: %s already had temperature %.4f (refitted from logits)\n",
                in, (double)T0);
    if (json) {
        json_t *root =
            json_pack("{s:f,s:[f,f],s:f,s:f,s:i}", "temperature", r4(run.T), "temperature_folds",
                      r4(run.Tfold[0]), r4(run.Tfold[1]), "reject_below", (double)m.reject_below,
                      "recall", recall, "bins", CALIB_BINS);
        json_t *by = json_object();
        for (uint32_t l = 0; l < L; l++)
            if (gs[l].n_in || gs[l].n_out)
                json_object_set_new(by, strtab_str(&ds.locales, l), stats_json(&gs[l]));
        json_object_set_new(root, "average", stats_json(&avg));
        json_object_set_new(root, "pooled", stats_json(&pooled));
        json_object_set_new(root, "by_locale", by);
        char *s = json_dumps(root, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(root);
        if (!s) goto oom;
        printf("%s\n", s);
        free(s);
    } else {
        printf("temperature %.4f (folds %.4f, %.4f); threshold %.4f keeps %.0f%% of in-scope "
               "utterances\n",
               run.T, run.Tfold[0], run.Tfold[1], (double)m.reject_below, 100 * recall);
        printf("%-8s %6s %6s %8s %8s %8s %8s %8s %8s %8s %8s\n", "locale", "n_in", "n_oos",
               "intent", "ece_bef", "ece_aft", "ece_locT", "ece_flr", "auroc", "far", "far_mod");
        for (uint32_t l = 0; l < L; l++)
            if (gs[l].n_in || gs[l].n_out) print_row(strtab_str(&ds.locales, l), &gs[l]);
        print_row("average", &avg);
        print_row("pooled", &pooled);
        if (avg.n_out) {
            printf("\nscores, mean over locales: AUROC / false-accept rate at %.0f%% recall\n",
                   100 * recall);
            for (int k = 0; k < CALIB_SCORE_COUNT; k++)
                printf("  %-9s T=1: %6.2f / %6.2f   T=%.3f: %6.2f / %6.2f\n", calib_score_name[k],
                       avg.auroc[0][k], avg.far[0][k], run.T, avg.auroc[1][k], avg.far[1][k]);
        }
    }
    if (out) {
        /* keep the embedding's storage: half stays half, f32 stays f32 (int8 is kept anyway) */
        if (model_save(&m, out, m.emb16 != NULL, &err) < 0) {
            fprintf(stderr, "mille calibrate: %s\n", err.msg);
            goto done;
        }
        fprintf(stderr, "mille calibrate: wrote %s (temperature %.4f, reject below %.4f)\n", out,
                run.T, (double)m.reject_below);
    }
    rc = fflush(stdout) == 0 ? CLI_OK : CLI_ERR;
    goto done;
oom:
    fprintf(stderr, "mille calibrate: out of memory\n");
done:
    free(gs);
    free(fold);
    free(idx);
    calib_logits_free(&cl);
    data_free(&ds);
    model_free(&m);
    return rc;
}
