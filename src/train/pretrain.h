/*
 * pretrain.h - self-supervised pretraining of the model's hashed embedding on unlabeled text:
 * skip-gram with negative sampling (Mikolov et al. 2013) where a word's input vector is the
 * mean of its feature rows (word, character n-grams, pre-tokens: the very features the
 * supervised model reads, as in fastText, Bojanowski et al. 2017). Optional bilingual
 * lexicons align languages by code-switching (Gouws & Søgaard 2015; Wang et al. 2022): a
 * word with a translation is replaced by it, as centre or as context, with probability
 * code_switch, so a word and its translation learn to predict the same contexts.
 *
 * The result is a model file (the supervised heads untrained, "pretrained": true) that
 * `mille train --init` starts from. See docs/zeroshot.md.
 */
#ifndef MILLE_PRETRAIN_H
#define MILLE_PRETRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct pretrain_progress {
    int epoch, epochs;
    double done;     /* fraction of all work, 0..1 */
    double loss;     /* mean loss per prediction since the last report */
    double tokens_s; /* tokens per second */
    double elapsed_s, eta_s;
    int epoch_end; /* 1: the report at the end of an epoch (loss: the epoch's mean); 0: one
                      of the reports at least 0.5 s apart during it */
} pretrain_progress;

typedef struct pretrain_params {
    const char *const *texts; /* plain text (.txt, .gz: one utterance per line) or MASSIVE
                                 data (.jsonl, .jsonl.gz, directory, .tar.gz) read as text */
    int n_texts;
    const char *locales;         /* MASSIVE inputs: locales to read (NULL = all)              */
    const char *partitions;      /* MASSIVE inputs: partitions to read (default "train")      */
    const char *const *lexicons; /* lexicon files (lexicon.h) for code-switching, or NULL */
    int n_lexicons;
    float code_switch; /* probability of swapping a word for a translation              */
    int max_senses;    /* translations used per word (first-listed first)               */
    const char *out;
    model_config cfg; /* feature settings (buckets, dim, minn, maxn, subwords, norm)    */
    int epochs, window, neg;
    float lr;
    int threads; /* > 1: lock-free parallel updates, not bit-reproducible            */
    uint64_t seed;
    double time_budget; /* seconds, 0 = none                                            */
    void (*progress)(void *ud, const pretrain_progress *p);
    void *ud;
    /* Processes (MPI, loop.h; NULL = this one): each trains its share of every epoch's
     * utterances on its own copy (local SGD) and the copies are averaged syncs_per_epoch
     * times an epoch: the rows that changed, as deltas summed along the chain of ranks.
     * Reproducible for a fixed process count with one thread each; not the result of one
     * process (that is Hogwild with one thread per process, and averaged). */
    const struct loop_comm *comm;
    int syncs_per_epoch; /* 0: 4 */
} pretrain_params;

pretrain_params pretrain_default_params(void);

/* What was read and trained on, for the caller's report. */
typedef struct pretrain_stats {
    size_t utterances, tokens, skipped_lines;
    size_t linked_tokens; /* tokens with a translation in the lexicons */
    size_t lexicon_links; /* (word, translation) links used */
    double loss;          /* mean loss per prediction in the last epoch */
    double seconds;
    uint64_t comm_bytes; /* over processes: bytes this rank sent averaging the copies */
} pretrain_stats;

int pretrain_run(const pretrain_params *p, pretrain_stats *st, mille_error *err);

#endif /* MILLE_PRETRAIN_H */
