/*
 * wyo_event.c - reading and writing Wyoming events (the format and the limits are in
 * wyo_event.h). Written from the protocol's description (rhasspy/wyoming: README, event.py),
 * not from its code.
 *
 * The reader never trusts a length: the header line is looked for in a bounded buffer, and a
 * data or payload length is checked against its limit before a byte of it is allocated. A
 * read that returns nothing or fails is fatal only inside an event; between events it is the
 * clean end of the stream.
 *
 * Not here: sockets and timeouts (the read function's business: wyoming.c polls with a
 * deadline), and what events mean (wyoming.c).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wyo_event.h"

void wyo_reader_free(wyo_reader *r)
{
    if (!r) return;
    free(r->buf);
    r->buf = NULL;
    r->len = r->pos = 0;
}

void wyo_event_free(wyo_event *e)
{
    if (!e) return;
    json_decref(e->data);
    free(e->payload);
    memset(e, 0, sizeof *e);
}

static int fail(wyo_error *err, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(wyo_error *err, int rc, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return rc;
}

/* Copy exactly n bytes into dst (NULL: drop them): first what is buffered, then straight from
 * the stream. Returns 0, or -1 when the stream ends or fails first. */
static int take(wyo_reader *r, unsigned char *dst, size_t n)
{
    size_t have = r->len - r->pos, k = have < n ? have : n;
    if (dst && k) memcpy(dst, r->buf + r->pos, k);
    r->pos += k;
    n -= k;
    if (dst) dst += k;
    while (n > 0) {
        /* dropped bytes go through the buffer, a chunk at a time */
        unsigned char *to = dst ? dst : r->buf;
        size_t want = dst ? n : (n < WYO_HEADER_MAX ? n : WYO_HEADER_MAX);
        r->len = r->pos = 0;
        ssize_t got = r->fn(r->ctx, to, want);
        if (got <= 0 || (size_t)got > want) return -1;
        n -= (size_t)got;
        if (dst) dst += got;
    }
    return 0;
}

/* The next line (without its '\n') at r->buf + *start, *n bytes, consumed. Returns WYO_OK,
 * WYO_END (no byte before the end), or WYO_EFATAL. */
static int read_line(wyo_reader *r, size_t *start, size_t *n, wyo_error *err)
{
    if (!r->buf && !(r->buf = malloc(WYO_HEADER_MAX)))
        return fail(err, WYO_EFATAL, "no-memory", "%s", "out of memory");
    for (size_t scanned = r->pos;;) {
        unsigned char *nl = memchr(r->buf + scanned, '\n', r->len - scanned);
        if (nl) {
            *start = r->pos;
            *n = (size_t)(nl - r->buf) - r->pos;
            r->pos = (size_t)(nl - r->buf) + 1;
            return WYO_OK;
        }
        scanned = r->len;
        if (r->pos > 0) { /* move the partial line to the front to make room */
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            scanned -= r->pos;
            r->pos = 0;
        }
        if (r->len == WYO_HEADER_MAX)
            return fail(err, WYO_EFATAL, "too-large", "header line longer than %s bytes", "65536");
        ssize_t got = r->fn(r->ctx, r->buf + r->len, WYO_HEADER_MAX - r->len);
        if (got <= 0 || (size_t)got > WYO_HEADER_MAX - r->len) {
            if (got == 0 && r->len == 0) return WYO_END;
            return fail(err, WYO_EFATAL, got == 0 ? "truncated" : "read-error", "%s",
                        got == 0 ? "the stream ended inside a header line"
                                 : "read error or timeout inside a header line");
        }
        r->len += (size_t)got;
    }
}

/* A length field: absent or null is 0; else an integer in [0, max]. Returns 0, or -1 when it
 * is present but unusable (*over = 1 when it is a valid integer above max). */
static int length_of(json_t *h, const char *key, size_t max, size_t *out, int *over)
{
    json_t *v = json_object_get(h, key);
    *out = 0;
    *over = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    if ((uint64_t)json_integer_value(v) > max) {
        *over = 1;
        return -1;
    }
    *out = (size_t)json_integer_value(v);
    return 0;
}

