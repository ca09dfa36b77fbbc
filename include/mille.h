/*
 * mille.h - the one public header of mille, a multilingual intent + slot NLU engine.
 *
 * Thread safety: a mille_model is read-only after load and may be shared by any number of
 * threads; each thread parses through its own mille_session (per-call scratch). Functions
 * that take a mille_error* are safe to call concurrently as long as each thread passes its
 * own.
 *
 * Usage:
 *
 *     mille_error err;
 *     mille_model *model;
 *     mille_session *session;
 *     if (mille_model_load("massive.mille", &model, &err) < 0 ||
 *         mille_session_new(model, &session, &err) < 0) {
 *         fprintf(stderr, "mille: %s\n", err.msg);
 *         return 1;
 *     }
 *     mille_result r;
 *     const char *text = "wake me up at five am this week";
 *     if (mille_parse(session, text, strlen(text), "en-US", &r, &err) == 0) {
 *         printf("%s (%.2f)\n", r.intent, r.confidence);          // alarm_set (0.97)
 *         for (size_t i = 0; i < r.n_slots; i++)                     // time = "five am" ...
 *             printf("  %s = \"%.*s\"\n", r.slots[i].slot,
 *                    (int)(r.slots[i].end - r.slots[i].start), text + r.slots[i].start);
 *     }
 *     mille_session_free(session);
 *     mille_model_free(model);
 *
 * Conventions:
 *   - functions return 0 (or a count) on success and a negative MILLE_E* code on failure;
 *   - a failing function that takes a mille_error* fills it with a detail message naming what
 *     and where (file, line, offset, expected/got); passing NULL is allowed;
 *   - text is UTF-8 with explicit byte lengths; invalid UTF-8 is MILLE_EUTF8, never a crash;
 *   - the library never calls exit() and never prints to stdout.
 */
#ifndef MILLE_H
#define MILLE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MILLE_VERSION_MAJOR  0
#define MILLE_VERSION_MINOR  1
#define MILLE_VERSION_PATCH  0
#define MILLE_VERSION_STRING "0.1.0"

#if defined(MILLE_BUILD) && defined(__GNUC__)
#define MILLE_API __attribute__((visibility("default")))
#else
#define MILLE_API
#endif

/* Error codes: one table, all negative. mille_strerror() names each. */
enum {
    MILLE_OK = 0,
    MILLE_ENOMEM = -1,    /* out of memory, or a size that overflows                  */
    MILLE_EIO = -2,       /* a file could not be opened, read or written              */
    MILLE_EFORMAT = -3,   /* input is not in the expected format (JSON, archive, ...) */
    MILLE_EUTF8 = -4,     /* invalid UTF-8                                            */
    MILLE_EANNOT = -5,    /* malformed annot_utt, or annot_utt that does not match utt */
    MILLE_EINVAL = -6,    /* invalid argument                                         */
    MILLE_ERANGE = -7,    /* a value or a length is out of its allowed range          */
    MILLE_ENOTFOUND = -8, /* a named thing (file, locale, label) does not exist      */
    MILLE_ELIMIT = -9     /* an input is over a session limit (words per text or batch) */
};

/* Detail of the last failure of a call: code plus a message naming what and where. */
typedef struct mille_error {
    int code;
    char msg[512];
} mille_error;

/* Static string naming an error code ("out of memory", ...). Never NULL. */
MILLE_API const char *mille_strerror(int code);

/* The library version as "MAJOR.MINOR.PATCH"; static storage. */
MILLE_API const char *mille_version(void);

/* ---- models and parsing ------------------------------------------------------------------ */

typedef struct mille_model mille_model;     /* read-only after load; share it freely  */
typedef struct mille_session mille_session; /* per-thread scratch; one thread at a time */

/* A slot found in the text: [start, end) are byte offsets into the caller's text. */
typedef struct mille_slot {
    const char *slot; /* slot type, e.g. "time" (owned by the model)                    */
    size_t start, end;
} mille_slot;

