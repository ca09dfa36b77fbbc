/* test_srv.c - the request handler of `mille serve` (server/srv.c) without sockets: threads
 * parse while the model is reloaded under them (run under TSan by `make tsan`); every
 * request gets a 200 and the reloads all count. Also the checks of the admin route, the
 * batch pre-count, and a model whose scores are not finite numbers (audit 2026-12 #7, #9,
 * #16). HTTP-level behaviour is in http_test.py. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "model.h"
#include "rasa.h"
#include "srv.h"
#include "train.h"

/* A tiny random model (3 intents, 3 slots, en-US) saved at path; nan: every weight NaN. */
static int tiny_model(const char *path, int nan)
{
    model m;
    model_config c = model_default_config();
    c.buckets = 256, c.dim = 4, c.hidden = 8, c.layers = 2, c.n_intents = 3, c.n_slots = 3;
    mille_error e;
    if (model_new(&m, &c, &e)) return -1;
    model_init_params(&m, 1);
    if (nan)
        for (size_t i = 0; i < m.n_params; i++) m.p[i] = NAN;
    const char *intents[] = {"alarm_set", "play_music", "weather_query"};
    const char *slots[] = {"Other", "time", "place_name"};
    for (int i = 0; i < 3; i++) {
        strtab_intern(&m.intents, intents[i], strlen(intents[i]));
        strtab_intern(&m.slots, slots[i], strlen(slots[i]));
        strtab_intern(&m.scenarios, intents[i], 4);
        m.intent_scenario[i] = (uint32_t)i;
    }
    strtab_intern(&m.locales, "en-US", 5);
    int rc = model_save(&m, path, 1, &e);
    model_free(&m);
    return rc;
}

/* A JSON error reply's code, or "" */
static int has_code(const srv_reply *r, const char *code)
{
    char want[80];
    snprintf(want, sizeof want, "\"code\":\"%s\"", code);
    return r->body && strstr(r->body, want) != NULL;
}

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
    CHECK(srv_reload(s, fifo, &e) < 0);
    CHECK(strstr(e.msg, "not a regular file") != NULL);
    srv_reply r;
    srv_handle(s, SRV_PUBLIC, "POST", cases[0].path, cases[0].body, strlen(cases[0].body), &r);
    CHECK_INT(r.status, 200);
    srv_reply_free(&r);
    unlink(fifo);
    srv_free(s);
    unlink(path);
}
/* json_pack cannot write NaN: such a result used to vanish from a batch that still said
 * "count": 2. Now the request gets a 500 naming the item. */
TEST(srv_nonfinite_score_is_an_error)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/mille_test_srv_nan_%ld.model", (long)getpid());
    CHECK_INT(tiny_model(path, 1), 0);
    srv *s;
    mille_error e;
    CHECK_INT(srv_new(&s, path, NULL, &e), 0);
    srv_reply r;
    const char *b = "[{\"text\": \"wake me up\"}, {\"text\": \"play jazz\"}]";
    srv_handle(s, SRV_PUBLIC, "POST", "/v1/parse/batch", b, strlen(b), &r);
    CHECK_INT(r.status, 500);
    CHECK(has_code(&r, "internal"));
    CHECK(r.body && strstr(r.body, "items[0]: ") && strstr(r.body, "finite"));
    srv_reply_free(&r);
    b = "{\"text\": \"wake me up\"}";
    srv_handle(s, SRV_PUBLIC, "POST", "/v1/parse", b, strlen(b), &r);
    CHECK_INT(r.status, 500);
    CHECK(r.body && strstr(r.body, "finite"));
    srv_reply_free(&r);
    srv_free(s);
    unlink(path);
}

