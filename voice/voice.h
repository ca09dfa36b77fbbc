/*
 * voice.h - internal interfaces of mille-voice, the voice assistant around the NLU.
 *
 * mille-voice is a separate program: it uses only include/mille.h and include/mille_dialogue.h
 * (the dialogue library, dialogue/), and brings its own dependencies (libsndfile,
 * pocketsphinx; flite and espeak-ng as separate processes), so the libraries' licenses and
 * dependencies stay as they are.
 *
 * Flow of one turn: audio (WAV or raw PCM -> 16 kHz mono, energy speech detection) -> asr
 * (pocketsphinx n-best) -> NLU (mille_parse, used to rescore the n-best) -> the dialogue
 * library (confidence tiers, required slots, confirm/cancel/repeat, sessions, skills,
 * responses in the locale) -> tts (flite or espeak-ng as a child process) -> WAV.
 *
 * Prefixes: audio_, asr_, tts_. Every function returning int returns 0 on success and -1 on
 * failure with a message in a char buffer of VOICE_ERR bytes.
 */
#ifndef MILLE_VOICE_H
#define MILLE_VOICE_H

#include <stddef.h>
#include <stdint.h>

#include "mille.h"
#include "mille_dialogue.h"

#define VOICE_ERR  512
#define VOICE_RATE 16000 /* what the en-US pocketsphinx acoustic model expects */

/* ---- audio.c ------------------------------------------------------------------------------ */

/* 16 kHz mono 16-bit PCM, owned (free with audio_free). */
typedef struct audio_buf {
    int16_t *pcm;
    size_t n;
} audio_buf;

/* Read a sound file libsndfile knows (WAV, FLAC, ...), any rate and channel count; channels
 * are averaged and the signal is resampled to VOICE_RATE. */
int audio_read_file(const char *path, audio_buf *out, char *err);
/* Read raw signed 16-bit little-endian PCM of `rate` Hz and `channels` channels from fd until
 * EOF (at most max_bytes), then mix and resample as audio_read_file. */
int audio_read_raw(int fd, int rate, int channels, size_t max_bytes, audio_buf *out, char *err);
/* The same from memory: b[0..len) is signed 16-bit little-endian PCM of `rate` Hz and
 * `channels` interleaved channels (a trailing partial frame is ignored). */
int audio_from_pcm(const unsigned char *b, size_t len, int rate, int channels, audio_buf *out,
                   char *err);
/* Resample mono float x[0..n) from rate `from` to `to` (windowed-sinc, low-passed at the lower
 * Nyquist); *out is malloc'ed with *n_out samples. */
int audio_resample(const float *x, size_t n, int from, int to, float **out, size_t *n_out);
/* Energy speech detection: [*start, *end) are the sample bounds of the span from the first to
 * the last speech frame (20 ms frames above an adaptive threshold), widened by a margin.
 * Returns 1 when speech was found, 0 for silence (then start = end = 0). */
int audio_find_speech(const int16_t *pcm, size_t n, size_t *start, size_t *end);
/* Write 16 kHz mono 16-bit WAV. */
int audio_write_wav(const char *path, const int16_t *pcm, size_t n, int rate, char *err);
void audio_free(audio_buf *a);

/* ---- asr.c -------------------------------------------------------------------------------- */

typedef struct asr asr;
#define ASR_NBEST 5
typedef struct asr_hyp {
    char text[512];
    double logp; /* acoustic + language model log-probability, natural log, <= 0 */
} asr_hyp;

/* hmm: acoustic model dir; lm: ARPA or binary LM; dict: pronunciation dictionary. NULL picks
 * the pocketsphinx-en-us defaults. */
asr *asr_open(const char *hmm, const char *lm, const char *dict, char *err);
/* Decode pcm; fills hyps[0..*n) (at most ASR_NBEST, distinct texts, best first). */
int asr_decode(asr *a, const int16_t *pcm, size_t n, asr_hyp *hyps, size_t *n_hyps, char *err);
void asr_close(asr *a);
/* The NLU's view of each hypothesis (main.c and wyoming.c): score = weight * (its logp -
 * hyps[0].logp) + ln(NLU confidence). Fills out[0..n) and returns the index of the best
 * score, or 0 (pocketsphinx's best) when rescore is 0. */
typedef struct asr_scored {
    double conf, score;
    char intent[64]; /* "" when the NLU could not parse the hypothesis */
} asr_scored;
size_t asr_rescore(mille_session *nlu, const char *locale, const asr_hyp *hyps, size_t n,
                   double weight, int rescore, asr_scored *out);

/* ---- tts.c -------------------------------------------------------------------------------- */

/* Speak text into out_wav with flite (en-US) or espeak-ng (other locales) run as a child
 * process, no shell. Returns 0, or -1 with err (no voice for the locale, program missing). */
int tts_speak(const char *locale, const char *text, const char *out_wav, char *err);
/* The program and voice used for a locale; NULL when no voice. */
const char *tts_voice(const char *locale, const char **program);

/* ---- wyoming.c --------------------------------------------------------------------------- */

/* The Wyoming server (docs/voice.md): what main.c has loaded, and the server's limits. */
typedef struct wyo_config {
    const char *uri;        /* tcp://HOST:PORT (port 0: any free port, printed on stderr) */
    int max_clients;        /* connections served at once                                 */
    double timeout_s;       /* an event must arrive whole within this                     */
    const char *locale;     /* for events that name no language                           */
    mille_model *model;     /* shared read-only; each connection has its own session      */
    const char *model_name; /* shown in info                                              */
    const char *lm_name;    /* the ASR language model shown in info (NULL: the package's)  */
    asr *rec;               /* NULL: no recognizer (transcription answers an error)        */
    mille_dialogue *d;      /* dialogue and skills (thread-safe; each connection passes its
                               own NLU session)                                           */
    float confirm;          /* recognize: below this confidence, not-recognized            */
    double asr_weight;      /* n-best rescoring as in main.c                               */
    int rescore;
    double clock_ms; /* < 0: the wall clock; else fixed (tests)                     */
} wyo_config;
/* Serve until SIGINT or SIGTERM. Returns 0, or -1 with err when it cannot listen. */
int wyoming_serve(const wyo_config *c, char *err);

#endif
