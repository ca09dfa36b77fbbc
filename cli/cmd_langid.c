/*
 * cmd_langid.c - the language-identification head of a model (issue 12, part 4):
 *
 *   mille langid-fit MODEL --data DATA --out MODEL2   fit the head on the train partition
 *                                                      (frozen model), choose on dev, write
 *                                                      MODEL2 = MODEL + the head
 *   mille langid-eval MODEL --data DATA                per-locale accuracy on dev and the
 *                                                      confusions between close locales
 *
 * Both print JSON lines on stdout and progress on stderr. The intent and slot parts of
 * MODEL2 are MODEL's, byte for byte (only the header grows a "langid" section and the data a
 * few tensors after the model's).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "data.h"
#include "langid_fit.h"
#include "model.h"
#include "out.h"

/* The close locales whose confusions are reported (issue 12): Scandinavian, Malay/Indonesian,
 * Iberian, and the two written forms of Chinese. */
static const char *const close_groups[][4] = {
    {"nb-NO", "da-DK", "sv-SE", NULL},
    {"ms-MY", "id-ID", NULL, NULL},
    {"es-ES", "ca-ES", "pt-PT", NULL},
    {"zh-CN", "zh-TW", NULL, NULL},
};

static void fit_usage(FILE *f)
{
    langid_fit_opts d = langid_fit_default_opts();
    fprintf(f,
            "usage: mille langid-fit MODEL --data DATA --out MODEL2 [options]\n\n"
            "Fits a language-identification head for MODEL on the records of partition \"train\"\n"
            "of DATA (the locale of each record is its label), keeps the epoch with the best\n"
            "accuracy on partition \"dev\", and writes MODEL2: MODEL with the head (its intent\n"
            "and slot predictions unchanged). Prints one JSON line with what it measured.\n\n"
            "  --data DATA       MASSIVE data with train and dev partitions (.jsonl[.gz], dir, "
            ".tar.gz)\n"
            "  --out MODEL2      file to write (atomically)\n"
            "  --features F      what the head reads, joined by '+' (default %s):\n"
            "                    ngram  a table of its own at the model's hashed feature ids\n"
            "                           (fastText: words, character n-grams, pre-tokens)\n"
            "                    emb    the mean of the model's embedding rows at those ids\n"
            "                    pool   the encoder's pooled output (a forward pass)\n"
            "  --rows R          rows of the ngram table (default %u)\n"
            "  --width Q         their width (default %u)\n"
            "  --epochs N        passes over train (default %d)\n"
            "  --lr X            SGD step, decayed linearly to 0 (default %g)\n"
            "  --l2 X            weight decay (default %g)\n"
            "  --seed S          order of the utterances (default %llu)\n"
            "  --per-locale N    use the first N train utterances of each locale (default all)\n"
            "  --quiet           no progress on stderr\n",
            langid_feats_name(d.feats), d.rows, d.width, d.epochs, d.lr, d.l2,
            (unsigned long long)d.seed);
}

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: mille langid-eval MODEL --data DATA [--partition P]\n\n"
               "Identifies the locale of every record of partition P (default dev) of DATA with\n"
               "MODEL's language-identification head, words split by script as for a request\n"
               "without a locale. Prints one JSON line per locale (n, accuracy, the locale it is\n"
               "most often taken for) and a summary line: the mean of the per-locale accuracies,\n"
               "the accuracy over all records, and the confusion rates between close locales\n"
               "(nb/da/sv, ms/id, es/ca/pt, zh-CN/zh-TW).\n");
}

/* MODEL, --data and --out/--partition of both commands; the rest goes to other(). */
typedef struct langid_args {
    const char *model, *data, *out, *partition;
} langid_args;

static int load_data(const char *cmd, const char *path, const char *parts, data_set *ds)
{
    mille_error err;
    data_opts o = data_default_opts();
    o.mode = DATA_TEXT;
    o.partitions = parts;
    memset(ds, 0, sizeof *ds);
    if (data_load(ds, path, &o, &err) < 0) {
        fprintf(stderr, "mille %s: %s\n", cmd, err.msg);
        data_free(ds);
        return -1;
    }
    return 0;
}