typedef struct mille_intent_score {
    const char *intent; /* owned by the model */
    float score;        /* probability        */
} mille_intent_score;

/* One parse. Every pointer is owned by the session (or the model) and stays valid until the
 * next mille_parse on the same session or until the session is freed. */
typedef struct mille_result {
    const char *intent;   /* best intent                                                  */
    const char *scenario; /* its scenario                                                 */
    float confidence;     /* its probability                                              */
    const mille_intent_score *top; /* the MILLE_TOP_K best intents, best first             */
    size_t n_top;
    const mille_slot *slots; /* slots in text order; adjacent words of one type are one slot */
    size_t n_slots;
    const char *annot_utt; /* the text annotated in MASSIVE's format ("wake me up at [time :
                              five am]"); for ja-JP/zh-CN/zh-TW with spaces around brackets */
    size_t n_words;        /* words the text was split into                                 */
    int rejected; /* 1: out of scope ("I don't know"): confidence below the session's threshold,
                     or the intent is the model's out-of-scope class; intent, slots and the
                     rest still hold the best guess (see mille_session_set_reject_below) */
} mille_result;

#define MILLE_TOP_K 5

/* Load a model file. The file is read whole into memory (64-byte aligned), so overwriting
 * or truncating it afterwards does not affect the loaded model; it must be a regular file
 * (a FIFO or device is refused at once, without blocking). *out receives a model to free
 * with mille_model_free. Errors: MILLE_EINVAL (path or out NULL), MILLE_EIO (cannot open or
 * read, not a regular file), MILLE_EFORMAT (not a mille model, truncated, corrupt, newer
 * version), MILLE_ENOMEM. */
MILLE_API int mille_model_load(const char *path, mille_model **out, mille_error *err);
/* An ensemble of the models at paths[0..n) (1 <= n <= MILLE_MAX_ENSEMBLE), used like one
 * model: every member parses each input, their intent probabilities are averaged, and each
 * word gets the slot label of highest averaged marginal probability. The label names of the
 * first model are the ensemble's; another member with a label the first lacks is
 * MILLE_EFORMAT. Members may differ in shape and features. Errors as mille_model_load,
 * naming the file. Free with mille_model_free. */
#define MILLE_MAX_ENSEMBLE 8
MILLE_API int mille_model_load_ensemble(const char *const *paths, size_t n, mille_model **out,
                                        mille_error *err);

/* NULL is a no-op. Free every session of a model before the model. */
MILLE_API void mille_model_free(mille_model *m);

/* The model's description: a JSON object with its configuration, intents, scenarios, slot
 * types and tensors. Owned by the model; NULL when m is NULL. */
MILLE_API const char *mille_model_metadata(const mille_model *m);

/* A session for parsing with m (which must outlive it). MILLE_EINVAL when m or out is NULL. */
MILLE_API int mille_session_new(const mille_model *m, mille_session **out, mille_error *err);
MILLE_API void mille_session_free(mille_session *s); /* NULL is a no-op */

/* Limits of a session's inputs: the default text limit is 64 KiB; mille_session_set_max_text
 * sets it between 1 byte and MILLE_MAX_TEXT_LIMIT (else MILLE_ERANGE; MILLE_EINVAL for a
 * NULL session). */
#define MILLE_MAX_TEXT_DEFAULT (64u << 10)
#define MILLE_MAX_TEXT_LIMIT   (1u << 20)
MILLE_API int mille_session_set_max_text(mille_session *s, size_t max_bytes);

/* With strict locales on (default off), a locale the model was not trained on is
 * MILLE_ENOTFOUND. Off, any well-formed locale parses: the model is multilingual. NULL s is a
 * no-op. */
MILLE_API void mille_session_set_strict_locale(mille_session *s, int on);

/* 1 if the model was trained on locale (e.g. "fr-FR"), else 0 (also for NULL arguments). */
MILLE_API int mille_model_has_locale(const mille_model *m, const char *locale);

