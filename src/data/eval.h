/*
 * eval.h - MASSIVE's official metrics: intent accuracy, slot micro F1 and exact match, per
 * locale and averaged over locales, the way alexa/massive computes them
 * (src/massive/utils/training_utils.py: eval_preds + convert_to_bio + seqeval f1_score).
 * The rules, and why they are what they are, are in docs/eval.md.
 *
 * Two layers:
 *   - an accumulator on label ids (eval_acc): the model code calls eval_add() per record in
 *     its training loop (dev exact match) with no strings involved;
 *   - eval_sets(): gold data_set against a prediction data_set, matched by (locale, id),
 *     with names mapped between the two sets' tables. `mille eval` is a thin shell on it.
 *
 * Usage:
 *
 *     eval_acc acc = {0};
 *     for each record r:
 *         eval_add(&acc, r.locale, r.intent, pred_intent, gold_labels, n_gold,
 *                  pred_labels, n_pred);                     // ids: 0 = Other
 *     eval_metrics m = eval_average(&acc);                    // m.exact_match in percent
 *     eval_acc_free(&acc);
 *
 * Ids must be comparable: gold and predicted labels (and intents) must come from ONE table.
 * When they come from two data_sets, map names first (eval_map_names) or use eval_sets.
 *
 * Thread safety: an eval_acc is used by one thread at a time; eval_merge() combines
 * per-thread accumulators (the counts are integers, so the merge order does not matter).
 */
#ifndef MILLE_EVAL_H
#define MILLE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"

/* Predicted intent of a record that has no prediction: never equal to a gold intent. */
#define EVAL_MISSING UINT32_MAX

/* Integer counts of one locale: exact, so accumulators merge without rounding. */
typedef struct eval_counts {
    uint64_t n;          /* records                                                      */
    uint64_t intent_ok;  /* records with the right intent                                */
    uint64_t exact_ok;   /* right intent and the whole label (= BIO) sequence right      */
    uint64_t gold_spans; /* slot spans in gold                                           */
    uint64_t pred_spans; /* slot spans in the predictions (after cut/pad to gold length) */
    uint64_t ok_spans;   /* predicted spans equal to a gold span (type, start, end)      */
} eval_counts;

/* Metrics in percent (0..100). */
typedef struct eval_metrics {
    uint64_t n;         /* records scored                                               */
    size_t n_locales;   /* locales in the mean (1 for eval_locale_metrics)              */
    double exact_match; /* share of records with right intent and right label sequence  */
    double intent_accuracy;
    double slot_f1; /* micro F1 over spans; 0 when there is no span at all          */
    double slot_precision, slot_recall; /* 0 when their denominator is 0 (as seqeval)    */
} eval_metrics;

/* Accumulator: one eval_counts per locale id (any dense ids, e.g. data_set.locales).
 * Zero-initialize; free with eval_acc_free. Grows on demand. */
typedef struct eval_acc {
    eval_counts *loc; /* (n_loc) indexed by locale id */
    size_t n_loc, cap;
} eval_acc;

void eval_acc_free(eval_acc *a);
/* Forget all counts (keeps the memory). */
void eval_acc_reset(eval_acc *a);

/* Add the counts of one record to *c (no allocation): gold[0..n_gold) and pred[0..n_pred)
 * are word labels, 0 = Other. pred is cut or padded with Other to n_gold (the official
 * rule); pred may be NULL when n_pred == 0. A span is a maximal run of one label (adjacent
 * words of one slot type are ONE span, as convert_to_bio makes them). pred_intent may be
 * EVAL_MISSING. */
void eval_count_record(eval_counts *c, uint32_t gold_intent, uint32_t pred_intent,
                       const uint32_t *gold, size_t n_gold, const uint32_t *pred, size_t n_pred);

/* eval_count_record into the counts of locale `locale`. Returns 0 or MILLE_ENOMEM. */
int eval_add(eval_acc *a, uint32_t locale, uint32_t gold_intent, uint32_t pred_intent,
             const uint32_t *gold, size_t n_gold, const uint32_t *pred, size_t n_pred);

/* dst += src, locale by locale. Returns 0 or MILLE_ENOMEM (dst unchanged). */
int eval_merge(eval_acc *dst, const eval_acc *src);

/* Metrics of one set of counts / of one locale (all zero with n = 0 when it has none). */
eval_metrics eval_metrics_of(const eval_counts *c);
eval_metrics eval_locale_metrics(const eval_acc *a, uint32_t locale);
/* Unweighted mean over the locales that have at least one record (the MASSIVE average);
 * n is the total number of records and n_locales the number of locales averaged. */
eval_metrics eval_average(const eval_acc *a);

/* ---- names of two tables ----------------------------------------------------------------- */

/* map[i] = id in `to` of the name `from`[i], or to->n + i when `to` does not have it (a
 * fresh id that matches no id of `to`, and distinct for distinct unknown names). map must
 * have room for from->n entries. */
void eval_map_names(const strtab *from, const strtab *to, uint32_t *map);

/* ---- gold set against prediction set ----------------------------------------------------- */

/* What eval_sets tells the caller about, record by record (for messages). */
enum {
    EVAL_NOTE_MISSING = 0, /* gold record without prediction: scored as wrong (gold rec)   */
    EVAL_NOTE_EXTRA,       /* prediction matching no gold record: ignored (pred rec)       */
    EVAL_NOTE_DUPLICATE,   /* second prediction for one (locale, id): ignored (pred rec)   */
    EVAL_NOTE_TEXT,        /* pred annot_utt text differs from gold utt: labels compared by
                              position with cut/pad (pred rec)                             */
    EVAL_NOTE_BAD_ANNOT,   /* pred annot_utt unparsable: all labels Other (pred rec)       */
    EVAL_NOTE_COUNT
};

typedef struct eval_report {
    eval_acc acc;                  /* indexed by gold->locales ids                      */
    size_t notes[EVAL_NOTE_COUNT]; /* how many records of each kind                     */
} eval_report;

/* Called for each note: ds is gold (MISSING) or pred (others), r the record, msg a detail
 * (may be ""). May be NULL. */
typedef void (*eval_note_fn)(void *ud, int kind, const data_set *ds, const data_record *r,
                             const char *msg);

/* Score every record of gold against the prediction with the same (locale, id) in pred.
 * Gold records without a prediction count as wrong (intent wrong, all labels Other).
 * Pred annot_utt is re-parsed against the gold utt (same char_split rule as the locale); if
 * its text does not match, it is parsed on its own and compared by position (cut/pad).
 * Slot and intent names are mapped by string; unknown names never match. out must be
 * zero-initialized (or freed with eval_report_free and zeroed) and is filled even when a
 * note is raised. Returns 0 or MILLE_ENOMEM. */
int eval_sets(const data_set *gold, const data_set *pred, eval_report *out, eval_note_fn note,
              void *ud, mille_error *err);
void eval_report_free(eval_report *r);

#endif /* MILLE_EVAL_H */
