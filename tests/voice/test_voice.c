/*
 * test_voice.c - unit tests of mille-voice's modules (voice/): resampling against the ideal
 * signal, speech detection, WAV round trip, template substitution with hostile values,
 * spoken-time parsing, ICU time formats, and the SQLite skills (state survives a reopen).
 * The end-to-end tests (recognition, dialogue over the CLI) are tests/voice_test.sh.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "voice.h"

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

TEST(voice_template_substitution_is_text_only)
{
    kv v[3] = {{"time", "7 am'; rm -rf / #"},
               {"x", "{time} $(reboot) `id` \"q\""},
               {"bad", "a\xff\xfe"
                       "b\x01"
                       "c\xc0\xaf"}};
    char out[256];
    tpl_render("Alarm for {time}.", v, 3, out, sizeof out);
    CHECK_STR(out, "Alarm for 7 am'; rm -rf / #.");
    tpl_render("[{x}]", v, 3, out, sizeof out); /* a value is never re-scanned */
    CHECK_STR(out, "[{time} $(reboot) `id` \"q\"]");
    tpl_render("{bad}|{missing}|{{lit}", v, 3, out, sizeof out);
    CHECK_STR(out, "a\xEF\xBF\xBD\xEF\xBF\xBD"
                   "b c\xEF\xBF\xBD\xEF\xBF\xBD||{lit}");
    tpl_render("{unterminated", v, 3, out, sizeof out);
    CHECK_STR(out, "{unterminated");
    char small[8];
    tpl_render("héhéhé{time}", v, 3, small, sizeof small); /* truncated on a character */
    CHECK_STR(small, "héhéh"); /* 7 bytes + NUL: whole characters only */
}

TEST(voice_spoken_times)
{
    CHECK_INT(tpl_parse_time("seven am"), 7 * 60);
    CHECK_INT(tpl_parse_time("seven thirty pm"), 19 * 60 + 30);
    CHECK_INT(tpl_parse_time("7:45pm"), 19 * 60 + 45);
    CHECK_INT(tpl_parse_time("19:05"), 19 * 60 + 5);
    CHECK_INT(tpl_parse_time("twelve a.m."), 0);
    CHECK_INT(tpl_parse_time("noon"), 12 * 60);
    CHECK_INT(tpl_parse_time("five forty five in the morning"), 5 * 60 + 45);
    CHECK_INT(tpl_parse_time("tomorrow"), -1);
    CHECK_INT(tpl_parse_time("99:00"), -1);
}

TEST(voice_icu_times_follow_the_locale)
{
    char out[64];
    double ms = (7 * 60) * 60000.0;
    tpl_format_time("en-US", ms, out, sizeof out);
    CHECK(strncmp(out, "7:00", 4) == 0 && strstr(out, "AM"));
    tpl_format_time("de-DE", ms, out, sizeof out);
    CHECK_STR(out, "07:00");
    tpl_format_time("ja-JP", ms, out, sizeof out);
    CHECK_STR(out, "7:00");
    tpl_format_date("fr-FR", 0, out, sizeof out);
    CHECK_STR(out, "jeudi 1 janvier 1970");
}

TEST(voice_alarm_skill_survives_a_restart)
{
    char db[] = "/tmp/mille-voice-db-XXXXXX", err[VOICE_ERR];
    int fd = mkstemp(db);
    close(fd);
    unlink(db);
    CHECK_INT(tpl_load("dialogue/responses.tsv", err), 0);
    skills *s = skills_open(db, NULL, err);
    CHECK(s != NULL);
    kv slots[1] = {{"time", "seven am"}};
    skill_req rq = {"en-US", "alarm_set", "alarm", "wake me up at seven am", slots, 1, 0};
    skill_resp rs;
    CHECK_INT(skills_handle(s, &rq, &rs, err), 0);
    CHECK_STR(rs.skill, "alarm");
    skills_close(s);
    s = skills_open(db, NULL, err); /* a new process would see the same */
    skill_req q = {"en-US", "alarm_query", "alarm", "what alarms", NULL, 0, 0};
    CHECK_INT(skills_handle(s, &q, &rs, err), 0);
    CHECK(strstr(rs.text, "7:00") != NULL);
    skill_req rm = {"en-US", "alarm_remove", "alarm", "remove the seven am alarm", slots, 1, 0};
    CHECK_INT(skills_handle(s, &rm, &rs, err), 0);
    CHECK(strstr(rs.text, "1") != NULL);
    CHECK_INT(skills_handle(s, &q, &rs, err), 0);
    CHECK_STR(rs.text, "You have no alarms.");
    skill_req other = {"en-US", "play_music", "play", "play jazz", NULL, 0, 0};
    CHECK_INT(skills_handle(s, &other, &rs, err), 0);
    CHECK_STR(rs.skill, "not_connected");
    skills_close(s);
    tpl_unload();
    unlink(db);
    char wal[64];
    snprintf(wal, sizeof wal, "%s-wal", db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", db);
    unlink(wal);
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

TEST(voice_every_locale_has_every_key)
{
    /* the response table: each locale with any template has all of en-US's keys (".one"
     * variants are optional), so a locale is either complete or absent */
    FILE *f = fopen("dialogue/responses.tsv", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[2048], locales[64][16], keys[64][48];
    size_t nl = 0, nk = 0;
    while (fgets(line, sizeof line, f)) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (line[0] == '#' || !t2) continue;
        *t1 = *t2 = 0;
        size_t i;
        for (i = 0; i < nl && strcmp(locales[i], line) != 0; i++) {
        }
        if (i == nl && nl < 64) snprintf(locales[nl++], sizeof locales[0], "%.15s", line);
        if (strcmp(line, "en-US") == 0 && !strstr(t1 + 1, ".one") && nk < 64)
            snprintf(keys[nk++], sizeof keys[0], "%.47s", t1 + 1);
    }
    fclose(f);
    char err[VOICE_ERR];
    CHECK_INT(tpl_load("dialogue/responses.tsv", err), 0);
    CHECK(nl >= 45); /* the issue's target: the built-in skills answer in >= 45 locales */
    for (size_t i = 0; i < nl; i++)
        for (size_t k = 0; k < nk; k++) {
            int fb = 0;
            const char *t = tpl_get(locales[i], keys[k], &fb);
            if (!t || fb) fprintf(stderr, "missing: %s %s\n", locales[i], keys[k]);
            CHECK(t != NULL && !fb);
        }
    tpl_unload();
}
