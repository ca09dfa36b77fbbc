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

struct loop_comm; /* loop.h: the processes a run is spread over */

/* What the progress callback sees, about twice a second and after each dev evaluation (on
 * every rank of a run over processes, each with its own times and bytes). */
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
    /* over processes (loop_comm): this rank's seconds computing shards, waiting for the other
     * ranks (the step's agreement), exchanging gradients, and the bytes it sent, since the
     * start of the run (all 0 on one process but compute_s) */
    double compute_s, wait_s, comm_s;
    uint64_t comm_bytes;
    uint64_t steps_run; /* steps this run has made (after a resume: since it) */
    double step_s;      /* seconds in those steps (all of them: compute to update) */
    uint64_t rows_run;  /* embedding rows those steps touched, summed over the steps */
    uint64_t n_dense;   /* dense parameters (each step sums a gradient of that many floats) */
    double rows_s;      /* of comm_s: gathering word gradients and adding them to rows */
    double update_s;    /* clipping and AdamW of this rank's share of the parameters */
    double gather_s;    /* all-gathering the gradient norm's parts and the updated weights */
    double adds_s;      /* of rows_s: reading the word gradients, adding them to own rows */
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
    float reject_recall;          /* after training: fit the temperature on the dev records and the
                                     default rejection threshold for this in-scope recall (calib.h);
                                     0 = neither                                               */
    const struct loop_comm *comm; /* processes the run is spread over (MPI); NULL = this one */
    int shards; /* a step's batch is cut into this many fixed shards (0 = LOOP_SHARDS): the
                   result depends on it, not on the threads or processes computing them   */
    int stop_after_epochs; /* stop (with a checkpoint) once this many epochs are done, to
                              resume later, e.g. elsewhere or with other processes (0 = never) */
    /* code-switching (codeswitch.h): every epoch, each training record of cs_from is also seen
     * cs_copies times with words swapped for lexicon translations (probability cs_rate),
     * remade each epoch; n_cs = 0: off */
    const char *const *cs_lexicons; /* "PATH" or "LOCALE=PATH" */
    int n_cs;
    float cs_rate;
    int cs_copies;
    const char *cs_from; /* NULL = "en-US" */
} train_params;

train_params train_default_params(void);

/* Train and save the best model (by dev exact match) to p->out. The trained model is also
 * returned in *out when out != NULL (caller frees with model_free). */
int train_run(const train_params *p, model *out, eval_metrics *best_dev, mille_error *err);

/* ---- shared with prediction and distillation ------------------------------------------------ */

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
/* Append record r of ds (its words' features in fs, labels mapped by intent_map/slot_map, NULL
 * = identity) to batch b; tagbuf has room for the record's words. */
int train_batch_add(batch *b, const data_set *ds, const featset *fs, size_t r,
                    const uint32_t *intent_map, const uint32_t *slot_map, int *tagbuf);

/* The records a run learns from: MASSIVE train and dev partitions of p->data (and
 * p->data_more), the training records (train_idx, at most p->max_train) and the dev records
 * that select the model (dev_idx, of p->dev_locales), and the features of every record. */
typedef struct train_data {
    data_set ds;
    featset fs; /* built by the caller once ds is complete (featset_build) */
    uint32_t *train_idx, *dev_idx;
    size_t n_train, n_dev;
} train_data;
int train_data_load(const train_params *p, train_data *td, mille_error *err);
void train_data_free(train_data *td);
/* A model with p->cfg (or --init's feature settings), the label tables of ds and initial
 * weights (from p->seed, and --init's embedding). */
int train_model_new(const train_params *p, const data_set *ds, model *m, mille_error *err);
/* Fit m's temperature and default rejection threshold on td's dev records (features built)
 * for p->reject_recall (calib.h); nothing when there are none or reject_recall is 0. */
int train_calibrate(const train_params *p, model *m, const train_data *td, mille_error *err);
/* Dev metrics of m on td's dev records. */
int train_evaluate(const model *m, const train_data *td, int threads, eval_metrics *em,
                   mille_error *err);
/* The same, the dev records split across the processes of comm (NULL = one process): each
 * predicts its share and the integer counts are summed, so every rank gets the numbers of
 * one process. Collective: every rank calls it. */
int train_evaluate_comm(const model *m, const train_data *td, int threads,
                        const struct loop_comm *comm, eval_metrics *em, mille_error *err);
/* Identity of a run's data, model shape and optimizer settings, for its checkpoints (n_train:
 * items per epoch). */
uint64_t train_fingerprint(const train_params *p, const model *m, size_t n_train);
/* p->checkpoint, or "<out>.ckpt". */
void train_ckpt_path(const train_params *p, char *buf, size_t n);

/* Predict records idx[0..n) of ds with m; fills intents (n) and tags (their words, in order)
 * and adds the metrics to acc when acc != NULL (locale ids of ds; intent and slot ids must
 * be the model's: intent_map/slot_map translate ds ids to model ids, NULL = identity). */
int predict_records(const model *m, const data_set *ds, const featset *fs, const uint32_t *idx,
                    size_t n, int threads, const uint32_t *intent_map, const uint32_t *slot_map,
                    eval_acc *acc, uint32_t *intents, int *tags);

#endif
