/* fuzz_http.c - libFuzzer target for the request handler of `mille serve` (server/srv.c; with
 * a dialogue in memory behind POST /v1/dialogue): the
 * first byte picks a method and route, the rest is the request body (for the admin route:
 * four NUL-terminated header values, Host, Origin, Content-Type and Authorization, then the
 * body). Every reply must be a well-formed status with a body; errors must be JSON naming a
 * code. The model is a tiny random one written once at start.
 *
 * The handler runs at the server's default limits (4 KiB texts, 256 items, bodies up to the
 * 1 MiB of --max-body): smaller ones hid the cost of the largest requests (audit 2026-12).
 * libFuzzer's own default of 4 KiB inputs would too, so LLVMFuzzerInitialize raises -max_len
 * to the body limit unless the command line sets it. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "model.h"
#include "srv.h"

static srv *S;
static mille_dialogue *D; /* POST /v1/dialogue, in memory, few sessions (so eviction runs) */
static char path[64];

static void cleanup(void)
{
    srv_free(S);
    mille_dialogue_free(D);
    unlink(path);
}

/* argv with "-max_len=<default body limit>" appended (libFuzzer reads its flags after this
 * function), unless one is given. */
static void default_max_len(int *argc, char ***argv)
{
    static char flag[40];
    static char *args[256];
    if (*argc < 1 || *argc > 250) return;
    for (int i = 1; i < *argc; i++)
        if (strncmp((*argv)[i], "-max_len=", 9) == 0) return;
    snprintf(flag, sizeof flag, "-max_len=%zu", srv_default_config().max_body + 1);
    for (int i = 0; i < *argc; i++) args[i] = (*argv)[i];
    args[(*argc)++] = flag;
    args[*argc] = NULL;
    *argv = args;
}

static const char token[] = "fuzz-admin-token-0123456789";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    default_max_len(argc, argv);
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
    srv_config cfg = srv_default_config(); /* the server's defaults, see the top */
    cfg.admin_token = token;
    mille_dialogue_params dp = mille_dialogue_default_params();
    dp.max_sessions = 16;
    if (mille_dialogue_open(&dp, &D, &e)) abort();
    cfg.dialogue = D;
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
    {"POST", "/admin/reload", SRV_ADMIN},
    {"GET", "/metrics", SRV_ADMIN},
    {"POST", "/model/parse", SRV_PUBLIC},
    {"POST", "/v1/dialogue", SRV_PUBLIC},
};
#define N_REQS (sizeof reqs / sizeof reqs[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t k = data[0] % N_REQS;
    srv_reply r;
    srv_request q;
    memset(&q, 0, sizeof q);
    q.listener = reqs[k].listener;
    q.method = reqs[k].method;
    q.path = reqs[k].path;
    q.body = (const char *)data + 1;
    q.len = size - 1;
    if (q.listener == SRV_ADMIN) {
        /* header values up to each NUL; "" stands for an absent header */
        const char **h[4] = {&q.host, &q.origin, &q.content_type, &q.authorization};
        for (int i = 0; i < 4; i++) {
            const char *nul = memchr(q.body, 0, q.len);
            if (!nul) break;
            *h[i] = *q.body ? q.body : NULL;
            q.len -= (size_t)(nul + 1 - q.body);
            q.body = nul + 1;
        }
    }
    srv_handle_request(S, &q, &r);
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
