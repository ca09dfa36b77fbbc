/*
 * cmd_predict.c - `mille predict --model MODEL [INPUT|-]`: parse utterances and print one
 * JSON line per utterance (id, locale, utt, intent, scenario, confidence, top intents,
 * annot_utt, slots with byte offsets). INPUT is MASSIVE data in any form the reader takes
 * (JSON lines with at least "utt"; "id" and "locale" are carried over), or plain text, one
 * utterance per line. The output is scorable by `mille eval` as it is.
 *
 * A line or record that cannot be parsed (invalid UTF-8, a NUL byte, too long, too many
 * words ...) is named on stderr as file:line and gets no output line; the others are still
 * predicted, and the exit status is then 1, so that a script notices (audit 2026-12 #12).
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
            "                     [--locales L1,L2] [--reject-below X] [--rewrites R]\n"
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
            "  --partitions P1,P2  MASSIVE input: only these partitions (default all)\n"
            "  --reject-below X    mark a parse \"rejected\": true (out of scope; it keeps its\n"
            "                 best guess) when its confidence is below X in [0, 1] (default:\n"
            "                 the model's threshold, chosen on dev; 0 = only its \"oos\" class)\n"
            "  --rewrites R   rewrite table of `mille learn`: an utterance whose normalized form\n"
            "                 is a source is parsed as its target; the line then has \"utt\": the\n"
            "                 target, \"rewritten_from\": the input (default: none)\n\n"
            "exit status: 0 when every utterance was parsed; 1 when any could not be (each is\n"
            "named on stderr as file:line and has no output line; the others are printed), or\n"
            "on any other runtime error; 2 on a usage error.\n",
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
    const char *from = utt;
    size_t from_len = len;
    int rw = mille_parse_rewrite(o->s, from, from_len, locale, &r, &utt, &len, &err);
    if (rw < 0) {
        o->errors++;
        fprintf(stderr, "mille predict: %s: %s\n", where, err.msg);
        return;
    }
    json_t *j = json_object();
    if (id) json_object_set_new(j, "id", json_string(id));
    if (locale) json_object_set_new(j, "locale", json_string(locale));
    if (partition && *partition) json_object_set_new(j, "partition", json_string(partition));
    json_object_set_new(j, "utt", json_stringn(utt, len));
    if (rw == 1) json_object_set_new(j, "rewritten_from", json_stringn(from, from_len));
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
    json_object_set_new(j, "rejected", json_boolean(r.rejected));
    char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(j);
    if (line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        free(line);
    }
    o->n++;
}

/* Lines of a (possibly gzip'ed) input with their read lengths: a NUL byte inside a line is
 * data, not its end (gzgets + strlen silently cut "wake me up\0 at five" to its first
 * words). A line longer than PREDICT_MAX_LINE is reported and skipped. */
#define PREDICT_MAX_LINE (1 << 16)
typedef struct line_reader {
    gzFile gz;
    char *buf; /* (PREDICT_MAX_LINE) */
    size_t start, end;
    int eof, skipping;
} line_reader;

/* 1 and the next line in *line, *len (without its '\n'); 2 for a line that was too long
 * (skipped); 0 at the end; -1 on a read error. */
static int next_line(line_reader *lr, const char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
        if (nl) {
            *line = lr->buf + lr->start;
            *len = (size_t)(nl - *line);
            lr->start = (size_t)(nl + 1 - lr->buf);
            if (lr->skipping) {
                lr->skipping = 0;
                return 2;
            }
            return 1;
        }
        if (lr->eof) {
            if (lr->start == lr->end && !lr->skipping) return 0;
            *line = lr->buf + lr->start;
            *len = lr->end - lr->start;
            lr->start = lr->end;
            if (lr->skipping) {
                lr->skipping = 0;
                return 2;
            }
            return 1;
        }
        memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
        lr->end -= lr->start;
        lr->start = 0;
        if (lr->end == PREDICT_MAX_LINE) { /* no '\n' in a full buffer: drop to the next one */
            lr->skipping = 1;
            lr->end = 0;
        }
        int got = gzread(lr->gz, lr->buf + lr->end, (unsigned)(PREDICT_MAX_LINE - lr->end));
        if (got < 0) return -1;
        if (got == 0) lr->eof = 1;
        lr->end += (size_t)got;
    }
}

