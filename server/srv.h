/*
 * srv.h - the HTTP service of `mille serve` without the network: routes, JSON in and out,
 * limits, metrics, model reload. serve.c feeds it requests from libmicrohttpd; the
 * tests and the fuzzer call srv_handle directly.
 *
 * Threads: srv_handle may run on any number of threads at once. Each request takes a
 * reference on the current model and a session from that model's pool; srv_reload swaps the
 * model in while requests in flight finish on the old one, which is freed by the last of
 * them.
 */
#ifndef MILLE_SRV_H
#define MILLE_SRV_H

#include <stddef.h>

#include "mille.h"
#include "mille_dialogue.h"

typedef struct srv_config {
    size_t max_text;   /* bytes of one utterance (default 4 KiB)                   */
    size_t max_body;   /* bytes of a request body (default 1 MiB)                  */
    size_t max_batch;  /* utterances in one batch request (default 256)            */
    int strict_locale; /* reject locales the model was not trained on (default 1)  */

    /* words of one utterance and of one request (MILLE_MAX_WORDS_DEFAULT, 256, and
     * MILLE_MAX_BATCH_WORDS_DEFAULT, 4096): more is 413 too_many_words */
    size_t max_words, max_batch_words;
    /* POST /admin/reload requires "Authorization: Bearer <admin_token>" (NULL, the default:
     * the route is refused). Not copied: must outlive the srv. */
    const char *admin_token;
    /* The admin listener's address, accepted in the Host header of admin requests besides
     * loopback names (NULL: loopback only). Not copied. */
    const char *admin_host;
    /* Micro-batching: single parses run as one mille_parse_batch call when they arrive while
     * batch_slots calls are running; the first of them waits at most this many microseconds
     * for a call to end (at most max_batch of them join); each gets its own result. 0 (the
     * default) turns it off. See grouped_parse in srv.c. */
    unsigned batch_wait_us;
    /* Micro-batching: groups parsed at once at most (0, the default: the number of CPUs). */
    unsigned batch_slots;
    /* Self-learning (docs/learn.md): a rewrite table loaded with each model (so a reload
     * re-reads it too; NULL: none), and the log that requests with a "session" go to (NULL:
     * none; owned by the caller, must outlive the srv). Not copied. */
    const char *rewrites;
    mille_log *log;
    /* POST /v1/dialogue (docs/dialogue.md): the dialogue its turns run in (NULL, the default:
     * the route answers 404). Owned by the caller, must outlive the srv. */
    mille_dialogue *dialogue;
} srv_config;

srv_config srv_default_config(void);

typedef struct srv srv;

/* Load the model at path and make a service for it. */
int srv_new(srv **out, const char *model_path, const srv_config *cfg, mille_error *err);
void srv_free(srv *s);

/* Load path (NULL: the current model's path again) and make it the current model. Requests
 * in flight finish on the old model. On failure the current model stays. */
int srv_reload(srv *s, const char *path, mille_error *err);

/* Where a request came in: the public listener, or the admin listener (loopback). */
enum { SRV_PUBLIC = 0, SRV_ADMIN = 1 };

typedef struct srv_reply {
    int status;
    const char *content_type;
    const char *allow; /* the Allow header of a 405, else NULL */
    char *body;        /* malloc'ed unless body_static */
    size_t len;
    int body_static;
    const char *www_authenticate; /* the WWW-Authenticate header of a 401, else NULL */
    const char *retry_after;      /* the Retry-After header of a 429, else NULL */
} srv_reply;

/* One request: where it came in, its method and path, the headers the admin route checks
 * (NULL when absent) and its body (NULL when len == 0). Nothing is copied or kept. */
typedef struct srv_request {
    int listener;
    const char *method, *path;
    const char *host, *origin, *content_type, *authorization;
    const char *body;
    size_t len;
} srv_request;

/* Answer one request. The reply is always set (an error reply if something fails); free it
 * with srv_reply_free. */
void srv_handle_request(srv *s, const srv_request *q, srv_reply *r);

/* srv_handle_request without headers (the tests and the fuzzer of the public routes). */
void srv_handle(srv *s, int listener, const char *method, const char *path, const char *body,
                size_t len, srv_reply *r);

/* The offset of the first byte of body that cannot be JSON: outside strings, anything but
 * whitespace, structure, number characters and the letters of true/false/null (no more than
 * five in a row); len if there is none. A quick reject before the parse; passing it does
 * not make the body valid JSON. */
size_t srv_json_garbage(const char *body, size_t len);

/* A quick bound for a batch body: the number of top-level items of the JSON array that body
 * begins with (commas at depth 1, outside strings, plus one), counting no further than
 * stop_after + 1; 0 if the body does not begin with '['. Exact for a valid array; for
 * invalid JSON it is only a count of separators. One pass over the bytes, no allocation. */
size_t srv_count_items(const char *body, size_t len, size_t stop_after);

/* A JSON error reply {"error": {"status", "code", "message"}} that also counts in the
 * metrics; for errors found before srv_handle (body too large, slow client). */
void srv_error(srv *s, srv_reply *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

void srv_reply_free(srv_reply *r);

/* Count an error that gets no reply (a client that timed out: code "timeout"). */
void srv_count_error(srv *s, const char *code);

/* The playground page (web/playground.html, embedded at build time). */
extern const unsigned char mille_playground_html[];
extern const size_t mille_playground_html_len;

#endif /* MILLE_SRV_H */
