#define _POSIX_C_SOURCE 200809L
/*
 * srv.c - routes, JSON, limits, metrics and model reload of `mille serve` (see srv.h).
 *
 *     GET  /               the playground page
 *     GET  /healthz        {"status": "ok", ...}
 *     GET  /v1/model       the model's description
 *     GET  /metrics        Prometheus text format
 *     POST /v1/parse       {"text": "...", "locale": "fr-FR"} -> one parse
 *     POST /v1/parse/batch [{"text": ...}, ...] -> {"results": [...]}
 *     POST /model/parse    {"text": "..."} -> one parse in Rasa NLU's shape (rasa.c)
 *     POST /v1/dialogue    {"session": "...", "text": "...", "locale": "..."} -> one turn
 *                          of the dialogue (include/mille_dialogue.h), when one is configured
 *     POST /admin/reload   admin listener only; body {} or {"model": "PATH"}; needs the
 *                          admin token, a loopback Host, no foreign Origin, JSON content
 *
 * Every error is a JSON body {"error": {"status", "code", "message"}} whose code is one of
 * the names in err_codes[] (docs/http.md lists them).
 *
 * Public replies name the model by its file name only: the directory layout of the server
 * is none of a client's business (audit 2026-12 #10).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core.h"
#include "rasa.h"
#include "srv.h"
#include "text.h"

/* ---- metrics ----------------------------------------------------------------------------- */

enum {
    R_PARSE,
    R_BATCH,
    R_HEALTH,
    R_MODEL,
    R_METRICS,
    R_PAGE,
    R_RELOAD,
    R_RASA,
    R_DIALOGUE,
    R_OTHER,
    R_COUNT
};
static const char *const route_names[R_COUNT] = {"parse",    "parse_batch", "healthz", "model",
                                                 "metrics",  "playground",  "reload",  "rasa_parse",
                                                 "dialogue", "other"};

static const int statuses[] = {200, 400, 401, 403, 404, 405, 408, 413, 415, 500, 503};
#define N_STATUS ((int)(sizeof statuses / sizeof statuses[0]))

static const char *const err_codes[] = {"bad_json",
                                        "bad_request",
                                        "missing_text",
                                        "empty_text",
                                        "invalid_utf8",
                                        "text_too_long",
                                        "bad_locale",
                                        "unknown_locale",
                                        "empty_batch",
                                        "batch_too_large",
                                        "body_too_large",
                                        "not_found",
                                        "method_not_allowed",
                                        "timeout",
                                        "reload_failed",
                                        "unauthorized",
                                        "forbidden",
                                        "unsupported_media_type",
                                        "busy",
                                        "deadline",
                                        "rate_limited",
                                        "throttled",
                                        "internal"};
#define N_ERR ((int)(sizeof err_codes / sizeof err_codes[0]))

/* latency buckets, in microseconds (Prometheus "le" in seconds) */
static const double lat_us[] = {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000};
#define N_LAT ((int)(sizeof lat_us / sizeof lat_us[0]))

typedef struct srv_metrics {
    atomic_ullong requests[R_COUNT][N_STATUS + 1]; /* last column: other statuses */
    atomic_ullong errors[N_ERR];
    atomic_ullong lat[R_COUNT][N_LAT + 1]; /* cumulative at render time, not here */
    atomic_ullong lat_sum_us[R_COUNT];
    atomic_ullong utterances;
    atomic_ullong reloads, reload_failures;
    atomic_ullong groups, grouped; /* micro-batching: batch calls made, requests in them */
} srv_metrics;

/* ---- models and sessions ----------------------------------------------------------------- */

typedef struct srv_model {
    mille_model *m;
    char *path;       /* as given (admin replies and reloads) */
    const char *name; /* its last component (public replies) */
    json_t *info;     /* the model's description, plus path / generation / loaded_at */
    unsigned long gen;
    atomic_int refs;
    pthread_mutex_t mu; /* guards the session pool */
    mille_session **pool;
    size_t n_pool, cap_pool;
    mille_rewrites *rw; /* cfg.rewrites, loaded with the model (NULL: none) */
} srv_model;

typedef struct group_job group_job;

struct srv {
    srv_config cfg;
    pthread_mutex_t mu; /* guards cur */
    srv_model *cur;
    pthread_mutex_t reload_mu; /* one reload at a time */
    unsigned long next_gen;
    srv_metrics met;
    /* micro-batching (see grouped_parse): the single parses waiting for a batch call */
    pthread_mutex_t g_mu;
    pthread_cond_t g_join; /* the leader waits here for more to join, or the group full */
    pthread_cond_t g_done; /* the others wait here for their result */
    group_job *g_head, **g_tail;
    size_t g_n;
    int g_leader;       /* a leader is gathering the group */
    unsigned g_running; /* groups being parsed */
    unsigned g_slots;   /* at most this many at once: the CPUs */
};

srv_config srv_default_config(void)
{
    /* clang-format off */
    srv_config c = {4096, 1u << 20, 256, 1, MILLE_MAX_WORDS_DEFAULT, MILLE_MAX_BATCH_WORDS_DEFAULT,
                    NULL, NULL,     0,   0, NULL, NULL, NULL};
    /* clang-format on */
    return c;
}

static void model_unref(srv_model *sm)
{
    if (!sm || atomic_fetch_sub(&sm->refs, 1) != 1) return;
    for (size_t i = 0; i < sm->n_pool; i++) mille_session_free(sm->pool[i]);
    free(sm->pool);
    mille_model_free(sm->m);
    mille_rewrites_free(sm->rw);
    json_decref(sm->info);
    free(sm->path);
    pthread_mutex_destroy(&sm->mu);
    free(sm);
}

static srv_model *model_ref(srv *s)
{
    pthread_mutex_lock(&s->mu);
    srv_model *sm = s->cur;
    atomic_fetch_add(&sm->refs, 1);
    pthread_mutex_unlock(&s->mu);
    return sm;
}

/* 0 if path is a regular file, else an error naming what it is. Opened with O_NONBLOCK so
 * that a FIFO (or a device) is looked at, not waited on: a plain open() of a FIFO blocks
 * until a writer comes (audit #7). The loader opens the path again; a path swapped in
 * between is the loader's to refuse. */
