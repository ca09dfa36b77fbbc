/*
 * cmd_predict.c - `mille predict --model MODEL [INPUT|-]`: parse utterances and print one
 * JSON line per utterance (id, locale, utt, intent, scenario, confidence, top intents,
 * annot_utt, slots with byte offsets). INPUT is MASSIVE data in any form the reader takes
 * (JSON lines with at least "utt"; "id" and "locale" are carried over), or plain text, one
 * utterance per line. The output is scorable by `mille eval` as it is.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"
#include "data.h"
#include "mille.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mille predict --model MODEL [--model MODEL2 ...] [--locale L] [--top K]\n"
            "                     [--locales L1,L2]\n"
            "                     [--partitions P1,P2] [INPUT|-]\n\n"
            "  INPUT          MASSIVE data (.jsonl, .jsonl.gz, directory, release .tar.gz) or\n"
            "                 plain text with one utterance per line (default: stdin, where\n"
            "                 lines starting with '{' are read as MASSIVE JSON records)\n"
            "  --model MODEL  model file (default: the shipped model, models/mille.model, or\n"
            "                 $MILLE_MODEL); repeat for an ensemble that averages the models'\n"
            "                 intent probabilities and slot label marginals (up to %d)\n"
            "  --locale L     locale of plain-text input (default: none, the script decides how\n"
            "                 to split words); MASSIVE records use their own locale\n"
            "  --top K        intents listed in top_intents (default 3, at most %d)\n"
            "  --locales L1,L2     MASSIVE input: only these locales (default all)\n"
            "  --partitions P1,P2  MASSIVE input: only these partitions (default all)\n",
            MILLE_MAX_ENSEMBLE, MILLE_TOP_K);
}

typedef struct out_ctx {
    mille_session *s;
    long top;
    size_t n, errors;
} out_ctx;

/* Parse one utterance and print its JSON line; id/locale may be NULL. */
static void emit(out_ctx *o, const char *id, const char *locale, const char *partition,
                 const char *utt, size_t len, const char *where)
{
    mille_result r;
    mille_error err;
    if (mille_parse(o->s, utt, len, locale, &r, &err) < 0) {
        o->errors++;
        fprintf(stderr, "mille predict: %s: %s\n", where, err.msg);
        return;
    }
    json_t *j = json_object();
    if (id) json_object_set_new(j, "id", json_string(id));
    if (locale) json_object_set_new(j, "locale", json_string(locale));
    if (partition && *partition) json_object_set_new(j, "partition", json_string(partition));
    json_object_set_new(j, "utt", json_stringn(utt, len));
    json_object_set_new(j, "intent", json_string(r.intent));
    json_object_set_new(j, "scenario", json_string(r.scenario));
    json_object_set_new(j, "confidence", json_real((double)r.confidence));
    json_t *top = json_array();
    for (size_t i = 0; i < r.n_top && (long)i < o->top; i++)
        json_array_append_new(top, json_pack("{s:s,s:f}", "intent", r.top[i].intent, "score",
                                             (double)r.top[i].score));
    json_object_set_new(j, "top_intents", top);
    json_object_set_new(j, "annot_utt", json_string(r.annot_utt));
    json_t *slots = json_array();
    for (size_t i = 0; i < r.n_slots; i++) {
        const mille_slot *sl = &r.slots[i];
        json_array_append_new(slots, json_pack("{s:s,s:s%,s:I,s:I}", "slot", sl->slot, "value",
                                               utt + sl->start, sl->end - sl->start, "start",
                                               (json_int_t)sl->start, "end", (json_int_t)sl->end));
    }
    json_object_set_new(j, "slots", slots);
    char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(j);
    if (line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        free(line);
    }
    o->n++;
}

