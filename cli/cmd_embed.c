/*
 * cmd_embed.c - `mille embed --model MODEL [INPUT|-]`: print the utterance vector of each
 * utterance (mille_embed: the model's pooled encoder output, unit length) as one JSON line,
 * {"id", "locale", "utt", "vector": [...]}. INPUT is MASSIVE data (as `mille predict` reads
 * it) or plain text, one utterance per line. Nearest vectors by dot product (= cosine) find
 * rephrases and translations (bench/bench_retrieval.c measures how often).
 *
 * A line that cannot be embedded (invalid UTF-8, a NUL byte, too many words) is named on
 * stderr as file:line and has no output line; the exit status is then 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "mille.h"
#include "out.h"
#include "utt_input.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: mille embed [--model MODEL ...] [--locale L] [--locales L1,L2]\n"
        "                   [--partitions P1,P2] [INPUT|-]\n\n"
        "  INPUT          MASSIVE data (.jsonl, .jsonl.gz, directory, release .tar.gz) or\n"
        "                 plain text with one utterance per line (default: stdin)\n"
        "  --model MODEL  model file (default: the shipped model, models/mille.model, or\n"
        "                 $MILLE_MODEL); repeat for an ensemble (vectors concatenated)\n"
        "  --locale L     locale of plain-text input (default: none, the script decides)\n"
        "  --locales L1,L2     MASSIVE input: only these locales (default all)\n"
        "  --partitions P1,P2  MASSIVE input: only these partitions (default all)\n\n"
        "prints {\"id\",\"locale\",\"utt\",\"vector\":[...]} per utterance; the vector has unit\n"
        "length, so the dot product of two is their cosine. exit status: 0 when every\n"
        "utterance was embedded, 1 when any could not be (named on stderr as file:line),\n"
        "2 on a usage error.\n");
}

typedef struct emb_ctx {
    mille_session *s;
    float *vec;
    size_t dim, n, errors;
} emb_ctx;

static void emit(void *ud, const cli_utt *u)
{
    emb_ctx *o = ud;
    const char *id = u->id, *locale = u->locale, *utt = u->text, *where = u->where;
    size_t len = u->len;
    mille_error err;
    if (mille_embed(o->s, utt, len, locale, o->vec, o->dim, &err) < 0) {
        o->errors++;
        fprintf(stderr, "mille embed: %s: %s\n", where, err.msg);
        return;
    }
    json_t *j = json_object(), *v = json_array();
    if (id) json_object_set_new(j, "id", json_string(id));
    if (locale) json_object_set_new(j, "locale", json_string(locale));
    json_object_set_new(j, "utt", json_stringn(utt, len));
    for (size_t i = 0; i < o->dim; i++) json_array_append_new(v, json_real((double)o->vec[i]));
    json_object_set_new(j, "vector", v);
    out_buf out = out_open("-"); /* a failed write shows in the final fflush */
    out_json(&out, j);
    o->n++;
}

int cmd_embed(int argc, char **argv)
{
    cli_utt_args a;
    cli_utt_args_init(&a, "embed");
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        }
        cli_utt_arg(&a, argc, argv, &i, &bad);
    }
    if (bad || cli_utt_args_done(&a)) return CLI_USAGE;
    mille_error err;
    mille_model *m;
    emb_ctx o = {0};
    if (mille_model_load_ensemble(a.models, a.n_models, &m, &err) < 0 ||
        mille_session_new(m, &o.s, &err) < 0) {
        fprintf(stderr, "mille embed: %s\n", err.msg);
        return CLI_ERR;
    }
    o.dim = mille_embed_dim(m);
    o.vec = malloc(o.dim * sizeof *o.vec);
    int rc = o.vec ? CLI_OK : CLI_ERR;
    if (rc == CLI_OK) rc = cli_each_utt(a.input, &a.o, emit, &o, &o.errors);
    free(o.vec);
    mille_session_free(o.s);
    mille_model_free(m);
    if (o.errors) {
        fprintf(stderr, "mille embed: %zu utterances could not be embedded\n", o.errors);
        rc = CLI_ERR;
    }
    if (fflush(stdout) != 0) rc = CLI_ERR;
    return rc;
}
