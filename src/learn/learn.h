/*
 * learn.h - self-learning from users' rephrases (issue 11; docs/learn.md): the interaction
 * log (log.c), the rewrite table applied before parsing (rewrite.c) and the miner that turns
 * logs into rewrites and training data (mine.c).
 *
 * Layer: stands on core.c and text/ only. The miner does not call the model itself: the
 * caller passes a parse callback (cli/cmd_learn.c uses the public API), so that this layer
 * stays below api.c and can be tested with a fake model.
 *
 * Vocabulary: a "turn" is one logged request (one JSON line); a "key" is the normalized text
 * of a turn (learn_key), the unit the rewrite table and the Markov chain of mine.c work on.
 */
#ifndef MILLE_LEARN_H
#define MILLE_LEARN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "text.h"

/* ---- normalization (rewrite.c) ----------------------------------------------------------- */

/* The key of a text: NFKC + case folding (text_normalize), whitespace runs collapsed to one
 * space, leading/trailing space and trailing sentence punctuation (. ? ! 。 ？ ！ and the
 * like after NFKC) removed. *key points into tb (valid until tb's next use), *key_len its
 * bytes. Returns 0 or a MILLE_E* code (invalid UTF-8 ...). */
int learn_key(const char *s, size_t n, text_buf *tb, const char **key, size_t *key_len,
              mille_error *err);

/* ---- interaction log (log.c) ------------------------------------------------------------- */

enum { LEARN_OUTCOME_NONE = 0, LEARN_OUTCOME_SUCCESS = 1, LEARN_OUTCOME_DEFECT = 2 };

/* One slot as `mille predict` prints it: type, value, byte offsets into the turn's text. */
typedef struct learn_slot_in {
    const char *slot;
    size_t start, end;
} learn_slot_in;

/* One turn to write. session and text are required; user, locale may be NULL; intent NULL
 * writes "" (the parse failed). time <= 0 means now. */
typedef struct learn_turn_in {
    const char *session, *user, *locale;
    double time;
    const char *text;
    size_t len;
    const char *intent;
    double confidence;
    const learn_slot_in *slots;
    size_t n_slots;
    int outcome; /* LEARN_OUTCOME_* */
} learn_turn_in;

/* The writer: DIR/turns.jsonl, appended with O_APPEND, one write(2) per line under a mutex,
 * so that lines of threads (and of other processes writing the same file) never interleave.
 * When a line would take the file past max_bytes, the file is first renamed to
 * DIR/turns-<UTC time>-<pid>-<n>.jsonl (a fresh name: never overwrites) and a new one begun,
 * so rotation loses no line. Safe to share between threads. */
typedef struct learn_log {
    pthread_mutex_t mu;
    char *dir;
    int fd;
    size_t size, max_bytes;
    unsigned long rotations;
} learn_log;

#define LEARN_LOG_MAX_DEFAULT (64u << 20)
/* Open (create) DIR/turns.jsonl; max_bytes 0 means LEARN_LOG_MAX_DEFAULT. */
int learn_log_open(const char *dir, size_t max_bytes, learn_log **out, mille_error *err);
/* Append one turn as one JSON line. MILLE_EINVAL for a turn without session or text,
 * MILLE_EUTF8 for text that is not UTF-8, MILLE_EIO on a write failure. */
int learn_log_write(learn_log *lg, const learn_turn_in *t, mille_error *err);
void learn_log_close(learn_log *lg); /* NULL is a no-op */

/* Turns read back. Strings live in st (offsets), slots in sl[slot0 .. slot0 + n_slots). */
typedef struct learn_turn {
    uint32_t session, user, locale, text, intent; /* offsets into st; user/locale may be "" */
    uint32_t text_len, slot0, n_slots;
    uint32_t src, line; /* file (srcs) and line, for messages */
    double time;
    float confidence;
    int outcome;
} learn_turn;

typedef struct learn_slot {
    uint32_t slot, value; /* offsets into st */
} learn_slot;

typedef struct learn_turns {
    strstore st;
    learn_turn *t;
    size_t n, cap;
    learn_slot *sl;
    size_t n_sl, cap_sl;
    strtab srcs;
    size_t bad; /* lines skipped */
} learn_turns;

static inline const char *learn_str(const learn_turns *ts, uint32_t off)
{
    return ts->st.buf + off;
}

/* Called once per skipped line with the message "FILE:LINE: what is wrong". */
typedef void (*learn_on_bad)(void *ud, const char *msg);

/* Parse buf[0..n) (JSON lines) named `name`; good lines are appended to ts, bad ones reported
 * through on_bad (may be NULL) and counted in ts->bad. Returns 0 or MILLE_ENOMEM. */
int learn_turns_parse(learn_turns *ts, const char *name, const char *buf, size_t n,
                      learn_on_bad on_bad, void *ud, mille_error *err);
/* Read a log file (plain or gzip) whole and parse it. MILLE_EIO when it cannot be read. */
int learn_turns_load(learn_turns *ts, const char *path, learn_on_bad on_bad, void *ud,
                     mille_error *err);
void learn_turns_free(learn_turns *ts);

/* ---- rewrite table (rewrite.c) ----------------------------------------------------------- */

typedef struct learn_rewrite {
    uint32_t locale, source, target, raw_source; /* offsets into st; source is a key */
    uint32_t source_len, target_len;
    uint32_t users, sessions;
    float confidence; /* estimated success probability of the target */
} learn_rewrite;

