/*
 * asr.c - speech recognition with pocketsphinx (Debian's 0.8+5prealpha: the cmd_ln_init /
 * ps_init API, not the 5.0 ps_config_t one).
 *
 * One decoder per process, loaded once; a turn is decoded whole (ps_start_utt,
 * ps_process_raw with full_utt, ps_end_utt) and its n-best list read from the lattice
 * (ps_nbest). The n-best is what the NLU rescores (main.c): pocketsphinx's own best path is
 * hyps[0].
 *
 * Models: the en-US acoustic model and dictionary of the pocketsphinx-en-us package; the
 * language model is the package's generic trigram unless --lm names one (tools/voice_lm.py
 * writes one from MASSIVE's en-US train text). en-US is the only language with a packaged
 * acoustic model in Debian 12.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voice.h"

#define PS_MODELDIR "/usr/share/pocketsphinx/model/en-us"
/* n-best entries read from the lattice before de-duplication: the A* search repeats texts
 * that differ only in silences and fillers */
#define NBEST_SCAN 40

struct asr {
    ps_decoder_t *ps;
    cmd_ln_t *cfg;
};

asr *asr_open(const char *hmm, const char *lm, const char *dict, char *err)
{
    err_set_logfp(NULL); /* pocketsphinx logs pages to stderr otherwise */
    if (!hmm) hmm = PS_MODELDIR "/en-us";
    if (!lm) lm = PS_MODELDIR "/en-us.lm.bin";
    if (!dict) dict = PS_MODELDIR "/cmudict-en-us.dict";
    FILE *probe;
    const char *need[3] = {lm, dict, NULL};
    for (int i = 0; need[i]; i++) {
        if (!(probe = fopen(need[i], "rb"))) {
            snprintf(err, VOICE_ERR, "%s: cannot open (install pocketsphinx-en-us?)", need[i]);
            return NULL;
        }
        fclose(probe);
    }
    asr *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, VOICE_ERR, "out of memory");
        return NULL;
    }
    a->cfg = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict, "-logfn",
                         "/dev/null", NULL);
    if (!a->cfg || !(a->ps = ps_init(a->cfg))) {
        snprintf(err, VOICE_ERR, "pocketsphinx: cannot load hmm %s, lm %s, dict %s", hmm, lm, dict);
        asr_close(a);
        return NULL;
    }
    return a;
}

int asr_decode(asr *a, const int16_t *pcm, size_t n, asr_hyp *hyps, size_t *n_hyps, char *err)
{
    *n_hyps = 0;
    if (ps_start_utt(a->ps) < 0 || ps_process_raw(a->ps, pcm, n, FALSE, TRUE) < 0 ||
        ps_end_utt(a->ps) < 0) {
        snprintf(err, VOICE_ERR, "pocketsphinx: decoding %zu samples failed", n);
        return -1;
    }
    logmath_t *lmath = ps_get_logmath(a->ps);
    int32 score;
    const char *best = ps_get_hyp(a->ps, &score);
    if (best) {
        snprintf(hyps[0].text, sizeof hyps[0].text, "%s", best);
        hyps[0].logp = logmath_log_to_ln(lmath, score);
        *n_hyps = 1;
    }
    int on_lattice = 0; /* hyps[0] has a lattice score */
    ps_nbest_t *nb = ps_nbest(a->ps);
    for (int k = 0; nb && k < NBEST_SCAN && *n_hyps < ASR_NBEST; k++) {
        const char *h = ps_nbest_hyp(nb, &score);
        if (h && *h) {
            int dup = 0;
            for (size_t i = 0; i < *n_hyps; i++)
                if (strcmp(hyps[i].text, h) == 0) {
                    /* ps_get_hyp's score is on another scale (best path, not lattice path):
                     * take the lattice score so that all hypotheses compare */
                    if (i == 0 && !on_lattice) {
                        hyps[0].logp = logmath_log_to_ln(lmath, score);
                        on_lattice = 1;
                    }
                    dup = 1;
                }
            if (!dup) {
                snprintf(hyps[*n_hyps].text, sizeof hyps[0].text, "%s", h);
                hyps[*n_hyps].logp = logmath_log_to_ln(lmath, score);
                (*n_hyps)++;
            }
        }
        nb = ps_nbest_next(nb);
    }
    if (nb) ps_nbest_free(nb);
    return 0;
}

void asr_close(asr *a)
{
    if (!a) return;
    if (a->ps) ps_free(a->ps); /* drops the decoder's reference to the configuration */
    if (a->cfg) cmd_ln_free_r(a->cfg);
    free(a);
}

size_t asr_rescore(mille_session *nlu, const char *locale, const asr_hyp *hyps, size_t n,
                   double weight, int rescore, asr_scored *out)
{
    size_t best_i = 0;
    double best = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        mille_result r;
        out[i].conf = 0;
        out[i].intent[0] = '\0';
        if (mille_parse(nlu, hyps[i].text, strlen(hyps[i].text), locale, &r, NULL) == 0) {
            out[i].conf = r.confidence;
            snprintf(out[i].intent, sizeof out[i].intent, "%s", r.intent);
        }
        /* ln(conf + 1e-9): a hypothesis the NLU cannot parse is not -inf, only far behind */
        out[i].score = weight * (hyps[i].logp - hyps[0].logp) + log(out[i].conf + 1e-9);
        if (rescore && out[i].score > best) {
            best = out[i].score;
            best_i = i;
        }
    }
    return best_i;
}