static int regular_file(const char *path, long long *bytes, mille_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return err_set(err, MILLE_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st);
    int e = errno;
    close(fd);
    if (rc < 0) return err_set(err, MILLE_EIO, "%s: %s", path, strerror(e));
    if (!S_ISREG(st.st_mode))
        return err_set(err, MILLE_EINVAL, "%s is not a regular file (a %s)", path,
                       S_ISFIFO(st.st_mode)   ? "FIFO"
                       : S_ISDIR(st.st_mode)  ? "directory"
                       : S_ISSOCK(st.st_mode) ? "socket"
                                              : "device");
    if (bytes) *bytes = (long long)st.st_size;
    return MILLE_OK;
}

static srv_model *model_open(srv *s, const char *path, mille_error *err)
{
    long long bytes = 0;
    if (regular_file(path, &bytes, err) < 0) return NULL;
    srv_model *sm = calloc(1, sizeof *sm);
    if (!sm) return err_set(err, MILLE_ENOMEM, "out of memory"), NULL;
    atomic_init(&sm->refs, 1);
    pthread_mutex_init(&sm->mu, NULL);
    sm->path = strdup(path);
    if (sm->path) {
        const char *slash = strrchr(sm->path, '/');
        sm->name = slash && slash[1] ? slash + 1 : sm->path;
    }
    if (!sm->path || mille_model_load(path, &sm->m, err) < 0) {
        if (!sm->path) err_set(err, MILLE_ENOMEM, "out of memory");
        model_unref(sm);
        return NULL;
    }
    if (s->cfg.rewrites && mille_rewrites_load(s->cfg.rewrites, &sm->rw, err) < 0) {
        model_unref(sm);
        return NULL;
    }
    json_error_t je;
    sm->info = json_loads(mille_model_metadata(sm->m), 0, &je);
    if (!sm->info || !json_is_object(sm->info)) {
        err_set(err, MILLE_EFORMAT, "%s: model description is not a JSON object", path);
        model_unref(sm);
        return NULL;
    }
    json_object_del(sm->info, "tensors");
    json_object_del(sm->info, "intent_scenario");
    sm->gen = ++s->next_gen;
    /* json_object_set_new fails only when out of memory or on a name that is not UTF-8 */
    if (json_object_set_new(sm->info, "path", json_string(sm->name)) ||
        json_object_set_new(sm->info, "generation", json_integer((json_int_t)sm->gen)) ||
        json_object_set_new(sm->info, "loaded_at", json_integer((json_int_t)time(NULL))) ||
        json_object_set_new(sm->info, "file_bytes", json_integer((json_int_t)bytes))) {
        err_set(err, MILLE_EFORMAT, "%s: the file name is not UTF-8 (or out of memory)", path);
        model_unref(sm);
        return NULL;
    }
    return sm;
}

/* A session of sm: one from its pool, or a new one (NULL when out of memory). */
static mille_session *session_get(srv *s, srv_model *sm)
{
    mille_session *ses = NULL;
    pthread_mutex_lock(&sm->mu);
    if (sm->n_pool) ses = sm->pool[--sm->n_pool];
    pthread_mutex_unlock(&sm->mu);
    if (ses) return ses;
    if (mille_session_new(sm->m, &ses, NULL) < 0) return NULL;
    mille_session_set_max_text(ses, s->cfg.max_text);
    mille_session_set_max_words(ses, s->cfg.max_words);
    mille_session_set_max_batch_words(ses, s->cfg.max_batch_words);
    mille_session_set_strict_locale(ses, s->cfg.strict_locale);
    mille_session_set_rewrites(ses, sm->rw);
    return ses;
}

static void session_put(srv_model *sm, mille_session *ses)
{
    pthread_mutex_lock(&sm->mu);
    if (vec_reserve((void **)&sm->pool, &sm->cap_pool, sm->n_pool + 1, sizeof *sm->pool)) {
        pthread_mutex_unlock(&sm->mu);
        mille_session_free(ses);
        return;
    }
    sm->pool[sm->n_pool++] = ses;
    pthread_mutex_unlock(&sm->mu);
}

int srv_new(srv **out, const char *model_path, const srv_config *cfg, mille_error *err)
{
    *out = NULL;
    srv *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, MILLE_ENOMEM, "out of memory");
    s->cfg = cfg ? *cfg : srv_default_config();
    if (s->cfg.max_text < 1 || s->cfg.max_text > MILLE_MAX_TEXT_LIMIT) {
        free(s);
        return err_set(err, MILLE_ERANGE, "text limit %zu is out of range 1..%u", cfg->max_text,
                       MILLE_MAX_TEXT_LIMIT);
    }
    if (s->cfg.max_words < 1 || s->cfg.max_words > MILLE_MAX_WORDS_LIMIT ||
        s->cfg.max_batch_words < 1 || s->cfg.max_batch_words > MILLE_MAX_WORDS_LIMIT) {
        free(s);
        return err_set(err, MILLE_ERANGE, "word limits %zu, %zu: out of range 1..%u",
                       cfg->max_words, cfg->max_batch_words, MILLE_MAX_WORDS_LIMIT);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->reload_mu, NULL);
    pthread_mutex_init(&s->g_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the leader's wait is a timeout */
    pthread_cond_init(&s->g_join, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->g_done, NULL);
    s->g_tail = &s->g_head;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->g_slots = s->cfg.batch_slots        ? s->cfg.batch_slots
                 : ncpu > 0 && ncpu < 1024 ? (unsigned)ncpu
                                           : 1;
    s->cur = model_open(s, model_path, err);
    if (!s->cur) {
        srv_free(s);
        return err ? err->code : MILLE_EIO;
    }
    *out = s;
    return MILLE_OK;
}

void srv_free(srv *s)
{
    if (!s) return;
    model_unref(s->cur);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->reload_mu);
    pthread_mutex_destroy(&s->g_mu);
    pthread_cond_destroy(&s->g_join);
    pthread_cond_destroy(&s->g_done);
    free(s);
}

