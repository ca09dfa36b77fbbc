#define _POSIX_C_SOURCE 200809L
/*
 * cmd_serve.c - `mille serve`: the HTTP/JSON service of srv.c over libmicrohttpd.
 *
 * Two listeners: the public one (--host, --port) and the admin one (--admin-host, loopback
 * by default, --admin-port) for POST /admin/reload. Both run in libmicrohttpd's thread pool
 * (--threads). The main thread only waits for signals: SIGHUP reloads the model, SIGTERM or
 * SIGINT stop accepting connections, let the requests in flight finish (up to --drain
 * seconds), then exit 0.
 *
 * Request bodies are gathered per connection up to --max-body bytes; a larger body gets 413
 * without being read to its end. Clients idle for --timeout seconds are disconnected.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "cli.h"
#include "core.h"
#include "srv.h"

/* Bytes of an over-limit body read and dropped before the 413 reply (see on_request). */
#define DISCARD_MAX (64ull << 20)

typedef struct serve {
    srv *s;
    size_t max_body;
    atomic_int inflight; /* requests begun and not yet completed */
} serve;

typedef struct listener {
    serve *sv;
    int kind; /* SRV_PUBLIC or SRV_ADMIN */
} listener;

typedef struct conn {
    char *buf;
    size_t len, cap;
    int too_big;
} conn;

static enum MHD_Result send_reply(struct MHD_Connection *c, srv_reply *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->len, r->body, r->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        srv_reply_free(r);
        return MHD_NO;
    }
    r->body = NULL; /* owned by the response now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    listener *L = cls;
    serve *sv = L->sv;
    conn *cc = *con_cls;
    srv_reply r;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        atomic_fetch_add(&sv->inflight, 1);
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* A body over the limit is read and dropped, then answered: a reply sent before
         * the client finished sending would be lost to a connection reset. Only a body far
         * over the limit is refused at once. */
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
        if (n > sv->max_body) cc->too_big = 1;
        if (n > DISCARD_MAX) {
            srv_error(sv->s, &r, 413, "body_too_large", "the body is %s bytes, the limit is %zu",
                      cl, sv->max_body);
            return send_reply(c, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (cc->too_big) {
            cc->len += *upload_size; /* dropped */
            if (cc->len > DISCARD_MAX) return MHD_NO;
        } else {
            if (cc->len + *upload_size > sv->max_body) {
                cc->too_big = 1;
                cc->len += *upload_size;
                free(cc->buf);
                cc->buf = NULL;
            } else if (vec_reserve((void **)&cc->buf, &cc->cap, cc->len + *upload_size + 1, 1)) {
                return MHD_NO;
            } else {
                memcpy(cc->buf + cc->len, upload, *upload_size);
                cc->len += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cc->too_big)
        srv_error(sv->s, &r, 413, "body_too_large", "the body is %zu bytes, the limit is %zu",
                  cc->len, sv->max_body);
    else
        srv_handle(sv->s, L->kind, method, url, cc->buf, cc->len, &r);
    return send_reply(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    listener *L = cls;
    conn *cc = *con_cls;
    if (!cc) return;
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) srv_count_error(L->sv->s, "timeout");
    free(cc->buf);
    free(cc);
    *con_cls = NULL;
    atomic_fetch_sub(&L->sv->inflight, 1);
}

static struct MHD_Daemon *start(listener *L, const char *host, unsigned port, unsigned threads,
                                unsigned timeout, unsigned max_conn, const char *what)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "mille serve: %s host '%s' is not an IPv4 address\n", what, host);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, (uint16_t)port, NULL, NULL,
        on_request, L, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        threads, MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT, max_conn,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, L, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mille serve: cannot listen on %s:%u for the %s listener (%s)\n", host,
                port, what, errno ? strerror(errno) : "libmicrohttpd failed");
        return NULL;
    }
    return d;
}

static unsigned bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

static void usage(FILE *f)
{
    srv_config c = srv_default_config();
    fprintf(f,
            "usage: mille serve --model MODEL [options]\n\n"
            "Serve a model over HTTP/JSON (docs/http.md): POST /v1/parse, POST /v1/parse/batch,\n"
            "GET /healthz, GET /v1/model, GET /metrics, and a playground page at /.\n\n"
            "options:\n"
            "  --model PATH        model file (required)\n"
            "  --host ADDR         IPv4 address to listen on (default 127.0.0.1)\n"
            "  --port N            port (default 8080; 0 picks a free one, printed at start)\n"
            "  --threads N         worker threads (default 2)\n"
            "  --admin-host ADDR   address of the admin listener (default 127.0.0.1)\n"
            "  --admin-port N      port of the admin listener, POST /admin/reload (default\n"
            "                      the public port + 1; 0 picks a free one; -1 turns it off)\n"
            "  --max-text N        bytes of one utterance (default %zu)\n"
            "  --max-body N        bytes of a request body (default %zu)\n"
            "  --max-batch N       utterances in one batch request (default %zu)\n"
            "  --max-words N       words of one utterance (default %zu)\n"
            "  --max-batch-words N words of one request, all utterances (default %zu)\n"
            "  --any-locale        accept locales the model was not trained on\n"
            "  --timeout S         disconnect clients idle for S seconds (default 10)\n"
            "  --max-connections N open connections at most (default 1024)\n"
            "  --drain S           on SIGTERM, wait up to S seconds for requests in flight\n"
            "                      (default 10)\n\n"
            "signals: SIGHUP reloads the model file (requests in flight finish on the old\n"
            "one); SIGTERM and SIGINT stop gracefully.\n",
            c.max_text, c.max_body, c.max_batch, c.max_words, c.max_batch_words);
}

