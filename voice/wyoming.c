/*
 * wyoming.c - mille-voice as a Wyoming server (`mille-voice --wyoming tcp://HOST:PORT`), so
 * that Home Assistant and Rhasspy 3 can use its speech recognition, NLU, dialogue and speech
 * output unchanged. Events (rhasspy/wyoming; reading and writing them: wyo_event.c):
 *
 *   describe                          -> info (asr, intent, handle and tts programs)
 *   [transcribe] audio-start, audio-chunk*, audio-stop
 *                                     -> transcript (pocketsphinx, en-US, NLU-rescored n-best)
 *   recognize {text}                  -> intent {name, entities [{name, value}], text}
 *                                        or not-recognized {text}
 *   transcript {text, context?}       -> handled {text, context} or not-handled {text}
 *                                        (what Home Assistant's conversation agent sends:
 *                                        mille-voice's dialogue and skills answer it)
 *   synthesize {text, voice?}         -> audio-start, audio-chunk*, audio-stop (16 kHz mono)
 *   ping                              -> pong
 * Anything malformed or unknown gets an error event {text, code}; see docs/voice.md.
 *
 * Threads: one per connection, at most max_clients at a time (one more is told "busy" and
 * closed). The model is shared read-only and each connection has its own NLU session; the one
 * pocketsphinx decoder is behind a mutex, so recognitions of different clients queue; the
 * dialogue library is thread-safe (include/mille_dialogue.h: turns of one session run one at
 * a time, others in parallel), and describe, recognize and synthesize run in parallel.
 *
 * Bounds (no unbounded resource use): per connection one header line (64 KiB), one event's
 * extra data (64 KiB) and payload (1 MiB), and one utterance of audio (WYO_AUDIO_MAX_S
 * seconds and WYO_AUDIO_MAX_BYTES bytes, whichever is less); an event must arrive whole within
 * timeout_s of when the server starts waiting for it, so an idle or trickling client is
 * closed; WYO_MAX_BAD bad events in a row close the connection. Worst case memory is about
 * max_clients x 20 MiB: 8 MiB of audio, its mono float copy and 16 kHz copies at audio-stop,
 * and one event's 1.2 MiB.
 *
 * Not here: wake word detection, streaming (partial) transcripts, Unix sockets and stdio,
 * zeroconf announcement, satellite events (run-pipeline, ...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "voice.h"
#include "wyo_event.h"

#define WYO_AUDIO_MAX_S     60         /* seconds of audio per utterance            */
#define WYO_AUDIO_MAX_BYTES (8u << 20) /* and bytes (43 s of 48 kHz stereo)        */
#define WYO_MAX_BAD         8          /* bad events in a row before closing         */
#define WYO_TEXT_MAX        4096       /* bytes of text to recognize, handle or speak */
#define WYO_CHUNK_SAMPLES   1024       /* samples per audio-chunk of synthesized speech */

/* The 52 MASSIVE locales: what languages resolve to, and what info advertises. */
static const char *const massive_locales[] = {
    "af-ZA", "am-ET", "ar-SA", "az-AZ", "bn-BD", "ca-ES", "cy-GB", "da-DK", "de-DE",
    "el-GR", "en-US", "es-ES", "fa-IR", "fi-FI", "fr-FR", "he-IL", "hi-IN", "hu-HU",
    "hy-AM", "id-ID", "is-IS", "it-IT", "ja-JP", "jv-ID", "ka-GE", "km-KH", "kn-IN",
    "ko-KR", "lv-LV", "ml-IN", "mn-MN", "ms-MY", "my-MM", "nb-NO", "nl-NL", "pl-PL",
    "pt-PT", "ro-RO", "ru-RU", "sl-SL", "sq-AL", "sv-SE", "sw-KE", "ta-IN", "te-IN",
    "th-TH", "tl-PH", "tr-TR", "ur-PK", "vi-VN", "zh-CN", "zh-TW",
};
#define N_LOCALES (sizeof massive_locales / sizeof *massive_locales)

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

enum { SLOT_FREE, SLOT_RUNNING, SLOT_DONE };

typedef struct server server;

/* One connection. fd and state are guarded by server.mu (the main thread shuts fds down and
 * reaps threads); everything else belongs to the connection's thread. */
