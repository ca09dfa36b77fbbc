/*
 * srv.h - the HTTP service of `mille serve` without the network: routes, JSON in and out,
 * limits, metrics, model reload. cmd_serve.c feeds it requests from libmicrohttpd; the
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

typedef struct srv_config {
    size_t max_text;   /* bytes of one utterance (default 4 KiB)                   */
    size_t max_body;   /* bytes of a request body (default 1 MiB)                  */
    size_t max_batch;  /* utterances in one batch request (default 256)            */
    int strict_locale; /* reject locales the model was not trained on (default 1)  */

    /* words of one utterance and of one request (MILLE_MAX_WORDS_DEFAULT, 256, and
     * MILLE_MAX_BATCH_WORDS_DEFAULT, 4096): more is 413 too_many_words */
    size_t max_words, max_batch_words;
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
} srv_reply;

/* Answer one request. body may be NULL when len == 0. The reply is always set (an error
 * reply if something fails); free it with srv_reply_free. */
void srv_handle(srv *s, int listener, const char *method, const char *path, const char *body,
                size_t len, srv_reply *r);

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
