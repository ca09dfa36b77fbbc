/*
 * cmd_convert.c - `mille convert`: labeled data between MASSIVE JSONL, Rasa NLU training
 * data (YAML) and the Snips NLU dataset (JSON), through src/data/convert.h
 * (docs/interop.md).
 *
 *   mille convert --from rasa nlu.yml --out train.jsonl
 *   mille convert --from massive --to rasa --locale fr-FR ../shared/massive-1.1 --out fr.yml
 *
 * A malformed input is an error naming file:line(:column), and nothing is written; an
 * example that cannot be carried over is reported and skipped (--strict: an error). The
 * output is written atomically (temporary file, then rename).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"

static void usage(FILE *f)
{
    fprintf(
        f, "usage: mille convert --from rasa|snips|massive [--to massive|rasa|snips] [options] "
           "IN --out OUT\n"
           "\n"
           "Converts labeled NLU data (intents and entities/slots) between formats:\n"
           "  massive  MASSIVE JSON lines (.jsonl, .jsonl.gz, a directory, the release\n"
           "           archive), as `mille train --data` reads them\n"
           "  rasa     Rasa NLU training data, YAML (nlu: - intent: ... examples: |)\n"
           "  snips    Snips NLU dataset, JSON ({\"intents\": ..., \"entities\": ...})\n"
           "Messages name file:line for malformed input; examples that cannot be carried over\n"
           "are listed and skipped. docs/interop.md has what maps to what.\n"
           "\n"
           "  --from FORMAT     format of IN (required)\n"
           "  --to FORMAT       format of OUT (default massive)\n"
           "  --locale L        the locale: of the MASSIVE records written, of the records read\n"
           "                    from MASSIVE, and the language of a Snips dataset (default en-US)\n"
           "  --partition P     MASSIVE input: partitions to read, comma-separated (default:\n"
           "                    all)\n"
           "  --out FILE        output file, written atomically; - is stdout (required)\n"
           "  --strict          an example that cannot be carried over whole is an error\n"
           "  --quiet           no messages about skipped examples, no summary\n");
}

enum { F_NONE = -1, F_MASSIVE, F_RASA, F_SNIPS };
static const char *const formats[] = {"massive", "rasa", "snips"};

static int format_of(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, formats[i]) == 0) return i;
    return F_NONE;
}

typedef struct notes {
    int quiet;
    size_t n;
} notes;

#define MAX_NOTES 20

static void on_note(void *ud, const char *msg)
{
    notes *u = ud;
    if (!u->quiet && u->n < MAX_NOTES) fprintf(stderr, "mille convert: %s\n", msg);
    u->n++;
}

int cmd_convert(int argc, char **argv)
{
    const char *from = NULL, *to = "massive", *locale = "en-US", *out = NULL, *in = NULL;
    const char *partition = NULL, *v;
    int strict = 0, quiet = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--from", &bad))) {
            from = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--to", &bad))) {
            to = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locale", &bad))) {
            locale = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partition", &bad))) {
            partition = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if (strcmp(argv[i], "--strict") == 0) {
            strict = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (bad) {
            break;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "mille convert: unknown option '%s' (see --help)\n", argv[i]);
            return CLI_USAGE;
        } else if (in) {
            fprintf(stderr, "mille convert: one input at a time ('%s' and '%s')\n", in, argv[i]);
            return CLI_USAGE;
        } else {
            in = argv[i];
        }
    }
    if (bad) return CLI_USAGE;
    if (!from || !in || !out) {
        fprintf(stderr, "mille convert: --from, IN and --out are required (see --help)\n");
        return CLI_USAGE;
    }
    int f = format_of(from), t = format_of(to);
    if (f == F_NONE || t == F_NONE) {
        fprintf(stderr, "mille convert: unknown format '%s' (rasa, snips or massive)\n",
                f == F_NONE ? from : to);
        return CLI_USAGE;
    }
    if (!*locale || strchr(locale, ',')) {
        fprintf(stderr, "mille convert: --locale takes one locale, such as en-US\n");
        return CLI_USAGE;
    }

    notes nt = {quiet, 0};
    conv_set cs;
    memset(&cs, 0, sizeof cs);
    cs.strict = strict;
    cs.on_note = on_note;
    cs.ud = &nt;
    mille_error err;
    int rc = 0;
    if (f == F_MASSIVE) {
        rc = conv_read_massive(&cs, in, locale, partition, &err);
    } else {
        void *data = NULL;
        size_t len = 0;
        rc = file_read_regular(in, (size_t)1 << 30, 0, &data, &len, &err);
        if (rc == 0)
            rc = f == F_RASA ? conv_read_rasa(&cs, in, data, len, &err)
                             : conv_read_snips(&cs, in, data, len, &err);
        free(data);
    }
    if (rc == 0 && cs.n == 0)
        rc = err_set(&err, MILLE_ENOTFOUND, "%s: no examples%s%s%s", in,
                     f == F_MASSIVE ? " of locale " : "", f == F_MASSIVE ? locale : "",
                     f == F_MASSIVE ? " (see --locale, --partition)" : "");
    conv_buf ob = {0};
    size_t read_skipped = cs.n_skipped;
    if (rc == 0) {
        rc = t == F_MASSIVE ? conv_write_massive(&cs, locale, &ob, &err)
             : t == F_RASA  ? conv_write_rasa(&cs, &ob, &err)
                            : conv_write_snips(&cs, locale, &ob, &err);
    }
    size_t written = cs.n - (cs.n_skipped - read_skipped);
    if (rc == 0 && written == 0)
        rc = err_set(&err, MILLE_EFORMAT, "%s: none of the %zu examples can be written as %s", in,
                     cs.n, to);
    if (rc == 0) {
        if (strcmp(out, "-") == 0) {
            if (fwrite(ob.p, 1, ob.len, stdout) != ob.len || fflush(stdout) != 0)
                rc = err_set(&err, MILLE_EIO, "<stdout>: write failed");
        } else {
            rc = file_write_atomic(out, ob.p, ob.len, &err);
        }
    }
    if (rc < 0) {
        fprintf(stderr, "mille convert: %s\n", err.msg);
    } else if (!quiet) {
        if (nt.n > MAX_NOTES)
            fprintf(stderr, "mille convert: ... and %zu more messages\n", nt.n - MAX_NOTES);
        fprintf(stderr,
                "mille convert: %s (%s) -> %s (%s): %zu examples written, %zu skipped, %zu "
                "entity details dropped\n",
                in, from, out, to, written, cs.n_skipped, cs.n_lossy);
    }
    free(ob.p);
    conv_free(&cs);
    return rc < 0 ? CLI_ERR : CLI_OK;
}
