/*
 * cmd_learn.c - `mille learn --log LOG... --model MODEL --out REWRITES [--data-out NEW.jsonl]`:
 * mine interaction logs (JSON lines of `mille serve --log` or any runtime, docs/learn.md)
 * into a rewrite table for `predict/serve --rewrites` and, optionally, training data in
 * MASSIVE format for `mille train --data`. The method is in src/learn/mine.c.
 *
 * Bad log lines are named on stderr as FILE:LINE and skipped; the exit status stays 0 (a log
 * from the field always has some), and the count is in the summary line.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "learn.h"
#include "mille.h"

static void usage(FILE *f)
{
    learn_params p = learn_default_params();
    fprintf(f,
            "usage: mille learn --log LOG [--log LOG2 ...] [--model MODEL] --out REWRITES\n"
            "                   [--data-out NEW.jsonl] [options]\n\n"
            "  --log LOG            interaction log: a JSON-lines file (.gz too), or a directory\n"
            "                       whose turns*.jsonl* files are read (repeatable)\n"
            "  --model MODEL        the model that parses targets (default: the shipped model)\n"
            "  --out REWRITES       rewrite table to write (JSON lines; atomic)\n"
            "  --data-out FILE      mined training data in MASSIVE format (JSON lines)\n"
            "  --max-gap S          seconds between a turn and its rephrase (default %g)\n"
            "  --min-similarity X   trigram Jaccard of a rephrase, unless its slot values occur\n"
            "                       in the first turn (default %g)\n"
            "  --min-users N        distinct users behind a rewrite, >= 2 (default %u)\n"
            "  --min-gain X         P(success|target) - P(success|source) (default %g)\n"
            "  --min-target-p X     P(success|target) at least (default %g)\n"
            "  --min-confidence X   model confidence on the target (default %g)\n"
            "  --unknown-success X  success weight of a turn without outcome (default %g)\n"
            "  --min-share X        expected visits of the target from the source (N_uv),\n"
            "                       against distractors (default %g)\n"
            "  --no-slot-guard      allow targets whose slot values the source lacks\n"
            "  --positives X        also mine positives into --data-out: phrasings that work\n"
            "                       (turns not rephrased, not a defect, logged confidence >= X)\n"
            "                       labeled with their logged parse (default: off)\n"
            "  --positive-min-success X  a positive's success rate at least (default %g)\n"
            "  --positive-min-users N    distinct users behind a positive (default %u)\n\n"
            "prints a summary line (JSON) on stderr. exit status: 0 ok (bad log lines are\n"
            "named as FILE:LINE and skipped), 1 runtime error, 2 usage error.\n",
            p.max_gap, p.min_similarity, p.min_users, p.min_gain, p.min_target_p, p.min_confidence,
            p.unknown_success, p.min_share, p.positive_min_success, p.positive_min_users);
}

/* ---- the model as the miner's parser ------------------------------------------------------ */

typedef struct parser {
    mille_session *s;
    const char *slot[64];
    const char *value[64];
    char *buf; /* values, NUL-separated */
    size_t cap;
} parser;

static int parse_cb(void *ud, const char *text, size_t len, const char *locale, learn_interp *out)
{
    parser *p = ud;
    mille_result r;
    if (mille_parse(p->s, text, len, locale, &r, NULL) < 0) return -1;
    size_t need = 1;
    for (size_t i = 0; i < r.n_slots; i++) need += r.slots[i].end - r.slots[i].start + 1;
    if (need > p->cap) {
        char *b = realloc(p->buf, need);
        if (!b) return -1;
        p->buf = b;
        p->cap = need;
    }
    size_t w = 0, n = 0;
    for (size_t i = 0; i < r.n_slots && n < 64; i++, n++) {
        size_t l = r.slots[i].end - r.slots[i].start;
        memcpy(p->buf + w, text + r.slots[i].start, l);
        p->buf[w + l] = '\0';
        p->slot[n] = r.slots[i].slot;
        p->value[n] = p->buf + w;
        w += l + 1;
    }
    out->intent = r.intent;
    out->confidence = r.confidence;
    out->n_slots = n;
    out->slot = p->slot;
    out->value = p->value;
    return 0;
}

static void on_bad(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "mille learn: %s (skipped)\n", msg);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or the turns*.jsonl* files of a directory in name order. */
static int load_log(learn_turns *ts, const char *path, mille_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            snprintf(err->msg, sizeof err->msg, "%s: cannot open the directory", path);
            return MILLE_EIO;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "turns", 5) != 0 || !strstr(e->d_name, ".jsonl")) continue;
            char **nn = realloc(names, (n + 1) * sizeof *nn);
            if (!nn) break;
            names = nn;
            size_t l = strlen(path) + strlen(e->d_name) + 2;
            if (!(names[n] = malloc(l))) break;
            snprintf(names[n++], l, "%s/%s", path, e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            if (rc == 0) rc = learn_turns_load(ts, names[i], on_bad, NULL, err);
            free(names[i]);
        }
        free(names);
        return rc;
    }
    return learn_turns_load(ts, path, on_bad, NULL, err);
}

