/*
 * main.c - mille-voice: one turn of the voice assistant, speech (or text) in, response (and
 * speech) out, as one JSON object.
 *
 *   mille-voice --model M --wav IN.wav [--out-wav OUT.wav] [--locale L] [--session ID] --json
 *   mille-voice --model M --text "set an alarm" [--session ID] --json
 *   mille-voice --model M --raw 16000 < audio.s16le
 *   mille-voice --model M --wyoming tcp://127.0.0.1:10700   (a Wyoming server: wyoming.c)
 *
 * Recognition is pocketsphinx (en-US only: the one packaged acoustic model); its n-best
 * hypotheses are rescored with the NLU's confidence: score = asr_weight * (logp - best logp)
 * + ln(confidence), the best score wins. Exit codes: 0 ok, 1 runtime error, 2 usage error.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "voice.h"

static const char *usage =
    "usage: mille-voice --model M (--wav IN | --raw RATE | --text TEXT | --wyoming URI)\n"
    "                   [options]\n"
    "  --model PATH       mille model (default models/mille.model)\n"
    "  --wav PATH         sound file, any rate and channel count (resampled to 16 kHz mono)\n"
    "  --raw RATE         raw signed 16-bit little-endian PCM on stdin at RATE Hz\n"
    "  --channels N       channels of --raw input (default 1)\n"
    "  --text TEXT        skip recognition (any locale)\n"
    "  --locale L         locale of the turn (default en-US); with --text, 'auto' lets\n"
    "                     the model identify it and answers in it\n"
    "  --session ID       multi-turn session (state kept in --db)\n"
    "  --db PATH          SQLite file of sessions and skills' state (default mille-voice.db)\n"
    "  --skills PATH      declarative skill file (JSON; docs/voice.md)\n"
    "  --responses PATH   response templates (default: the built-in table,\n"
    "                     dialogue/responses.tsv)\n"
    "  --out-wav PATH     speak the response into this WAV (flite en-US, espeak-ng others)\n"
    "  --lm PATH          pocketsphinx language model (ARPA or binary; default the package's)\n"
    "  --dict PATH        pocketsphinx dictionary (default the package's cmudict)\n"
    "  --hmm DIR          pocketsphinx acoustic model (default the package's en-us)\n"
    "  --asr-weight W     weight of the ASR score against the NLU's in n-best rescoring\n"
    "                     (default 1; 0 = NLU only among the n-best)\n"
    "  --no-rescore       take pocketsphinx's best hypothesis\n"
    "  --act X            act at confidence >= X (default 0.6)\n"
    "  --confirm X        confirm at confidence >= X, fall back below (default 0.3)\n"
    "  --timeout S        a pending question expires after S seconds (default 60)\n"
    "  --session-ttl S    a session unused for S seconds is forgotten (default 3600)\n"
    "  --max-sessions N   sessions kept in --db at most, least recently used evicted\n"
    "                     (default 1000)\n"
    "  --now EPOCH_MS     the clock, as local wall time in ms since 1970 (tests)\n"
    "  --json             print one JSON object (else the response text)\n"
    "  --wyoming URI      serve the Wyoming protocol on tcp://HOST:PORT until SIGINT/SIGTERM\n"
    "                     (Home Assistant, Rhasspy 3; docs/voice.md)\n"
    "  --wyoming-clients N  connections served at once (default 8; more are told busy)\n"
    "  --wyoming-timeout S  an event must arrive whole within S seconds (default 30)\n";

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *model = "models/mille.model", *wav = NULL, *text = NULL, *locale = "en-US";
    const char *session = NULL, *db = "mille-voice.db", *skill_file = NULL, *out_wav = NULL;
    const char *responses = NULL, *lm = NULL, *dict = NULL, *hmm = NULL;
    double raw_rate = 0, channels = 1, asr_weight = 1, act = 0.6, confirm = 0.3, timeout = 60;
    double clock_ms = -1, session_ttl = 3600, max_sessions = 1000, wy_clients = 8, wy_timeout = 30;
    const char *wyoming = NULL;
    int json = 0, rescore = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--no-rescore") == 0) {
            rescore = 0;
        } else if (OPT("--model")) {
            model = v;
        } else if (OPT("--wav")) {
            wav = v;
        } else if (OPT("--text")) {
            text = v;
        } else if (OPT("--locale")) {
            locale = v;
        } else if (OPT("--session")) {
            session = v;
        } else if (OPT("--db")) {
            db = v;
        } else if (OPT("--skills")) {
            skill_file = v;
        } else if (OPT("--responses")) {
            responses = v;
        } else if (OPT("--out-wav")) {
            out_wav = v;
        } else if (OPT("--lm")) {
            lm = v;
        } else if (OPT("--dict")) {
            dict = v;
        } else if (OPT("--hmm")) {
            hmm = v;
        } else if (strcmp(a, "--raw") == 0 && v && (i++, 1)) {
            if (num(v, 1000, 384000, &raw_rate) < 0) goto bad_value;
        } else if (OPT("--channels")) {
            if (num(v, 1, 64, &channels) < 0) goto bad_value;
        } else if (OPT("--asr-weight")) {
            if (num(v, 0, 1e6, &asr_weight) < 0) goto bad_value;
        } else if (OPT("--act")) {
            if (num(v, 0, 1, &act) < 0) goto bad_value;
        } else if (OPT("--confirm")) {
            if (num(v, 0, 1, &confirm) < 0) goto bad_value;
        } else if (OPT("--timeout")) {
            if (num(v, 0, 1e9, &timeout) < 0) goto bad_value;
        } else if (OPT("--session-ttl")) {
            if (num(v, 0, 1e9, &session_ttl) < 0) goto bad_value;
        } else if (OPT("--max-sessions")) {
            if (num(v, 1, 1e7, &max_sessions) < 0) goto bad_value;
        } else if (OPT("--wyoming")) {
            wyoming = v;
        } else if (OPT("--wyoming-clients")) {
            if (num(v, 1, 256, &wy_clients) < 0 || wy_clients != (int)wy_clients) goto bad_value;
        } else if (OPT("--wyoming-timeout")) {
            if (num(v, 0.1, 86400, &wy_timeout) < 0) goto bad_value;
        } else if (OPT("--now")) {
            if (num(v, 0, 1e15, &clock_ms) < 0) goto bad_value;
        } else {
            fprintf(stderr, "mille-voice: unknown or incomplete option %s\n%s", a, usage);
            return 2;
        }
        continue;
    bad_value:
        fprintf(stderr, "mille-voice: bad value for %s: %s\n", a, v);
        return 2;
    }
    if ((wav != NULL) + (text != NULL) + (raw_rate > 0) + (wyoming != NULL) != 1) {
        fprintf(stderr, "mille-voice: give exactly one of --wav, --raw, --text, --wyoming\n%s",
                usage);
        return 2;
    }
    if (confirm > act) {
        fprintf(stderr, "mille-voice: --confirm %g is above --act %g\n", confirm, act);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a TTS child that dies early must not kill us */

    char err[VOICE_ERR] = "";
    double t_start = now_ms(), t_read = 0, t_vad = 0, t_asr = 0, t_rescore = 0, t_tts = 0;
    double t_load = 0;
    int rc = 1;
    mille_model *m = NULL;
    mille_session *ms = NULL;
    mille_dialogue *d = NULL;
    mille_dialogue_reply *turn = calloc(1, sizeof *turn);
    asr *rec = NULL;
    audio_buf au = {0};
    json_t *nbest_j = json_array();
    char transcript[512] = "";
    size_t sp_start = 0, sp_end = 0;
    int speech = 1;
    mille_error me;

    double t0 = now_ms();
    mille_dialogue_params dp = mille_dialogue_default_params();
    dp.db = db;
    dp.skills = skill_file;
    dp.responses = responses;
    dp.act = (float)act;
    dp.confirm = (float)confirm;
    dp.timeout_s = timeout;
    dp.session_ttl_s = session_ttl;
    dp.max_sessions = (size_t)max_sessions;
    if (!turn) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    if (mille_model_load(model, &m, &me) < 0 || mille_session_new(m, &ms, &me) < 0 ||
        mille_dialogue_open(&dp, &d, &me) < 0) {
        snprintf(err, sizeof err, "%s", me.msg);
        goto fail;
    }
    t_load = now_ms() - t0;

    if (wyoming) {
        /* the recognizer is loaded once for all connections; without it the server still
         * recognizes intents, handles and speaks, and says so to transcription requests */
        if (!(rec = asr_open(hmm, lm, dict, err))) fprintf(stderr, "mille-voice: %s\n", err);
        const char *slash = strrchr(model, '/');
        wyo_config wc = {wyoming,    (int)wy_clients,
                         wy_timeout, locale,
                         m,          slash ? slash + 1 : model,
                         lm,         rec,
                         d,          (float)confirm,
                         asr_weight, rescore,
                         clock_ms};
        if (wyoming_serve(&wc, err) < 0) goto fail;
        rc = 0;
        goto done;
    }

    if (!text) {
        t0 = now_ms();
        if (wav ? audio_read_file(wav, &au, err) < 0
                : audio_read_raw(0, (int)raw_rate, (int)channels, (size_t)1 << 28, &au, err) < 0)
            goto fail;
        t_read = now_ms() - t0;
        t0 = now_ms();
        speech = audio_find_speech(au.pcm, au.n, &sp_start, &sp_end);
        t_vad = now_ms() - t0;
        if (speech) {
            if (strcmp(locale, "en-US") != 0) {
                snprintf(err, sizeof err,
                         "no speech recognizer for %s: Debian 12 packages an acoustic model "
                         "for en-US only (use --text)",
                         locale);
                goto fail;
            }
            t0 = now_ms();
            double tl = now_ms();
            if (!(rec = asr_open(hmm, lm, dict, err))) goto fail;
            t_load += now_ms() - tl;
            t0 = now_ms();
            asr_hyp hyps[ASR_NBEST];
            size_t nh = 0;
            if (asr_decode(rec, au.pcm + sp_start, sp_end - sp_start, hyps, &nh, err) < 0)
                goto fail;
            t_asr = now_ms() - t0;
            t0 = now_ms();
            /* rescoring: each hypothesis parsed; ASR log-probability difference (scaled) plus
             * the log of the NLU's confidence */
            asr_scored sc[ASR_NBEST];
            size_t pick = asr_rescore(ms, locale, hyps, nh, asr_weight, rescore, sc);
            for (size_t i = 0; i < nh; i++)
                json_array_append_new(nbest_j,
                                      json_pack("{s:s,s:f,s:s,s:f,s:f}", "text", hyps[i].text,
                                                "asr_logp", hyps[i].logp, "intent", sc[i].intent,
                                                "confidence", sc[i].conf, "score", sc[i].score));
            if (nh) snprintf(transcript, sizeof transcript, "%s", hyps[pick].text);
            t_rescore = now_ms() - t0;
            if (nh == 0) speech = 0;
        }
    } else {
        snprintf(transcript, sizeof transcript, "%s", text);
    }

    /* nothing heard is a turn with no text: a fallback without the NLU */
    mille_dialogue_request q = {session, transcript, speech ? strlen(transcript) : 0,
                                strcmp(locale, MILLE_LOCALE_AUTO) == 0 ? NULL : locale, clock_ms};
    double t_dlg = 0;
    t0 = now_ms();
    if (mille_dialogue_turn(d, ms, &q, turn, &me) < 0) {
        snprintf(err, sizeof err, "%s", me.msg);
        goto fail;
    }
    t_dlg = now_ms() - t0;

    locale = turn->locale; /* the one identified, with --locale auto */
    const char *tts_prog = NULL, *tts_v = tts_voice(locale, &tts_prog);
    char tts_status[VOICE_ERR + 32] = "";
    if (out_wav) {
        t0 = now_ms();
        char terr[VOICE_ERR];
        if (tts_speak(locale, turn->response, out_wav, terr) < 0)
            snprintf(tts_status, sizeof tts_status, "unavailable: %s", terr);
        else
            snprintf(tts_status, sizeof tts_status, "%s:%s", tts_prog, tts_v);
        t_tts = now_ms() - t0;
    } else {
        snprintf(tts_status, sizeof tts_status, "%s",
                 tts_v ? "not requested" : "unavailable: no voice for this locale");
    }

    if (json) {
        /* the dialogue's fields (the same as POST /v1/dialogue's), then the voice's */
        char *dj = mille_dialogue_reply_json(turn, session);
        json_t *o = json_object(), *dlg_o = dj ? json_loads(dj, 0, NULL) : NULL;
        free(dj);
        if (!o || !dlg_o) {
            json_decref(o);
            json_decref(dlg_o);
            snprintf(err, sizeof err, "out of memory");
            goto fail;
        }
        json_object_set_new(o, "transcript", json_string(transcript));
        json_object_update(o, dlg_o);
        json_decref(dlg_o);
        json_object_set_new(o, "speech_found", json_boolean(speech));
        if (!text) {
            json_object_set_new(o, "speech",
                                json_pack("{s:f,s:f}", "start_s", sp_start / (double)VOICE_RATE,
                                          "end_s", sp_end / (double)VOICE_RATE));
            json_object_set_new(o, "nbest", json_incref(nbest_j));
        }
        json_object_set_new(o, "tts", json_string(tts_status));
        json_object_set_new(o, "timings_ms",
                            json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "load", t_load,
                                      "read", t_read, "vad", t_vad, "asr", t_asr, "rescore",
                                      t_rescore, "nlu", turn->nlu_ms, "dialogue",
                                      t_dlg - turn->nlu_ms - turn->skill_ms, "skill",
                                      turn->skill_ms, "tts", t_tts, "total", now_ms() - t_start));
        char *s = json_dumps(o, JSON_COMPACT);
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        puts(turn->response);
        if (out_wav && strncmp(tts_status, "unavailable", 11) == 0)
            fprintf(stderr, "mille-voice: %s\n", tts_status);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "mille-voice: %s\n", err);
done:
    json_decref(nbest_j);
    audio_free(&au);
    asr_close(rec);
    mille_dialogue_free(d);
    free(turn);
    mille_session_free(ms);
    mille_model_free(m);
    return rc;
}
