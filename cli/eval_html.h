/*
 * eval_html.h - what `mille eval` computes beyond the official metrics: the pairing of
 * predictions with gold records, the calibration error of their confidences, and the
 * self-contained HTML report (`mille eval --html`).
 */
#ifndef MILLE_EVAL_HTML_H
#define MILLE_EVAL_HTML_H

#include <jansson.h>
#include <stdint.h>

#include "data.h"
#include "eval.h"

/* pred_of[g] = index in pred of the prediction for gold record g, matched by (locale, id),
 * the first of duplicates; -1 when there is none. Returns 0 or -1 (out of memory). */
int eval_match(const data_set *gold, const data_set *pred, int64_t *pred_of);

/* Write the report: report_json (the JSON of `mille eval --json`, with "ece" where there is
 * one) plus the confused intent pairs with examples, per-slot-type F1 and the reliability
 * diagram, computed from gold, pred and pred_of; baseline (another run's `mille eval --json`
 * output, may be NULL) is drawn beside it. One file, no outside resources. 0, or -1 after a
 * message on stderr. */
int eval_html_write(const char *path, json_t *report_json, const data_set *gold,
                    const data_set *pred, const int64_t *pred_of, json_t *baseline);

#endif