int srv_reload(srv *s, const char *path, mille_error *err)
{
    pthread_mutex_lock(&s->reload_mu);
    srv_model *old = model_ref(s);
    srv_model *sm = model_open(s, path ? path : old->path, err);
    model_unref(old);
    if (!sm) {
        atomic_fetch_add(&s->met.reload_failures, 1);
        pthread_mutex_unlock(&s->reload_mu);
        return err ? err->code : MILLE_EIO;
    }
    pthread_mutex_lock(&s->mu);
    old = s->cur;
    s->cur = sm;
    pthread_mutex_unlock(&s->mu);
    model_unref(old); /* freed here, or by the last request still using it */
    atomic_fetch_add(&s->met.reloads, 1);
    pthread_mutex_unlock(&s->reload_mu);
    return MILLE_OK;
}

/* ---- replies ----------------------------------------------------------------------------- */

void srv_reply_free(srv_reply *r)
{
    if (!r->body_static) free(r->body);
    memset(r, 0, sizeof *r);
}

static void reply_json(srv_reply *r, int status, json_t *j)
{
    r->status = status;
    r->content_type = "application/json";
    r->body = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(j);
    if (!r->body) {
        r->status = 500;
        r->body = (char *)"{\"error\":{\"status\":500,\"code\":\"internal\","
                          "\"message\":\"out of memory\"}}";
        r->body_static = 1;
    }
    r->len = strlen(r->body);
}

void srv_count_error(srv *s, const char *code)
{
    for (int i = 0; i < N_ERR; i++)
        if (strcmp(err_codes[i], code) == 0) {
            atomic_fetch_add(&s->met.errors[i], 1);
            return;
        }
    atomic_fetch_add(&s->met.errors[N_ERR - 1], 1);
}