static int predict_text(out_ctx *o, const char *path, const char *locale)
{
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    line_reader lr = {0};
    lr.gz = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    lr.buf = malloc(PREDICT_MAX_LINE);
    if (!lr.gz || !lr.buf) {
        fprintf(stderr, "mille predict: %s: cannot open\n", path);
        if (lr.gz) gzclose(lr.gz);
        free(lr.buf);
        return CLI_ERR;
    }
    char where[256];
    unsigned long line = 0;
    const char *buf;
    size_t len;
    int k, rc = CLI_OK;
    while ((k = next_line(&lr, &buf, &len)) > 0) {
        line++;
        if (k == 2) {
            fprintf(stderr, "mille predict: %s:%lu: line longer than %d bytes, skipped\n", name,
                    line, PREDICT_MAX_LINE - 1);
            o->errors++;
            continue;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
        if (len == 0) continue;
        snprintf(where, sizeof where, "%s:%lu", name, line);
        const char *nul = memchr(buf, '\0', len);
        if (nul) {
            fprintf(stderr, "mille predict: %s: NUL byte at byte %zu of the line, skipped\n", where,
                    (size_t)(nul - buf));
            o->errors++;
            continue;
        }
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
    if (k < 0) {
        int zerr;
        const char *msg = gzerror(lr.gz, &zerr);
        fprintf(stderr, "mille predict: %s: read error after line %lu: %s\n", name, line, msg);
        rc = CLI_ERR;
    }
    gzclose(lr.gz);
    free(lr.buf);
    return rc;
}

static void on_skip(void *ud, const mille_error *e)
{
    out_ctx *o = ud;
    o->errors++;
    fprintf(stderr, "mille predict: skipped: %s\n", e->msg);
}

int cmd_predict(int argc, char **argv)
{
    const char *models[MILLE_MAX_ENSEMBLE], *input = "-", *locale = NULL, *v, *locales = NULL,
                                            *partitions = NULL, *rewrites = NULL;
    size_t n_models = 0;
    long top = 3;
    float reject = MILLE_REJECT_MODEL;
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
        } else if ((v = cli_opt_value(argc, argv, &i, "--rewrites", &bad))) {
            rewrites = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locale", &bad))) {
            locale = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--reject-below", &bad))) {
            double x;
            if (cli_double("predict", "--reject-below", v, 0, 1, &x))
                bad = 1;
            else
                reject = (float)x;
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
    mille_session_set_reject_below(o.s, reject); /* checked above: in range */
    mille_rewrites *rws = NULL;
    if (rewrites && mille_rewrites_load(rewrites, &rws, &err) < 0) {
        fprintf(stderr, "mille predict: %s\n", err.msg);
        mille_session_free(o.s);
        mille_model_free(m);
        return CLI_ERR;
    }
    mille_session_set_rewrites(o.s, rws);
    int rc = CLI_OK;
    if (data_is_massive_path(input)) {
        data_set ds = {0};
        data_opts opt = data_default_opts();
        opt.mode = DATA_TEXT;
        opt.on_skip = on_skip;
        opt.ud = &o;
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
    mille_rewrites_free(rws);
    mille_model_free(m);
    if (o.errors) {
        fprintf(stderr, "mille predict: %zu utterances could not be parsed\n", o.errors);
        rc = CLI_ERR; /* documented in --help: the others were printed */
    }
    if (fflush(stdout) != 0) rc = CLI_ERR;
    return rc;
}
