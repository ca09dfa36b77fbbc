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

/* A step's batch is cut into LOOP_SHARDS fixed shards whatever the thread count (unless
 * train_params.shards says otherwise). */
#define LOOP_SHARDS     8
#define LOOP_MAX_SHARDS 1024

/* ---- processes ------------------------------------------------------------------------------
 *
 * The processes a run is spread over (data parallelism over MPI, say): the transport only.
 * The library never links MPI; the `mille` binary supplies an MPI implementation
 * (cli/mpi_comm.c) and NULL means one process. What travels, and in which order, is decided
 * here, in loop.c, so that N processes compute bit for bit what one process computes:
 *
 *   - shards are global: rank r of N computes shards [S*r/N, S*(r+1)/N) of every step;
 *   - the update is sharded: rank r owns a contiguous slice of the dense parameters and a
 *     contiguous range of embedding rows (1024 fixed groups, whole groups per rank); it
 *     sums, clips and updates only those, and the updated weights are all-gathered;
 *   - dense gradients are summed along the chain 0 -> 1 -> ... -> N-1: rank r receives the
 *     sum of shards 0..a-1 from rank r-1, adds its own shards one at a time in shard order
 *     and passes the sum on, in chunks so that the chain is a pipeline; the last rank sends
 *     each rank its slice. These are the very float additions one process makes;
 *   - the embedding gradient is sparse and travels before it is spread over rows: every
 *     rank gathers every shard's word-vector gradients (D floats per word, with the word's
 *     feature ids), lists every touched row (the union, in first-touch order) and adds the
 *     gradients to the rows it owns, shard by shard, the way one process does; AdamW's lazy
 *     row updates stay exact. A word's D floats stand for its ~15 feature rows: far fewer
 *     bytes than the rows;
 *   - the gradient norm (clipping) is summed per group, then over the groups in order: the
 *     same double for any N;
 *   - anything that can fail on one rank (a file, memory, a NaN) is agreed on by all ranks
 *     (loop_comm_agree) before the next exchange, so a failure stops every rank, never hangs.
 *
 * Every function is collective or point-to-point as stated, returns 0 or a negative MILLE_E*
 * code (an implementation may also end the whole job on a transport failure). */
enum { LOOP_OP_MAX = 0, LOOP_OP_SUM = 1 };

typedef struct loop_comm {
    void *ud;
    int rank, size; /* 0 <= rank < size */
    /* blocking point-to-point transfer of n bytes to / from rank peer */
    int (*send)(void *ud, int peer, const void *buf, size_t n);
    int (*recv)(void *ud, int peer, void *buf, size_t n);
    /* collective: buf[0..n) of rank root to every rank */
    int (*bcast)(void *ud, void *buf, size_t n, int root);
    /* collective: v[i] = the max (LOOP_OP_MAX) or sum (LOOP_OP_SUM) over ranks of v[i] */
    int (*allreduce_i64)(void *ud, int64_t *v, size_t n, int op);
    /* collective: every rank's mine[0..n) into all, in rank order (rank r's counts[r] bytes
     * at the sum of counts[0..r)); mine may point into all at its own place */
    int (*allgather)(void *ud, const void *mine, size_t n, void *all, const size_t *counts);
    /* told which rank failed first when an agreement finds a failure (may be NULL) */
    void (*on_failure)(void *ud, int rank);
    /* end every rank now, after printing msg: a failure in the middle of an exchange, where
     * the others cannot be told (may be NULL: abort()) */
    void (*fatal)(void *ud, const char *msg);
} loop_comm;

/* Collective: rc is this rank's status. Returns 0 when every rank has 0; otherwise the code
 * of the lowest failing rank, err set on the others to "rank K failed" (the failing rank
 * keeps its own message). comm NULL: returns rc. */
int loop_comm_agree(const loop_comm *comm, int rc, mille_error *err);
/* Ranks of comm (1 and 0 for NULL). */
int loop_comm_size(const loop_comm *comm);
int loop_comm_rank(const loop_comm *comm);
/* Collective: buf[0..n) of rank root to every rank, in pieces the transport accepts. */
int loop_comm_bcast(const loop_comm *comm, void *buf, size_t n, int root);

typedef struct loop_shard {
    batch b;     /* the shard's utterances, filled by the objective */
    model_ws ws; /* activations; the loop sets ws.drop and ws.drop_seed before each step */
    float *g;    /* (n_dense) dense gradient, zeroed by the loop, ADDED to by the objective */
    float *dX;   /* (N, D) gradient of the word vectors, written by the objective */
    size_t dX_cap;
    void *scratch;  /* the objective's own per-shard memory (freed by its shard_free) */
    double loss;    /* summed loss of the shard's items */
    int rc;         /* 0 or a negative MILLE_E* code */
    uint64_t epoch; /* of the step (0-based), for objectives that remake items every epoch */
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
