/*
 * audio.c - sound in and out for mille-voice: reading any file libsndfile decodes (or raw
 * 16-bit PCM), mixing to mono, resampling to 16 kHz, energy-based speech detection, writing
 * 16-bit WAV.
 *
 * Not here: streaming (a turn is decoded whole), noise suppression, a trained VAD (none is
 * packaged in Debian 12 for C; see docs/voice.md).
 *
 * Resampling is a windowed-sinc interpolator (Kaiser-like Blackman window, 16 zero crossings
 * each side) with its cut-off at the lower of the two Nyquist frequencies, so downsampling
 * 44.1 kHz to 16 kHz does not alias. Reference: J. O. Smith, "Digital Audio Resampling Home
 * Page", bandlimited interpolation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voice.h"

#define SINC_ZEROS 16 /* zero crossings of the kernel on each side: ~-60 dB stop band */

static double sinc(double x) { return fabs(x) < 1e-9 ? 1.0 : sin(M_PI * x) / (M_PI * x); }

int audio_resample(const float *x, size_t n, int from, int to, float **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (from <= 0 || to <= 0) return -1;
    size_t m = (size_t)((double)n * to / from);
    float *y = malloc((m ? m : 1) * sizeof *y);
    if (!y) return -1;
    if (from == to) {
        memcpy(y, x, n * sizeof *y);
        *out = y;
        *n_out = n;
        return 0;
    }
    /* cut-off as a fraction of the input rate's Nyquist: below 1 when downsampling */
    double fc = to < from ? (double)to / from : 1.0;
    double half = SINC_ZEROS / fc; /* kernel half-width in input samples */
    for (size_t j = 0; j < m; j++) {
        double t = (double)j * from / to; /* position in input samples */
        long lo = (long)ceil(t - half), hi = (long)floor(t + half);
        double acc = 0, wsum = 0;
        for (long i = lo; i <= hi; i++) {
            if (i < 0 || (size_t)i >= n) continue;
            double d = (double)i - t;
            double w = 0.42 + 0.5 * cos(M_PI * d / half) + 0.08 * cos(2 * M_PI * d / half);
            double k = fc * sinc(fc * d) * w;
            acc += k * x[i];
            wsum += k;
        }
        /* normalising by the kernel sum keeps DC gain 1 at the edges too */
        y[j] = (float)(wsum != 0 ? acc / wsum : 0);
    }
    *out = y;
    *n_out = m;
    return 0;
}

/* mono float [-1, 1] at `rate` -> 16 kHz int16 */
static int finish(float *mono, size_t n, int rate, audio_buf *out, char *err)
{
    float *y;
    size_t m;
    if (audio_resample(mono, n, rate, VOICE_RATE, &y, &m) < 0) {
        snprintf(err, VOICE_ERR, "out of memory resampling %zu samples", n);
        return -1;
    }
    out->pcm = malloc((m ? m : 1) * sizeof *out->pcm);
    if (!out->pcm) {
        free(y);
        snprintf(err, VOICE_ERR, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < m; i++) {
        float v = y[i] * 32767.0f;
        out->pcm[i] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : lrintf(v));
    }
    out->n = m;
    free(y);
    return 0;
}

int audio_read_file(const char *path, audio_buf *out, char *err)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    out->pcm = NULL;
    out->n = 0;
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) {
        snprintf(err, VOICE_ERR, "%s: cannot read sound: %s", path, sf_strerror(NULL));
        return -1;
    }
    /* an hour of audio is far beyond a voice command: refuse rather than allocate gigabytes */
    if (info.channels <= 0 || info.channels > 64 || info.samplerate < 1000 ||
        info.samplerate > 384000 || info.frames < 0 ||
        info.frames > (sf_count_t)info.samplerate * 3600) {
        snprintf(err, VOICE_ERR, "%s: unsupported sound: %d channels, %d Hz, %lld frames", path,
                 info.channels, info.samplerate, (long long)info.frames);
        sf_close(f);
        return -1;
    }
    size_t frames = (size_t)info.frames, ch = (size_t)info.channels;
    float *buf = malloc((frames ? frames : 1) * ch * sizeof *buf);
    float *mono = malloc((frames ? frames : 1) * sizeof *mono);
    if (!buf || !mono) {
        free(buf);
        free(mono);
        sf_close(f);
        snprintf(err, VOICE_ERR, "%s: out of memory for %zu frames", path, frames);
        return -1;
    }
    sf_count_t got = sf_readf_float(f, buf, (sf_count_t)frames);
    sf_close(f);
    if (got < 0) got = 0;
    for (size_t i = 0; i < (size_t)got; i++) {
        double s = 0;
        for (size_t c = 0; c < ch; c++) s += buf[i * ch + c];
        mono[i] = (float)(s / (double)ch);
    }
    free(buf);
    int rc = finish(mono, (size_t)got, info.samplerate, out, err);
    free(mono);
    return rc;
}

