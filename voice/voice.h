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

/* ---- tts.c -------------------------------------------------------------------------------- */

/* Speak text into out_wav with flite (en-US) or espeak-ng (other locales) run as a child
 * process, no shell. Returns 0, or -1 with err (no voice for the locale, program missing). */
int tts_speak(const char *locale, const char *text, const char *out_wav, char *err);
/* The program and voice used for a locale; NULL when no voice. */
const char *tts_voice(const char *locale, const char **program);

#endif
