/*
 * mille_dialogue.h - dialogue and skills on top of mille's NLU: confidence tiers (act,
 * confirm, fall back), required slots with follow-up questions, confirm/cancel/repeat,
 * context carried across the turns of a session, built-in skills with state in SQLite
 * (alarms, reminders, lists, date and time), declared skills (a response template per
 * locale, a command run without a shell, or an HTTP webhook), and responses in the user's
 * locale. docs/dialogue.md is the guide; docs/voice.md shows it behind speech.
 *
 * It is a separate library (libmille_dialogue.a) on the public include/mille.h only, with
 * its own dependencies: SQLite (public domain), libcurl (curl license, MIT-style; webhooks),
 * Jansson and ICU (as libmille). Speech (pocketsphinx, flite, espeak-ng) is not in it: that
 * stays in the mille-voice program.
 *
 * Thread safety: a mille_dialogue may be shared by any number of threads. Each call of
 * mille_dialogue_turn passes a mille_session that no other thread is using at that time.
 * Turns of one session id are run one at a time (a second waits for the first); turns of
 * different sessions run concurrently, with their SQLite statements (one connection, a
 * few statements per turn) serialized inside.
 *
 * Sessions are rows of the SQLite file: they survive the process (mille-voice runs one turn
 * per process). A session unused for session_ttl_s is forgotten, and at most max_sessions
 * are kept: a new one beyond that evicts the least recently used, so clients that invent ids
 * cost bounded memory and disk.
 *
 * Usage:
 *
 *     mille_error err;
 *     mille_model *model;
 *     mille_session *nlu;
 *     mille_dialogue *dlg;
 *     mille_dialogue_params p = mille_dialogue_default_params();
 *     p.db = "assistant.db";
 *     if (mille_model_load("mille.model", &model, &err) < 0 ||
 *         mille_session_new(model, &nlu, &err) < 0 || mille_dialogue_open(&p, &dlg, &err) < 0)
 *         return fprintf(stderr, "%s\n", err.msg), 1;
 *     mille_dialogue_request q = {"kitchen", "set an alarm", 12, "en-US", -1};
 *     mille_dialogue_reply *r = malloc(sizeof *r);                  // ~19 KiB: not the stack
 *     if (mille_dialogue_turn(dlg, nlu, &q, r, &err) == 0)
 *         printf("%s: %s\n", r->action, r->response);               // ask: For what time?
 *     q.text = "seven am", q.len = 8;
 *     if (mille_dialogue_turn(dlg, nlu, &q, r, &err) == 0)
 *         printf("%s: %s\n", r->action, r->response);               // act: Alarm set for 7:00 AM.
 *     free(r);
 *     mille_dialogue_free(dlg);
 *     mille_session_free(nlu);
 *     mille_model_free(model);
 *
 * Conventions are those of mille.h: 0 or a count on success, a negative MILLE_E* code and a
 * detail message in the mille_error (NULL allowed) on failure; nothing printed to stdout.
 */
#ifndef MILLE_DIALOGUE_H
#define MILLE_DIALOGUE_H

#include <stddef.h>

#include "mille.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MILLE_DIALOGUE_MAX_SLOTS 16  /* slots of one request                    */
#define MILLE_DIALOGUE_MAX_ID    128 /* bytes of a session id, without the NUL  */

typedef struct mille_dialogue mille_dialogue; /* shared by threads; see the top */

/* Configuration, from mille_dialogue_default_params(). Strings are copied by _open. */
typedef struct mille_dialogue_params {
    const char *db;        /* SQLite file of sessions and skill state; NULL: in memory,
                              gone at mille_dialogue_free (default NULL)                 */
    const char *skills;    /* declarative skill file (JSON, docs/dialogue.md); NULL: none */
    const char *responses; /* response table (TSV); NULL: the built-in one (default)      */
    float act;             /* act at confidence >= act (default 0.6)                      */
    float confirm;         /* confirm at >= confirm, fall back below (default 0.3)        */
    double timeout_s;      /* a pending question older than this is forgotten (60)        */
    double session_ttl_s;  /* a session unused this long is forgotten (3600)              */
    size_t max_sessions;   /* sessions kept at most; least recently used evicted (1000)   */
} mille_dialogue_params;

MILLE_API mille_dialogue_params mille_dialogue_default_params(void);

