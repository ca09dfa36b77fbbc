/*
 * data.h - MASSIVE records: reading them from .jsonl, .jsonl.gz, a directory of those, or the
 * official release archive (amazon-massive-dataset-1.1.tar.gz), and parsing annot_utt into
 * word-level tokens and slot labels exactly as MASSIVE's official preparation does
 * (alexa/massive scripts/create_hf_dataset.py), with one documented fix (see annot_parse).
 *
 * Shape vocabulary: R records, W words (all records' words in one array).
 */
#ifndef MILLE_DATA_H
#define MILLE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* ---- annot_utt parsing ------------------------------------------------------------------- */

/* One word of an utterance: byte offsets [start, end) into the utterance text, and its slot
 * label as a byte range of the annot_utt string (label_len == 0 means Other). */
typedef struct annot_word {
    uint32_t start, end;
    uint32_t label_off, label_len;
} annot_word;

/* Reusable scratch for annot_parse (one per thread); zero-initialize, free with
 * annot_scratch_free. */
typedef struct annot_scratch {
    void *buf;
    size_t cap;
} annot_scratch;
void annot_scratch_free(annot_scratch *s);

/* 1 for the locales MASSIVE splits into characters (ja-JP, zh-CN, zh-TW), else 0. */
int annot_char_split(const char *locale, size_t len);

/* Parse annot ("wake me up at [time : nine am]") against utt.
 *
 * Words: with char_split == 0, utt split on whitespace (Python str.split()); with
 * char_split == 1, every non-space code point is a word except that runs of ASCII characters
 * stay whole (code-switched English words inside Japanese or Chinese); a slot bracket always
 * ends a word. Each word's label is the slot whose brackets hold it, Other outside.
 *
 * Differences from the official code, on purpose: (1) in char-split locales the official code
 * does not close a slot when an ASCII word ends it ("[media_type : b. b. c.] のニュース" gives
 * the rest of the utterance the slot); we close every slot at its "]". (2) In char-split
 * locales the official code keeps a whitespace-separated chunk whole only when the whole
 * chunk is ASCII; we keep every ASCII run whole, so that words depend on utt alone and not on
 * where an annotation put its brackets. (1) changes the gold labels of 906 ja/zh train+dev
 * records (a slot ending in an ASCII word with more words after it), as the annotation
 * means; (2) changes the words of one record (boøwy) and no span. See docs/eval.md.
 *
 * utt may be NULL: the text is then annot without its bracket syntax and offsets point into
 * annot (used for predictions that carry no utt). words must have room for
 * max(utt_len, annot_len) entries. Returns the number of words (>= 0), or MILLE_EANNOT /
 * MILLE_EUTF8 / MILLE_ENOMEM with err naming the reason and the byte offset. */
int annot_parse(const char *utt, size_t utt_len, const char *annot, size_t annot_len,
                int char_split, annot_word *words, annot_scratch *scratch, mille_error *err);

/* Words of a plain text under the same rules (no annotation: every label is Other).
 * words must have room for len entries. Returns the number of words or MILLE_EUTF8 /
 * MILLE_ENOMEM / MILLE_ERANGE. */
int annot_words(const char *text, size_t len, int char_split, annot_word *words,
                annot_scratch *scratch, mille_error *err);

/* The MASSIVE annotation of text from its words (byte offsets into text) and their slot
 * label ids (0 = Other; names from slots), appended NUL-terminated to *buf at *len (grown
 * with vec_reserve; *len ends past the NUL): "[slot : " before a run of one label, "]" after
 * it, the text between words kept as it is. In char-split locales (ja/zh) MASSIVE writes
 * exactly one space on each side of a bracketed slot (none at the ends of the text), spaces
 * the utterance itself does not have. annot_parse reads it back to the same words and labels.
 * Returns MILLE_OK or MILLE_ENOMEM. */
int annot_format(char **buf, size_t *cap, size_t *len, const char *text, const annot_word *words,
                 const int *tags, size_t n_words, int char_split, const strtab *slots);

/* ---- records and data sets --------------------------------------------------------------- */

/* Slot label id 0 is always "Other". */
#define DATA_OTHER 0u

typedef struct data_word {
    uint32_t start, end; /* byte offsets into the record's utt */
    uint32_t label;      /* id in data_set.slots; DATA_OTHER outside slots */
} data_word;

