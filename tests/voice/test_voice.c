/*
 * test_voice.c - unit tests of mille-voice's modules (voice/): resampling against the ideal
 * signal, speech detection, WAV round trip, locales without a voice, and the Wyoming event
 * reader (pieces, recovery, limits). The dialogue library's (templates, skills, sessions) are
 * in tests/test_dialogue.c; the end-to-end tests (recognition, dialogue over the CLI) are
 * tests/voice_test.sh.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "voice.h"
#include "wyo_event.h"

/* the tolerances: the sinc kernel (16 zero crossings, Blackman) passes a tone well inside the
 * pass band within about -50 dB; 0.01 of full scale is -40 dB */
#define RESAMPLE_TOL 0.01

static double tone(double f, double t) { return 0.5 * sin(2 * M_PI * f * t); }

TEST(voice_resample_44k_to_16k_keeps_a_tone)
{
    int from = 44100, to = 16000;
    size_t n = (size_t)from; /* one second */
    float *x = malloc(n * sizeof *x), *y;
    size_t m;
    for (size_t i = 0; i < n; i++) x[i] = (float)tone(440, (double)i / from);
    CHECK_INT(audio_resample(x, n, from, to, &y, &m), 0);
    CHECK_INT(m, 16000);
    double worst = 0;
    for (size_t j = 200; j + 200 < m; j++) /* away from the edges */
        worst = fmax(worst, fabs(y[j] - tone(440, (double)j / to)));
    CHECK_NEAR(worst, 0, RESAMPLE_TOL);
    free(x);
    free(y);
}

TEST(voice_resample_removes_what_16k_cannot_hold)
{
    /* 10 kHz is above 16 kHz's Nyquist (8 kHz): it must not fold back as a 6 kHz alias */
    int from = 48000, to = 16000;
    size_t n = 48000;
    float *x = malloc(n * sizeof *x), *y;
    size_t m;
    for (size_t i = 0; i < n; i++) x[i] = (float)tone(10000, (double)i / from);
    CHECK_INT(audio_resample(x, n, from, to, &y, &m), 0);
    double e = 0;
    for (size_t j = 200; j + 200 < m; j++) e += (double)y[j] * y[j];
    double rms = sqrt(e / (double)(m - 400));
    CHECK_NEAR(rms, 0, RESAMPLE_TOL);
    free(x);
    free(y);
}

TEST(voice_wav_round_trip_and_stereo_22k_mix)
{
    char path[] = "/tmp/mille-voice-test-XXXXXX.wav", err[VOICE_ERR];
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    close(fd);
    int16_t pcm[1600];
    for (int i = 0; i < 1600; i++) pcm[i] = (int16_t)(10000 * sin(2 * M_PI * 300 * i / 16000.0));
    CHECK_INT(audio_write_wav(path, pcm, 1600, 16000, err), 0);
    audio_buf a;
    CHECK_INT(audio_read_file(path, &a, err), 0);
    CHECK_INT(a.n, 1600);
    int worst = 0;
    for (size_t i = 0; i < a.n && i < 1600; i++)
        worst = abs(a.pcm[i] - pcm[i]) > worst ? abs(a.pcm[i] - pcm[i]) : worst;
    CHECK(worst <= 1); /* 16-bit round trip: at most one step of rounding */
    audio_free(&a);
    CHECK_INT(audio_read_file("/nonexistent/x.wav", &a, err), -1);
    CHECK(strstr(err, "/nonexistent/x.wav") != NULL);
    unlink(path);
}