/* The pre-count against the parsed length, on valid arrays, and its answer on others. */
TEST(srv_count_items_matches_the_parse)
{
    static const struct {
        const char *body;
        size_t n;
    } cases[] = {
        {"[]", 0},
        {"  [ ] ", 0},
        {"[{}]", 1},
        {"[{\"text\": \"a, b, c\"}, {\"text\": \"[\"}]", 2},
        {"[{\"text\": \"\\\", ]\"}, 1, [2, 3], {\"a\": [4, {\"b\": 5}]}]", 4},
        {"\n[[], [], [], [], []]", 5},
        {"{\"text\": \"a\"}", 0},
        {"", 0},
        {"[{}, {}, {}, {}, {}", 5}, /* unclosed: the separators are still counted */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_INT(srv_count_items(cases[i].body, strlen(cases[i].body), 100), cases[i].n);
    /* counting stops one past the limit */
    CHECK_INT(srv_count_items("[1,2,3,4,5,6,7,8]", 17, 3), 5);
}

/* The quick reject: nothing that jansson accepts, the first impossible byte of the rest. */
TEST(srv_json_garbage_rejects_only_non_json)
{
    static const char *const valid[] = {
        "{\"text\": \"x y z \\\" @ # \\\\\", \"locale\": null}",
        "[true, false, null, -1.5e+3, 2E-2, {\"a\": [\"\\u00e9\"]}]",
        " \t\r\n{}",
        "\"all letters are fine in a string: xxxxxxxxxxxxxxxx\"",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(valid[i], JSON_DECODE_ANY, &je);
        CHECK(j != NULL); /* the reference: jansson takes it */
        json_decref(j);
        CHECK_INT(srv_json_garbage(valid[i], strlen(valid[i])), strlen(valid[i]));
    }
    static const struct {
        const char *body;
        size_t at;
    } bad[] = {
        {"[xxxx]", 1},
        {"{\"text\": \"a\"} @", 14},
        {"[truefalse]", 6}, /* six letters in a row */
        {"{\"a\": nul\u00e9}", 9},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(bad[i].body, JSON_DECODE_ANY, &je);
        CHECK(j == NULL);
        json_decref(j);
        CHECK_INT(srv_json_garbage(bad[i].body, strlen(bad[i].body)), bad[i].at);
    }
}

/* POST /admin/reload: Host, Origin, token, Content-Type, then a path that must be a regular
 * file (a FIFO is answered at once, not waited on). */
TEST(srv_admin_reload_checks)
{
    char path[256], fifo[256];
    snprintf(path, sizeof path, "/tmp/mille_test_srv_adm_%ld.model", (long)getpid());
    snprintf(fifo, sizeof fifo, "/tmp/mille_test_srv_adm_%ld.fifo", (long)getpid());
    CHECK_INT(tiny_model(path, 0), 0);
    unlink(fifo);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    srv_config cfg = srv_default_config();
    cfg.admin_token = "0123456789abcdef0123";
    cfg.admin_host = "10.1.2.3";
    srv *s;
    mille_error e;
    CHECK_INT(srv_new(&s, path, &cfg, &e), 0);
    char body[400];
    snprintf(body, sizeof body, "{\"model\": \"%s\"}", fifo);
    static const struct {
        const char *host, *origin, *ctype, *auth;
        int status;
        const char *code;
    } cases[] = {
        {"127.0.0.1:8081", NULL, "application/json", "Bearer 0123456789abcdef0123", 400,
         "bad_request"}, /* all good but the FIFO */
        {"localhost", "http://localhost", "application/json; charset=utf-8",
         "bearer 0123456789abcdef0123", 400, "bad_request"},
        {"[::1]:80", NULL, "application/json", "Bearer 0123456789abcdef0123", 400, "bad_request"},
        {"10.1.2.3:9", NULL, "application/json", "Bearer 0123456789abcdef0123", 400, "bad_request"},
        {NULL, NULL, "application/json", "Bearer 0123456789abcdef0123", 403, "forbidden"},
        {"evil.example:8081", NULL, "application/json", "Bearer 0123456789abcdef0123", 403,
         "forbidden"},
        {"127.0.0.1.evil.example", NULL, "application/json", "Bearer 0123456789abcdef0123", 403,
         "forbidden"},
        {"127.0.0.1:80x", NULL, "application/json", "Bearer 0123456789abcdef0123", 403,
         "forbidden"},
        {"127.0.0.1:8081", "http://evil.example", "application/json", "Bearer 0123456789abcdef0123",
         403, "forbidden"},
        {"127.0.0.1:8081", "null", "application/json", "Bearer 0123456789abcdef0123", 403,
         "forbidden"},
        {"127.0.0.1:8081", NULL, "application/json", NULL, 401, "unauthorized"},
        {"127.0.0.1:8081", NULL, "application/json", "Bearer 0123456789abcdef012", 401,
         "unauthorized"},
        {"127.0.0.1:8081", NULL, "application/json", "Bearer 0123456789abcdef0124", 401,
         "unauthorized"},
        {"127.0.0.1:8081", NULL, "application/json", "Basic 0123456789abcdef0123", 401,
         "unauthorized"},
        {"127.0.0.1:8081", NULL, "text/plain", "Bearer 0123456789abcdef0123", 415,
         "unsupported_media_type"},
        {"127.0.0.1:8081", NULL, NULL, "Bearer 0123456789abcdef0123", 415,
         "unsupported_media_type"},
        {"127.0.0.1:8081", NULL, "application/jsonx", "Bearer 0123456789abcdef0123", 415,
         "unsupported_media_type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_request q = {SRV_ADMIN,       "POST",         "/admin/reload", cases[i].host,
                         cases[i].origin, cases[i].ctype, cases[i].auth,   body,
                         strlen(body)};
        srv_reply r;
        srv_handle_request(s, &q, &r);
        if (r.status != cases[i].status || !has_code(&r, cases[i].code))
            fprintf(stderr, "case %zu: %d %s\n", i, r.status, r.body);
        CHECK_INT(r.status, cases[i].status);
        CHECK(has_code(&r, cases[i].code));
        CHECK_INT(r.status == 401, r.www_authenticate != NULL);
        srv_reply_free(&r);
    }
    /* the same request for the model file itself reloads */
    snprintf(body, sizeof body, "{\"model\": \"%s\"}", path);
    srv_request q = {SRV_ADMIN,
                     "POST",
                     "/admin/reload",
                     "127.0.0.1:8081",
                     NULL,
                     "application/json",
                     "Bearer 0123456789abcdef0123",
                     body,
                     strlen(body)};
    srv_reply r;
    srv_handle_request(s, &q, &r);
    CHECK_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "\"generation\":2"));
    srv_reply_free(&r);
    /* public replies name the file, not its directory */
    srv_handle(s, SRV_PUBLIC, "GET", "/healthz", NULL, 0, &r);
    CHECK(r.body && strstr(r.body, "\"model\":\"mille_test_srv_adm_") && !strstr(r.body, "/tmp"));
    srv_reply_free(&r);
    srv_free(s);
    /* without a token the route is refused */
    CHECK_INT(srv_new(&s, path, NULL, &e), 0);
    q.body = "{}";
    q.len = 2;
    srv_handle_request(s, &q, &r);
    CHECK_INT(r.status, 403);
    srv_reply_free(&r);
    srv_free(s);
    unlink(fifo);
    unlink(path);
}

