/*
 * loop.h - the one training loop of mille: deterministic data-parallel gradient computation
 * over fixed shards, reduction in shard order, global-norm clipping, AdamW with lazy updates
 * of the embedding rows a step touched, the learning-rate schedule, dev evaluation with
 * model selection and early stopping, the time budget, exact-resume checkpoints and progress.
 *
 * What is trained is an objective that plugs into it: `mille train` (gold labels, train.c)
 * and `mille distill` (teachers' soft targets, distill.c). The objective turns the items of
 * one shard into a batch, runs the forward and backward passes and leaves the dense gradient
 * and the word-vector gradient in the shard; the loop does everything else, so a change to
 * it (training over MPI, say) is made once.
 */
#ifndef MILLE_LOOP_H
#define MILLE_LOOP_H

#include <stdint.h>

#include "crf.h"
#include "eval.h"
#include "model.h"
#include "train.h"

/* A step's batch is cut into LOOP_SHARDS fixed shards whatever the thread count. */
#define LOOP_SHARDS 8

typedef struct loop_shard {
    batch b;     /* the shard's utterances, filled by the objective */
    model_ws ws; /* activations; the loop sets ws.drop and ws.drop_seed before each step */
    float *g;    /* (n_dense) dense gradient, zeroed by the loop, ADDED to by the objective */
    float *dX;   /* (N, D) gradient of the word vectors, written by the objective */
    size_t dX_cap;
    void *scratch; /* the objective's own per-shard memory (freed by its shard_free) */
    double loss;   /* summed loss of the shard's items */
    int rc;        /* 0 or a negative MILLE_E* code */
} loop_shard;

typedef struct loop_objective {
    void *ud;
    size_t n_items; /* training items per epoch (shuffled each epoch by seed and epoch) */
    /* The loss of items[0..n) and its gradients (scaled by scale) into sh; sets sh->loss
     * and sh->rc. Called from worker threads, one shard per call: touch only sh and
     * read-only state. */
    void (*shard)(void *ud, const model *m, const crf_trans *tr, loop_shard *sh,
                  const uint32_t *items, size_t n, float scale);
    /* Dev metrics of m into *em (0 or an error); NULL: no dev set, the last model is kept. */
    int (*evaluate)(void *ud, const model *m, eval_metrics *em, mille_error *err);
    void (*shard_free)(void *ud, loop_shard *sh); /* may be NULL */
} loop_objective;

/* Train m (initialized parameters in m->p) with the optimizer, schedule, budget and
 * checkpoint settings of p, leaving the best weights (by dev exact match) in m->p.
 * fingerprint identifies the run's data and settings: a checkpoint of another run is refused.
 * t0: clock_s() when the run started (the time budget counts from it). */
int loop_run(const train_params *p, model *m, const loop_objective *obj, uint64_t fingerprint,
             const char *ckpt_path, double t0, eval_metrics *best, mille_error *err);

/* The checks of a checkpoint image buf[0..len) for a model of n parameters, without the
 * CRC (for the fuzzer; resuming reads the file and checks the CRC too): 0 and the four
 * blocks of n floats and the step filled, or MILLE_EFORMAT / MILLE_EINVAL. */
int loop_ckpt_check(const unsigned char *buf, size_t len, size_t n, uint64_t fingerprint,
                    float *const blocks[4], uint64_t *step, mille_error *err);

#endif