/* Parse text[0..len) (UTF-8). locale (e.g. "fr-FR") may be NULL: words are then split the
 * way the text's script needs (characters for Chinese and Japanese). Errors: MILLE_EUTF8
 * (invalid UTF-8, with the byte offset in err), MILLE_EINVAL (NULL session, result or text,
 * empty text, no words, malformed locale), MILLE_ERANGE (text longer than the session
 * limit), MILLE_ELIMIT (more words than a word limit of the session), MILLE_ENOTFOUND
 * (unknown locale, strict sessions only), MILLE_ENOMEM. */
MILLE_API int mille_parse(mille_session *s, const char *text, size_t len, const char *locale,
                          mille_result *res, mille_error *err);

/* One input of a batch. */
typedef struct mille_input {
    const char *text;
    size_t len;
    const char *locale; /* may be NULL */
} mille_input;

/* Parse n inputs in one forward pass (faster than n calls). res[i] receives input i's
 * result; a failed input has res[i].intent == NULL and, when errs is not NULL, its code and
 * message in errs[i] (errors as for mille_parse). Results stay valid until the next parse on
 * the session. Returns the number of inputs parsed, or a negative code when the call as a
 * whole failed: MILLE_ENOMEM, MILLE_EINVAL (NULL s, in or res), or MILLE_ELIMIT when the
 * words of the valid inputs add up to more than the session's batch limit; then nothing is
 * parsed (every res[i].intent is NULL) and errs[i] of the input that crossed the limit says
 * so, with both numbers. */
MILLE_API int mille_parse_batch(mille_session *s, const mille_input *in, size_t n,
                                mille_result *res, mille_error *errs);

/* Word limits of a session, which bound the memory and time of one call by construction:
 * the per-call workspace grows linearly with the words of the call (about 15 KB per word
 * for the default model), and both limits hold whatever the bytes say ("a a a ..." is one
 * word per two bytes). A text with more words than max_words is MILLE_ELIMIT; so is a batch
 * whose inputs together hold more than max_batch_words (see mille_parse_batch). Defaults:
 * 256 words per text (MASSIVE's longest utterance has 66, counted by characters in ja-JP; a
 * text of hundreds of words is not a voice command) and 4096 per batch (a full batch of 256
 * texts of 16 words; MASSIVE's average is 6.5). Setters take 1..MILLE_MAX_WORDS_LIMIT,
 * else MILLE_ERANGE (MILLE_EINVAL for a NULL session). Added after the 2026-12 audit, as new
 * functions and a new code: the ABI only grows. */
#define MILLE_MAX_WORDS_DEFAULT       256u
#define MILLE_MAX_BATCH_WORDS_DEFAULT 4096u
#define MILLE_MAX_WORDS_LIMIT         (1u << 20)
MILLE_API int mille_session_set_max_words(mille_session *s, size_t max_words);
MILLE_API int mille_session_set_max_batch_words(mille_session *s, size_t max_words);

/* ---- utterance vectors ------------------------------------------------------------------- */

/* Length of the vectors mille_embed writes: 2H floats per member of the model (the [mean;
 * max] pooling of the encoder's output that the intent classifier reads), summed over the
 * members of an ensemble. 0 for NULL. */
MILLE_API size_t mille_embed_dim(const mille_model *m);

/* The utterance vector of text[0..len) (words split as by mille_parse, same locale rules and
 * session limits): each member's pooled encoder output, scaled to length 1/sqrt(members), one
 * after another, so the whole vector has unit length (an all-zero part stays zero) and the
 * dot product of two vectors is their cosine. Use it to find rephrases or translations of an
 * utterance (nearest vectors); it is not a parse. out receives mille_embed_dim(model) floats
 * (cap is its capacity in floats; smaller is MILLE_ERANGE). Errors as mille_parse. Added
 * after the 2026-12 audit: the ABI only grows. */