typedef struct data_record {
    uint32_t id, utt, annot; /* offsets of NUL-terminated strings in data_set.str */
    uint32_t utt_len, annot_len;
    uint32_t locale, partition, scenario, intent; /* ids in the data_set tables */
    uint32_t word0, n_words;                      /* words[word0 .. word0 + n_words) */
    uint32_t src, line;                           /* source (data_set.srcs) and 1-based line */
    float confidence; /* DATA_PRED: the record's "confidence" (0..1), or -1 when it has none */
} data_record;

typedef struct data_set {
    data_record *recs; /* (R) */
    size_t n, cap;
    data_word *words; /* (W) */
    size_t n_words, cap_words;
    strstore str;                                   /* ids, utts, annots */
    strtab locales, partitions, scenarios, intents; /* "" is a valid entry (field missing) */
    strtab slots;                                   /* id 0 = "Other" */
    strtab srcs;                                    /* file names for messages */
    size_t n_skipped;                               /* malformed records skipped */
    annot_scratch scratch;
    annot_word *aw; /* words of the record being added (reused: no malloc per record) */
    size_t cap_aw;
} data_set;

/* What a record must carry. */
enum {
    DATA_GOLD = 0, /* id, locale, utt, intent, annot_utt (partition, scenario optional)    */
    DATA_PRED = 1, /* id, locale, intent, annot_utt; utt optional                           */
    DATA_TEXT = 2  /* utt only; everything else optional                                    */
};

typedef struct data_opts {
    int mode;               /* DATA_GOLD, DATA_PRED or DATA_TEXT                            */
    const char *locales;    /* comma-separated list to keep, NULL = all                     */
    const char *partitions; /* comma-separated list to keep (train,dev,test), NULL = all;
                               DATA_PRED records without a partition always pass          */
    int strict;             /* 1: the first malformed record is fatal; 0: report and skip   */
    /* Called for each skipped record (file, line and reason in e->msg); may be NULL. */
    void (*on_skip)(void *ud, const mille_error *e);
    void *ud;
} data_opts;

data_opts data_default_opts(void);

/* Append the records of path to ds: a .jsonl or .jsonl.gz file ("-" = stdin), a directory
 * of them, or a .tar.gz/.tgz/.tar archive holding them (the official release). ds must be
 * zero-initialized before the first call. Returns 0 or a negative code (err says where). */
int data_load(data_set *ds, const char *path, const data_opts *o, mille_error *err);

/* Parse one JSON line (no newline) as a record of source src (an id in ds->srcs) and append
 * it. Returns 1 if appended, 0 if filtered out, or a negative code for a malformed record
 * (ds is unchanged). Exposed for tests and fuzzing. */
int data_add_line(data_set *ds, const char *line, size_t len, uint32_t src, uint32_t lineno,
                  const data_opts *o, mille_error *err);

/* Append a record made by the program (perturbed copies, unlabeled text): the id, locale,
 * scenario and intent of like (a record of ds), partition `partition` (an id in
 * ds->partitions), text (len bytes, copied) and its n words (offsets into text, labels).
 * The record has no annot_utt. Returns 0 or MILLE_ENOMEM / MILLE_ERANGE. */
int data_add_words(data_set *ds, const data_record *like, uint32_t partition, const char *text,
                   size_t len, const data_word *words, size_t n, mille_error *err);

void data_free(data_set *ds);

/* 1 if path names MASSIVE data as data_load reads it: a directory, or a .jsonl, .jsonl.gz,
 * .tar.gz, .tgz or .tar file ("-" is not: stdin may be plain text). */
int data_is_massive_path(const char *path);

/* 1 if s[0..n) is an item of the comma-separated list (NULL list = everything), as --locales
 * and --partitions take them. */
int data_list_has(const char *list, const char *s, size_t n);

/* 1 and the locale in out if the base name of path starts with a locale tag of the form
 * "xx-YY" followed by '.' or its end ("ja-JP.txt", "fr-FR.txt.gz"), else 0. */
int data_path_locale(const char *path, char out[6]);

static inline const char *data_str(const data_set *ds, uint32_t off) { return ds->str.buf + off; }

#endif /* MILLE_DATA_H */
