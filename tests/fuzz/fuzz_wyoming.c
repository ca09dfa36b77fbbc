/*
 * fuzz_wyoming.c - libFuzzer target for the Wyoming event reader of mille-voice
 * (voice/wyo_event.c) on arbitrary byte streams:
 *   - the stream is fed in pieces whose sizes come from the first byte (1 byte at a time, 7,
 *     whatever is asked...), so partial reads at every boundary are exercised;
 *   - wyo_read returns only its documented codes, always consumes input, and an event it
 *     accepts has a NUL-free type of 1..63 bytes, an object as data, and the payload length
 *     it announced;
 *   - every accepted event written back with wyo_format reads back equal (type, data,
 *     payload) when it fits the header limit.
 * Any violated invariant aborts, which libFuzzer reports with the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the module is one file with no dependency but jansson: compiled in directly, so the
 * Makefile's fuzz loop (one source per target) needs nothing more */
#include "../../voice/wyo_event.c"

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_wyoming: %s failed at %s:%d\n", #c, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct stream {
    const uint8_t *p;
    size_t n, at, piece; /* piece 0: give whatever is asked */
} stream;

static ssize_t mem_read(void *ctx, void *buf, size_t cap)
{
    stream *s = ctx;
    size_t k = s->n - s->at;
    if (k > cap) k = cap;
    if (s->piece && k > s->piece) k = s->piece;
    memcpy(buf, s->p + s->at, k);
    s->at += k;
    return (ssize_t)k;
}

static void round_trip(const wyo_event *e)
{
    unsigned char *b;
    size_t n;
    FUZZ_ASSERT(wyo_format(e->type, e->data, e->payload, e->payload_len, &b, &n) == 0);
    if (n - e->payload_len <= WYO_HEADER_MAX) {
        stream s = {b, n, 0, 0};
        wyo_reader r = {mem_read, &s, NULL, 0, 0};
        wyo_event back = {0};
        wyo_error err;
        FUZZ_ASSERT(wyo_read(&r, &back, &err) == WYO_OK);
        FUZZ_ASSERT(strcmp(back.type, e->type) == 0);
        FUZZ_ASSERT(json_equal(back.data, e->data));
        FUZZ_ASSERT(back.payload_len == e->payload_len);
        FUZZ_ASSERT(!e->payload_len || memcmp(back.payload, e->payload, e->payload_len) == 0);
        FUZZ_ASSERT(wyo_read(&r, &back, &err) == WYO_END);
        wyo_event_free(&back);
        wyo_reader_free(&r);
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    static const size_t pieces[8] = {0, 1, 2, 3, 7, 64, 4096, 0};
    stream s = {data + 1, size - 1, 0, pieces[data[0] & 7]};
    wyo_reader r = {mem_read, &s, NULL, 0, 0};
    wyo_event e = {0};
    wyo_error err;
    for (int k = 0;; k++) {
        size_t before = (s.n - s.at) + (r.len - r.pos); /* bytes not consumed */
        int rc = wyo_read(&r, &e, &err);
        FUZZ_ASSERT(rc == WYO_OK || rc == WYO_END || rc == WYO_EBAD || rc == WYO_EFATAL);
        if (rc == WYO_END || rc == WYO_EFATAL) {
            FUZZ_ASSERT(!e.data && !e.payload);
            FUZZ_ASSERT(rc == WYO_END || (err.code && err.text[0]));
            break;
        }
        /* progress: every event takes at least its newline */
        FUZZ_ASSERT((s.n - s.at) + (r.len - r.pos) < before);
        FUZZ_ASSERT(k < (int)size + 1);
        if (rc == WYO_EBAD) {
            FUZZ_ASSERT(err.code && err.text[0] && !e.data);
            continue;
        }
        size_t tl = strlen(e.type);
        FUZZ_ASSERT(tl > 0 && tl < WYO_TYPE_MAX);
        FUZZ_ASSERT(json_is_object(e.data));
        FUZZ_ASSERT(e.payload_len <= WYO_PAYLOAD_MAX && (e.payload_len == 0) == !e.payload);
        round_trip(&e);
    }
    wyo_event_free(&e);
    wyo_reader_free(&r);
    return 0;
}
