/*
 * utt_input.c - the utterances of `mille predict` and `mille embed` (see utt_input.h).
 */
#include "utt_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"
#include "data.h"

/* Lines of a (possibly gzip'ed) input with their read lengths: a NUL byte inside a line is
 * data, not its end (gzgets + strlen silently cut "wake me up\0 at five" to its first
 * words). A line longer than MAX_LINE is reported and skipped. */
#define MAX_LINE (1 << 16)
typedef struct line_reader {
    gzFile gz;
    char *buf; /* (MAX_LINE) */
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
        if (lr->end == MAX_LINE) { /* no '\n' in a full buffer: drop to the next one */
            lr->skipping = 1;
            lr->end = 0;
        }
        int got = gzread(lr->gz, lr->buf + lr->end, (unsigned)(MAX_LINE - lr->end));
        if (got < 0) return -1;
        if (got == 0) lr->eof = 1;
        lr->end += (size_t)got;
    }
}

/* The utterance of record r of ds (locale: the record's, else the default). */
static void each_record(const data_set *ds, const data_record *r, const char *id,
                        const cli_utt_opts *o, const char *where,
                        void (*fn)(void *ud, const cli_utt *u), void *ud)
{
    const char *loc = strtab_str(&ds->locales, r->locale);
    const char *part = strtab_str(&ds->partitions, r->partition);
    cli_utt u = {
        id, *loc ? loc : o->locale, *part ? part : NULL, data_str(ds, r->utt), r->utt_len, where};
    fn(ud, &u);
}

static int each_text(const char *path, const cli_utt_opts *o,
                     void (*fn)(void *ud, const cli_utt *u), void *ud, size_t *errors)
{
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    line_reader lr = {0};
    lr.gz = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    lr.buf = malloc(MAX_LINE);
    if (!lr.gz || !lr.buf) {
        fprintf(stderr, "mille %s: %s: cannot open\n", o->cmd, path);
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
            fprintf(stderr, "mille %s: %s:%lu: line longer than %d bytes, skipped\n", o->cmd, name,
                    line, MAX_LINE - 1);
            (*errors)++;
            continue;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
        if (len == 0) continue;
        snprintf(where, sizeof where, "%s:%lu", name, line);
        const char *nul = memchr(buf, '\0', len);
        if (nul) {
            fprintf(stderr, "mille %s: %s: NUL byte at byte %zu of the line, skipped\n", o->cmd,
                    where, (size_t)(nul - buf));
            (*errors)++;
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
                const char *id = data_str(&ds, r->id);
                each_record(&ds, r, *id ? id : NULL, o, where, fn, ud);
            } else {
                (*errors)++;
                fprintf(stderr, "mille %s: %s: %s\n", o->cmd, where, e.msg);
            }
            data_free(&ds);
            continue;
        }
        cli_utt u = {NULL, o->locale, NULL, buf, len, where};
        fn(ud, &u);
    }
    if (k < 0) {
        int zerr;
        const char *msg = gzerror(lr.gz, &zerr);
        fprintf(stderr, "mille %s: %s: read error after line %lu: %s\n", o->cmd, name, line, msg);
        rc = CLI_ERR;
    }
    gzclose(lr.gz);
    free(lr.buf);
    return rc;
}

typedef struct skip_ctx {
    const char *cmd;
    size_t *errors;
} skip_ctx;

static void on_skip(void *ud, const mille_error *e)
{
    skip_ctx *s = ud;
    (*s->errors)++;
    fprintf(stderr, "mille %s: skipped: %s\n", s->cmd, e->msg);
}

int cli_each_utt(const char *input, const cli_utt_opts *o, void (*fn)(void *ud, const cli_utt *u),
                 void *ud, size_t *errors)
{
    if (!data_is_massive_path(input)) return each_text(input, o, fn, ud, errors);
    data_set ds = {0};
    data_opts opt = data_default_opts();
    skip_ctx sk = {o->cmd, errors};
    opt.mode = DATA_TEXT;
    opt.on_skip = on_skip;
    opt.ud = &sk;
    opt.locales = o->locales;
    opt.partitions = o->partitions;
    mille_error err;
    int rc = CLI_OK;
    if (data_load(&ds, input, &opt, &err) < 0) {
        fprintf(stderr, "mille %s: %s\n", o->cmd, err.msg);
        rc = CLI_ERR;
    }
    char where[512];
    for (size_t i = 0; i < ds.n && rc == CLI_OK; i++) {
        const data_record *r = &ds.recs[i];
        snprintf(where, sizeof where, "%s:%u", strtab_str(&ds.srcs, r->src), r->line);
        each_record(&ds, r, data_str(&ds, r->id), o, where, fn, ud);
    }
    data_free(&ds);
    return rc;
}

void cli_utt_args_init(cli_utt_args *a, const char *cmd)
{
    memset(a, 0, sizeof *a);
    a->input = "-";
    a->o.cmd = cmd;
}

void cli_utt_arg(cli_utt_args *a, int argc, char **argv, int *i, int *bad)
{
    const char *v;
    if ((v = cli_opt_value(argc, argv, i, "--model", bad))) {
        if (a->n_models < MILLE_MAX_ENSEMBLE) {
            a->models[a->n_models++] = v;
        } else {
            fprintf(stderr, "mille %s: at most %d --model options\n", a->o.cmd, MILLE_MAX_ENSEMBLE);
            *bad = 1;
        }
    } else if ((v = cli_opt_value(argc, argv, i, "--locales", bad))) {
        a->o.locales = v;
    } else if ((v = cli_opt_value(argc, argv, i, "--partitions", bad))) {
        a->o.partitions = v;
    } else if ((v = cli_opt_value(argc, argv, i, "--locale", bad))) {
        a->o.locale = v;
    } else if (!*bad && argv[*i][0] == '-' && argv[*i][1] != '\0') {
        fprintf(stderr, "mille %s: unknown option '%s' (see --help)\n", a->o.cmd, argv[*i]);
        *bad = 1;
    } else if (!*bad) {
        a->input = argv[*i];
        a->n_inputs++;
    }
}

int cli_utt_args_done(cli_utt_args *a)
{
    if (a->n_inputs > 1) {
        fprintf(stderr, "mille %s: at most one INPUT (see --help)\n", a->o.cmd);
        return CLI_USAGE;
    }
    if (a->n_models) return CLI_OK;
    char where[512];
    if (!(a->models[0] = cli_default_model(where, sizeof where))) {
        fprintf(stderr, "mille %s: no --model given and no shipped model found (%s)\n", a->o.cmd,
                where);
        return CLI_USAGE;
    }
    a->n_models = 1;
    return CLI_OK;
}
