/*
 * train.h - training a model on MASSIVE-format data: AdamW, deterministic data-parallel
 * threads, dev-set model selection and early stopping, a time budget, exact-resume
 * checkpoints.
 */
#ifndef MILLE_TRAIN_H
#define MILLE_TRAIN_H

#include <stdint.h>

#include "data.h"
#include "eval.h"
#include "model.h"

/* What the progress callback sees, about twice a second and after each dev evaluation. */
typedef struct train_progress {
    uint64_t step, total_steps;
    int epoch, epochs;
    double loss;        /* running mean of the training loss per utterance */
    double dev_em;      /* last dev exact match (percent), < 0 before the first */
    double best_dev_em; /* best so far */
    double utt_per_s;   /* training throughput */
    double elapsed_s, eta_s;
    int evaluated;    /* 1 right after a dev evaluation */
    eval_metrics dev; /* that evaluation's metrics */
} train_progress;

typedef struct train_params {
    const char *data;             /* MASSIVE data (file, directory, archive)                     */
    const char *const *data_more; /* more MASSIVE data to add (e.g. synthesized), or NULL   */
    int n_data_more;
    const char *dev_locales; /* comma list of locales whose dev records select the model,
                                NULL = all (zero-shot: the source locale only)             */
    const char *init;        /* a pretrained model (mille pretrain) whose embedding starts training;
                                its feature settings (buckets, dim, n-grams, ...) replace cfg's    */
    const char *locales;     /* comma list, NULL = all                                       */
    const char *out;         /* model file to write                                          */
    const char *checkpoint;  /* checkpoint file, NULL = "<out>.ckpt"                         */
    int resume;              /* continue from the checkpoint                                 */
    model_config cfg;        /* buckets, dim, hidden, minn, maxn, norm_flags                 */
    int epochs;              /* maximum passes over the training data                       */
    int batch;               /* utterances per optimizer step                                */
    float lr, emb_lr;        /* peak AdamW learning rates: dense layers, embedding rows      */
    float weight_decay;      /* decoupled (AdamW) weight decay                               */
    float clip;              /* global gradient norm clip (0 = off)                          */
    float dropout;           /* dropout rate on word vectors and encoder outputs             */
    int threads;             /* worker threads; results do not depend on it                  */
    uint64_t seed;
    double time_budget;  /* seconds of training, 0 = unlimited                           */
    int patience;        /* dev evaluations without improvement before stopping          */
    int evals_per_epoch; /* dev evaluations per epoch                                    */
    size_t max_train;    /* use at most this many training utterances (0 = all)          */
    int half;            /* store the embedding in half precision                        */
    int strict;          /* the first malformed record stops training                    */
    uint64_t stop_after; /* stop after this many steps (tests of resuming; 0 = never)    */
    void (*progress)(void *ud, const train_progress *p);
    void (*on_skip)(void *ud, const mille_error *e); /* malformed records                  */
    void *ud;
} train_params;

train_params train_default_params(void);

/* Train and save the best model (by dev exact match) to p->out. The trained model is also
 * returned in *out when out != NULL (caller frees with model_free). */
int train_run(const train_params *p, model *out, eval_metrics *best_dev, mille_error *err);

/* ---- shared with prediction ---------------------------------------------------------------- */

/* Features of every word of ds (global word index = ds->words index): word w has features
 * feats[off[w] .. off[w+1]). threads >= 1. */
typedef struct featset {
    uint32_t *feats;
    uint32_t *off; /* (n_words + 1) */
    size_t n;
} featset;
int featset_build(featset *fs, const data_set *ds, const model_config *cfg, int threads,
                  mille_error *err);
void featset_free(featset *fs);

/* Predict records idx[0..n) of ds with m; fills intents (n) and tags (their words, in order)
 * and adds the metrics to acc when acc != NULL (locale ids of ds; intent and slot ids must
 * be the model's: intent_map/slot_map translate ds ids to model ids, NULL = identity). */
int predict_records(const model *m, const data_set *ds, const featset *fs, const uint32_t *idx,
                    size_t n, int threads, const uint32_t *intent_map, const uint32_t *slot_map,
                    eval_acc *acc, uint32_t *intents, int *tags);

/* The checks of a checkpoint image buf[0..len) for a model of n parameters, without the
 * CRC (for the fuzzer; resuming reads the file and checks the CRC too): 0 and the four
 * blocks of n floats and the step filled, or MILLE_EFORMAT / MILLE_EINVAL. */
int train_ckpt_check(const unsigned char *buf, size_t len, size_t n, uint64_t fingerprint,
                     float *const blocks[4], uint64_t *step, mille_error *err);

#endif