typedef struct conn {
    server *srv;
    pthread_t th;
    int fd, state;
    unsigned long id;
    double deadline; /* monotonic seconds by which the event being read must be complete */
    int timed_out;
} conn;

/* An utterance being received. */
typedef struct utter {
    int active, overflow;
    int rate, channels;
    unsigned char *pcm; /* (len) bytes of 16-bit PCM as received */
    size_t len, cap, max;
} utter;

struct server {
    const wyo_config *c;
    pthread_mutex_t mu;     /* slots: fd and state */
    pthread_mutex_t mu_asr; /* the pocketsphinx decoder */
    conn *slots;
    unsigned char *info; /* the info event, formatted once (read-only afterwards) */
    size_t info_len;
};

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* local wall-clock time in ms since the epoch, so ICU formats it in UTC as local time */
static double wall_ms(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return ((double)t + (double)tm.tm_gmtoff) * 1000.0;
}

/* ---- sending ------------------------------------------------------------------------------ */

/* All of b[0..n), or -1 (the client is gone or has not read for timeout_s: SO_SNDTIMEO). */
static int send_all(conn *cn, const unsigned char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(cn->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send an event; data is consumed (may be NULL). Returns 0 or -1. */
static int send_event(conn *cn, const char *type, json_t *data, const void *payload, size_t n)
{
    unsigned char *b;
    size_t len;
    if (!data) { /* json_pack failed: out of memory, or text that is not UTF-8 */
        type = "error";
        payload = NULL;
        n = 0;
        data = json_pack("{s:s,s:s}", "text", "internal error: the answer could not be encoded",
                         "code", "internal");
        if (!data) return -1;
    }
    int rc = wyo_format(type, data, payload, n, &b, &len);
    json_decref(data);
    if (rc < 0) return -1;
    rc = send_all(cn, b, len);
    free(b);
    return rc;
}

/* s[0..len) as valid, printable UTF-8 in out[cap]: invalid bytes become U+FFFD, control
 * characters spaces, cut on a character (what the dialogue library does to slot values) */
static void clean_text(const char *s, size_t len, char *out, size_t cap)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        size_t l = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        if (l > len - i) l = 0;
        unsigned cp = l > 1 ? c & (0x7Fu >> l) : c;
        for (size_t k = 1; k < l; k++) {
            if ((u[i + k] & 0xC0) != 0x80) l = 0;
            if (l) cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (l > 1 && (cp < (l == 2   ? 0x80u
                            : l == 3 ? 0x800u
                                     : 0x10000u) ||
                      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))
            l = 0;
        const char *put = s + i;
        size_t n = l;
        if (l == 0)
            put = "\xEF\xBF\xBD", n = 3, l = 1;
        else if (l == 1 && (c < 0x20 || c == 0x7F))
            put = " ", n = 1;
        if (o + n + 1 > cap) break;
        memcpy(out + o, put, n);
        o += n;
        i += l;
    }
    if (cap) out[o < cap ? o : cap - 1] = 0;
}

static int send_error(conn *cn, const char *code, const char *text)
{
    char clean[512]; /* messages may quote the client's bytes */
    clean_text(text, strlen(text), clean, sizeof clean);
    return send_event(cn, "error", json_pack("{s:s,s:s}", "text", clean, "code", code), NULL, 0);
}

/* ---- reading: the event must be complete by cn->deadline ---------------------------------- */

static ssize_t conn_read(void *ctx, void *buf, size_t cap)
{
    conn *cn = ctx;
    for (;;) {
        double left = cn->deadline - mono_s();
        if (left <= 0) {
            cn->timed_out = 1;
            return -1;
        }
        struct pollfd p = {cn->fd, POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) continue; /* the deadline check above ends it */
        ssize_t got = recv(cn->fd, buf, cap, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return got;
    }
}

/* ---- fields ------------------------------------------------------------------------------- */

/* data[key] as a string of 1..WYO_TEXT_MAX bytes, or NULL (then an error was sent, and
 * *sent is -1 when that failed). */
static const char *text_field(conn *cn, json_t *data, const char *key, const char *event, int *sent)
{
    json_t *v = json_object_get(data, key);
    char msg[160];
    const char *s = json_string_value(v);
    if (s && json_string_length(v) > 0 && json_string_length(v) <= WYO_TEXT_MAX &&
        strlen(s) == json_string_length(v))
        return s;
    snprintf(msg, sizeof msg, "%s needs data.%s: a string of 1 to %d bytes", event, key,
             WYO_TEXT_MAX);
    *sent = send_error(cn, "bad-field", msg);
    return NULL;
}

/* An integer field in [lo, hi]: 0, or -1 when missing or out of range. */
static int int_field(json_t *data, const char *key, long lo, long hi, int *out)
{
    json_t *v = json_object_get(data, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

/* The MASSIVE locale for a Wyoming language ("en", "en-US", "en_GB", "pt-BR"): the exact
 * locale, else the first of the same language; the default when lang is absent. NULL when
 * nothing matches. */
static const char *resolve_locale(json_t *lang, const char *dflt)
{
    const char *s = json_string_value(lang);
    if (!s || !*s) return dflt;
    char want[16];
    size_t n = strlen(s);
    if (n >= sizeof want) return NULL;
    for (size_t i = 0; i <= n; i++) want[i] = s[i] == '_' ? '-' : s[i];
    for (size_t i = 0; i < N_LOCALES; i++)
        if (strcasecmp(massive_locales[i], want) == 0) return massive_locales[i];
    size_t ln = strcspn(want, "-");
    if (ln != 2 && ln != 3) return NULL;
    if (ln == 2 && strncasecmp(want, "no", 2) == 0) return "nb-NO"; /* Norwegian */
    for (size_t i = 0; i < N_LOCALES; i++)
        if (strncasecmp(massive_locales[i], want, ln) == 0 && massive_locales[i][ln] == '-')
            return massive_locales[i];
    return NULL;
}

/* ---- the info event ----------------------------------------------------------------------- */

static json_t *artifact(const char *name, const char *by, const char *url, int installed,
                        const char *description)
{
    return json_pack("{s:s,s:{s:s,s:s},s:b,s:s,s:s}", "name", name, "attribution", "name", by,
                     "url", url, "installed", installed, "description", description, "version",
                     mille_version());
}

static json_t *info_data(const wyo_config *c)
{
    json_t *all = json_array(), *known = json_array(), *d = json_object();
    for (size_t i = 0; i < N_LOCALES; i++) {
        json_array_append_new(all, json_string(massive_locales[i]));
        if (mille_model_has_locale(c->model, massive_locales[i]))
            json_array_append_new(known, json_string(massive_locales[i]));
    }
    if (json_array_size(known) == 0) json_array_extend(known, all); /* a model without a list */

    json_t *asr_model = artifact(c->lm_name ? c->lm_name : "pocketsphinx-en-us generic trigram",
                                 "CMU Sphinx", "https://cmusphinx.github.io", c->rec != NULL,
                                 "en-US acoustic model of Debian's pocketsphinx-en-us");
    json_object_set_new(asr_model, "languages", json_pack("[s]", "en-US"));
    json_t *asr_prog =
        artifact("mille-voice-asr", "CMU Sphinx", "https://cmusphinx.github.io", c->rec != NULL,
                 "pocketsphinx with its n-best list rescored by mille's NLU");
    json_object_set_new(asr_prog, "models", json_pack("[o]", asr_model));

    json_t *nlu_model = artifact(c->model_name, "mille", "", 1,
                                 "MASSIVE intents and slots (60 intents, 55 slot types)");
    json_object_set_new(nlu_model, "languages", json_incref(known));
    json_t *intent = artifact("mille", "mille", "", 1, "mille multilingual NLU");
    json_object_set_new(intent, "models", json_pack("[o]", nlu_model));

    json_t *dlg_model = artifact("mille-voice-dialogue", "mille", "", 1,
                                 "confidence tiers, follow-up questions, alarms, reminders, "
                                 "lists, time and date; declared skills");
    json_object_set_new(dlg_model, "languages", json_incref(known));
    json_t *handle = artifact("mille-voice", "mille", "", 1, "mille-voice dialogue and skills");
    json_object_set_new(handle, "models", json_pack("[o]", dlg_model));

    json_t *voices = json_array();
    for (size_t i = 0; i < N_LOCALES; i++) {
        const char *prog, *v = tts_voice(massive_locales[i], &prog);
        if (!v) continue;
        char name[64];
        snprintf(name, sizeof name, "%s:%s", prog, v);
        int fl = strcmp(prog, "flite") == 0;
        json_t *voice =
            artifact(name, fl ? "CMU (flite)" : "eSpeak NG",
                     fl ? "http://www.festvox.org/flite" : "https://github.com/espeak-ng/espeak-ng",
                     1, fl ? "flite, voice slt" : "espeak-ng");
        json_object_set_new(voice, "languages", json_pack("[s]", massive_locales[i]));
        json_array_append_new(voices, voice);
    }
    json_t *tts = artifact("mille-voice-tts", "mille", "", 1,
                           "flite (en-US) and espeak-ng (46 more MASSIVE locales)");
    json_object_set_new(tts, "voices", voices);

    json_object_set_new(d, "asr", json_pack("[o]", asr_prog));
    json_object_set_new(d, "intent", json_pack("[o]", intent));
    json_object_set_new(d, "handle", json_pack("[o]", handle));
    json_object_set_new(d, "tts", json_pack("[o]", tts));
    json_object_set_new(d, "wake", json_array());
    json_decref(all);
    json_decref(known);
    return d;
}

/* ---- events ------------------------------------------------------------------------------- */

/* Each handler returns 0 (answered), 1 (a bad request: an error was sent) or -1 (the
 * connection is unusable: close it). */
#define SENT(rc) ((rc) < 0 ? -1 : 1)

static int on_recognize(conn *cn, mille_session *nlu, json_t *data)
{
    const wyo_config *c = cn->srv->c;
    int sent = 0;
    const char *text = text_field(cn, data, "text", "recognize", &sent);
    if (!text) return SENT(sent);
    const char *locale = resolve_locale(json_object_get(data, "language"), c->locale);
    if (!locale)
        return SENT(send_error(cn, "unsupported-language",
                               "no MASSIVE locale for "
                               "data.language"));
    mille_result r;
    mille_error me;
    if (mille_parse(nlu, text, strlen(text), locale, &r, &me) < 0)
        return SENT(send_error(cn, "bad-text", me.msg));
    if (r.rejected || r.confidence < c->confirm)
        return send_event(cn, "not-recognized", json_pack("{s:s}", "text", text), NULL, 0);
    json_t *ents = json_array();
    for (size_t i = 0; i < r.n_slots; i++)
        json_array_append_new(ents, json_pack("{s:s,s:s%}", "name", r.slots[i].slot, "value",
                                              text + r.slots[i].start,
                                              r.slots[i].end - r.slots[i].start));
    return send_event(cn, "intent",
                      json_pack("{s:s,s:o,s:s,s:s,s:f,s:s}", "name", r.intent, "entities", ents,
                                "text", text, "scenario", r.scenario, "confidence",
                                (double)r.confidence, "language", locale),
                      NULL, 0);
}

static int on_handle(conn *cn, mille_session *nlu, json_t *data)
{
    server *S = cn->srv;
    const wyo_config *c = S->c;
    int sent = 0;
    const char *text = text_field(cn, data, "text", "transcript", &sent);
    if (!text) return SENT(sent);
    const char *locale = resolve_locale(json_object_get(data, "language"), c->locale);
    if (!locale)
        return SENT(send_error(cn, "unsupported-language",
                               "no MASSIVE locale for "
                               "data.language"));
    /* a conversation id makes turns one dialogue session (Home Assistant sends one) */
    json_t *ctx = json_object_get(data, "context");
    const char *conv = json_string_value(json_object_get(ctx, "conversation_id"));
    char session[160] = "";
    if (conv && *conv) {
        char clean[128];
        clean_text(conv, strlen(conv), clean, sizeof clean);
        snprintf(session, sizeof session, "wyoming:%s", clean);
    }
    /* the dialogue library is thread-safe: turns of one session run one at a time */
    mille_dialogue_request q = {session[0] ? session : NULL, text, strlen(text), locale,
                                c->clock_ms >= 0 ? c->clock_ms : wall_ms()};
    mille_dialogue_reply *t = malloc(sizeof *t);
    mille_error me;
    if (!t) return SENT(send_error(cn, "dialogue", "out of memory"));
    if (mille_dialogue_turn(c->d, nlu, &q, t, &me) < 0) {
        free(t);
        return SENT(send_error(cn, "dialogue", me.msg));
    }
    /* a fallback ("Sorry, I did not understand") or a skill that is not connected is an
     * honest not-handled: the pipeline may try another agent */
    int handled = strcmp(t->action, "fallback") != 0 && strcmp(t->skill, "not_connected") != 0;
    json_t *out =
        json_pack("{s:s,s:s,s:s,s:s,s:f}", "text", t->response, "intent", t->intent, "action",
                  t->action, "language", locale, "confidence", (double)t->confidence);
    free(t);
    if (conv) json_object_set_new(out, "context", json_pack("{s:s}", "conversation_id", conv));
    return send_event(cn, handled ? "handled" : "not-handled", out, NULL, 0);
}

static void utter_reset(utter *u)
{
    free(u->pcm);
    memset(u, 0, sizeof *u);
}

static int on_audio_start(conn *cn, utter *u, json_t *data)
{
    int width;
    utter_reset(u);
    if (int_field(data, "rate", 8000, 48000, &u->rate) < 0 ||
        int_field(data, "width", 1, 8, &width) < 0 ||
        int_field(data, "channels", 1, 8, &u->channels) < 0)
        return SENT(send_error(cn, "bad-field",
                               "audio-start needs data.rate (8000..48000 Hz), data.width and "
                               "data.channels (1..8)"));
    if (width != 2)
        return SENT(send_error(cn, "unsupported-format", "only 16-bit audio (width 2) is taken"));
    u->active = 1;
    u->max = (size_t)u->rate * (size_t)u->channels * 2 * WYO_AUDIO_MAX_S;
    if (u->max > WYO_AUDIO_MAX_BYTES) u->max = WYO_AUDIO_MAX_BYTES;
    return 0;
}

static int on_audio_chunk(conn *cn, utter *u, const wyo_event *e)
{
    if (!u->active) return SENT(send_error(cn, "bad-order", "audio-chunk without audio-start"));
    if (u->overflow) return 0; /* the error was sent once; the rest of it is dropped */
    int rate = u->rate, ch = u->channels, width = 2;
    /* a chunk may repeat the format; it must not change it */
    if ((json_object_get(e->data, "rate") && int_field(e->data, "rate", 1, 1 << 30, &rate) < 0) ||
        (json_object_get(e->data, "channels") &&
         int_field(e->data, "channels", 1, 1 << 30, &ch) < 0) ||
        (json_object_get(e->data, "width") &&
         int_field(e->data, "width", 1, 1 << 30, &width) < 0) ||
        rate != u->rate || ch != u->channels || width != 2) {
        utter_reset(u);
        return SENT(send_error(cn, "bad-field", "audio-chunk: format differs from audio-start"));
    }
    if (e->payload_len % (2 * (size_t)u->channels) != 0) {
        utter_reset(u);
        return SENT(send_error(cn, "bad-payload", "audio-chunk: payload is not whole frames"));
    }
    if (e->payload_len > u->max - u->len) {
        u->overflow = 1;
        free(u->pcm);
        u->pcm = NULL;
        u->len = u->cap = 0;
        char msg[128];
        snprintf(msg, sizeof msg, "utterance over %d s or %u bytes of audio: dropped",
                 WYO_AUDIO_MAX_S, WYO_AUDIO_MAX_BYTES);
        return SENT(send_error(cn, "too-large", msg));
    }
    if (u->len + e->payload_len > u->cap) {
        size_t nc = u->cap ? u->cap : 1 << 16;
        while (nc < u->len + e->payload_len) nc *= 2;
        if (nc > u->max) nc = u->max;
        unsigned char *nb = realloc(u->pcm, nc);
        if (!nb) {
            utter_reset(u);
            return SENT(send_error(cn, "no-memory", "out of memory"));
        }
        u->pcm = nb;
        u->cap = nc;
    }
    if (e->payload_len) memcpy(u->pcm + u->len, e->payload, e->payload_len);
    u->len += e->payload_len;
    return 0;
}

static int on_audio_stop(conn *cn, mille_session *nlu, utter *u)
{
    server *S = cn->srv;
    const wyo_config *c = S->c;
    if (!u->active) return SENT(send_error(cn, "bad-order", "audio-stop without audio-start"));
    if (u->overflow) {
        utter_reset(u);
        return 0;
    }
    if (!c->rec) {
        utter_reset(u);
        return SENT(send_error(cn, "no-asr",
                               "no speech recognizer loaded (is pocketsphinx-en-us installed?)"));
    }
    char err[VOICE_ERR];
    audio_buf a = {0};
    int rc = audio_from_pcm(u->pcm, u->len, u->rate, u->channels, &a, err);
    utter_reset(u);
    if (rc < 0) return SENT(send_error(cn, "bad-audio", err));
    size_t s0 = 0, s1 = 0;
    char text[sizeof((asr_hyp *)0)->text] = "";
    if (audio_find_speech(a.pcm, a.n, &s0, &s1)) {
        asr_hyp hyps[ASR_NBEST];
        size_t nh = 0;
        pthread_mutex_lock(&S->mu_asr);
        rc = asr_decode(c->rec, a.pcm + s0, s1 - s0, hyps, &nh, err);
        pthread_mutex_unlock(&S->mu_asr);
        if (rc < 0) {
            audio_free(&a);
            return SENT(send_error(cn, "asr", err));
        }
        asr_scored sc[ASR_NBEST];
        size_t pick = asr_rescore(nlu, "en-US", hyps, nh, c->asr_weight, c->rescore, sc);
        if (nh) snprintf(text, sizeof text, "%s", hyps[pick].text);
    }
    audio_free(&a);
    return send_event(cn, "transcript",
                      json_pack("{s:s,s:s,s:b}", "text", text, "language", "en-US", "is_final", 1),
                      NULL, 0);
}

static int on_transcribe(conn *cn, json_t *data)
{
    const char *locale = resolve_locale(json_object_get(data, "language"), "en-US");
    if (!locale || strcmp(locale, "en-US") != 0)
        return SENT(send_error(cn, "unsupported-language",
                               "speech is recognized in en-US only (Debian 12 packages no other "
                               "acoustic model)"));
    return 0;
}

static int on_synthesize(conn *cn, json_t *data)
{
    const wyo_config *c = cn->srv->c;
    int sent = 0;
    const char *text = text_field(cn, data, "text", "synthesize", &sent);
    if (!text) return SENT(sent);
    /* voice: {"name": "espeak-ng:de" or a locale} or {"language": "de"}; else the default */
    json_t *voice = json_object_get(data, "voice");
    const char *locale = c->locale, *name = json_string_value(json_object_get(voice, "name"));
    if (name && strchr(name, ':')) {
        locale = NULL;
        for (size_t i = 0; i < N_LOCALES && !locale; i++) {
            const char *prog, *v = tts_voice(massive_locales[i], &prog);
            char full[64];
            if (!v) continue;
            snprintf(full, sizeof full, "%s:%s", prog, v);
            if (strcmp(full, name) == 0) locale = massive_locales[i];
        }
    } else if (name) {
        locale = resolve_locale(json_object_get(voice, "name"), c->locale);
    } else if (json_object_get(voice, "language")) {
        locale = resolve_locale(json_object_get(voice, "language"), c->locale);
    }
    if (!locale) return SENT(send_error(cn, "no-voice", "no such voice or language"));
    char clean[WYO_TEXT_MAX * 3 + 4], err[VOICE_ERR], path[] = "/tmp/mille-wyoming-XXXXXX";
    clean_text(text, strlen(text), clean, sizeof clean);
    int fd = mkstemp(path);
    if (fd < 0) return SENT(send_error(cn, "tts", "cannot create a temporary file"));
    close(fd);
    audio_buf a = {0};
    int rc = tts_speak(locale, clean, path, err);
    if (rc == 0) rc = audio_read_file(path, &a, err);
    unlink(path);
    if (rc < 0) return SENT(send_error(cn, "tts", err));
    json_t *fmt = json_pack("{s:i,s:i,s:i}", "rate", VOICE_RATE, "width", 2, "channels", 1);
    rc = send_event(cn, "audio-start", json_deep_copy(fmt), NULL, 0);
    unsigned char le[WYO_CHUNK_SAMPLES * 2];
    for (size_t i = 0; rc == 0 && i < a.n; i += WYO_CHUNK_SAMPLES) {
        size_t k = a.n - i < WYO_CHUNK_SAMPLES ? a.n - i : WYO_CHUNK_SAMPLES;
        for (size_t j = 0; j < k; j++) { /* little-endian on the wire, whatever the host */
            uint16_t v = (uint16_t)a.pcm[i + j];
            le[2 * j] = (unsigned char)(v & 0xff);
            le[2 * j + 1] = (unsigned char)(v >> 8);
        }
        rc = send_event(cn, "audio-chunk", json_deep_copy(fmt), le, 2 * k);
    }
    if (rc == 0) rc = send_event(cn, "audio-stop", json_object(), NULL, 0);
    json_decref(fmt);
    audio_free(&a);
    return rc;
}

static int dispatch(conn *cn, mille_session *nlu, utter *u, const wyo_event *e)
{
    const char *t = e->type;
    if (strcmp(t, "describe") == 0) return send_all(cn, cn->srv->info, cn->srv->info_len);
    if (strcmp(t, "ping") == 0) {
        const char *s = json_string_value(json_object_get(e->data, "text"));
        return send_event(cn, "pong", s ? json_pack("{s:s}", "text", s) : json_object(), NULL, 0);
    }
    if (strcmp(t, "recognize") == 0) return on_recognize(cn, nlu, e->data);
    if (strcmp(t, "transcript") == 0) return on_handle(cn, nlu, e->data);
    if (strcmp(t, "transcribe") == 0) return on_transcribe(cn, e->data);
    if (strcmp(t, "audio-start") == 0) return on_audio_start(cn, u, e->data);
    if (strcmp(t, "audio-chunk") == 0) return on_audio_chunk(cn, u, e);
    if (strcmp(t, "audio-stop") == 0) return on_audio_stop(cn, nlu, u);
    if (strcmp(t, "synthesize") == 0) return on_synthesize(cn, e->data);
    char msg[WYO_TYPE_MAX * 3 + 32], shown[WYO_TYPE_MAX * 3];
    clean_text(t, strlen(t), shown, sizeof shown);
    snprintf(msg, sizeof msg, "unknown event type \"%s\"", shown);
    return SENT(send_error(cn, "unknown-event", msg));
}

/* ---- a connection ------------------------------------------------------------------------- */

static void *conn_main(void *arg)
{
    conn *cn = arg;
    server *S = cn->srv;
    const wyo_config *c = S->c;
    mille_session *nlu = NULL;
    mille_error me;
    wyo_reader rd = {conn_read, cn, NULL, 0, 0};
    wyo_event ev = {0};
    utter u = {0};
    struct timeval tv = {(time_t)c->timeout_s,
                         (suseconds_t)((c->timeout_s - (double)(time_t)c->timeout_s) * 1e6)};
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000; /* 0 would mean "no timeout" */
    setsockopt(cn->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (mille_session_new(c->model, &nlu, &me) < 0) {
        send_error(cn, "no-memory", me.msg);
        goto done;
    }
    for (int bad = 0;;) {
        wyo_error we;
        cn->deadline = mono_s() + c->timeout_s;
        int rc = wyo_read(&rd, &ev, &we);
        if (rc == WYO_END) break;
        if (rc == WYO_EFATAL) {
            if (cn->timed_out) {
                char msg[96];
                snprintf(msg, sizeof msg, "no complete event within %g s: closing", c->timeout_s);
                send_error(cn, "timeout", msg);
            } else {
                send_error(cn, we.code, we.text);
            }
            break;
        }
        rc = rc == WYO_EBAD ? SENT(send_error(cn, we.code, we.text)) : dispatch(cn, nlu, &u, &ev);
        wyo_event_free(&ev);
        if (rc < 0) break;
        bad = rc > 0 ? bad + 1 : 0;
        if (bad >= WYO_MAX_BAD) {
            send_error(cn, "too-many-errors", "too many bad events in a row: closing");
            break;
        }
    }
done:
    wyo_event_free(&ev);
    wyo_reader_free(&rd);
    utter_reset(&u);
    mille_session_free(nlu);
    pthread_mutex_lock(&S->mu);
    int fd = cn->fd;
    cn->fd = -1;
    cn->state = SLOT_DONE;
    pthread_mutex_unlock(&S->mu);
    close(fd);
    return NULL;
}

/* ---- listening ---------------------------------------------------------------------------- */

/* "tcp://HOST:PORT" (HOST may be [v6]) -> a listening socket; prints the bound address. */
static int listen_on(const char *uri, char *err)
{
    char host[256], port[16];
    const char *p = strncmp(uri, "tcp://", 6) == 0 ? uri + 6 : NULL;
    const char *colon = p ? strrchr(p, ':') : NULL;
    if (!colon || colon == p || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - p) >= sizeof host) {
        snprintf(err, VOICE_ERR, "--wyoming %s: expected tcp://HOST:PORT", uri);
        return -1;
    }
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1] */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0) {
        snprintf(err, VOICE_ERR, "--wyoming %s: %s", uri, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 16) < 0) {
            snprintf(err, VOICE_ERR, "--wyoming %s: %s", uri, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[128] = "?", s[16] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, s, sizeof s,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    fprintf(stderr, "mille-voice: Wyoming server listening on tcp://%s%s%s:%s\n",
            strchr(h, ':') ? "[" : "", h, strchr(h, ':') ? "]" : "", s);
    return fd;
}

int wyoming_serve(const wyo_config *c, char *err)
{
    server S;
    memset(&S, 0, sizeof S);
    S.c = c;
    json_t *info = info_data(c);
    if (!info || wyo_format("info", info, NULL, 0, &S.info, &S.info_len) < 0) {
        json_decref(info);
        snprintf(err, VOICE_ERR, "out of memory");
        return -1;
    }
    json_decref(info);
    S.slots = calloc((size_t)c->max_clients, sizeof *S.slots);
    int lfd = S.slots ? listen_on(c->uri, err) : -1;
    if (lfd < 0) {
        if (!S.slots) snprintf(err, VOICE_ERR, "out of memory");
        free(S.slots);
        free(S.info);
        return -1;
    }
    pthread_mutex_init(&S.mu, NULL);
    pthread_mutex_init(&S.mu_asr, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned long next_id = 1;
    while (!stop_flag) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 250) <= 0) continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            /* EMFILE/ENFILE/ENOMEM would make poll report the socket ready at once, forever:
             * wait a little instead of spinning */
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
                struct timespec pause = {0, 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
            continue;
        }
        /* reap finished connections, then take a free slot */
        conn *slot = NULL;
        for (int i = 0; i < c->max_clients; i++) {
            pthread_mutex_lock(&S.mu);
            int st = S.slots[i].state;
            pthread_mutex_unlock(&S.mu);
            if (st == SLOT_DONE) {
                pthread_join(S.slots[i].th, NULL);
                S.slots[i].state = SLOT_FREE; /* only this thread touches a DONE slot */
                st = SLOT_FREE;
            }
            if (st == SLOT_FREE && !slot) slot = &S.slots[i];
        }
        if (!slot) {
            /* one short error, best effort, without blocking the accept loop */
            unsigned char *b;
            size_t n;
            char msg[96];
            snprintf(msg, sizeof msg, "server busy: %d connections already", c->max_clients);
            json_t *d = json_pack("{s:s,s:s}", "text", msg, "code", "busy");
            if (d && wyo_format("error", d, NULL, 0, &b, &n) == 0) {
                ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w;
                free(b);
            }
            json_decref(d);
            close(fd);
            continue;
        }
        pthread_mutex_lock(&S.mu);
        slot->srv = &S;
        slot->fd = fd;
        slot->id = next_id++;
        slot->timed_out = 0;
        slot->state = SLOT_RUNNING;
        pthread_mutex_unlock(&S.mu);
        if (pthread_create(&slot->th, NULL, conn_main, slot) != 0) {
            pthread_mutex_lock(&S.mu);
            slot->state = SLOT_FREE;
            slot->fd = -1;
            pthread_mutex_unlock(&S.mu);
            close(fd);
        }
    }
    fprintf(stderr, "mille-voice: Wyoming server stopping\n");
    close(lfd);
    pthread_mutex_lock(&S.mu);
    for (int i = 0; i < c->max_clients; i++)
        if (S.slots[i].state == SLOT_RUNNING && S.slots[i].fd >= 0)
            shutdown(S.slots[i].fd, SHUT_RDWR); /* wakes its poll; the thread closes it */
    pthread_mutex_unlock(&S.mu);
    for (int i = 0; i < c->max_clients; i++) {
        pthread_mutex_lock(&S.mu);
        int st = S.slots[i].state;
        pthread_mutex_unlock(&S.mu);
        if (st != SLOT_FREE) pthread_join(S.slots[i].th, NULL);
    }
    pthread_mutex_destroy(&S.mu);
    pthread_mutex_destroy(&S.mu_asr);
    free(S.slots);
    free(S.info);
    return 0;
}