MILLE_API int mille_embed(mille_session *s, const char *text, size_t len, const char *locale,
                          float *out, size_t cap, mille_error *err);
/* ---- confidence and rejection ------------------------------------------------------------ */

/* Confidence: the intent probabilities (confidence, top[].score) are softmax(logits / T), with
 * the temperature T that `mille train` (or `mille calibrate`) fitted on dev so that they mean
 * what they say (a confidence of 0.8 is right about 80% of the time); T = 1 for a model that
 * has none. An ensemble applies each member's T before averaging.
 *
 * Rejection: a parse is rejected (res.rejected = 1) when its confidence is below a threshold,
 * or when its intent is the model's explicit out-of-scope class (an intent named "oos" in the
 * training data: trained like any intent, always rejected). The model's default threshold
 * was chosen on dev to keep a stated share of in-scope utterances (mille_model_reject_below;
 * 0 = no rejection by confidence, e.g. models trained before calibration existed). */
#define MILLE_REJECT_MODEL (-1.0f) /* "use the model's default threshold" */

/* The model's temperature (1 when it has none) and default rejection threshold (0 = none);
 * an ensemble's are its first member's threshold and 1. 0 for a NULL model. */
MILLE_API float mille_model_temperature(const mille_model *m);
MILLE_API float mille_model_reject_below(const mille_model *m);

/* The threshold of the session's next parses: a confidence in [0, 1] (0 = only the
 * out-of-scope class is rejected; 1 = nearly everything is), or MILLE_REJECT_MODEL (the
 * default). Set it before a call to override it for that call. MILLE_ERANGE for other values
 * (NaN included), MILLE_EINVAL for a NULL session. */
MILLE_API int mille_session_set_reject_below(mille_session *s, float threshold);

/* 1 if the parse r (made with m) is rejected at `threshold` (as above; MILLE_REJECT_MODEL =
 * the model's), else 0 (also for NULL arguments or a failed parse). For deciding after the
 * fact, e.g. per request when one batch call serves several. */
MILLE_API int mille_result_rejected(const mille_model *m, const mille_result *r, float threshold);
/* ---- self-learning: rewrites and interaction logs (docs/learn.md) ------------------------ */

/* A rewrite table made by `mille learn` from users' rephrases: normalized source phrasing
 * (NFKC, case folded, spaces collapsed, trailing . ? ! dropped) -> target phrasing, per
 * locale. Read-only after load: share it between threads. */
typedef struct mille_rewrites mille_rewrites;

/* Load a rewrite table (JSON lines, docs/learn.md). Errors: MILLE_EINVAL, MILLE_EIO,
 * MILLE_EFORMAT naming FILE:LINE (one bad line refuses the table), MILLE_ENOMEM. Free with
 * mille_rewrites_free (NULL is a no-op). */
MILLE_API int mille_rewrites_load(const char *path, mille_rewrites **out, mille_error *err);
MILLE_API void mille_rewrites_free(mille_rewrites *rw);
MILLE_API size_t mille_rewrites_count(const mille_rewrites *rw); /* 0 for NULL */

/* Use rw (NULL: none) in s's mille_parse_rewrite and mille_session_rewrite; rw must outlive
 * its use by s. mille_parse and mille_parse_batch never rewrite. */
MILLE_API void mille_session_set_rewrites(mille_session *s, const mille_rewrites *rw);

/* The target of text[0..len) in the session's table, or NULL when none matches (or no table
 * is set; then nothing is computed). A rewrite whose locale is "" applies to any locale; so
 * does every rewrite when locale is NULL. *target_len receives its bytes. The target is owned
 * by the table. For batches: rewrite each input, then mille_parse_batch. */
MILLE_API const char *mille_session_rewrite(mille_session *s, const char *text, size_t len,
                                            const char *locale, size_t *target_len);

/* mille_parse of the rewrite target when text has one, else of text. *parsed, *parsed_len
 * (may be NULL) receive the text actually parsed, to which the slot offsets of res refer
 * (text itself, or the target, owned by the table). Returns 1 when a rewrite was applied
 * (text is then what it was rewritten from), 0 when not, or a negative code as
 * mille_parse. */