/* Rewrites by (key of source): open addressing on the key's hash; entries of several locales
 * may share a source. Read-only after load: share it between threads. */
typedef struct learn_rewrites {
    strstore st;
    learn_rewrite *r;
    size_t n, cap;
    uint32_t *slots; /* (nslots) index + 1, 0 = empty; nslots a power of two */
    size_t nslots;
} learn_rewrites;

/* Add one rewrite (source is normalized here). Returns 0, or MILLE_EINVAL for an empty
 * source/target, MILLE_EUTF8, MILLE_ENOMEM. A second rewrite of the same (locale, source)
 * replaces the first. */
int learn_rewrites_add(learn_rewrites *rw, const char *locale, const char *source, size_t slen,
                       const char *target, size_t tlen, uint32_t users, uint32_t sessions,
                       float confidence, text_buf *tb, mille_error *err);
/* The rewrite of text (NULL if none): a rewrite whose locale is "" matches any locale; so
 * does a NULL locale. tb is the caller's scratch (one per thread). */
const learn_rewrite *learn_rewrites_find(const learn_rewrites *rw, const char *text, size_t n,
                                         const char *locale, text_buf *tb);
/* JSON lines: {"locale","source","target","users","sessions","confidence"} per rewrite.
 * Load reports bad lines as FILE:LINE (MILLE_EFORMAT: a table is configuration, so one bad
 * line refuses the whole file). Save is atomic (file_write_atomic). */
int learn_rewrites_load(learn_rewrites *rw, const char *path, mille_error *err);
int learn_rewrites_save(const learn_rewrites *rw, const char *path, mille_error *err);
void learn_rewrites_free(learn_rewrites *rw);

/* ---- the miner (mine.c) ------------------------------------------------------------------ */

/* What the model makes of a text, for the miner: pointers valid until the next call. */
typedef struct learn_interp {
    const char *intent;
    float confidence;
    size_t n_slots;
    const char *const *slot;  /* (n_slots) slot types */
    const char *const *value; /* (n_slots) their values, NUL-terminated */
} learn_interp;
/* Parse text with the model; 0 or a negative code (the text is then never a target). */
typedef int (*learn_parse_fn)(void *ud, const char *text, size_t len, const char *locale,
                              learn_interp *out);

typedef struct learn_params {
    double max_gap;         /* seconds between a turn and its rephrase (default 30)      */
    double min_similarity;  /* character-trigram Jaccard of a rephrase (default 0.25),
                               unless the rephrase's slot values occur in the first turn  */
    double unknown_success; /* success weight of a last turn without outcome (0.5)       */
    unsigned min_users;     /* distinct users behind a rewrite (default 3, at least 2)  */
    double min_gain;        /* P(success | target) - P(success | source) (default 0.3)  */
    double min_target_p;    /* P(success | target) at least (default 0.6)               */
    double min_confidence;  /* model confidence on the target (default 0.5)             */
    int slot_guard;         /* target's slot values must occur in the source (default 1) */
    size_t max_rewrites;    /* table size cap (default 100000)                          */
    double min_share;       /* N_uv: expected visits of the target from the source (0.1)  */
    /* implicit positive feedback: a phrasing that works becomes training data labeled with
     * its logged parse (examples only, never a rewrite) */
    double positive_min_confidence; /* logged confidence of the turn; < 0: off (default -1) */
    double positive_min_success;    /* the phrasing's success rate R_uS (default 0.5)       */
    unsigned positive_min_users;    /* distinct users who said it (default 2)               */
} learn_params;

learn_params learn_default_params(void);

/* What the miner found, for the caller's report. */
typedef struct learn_stats {
    size_t turns, sessions, single_turn_sessions, rephrases, states, candidates, rewrites;
    size_t rejected_users, rejected_gain, rejected_model, rejected_slots, rejected_share;
    /* positives: mined; phrasings with a confident turn that was not a defect, rejected by
     * their success rate, their users, or because they are a rewrite source */
    size_t positives, positive_candidates, rejected_pos_success, rejected_pos_users,
        rejected_pos_source;
} learn_stats;

enum { LEARN_EX_REPHRASE = 0, LEARN_EX_POSITIVE = 1 };

/* One mined training example: a failing phrasing labeled with its rephrase's parse
 * (LEARN_EX_REPHRASE), or a phrasing that works labeled with its own logged parse
 * (LEARN_EX_POSITIVE). */
typedef struct learn_example {
    uint32_t locale, utt, intent, annot; /* offsets into the output strstore */
    int kind;                            /* LEARN_EX_* */
} learn_example;

typedef struct learn_examples {
    strstore st;
    learn_example *e;
    size_t n, cap;
} learn_examples;
void learn_examples_free(learn_examples *ex);

/* Mine ts into rewrites (appended to out) and, when ex is not NULL, examples in MASSIVE
 * annot_utt form (slots carried over where their values occur verbatim in the source); with
 * p->positive_min_confidence >= 0 also the positives (after the rewrite examples).
 * Deterministic: the same turns give the same table, whatever their file order. */
int learn_mine(const learn_turns *ts, const learn_params *p, learn_parse_fn parse, void *ud,
               learn_rewrites *out, learn_examples *ex, learn_stats *st, mille_error *err);

#endif /* MILLE_LEARN_H */
