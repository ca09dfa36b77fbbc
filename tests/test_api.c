/* test_api.c - the public API of include/mille.h: a batch parses exactly as single calls do
 * and reports each bad input at its index, limits and locale checks return their codes, and
 * sessions on one shared model parse concurrently (run under TSan by `make tsan`). */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "mille.h"
#include "train.h"

static char api_path[256];
static void api_model_remove(void) { unlink(api_path); }

/* One small model for every test of this file, trained on first use, removed at exit. */
static const char *api_model(void)
{
    char *path = api_path;
    if (path[0]) return path;
    snprintf(path, sizeof api_path, "/tmp/mille_test_api_%ld.model", (long)getpid());
    atexit(api_model_remove);
    train_params p = train_default_params();
    p.data = test_path("data/sample");
    p.locales = "en-US,fr-FR,ja-JP";
    p.out = path;
    p.cfg.buckets = 1u << 14;
    p.cfg.dim = 16;
    p.cfg.hidden = 32;
    p.cfg.layers = 2;
    p.epochs = 3;
    p.threads = 1;
    p.progress = NULL;
    mille_error e;
    if (train_run(&p, NULL, NULL, &e) != 0) {
        fprintf(stderr, "api_model: %s\n", e.msg);
        path[0] = '\0';
        return NULL;
    }
    char ck[300];
    snprintf(ck, sizeof ck, "%s.ckpt", path);
    unlink(ck);
    return path;
}

static const char *const utts[] = {
    "wake me up at five am this week",
    "réveille-moi à cinq heures du matin cette semaine",
    "今週は午前五時に起こして",
    "play some jazz in the kitchen",
    "what is the weather like in paris tomorrow",
    "olly quiet",
};
#define N_UTTS (sizeof utts / sizeof utts[0])

/* A parse flattened to one string, to compare results across calls and threads. */
static void flatten(const mille_result *r, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s|%s|%.6f|%s", r->intent, r->scenario, (double)r->confidence,
                     r->annot_utt);
    for (size_t i = 0; i < r->n_slots && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "|%s:%zu-%zu", r->slots[i].slot, r->slots[i].start,
                      r->slots[i].end);
    for (size_t i = 0; i < r->n_top && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "|%s=%.6f", r->top[i].intent,
                      (double)r->top[i].score);
}

