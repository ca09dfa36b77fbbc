/*
 * slu.h - SLURP's SLU-F1 (Bastianelli, Vanzo, Swietojanski, Rieser: "SLURP: A Spoken
 * Language Understanding Resource Package", EMNLP 2020, section 4 and the evaluation code of
 * pswietojanski/slurp, scripts/evaluation/metrics): an entity F1 that gives partial credit to
 * a slot of the right type whose value is near the gold value, so that an ASR near-miss
 * ("seven a m" for "seven am") is not scored as a plain miss.
 *
 * Entities are (type, value) pairs, compared per utterance:
 *   - span F1: a predicted entity is a true positive when an identical (type, value) gold
 *     entity is left; else a false positive; gold entities left over are false negatives.
 *   - distance F1 (word or char): for each predicted entity, in order, whose type is among
 *     the gold entities left: the one of that type at the lowest distance d (the first on a
 *     tie) is taken away, and tp += 1, fp += d, fn += d. A predicted entity of a type not
 *     left: fp += 1. Gold entities left over: fn += 1 each.
 *       word distance = word-level edit distance / number of gold words (the WER of the
 *                       value: words split on whitespace; may exceed 1, as jiwer's wer);
 *       char distance = Levenshtein distance over code points / the longer value's length
 *                       (in [0, 1], textdistance's normalized_distance).
 *   - SLU-F1: the word and char confusion counts summed (tp_w + tp_c, fp_w + fp_c,
 *     fn_w + fn_c), then F1 = 2PR / (P + R) of the sums (SLURP's default micro average).
 * Precision (recall) is 0 when tp and fp (fn) are both 0, F1 is 0 when both are 0 (as
 * SLURP's compute_metrics). Counts are doubles (distances are fractions), pooled over all
 * utterances added.
 *
 * Values are compared byte for byte as given (after the caller's normalization: `mille eval
 * --slu-f1` applies NFKC + case folding); invalid UTF-8 bytes count as one character each.
 * Edge cases SLURP leaves undefined (its WER raises on an empty reference): an empty gold
 * value has word distance 0 against an empty prediction and 1 against anything else.
 */
#ifndef MILLE_SLU_H
#define MILLE_SLU_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* One entity: a slot type and its value, UTF-8 with explicit lengths (not NUL-terminated). */
typedef struct slu_entity {
    const char *type, *value;
    size_t type_len, value_len;
} slu_entity;

/* Confusion counts of one metric. */
typedef struct slu_counts {
    double tp, fp, fn;
} slu_counts;

/* Accumulator: zero-initialize (`slu_acc a = {0};`); no memory to free. */
typedef struct slu_acc {
    slu_counts span, word, chr;
    size_t n; /* utterances added */
} slu_acc;

/* Precision, recall and F1 in percent (0..100). */
typedef struct slu_prf {
    double p, r, f1;
} slu_prf;
typedef struct slu_metrics {
    slu_prf span, word, chr; /* exact (type, value) matches; word and char distance F1 */
    slu_prf slu;             /* SLU-F1: of the word and char counts summed                */
    size_t n;
} slu_metrics;

/* Word-level distance of hyp to truth: edit distance over whitespace-separated words divided
 * by the number of truth words (see the top of this file for an empty truth). */
double slu_word_distance(const char *truth, size_t truth_len, const char *hyp, size_t hyp_len);
/* Character-level distance: Levenshtein over code points / max(len(truth), len(hyp)) in code
 * points; 0 when both are empty. */
double slu_char_distance(const char *truth, size_t truth_len, const char *hyp, size_t hyp_len);

/* Add one utterance: gold[0..n_gold) against pred[0..n_pred) (either may be NULL when its
 * count is 0). Returns 0, or MILLE_ENOMEM (more than SLU_MAX_ENTITIES entities on a side, or
 * a value too long for the distance's scratch) with *a unchanged. */
#define SLU_MAX_ENTITIES 256
int slu_add(slu_acc *a, const slu_entity *gold, size_t n_gold, const slu_entity *pred,
            size_t n_pred);

/* Metrics of what was added. */
slu_metrics slu_metrics_of(const slu_acc *a);

/* The entities of a MASSIVE annot_utt ("wake me up at [time : seven am] [date : tomorrow]"):
 * writes at most cap entries pointing into annot (type and value trimmed of spaces) and
 * returns how many the text has (which may exceed cap), or MILLE_EANNOT for an unclosed or
 * nested bracket or a bracket without " : ". */
int slu_parse_annot(const char *annot, size_t len, slu_entity *out, size_t cap);

/* SLU-F1 of a prediction set against gold data: every gold record, against the prediction
 * pred_of[i] (an index into pred, or < 0 for none: all its gold entities are missed), the
 * entities of both annot_utt strings after NFKC + case folding. A prediction whose annot_utt
 * does not parse counts as predicting no entity. Returns 0, or MILLE_ENOMEM / MILLE_EUTF8
 * with err set. */
struct data_set;
int slu_sets(const struct data_set *gold, const struct data_set *pred, const int64_t *pred_of,
             slu_acc *out, mille_error *err);

#endif /* MILLE_SLU_H */
