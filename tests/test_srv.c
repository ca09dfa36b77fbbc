/* test_srv.c - the request handler of `mille serve` (cli/srv.c) without sockets: threads
 * parse while the model is reloaded under them (run under TSan by `make tsan`); every
 * request gets a 200 and the reloads all count. HTTP-level behaviour is in http_test.py. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "srv.h"
#include "train.h"

typedef struct hammer {
    srv *s;
    atomic_int *stop;
    int ok, bad;
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    static const char *const bodies[] = {
        "{\"text\": \"wake me up at five am\", \"locale\": \"en-US\"}",
        "[{\"text\": \"joue du jazz\"}, {\"text\": \"今週は午前五時に起こして\"}]",
    };
    for (int i = 0; !atomic_load(h->stop) || i < 20; i++) {
        srv_reply r;
        const char *b = bodies[i % 2];
        srv_handle(h->s, SRV_PUBLIC, "POST", i % 2 ? "/v1/parse/batch" : "/v1/parse", b, strlen(b),
                   &r);
        if (r.status == 200 && strstr(r.body, "\"intent\""))
            h->ok++;
        else
            h->bad++;
        srv_reply_free(&r);
    }
    return NULL;
}

TEST(srv_reload_under_load)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/mille_test_srv_%ld.model", (long)getpid());
    train_params p = train_default_params();
    p.data = test_path("data/sample");
    p.locales = "en-US,fr-FR,ja-JP";
    p.out = path;
    p.cfg.buckets = 1u << 12;
    p.cfg.dim = 8;
    p.cfg.hidden = 16;
    p.cfg.layers = 2;
    p.epochs = 1;
    p.threads = 1;
    p.progress = NULL;
    mille_error e;
    CHECK_INT(train_run(&p, NULL, NULL, &e), 0);
    char ck[300];
    snprintf(ck, sizeof ck, "%s.ckpt", path);
    unlink(ck);
    srv *s;
    CHECK_INT(srv_new(&s, path, NULL, &e), 0);
    atomic_int stop;
    atomic_init(&stop, 0);
    enum { T = 3 };
    pthread_t th[T];
    hammer h[T];
    for (int i = 0; i < T; i++) {
        h[i] = (hammer){s, &stop, 0, 0};
        CHECK_INT(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    for (int i = 0; i < 5; i++) CHECK_INT(srv_reload(s, NULL, &e), 0);
    CHECK_INT(srv_reload(s, "/nonexistent.model", &e), MILLE_EIO);
    atomic_store(&stop, 1);
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(h[i].bad, 0);
        CHECK(h[i].ok >= 20);
    }
    srv_reply r;
    srv_handle(s, SRV_PUBLIC, "GET", "/healthz", NULL, 0, &r);
    CHECK(strstr(r.body, "\"generation\":6") != NULL);
    srv_reply_free(&r);
    srv_handle(s, SRV_PUBLIC, "GET", "/metrics", NULL, 0, &r);
    CHECK(strstr(r.body, "mille_model_reloads_total{result=\"ok\"} 5") != NULL);
    CHECK(strstr(r.body, "mille_model_reloads_total{result=\"failed\"} 1") != NULL);
    srv_reply_free(&r);
    srv_free(s);
    unlink(path);
}

/* Audit 2026-12 #2: the words of an utterance and of a request are capped; over either cap
 * is 413 too_many_words with both numbers, never a parse of unbounded cost. */
TEST(srv_word_limits_are_413)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/mille_test_srv_words_%ld.model", (long)getpid());
    train_params p = train_default_params();
    p.data = test_path("data/sample");
    p.locales = "en-US";
    p.out = path;
    p.cfg.buckets = 1u << 10;
    p.cfg.dim = 8;
    p.cfg.hidden = 8;
    p.cfg.layers = 2;
    p.epochs = 1;
    p.threads = 1;
    p.progress = NULL;
    mille_error e;
    CHECK_INT(train_run(&p, NULL, NULL, &e), 0);
    char ck[300];
    snprintf(ck, sizeof ck, "%s.ckpt", path);
    unlink(ck);
    srv_config cfg = srv_default_config();
    CHECK_INT(cfg.max_words, MILLE_MAX_WORDS_DEFAULT);
    CHECK_INT(cfg.max_batch_words, MILLE_MAX_BATCH_WORDS_DEFAULT);
    cfg.max_words = 0;
    srv *s;
    CHECK_INT(srv_new(&s, path, &cfg, &e), MILLE_ERANGE);
    cfg.max_words = 4;
    cfg.max_batch_words = 6;
    CHECK_INT(srv_new(&s, path, &cfg, &e), 0);
    static const struct {
        const char *path, *body, *want;
        int status;
    } cases[] = {
        {"/v1/parse", "{\"text\": \"play some jazz now\"}", "\"intent\"", 200},
        {"/v1/parse", "{\"text\": \"play some jazz right now\"}", "has 5 words, the limit is 4",
         413},
        {"/v1/parse/batch", "[{\"text\": \"play some jazz\"}, {\"text\": \"wake me up\"}]",
         "\"count\":2", 200},
        {"/v1/parse/batch", "[{\"text\": \"play some jazz\"}, {\"text\": \"wake me up now\"}]",
         "have 7 words, the limit is 6 words per batch", 413},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_reply r;
        srv_handle(s, SRV_PUBLIC, "POST", cases[i].path, cases[i].body, strlen(cases[i].body), &r);
        CHECK_INT(r.status, cases[i].status);
        CHECK(r.body && strstr(r.body, cases[i].want) != NULL);
        if (cases[i].status == 413) CHECK(r.body && strstr(r.body, "too_many_words") != NULL);
        if (r.body && (r.status != cases[i].status || !strstr(r.body, cases[i].want)))
            fprintf(stderr, "case %zu: %d %s\n", i, r.status, r.body);
        srv_reply_free(&r);
    }
    /* a reload from a FIFO fails at once (it hung the admin thread, audit #7); the current
     * model stays and still parses */
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s.fifo", path);
    unlink(fifo);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    CHECK_INT(srv_reload(s, fifo, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "not a regular file") != NULL);
    srv_reply r;
    srv_handle(s, SRV_PUBLIC, "POST", cases[0].path, cases[0].body, strlen(cases[0].body), &r);
    CHECK_INT(r.status, 200);
    srv_reply_free(&r);
    unlink(fifo);
    srv_free(s);
    unlink(path);
}