static int write_examples(const learn_examples *ex, const char *path, mille_error *err)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = 0; i < ex->n; i++) {
        const learn_example *e = &ex->e[i];
        const char *intent = ex->st.buf + e->intent, *us = strchr(intent, '_');
        char scen[128], id[32];
        snprintf(scen, sizeof scen, "%.*s", us ? (int)(us - intent) : (int)strlen(intent), intent);
        snprintf(id, sizeof id, "learn-%zu", i + 1);
        json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "id", id, "locale",
                              ex->st.buf + e->locale, "partition", "train", "scenario", scen,
                              "intent", intent, "utt", ex->st.buf + e->utt, "annot_utt",
                              ex->st.buf + e->annot, "self_learned", 1, "mined",
                              e->kind == LEARN_EX_POSITIVE ? "positive" : "rephrase");
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        size_t n = s ? strlen(s) : 0;
        void *b = out;
        if (!s || vec_reserve(&b, &cap, len + n + 2, 1) < 0) {
            free(s);
            free(out);
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return MILLE_ENOMEM;
        }
        out = b;
        memcpy(out + len, s, n);
        len += n;
        out[len++] = '\n';
        free(s);
    }
    int rc = file_write_atomic(path, out ? out : "", len, err);
    free(out);
    return rc;
}

int cmd_learn(int argc, char **argv)
{
    const char *logs[256], *model = NULL, *out = NULL, *data_out = NULL, *v;
    size_t n_logs = 0;
    learn_params p = learn_default_params();
    int bad = 0;
    long lv;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--log", &bad))) {
            if (n_logs < 256)
                logs[n_logs++] = v;
            else
                fprintf(stderr, "mille learn: at most 256 --log options\n"), bad = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--model", &bad))) {
            model = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--data-out", &bad))) {
            data_out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-gap", &bad))) {
            bad = cli_double("learn", "--max-gap", v, 0, 86400, &p.max_gap) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-similarity", &bad))) {
            bad = cli_double("learn", "--min-similarity", v, 0, 1, &p.min_similarity) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-users", &bad))) {
            bad = cli_long("learn", "--min-users", v, 2, 1000000, &lv) < 0;
            p.min_users = (unsigned)lv;
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-gain", &bad))) {
            bad = cli_double("learn", "--min-gain", v, 0, 1, &p.min_gain) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-target-p", &bad))) {
            bad = cli_double("learn", "--min-target-p", v, 0, 1, &p.min_target_p) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-confidence", &bad))) {
            bad = cli_double("learn", "--min-confidence", v, 0, 1, &p.min_confidence) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--unknown-success", &bad))) {
            bad = cli_double("learn", "--unknown-success", v, 0, 1, &p.unknown_success) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-share", &bad))) {
            bad = cli_double("learn", "--min-share", v, 0, 10, &p.min_share) < 0;
        } else if (strcmp(argv[i], "--no-slot-guard") == 0) {
            p.slot_guard = 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--positives", &bad))) {
            bad = cli_double("learn", "--positives", v, 0, 1, &p.positive_min_confidence) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--positive-min-success", &bad))) {
            bad =
                cli_double("learn", "--positive-min-success", v, 0, 1, &p.positive_min_success) < 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--positive-min-users", &bad))) {
            bad = cli_long("learn", "--positive-min-users", v, 1, 1000000, &lv) < 0;
            p.positive_min_users = (unsigned)lv;
        } else if (!bad) {
            fprintf(stderr, "mille learn: unexpected argument '%s' (see --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!n_logs || !out)) {
        fprintf(stderr, "mille learn: --log and --out are required (see --help)\n");
        bad = 1;
    }
    if (!bad && p.positive_min_confidence >= 0 && !data_out) {
        fprintf(stderr, "mille learn: --positives needs --data-out (see --help)\n");
        bad = 1;
    }
    if (bad) return CLI_USAGE;
    char where[512];
    if (!model && !(model = cli_default_model(where, sizeof where))) {
        fprintf(stderr, "mille learn: no --model given and no shipped model found (%s)\n", where);
        return CLI_USAGE;
    }
    mille_error err = {0};
    learn_turns ts = {0};
    int rc = 0;
    for (size_t i = 0; i < n_logs && rc == 0; i++) rc = load_log(&ts, logs[i], &err);
    mille_model *m = NULL;
    parser ps = {0};
    if (rc == 0) rc = mille_model_load(model, &m, &err);
    if (rc == 0) rc = mille_session_new(m, &ps.s, &err);
    learn_rewrites rw = {0};
    learn_examples ex = {0};
    learn_stats st;
    if (rc == 0) rc = learn_mine(&ts, &p, parse_cb, &ps, &rw, data_out ? &ex : NULL, &st, &err);
    if (rc == 0) rc = learn_rewrites_save(&rw, out, &err);
    if (rc == 0 && data_out) rc = write_examples(&ex, data_out, &err);
    if (rc < 0) {
        fprintf(stderr, "mille learn: %s\n", err.msg);
    } else {
        fprintf(stderr,
                "{\"turns\":%zu,\"bad_lines\":%zu,\"sessions\":%zu,\"single_turn_sessions\":%zu,"
                "\"rephrases\":%zu,\"states\":%zu,\"sources_with_candidates\":%zu,"
                "\"rewrites\":%zu,\"rejected\":{\"users\":%zu,\"gain\":%zu,\"model\":%zu,"
                "\"slots\":%zu,\"share\":%zu},\"examples\":%zu,\"positives\":%zu,"
                "\"positive_candidates\":%zu,\"positive_rejected\":{\"success\":%zu,"
                "\"users\":%zu,\"rewrite_source\":%zu}}\n",
                st.turns, ts.bad, st.sessions, st.single_turn_sessions, st.rephrases, st.states,
                st.candidates, st.rewrites, st.rejected_users, st.rejected_gain, st.rejected_model,
                st.rejected_slots, st.rejected_share, ex.n, st.positives, st.positive_candidates,
                st.rejected_pos_success, st.rejected_pos_users, st.rejected_pos_source);
    }
    learn_examples_free(&ex);
    learn_rewrites_free(&rw);
    learn_turns_free(&ts);
    free(ps.buf);
    mille_session_free(ps.s);
    mille_model_free(m);
    return rc < 0 ? CLI_ERR : CLI_OK;
}
