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

#include "cli.h"
#include "data.h"
#include "mille.h"
#include "out.h"
#include "utt_input.h"

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
            "                 to split words); MASSIVE records use their own locale. Without\n"
            "                 one (or with \"auto\"), a model with a language-identification\n"
            "                 head identifies it: the line then has \"locale\" and \"locale_p\"\n"
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

/* Parse one utterance and print its JSON line. */
static void emit(void *ud, const cli_utt *u)
{
    out_ctx *o = ud;
    const char *id = u->id, *locale = u->locale, *partition = u->partition, *utt = u->text,
               *where = u->where;
    size_t len = u->len;
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
    /* without a locale, the one the model identified (mille.h: mille_session_locale) */
    float lp = 0;
    const char *found = mille_session_locale(o->s, 0, &lp);
    if (found) {
        json_object_set_new(j, "locale", json_string(found));
        json_object_set_new(j, "locale_p", json_real((double)lp));
    } else if (locale && strcmp(locale, MILLE_LOCALE_AUTO) != 0) {
        json_object_set_new(j, "locale", json_string(locale));
    }
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
    out_buf out = out_open("-"); /* a failed write shows in the final fflush */
    out_json(&out, j);
    o->n++;
}

int cmd_predict(int argc, char **argv)
{
    cli_utt_args a;
    cli_utt_args_init(&a, "predict");
    const char *rewrites = NULL, *v;
    long top = 3;
    float reject = MILLE_REJECT_MODEL;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--rewrites", &bad))) {
            rewrites = v;
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
        } else {
            cli_utt_arg(&a, argc, argv, &i, &bad);
        }
    }
    if (bad || cli_utt_args_done(&a)) return CLI_USAGE;
    mille_error err;
    mille_model *m;
    out_ctx o = {NULL, top, 0, 0};
    if (mille_model_load_ensemble(a.models, a.n_models, &m, &err) < 0 ||
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
    int rc = cli_each_utt(a.input, &a.o, emit, &o, &o.errors);
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