/* Micro-batching under concurrent load (TSan in `make tsan`): 8 threads send single parses
 * of different texts, some failing (an unknown locale); each reply must be the one the same
 * request gets without micro-batching, and the requests must have shared batch calls. */
typedef struct grouper {
    srv *s;
    char *const *want; /* the replies without micro-batching, by body */
    int id, ok, bad;
} grouper;

static const char *const group_bodies[] = {
    "{\"text\": \"wake me up at five am\", \"locale\": \"en-US\"}",
    "{\"text\": \"play some jazz\"}",
    "{\"text\": \"what is the weather in paris\", \"locale\": \"en-US\"}",
    "{\"text\": \"hallo welt\", \"locale\": \"de-DE\"}",
    "{\"text\": \"turn the lights off\"}",
};
#define N_GROUP_BODIES (sizeof group_bodies / sizeof group_bodies[0])

static void *grouper_run(void *arg)
{
    grouper *g = arg;
    for (int i = 0; i < 50; i++) {
        size_t k = (size_t)(g->id + i) % N_GROUP_BODIES;
        srv_reply r;
        srv_handle(g->s, SRV_PUBLIC, "POST", "/v1/parse", group_bodies[k], strlen(group_bodies[k]),
                   &r);
        if (r.body && strcmp(r.body, g->want[k]) == 0)
            g->ok++;
        else
            g->bad++;
        srv_reply_free(&r);
    }
    return NULL;
}

