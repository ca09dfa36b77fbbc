/*
 * calib.h - calibrated intent confidence and out-of-scope scores (issue 14, part 2).
 *
 * Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"): one
 * scalar T, fitted on dev logits after training by minimizing the negative log-likelihood
 * of softmax(logits / T); the argmax, and so every metric but the probabilities, is
 * unchanged. Its quality is measured by the expected calibration error (ECE, 15 equal-width
 * confidence bins, Naeini et al. 2015). Rejection: an utterance whose calibrated top
 * probability is below a threshold, chosen on dev as the score that keeps a stated share of
 * the in-scope utterances (in-scope recall), is out of scope. Scores of "how in-scope"
 * compared here: the top probability, the margin between the top two probabilities, the
 * energy T * logsumexp(logits / T) (Liu et al. 2020) and the top logit.
 *
 * Shapes: n records, I intents; L (n, I) logits in row order.
 */
#ifndef MILLE_CALIB_H
#define MILLE_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "model.h"

/* gold[] of a record whose intent the model does not know. */
#define CALIB_OOS UINT32_MAX
/* The name of an explicit out-of-scope class: an intent so named is trained like any other
 * intent, and a parse that picks it is rejected (mille.h). */
#define CALIB_OOS_INTENT "oos"
#define CALIB_BINS       15 /* ECE bins, the usual choice since Guo et al. */

/* Logits of the records of a data set under a model. */
typedef struct calib_logits {
    float *L;         /* (n, I) */
    uint32_t *gold;   /* (n) the model's intent id of the gold intent, or CALIB_OOS */
    uint32_t *locale; /* (n) locale id in the data set */
    uint32_t *rec;    /* (n) record index in the data set */
    size_t n, I;
    uint32_t oos_id; /* the model's CALIB_OOS_INTENT class, or CALIB_OOS when it has none */
} calib_logits;
/* 1 if record i is out of scope: an intent the model lacks, or its out-of-scope class. */
static inline int calib_is_oos(const calib_logits *c, size_t i)
{
    return c->gold[i] == CALIB_OOS || c->gold[i] == c->oos_id;
}

/* Forward records idx[0..n) of ds (read with DATA_GOLD: words and intents) through m. fs:
 * the features of ds's words under m's configuration (train.h), or NULL to compute them
 * with `threads` threads. Records without words are left out. Gold intents map to the
 * model's by name; one the model lacks is CALIB_OOS. */
struct featset;
int calib_collect(const model *m, const data_set *ds, const struct featset *fs, const uint32_t *idx,
                  size_t n, int threads, calib_logits *out, mille_error *err);
void calib_logits_free(calib_logits *c);

/* Mean negative log-likelihood of softmax(L / T) over the records with gold != CALIB_OOS
 * (and sel == NULL or sel[i] != 0); 0 when there is none. */
double calib_nll(const float *L, const uint32_t *gold, const uint8_t *sel, size_t n, size_t I,
                 double T);
/* The T in [CALIB_T_MIN, CALIB_T_MAX] minimizing calib_nll: golden-section search on log T
 * (the NLL is convex in 1/T, so unimodal in log T), to a relative precision of 1e-6. 1 when
 * no record is selected. */
#define CALIB_T_MIN 0.05
#define CALIB_T_MAX 20.0
double calib_fit_temperature(const float *L, const uint32_t *gold, const uint8_t *sel, size_t n,
                             size_t I);

/* Scores of one utterance's logits l (I) at temperature T: higher = more in scope. */
enum {
    CALIB_SCORE_PROB = 0, /* top probability of softmax(l / T)                     */
    CALIB_SCORE_MARGIN,   /* top minus second probability                          */
    CALIB_SCORE_ENERGY,   /* T * logsumexp(l / T) (negative free energy)           */
    CALIB_SCORE_MAXLOGIT, /* top logit                                              */
    CALIB_SCORE_COUNT
};
extern const char *const calib_score_name[CALIB_SCORE_COUNT];
/* The score of kind `kind`; *argmax (may be NULL) receives the top intent. */
double calib_score(const float *l, size_t I, double T, int kind, uint32_t *argmax);

/* The score of record i of c as mille decides: -HUGE_VAL (never accepted) when its top
 * intent is the model's out-of-scope class, else calib_score. */
double calib_score_of(const calib_logits *c, size_t i, double T, int kind);

/* Expected calibration error: sum over `bins` equal-width bins of confidence of
 * (records in bin / n) * |accuracy in bin - mean confidence in bin|, as a fraction (0..1).
 * conf in [0, 1]; 0 when n == 0. */
double calib_ece(const double *conf, const uint8_t *correct, size_t n, int bins);
/* Area under the ROC curve of telling in-scope (in) from out-of-scope (out) by score: the
 * probability that a random in-scope score is above a random out-of-scope one, ties
 * counting one half. 0.5 when either side is empty. Sorts copies (allocates; -1 when out of
 * memory). */
double calib_auroc(const double *in, size_t n_in, const double *out, size_t n_out);
/* The largest threshold t such that at least `recall` of in[] is >= t (accepting scores >= t
 * keeps that share of the in-scope records). Sorts a copy; NAN when n_in == 0 or out of
 * memory. */
double calib_threshold(const double *in, size_t n_in, double recall);
/* Share of out[] accepted (>= t): the false-accept rate at threshold t. 0 when n_out == 0. */
double calib_accept_rate(const double *out, size_t n_out, double t);

/* Fit m's temperature and default threshold (top probability at that temperature, for
 * in-scope recall `recall`) on the records of c, and store them in m. Returns 0, or
 * MILLE_ENOTFOUND when c has no in-scope record (m is then unchanged). */
int calib_apply(model *m, const calib_logits *c, double recall);

#endif
