/*
 * wyo_event.h - events of the Wyoming protocol (rhasspy/wyoming; Home Assistant, Rhasspy 3):
 * reading them from a byte stream that is hostile until proven otherwise, and writing them.
 *
 * On the wire an event is a header line of JSON, then optional extra data, then an optional
 * binary payload:
 *
 *     {"type": "audio-chunk", "data": {...}, "data_length": N, "payload_length": M}\n
 *     <N bytes: a JSON object merged into "data" (its keys win)>
 *     <M bytes: the payload, e.g. 16-bit PCM>
 *
 * Limits (each an error, never a crash; WYO_EFATAL closes the connection because the stream
 * can no longer be cut into events): header line WYO_HEADER_MAX bytes with its newline, extra
 * data WYO_DATA_MAX, payload WYO_PAYLOAD_MAX. JSON must be valid UTF-8 without NUL (jansson
 * refuses it otherwise), the header an object with a "type" string of 1..WYO_TYPE_MAX - 1
 * bytes, "data" absent, null or an object, the two lengths absent, null or integers >= 0.
 *
 * Recovery: a header whose lengths are readable keeps the stream in sync (its data and payload
 * are read and dropped), so a bad event costs the client one error event (WYO_EBAD); a header
 * line that is not JSON is taken to carry no data or payload (the line is dropped). Lengths
 * that are over a limit or not integers, an over-long line, a read error or timeout, or the
 * end of the stream inside an event are WYO_EFATAL.
 *
 * Prefix wyo_. Used by wyoming.c (the server) and tests/fuzz/fuzz_wyoming.c.
 */
#ifndef MILLE_WYO_EVENT_H
#define MILLE_WYO_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define WYO_HEADER_MAX  (64u << 10) /* header line, newline included                 */
#define WYO_DATA_MAX    (64u << 10) /* extra data of one event                        */
#define WYO_PAYLOAD_MAX (1u << 20)  /* payload of one event (1 MiB: 32 s of 16 kHz PCM) */
#define WYO_TYPE_MAX    64

/* Reads up to cap bytes into buf: returns the count (> 0), 0 at the end of the stream, or -1
 * on an error or a timeout (the reader reports it as fatal). */
typedef ssize_t (*wyo_read_fn)(void *ctx, void *buf, size_t cap);

/* A buffered reader; zero-initialize, set fn and ctx, free with wyo_reader_free. */
typedef struct wyo_reader {
    wyo_read_fn fn;
    void *ctx;
    unsigned char *buf; /* (WYO_HEADER_MAX) bytes read ahead */
    size_t len, pos;    /* buf[pos..len) not consumed yet    */
} wyo_reader;
void wyo_reader_free(wyo_reader *r);

typedef struct wyo_event {
    char type[WYO_TYPE_MAX];
    json_t *data;           /* an object, owned; never NULL after WYO_OK */
    unsigned char *payload; /* owned, NULL when payload_len is 0         */
    size_t payload_len;
} wyo_event;
void wyo_event_free(wyo_event *e); /* frees data and payload and zeroes e */

enum {
    WYO_OK = 0,
    WYO_END = 1,     /* the stream ended cleanly between two events            */
    WYO_EBAD = -1,   /* a bad event was read and dropped; the stream is in sync */
    WYO_EFATAL = -2, /* the stream is unusable: close it                        */
};

/* The error of the last WYO_EBAD / WYO_EFATAL: a message and a short code for the error
 * event ("bad-json", "too-large", ...). */
typedef struct wyo_error {
    char text[256];
    const char *code;
} wyo_error;

/* Read the next event into *e (freed and overwritten). Returns WYO_OK, WYO_END, WYO_EBAD or
 * WYO_EFATAL (with *err filled); on anything but WYO_OK, *e holds nothing. */
int wyo_read(wyo_reader *r, wyo_event *e, wyo_error *err);

/* The bytes of an event (header line with "data" inline, then the payload) in a malloc'ed
 * buffer (*out, *len), or -1 when out of memory. data may be NULL ({}); it is not consumed. */
int wyo_format(const char *type, json_t *data, const void *payload, size_t payload_len,
               unsigned char **out, size_t *len);

#endif
