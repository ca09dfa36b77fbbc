/*
 * langid_fit.h - fitting and measuring the language-identification head (langid.h) of a
 * trained model on MASSIVE-format data whose records carry their locale: the locale is the
 * label, so any labeled or unlabeled data with locales serves.
 *
 * Shape vocabulary: n utterances, K locales, F feature width.
 */
#ifndef MILLE_LANGID_FIT_H
#define MILLE_LANGID_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "langid.h"
#include "model.h"

/* Features and labels of a set of utterances. */
typedef struct langid_set {
    float *X;       /* (n, F) dense features (feats EMB / POOL)                        */
    uint32_t *ids;  /* every utterance's feature ids, one after another (feats NGRAM)  */
    uint64_t *ioff; /* (n + 1) utterance i's ids: ids[ioff[i] .. ioff[i + 1])          */
    uint32_t *y;    /* (n) locale id in the label table the set was collected with     */
    size_t n, F;
} langid_set;
void langid_set_free(langid_set *s);

/* The features (bits feats) of the records idx[0..n) of ds under m, words split by script
 * as a request without a locale is (langid_char_split). Records whose locale is not in
 * `labels` or that have no words are left out. */
int langid_collect(const model *m, uint32_t feats, const data_set *ds, const uint32_t *idx,
                   size_t n, const strtab *labels, langid_set *out, mille_error *err);

typedef struct langid_fit_opts {
    uint32_t feats;    /* LANGID_FEAT_* (default ngram)                                  */
    uint32_t rows;     /* R: rows of the n-gram table (default 2^15)                      */
    uint32_t width;    /* Q: their width (default 16)                                     */
    int epochs;        /* passes over the training set (default 5); the best on dev is kept */
    double lr;         /* SGD step at the start, decayed linearly to 0 (default 0.2)      */
    double l2;         /* weight decay on W and A (default 0)                             */
    uint64_t seed;     /* order of the training utterances (default 1)                   */
    size_t per_locale; /* training utterances per locale, the first in file order; 0 = all */
    int verbose;       /* progress lines on stderr                                       */
} langid_fit_opts;
langid_fit_opts langid_fit_default_opts(void);

/* What a fit measured. */
typedef struct langid_fit_info {
    size_t n_train, n_dev;
    int best_epoch;    /* 1-based */
    double dev_acc;    /* of the kept head */
    double t_features; /* seconds spent collecting features (train + dev) */
    double t_fit;      /* seconds spent in SGD */
} langid_fit_info;

/* Fit a head for m on the records of ds in partition "train", choose the epoch by accuracy
 * on partition "dev", and set it on m (langid_head_set; the intent and slot parts of m are
 * untouched). The locales are those of the training records, in ds's order. Deterministic
 * for a seed. Returns 0 or a negative code. */
int langid_fit(model *m, const data_set *ds, const langid_fit_opts *o, langid_fit_info *info,
               mille_error *err);

/* Confusions of m's head on the records idx[0..n) of ds: conf (K, K) counts, gold row by
 * predicted column (K = m->lid.K, locale ids of the head); records of other locales are left
 * out. Returns the number of records counted, or a negative code. */
long langid_confusions(const model *m, const data_set *ds, const uint32_t *idx, size_t n,
                       uint64_t *conf, mille_error *err);

#endif
