/* test_srv.c - the request handler of `mille serve` (cli/srv.c) without sockets: threads
 * parse while the model is reloaded under them (run under TSan by `make tsan`); every
 * request gets a 200 and the reloads all count. HTTP-level behaviour is in http_test.py. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
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