int cmd_langid_fit(int argc, char **argv)
{
    langid_args a = {0};
    langid_fit_opts o = langid_fit_default_opts();
    o.verbose = 1;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        long x;
        double dx;
        if (cli_is_help(argv[i])) {
            fit_usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--data", &bad))) {
            a.data = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            a.out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--features", &bad))) {
            if (!(o.feats = langid_feats_parse(v))) {
                fprintf(stderr, "mille langid-fit: --features must be ngram, emb, pool or "
                                "a '+' join of them in that order\n");
                bad = 1;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--epochs", &bad))) {
            if (cli_long("langid-fit", "--epochs", v, 1, 1000, &x)) bad = 1;
            o.epochs = (int)x;
        } else if ((v = cli_opt_value(argc, argv, &i, "--rows", &bad))) {
            if (cli_long("langid-fit", "--rows", v, 1, LANGID_MAX_ROWS, &x)) bad = 1;
            o.rows = (uint32_t)x;
        } else if ((v = cli_opt_value(argc, argv, &i, "--width", &bad))) {
            if (cli_long("langid-fit", "--width", v, 1, LANGID_MAX_Q, &x)) bad = 1;
            o.width = (uint32_t)x;
        } else if ((v = cli_opt_value(argc, argv, &i, "--per-locale", &bad))) {
            if (cli_long("langid-fit", "--per-locale", v, 0, 1L << 30, &x)) bad = 1;
            o.per_locale = (size_t)x;
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &bad))) {
            if (cli_long("langid-fit", "--seed", v, 0, 1L << 62, &x)) bad = 1;
            o.seed = (uint64_t)x;
        } else if ((v = cli_opt_value(argc, argv, &i, "--lr", &bad))) {
            if (cli_double("langid-fit", "--lr", v, 1e-6, 10, &dx)) bad = 1;
            o.lr = dx;
        } else if ((v = cli_opt_value(argc, argv, &i, "--l2", &bad))) {
            if (cli_double("langid-fit", "--l2", v, 0, 10, &dx)) bad = 1;
            o.l2 = dx;
        } else if (bad) {
            break;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o.verbose = 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mille langid-fit: unknown option '%s'\n", argv[i]);
            bad = 1;
        } else if (!a.model) {
            a.model = argv[i];
        } else {
            fprintf(stderr, "mille langid-fit: unexpected argument '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!a.model || !a.data || !a.out)) {
        fprintf(stderr, "mille langid-fit: MODEL, --data and --out are required\n");
        bad = 1;
    }
    if (!bad && strcmp(a.out, "-") == 0) {
        fprintf(stderr, "mille langid-fit: --out must be a file (written atomically)\n");
        bad = 1;
    }
    if (bad) {
        fit_usage(stderr);
        return CLI_USAGE;
    }
    mille_error err;
    model m;
    if (model_load(&m, a.model, &err) < 0) {
        fprintf(stderr, "mille langid-fit: %s\n", err.msg);
        return CLI_ERR;
    }
    if (m.pretrained) {
        fprintf(stderr, "mille langid-fit: %s is a pretrained embedding, not a trained model\n",
                a.model);
        model_free(&m);
        return CLI_ERR;
    }
    data_set ds;
    if (load_data("langid-fit", a.data, "train,dev", &ds)) {
        model_free(&m);
        return CLI_ERR;
    }
    langid_fit_info info;
    int rc = langid_fit(&m, &ds, &o, &info, &err);
    if (!rc) rc = model_save(&m, a.out, m.emb16 != NULL, &err); /* keep an f16 embedding f16 */
    if (rc) {
        fprintf(stderr, "mille langid-fit: %s\n", err.msg);
    } else {
        struct stat s0, s1;
        long long added = stat(a.model, &s0) == 0 && stat(a.out, &s1) == 0
                              ? (long long)s1.st_size - (long long)s0.st_size
                              : -1;
        json_t *j = json_pack(
            "{s:s,s:s,s:I,s:I,s:I,s:I,s:i,s:f,s:f,s:f,s:I}", "model", a.out, "features",
            langid_feats_name(o.feats), "locales", (json_int_t)m.lid.K, "feature_width",
            (json_int_t)m.lid.F, "train", (json_int_t)info.n_train, "dev", (json_int_t)info.n_dev,
            "best_epoch", info.best_epoch, "dev_accuracy", info.dev_acc, "seconds_features",
            info.t_features, "seconds_fit", info.t_fit, "bytes_added", (json_int_t)added);
        out_buf ob = out_open("-");
        out_json(&ob, j);
    }
    data_free(&ds);
    model_free(&m);
    if (fflush(stdout) != 0) rc = -1;
    return rc ? CLI_ERR : CLI_OK;
}