TEST(voice_raw_pcm_stereo_is_mixed_and_resampled)
{
    int p[2];
    CHECK_INT(pipe(p), 0);
    /* 0.1 s of 8 kHz stereo: left +8000, right -8000 -> mono 0 */
    unsigned char b[800 * 4];
    for (int i = 0; i < 800; i++) {
        int16_t l = 8000, r = -8000;
        b[4 * i] = (unsigned char)(l & 0xFF), b[4 * i + 1] = (unsigned char)((uint16_t)l >> 8);
        b[4 * i + 2] = (unsigned char)(r & 0xFF), b[4 * i + 3] = (unsigned char)((uint16_t)r >> 8);
    }
    CHECK_INT(write(p[1], b, sizeof b), (long long)sizeof b);
    close(p[1]);
    audio_buf a;
    char err[VOICE_ERR];
    CHECK_INT(audio_read_raw(p[0], 8000, 2, 1 << 20, &a, err), 0);
    close(p[0]);
    CHECK_INT(a.n, 1600);
    int worst = 0;
    for (size_t i = 0; i < a.n; i++) worst = abs(a.pcm[i]) > worst ? abs(a.pcm[i]) : worst;
    CHECK_INT(worst, 0);
    audio_free(&a);
    CHECK_INT(audio_read_raw(0, 10, 1, 100, &a, err), -1);
}

TEST(voice_speech_detection_finds_the_burst)
{
    /* 1 s silence (faint noise), 0.5 s tone, 1 s silence */
    size_t n = 40000;
    int16_t *pcm = calloc(n, sizeof *pcm);
    unsigned s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        pcm[i] = (int16_t)((int)(s >> 16 & 0x1F) - 16); /* about -66 dBFS */
        if (i >= 16000 && i < 24000) pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 200 * i / 16000.0));
    }
    size_t a, b;
    CHECK_INT(audio_find_speech(pcm, n, &a, &b), 1);
    /* frame-aligned bounds widened by the 200 ms margin (3200 samples) */
    CHECK(a <= 16000 && a >= 16000 - 3200 - 320);
    CHECK(b >= 24000 && b <= 24000 + 3200 + 320);
    memset(pcm, 0, n * sizeof *pcm);
    CHECK_INT(audio_find_speech(pcm, n, &a, &b), 0);
    free(pcm);
}

TEST(voice_locales_without_a_voice)
{
    const char *prog;
    CHECK(tts_voice("en-US", &prog) != NULL && strcmp(prog, "flite") == 0);
    CHECK(tts_voice("de-DE", &prog) != NULL && strcmp(prog, "espeak-ng") == 0);
    const char *none[] = {"jv-ID", "km-KH", "mn-MN", "tl-PH", "xx-XX"};
    char err[VOICE_ERR];
    for (size_t i = 0; i < 5; i++) {
        CHECK(tts_voice(none[i], &prog) == NULL);
        CHECK_INT(tts_speak(none[i], "halo", "/tmp/never-written.wav", err), -1);
        CHECK(strstr(err, none[i]) != NULL);
    }
}

/* ---- the Wyoming event reader (voice/wyo_event.c) ------------------------------------------ */

typedef struct mem_stream {
    const char *p;
    size_t n, at, piece;
} mem_stream;

static ssize_t mem_read(void *ctx, void *buf, size_t cap)
{
    mem_stream *s = ctx;
    size_t k = s->n - s->at;
    if (k > cap) k = cap;
    if (s->piece && k > s->piece) k = s->piece;
    memcpy(buf, s->p + s->at, k);
    s->at += k;
    return (ssize_t)k;
}

TEST(voice_wyoming_events_in_one_byte_pieces)
{
    /* a header, extra data merged over inline data, a payload, then an event without data;
     * read one byte per call so that every boundary falls inside a read */
    static const char in[] = "{\"type\":\"audio-chunk\",\"data\":{\"rate\":8000,\"x\":1},"
                             "\"data_length\":14,\"payload_length\":4}\n"
                             "{\"rate\":16000}\x01\x02\x03\x04"
                             "{\"type\":\"audio-stop\"}\r\n";
    mem_stream s = {in, sizeof in - 1, 0, 1};
    wyo_reader r = {mem_read, &s, NULL, 0, 0};
    wyo_event e = {0};
    wyo_error err;
    CHECK_INT(wyo_read(&r, &e, &err), WYO_OK);
    CHECK(strcmp(e.type, "audio-chunk") == 0);
    CHECK_INT(json_integer_value(json_object_get(e.data, "rate")), 16000); /* extra data wins */
    CHECK_INT(json_integer_value(json_object_get(e.data, "x")), 1);
    CHECK_INT(e.payload_len, 4);
    CHECK(e.payload && e.payload[0] == 1 && e.payload[3] == 4);
    CHECK_INT(wyo_read(&r, &e, &err), WYO_OK); /* CRLF tolerated */
    CHECK(strcmp(e.type, "audio-stop") == 0 && json_object_size(e.data) == 0 && !e.payload);
    CHECK_INT(wyo_read(&r, &e, &err), WYO_END);
    wyo_event_free(&e);
    wyo_reader_free(&r);
}

