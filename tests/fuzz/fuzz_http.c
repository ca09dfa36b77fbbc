/* fuzz_http.c - libFuzzer target for the request handler of `mille serve` (cli/srv.c): the
 * first byte picks a method and route, the rest is the request body. Every reply must be a
 * well-formed status with a body; errors must be JSON naming a code. The model is a tiny
 * random one written once at start. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "model.h"
#include "srv.h"

static srv *S;
static char path[64];

static void cleanup(void)
{
    srv_free(S);
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    model m;
    model_config c = model_default_config();
    c.buckets = 256, c.dim = 4, c.hidden = 8, c.layers = 2, c.n_intents = 3, c.n_slots = 3;
    mille_error e;
    if (model_new(&m, &c, &e)) abort();
    model_init_params(&m, 1);
    const char *intents[] = {"alarm_set", "play_music", "weather_query"};
    const char *slots[] = {"Other", "time", "place_name"};
    for (int i = 0; i < 3; i++) {
        strtab_intern(&m.intents, intents[i], strlen(intents[i]));
        strtab_intern(&m.slots, slots[i], strlen(slots[i]));
        strtab_intern(&m.scenarios, intents[i], 4);
        m.intent_scenario[i] = (uint32_t)i;
    }
    strtab_intern(&m.locales, "en-US", 5);
    strtab_intern(&m.locales, "ja-JP", 5);
    snprintf(path, sizeof path, "/tmp/mille_fuzz_http_%ld.model", (long)getpid());
    if (model_save(&m, path, 1, &e)) abort();
    model_free(&m);
    srv_config cfg = srv_default_config();
    cfg.max_text = 64;
    cfg.max_batch = 8;
    if (srv_new(&S, path, &cfg, &e)) abort();
    atexit(cleanup);
    return 0;
}

static const struct {
    const char *method, *path;
    int listener;
} reqs[] = {
    {"POST", "/v1/parse", SRV_PUBLIC},
    {"POST", "/v1/parse/batch", SRV_PUBLIC},
    {"GET", "/v1/parse", SRV_PUBLIC},
    {"GET", "/healthz", SRV_PUBLIC},
    {"GET", "/v1/model", SRV_PUBLIC},
    {"GET", "/metrics", SRV_PUBLIC},
    {"POST", "/admin/reload", SRV_PUBLIC},
    {"DELETE", "/v1/parse/batch", SRV_PUBLIC},
    {"GET", "/", SRV_PUBLIC},
    {"POST", "/nope", SRV_PUBLIC},
};
#define N_REQS (sizeof reqs / sizeof reqs[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t k = data[0] % N_REQS;
    srv_reply r;
    srv_handle(S, reqs[k].listener, reqs[k].method, reqs[k].path, (const char *)data + 1, size - 1,
               &r);
    if (r.status < 200 || r.status > 599 || !r.body || !r.content_type) abort();
    if (r.status >= 400) {
        json_error_t je;
        json_t *j = json_loadb(r.body, r.len, 0, &je);
        json_t *code = json_object_get(json_object_get(j, "error"), "code");
        if (!json_is_string(code)) abort();
        json_decref(j);
    }
    srv_reply_free(&r);
    return 0;
}