int cmd_langid_eval(int argc, char **argv)
{
    langid_args a = {0};
    a.partition = "dev";
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (cli_is_help(argv[i])) {
            eval_usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--data", &bad))) {
            a.data = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partition", &bad))) {
            a.partition = v;
        } else if (bad) {
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mille langid-eval: unknown option '%s'\n", argv[i]);
            bad = 1;
        } else if (!a.model) {
            a.model = argv[i];
        } else {
            fprintf(stderr, "mille langid-eval: unexpected argument '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!a.model || !a.data)) {
        fprintf(stderr, "mille langid-eval: MODEL and --data are required\n");
        bad = 1;
    }
    if (bad) {
        eval_usage(stderr);
        return CLI_USAGE;
    }
    mille_error err;
    model m;
    if (model_load(&m, a.model, &err) < 0) {
        fprintf(stderr, "mille langid-eval: %s\n", err.msg);
        return CLI_ERR;
    }
    if (!m.lid.K) {
        fprintf(stderr,
                "mille langid-eval: %s has no language-identification head (mille langid-fit)\n",
                a.model);
        model_free(&m);
        return CLI_ERR;
    }
    data_set ds;
    if (load_data("langid-eval", a.data, a.partition, &ds)) {
        model_free(&m);
        return CLI_ERR;
    }
    size_t K = m.lid.K;
    uint64_t *conf = calloc(K * K, sizeof *conf);
    uint32_t *idx = malloc((ds.n + 1) * sizeof *idx);
    int rc = CLI_ERR;
    if (!conf || !idx) {
        fprintf(stderr, "mille langid-eval: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < ds.n; i++) idx[i] = (uint32_t)i;
    double t0 = clock_s();
    long cnt = langid_confusions(&m, &ds, idx, ds.n, conf, &err);
    double secs = clock_s() - t0;
    if (cnt < 0) {
        fprintf(stderr, "mille langid-eval: %s\n", err.msg);
        goto done;
    }
    out_buf ob = out_open("-");
    double mean = 0, ok_all = 0;
    size_t n_loc = 0;
    for (size_t g = 0; g < K; g++) {
        uint64_t n = 0, other = 0;
        size_t worst = g;
        for (size_t p = 0; p < K; p++) {
            n += conf[g * K + p];
            if (p != g && conf[g * K + p] > other) other = conf[g * K + (worst = p)];
        }
        if (!n) continue;
        double acc = (double)conf[g * K + g] / (double)n;
        mean += acc;
        ok_all += (double)conf[g * K + g];
        n_loc++;
        json_t *j = json_pack("{s:s,s:I,s:f}", "locale", strtab_str(&m.lid.locales, g), "n",
                              (json_int_t)n, "accuracy", acc);
        if (other)
            json_object_set_new(j, "most_confused_with",
                                json_pack("{s:s,s:f}", "locale", strtab_str(&m.lid.locales, worst),
                                          "rate", (double)other / (double)n));
        out_json(&ob, j);
    }
    json_t *pairs = json_array();
    for (size_t q = 0; q < sizeof close_groups / sizeof *close_groups; q++)
        for (size_t x = 0; close_groups[q][x]; x++)
            for (size_t y = 0; close_groups[q][y]; y++) {
                if (x == y) continue;
                int64_t gx = strtab_find(&m.lid.locales, close_groups[q][x],
                                         strlen(close_groups[q][x])),
                        gy = strtab_find(&m.lid.locales, close_groups[q][y],
                                         strlen(close_groups[q][y]));
                if (gx < 0 || gy < 0) continue;
                uint64_t n = 0;
                for (size_t p = 0; p < K; p++) n += conf[(size_t)gx * K + p];
                if (!n) continue;
                json_array_append_new(
                    pairs, json_pack("{s:s,s:s,s:f}", "gold", close_groups[q][x], "predicted",
                                     close_groups[q][y], "rate",
                                     (double)conf[(size_t)gx * K + (size_t)gy] / (double)n));
            }
    json_t *j = json_pack("{s:s,s:I,s:I,s:f,s:f,s:o,s:f}", "partition", a.partition, "records",
                          (json_int_t)cnt, "locales", (json_int_t)n_loc, "mean_accuracy",
                          n_loc ? mean / (double)n_loc : 0.0, "accuracy",
                          cnt ? ok_all / (double)cnt : 0.0, "close_pairs", pairs, "seconds", secs);
    out_json(&ob, j);
    rc = fflush(stdout) == 0 ? CLI_OK : CLI_ERR;
done:
    free(conf);
    free(idx);
    data_free(&ds);
    model_free(&m);
    return rc;
}