int wyo_read(wyo_reader *r, wyo_event *e, wyo_error *err)
{
    wyo_event_free(e);
    err->code = NULL;
    err->text[0] = '\0';
    size_t at = 0, n = 0;
    int rc = read_line(r, &at, &n, err);
    if (rc != WYO_OK) return rc;
    size_t len = n;
    if (len && r->buf[at + len - 1] == '\r') len--; /* tolerate CRLF */
    json_error_t je;
    json_t *h = json_loadb((const char *)r->buf + at, len, JSON_REJECT_DUPLICATES, &je);
    if (!h) return fail(err, WYO_EBAD, "bad-json", "header is not JSON: %s", je.text);
    if (!json_is_object(h)) {
        json_decref(h);
        return fail(err, WYO_EBAD, "bad-event", "%s", "header is not a JSON object");
    }

    /* the lengths first: with them, a bad event can be skipped whole */
    size_t data_len, payload_len;
    int over;
    if (length_of(h, "data_length", WYO_DATA_MAX, &data_len, &over) < 0) {
        json_decref(h);
        return fail(err, WYO_EFATAL, over ? "too-large" : "bad-length", "%s",
                    over ? "data_length over 65536 bytes"
                         : "data_length is not a non-negative integer");
    }
    if (length_of(h, "payload_length", WYO_PAYLOAD_MAX, &payload_len, &over) < 0) {
        json_decref(h);
        return fail(err, WYO_EFATAL, over ? "too-large" : "bad-length", "%s",
                    over ? "payload_length over 1048576 bytes"
                         : "payload_length is not a non-negative integer");
    }
    unsigned char *extra = data_len ? malloc(data_len) : NULL;
    unsigned char *payload = payload_len ? malloc(payload_len) : NULL;
    if ((data_len && !extra) || (payload_len && !payload)) {
        free(extra);
        free(payload);
        json_decref(h);
        return fail(err, WYO_EFATAL, "no-memory", "%s", "out of memory");
    }
    if (take(r, extra, data_len) < 0 || take(r, payload, payload_len) < 0) {
        free(extra);
        free(payload);
        json_decref(h);
        return fail(err, WYO_EFATAL, "truncated", "%s",
                    "the stream ended or failed inside an event's data or payload");
    }

    /* the stream is in sync from here: anything wrong is WYO_EBAD */
    rc = WYO_OK;
    json_t *type = json_object_get(h, "type"), *data = json_object_get(h, "data");
    if (!json_is_string(type) || json_string_length(type) == 0 ||
        json_string_length(type) >= WYO_TYPE_MAX ||
        strlen(json_string_value(type)) != json_string_length(type))
        rc = fail(err, WYO_EBAD, "bad-event", "%s",
                  "\"type\" is missing, not a string, or longer than 63 bytes");
    else if (data && !json_is_null(data) && !json_is_object(data))
        rc = fail(err, WYO_EBAD, "bad-event", "%s", "\"data\" is not an object");
    json_t *d = NULL;
    if (rc == WYO_OK) d = json_is_object(data) ? json_copy(data) : json_object();
    if (rc == WYO_OK && !d) rc = fail(err, WYO_EFATAL, "no-memory", "%s", "out of memory");
    if (rc == WYO_OK && data_len) {
        json_t *x = json_loadb((const char *)extra, data_len, JSON_REJECT_DUPLICATES, &je);
        if (!x || !json_is_object(x))
            rc = fail(err, WYO_EBAD, "bad-json", "extra data is not a JSON object: %s",
                      x ? "another JSON value" : je.text);
        else if (json_object_update(d, x) < 0)
            rc = fail(err, WYO_EFATAL, "no-memory", "%s", "out of memory");
        json_decref(x);
    }
    if (rc == WYO_OK) {
        snprintf(e->type, sizeof e->type, "%s", json_string_value(type));
        e->data = d;
        e->payload = payload;
        e->payload_len = payload_len;
        payload = NULL;
        d = NULL;
    }
    json_decref(d);
    free(extra);
    free(payload);
    json_decref(h);
    return rc;
}

int wyo_format(const char *type, json_t *data, const void *payload, size_t payload_len,
               unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    json_t *h = json_pack("{s:s}", "type", type);
    if (!h) return -1;
    if (json_object_set_new(h, "data", data ? json_incref(data) : json_object()) < 0 ||
        (payload_len &&
         json_object_set_new(h, "payload_length", json_integer((json_int_t)payload_len)) < 0)) {
        json_decref(h);
        return -1;
    }
    /* JSON_ENSURE_ASCII would be safe too; plain UTF-8 is what the reference writes */
    char *line = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!line) return -1;
    size_t n = strlen(line);
    unsigned char *b = malloc(n + 1 + payload_len);
    if (!b) {
        free(line);
        return -1;
    }
    memcpy(b, line, n);
    b[n] = '\n';
    if (payload_len) memcpy(b + n + 1, payload, payload_len);
    free(line);
    *out = b;
    *len = n + 1 + payload_len;
    return 0;
}