MILLE_API int mille_parse_rewrite(mille_session *s, const char *text, size_t len,
                                  const char *locale, mille_result *res, const char **parsed,
                                  size_t *parsed_len, mille_error *err);

/* An interaction log: DIR/turns.jsonl, one JSON line per turn with exactly the fields
 * session, user (optional), time, locale (optional), text, intent, confidence, slots,
 * outcome (optional); rotated by size (renamed to turns-<time>-<pid>-<n>.jsonl, never losing
 * a line); lines are appended whole (one write each), safe between threads. */
typedef struct mille_log mille_log;

enum { MILLE_OUTCOME_UNKNOWN = 0, MILLE_OUTCOME_SUCCESS = 1, MILLE_OUTCOME_DEFECT = 2 };

typedef struct mille_turn {
    const char *session; /* opaque id, required                                          */
    const char *user;    /* opaque id, may be NULL                                       */
    const char *locale;  /* may be NULL                                                  */
    double time;         /* seconds since the epoch; <= 0: now                           */
    const char *text;    /* the text parsed (after a rewrite: the target), len bytes    */
    size_t len;
    const mille_result *result; /* its parse (slot offsets into text); NULL: none        */
    int outcome;                /* MILLE_OUTCOME_*                                       */
} mille_turn;

/* Open (create) DIR/turns.jsonl; max_bytes per file before rotation (0: 64 MiB). Errors:
 * MILLE_EINVAL, MILLE_EIO (DIR is not a writable directory), MILLE_ENOMEM. */
MILLE_API int mille_log_open(const char *dir, size_t max_bytes, mille_log **out, mille_error *err);
/* Append one turn. MILLE_EINVAL (no session or text), MILLE_EUTF8, MILLE_EIO. */
MILLE_API int mille_log_turn(mille_log *l, const mille_turn *t, mille_error *err);
MILLE_API void mille_log_close(mille_log *l); /* NULL is a no-op */

/* ---- language identification (docs/api.md) ------------------------------------------------ */

/* A model may carry a language-identification head (`mille langid-fit`; the shipped model
 * does). Then a text given without a locale - locale NULL or MILLE_LOCALE_AUTO, in
 * mille_parse, mille_parse_batch, mille_parse_rewrite and mille_embed - is first identified
 * (words split by the text's script), then parsed as the locale found (its word split: a
 * Japanese text in Latin letters is split into characters); mille_session_locale says which
 * locale that was and its probability. Without a head, no locale means words split by
 * script, as before. Added in 0.1 after the audit: the ABI only grows. */
#define MILLE_LOCALE_AUTO "auto"

/* 1 if m has a language-identification head, else 0 (also for NULL). */
MILLE_API int mille_model_has_langid(const mille_model *m);

/* The locale identified for input i of the session's last mille_parse (i = 0) or
 * mille_parse_batch call, with its probability in *prob (may be NULL; 0 when none), or NULL
 * when that input had a locale, failed, or the model has no head. The string is owned by
 * the model. */
MILLE_API const char *mille_session_locale(const mille_session *s, size_t i, float *prob);

typedef struct mille_locale_score {
    const char *locale; /* owned by the model */
    float score;        /* probability         */
} mille_locale_score;

/* The k most probable locales of text[0..len) (words split by script), best first, into
 * out[0..k). Returns how many were written (min(k, the head's locales)) or a negative code:
 * MILLE_EINVAL (NULL argument, or the model has no head), MILLE_EUTF8, MILLE_ERANGE (longer
 * than the session's text limit), MILLE_ELIMIT (more words than its word limit), MILLE_ENOMEM.
 * Results of an earlier parse on s stay valid. */
MILLE_API int mille_identify(mille_session *s, const char *text, size_t len,
                             mille_locale_score *out, size_t k, mille_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MILLE_H */
