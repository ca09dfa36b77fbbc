/*
 * dlg.h - internal interfaces of the dialogue library (include/mille_dialogue.h is the public
 * one): response templates (tpl.c), the SQLite connection and the session store (store.c),
 * skills (skills.c), webhooks (webhook.c); dialogue.c is the turn and the public functions.
 *
 * Prefixes: tpl_, db_, store_, skills_/skill_, webhook_. Functions returning int return 0 on
 * success and -1 on failure with a message in a char buffer of DLG_ERR bytes.
 */
#ifndef MILLE_DLG_H
#define MILLE_DLG_H

#include <pthread.h>
#include <stddef.h>

#include "mille_dialogue.h"

#define DLG_ERR       512
#define DLG_MAX_SLOTS MILLE_DIALOGUE_MAX_SLOTS

/* One named value (a slot, or a template variable): key and UTF-8 text. */
typedef struct kv {
    char key[64];
    char val[1024];
} kv;

/* ---- tpl.c: response templates ------------------------------------------------------------ */

/* Substitute {name} in tpl with the values of vars[0..n); unknown names become "", "{{" is
 * "{". Values are copied as text only: invalid UTF-8 becomes U+FFFD and control characters
 * become spaces. Writes at most cap bytes (truncated at a character boundary). */
void tpl_render(const char *tpl, const kv *vars, size_t n, char *out, size_t cap);
/* s[0..len) as valid, printable UTF-8 (see tpl_render). */
void tpl_clean(const char *s, size_t len, char *out, size_t cap);
/* 1 when s[0..len) is valid UTF-8 without control characters. */
int tpl_utf8_valid(const char *s, size_t len);

/* The response table (TSV: locale, key, template), read-only after load. */
typedef struct tpl_table tpl_table;
/* From a buffer (name is for messages), or a file. NULL with err on a bad line. */
tpl_table *tpl_parse(const char *buf, size_t len, const char *name, char *err);
tpl_table *tpl_load(const char *path, char *err);
void tpl_free(tpl_table *t);
/* The template for (locale, key): the locale's, else its language's (fr-CA -> fr-FR), else
 * en-US; *fallback is set to 1 when it is not the locale's own. NULL when no locale has it. */
const char *tpl_get(const tpl_table *t, const char *locale, const char *key, int *fallback);
/* Locale-aware date and time strings through ICU (CLDR patterns). */
void tpl_format_time(const char *locale, double epoch_ms, char *out, size_t cap);
void tpl_format_date(const char *locale, double epoch_ms, char *out, size_t cap);
/* Parse a spoken or written time of day ("seven am", "7:30 pm", "19:05", "noon") into
 * minutes after midnight; -1 when it is not understood. Numbers in words are English only. */
int tpl_parse_time(const char *s);

/* dialogue/responses.tsv, embedded at build time (tools/embed.sh) */
extern const unsigned char mille_dialogue_responses_tsv[];
extern const size_t mille_dialogue_responses_tsv_len;

/* ---- store.c: the database and the session store ------------------------------------------ */

/* One SQLite connection shared by the threads of a mille_dialogue. SQLite's serialized mode
 * makes each call safe; mu makes a group of statements (a load, a save with its pruning, a
 * skill's query) atomic with respect to the other threads. */
typedef struct db {
    struct sqlite3 *h;
    pthread_mutex_t mu;
} db;
int db_open(db *d, const char *path, char *err); /* NULL path: in memory */
void db_close(db *d);
int db_exec(db *d, const char *sql, char *err); /* without taking mu */

/* The state of one session between turns. */
typedef struct dlg_state {
    char pending[16]; /* "", "confirm", "ask" */
    char intent[64], scenario[64], missing[64];
    char text[512]; /* the request being completed or confirmed */
    char last_response[1024];
    char last_intent[64], last_scenario[64]; /* the last request acted on (context) */
    kv slots[DLG_MAX_SLOTS], last_slots[DLG_MAX_SLOTS];
    size_t n_slots, n_last;
    double updated_ms;
} dlg_state;

typedef struct store store;
/* Sessions in the table `sessions` of d: forgotten after ttl_ms unused, at most max kept. */
store *store_open(db *d, double ttl_ms, size_t max, char *err);
void store_close(store *s);
/* Wait until no other turn holds id, then hold it (turns of one session are serialized).
 * Memory: one small node per turn in progress. */
int store_acquire(store *s, const char *id, char *err);
void store_release(store *s, const char *id);
/* The state of id at now_ms (zeroed when absent or expired; *found says which). */
int store_load(store *s, const char *id, double now_ms, dlg_state *st, int *found, char *err);
/* Save the state of id (st->updated_ms is its time). A new id first drops the expired
 * sessions, then the least recently used ones over the bound. */
int store_save(store *s, const char *id, const dlg_state *st, int is_new, char *err);
/* Sessions not expired at now_ms, or -1. */
long store_count(store *s, double now_ms, char *err);

/* ---- skills.c ------------------------------------------------------------------------------ */

typedef struct skills skills;
/* A request routed to a skill. */
typedef struct skill_req {
    const char *locale, *intent, *scenario, *text, *session; /* session may be NULL */
    const kv *slots;
    size_t n_slots;
    double now_ms; /* the clock, injectable for tests */
} skill_req;
typedef struct skill_resp {
    char text[1024];
    char skill[32];   /* which handler answered ("alarm", "declared", "not_connected") */
    int tpl_fallback; /* the template came from another locale */
    int ok;           /* the skill did what was asked */
    char error[256];  /* why a declared skill failed ("" when it did not) */
} skill_resp;

/* d: the built-in skills' state (tables created here); tpl: the responses (borrowed);
 * skill_file: optional declarative file. */
skills *skills_open(db *d, const tpl_table *tpl, const char *skill_file, char *err);
/* Thread-safe. -1 only for a database error; a failing declared skill sets out->error and
 * answers with the locale's "skill_failed" template. */
int skills_handle(skills *s, const skill_req *r, skill_resp *out, char *err);
void skills_close(skills *s);

/* ---- webhook.c ----------------------------------------------------------------------------- */

#define WEBHOOK_MAX_REPLY (64 * 1024) /* bytes of a webhook's answer read at most */

/* Once per process, before threads use webhooks (curl_global_init). */
int webhook_global_init(char *err);
/* Is url one a webhook may have (http:// or https://, nothing else)? */
int webhook_url_ok(const char *url);
/* The JSON body POSTed to a hook for r (malloc'ed; NULL when out of memory). */
char *webhook_body(const skill_req *r);
/* Read the text out of a hook's answer (the response contract: a JSON object with a string
 * "text"); the text is cleaned as tpl_clean. Fuzzed (tests/fuzz/fuzz_webhook.c). */
int webhook_reply_text(const char *buf, size_t len, char *text, size_t cap, char *err);
/* POST body to url with a total timeout; fills text from the answer. -1 with err for every
 * failure: unreachable, timed out, a status other than 2xx (redirects are not followed), an
 * answer over WEBHOOK_MAX_REPLY bytes, or one that breaks the contract. */
int webhook_call(const char *url, const char *body, int timeout_ms, char *text, size_t cap,
                 char *err);

/* ---- dialogue.c ---------------------------------------------------------------------------- */

/* Slots of an NLU result as kv pairs (text cleaned as tpl_clean). */
size_t dlg_slots(const mille_result *r, const char *text, kv *out, size_t cap);

#endif