static void verror(srv *s, srv_reply *r, int status, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void verror(srv *s, srv_reply *r, int status, const char *code, const char *fmt, va_list ap)
{
    char msg[640];
    memset(r, 0, sizeof *r);
    vsnprintf(msg, sizeof msg, fmt, ap);
    srv_count_error(s, code);
    /* messages may quote input: keep them valid UTF-8 for the JSON string */
    size_t n = strlen(msg), bad;
    while (n && text_utf8_check(msg, n, &bad)) n = bad;
    msg[n] = '\0';
    json_t *e =
        json_pack("{s:{s:i,s:s,s:s}}", "error", "status", status, "code", code, "message", msg);
    reply_json(r, status, e);
}

void srv_error(srv *s, srv_reply *r, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(s, r, status, code, fmt, ap);
    va_end(ap);
}

/* ---- parsing requests -------------------------------------------------------------------- */

/* The status and error code for a failed parse of the library. */
static int parse_error_kind(const mille_error *e, const char **code)
{
    switch (e->code) {
    case MILLE_EUTF8:
        *code = "invalid_utf8";
        return 400;
    case MILLE_ERANGE:
        *code = "text_too_long";
        return 413;
    case MILLE_ELIMIT:
        *code = "too_many_words";
        return 413;
    case MILLE_ENOTFOUND:
        *code = "unknown_locale";
        return 400;
    case MILLE_EINVAL:
        *code = strncmp(e->msg, "locale", 6) == 0 ? "bad_locale" : "empty_text";
        return 400;
    default:
        *code = "internal";
        return 500;
    }
}

/* Check one request object; fills in. where names it in messages ("" or "items[3]."). */
static int read_input(srv *s, srv_reply *r, const json_t *o, const char *where, mille_input *in,
                      float *reject)
{
    if (!json_is_object(o)) {
        srv_error(s, r, 400, "bad_request", "%s: expected a JSON object with \"text\"",
                  *where ? where : "body");
        return -1;
    }
    const json_t *t = json_object_get(o, "text"), *l = json_object_get(o, "locale");
    if (!t) {
        srv_error(s, r, 400, "missing_text", "%stext is missing", where);
        return -1;
    }
    if (!json_is_string(t)) {
        srv_error(s, r, 400, "bad_request", "%stext must be a string", where);
        return -1;
    }
    in->text = json_string_value(t);
    in->len = json_string_length(t);
    if (in->len == 0) {
        srv_error(s, r, 400, "empty_text", "%stext is empty", where);
        return -1;
    }
    if (in->len > s->cfg.max_text) {
        srv_error(s, r, 413, "text_too_long", "%stext is %zu bytes, the limit is %zu", where,
                  in->len, s->cfg.max_text);
        return -1;
    }
    /* "reject_below": this request's rejection threshold (mille.h), default the model's */
    const json_t *rb = json_object_get(o, "reject_below");
    *reject = MILLE_REJECT_MODEL;
    if (rb && !json_is_null(rb)) {
        double x = json_is_number(rb) ? json_number_value(rb) : -1;
        if (!(x >= 0 && x <= 1)) {
            srv_error(s, r, 400, "bad_request", "%sreject_below must be a number in [0, 1]", where);
            return -1;
        }
        *reject = (float)x;
    }
    in->locale = NULL;
    if (l && !json_is_null(l)) {
        if (!json_is_string(l)) {
            srv_error(s, r, 400, "bad_locale", "%slocale must be a string", where);
            return -1;
        }
        in->locale = json_string_value(l);
        if (strlen(in->locale) != json_string_length(l)) {
            srv_error(s, r, 400, "bad_locale", "%slocale holds a NUL character", where);
            return -1;
        }
    }
    return 0;
}

/* One parse as JSON, or NULL: out of memory, or a value JSON cannot hold. json_pack returns
 * NULL for a NaN or infinite score (JSON has no such numbers), and json_array_append_new
 * then fails silently; unchecked, that dropped an item from a batch while "count" kept it
 * (audit #16). Every step is checked so that a broken model gets a 500 instead. */
static json_t *result_json(const mille_input *in, const mille_result *res, const mille_model *m,
                           float reject)
{
    json_t *top = json_array(), *slots = json_array();
    int bad = !top || !slots;
    for (size_t k = 0; k < res->n_top && !bad; k++)
        bad = json_array_append_new(top, json_pack("{s:s,s:f}", "intent", res->top[k].intent,
                                                   "score", (double)res->top[k].score)) != 0;
    for (size_t k = 0; k < res->n_slots && !bad; k++) {
        const mille_slot *sl = &res->slots[k];
        bad = json_array_append_new(
                  slots, json_pack("{s:s,s:s%,s:I,s:I}", "slot", sl->slot, "value",
                                   in->text + sl->start, sl->end - sl->start, "start",
                                   (json_int_t)sl->start, "end", (json_int_t)sl->end)) != 0;
    }
    if (bad) {
        json_decref(top);
        json_decref(slots);
        return NULL;
    }
    /* "o" steals top and slots, even when json_pack fails */
    json_t *o = json_pack("{s:s,s:s,s:f,s:o,s:o,s:s}", "intent", res->intent, "scenario",
                          res->scenario, "confidence", (double)res->confidence, "top_intents", top,
                          "slots", slots, "annot_utt", res->annot_utt);
    if (o && in->locale && json_object_set_new(o, "locale", json_string(in->locale))) {
        json_decref(o);
        return NULL;
    }
    if (o &&
        json_object_set_new(o, "rejected", json_boolean(mille_result_rejected(m, res, reject)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A request without a locale: the locale the model identified and its probability ("locale",
 * "locale_p"; nothing when the model has no language-identification head). Takes o; NULL
 * when o is NULL or JSON fails. */
static json_t *add_found_locale(json_t *o, const mille_session *ses, size_t i)
{
    float p;
    const char *loc = o ? mille_session_locale(ses, i, &p) : NULL;
    if (loc && (json_object_set_new(o, "locale", json_string(loc)) ||
                json_object_set_new(o, "locale_p", json_real((double)p)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Self-learning: replace each input by its rewrite target, keeping what it was in from[]
 * (NULL when not rewritten). Nothing is computed without a table. */
static void rewrite_inputs(mille_session *ses, mille_input *in, size_t n, mille_input *from)
{
    for (size_t i = 0; i < n; i++) {
        size_t tl;
        const char *t = mille_session_rewrite(ses, in[i].text, in[i].len, in[i].locale, &tl);
        from[i] = in[i];
        from[i].text = t ? in[i].text : NULL;
        if (t) in[i].text = t, in[i].len = tl;
    }
}

/* result_json plus "rewritten_from", and the turn logged when the request names a session. */
static json_t *result_out(srv *s, const json_t *req, const mille_input *in, const mille_input *from,
                          const mille_result *res, const mille_model *m, float reject)
{
    json_t *o = result_json(in, res, m, reject);
    if (o && from->text &&
        json_object_set_new(o, "rewritten_from", json_stringn(from->text, from->len))) {
        json_decref(o);
        return NULL;
    }
    const char *session = json_string_value(json_object_get(req, "session"));
    if (o && s->cfg.log && session) {
        mille_turn t = {session,    json_string_value(json_object_get(req, "user")),
                        in->locale, 0,
                        in->text,   in->len,
                        res,        MILLE_OUTCOME_UNKNOWN};
        mille_error e;
        if (mille_log_turn(s->cfg.log, &t, &e) < 0)
            srv_count_error(s, "internal"); /* counted; the reply goes on */
    }
    return o;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t srv_json_garbage(const char *body, size_t len)
{
    int in_str = 0, run = 0; /* run: letters in a row outside strings */
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            run = 0;
        } else if (strchr("truefalsn", c) && c) { /* the letters of true, false, null */
            if (++run > 5) return i;
        } else if ((c >= '0' && c <= '9') || (c && strchr("{}[]:,-+.Ee \t\n\r", c))) {
            run = 0;
        } else {
            return i;
        }
    }
    return len;
}

size_t srv_count_items(const char *body, size_t len, size_t stop_after)
{
    size_t i = 0, n = 0;
    while (i < len && is_ws(body[i])) i++;
    if (i == len || body[i] != '[') return 0;
    int depth = 1, in_str = 0, any = 0; /* any: the array has a first item */
    for (i++; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (is_ws(c)) continue;
        if (c == ']' || c == '}') {
            if (--depth == 0) break;
            continue;
        }
        any = 1;
        if (c == '"')
            in_str = 1;
        else if (c == '[' || c == '{')
            depth++;
        else if (c == ',' && depth == 1 && ++n > stop_after)
            break;
    }
    return any ? n + 1 : 0;
}

/* ---- micro-batching ---------------------------------------------------------------------- */

/* Single parses that arrive together run as one mille_parse_batch call, which shares the
 * dense layers' matrix products among them (docs/http.md: a batch is 2.3x the rate of single
 * parses on one thread). The first to arrive is the leader of a group. At most one group
 * per CPU is parsed at a time: while they all are, the leader waits for one to finish (up to
 * batch_wait_us, or until max_batch have joined) and others join its group meanwhile; when
 * a CPU is free it goes at once. So a lone request waits for nothing, and under load the
 * groups grow with the queue. The leader takes the group, runs the call on its session and
 * writes each result as JSON (results point into the session, which goes back to the pool
 * after), then wakes the others, who reply. The next to arrive meanwhile leads the next
 * group. (A first version always waited batch_wait_us for company: with 2 worker threads
 * nobody came, and 500 us cut the throughput 4x.) */

struct group_job {
    const mille_input *in;
    float reject;      /* the request's rejection threshold */
    const json_t *req; /* the request object (session, user for the log) */
    group_job *next;
    int done;        /* under g_mu */
    int rc;          /* the call's error when it failed as a whole, else 0 */
    json_t *json;    /* the result; NULL with rc == 0: see err, or JSON failed */
    mille_error err; /* the input's error, when err.code != 0 */
};

static void group_run(srv *s, group_job *list, size_t n)
{
    mille_input *in = calloc(n, sizeof *in), *from = calloc(n, sizeof *from);
    mille_result *res = calloc(n, sizeof *res);
    mille_error *errs = calloc(n, sizeof *errs);
    srv_model *sm = NULL;
    mille_session *ses = NULL;
    int rc = MILLE_ENOMEM;
    if (in && from && res && errs) {
        size_t i = 0;
        for (group_job *j = list; j; j = j->next) in[i++] = *j->in;
        sm = model_ref(s);
        ses = session_get(s, sm);
        if (ses) rewrite_inputs(ses, in, n, from);
        rc = ses ? mille_parse_batch(ses, in, n, res, errs) : MILLE_ENOMEM;
    }
    size_t i = 0;
    for (group_job *j = list; j; j = j->next, i++) {
        if (rc < 0)
            j->rc = rc;
        else if (res[i].intent)
            j->json = add_found_locale(
                result_out(s, j->req, &in[i], &from[i], &res[i], sm->m, j->reject), ses, i);
        else
            j->err = errs[i];
    }
    atomic_fetch_add(&s->met.groups, 1);
    atomic_fetch_add(&s->met.grouped, n);
    if (ses) session_put(sm, ses);
    model_unref(sm);
    free(in);
    free(from);
    free(res);
    free(errs);
}

static void grouped_parse(srv *s, const json_t *req, const mille_input *in, float reject, int rasa,
                          srv_reply *r)
{
    group_job job;
    memset(&job, 0, sizeof job);
    job.in = in;
    job.reject = reject;
    job.req = req;
    pthread_mutex_lock(&s->g_mu);
    *s->g_tail = &job;
    s->g_tail = &job.next;
    s->g_n++;
    if (s->g_leader) {
        if (s->g_n >= s->cfg.max_batch) pthread_cond_signal(&s->g_join);
        while (!job.done) pthread_cond_wait(&s->g_done, &s->g_mu);
        pthread_mutex_unlock(&s->g_mu);
    } else {
        s->g_leader = 1;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        long long ns = until.tv_nsec + (long long)s->cfg.batch_wait_us * 1000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        while (s->g_running >= s->g_slots && s->g_n < s->cfg.max_batch &&
               pthread_cond_timedwait(&s->g_join, &s->g_mu, &until) == 0) {
        }
        group_job *list = s->g_head;
        size_t n = s->g_n;
        s->g_head = NULL;
        s->g_tail = &s->g_head;
        s->g_n = 0;
        s->g_leader = 0;
        s->g_running++;
        pthread_mutex_unlock(&s->g_mu);
        group_run(s, list, n);
        /* under g_mu no one can see done and return (taking its job off the stack) before
         * this loop has read its next pointer */
        pthread_mutex_lock(&s->g_mu);
        for (group_job *j = list; j; j = j->next) j->done = 1;
        s->g_running--;
        pthread_cond_broadcast(&s->g_done);
        pthread_cond_signal(&s->g_join); /* a waiting leader may go */
        pthread_mutex_unlock(&s->g_mu);
    }
    if (job.rc < 0) {
        srv_error(s, r, 500, "internal", "parse failed: %s", mille_strerror(job.rc));
    } else if (job.err.code) {
        const char *code;
        int status = parse_error_kind(&job.err, &code);
        srv_error(s, r, status, code, "%s", job.err.msg);
    } else if (!job.json) {
        srv_error(s, r, 500, "internal",
                  "the result cannot be written as JSON (a score that is not a finite number, "
                  "or out of memory)");
    } else {
        atomic_fetch_add(&s->met.utterances, 1);
        reply_json(r, 200, rasa ? rasa_from_mille(job.json, in->text, in->len) : job.json);
    }
}

/* POST /v1/parse (batch == 0) and /v1/parse/batch; rasa: POST /model/parse. */
static void do_parse(srv *s, const char *body, size_t len, int batch, int rasa, srv_reply *r)
{
    size_t bad;
    if (len == 0) {
        srv_error(s, r, 400, "bad_json", "the body is empty: expected %s",
                  batch ? "a JSON array of {\"text\": ...} objects" : "a JSON object");
        return;
    }
    if (text_utf8_check(body, len, &bad)) {
        srv_error(s, r, 400, "invalid_utf8", "the body has invalid UTF-8 at byte %zu", bad);
        return;
    }
    /* jansson lexes a byte at a time, and a run of letters is read in full "for clearer error
     * messages": 1 MiB of "xxx..." cost 25 ms of CPU to reject, 1 MiB of spaces 6.5 ms.
     * Bytes that cannot be JSON outside strings are found here in one tight pass. */
    size_t g = srv_json_garbage(body, len);
    if (g < len) {
        srv_error(s, r, 400, "bad_json",
                  "the body is not valid JSON: unexpected character at byte %zu (outside a "
                  "string)",
                  g);
        return;
    }
    /* Count a batch's items before parsing it: the parse costs time and memory in proportion
     * to the items (1 MiB of "[[],[],...]" took 0.33 s, audit #9), the count one byte scan. */
    size_t pre = batch ? srv_count_items(body, len, s->cfg.max_batch) : 0;
    if (pre > s->cfg.max_batch) {
        srv_error(s, r, 413, "batch_too_large",
                  "the batch has more than %zu utterances (counted before parsing), the limit is "
                  "%zu",
                  s->cfg.max_batch, s->cfg.max_batch);
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        srv_error(s, r, 400, "bad_json", "the body is not valid JSON: %s (line %d, column %d)",
                  je.text, je.line, je.column);
        return;
    }
    size_t n = batch ? json_array_size(j) : 1;
    if (batch && !json_is_array(j)) {
        srv_error(s, r, 400, "bad_request", "the body must be a JSON array of {\"text\": ...}");
        json_decref(j);
        return;
    }
    if (batch && n == 0) {
        srv_error(s, r, 400, "empty_batch", "the batch is empty");
        json_decref(j);
        return;
    }
    if (n > s->cfg.max_batch) {
        srv_error(s, r, 413, "batch_too_large", "the batch has %zu utterances, the limit is %zu", n,
                  s->cfg.max_batch);
        json_decref(j);
        return;
    }
    mille_input *in = calloc(n, sizeof *in), *from = calloc(n, sizeof *from);
    mille_result *res = calloc(n, sizeof *res);
    mille_error *errs = calloc(n, sizeof *errs);
    float *reject = calloc(n, sizeof *reject);
    srv_model *sm = NULL;
    mille_session *ses = NULL;
    if (!in || !from || !res || !errs || !reject) {
        srv_error(s, r, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char where[40] = "";
        if (batch) snprintf(where, sizeof where, "items[%zu].", i);
        if (read_input(s, r, batch ? json_array_get(j, i) : j, where, &in[i], &reject[i])) goto out;
    }
    if (!batch && s->cfg.batch_wait_us) {
        grouped_parse(s, j, &in[0], reject[0], rasa, r);
        goto out;
    }
    sm = model_ref(s);
    ses = session_get(s, sm);
    if (ses) rewrite_inputs(ses, in, n, from);
    int rc = ses ? mille_parse_batch(ses, in, n, res, errs) : MILLE_ENOMEM;
    for (size_t i = 0; rc == MILLE_ELIMIT && i < n; i++)
        if (errs[i].code == MILLE_ELIMIT) { /* the batch's words are over the limit */
            srv_error(s, r, 413, "too_many_words", "%s", errs[i].msg);
            goto out;
        }
    if (rc < 0) {
        srv_error(s, r, 500, "internal", "parse failed: %s", mille_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (res[i].intent) continue;
        const char *code;
        int status = parse_error_kind(&errs[i], &code);
        if (batch)
            srv_error(s, r, status, code, "items[%zu]: %s", i, errs[i].msg);
        else
            srv_error(s, r, status, code, "%s", errs[i].msg);
        goto out;
    }
    json_t *all = batch ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *o = add_found_locale(result_out(s, batch ? json_array_get(j, i) : j, &in[i],
                                                &from[i], &res[i], sm->m, reject[i]),
                                     ses, i);
        if (!batch) {
            all = o;
        } else if (!all || json_array_append_new(all, o)) { /* o is freed either way */
            if (!all) json_decref(o);
            json_decref(all);
            all = NULL;
        }
        if (!all) {
            char where[40] = "";
            if (batch) snprintf(where, sizeof where, "items[%zu]: ", i);
            srv_error(s, r, 500, "internal",
                      "%sthe result cannot be written as JSON (a score that is not a finite "
                      "number, or out of memory)",
                      where);
            goto out;
        }
    }
    if (batch) all = json_pack("{s:o,s:I}", "results", all, "count", (json_int_t)n);
    if (rasa) all = rasa_from_mille(all, in[0].text, in[0].len);
    atomic_fetch_add(&s->met.utterances, n);
    reply_json(r, 200, all); /* a NULL (out of memory) becomes a 500 there */
out:
    if (ses) session_put(sm, ses);
    model_unref(sm);
    free(in);
    free(from);
    free(res);
    free(errs);
    free(reject);
    json_decref(j);
}

/* ---- the dialogue route ------------------------------------------------------------------ */

/* POST /v1/dialogue: {"session": "...", "text": "...", "locale": "..."} -> one turn, in the
 * JSON of mille_dialogue_reply_json (the fields mille-voice --json prints). The body is
 * checked as /v1/parse's (size, UTF-8, JSON, text limits); "session" is optional (without it
 * the turn has no state). The NLU session comes from the current model's pool, so a reload
 * applies to the next turn. */
static void do_dialogue(srv *s, const char *body, size_t len, srv_reply *r)
{
    size_t bad;
    if (!s->cfg.dialogue) {
        srv_error(s, r, 404, "not_found",
                  "the dialogue is off: start mille serve with --dialogue-db PATH "
                  "(docs/dialogue.md)");
        return;
    }
    if (len == 0) {
        srv_error(s, r, 400, "bad_json", "the body is empty: expected a JSON object");
        return;
    }
    if (text_utf8_check(body, len, &bad)) {
        srv_error(s, r, 400, "invalid_utf8", "the body has invalid UTF-8 at byte %zu", bad);
        return;
    }
    size_t g = srv_json_garbage(body, len);
    if (g < len) {
        srv_error(s, r, 400, "bad_json",
                  "the body is not valid JSON: unexpected character at byte %zu (outside a "
                  "string)",
                  g);
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        srv_error(s, r, 400, "bad_json", "the body is not valid JSON: %s (line %d, column %d)",
                  je.text, je.line, je.column);
        return;
    }
    mille_input in;
    float reject;
    srv_model *sm = NULL;
    mille_session *ses = NULL;
    mille_dialogue_reply *reply = NULL;
    if (read_input(s, r, j, "", &in, &reject)) goto out;
    const json_t *sj = json_object_get(j, "session");
    const char *session = NULL;
    if (sj && !json_is_null(sj)) {
        session = json_string_value(sj);
        size_t n = json_string_length(sj);
        if (!session || n == 0 || n > MILLE_DIALOGUE_MAX_ID || strlen(session) != n) {
            srv_error(s, r, 400, "bad_request",
                      "session must be a string of 1..%d bytes without NUL characters",
                      MILLE_DIALOGUE_MAX_ID);
            goto out;
        }
    }
    sm = model_ref(s);
    ses = session_get(s, sm);
    reply = malloc(sizeof *reply); /* ~19 KiB: not on a server thread's stack */
    if (!ses || !reply) {
        srv_error(s, r, 500, "internal", "out of memory");
        goto out;
    }
    mille_dialogue_request q = {session, in.text, in.len, in.locale, -1};
    mille_error e;
    if (mille_dialogue_turn(s->cfg.dialogue, ses, &q, reply, &e) < 0) {
        const char *code = "internal";
        int status = 500;
        if (e.code == MILLE_EINVAL && strncmp(e.msg, "session", 7) == 0)
            status = 400, code = "bad_request";
        else if (e.code != MILLE_EIO && e.code != MILLE_ENOMEM)
            status = parse_error_kind(&e, &code);
        srv_error(s, r, status, code, "%s", e.msg);
        goto out;
    }
    r->body = mille_dialogue_reply_json(reply, session);
    if (!r->body) {
        srv_error(s, r, 500, "internal", "out of memory");
        goto out;
    }
    r->status = 200;
    r->content_type = "application/json";
    r->len = strlen(r->body);
    atomic_fetch_add(&s->met.utterances, 1);
out:
    if (ses) session_put(sm, ses);
    model_unref(sm);
    free(reply);
    json_decref(j);
}

/* ---- the admin route --------------------------------------------------------------------- */

/* The admin listener is on loopback, but a browser on the same machine can reach loopback:
 * a page can POST to it (CSRF), or a name it controls can resolve to 127.0.0.1 (DNS
 * rebinding), and an unchecked reload loads any path the server can read (audit #7). So a
 * reload needs all of: a Host that names loopback or the admin address (a rebound name is
 * neither), no Origin or our own, the token (a page cannot know it), and a JSON Content-Type
 * (which a cross-origin page cannot send without a CORS preflight we never answer). */

/* The host part of a Host header value ("127.0.0.1:8081", "[::1]:8081", "localhost") into
 * buf; 0, or -1 if it is malformed. */
static int host_name(const char *host, char *buf, size_t cap)
{
    const char *end, *port;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (!end) return -1;
        host++;
        port = end + 1;
    } else {
        end = strchr(host, ':');
        if (!end) end = host + strlen(host);
        port = end;
    }
    if (*port == ':')
        for (port++; *port; port++)
            if (*port < '0' || *port > '9') return -1;
    if (*port) return -1;
    size_t n = (size_t)(end - host);
    if (n == 0 || n >= cap) return -1;
    memcpy(buf, host, n);
    buf[n] = '\0';
    return 0;
}

static int host_ok(const srv *s, const char *host)
{
    char name[256];
    struct in_addr a4;
    struct in6_addr a6;
    if (!host || host_name(host, name, sizeof name)) return 0;
    if (strcasecmp(name, "localhost") == 0) return 1;
    if (inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) return 1;
    if (inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6)) return 1;
    /* the address the admin listener was told to bind, unless that is "any address" */
    const char *ah = s->cfg.admin_host;
    return ah && strcmp(ah, "0.0.0.0") != 0 && strcmp(name, ah) == 0;
}

/* Compare without an early exit, so that the time taken does not tell how much matched. */
static int token_eq(const char *a, size_t na, const char *b, size_t nb)
{
    unsigned char d = na != nb;
    for (size_t i = 0; i < na && i < nb; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* 0 if the request may reload; else an error reply is set. */
static int admin_check(srv *s, const srv_request *q, srv_reply *r)
{
    if (!host_ok(s, q->host)) {
        srv_error(s, r, 403, "forbidden",
                  "Host %.100s%s%s is not the admin listener (a loopback address, localhost or "
                  "--admin-host)",
                  q->host ? "'" : "", q->host ? q->host : "(none)", q->host ? "'" : "");
        return -1;
    }
    /* a browser sends Origin on a cross-origin POST; ours is http:// and the Host */
    if (q->origin &&
        (strncasecmp(q->origin, "http://", 7) != 0 || strcasecmp(q->origin + 7, q->host) != 0)) {
        srv_error(s, r, 403, "forbidden", "Origin '%.100s' is not this server (http://%.100s)",
                  q->origin, q->host);
        return -1;
    }
    const char *tok = s->cfg.admin_token, *auth = q->authorization;
    if (!tok) {
        srv_error(s, r, 403, "forbidden", "no admin token is configured: reloads are refused");
        return -1;
    }
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
        !token_eq(auth + 7, strlen(auth + 7), tok, strlen(tok))) {
        srv_error(s, r, 401, "unauthorized",
                  "%s admin token: send \"Authorization: Bearer TOKEN\" with the token of "
                  "--admin-token-file (docs/http.md)",
                  auth ? "wrong" : "no");
        r->www_authenticate = "Bearer realm=\"mille admin\"";
        return -1;
    }
    const char *ct = q->content_type;
    size_t n = ct ? strcspn(ct, ";") : 0;
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    if (!ct || n != 16 || strncasecmp(ct, "application/json", 16) != 0) {
        srv_error(s, r, 415, "unsupported_media_type",
                  "Content-Type must be application/json, got %s%.100s%s", ct ? "'" : "",
                  ct ? ct : "none", ct ? "'" : "");
        return -1;
    }
    return 0;
}

/* POST /admin/reload with an empty body, {} or {"model": "PATH"}. */
static void do_reload(srv *s, const char *body, size_t len, srv_reply *r)
{
    const char *path = NULL;
    json_t *j = NULL;
    if (len) {
        json_error_t je;
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!j || !json_is_object(j)) {
            srv_error(s, r, 400, "bad_json", "the body must be {} or {\"model\": \"PATH\"}");
            json_decref(j);
            return;
        }
        const json_t *p = json_object_get(j, "model");
        if (p && !json_is_string(p)) {
            srv_error(s, r, 400, "bad_request", "model must be a string (a file path)");
            json_decref(j);
            return;
        }
        path = p ? json_string_value(p) : NULL;
    }
    mille_error err = {0, ""};
    if (path && regular_file(path, NULL, &err) == MILLE_EINVAL) {
        /* checked here too (model_open does) to answer 400, a client's mistake, not 500 */
        srv_error(s, r, 400, "bad_request", "%s (the current model stays)", err.msg);
    } else if (srv_reload(s, path, &err) < 0) {
        srv_error(s, r, 500, "reload_failed", "%s (the current model stays)", err.msg);
    } else {
        srv_model *sm = model_ref(s);
        reply_json(r, 200,
                   json_pack("{s:s,s:s,s:I}", "status", "reloaded", "model", sm->path, "generation",
                             (json_int_t)sm->gen));
        model_unref(sm);
    }
    json_decref(j);
}

/* ---- metrics page ------------------------------------------------------------------------ */

/* Append formatted text to a growing buffer; returns 0 or -1 (out of memory). */
static int put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (*buf && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return 0;
        }
        if (vec_reserve((void **)buf, cap, *len + (size_t)n + 4096, 1)) return -1;
    }
}

static void do_metrics(srv *s, srv_reply *r)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    int bad = 0;
    srv_metrics *m = &s->met;
    bad |= put(&b, &len, &cap,
               "# HELP mille_http_requests_total HTTP requests by route and status.\n"
               "# TYPE mille_http_requests_total counter\n");
    for (int i = 0; i < R_COUNT; i++)
        for (int k = 0; k <= N_STATUS; k++) {
            unsigned long long v = atomic_load(&m->requests[i][k]);
            if (!v) continue;
            if (k < N_STATUS)
                bad |= put(&b, &len, &cap,
                           "mille_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                           route_names[i], statuses[k], v);
            else
                bad |= put(&b, &len, &cap,
                           "mille_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                           route_names[i], v);
        }
    bad |= put(&b, &len, &cap,
               "# HELP mille_http_errors_total Error replies by kind.\n"
               "# TYPE mille_http_errors_total counter\n");
    for (int i = 0; i < N_ERR; i++)
        bad |= put(&b, &len, &cap, "mille_http_errors_total{code=\"%s\"} %llu\n", err_codes[i],
                   (unsigned long long)atomic_load(&m->errors[i]));
    bad |= put(&b, &len, &cap,
               "# HELP mille_http_request_duration_seconds Time to answer a request.\n"
               "# TYPE mille_http_request_duration_seconds histogram\n");
    for (int i = 0; i < R_COUNT; i++) {
        unsigned long long cum = 0;
        for (int k = 0; k <= N_LAT; k++) {
            cum += atomic_load(&m->lat[i][k]);
            if (k < N_LAT)
                bad |= put(&b, &len, &cap,
                           "mille_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                           "%llu\n",
                           route_names[i], lat_us[k] / 1e6, cum);
            else
                bad |= put(&b, &len, &cap,
                           "mille_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                           "%llu\n",
                           route_names[i], cum);
        }
        bad |=
            put(&b, &len, &cap,
                "mille_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                "mille_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                route_names[i], (double)atomic_load(&m->lat_sum_us[i]) / 1e6, route_names[i], cum);
    }
    srv_model *sm = model_ref(s);
    bad |= put(&b, &len, &cap,
               "# HELP mille_utterances_parsed_total Utterances parsed.\n"
               "# TYPE mille_utterances_parsed_total counter\n"
               "mille_utterances_parsed_total %llu\n"
               "# HELP mille_model_reloads_total Model reloads, by result.\n"
               "# TYPE mille_model_reloads_total counter\n"
               "mille_model_reloads_total{result=\"ok\"} %llu\n"
               "mille_model_reloads_total{result=\"failed\"} %llu\n"
               "# HELP mille_model_generation The current model's generation (1 at start).\n"
               "# TYPE mille_model_generation gauge\n"
               "mille_model_generation %lu\n"
               "# HELP mille_parse_groups_total Batch calls made by micro-batching.\n"
               "# TYPE mille_parse_groups_total counter\n"
               "mille_parse_groups_total %llu\n"
               "# HELP mille_parse_grouped_total Single parses answered by micro-batching.\n"
               "# TYPE mille_parse_grouped_total counter\n"
               "mille_parse_grouped_total %llu\n",
               (unsigned long long)atomic_load(&m->utterances),
               (unsigned long long)atomic_load(&m->reloads),
               (unsigned long long)atomic_load(&m->reload_failures), sm->gen,
               (unsigned long long)atomic_load(&m->groups),
               (unsigned long long)atomic_load(&m->grouped));
    model_unref(sm);
    if (bad) {
        free(b);
        srv_error(s, r, 500, "internal", "out of memory");
        return;
    }
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    r->body = b;
    r->len = len;
}

/* ---- routing ----------------------------------------------------------------------------- */

typedef struct route {
    const char *path;
    int listener;
    int post; /* 1: POST, 0: GET and HEAD */
    int id;
} route;

static const route routes[] = {
    {"/", SRV_PUBLIC, 0, R_PAGE},
    {"/healthz", SRV_PUBLIC, 0, R_HEALTH},
    {"/v1/model", SRV_PUBLIC, 0, R_MODEL},
    {"/metrics", SRV_PUBLIC, 0, R_METRICS},
    {"/v1/parse", SRV_PUBLIC, 1, R_PARSE},
    {"/v1/parse/batch", SRV_PUBLIC, 1, R_BATCH},
    {"/admin/reload", SRV_ADMIN, 1, R_RELOAD},
    {"/healthz", SRV_ADMIN, 0, R_HEALTH},
    {"/metrics", SRV_ADMIN, 0, R_METRICS},
    {"/model/parse", SRV_PUBLIC, 1, R_RASA},
    {"/v1/dialogue", SRV_PUBLIC, 1, R_DIALOGUE},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

void srv_handle(srv *s, int listener, const char *method, const char *path, const char *body,
                size_t len, srv_reply *r)
{
    srv_request q;
    memset(&q, 0, sizeof q);
    q.listener = listener;
    q.method = method;
    q.path = path;
    q.body = body;
    q.len = len;
    srv_handle_request(s, &q, r);
}

void srv_handle_request(srv *s, const srv_request *q, srv_reply *r)
{
    int listener = q->listener;
    const char *method = q->method, *path = q->path, *body = q->body;
    size_t len = q->len;
    double t0 = now_us();
    memset(r, 0, sizeof *r);
    const route *rt = NULL;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (routes[i].listener == listener && strcmp(routes[i].path, path) == 0) rt = &routes[i];
    int id = rt ? rt->id : R_OTHER;
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!rt) {
        srv_error(s, r, 404, "not_found", "no route %.200s (see GET / and docs/http.md)", path);
    } else if (rt->post ? strcmp(method, "POST") != 0 : !is_get) {
        srv_error(s, r, 405, "method_not_allowed", "%.200s takes %s, not %.32s", path,
                  rt->post ? "POST" : "GET", method);
        r->allow = rt->post ? "POST" : "GET, HEAD";
    } else if (id == R_PARSE || id == R_BATCH || id == R_RASA) {
        do_parse(s, body, len, id == R_BATCH, id == R_RASA, r);
    } else if (id == R_DIALOGUE) {
        do_dialogue(s, body, len, r);
    } else if (id == R_RELOAD) {
        if (admin_check(s, q, r) == 0) do_reload(s, body, len, r);
    } else if (id == R_METRICS) {
        do_metrics(s, r);
    } else if (id == R_PAGE) {
        r->status = 200;
        r->content_type = "text/html; charset=utf-8";
        r->body = (char *)mille_playground_html;
        r->len = mille_playground_html_len;
        r->body_static = 1;
    } else {
        srv_model *sm = model_ref(s);
        if (id == R_HEALTH)
            reply_json(r, 200,
                       json_pack("{s:s,s:s,s:I}", "status", "ok", "model", sm->name, "generation",
                                 (json_int_t)sm->gen));
        else
            reply_json(r, 200, json_deep_copy(sm->info));
        model_unref(sm);
    }
    /* count it */
    int k = N_STATUS;
    for (int i = 0; i < N_STATUS; i++)
        if (statuses[i] == r->status) k = i;
    atomic_fetch_add(&s->met.requests[id][k], 1);
    double us = now_us() - t0;
    int b = 0;
    while (b < N_LAT && us > lat_us[b]) b++;
    atomic_fetch_add(&s->met.lat[id][b], 1);
    atomic_fetch_add(&s->met.lat_sum_us[id], (unsigned long long)us);
}