static int predict_text(out_ctx *o, const char *path, const char *locale)
{
    gzFile gz = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    if (!gz) {
        fprintf(stderr, "mille predict: %s: cannot open\n", path);
        return CLI_ERR;
    }
    char buf[1 << 16], where[256];
    unsigned long line = 0;
    while (gzgets(gz, buf, sizeof buf)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            fprintf(stderr, "mille predict: %s:%lu: line longer than %zu bytes, skipped\n", path,
                    line, sizeof buf - 2);
            o->errors++;
            int c;
            while ((c = gzgetc(gz)) != -1 && c != '\n') {
            }
            continue;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
        if (len == 0) continue;
        snprintf(where, sizeof where, "%s:%lu", strcmp(path, "-") ? path : "<stdin>", line);
        if (buf[0] == '{') {
            /* a MASSIVE record (JSON lines on stdin are streamed, one at a time) */
            data_set ds = {0};
            data_opts opt = data_default_opts();
            opt.mode = DATA_TEXT;
            mille_error e;
            if (data_add_line(&ds, buf, len, 0, (uint32_t)line, &opt, &e) == 1) {
                const data_record *r = &ds.recs[0];
                const char *loc = strtab_str(&ds.locales, r->locale);
                emit(o, *data_str(&ds, r->id) ? data_str(&ds, r->id) : NULL, *loc ? loc : locale,
                     strtab_str(&ds.partitions, r->partition), data_str(&ds, r->utt), r->utt_len,
                     where);
            } else {
                o->errors++;
                fprintf(stderr, "mille predict: %s: %s\n", where, e.msg);
            }
            data_free(&ds);
            continue;
        }
        emit(o, NULL, locale, NULL, buf, len, where);
    }
    gzclose(gz);
    return CLI_OK;
}

static void on_skip(void *ud, const mille_error *e)
{
    (void)ud;
    fprintf(stderr, "mille predict: skipped: %s\n", e->msg);
}

int cmd_predict(int argc, char **argv)
{
    const char *models[MILLE_MAX_ENSEMBLE], *input = "-", *locale = NULL, *v, *locales = NULL,
                                            *partitions = NULL;
    size_t n_models = 0;
    long top = 3;
    int bad = 0, n_pos = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--model", &bad))) {
            if (n_models < MILLE_MAX_ENSEMBLE) {
                models[n_models++] = v;
            } else {
                fprintf(stderr, "mille predict: at most %d --model options\n", MILLE_MAX_ENSEMBLE);
                bad = 1;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--locales", &bad))) {
            locales = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partitions", &bad))) {
            partitions = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locale", &bad))) {
            locale = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--top", &bad))) {
            if (parse_long(v, 1, MILLE_TOP_K, &top)) {
                fprintf(stderr, "mille predict: --top must be 1..%d\n", MILLE_TOP_K);
                bad = 1;
            }
        } else if (!bad && argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "mille predict: unknown option '%s' (see --help)\n", argv[i]);
            bad = 1;
        } else if (!bad) {
            input = argv[i];
            n_pos++;
        }
    }
    if (bad || n_pos > 1) {
        if (!bad) fprintf(stderr, "mille predict: at most one INPUT (see --help)\n");
        return CLI_USAGE;
    }
    if (!n_models) {
        char where[512];
        if (!(models[n_models++] = cli_default_model(where, sizeof where))) {
            fprintf(stderr, "mille predict: no --model given and no shipped model found (%s)\n",
                    where);
            return CLI_USAGE;
        }
    }
    mille_error err;
    mille_model *m;
    out_ctx o = {NULL, top, 0, 0};
    if (mille_model_load_ensemble(models, n_models, &m, &err) < 0 ||
        mille_session_new(m, &o.s, &err) < 0) {
        fprintf(stderr, "mille predict: %s\n", err.msg);
        return CLI_ERR;
    }
    int rc = CLI_OK;
    if (data_is_massive_path(input)) {
        data_set ds = {0};
        data_opts opt = data_default_opts();
        opt.mode = DATA_TEXT;
        opt.on_skip = on_skip;
        opt.locales = locales;
        opt.partitions = partitions;
        if (data_load(&ds, input, &opt, &err) < 0) {
            fprintf(stderr, "mille predict: %s\n", err.msg);
            rc = CLI_ERR;
        }
        char where[512];
        for (size_t i = 0; i < ds.n && rc == CLI_OK; i++) {
            const data_record *r = &ds.recs[i];
            const char *loc = strtab_str(&ds.locales, r->locale);
            snprintf(where, sizeof where, "%s:%u", strtab_str(&ds.srcs, r->src), r->line);
            emit(&o, data_str(&ds, r->id), *loc ? loc : locale,
                 strtab_str(&ds.partitions, r->partition), data_str(&ds, r->utt), r->utt_len,
                 where);
        }
        data_free(&ds);
    } else {
        rc = predict_text(&o, input, locale);
    }
    mille_session_free(o.s);
    mille_model_free(m);
    if (o.errors) fprintf(stderr, "mille predict: %zu utterances could not be parsed\n", o.errors);
    if (fflush(stdout) != 0) rc = CLI_ERR;
    return rc;
}
