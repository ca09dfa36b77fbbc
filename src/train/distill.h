/*
 * distill.h - teacher-student distillation (Hinton et al. 2015; for sequence labeling with a
 * CRF, the teachers' posterior marginals as targets: Wang et al. 2020, "Structure-level
 * knowledge distillation for multilingual sequence labeling").
 *
 * The teachers (one or more trained models, an ensemble) label everything the student will
 * learn from: the labeled training utterances, perturbed copies of them (augment.h) and
 * unlabeled text. For each utterance they give an intent distribution at temperature T
 * (their probabilities averaged) and slot label marginals, unary and pairwise (averaged:
 * the marginals of the teachers' mixture). The student then trains in the one training loop
 * (loop.h) on
 *   intent:  alpha T^2 CE(teachers_T, student_T) + (1 - alpha) CE(gold, student)
 *   slots:   CRF cross-entropy to  beta teachers' marginals + (1 - beta) gold labels
 * where only the original labeled utterances have gold labels (alpha = beta = 1 elsewhere).
 * Same guarantees as training: deterministic threads, dev selection, time budget, exact
 * resume (the teachers' labels are recomputed, deterministically, on resume).
 */
#ifndef MILLE_DISTILL_H
#define MILLE_DISTILL_H

#include "augment.h"
#include "eval.h"
#include "train.h"

/* Teachers one run takes at most (each keeps its features and a workspace per thread). */
#define DISTILL_MAX_TEACHERS 8

typedef struct distill_params {
    train_params tp; /* the student: labeled data, shape (cfg), optimizer, threads, budget, out */
    const char *const *teachers; /* model files */
    int n_teachers;
    const char *const *unlabeled; /* MASSIVE files (labels ignored) or text files named like a
                                     locale ("ja-JP.txt", one utterance per line) */
    int n_unlabeled;
    const char *const *lexicons; /* code-switching in the perturbed copies (lexicon_load) */
    int n_lexicons;
    float temp;    /* T of the intent distributions                                  */
    float alpha;   /* weight of the teachers' intent term on labeled utterances      */
    float beta;    /* weight of the teachers' slot marginals on labeled utterances   */
    int copies;    /* perturbed copies of each labeled training utterance            */
    aug_opts aug;  /* how a copy is perturbed (its lexicon comes from `lexicons`)    */
    int copy_gold; /* 1: a copy's targets mix in its gold labels, as labeled ones do;
                      0: the teachers' alone (they may be wrong where the noise is)  */
    float min_p;   /* target entries below this probability are dropped              */
    /* one line per stage (what it did, what it cost), may be NULL */
    void (*note)(void *ud, const char *msg);
} distill_params;

distill_params distill_default_params(void);

typedef struct distill_stats {
    size_t labeled, copies, unlabeled; /* utterances of each kind the student learns from */
    size_t entries;                    /* slot target entries kept                         */
    double label_s, train_s;           /* seconds: teachers labeling, student training      */
} distill_stats;

/* Distill the teachers into a student saved to p->tp.out. */
int distill_run(const distill_params *p, eval_metrics *best_dev, distill_stats *st,
                mille_error *err);

#endif