TEST(srv_micro_batching_under_load)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/mille_test_srv_group_%ld.model", (long)getpid());
    CHECK_INT(tiny_model(path, 0), 0);
    srv *s;
    mille_error e;
    CHECK_INT(srv_new(&s, path, NULL, &e), 0);
    char *want[N_GROUP_BODIES];
    for (size_t k = 0; k < N_GROUP_BODIES; k++) {
        srv_reply r;
        srv_handle(s, SRV_PUBLIC, "POST", "/v1/parse", group_bodies[k], strlen(group_bodies[k]),
                   &r);
        CHECK_INT(r.status, k == 3 ? 400 : 200);
        want[k] = strdup(r.body);
        srv_reply_free(&r);
    }
    srv_free(s);
    srv_config cfg = srv_default_config();
    cfg.batch_wait_us = 2000;
    cfg.batch_slots = 1; /* as on a 1-CPU machine: 8 threads must then share calls */
    CHECK_INT(srv_new(&s, path, &cfg, &e), 0);
    enum { T = 8 };
    pthread_t th[T];
    grouper g[T];
    for (int i = 0; i < T; i++) {
        g[i] = (grouper){s, want, i, 0, 0};
        CHECK_INT(pthread_create(&th[i], NULL, grouper_run, &g[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(g[i].bad, 0);
        CHECK_INT(g[i].ok, 50);
    }
    srv_reply r;
    srv_handle(s, SRV_PUBLIC, "GET", "/metrics", NULL, 0, &r);
    unsigned long long groups = 0, grouped = 0;
    const char *p = r.body ? strstr(r.body, "\nmille_parse_groups_total ") : NULL;
    const char *q = r.body ? strstr(r.body, "\nmille_parse_grouped_total ") : NULL;
    CHECK(p && q);
    if (p && q) {
        groups = strtoull(p + 26, NULL, 10);
        grouped = strtoull(q + 27, NULL, 10);
    }
    CHECK_INT(grouped, T * 50);
    /* Whether requests overlapped (groups < grouped) depends on the scheduler: a fast model on
     * a busy machine may parse each alone. What must hold is that every request went through
     * the grouping path and got its own result (above). */
    CHECK(groups >= 1 && groups <= grouped);
    srv_reply_free(&r);
    srv_free(s);
    for (size_t k = 0; k < N_GROUP_BODIES; k++) free(want[k]);
    unlink(path);
}

/* POST /model/parse's shaping (server/rasa.c): Rasa's keys, character offsets from byte
 * offsets, the ranking renamed; a result without the expected keys gives NULL (a 500). */
TEST(srv_rasa_shape_and_char_offsets)
{
    const char *text = "réveille-moi à cinq heures"; /* "cinq heures": bytes 17..28 */
    json_t *m = json_pack("{s:s,s:f,s:[{s:s,s:f},{s:s,s:f}],s:[{s:s,s:s,s:i,s:i}]}", "intent",
                          "alarm_set", "confidence", 0.75, "top_intents", "intent", "alarm_set",
                          "score", 0.75, "intent", "alarm_query", "score", 0.25, "slots", "slot",
                          "time", "value", "cinq heures", "start", 17, "end", 28);
    json_t *r = rasa_from_mille(m, text, strlen(text));
    CHECK(r != NULL);
    if (r) {
        json_t *ent = json_array_get(json_object_get(r, "entities"), 0);
        CHECK_STR(json_string_value(json_object_get(r, "text")), text);
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "intent"), "name")),
                  "alarm_set");
        CHECK_INT(json_integer_value(json_object_get(ent, "start")), 15);
        CHECK_INT(json_integer_value(json_object_get(ent, "end")), 26);
        CHECK_STR(json_string_value(json_object_get(ent, "entity")), "time");
        CHECK_STR(json_string_value(json_object_get(ent, "value")), "cinq heures");
        CHECK_STR(json_string_value(json_object_get(ent, "extractor")), "mille");
        json_t *rk = json_object_get(r, "intent_ranking");
        CHECK_INT(json_array_size(rk), 2);
        CHECK_STR(json_string_value(json_object_get(json_array_get(rk, 1), "name")), "alarm_query");
        CHECK_NEAR(json_real_value(json_object_get(json_array_get(rk, 1), "confidence")), 0.25,
                   1e-9);
    }
    json_decref(r);
    CHECK_INT(rasa_char_offset("今週は", 6), 2);
    /* a slot past the text, and no result at all */
    m = json_pack("{s:s,s:f,s:[],s:[{s:s,s:s,s:i,s:i}]}", "intent", "a", "confidence", 1.0,
                  "top_intents", "slots", "slot", "x", "value", "y", "start", 0, "end", 99);
    CHECK(rasa_from_mille(m, "y", 1) == NULL);
    CHECK(rasa_from_mille(NULL, "y", 1) == NULL);
}