TEST(voice_wyoming_bad_events_keep_the_stream_in_sync)
{
    /* bad ones whose lengths are readable are skipped whole; the good one after them is read */
    static const char in[] = "nope\n"
                             "{\"type\":7,\"payload_length\":3}\nabc"
                             "{\"type\":\"x\",\"data_length\":4}\n[1] "
                             "{\"type\":\"x\",\"data\":\"s\"}\n"
                             "{\"type\":\"ok\"}\n";
    mem_stream s = {in, sizeof in - 1, 0, 0};
    wyo_reader r = {mem_read, &s, NULL, 0, 0};
    wyo_event e = {0};
    wyo_error err;
    const char *codes[] = {"bad-json", "bad-event", "bad-json", "bad-event"};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(wyo_read(&r, &e, &err), WYO_EBAD);
        CHECK(err.code && strcmp(err.code, codes[i]) == 0);
    }
    CHECK_INT(wyo_read(&r, &e, &err), WYO_OK);
    CHECK(strcmp(e.type, "ok") == 0);
    wyo_event_free(&e);
    wyo_reader_free(&r);
}

TEST(voice_wyoming_limits_are_fatal)
{
    const char *cases[][2] = {
        {"{\"type\":\"x\",\"payload_length\":1048577}\n", "too-large"},
        {"{\"type\":\"x\",\"data_length\":65537}\n", "too-large"},
        {"{\"type\":\"x\",\"data_length\":-1}\n", "bad-length"},
        {"{\"type\":\"x\",\"payload_length\":\"3\"}\n", "bad-length"},
        {"{\"type\":\"x\",\"payload_length\":10}\nshort", "truncated"},
        {"{\"type\":\"x\"", "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mem_stream s = {cases[i][0], strlen(cases[i][0]), 0, 0};
        wyo_reader r = {mem_read, &s, NULL, 0, 0};
        wyo_event e = {0};
        wyo_error err;
        CHECK_INT(wyo_read(&r, &e, &err), WYO_EFATAL);
        CHECK(err.code && strcmp(err.code, cases[i][1]) == 0);
        CHECK(!e.data && !e.payload);
        wyo_reader_free(&r);
    }
    /* a header line of 64 KiB without a newline; exactly at the limit with one is fine */
    size_t n = WYO_HEADER_MAX + 10;
    char *big = malloc(n);
    memset(big, ' ', n);
    mem_stream s = {big, n, 0, 0};
    wyo_reader r = {mem_read, &s, NULL, 0, 0};
    wyo_event e = {0};
    wyo_error err;
    CHECK_INT(wyo_read(&r, &e, &err), WYO_EFATAL);
    CHECK(strcmp(err.code, "too-large") == 0);
    wyo_reader_free(&r);
    const char *h = "{\"type\":\"ok\"}";
    memcpy(big, h, strlen(h));
    big[WYO_HEADER_MAX - 1] = '\n';
    mem_stream s2 = {big, WYO_HEADER_MAX, 0, 0};
    wyo_reader r2 = {mem_read, &s2, NULL, 0, 0};
    CHECK_INT(wyo_read(&r2, &e, &err), WYO_OK);
    CHECK(strcmp(e.type, "ok") == 0);
    wyo_event_free(&e);
    wyo_reader_free(&r2);
    free(big);
}
