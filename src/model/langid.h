/*
 * langid.h - language identification on top of a trained model: a softmax head over K
 * locales (issue 12, part 4).
 *
 * logits z = b + W x + A h, p = softmax(z), with two kinds of input, as the head's `feats`
 * bits say:
 *   LANGID_FEAT_NGRAM  h (Q): the mean of the rows of the head's own table E (R, Q) at the
 *                      utterance's feature ids modulo R: the ids the model hashes anyway
 *                      (whole words, character n-grams, pre-tokens, bigrams), so the head
 *                      sees spelling. This is fastText's classifier (Joulin et al. 2017, "Bag
 *                      of Tricks for Efficient Text Classification"), as in its language
 *                      identification models.
 *   LANGID_FEAT_EMB    x holds (D): the mean of the model's own embedding rows at those ids.
 *   LANGID_FEAT_POOL   x holds (2H): the [mean; max] pooling of the encoder's output (needs
 *                      a forward pass).
 * The model's own features were trained to mean the same in every language (the intent of
 * "wake me up" and "réveille-moi"), and a linear head on them alone tells languages apart
 * poorly (docs/BENCHMARKS.md, "Language identification"); hence the table of its own.
 *
 * The words are split without a locale, by the text's script (langid_char_split), since the
 * locale is what is being found. The head is fitted after training with the model frozen
 * (src/train/langid_fit.c) by SGD on the cross-entropy (langid_sgd_step, whose gradient
 * tests/test_langid.c checks against finite differences).
 *
 * Shape vocabulary: K locales, F dense width, R rows of E, Q their width.
 */
#ifndef MILLE_LANGID_H
#define MILLE_LANGID_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define LANGID_VERSION 1u /* of the "langid" section of the model file */
enum { LANGID_FEAT_EMB = 1, LANGID_FEAT_POOL = 2, LANGID_FEAT_NGRAM = 4, LANGID_FEAT_ALL = 7 };
#define LANGID_MAX_LOCALES 1024u
#define LANGID_MAX_ROWS    (1u << 24)
#define LANGID_MAX_Q       256u

/* Dense feature width F for the feature bits `feats` under cfg (the n-gram part not counted). */
size_t langid_dim(const model_config *cfg, uint32_t feats);
/* The name of feature bits ("ngram", "emb+pool", "ngram+emb" ...) in a static buffer of the
 * 8 combinations, and back (0 when unknown or empty). */
const char *langid_feats_name(uint32_t feats);
uint32_t langid_feats_parse(const char *s);

/* 1 if a text without a locale is split into characters (Han, Hiragana or Katakana is its
 * dominant script), as mille_parse does without a locale. */
int langid_char_split(const char *text, size_t len);

/* The dense features x[0..F) of one utterance: its nf feature ids f (all words, as
 * model_utt_features wrote them) and, when feats has LANGID_FEAT_POOL, pool (2H) = the
 * utterance's row of ws->P after model_forward. */
void langid_features(const model *m, uint32_t feats, const uint32_t *f, size_t nf,
                     const float *pool, float *x);

/* p = softmax(z) for dense features x (F; NULL when F == 0) and feature ids f[0..nf) (used
 * modulo R when the head has the n-gram table). p may be NULL. Returns the argmax. Sums in
 * double, max-subtracted. */
uint32_t langid_predict(const langid_head *h, const float *x, const uint32_t *f, size_t nf,
                        float *p);

/* The parameters of a head being fitted: one block, b (K), W (K, F), A (K, Q), E (R, Q). */
typedef struct langid_params {
    size_t K, F, R, Q;
    float *b, *w, *a, *e;
} langid_params;
/* The head that reads p's parameters (no locale names; for predicting while fitting). */
langid_head langid_params_head(const langid_params *p, uint32_t feats);

/* One SGD step on one example (x, f[0..nf), label y) with step lr and weight decay l2 on W and
 * A: every parameter moves by -lr times its gradient of -log p_y + (l2 / 2)(|W|^2 + |A|^2).
 * Rows of E are indexed by f modulo R and each occurrence takes its share (1 / nf) of the
 * gradient of h. With lr == 0 nothing changes. scratch: K + 2Q doubles. Returns -log p_y
 * (before the step). */
double langid_sgd_step(langid_params *p, const float *x, const uint32_t *f, size_t nf, uint32_t y,
                       double lr, double l2, double *scratch);

/* Give m the head: locales (K >= 2 distinct names) and the parameters of p (copied). Replaces
 * any head m had. Returns 0 or MILLE_ENOMEM / MILLE_EINVAL. */
int langid_head_set(model *m, uint32_t feats, const strtab *locales, const langid_params *p,
                    mille_error *err);
/* Remove m's head. */
void langid_head_clear(model *m);

#endif
