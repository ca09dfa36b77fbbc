/*
 * out.h - output of the subcommands that write data (synth, perturb): lines to stdout as they
 * come, or collected in memory and written to a file atomically at the end, so that a failed
 * or interrupted run never leaves a partial file.
 */
#ifndef MILLE_CLI_OUT_H
#define MILLE_CLI_OUT_H

#include <jansson.h>
#include <stddef.h>

#include "core.h"

typedef struct out_buf {
    const char *path; /* "-": stdout */
    char *buf;        /* the lines, when path is a file */
    size_t len, cap;
} out_buf;

/* Output to path ("-" is stdout). */
out_buf out_open(const char *path);
/* Append one line (a newline is added). -1 when stdout fails or memory runs out. */
int out_line(out_buf *o, const char *s);
/* j as one compact JSON line (keys in insertion order, reals with 6 significant digits);
 * takes j (decref'd). -1 when j is NULL or the write fails. */
int out_json(out_buf *o, json_t *j);
/* One MASSIVE record as a JSON line (utt and annot_utt of the given lengths). */
int out_massive(out_buf *o, const char *id, const char *locale, const char *partition,
                const char *scenario, const char *intent, const char *utt, size_t utt_len,
                const char *annot, size_t annot_len);
/* Flush stdout, or write the file atomically; frees the buffer. -1 with err set on failure. */
int out_close(out_buf *o, mille_error *err);
/* Free without writing (after a failure). */
void out_discard(out_buf *o);

#endif