int cmd_serve(int argc, char **argv)
{
    const char *model = NULL, *host = "127.0.0.1", *admin_host = "127.0.0.1";
    long port = 8080, threads = 2, admin_port = -2, timeout = 10, max_conn = 1024, drain = 10;
    long max_text, max_body, max_batch, max_words, max_batch_words;
    srv_config cfg = srv_default_config();
    max_text = (long)cfg.max_text;
    max_body = (long)cfg.max_body;
    max_batch = (long)cfg.max_batch;
    max_words = (long)cfg.max_words;
    max_batch_words = (long)cfg.max_batch_words;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        const char *v;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--model", &bad))) {
            model = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--host", &bad))) {
            host = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--admin-host", &bad))) {
            admin_host = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--port", &bad))) {
            if (cli_long("serve", "--port", v, 0, 65535, &port)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--admin-port", &bad))) {
            if (cli_long("serve", "--admin-port", v, -1, 65535, &admin_port)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--threads", &bad))) {
            if (cli_long("serve", "--threads", v, 1, 256, &threads)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-text", &bad))) {
            if (cli_long("serve", "--max-text", v, 1, MILLE_MAX_TEXT_LIMIT, &max_text))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-body", &bad))) {
            if (cli_long("serve", "--max-body", v, 16, 1L << 30, &max_body)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-batch", &bad))) {
            if (cli_long("serve", "--max-batch", v, 1, 1L << 20, &max_batch)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-words", &bad))) {
            if (cli_long("serve", "--max-words", v, 1, MILLE_MAX_WORDS_LIMIT, &max_words))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-batch-words", &bad))) {
            if (cli_long("serve", "--max-batch-words", v, 1, MILLE_MAX_WORDS_LIMIT,
                         &max_batch_words))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--timeout", &bad))) {
            if (cli_long("serve", "--timeout", v, 1, 3600, &timeout)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-connections", &bad))) {
            if (cli_long("serve", "--max-connections", v, 1, 1L << 20, &max_conn)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--drain", &bad))) {
            if (cli_long("serve", "--drain", v, 0, 3600, &drain)) return CLI_USAGE;
        } else if (strcmp(argv[i], "--any-locale") == 0) {
            cfg.strict_locale = 0;
        } else if (!bad) {
            fprintf(stderr, "mille serve: unknown argument '%s' (see mille serve --help)\n",
                    argv[i]);
            return CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
    }
    if (!model) {
        fprintf(stderr, "mille serve: --model is required (see mille serve --help)\n");
        return CLI_USAGE;
    }
    cfg.max_text = (size_t)max_text;
    cfg.max_body = (size_t)max_body;
    cfg.max_batch = (size_t)max_batch;
    cfg.max_words = (size_t)max_words;
    cfg.max_batch_words = (size_t)max_batch_words;

    /* signals go to the main thread only: block them before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    serve sv;
    memset(&sv, 0, sizeof sv);
    sv.max_body = cfg.max_body;
    atomic_init(&sv.inflight, 0);
    mille_error err = {0, ""};
    if (srv_new(&sv.s, model, &cfg, &err) < 0) {
        fprintf(stderr, "mille serve: %s\n", err.msg);
        return CLI_ERR;
    }
    listener pub = {&sv, SRV_PUBLIC}, adm = {&sv, SRV_ADMIN};
    struct MHD_Daemon *d = start(&pub, host, (unsigned)port, (unsigned)threads, (unsigned)timeout,
                                 (unsigned)max_conn, "public");
    struct MHD_Daemon *da = NULL;
    if (d) port = bound_port(d);
    if (d && admin_port != -1) {
        if (admin_port == -2) admin_port = port < 65535 ? port + 1 : 0;
        da = start(&adm, admin_host, (unsigned)admin_port, 1, (unsigned)timeout, 64, "admin");
        if (!da) {
            MHD_stop_daemon(d);
            d = NULL;
        } else {
            admin_port = bound_port(da);
        }
    }
    if (!d) {
        srv_free(sv.s);
        return CLI_ERR;
    }
    fprintf(stderr, "mille serve: model %s, %ld threads, listening on http://%s:%ld", model,
            threads, host, port);
    if (da) fprintf(stderr, " (admin http://%s:%ld)", admin_host, admin_port);
    fprintf(stderr, "\n");

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            if (srv_reload(sv.s, NULL, &err) < 0)
                fprintf(stderr, "mille serve: reload failed, the current model stays: %s\n",
                        err.msg);
            else
                fprintf(stderr, "mille serve: model reloaded\n");
            continue;
        }
        break;
    }
    fprintf(stderr, "mille serve: stopping: no new connections, finishing requests in flight\n");
    MHD_quiesce_daemon(d);
    if (da) MHD_quiesce_daemon(da);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (atomic_load(&sv.inflight) == 0 || t.tv_sec - t0.tv_sec >= drain) break;
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    int left = atomic_load(&sv.inflight);
    MHD_stop_daemon(d);
    if (da) MHD_stop_daemon(da);
    srv_free(sv.s);
    if (left) fprintf(stderr, "mille serve: %d requests cut off after %lds\n", left, drain);
    fprintf(stderr, "mille serve: stopped\n");
    return CLI_OK;
}