int audio_read_raw(int fd, int rate, int channels, size_t max_bytes, audio_buf *out, char *err)
{
    out->pcm = NULL;
    out->n = 0;
    if (rate < 1000 || rate > 384000 || channels < 1 || channels > 64) {
        snprintf(err, VOICE_ERR, "raw PCM: bad format %d Hz, %d channels", rate, channels);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    if (!b) {
        snprintf(err, VOICE_ERR, "out of memory");
        return -1;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= max_bytes) {
                free(b);
                snprintf(err, VOICE_ERR, "raw PCM on stdin: more than %zu bytes", max_bytes);
                return -1;
            }
            size_t nc = cap * 2 > max_bytes ? max_bytes : cap * 2;
            unsigned char *nb = realloc(b, nc);
            if (!nb) {
                free(b);
                snprintf(err, VOICE_ERR, "out of memory");
                return -1;
            }
            b = nb;
            cap = nc;
        }
        ssize_t r = read(fd, b + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(b);
            snprintf(err, VOICE_ERR, "raw PCM on stdin: %s", strerror(errno));
            return -1;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    int rc = audio_from_pcm(b, len, rate, channels, out, err);
    free(b);
    return rc;
}

int audio_from_pcm(const unsigned char *b, size_t len, int rate, int channels, audio_buf *out,
                   char *err)
{
    out->pcm = NULL;
    out->n = 0;
    if (rate < 1000 || rate > 384000 || channels < 1 || channels > 64) {
        snprintf(err, VOICE_ERR, "raw PCM: bad format %d Hz, %d channels", rate, channels);
        return -1;
    }
    size_t frames = len / (2 * (size_t)channels);
    float *mono = malloc((frames ? frames : 1) * sizeof *mono);
    if (!mono) {
        snprintf(err, VOICE_ERR, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < frames; i++) {
        double s = 0;
        for (int c = 0; c < channels; c++) {
            size_t o = (i * (size_t)channels + (size_t)c) * 2;
            s += (int16_t)(uint16_t)(b[o] | (b[o + 1] << 8)) / 32768.0;
        }
        mono[i] = (float)(s / channels);
    }
    int rc = finish(mono, frames, rate, out, err);
    free(mono);
    return rc;
}

/* Speech detection. Frames of 20 ms; the noise floor is the 10th percentile of frame energies
 * (dB), and a frame is speech when it is 12 dB above the floor and above an absolute floor of
 * -55 dBFS (digital silence and hum stay out). The span runs from the first to the last speech
 * frame, widened by 200 ms each side, so short pauses inside the utterance are kept. */
#define FRAME  (VOICE_RATE / 50)
#define MARGIN (VOICE_RATE / 5)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int audio_find_speech(const int16_t *pcm, size_t n, size_t *start, size_t *end)
{
    *start = *end = 0;
    size_t nf = n / FRAME;
    if (nf == 0) return 0;
    double *db = malloc(nf * sizeof *db), *sorted = malloc(nf * sizeof *sorted);
    if (!db || !sorted) {
        free(db);
        free(sorted);
        *end = n; /* without memory, keep everything rather than lose the utterance */
        return 1;
    }
    for (size_t f = 0; f < nf; f++) {
        double e = 0;
        for (size_t i = 0; i < FRAME; i++) {
            double v = pcm[f * FRAME + i] / 32768.0;
            e += v * v;
        }
        db[f] = 10 * log10(e / FRAME + 1e-12);
        sorted[f] = db[f];
    }
    qsort(sorted, nf, sizeof *sorted, cmp_double);
    double floor_db = sorted[nf / 10];
    double thr = floor_db + 12 > -55 ? floor_db + 12 : -55;
    size_t first = nf, last = 0;
    for (size_t f = 0; f < nf; f++)
        if (db[f] > thr) {
            if (first == nf) first = f;
            last = f;
        }
    free(db);
    free(sorted);
    if (first == nf) return 0;
    size_t s = first * FRAME, e = (last + 1) * FRAME;
    *start = s > MARGIN ? s - MARGIN : 0;
    *end = e + MARGIN < n ? e + MARGIN : n;
    return 1;
}

int audio_write_wav(const char *path, const int16_t *pcm, size_t n, int rate, char *err)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) {
        snprintf(err, VOICE_ERR, "%s: cannot write: %s", path, sf_strerror(NULL));
        return -1;
    }
    sf_count_t w = sf_writef_short(f, pcm, (sf_count_t)n);
    sf_close(f);
    if (w != (sf_count_t)n) {
        snprintf(err, VOICE_ERR, "%s: short write (%lld of %zu frames)", path, (long long)w, n);
        return -1;
    }
    return 0;
}

void audio_free(audio_buf *a)
{
    if (!a) return;
    free(a->pcm);
    a->pcm = NULL;
    a->n = 0;
}