TEST(api_batch_matches_single_calls)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    mille_model *m;
    mille_session *s;
    mille_error e;
    CHECK_INT(mille_model_load(path, &m, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    char single[N_UTTS][1024], got[1024];
    for (size_t i = 0; i < N_UTTS; i++) {
        mille_result r;
        CHECK_INT(mille_parse(s, utts[i], strlen(utts[i]), NULL, &r, &e), 0);
        flatten(&r, single[i], sizeof single[i]);
    }
    /* the same utterances with bad inputs between them */
    mille_input in[N_UTTS + 3];
    size_t k = 0, where[N_UTTS];
    for (size_t i = 0; i < N_UTTS; i++) {
        if (i == 1) in[k++] = (mille_input){"bad \xff utf8", 9, NULL};
        if (i == 3) in[k++] = (mille_input){"   ", 3, NULL};
        where[i] = k;
        in[k++] = (mille_input){utts[i], strlen(utts[i]), NULL};
    }
    in[k++] = (mille_input){"x", 1, "not a locale"};
    mille_result res[N_UTTS + 3];
    mille_error errs[N_UTTS + 3];
    CHECK_INT(mille_parse_batch(s, in, k, res, errs), (int)N_UTTS);
    for (size_t i = 0; i < N_UTTS; i++) {
        CHECK(res[where[i]].intent != NULL);
        if (!res[where[i]].intent) continue;
        flatten(&res[where[i]], got, sizeof got);
        CHECK_STR(got, single[i]);
        CHECK_INT(errs[where[i]].code, 0);
    }
    CHECK(res[1].intent == NULL);
    CHECK_INT(errs[1].code, MILLE_EUTF8);
    CHECK(strstr(errs[1].msg, "byte 4") != NULL);
    CHECK(res[4].intent == NULL);
    CHECK_INT(errs[4].code, MILLE_EINVAL);
    CHECK(res[k - 1].intent == NULL);
    CHECK_INT(errs[k - 1].code, MILLE_EINVAL);
    CHECK(strstr(errs[k - 1].msg, "locale") != NULL);
    /* an empty batch, and a batch with no errs array */
    CHECK_INT(mille_parse_batch(s, NULL, 0, NULL, NULL), 0);
    CHECK_INT(mille_parse_batch(s, in, 2, res, NULL), 1);
    mille_session_free(s);
    mille_model_free(m);
}

TEST(api_limits_and_locales)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    mille_model *m;
    mille_session *s;
    mille_error e;
    mille_result r;
    CHECK_INT(mille_model_load("/nonexistent/x.model", &m, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "/nonexistent/x.model") != NULL);
    CHECK_INT(mille_model_load(path, &m, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    CHECK_INT(mille_model_has_locale(m, "fr-FR"), 1);
    CHECK_INT(mille_model_has_locale(m, "de-DE"), 0);
    CHECK_INT(mille_model_has_locale(m, NULL), 0);
    /* text limit */
    const char *t = "play some jazz";
    CHECK_INT(mille_session_set_max_text(s, 0), MILLE_ERANGE);
    CHECK_INT(mille_session_set_max_text(s, MILLE_MAX_TEXT_LIMIT + 1), MILLE_ERANGE);
    CHECK_INT(mille_session_set_max_text(s, 8), 0);
    CHECK_INT(mille_parse(s, t, strlen(t), NULL, &r, &e), MILLE_ERANGE);
    CHECK(strstr(e.msg, "limit is 8") != NULL);
    CHECK(r.intent == NULL);
    CHECK_INT(mille_session_set_max_text(s, 64), 0);
    CHECK_INT(mille_parse(s, t, strlen(t), NULL, &r, &e), 0);
    /* locales: malformed always, unknown only when strict */
    const char *bad[] = {"",     "f",      "fr_",          "fr--FR",
                         "1234", "fr-FR!", "fr-ABCDEFGHI", "toolonglocale-xx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(mille_parse(s, t, strlen(t), bad[i], &r, &e), MILLE_EINVAL);
        CHECK(strstr(e.msg, "malformed") != NULL);
    }
    CHECK_INT(mille_parse(s, t, strlen(t), "de-DE", &r, &e), 0);
    CHECK_INT(mille_parse(s, t, strlen(t), "zh-Hant-TW", &r, &e), 0);
    mille_session_set_strict_locale(s, 1);
    CHECK_INT(mille_parse(s, t, strlen(t), "de-DE", &r, &e), MILLE_ENOTFOUND);
    CHECK(strstr(e.msg, "de-DE") != NULL);
    CHECK_INT(mille_parse(s, t, strlen(t), "fr-FR", &r, &e), 0);
    CHECK_INT(mille_parse(s, t, strlen(t), NULL, &r, &e), 0);
    /* NULL text, empty text, NULL err */
    CHECK_INT(mille_parse(s, NULL, 0, NULL, &r, &e), MILLE_EINVAL);
    CHECK_INT(mille_parse(s, "", 0, NULL, &r, &e), MILLE_EINVAL);
    CHECK_INT(mille_parse(s, "\xc3", 1, NULL, &r, NULL), MILLE_EUTF8);
    CHECK_STR(mille_strerror(MILLE_ENOTFOUND), "not found");
    mille_session_free(s);
    mille_model_free(m);
}

typedef struct par_job {
    const mille_model *m;
    const char (*want)[1024];
    int mismatches, failures;
} par_job;

static void *parse_all(void *arg)
{
    par_job *j = arg;
    mille_session *s;
    if (mille_session_new(j->m, &s, NULL) < 0) {
        j->failures++;
        return NULL;
    }
    char got[1024];
    for (int rep = 0; rep < 20; rep++)
        for (size_t i = 0; i < N_UTTS; i++) {
            mille_result r;
            if (mille_parse(s, utts[i], strlen(utts[i]), NULL, &r, NULL) < 0) {
                j->failures++;
                continue;
            }
            flatten(&r, got, sizeof got);
            j->mismatches += strcmp(got, j->want[i]) != 0;
        }
    mille_session_free(s);
    return NULL;
}

TEST(api_concurrent_sessions_share_a_model)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    mille_model *m;
    mille_session *s;
    mille_error e;
    CHECK_INT(mille_model_load(path, &m, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    char want[N_UTTS][1024];
    for (size_t i = 0; i < N_UTTS; i++) {
        mille_result r;
        CHECK_INT(mille_parse(s, utts[i], strlen(utts[i]), NULL, &r, &e), 0);
        flatten(&r, want[i], sizeof want[i]);
    }
    mille_session_free(s);
    enum { T = 4 };
    pthread_t th[T];
    par_job jobs[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (par_job){m, (const char(*)[1024])want, 0, 0};
        CHECK_INT(pthread_create(&th[i], NULL, parse_all, &jobs[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(jobs[i].mismatches, 0);
        CHECK_INT(jobs[i].failures, 0);
    }
    mille_model_free(m);
}

/* "a a a ..." of n words: the most words per byte a text can have (audit 2026-12 #2). */
static char *words_text(size_t n, size_t *len)
{
    char *t = malloc(2 * n + 1);
    if (!t) return NULL;
    for (size_t i = 0; i < n; i++) t[2 * i] = 'a', t[2 * i + 1] = ' ';
    *len = 2 * n - 1;
    t[*len] = '\0';
    return t;
}

TEST(api_word_limits)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    mille_model *m;
    mille_session *s;
    mille_error e;
    mille_result r;
    CHECK_INT(mille_model_load(path, &m, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    CHECK_INT(mille_session_set_max_words(s, 0), MILLE_ERANGE);
    CHECK_INT(mille_session_set_max_words(s, MILLE_MAX_WORDS_LIMIT + 1), MILLE_ERANGE);
    CHECK_INT(mille_session_set_max_batch_words(s, 0), MILLE_ERANGE);
    CHECK_INT(mille_session_set_max_batch_words(s, MILLE_MAX_WORDS_LIMIT + 1), MILLE_ERANGE);
    CHECK_INT(mille_session_set_max_words(NULL, 5), MILLE_EINVAL);
    CHECK_INT(mille_session_set_max_batch_words(NULL, 5), MILLE_EINVAL);
    /* the default per-text limit: 256 words parse, 257 do not, and the message names both */
    size_t len;
    char *t = words_text(MILLE_MAX_WORDS_DEFAULT + 1, &len);
    CHECK(t != NULL);
    if (!t) return;
    CHECK_INT(mille_parse(s, t, len - 2, NULL, &r, &e), 0);
    CHECK_INT(r.n_words, MILLE_MAX_WORDS_DEFAULT);
    CHECK_INT(mille_parse(s, t, len, NULL, &r, &e), MILLE_ELIMIT);
    CHECK(strstr(e.msg, "257 words") != NULL && strstr(e.msg, "limit is 256") != NULL);
    CHECK(r.intent == NULL);
    CHECK_STR(mille_strerror(MILLE_ELIMIT), "over a limit");
    /* per batch: 3 + 4 words pass a limit of 7; 3 + 4 + 1 do not, the whole call fails and
     * the input that crossed the limit says so */
    CHECK_INT(mille_session_set_max_words(s, 4), 0);
    CHECK_INT(mille_session_set_max_batch_words(s, 7), 0);
    mille_input in[3] = {
        {"set an alarm", 12, NULL}, {"play some jazz now", 18, NULL}, {"hi", 2, NULL}};
    mille_result res[3];
    mille_error errs[3];
    CHECK_INT(mille_parse_batch(s, in, 2, res, errs), 2);
    CHECK_INT(mille_parse_batch(s, in, 3, res, errs), MILLE_ELIMIT);
    for (int i = 0; i < 3; i++) CHECK(res[i].intent == NULL);
    CHECK_INT(errs[2].code, MILLE_ELIMIT);
    CHECK(strstr(errs[2].msg, "8 words") != NULL && strstr(errs[2].msg, "limit is 7") != NULL);
    /* a failed input does not count: "" is EINVAL, the others fit */
    mille_input in2[3] = {
        {"set an alarm", 12, NULL}, {"", 0, NULL}, {"play some jazz now", 18, NULL}};
    CHECK_INT(mille_parse_batch(s, in2, 3, res, errs), 2);
    CHECK_INT(errs[1].code, MILLE_EINVAL);
    /* one text over the batch limit but within the text limit: mille_parse says why */
    CHECK_INT(mille_session_set_max_batch_words(s, 3), 0);
    CHECK_INT(mille_parse(s, "play some jazz now", 18, NULL, &r, &e), MILLE_ELIMIT);
    CHECK(strstr(e.msg, "per batch") != NULL);
    CHECK_INT(mille_parse(s, "play some jazz now", 18, NULL, &r, NULL), MILLE_ELIMIT);
    free(t);
    mille_session_free(s);
    mille_model_free(m);
}

/* Audit 2026-12 #11: NULL arguments are MILLE_EINVAL with a message that says which, never a
 * crash or "out of memory". */
TEST(api_null_arguments)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    mille_model *m;
    mille_session *s;
    mille_error e;
    mille_result r;
    CHECK_INT(mille_model_load(path, NULL, &e), MILLE_EINVAL);
    CHECK_INT(mille_model_load(NULL, &m, &e), MILLE_EINVAL);
    CHECK_INT(mille_session_new(NULL, &s, &e), MILLE_EINVAL);
    CHECK(s == NULL);
    CHECK_INT(mille_model_load(path, &m, &e), 0);
    CHECK_INT(mille_session_new(m, NULL, &e), MILLE_EINVAL);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    CHECK(mille_model_metadata(NULL) == NULL);
    CHECK(mille_model_metadata(m) != NULL);
    CHECK_INT(mille_model_has_locale(NULL, "en-US"), 0);
    CHECK_INT(mille_session_set_max_text(NULL, 10), MILLE_EINVAL);
    mille_session_set_strict_locale(NULL, 1);
    CHECK_INT(mille_parse(NULL, "hi", 2, NULL, &r, &e), MILLE_EINVAL);
    CHECK(strstr(e.msg, "session is NULL") != NULL);
    CHECK_INT(mille_parse(s, "hi", 2, NULL, NULL, &e), MILLE_EINVAL);
    CHECK(strstr(e.msg, "result is NULL") != NULL);
    CHECK(strstr(e.msg, "memory") == NULL);
    mille_input in = {"hi", 2, NULL};
    CHECK_INT(mille_parse_batch(NULL, &in, 1, &r, &e), MILLE_EINVAL);
    CHECK_INT(mille_parse_batch(s, NULL, 1, &r, &e), MILLE_EINVAL);
    CHECK_INT(mille_parse_batch(s, &in, 1, NULL, &e), MILLE_EINVAL);
    mille_session_free(s);
    mille_model_free(m);
}

/* Copy a file with the open(O_TRUNC) + write that cp(1) does: the destination keeps its
 * inode and is truncated first (what crashed a server that mapped it, audit 2026-12 #3). */
static int copy_in_place(const char *from, const char *to, size_t max_bytes)
{
    FILE *f = fopen(from, "rb");
    if (!f) return -1;
    int fd = open(to, O_WRONLY | O_TRUNC);
    if (fd < 0) {
        fclose(f);
        return -1;
    }
    char buf[65536];
    size_t n, total = 0;
    int rc = 0;
    while (total < max_bytes && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (n > max_bytes - total) n = max_bytes - total;
        if (write(fd, buf, n) != (ssize_t)n) rc = -1;
        total += n;
    }
    fclose(f);
    close(fd);
    return rc;
}

TEST(api_model_overwritten_in_place)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    char copy[300];
    snprintf(copy, sizeof copy, "%s.inplace", path);
    /* a private copy of the model, loaded, then overwritten in place by other bytes: first
     * a truncated model (half its size), then a text file */
    CHECK_INT(copy_in_place(path, copy, SIZE_MAX), -1); /* does not exist yet */
    int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_INT(copy_in_place(path, copy, SIZE_MAX), 0);
    mille_model *m;
    mille_session *s;
    mille_error e;
    mille_result r;
    CHECK_INT(mille_model_load(copy, &m, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    char before[1024], after[1024];
    CHECK_INT(mille_parse(s, utts[0], strlen(utts[0]), NULL, &r, &e), 0);
    flatten(&r, before, sizeof before);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(copy_in_place(path, copy, (size_t)st.st_size / 2), 0);
    CHECK_INT(mille_parse(s, utts[0], strlen(utts[0]), NULL, &r, &e), 0);
    flatten(&r, after, sizeof after);
    CHECK_STR(after, before);
    FILE *f = fopen(copy, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("not a model\n", f);
        fclose(f);
    }
    CHECK_INT(mille_parse(s, utts[0], strlen(utts[0]), NULL, &r, &e), 0);
    flatten(&r, after, sizeof after);
    CHECK_STR(after, before);
    /* a second load of the overwritten file fails cleanly */
    mille_model *m2;
    CHECK_INT(mille_model_load(copy, &m2, &e), MILLE_EFORMAT);
    mille_session_free(s);
    mille_model_free(m);
    unlink(copy);
}

/* A FIFO (or any non-regular file) is refused at once: open(2) of a FIFO with no writer
 * blocks unless O_NONBLOCK, which hung the admin reload of the server (audit 2026-12 #7). */
TEST(api_model_load_fifo_does_not_block)
{
    char fifo[128];
    snprintf(fifo, sizeof fifo, "/tmp/mille_test_fifo_%ld", (long)getpid());
    unlink(fifo);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    mille_model *m;
    mille_error e;
    /* were it to block, the test would hang here: the harness run has no writer */
    CHECK_INT(mille_model_load(fifo, &m, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "not a regular file") != NULL);
    CHECK(strstr(e.msg, fifo) != NULL);
    CHECK_INT(mille_model_load("/dev/null", &m, &e), MILLE_EIO);
    CHECK_INT(mille_model_load("/tmp", &m, &e), MILLE_EIO);
    unlink(fifo);
}

/* An ensemble of one model twice decides the intent exactly as the model does (the averaged
 * probabilities are the model's); slots come from posterior decoding, which agrees with
 * Viterbi on nearly every word. A member whose labels the first model lacks is refused. */
TEST(api_ensemble)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    mille_model *m, *ens;
    mille_session *s, *se;
    mille_error e;
    const char *paths[2] = {path, path};
    CHECK_INT(mille_model_load(path, &m, &e), 0);
    CHECK_INT(mille_model_load_ensemble(paths, 2, &ens, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    CHECK_INT(mille_session_new(ens, &se, &e), 0);
    size_t same_annot = 0;
    for (size_t i = 0; i < N_UTTS; i++) {
        mille_result a, b;
        CHECK_INT(mille_parse(s, utts[i], strlen(utts[i]), NULL, &a, &e), 0);
        CHECK_INT(mille_parse(se, utts[i], strlen(utts[i]), NULL, &b, &e), 0);
        CHECK_STR(a.intent, b.intent);
        CHECK_NEAR(a.confidence, b.confidence, 1e-6);
        CHECK_INT(a.n_top, b.n_top);
        for (size_t k = 0; k < a.n_top && k < b.n_top; k++) {
            CHECK_STR(a.top[k].intent, b.top[k].intent);
            CHECK_NEAR(a.top[k].score, b.top[k].score, 1e-5);
        }
        same_annot += strcmp(a.annot_utt, b.annot_utt) == 0;
    }
    CHECK(same_annot + 1 >= N_UTTS);
    mille_session_free(se);
    mille_model_free(ens);
    /* errors name the file */
    const char *missing[2] = {path, "/nonexistent/m.model"};
    CHECK(mille_model_load_ensemble(missing, 2, &ens, &e) < 0);
    CHECK(ens == NULL && strstr(e.msg, "/nonexistent/m.model") != NULL);
    CHECK_INT(mille_model_load_ensemble(paths, 0, &ens, &e), MILLE_EINVAL);
    mille_session_free(s);
    mille_model_free(m);
}

/* Utterance vectors: unit length, the same for the same text, an ensemble of a model twice
 * is the model's vector twice (scaled by 1/sqrt 2), too small a buffer and bad text are
 * errors. */
TEST(api_embed)
{
    const char *path = api_model();
    CHECK(path != NULL);
    if (!path) return;
    mille_model *m, *ens;
    mille_session *s, *se;
    mille_error e;
    const char *paths[2] = {path, path};
    CHECK_INT(mille_model_load(path, &m, &e), 0);
    CHECK_INT(mille_model_load_ensemble(paths, 2, &ens, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    CHECK_INT(mille_session_new(ens, &se, &e), 0);
    size_t dim = mille_embed_dim(m);
    CHECK(dim > 0);
    CHECK_INT(mille_embed_dim(ens), 2 * dim);
    CHECK_INT(mille_embed_dim(NULL), 0);
    float *a = calloc(dim, sizeof *a), *b = calloc(dim, sizeof *b), *c = calloc(2 * dim, sizeof *c);
    for (size_t i = 0; i < N_UTTS; i++) {
        CHECK_INT(mille_embed(s, utts[i], strlen(utts[i]), NULL, a, dim, &e), 0);
        double ss = 0;
        for (size_t k = 0; k < dim; k++) ss += (double)a[k] * a[k];
        CHECK_NEAR(ss, 1.0, 1e-5);
        /* a parse between two calls changes nothing */
        mille_result r;
        CHECK_INT(mille_parse(s, utts[0], strlen(utts[0]), NULL, &r, &e), 0);
        CHECK_INT(mille_embed(s, utts[i], strlen(utts[i]), NULL, b, dim, &e), 0);
        CHECK(memcmp(a, b, dim * sizeof *a) == 0);
        CHECK_INT(mille_embed(se, utts[i], strlen(utts[i]), NULL, c, 2 * dim, &e), 0);
        for (size_t k = 0; k < dim; k++) {
            CHECK_NEAR(c[k], a[k] / sqrt(2.0), 1e-6);
            CHECK_NEAR(c[dim + k], a[k] / sqrt(2.0), 1e-6);
        }
    }
    /* different utterances, different vectors */
    CHECK_INT(mille_embed(s, utts[0], strlen(utts[0]), NULL, a, dim, &e), 0);
    CHECK_INT(mille_embed(s, utts[1], strlen(utts[1]), NULL, b, dim, &e), 0);
    CHECK(memcmp(a, b, dim * sizeof *a) != 0);
    CHECK_INT(mille_embed(s, utts[0], strlen(utts[0]), NULL, a, dim - 1, &e), MILLE_ERANGE);
    CHECK(strstr(e.msg, "holds") != NULL);
    CHECK_INT(mille_embed(s, "bad \xff", 5, NULL, a, dim, &e), MILLE_EUTF8);
    CHECK_INT(mille_embed(s, "   ", 3, NULL, a, dim, &e), MILLE_EINVAL);
    CHECK_INT(mille_embed(NULL, "x", 1, NULL, a, dim, &e), MILLE_EINVAL);
    CHECK_INT(mille_embed(s, "x", 1, NULL, NULL, dim, &e), MILLE_EINVAL);
    free(a);
    free(b);
    free(c);
    mille_session_free(se);
    mille_model_free(ens);
    mille_session_free(s);
    mille_model_free(m);
}
