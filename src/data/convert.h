/*
 * convert.h - labeled NLU data in other tools' formats, for `mille convert` (docs/interop.md):
 * MASSIVE JSONL, Rasa's NLU training data (YAML, with [value](entity) annotations) and the
 * Snips NLU dataset (JSON). Every reader fills one conv_set, every writer reads one: an
 * example is an intent, a text and entity spans (byte offsets into the text).
 *
 * Errors: a malformed file is an error naming file:line (and column where the format has
 * them); an example that is well formed but cannot be carried over (a Rasa synonym, an
 * entity that splits a word for MASSIVE, ...) is reported through on_note with its place and
 * skipped, or is an error when strict is set.
 */
#ifndef MILLE_CONVERT_H
#define MILLE_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define CONV_NONE UINT32_MAX

typedef struct conv_span {
    uint32_t start, end; /* bytes [start, end) of the example's text */
    uint32_t name;       /* entity (slot) name: offset in conv_set.str */
} conv_span;

typedef struct conv_example {
    uint32_t intent;         /* offset in str */
    uint32_t scenario;       /* offset in str, or CONV_NONE (MASSIVE input only) */
    uint32_t text, len;      /* offset in str, bytes */
    uint32_t span0, n_spans; /* spans[span0 .. span0 + n_spans), in text order */
    uint32_t src;            /* the source file's name: offset in str */
    uint32_t line;           /* 1-based line in it, for messages (0: none) */
} conv_example;

typedef struct conv_set {
    conv_example *ex; /* (n) */
    size_t n, cap;
    conv_span *spans; /* all examples' spans */
    size_t n_spans, cap_spans;
    strstore str;
    size_t n_skipped; /* examples not carried over (each reported through on_note) */
    size_t n_lossy;   /* parts of kept examples not carried over (synonyms, roles, ...) */
    int strict;       /* 1: an example that cannot be carried over is an error */
    /* Called with "file:line: what was skipped and why"; may be NULL. */
    void (*on_note)(void *ud, const char *msg);
    void *ud;
} conv_set;

void conv_free(conv_set *cs);

/* One span of an example being added: bytes [start, end) of its text and the name. */
typedef struct conv_span_in {
    size_t start, end;
    const char *name;
    size_t name_len;
} conv_span_in;

/* Append an example (everything copied). Spans must be in order, not overlapping, inside
 * the text and non-empty. scenario may be NULL. Returns 0 or MILLE_ENOMEM / MILLE_ERANGE. */
int conv_add(conv_set *cs, const char *intent, size_t intent_len, const char *scenario,
             size_t scenario_len, const char *text, size_t len, const conv_span_in *spans,
             size_t n_spans, const char *src, uint32_t line, mille_error *err);

/* Where example i came from, for messages: "file:line", or "file, example N" without a line
 * (Snips). */
void conv_where(const conv_set *cs, size_t i, char *buf, size_t cap);

/* An example that cannot be carried over: on_note("where: message") and n_skipped++, or,
 * when cs->strict, MILLE_EFORMAT with the message in err. Returns 0 or the error. */
int conv_skip(conv_set *cs, mille_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A part of a kept example that cannot be carried over (a Rasa synonym): on_note and
 * n_lossy++, or MILLE_EFORMAT when cs->strict. */
int conv_lossy(conv_set *cs, mille_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline const char *conv_str(const conv_set *cs, uint32_t off) { return cs->str.buf + off; }

/* A growing output buffer. */
typedef struct conv_buf {
    char *p;
    size_t len, cap;
} conv_buf;
int conv_buf_add(conv_buf *b, const char *s, size_t n);

/* ---- MASSIVE JSONL ----------------------------------------------------------------------- */

/* Append the records of locale (NULL: all) and partitions (comma list, NULL: all) of path,
 * a MASSIVE .jsonl(.gz) file, directory or release archive (data_load); slots become spans.
 * A malformed record is an error naming file:line. */
int conv_read_massive(conv_set *cs, const char *path, const char *locale, const char *partitions,
                      mille_error *err);
/* JSON lines with id (1, 2, ...), locale, partition "train", scenario (the example's, else the
 * intent's part before its first '_', else the intent), intent, utt and annot_utt. An
 * example whose spans do not fall on MASSIVE's word boundaries for the locale is skipped
 * (conv_skip). */
int conv_write_massive(conv_set *cs, const char *locale, conv_buf *out, mille_error *err);

/* ---- Rasa NLU training data (YAML) ------------------------------------------------------- */

/* Parse one Rasa training example, "show me [chinese](cuisine) food" or with
 * [chinese]{"entity": "cuisine"}, into its text and spans and add it. where ("file:line")
 * and col0 (the 1-based column of s[0] in the file) name places in messages. Returns 0
 * (added or skipped), or MILLE_EFORMAT for a malformed annotation. */
int conv_rasa_example(conv_set *cs, const char *intent, size_t intent_len, const char *s, size_t n,
                      const char *file, uint32_t line, uint32_t col0, mille_error *err);
/* Read Rasa NLU YAML (the `nlu:` section: `- intent: NAME` with `examples: |` lines "- ..."
 * or a list of {text: ...}); other sections and keys (synonym, regex, lookup, stories,
 * rules, responses) are reported and skipped. data[0..len) is the file's content, file its
 * name for messages. */
int conv_read_rasa(conv_set *cs, const char *file, const char *data, size_t len, mille_error *err);
/* Rasa 3 NLU YAML: version "3.1", nlu: one `- intent:` per intent (in order of first
 * appearance) with its examples as a literal block. */
int conv_write_rasa(conv_set *cs, conv_buf *out, mille_error *err);

/* ---- Snips NLU dataset (JSON) ------------------------------------------------------------ */

/* Read a Snips dataset: {"language", "intents": {NAME: {"utterances": [{"data": [{"text"},
 * {"text", "entity", "slot_name"}, ...]}]}}, "entities": {...}}; the slot_name is the span's
 * name. Syntax errors name file:line:column, others the JSON path of the value. */
int conv_read_snips(conv_set *cs, const char *file, const char *data, size_t len, mille_error *err);
/* A Snips dataset: language = the locale's language ("en" of "en-US"), each span a chunk
 * whose entity and slot_name are its name, each name a custom entity. */
int conv_write_snips(conv_set *cs, const char *locale, conv_buf *out, mille_error *err);

#endif /* MILLE_CONVERT_H */
