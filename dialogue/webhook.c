/*
 * webhook.c - the HTTP webhook of a declared skill: POST the understood request as JSON to a
 * configured http(s) URL, and take the answer's text (libcurl).
 *
 * The contract (docs/dialogue.md):
 *   request   POST <url>, Content-Type: application/json, body
 *             {"intent": "alarm_set", "scenario": "alarm", "slots": [{"slot": "time",
 *              "value": "seven am"}], "locale": "en-US", "session": "kitchen" or null,
 *              "text": "wake me up at seven am"}
 *             Every value is a JSON string holding the text as understood: slot values are
 *             never substituted into anything, so quotes or shell metacharacters arrive as
 *             they were said. Text is valid UTF-8 (invalid input is refused before: the NLU
 *             returns MILLE_EUTF8, the server a 400).
 *   answer    status 2xx, a JSON object with a string "text": {"text": "Playing jazz."}
 *             (other members are ignored). The text becomes {output} of the skill's response
 *             template, or the response itself when the skill has no template.
 *   failure   anything else is a failure with a reason: not reachable, no answer within
 *             timeout_ms (connection included), a status other than 2xx (redirects are not
 *             followed, so a hook cannot send the request elsewhere, to another scheme
 *             or host), an answer over WEBHOOK_MAX_REPLY bytes (reading stops there), or one
 *             that is not such a JSON object. The dialogue then answers with the locale's
 *             "skill_failed" template and reports the reason in skill_error.
 * Only http and https are allowed, on the first request and in libcurl itself
 * (CURLOPT_PROTOCOLS_STR), and no proxy is used (hooks are usually on the local network; the
 * environment's http_proxy would otherwise reroute them). TLS certificates are verified
 * (libcurl's default). CURLOPT_NOSIGNAL: libcurl must not use signals in a threaded server.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlg.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void global_init(void) { init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int webhook_global_init(char *err)
{
    pthread_once(&once, global_init);
    if (init_rc != CURLE_OK) {
        snprintf(err, DLG_ERR, "libcurl: %s", curl_easy_strerror(init_rc));
        return -1;
    }
    return 0;
}

int webhook_url_ok(const char *url)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) return 0;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7F) return 0;
    return strlen(url) < 2048;
}

char *webhook_body(const skill_req *r)
{
    /* text is cleaned: a confirmed request's text was stored cut at a byte count */
    char text[1024];
    tpl_clean(r->text, strlen(r->text), text, sizeof text);
    json_t *slots = json_array();
    for (size_t i = 0; slots && i < r->n_slots; i++)
        if (json_array_append_new(
                slots, json_pack("{s:s,s:s}", "slot", r->slots[i].key, "value", r->slots[i].val))) {
            json_decref(slots);
            slots = NULL;
        }
    if (!slots) return NULL;
    json_t *o = json_pack("{s:s,s:s,s:o,s:s,s:s?,s:s}", "intent", r->intent, "scenario",
                          r->scenario ? r->scenario : "", "slots", slots, "locale", r->locale,
                          "session", r->session, "text", text);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int webhook_reply_text(const char *buf, size_t len, char *text, size_t cap, char *err)
{
    json_error_t je;
    text[0] = 0;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, DLG_ERR, "the answer is not JSON: %.200s (byte %d)", je.text, je.position);
        return -1;
    }
    json_t *t = json_object_get(o, "text");
    if (!json_is_object(o) || !json_is_string(t)) {
        snprintf(err, DLG_ERR, "the answer is not a JSON object with a string \"text\"");
        json_decref(o);
        return -1;
    }
    tpl_clean(json_string_value(t), json_string_length(t), text, cap);
    json_decref(o);
    return 0;
}

/* the answer, read up to WEBHOOK_MAX_REPLY bytes */
typedef struct sink {
    char *buf;
    size_t n, cap;
    int over;
} sink;

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    sink *s = arg;
    size_t n = size * nmemb;
    if (n > WEBHOOK_MAX_REPLY - s->n) {
        s->over = 1;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    if (s->n + n > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->n + n) nc *= 2;
        char *nb = realloc(s->buf, nc);
        if (!nb) return 0;
        s->buf = nb;
        s->cap = nc;
    }
    memcpy(s->buf + s->n, p, n);
    s->n += n;
    return n;
}

int webhook_call(const char *url, const char *body, int timeout_ms, char *text, size_t cap,
                 char *err)
{
    char cerr[CURL_ERROR_SIZE] = "";
    sink s = {NULL, 0, 0, 0};
    long status = 0;
    int rc = -1;
    text[0] = 0;
    if (!webhook_url_ok(url)) {
        snprintf(err, DLG_ERR, "not an http(s) URL");
        return -1;
    }
    if (webhook_global_init(err) < 0) return -1;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    if (!c || !h2) {
        snprintf(err, DLG_ERR, "out of memory");
        goto out;
    }
    h = h2;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)WEBHOOK_MAX_REPLY);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mille-dialogue/" MILLE_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (s.over || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, DLG_ERR, "the answer is over %d bytes", WEBHOOK_MAX_REPLY);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, DLG_ERR, "no answer within %d ms", timeout_ms);
    } else if (cc != CURLE_OK) {
        snprintf(err, DLG_ERR, "%s%s%.300s", curl_easy_strerror(cc), cerr[0] ? ": " : "", cerr);
    } else if (status >= 300 && status < 400) {
        snprintf(err, DLG_ERR, "status %ld: redirects are not followed", status);
    } else if (status < 200 || status >= 300) {
        snprintf(err, DLG_ERR, "status %ld", status);
    } else {
        rc = webhook_reply_text(s.buf ? s.buf : "", s.n, text, cap, err);
    }
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(s.buf);
    return rc;
}