/* Open the response table, the skill file and the database (created if missing). *out is
 * owned by the caller: free it with mille_dialogue_free. Errors: MILLE_EIO (a file),
 * MILLE_EFORMAT (a bad skill file or response table, with file and line), MILLE_EINVAL (bad
 * params: confirm > act, max_sessions 0). */
MILLE_API int mille_dialogue_open(const mille_dialogue_params *p, mille_dialogue **out,
                                  mille_error *err);

/* Free d; NULL is a no-op. No turn may be running. The SQLite file stays. */
MILLE_API void mille_dialogue_free(mille_dialogue *d);

/* One turn in: nothing is kept after the call returns. */
typedef struct mille_dialogue_request {
    const char *session; /* NUL-terminated id of 1..MILLE_DIALOGUE_MAX_ID bytes; NULL: a
                            turn without state (no follow-up, no context)                */
    const char *text;    /* UTF-8, len bytes; len 0 means nothing was heard (a fallback)  */
    size_t len;
    const char *locale; /* of the text and of the response; NULL or "auto": identified by
                           the model's language-identification head (mille_identify), en-US
                           when it has none; the reply's locale says which                */
    double now_ms;      /* the clock, local wall time in ms since 1970 (the skills show it
                           in UTC, so it is shown as local time); < 0: now               */
} mille_dialogue_request;

/* A slot of the request acted on (or being completed). */
typedef struct mille_dialogue_slot {
    char slot[64];
    char value[1024]; /* valid UTF-8: invalid bytes became U+FFFD, controls spaces    */
    long start, end;  /* byte offsets into this turn's text, or -1 when the value came
                         from an earlier turn (a follow-up question, or context)      */
} mille_dialogue_slot;

/* One turn out. Caller-owned (plain arrays, no pointers): keep it, copy it, free it. */
typedef struct mille_dialogue_reply {
    char action[16]; /* "act", "confirm", "ask" or "fallback"                   */
    char intent[64]; /* the intent acted on or asked about; "cancel", "repeat"
                        for those control words; for a fallback, the NLU's best
                        guess ("" when nothing was heard)                       */
    char scenario[64];
    float confidence; /* the NLU's (1 for a yes to a confirmation)               */
    mille_dialogue_slot slots[MILLE_DIALOGUE_MAX_SLOTS];
    size_t n_slots;
    char response[1024];     /* the answer, in the locale                               */
    char locale[16];         /* the locale of the answer                                */
    char skill[32];          /* which skill answered ("alarm", "declared", ...), or ""  */
    int template_fallback;   /* 1: a template came from another locale (en-US)          */
    char skill_error[256];   /* why a skill failed (a webhook that timed out...), or "";
                                the response is then a fallback answer                 */
    double nlu_ms, skill_ms; /* time in the NLU and in the skill                        */
} mille_dialogue_reply;

/* Run one turn of q->session (or a stateless one) with the NLU session nlu (used by this
 * thread only, for the length of the call) and fill *out. The state of the session is
 * saved before the call returns. Errors: the NLU's (MILLE_EUTF8 for invalid UTF-8,
 * MILLE_ERANGE / MILLE_ELIMIT for text over the session's limits, MILLE_ENOTFOUND /
 * MILLE_EINVAL for a locale), MILLE_EINVAL for a bad session id, MILLE_EIO for the
 * database. A skill that fails (a command or webhook that times out, is unreachable or
 * answers garbage) is not an error: the reply says so in skill_error. */
MILLE_API int mille_dialogue_turn(mille_dialogue *d, mille_session *nlu,
                                  const mille_dialogue_request *q, mille_dialogue_reply *out,
                                  mille_error *err);

/* The reply as one JSON object (the fields mille-voice --json and POST /v1/dialogue print:
 * intent, scenario, confidence, slots, action, response, locale, skill, template_fallback,
 * skill_error when set, session when not NULL). malloc'ed, NUL-terminated: free() it. NULL
 * when out of memory. */
MILLE_API char *mille_dialogue_reply_json(const mille_dialogue_reply *r, const char *session);

/* Live sessions (not expired at now_ms; < 0: now), or a negative MILLE_EIO. */
MILLE_API long mille_dialogue_sessions(mille_dialogue *d, double now_ms, mille_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MILLE_DIALOGUE_H */
