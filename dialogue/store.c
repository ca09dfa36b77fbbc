/*
 * store.c - the SQLite connection of a mille_dialogue, and the session store: one row of the
 * table `sessions` per session id, so a session survives the process (mille-voice runs one
 * turn per process) and a server restart.
 *
 * Bounds (clients of `mille serve` choose their session ids, so ids cost must be bounded):
 *   - a session unused for ttl_ms is forgotten: it loads as new, and its row is deleted when
 *     the next new session is saved;
 *   - at most max rows: saving a new session first deletes the expired rows, then the least
 *     recently used ones until there is room. A row holds at most a few KiB (texts are
 *     capped: 512 bytes of request, 1 KiB of response, 16 slots of 1 KiB), so the default
 *     1000 sessions stay under a few MiB on disk and in SQLite's page cache (2 MiB).
 *   - turns of one session run one at a time: store_acquire waits while another turn holds
 *     the id. Without it two concurrent turns of one session would both load the state and
 *     the second save would undo the first. The set of held ids has one node per turn in
 *     progress, so it is bounded by the callers' threads.
 * Not here: several processes writing the same session at once (the CLI's turns are run one
 * after the other by their user; SQLite keeps each row consistent, the last save wins).
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlg.h"

/* ---- the connection ----------------------------------------------------------------------- */

int db_exec(db *d, const char *sql, char *err)
{
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, DLG_ERR, "sqlite: %s", msg ? msg : sqlite3_errmsg(d->h));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_open(db *d, const char *path, char *err)
{
    memset(d, 0, sizeof *d);
    /* FULLMUTEX: the serialized threading mode, whatever the library was built with */
    int rc =
        sqlite3_open_v2(path ? path : ":memory:", &d->h,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, DLG_ERR, "%s: %s",
                 path ? path : ":memory:", d->h ? sqlite3_errmsg(d->h) : "cannot open");
        sqlite3_close(d->h);
        d->h = NULL;
        return -1;
    }
    pthread_mutex_init(&d->mu, NULL);
    /* another process (a CLI turn, a second server) may hold the write lock briefly */
    sqlite3_busy_timeout(d->h, 2000);
    /* WAL with synchronous=NORMAL: a committed turn survives a crash of the process (not
     * necessarily of the machine), at a fraction of the fsyncs of the default */
    if (db_exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err) < 0) {
        db_close(d);
        return -1;
    }
    return 0;
}

void db_close(db *d)
{
    if (!d->h) return;
    sqlite3_close(d->h);
    d->h = NULL;
    pthread_mutex_destroy(&d->mu);
}

/* ---- held ids ----------------------------------------------------------------------------- */

typedef struct held {
    struct held *next;
    char id[MILLE_DIALOGUE_MAX_ID + 1];
} held;

struct store {
    db *d;
    double ttl_ms;
    size_t max;
    pthread_mutex_t mu;
    pthread_cond_t freed; /* an id was released */
    held *held;
};

store *store_open(db *d, double ttl_ms, size_t max, char *err)
{
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, DLG_ERR, "out of memory");
        return NULL;
    }
    s->d = d;
    s->ttl_ms = ttl_ms;
    s->max = max;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->freed, NULL);
    if (db_exec(d,
                "CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, pending TEXT, "
                "intent TEXT, scenario TEXT, missing TEXT, text TEXT, last_response TEXT, "
                "last_intent TEXT, last_scenario TEXT, slots TEXT, last_slots TEXT, "
                "updated_ms REAL);"
                "CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated_ms);",
                err) < 0) {
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(store *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->freed);
    free(s);
}

static held *held_find(store *s, const char *id)
{
    for (held *h = s->held; h; h = h->next)
        if (strcmp(h->id, id) == 0) return h;
    return NULL;
}

int store_acquire(store *s, const char *id, char *err)
{
    held *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, DLG_ERR, "out of memory");
        return -1;
    }
    snprintf(h->id, sizeof h->id, "%s", id);
    pthread_mutex_lock(&s->mu);
    while (held_find(s, id)) pthread_cond_wait(&s->freed, &s->mu);
    h->next = s->held;
    s->held = h;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void store_release(store *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    for (held **p = &s->held; *p; p = &(*p)->next)
        if (strcmp((*p)->id, id) == 0) {
            held *h = *p;
            *p = h->next;
            free(h);
            break;
        }
    pthread_cond_broadcast(&s->freed);
    pthread_mutex_unlock(&s->mu);
}

/* ---- rows --------------------------------------------------------------------------------- */

static char *slots_json(const kv *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_pack("[ss]", s[i].key, s[i].val));
    char *r = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return r;
}

static size_t slots_parse(const char *js, kv *s)
{
    json_t *a = json_loads(js ? js : "[]", 0, NULL);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(a) && n < DLG_MAX_SLOTS; i++) {
        const char *k = json_string_value(json_array_get(json_array_get(a, i), 0));
        const char *v = json_string_value(json_array_get(json_array_get(a, i), 1));
        if (k && v) {
            snprintf(s[n].key, sizeof s[n].key, "%s", k);
            snprintf(s[n].val, sizeof s[n].val, "%s", v);
            n++;
        }
    }
    json_decref(a);
    return n;
}

static void col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? t : "");
}

int store_load(store *s, const char *id, double now_ms, dlg_state *st, int *found, char *err)
{
    sqlite3_stmt *q;
    memset(st, 0, sizeof *st);
    *found = 0;
    pthread_mutex_lock(&s->d->mu);
    if (sqlite3_prepare_v2(s->d->h,
                           "SELECT pending, intent, scenario, missing, text, last_response, "
                           "last_intent, last_scenario, slots, last_slots, updated_ms FROM "
                           "sessions WHERE id = ?",
                           -1, &q, NULL) != SQLITE_OK) {
        snprintf(err, DLG_ERR, "sqlite (sessions): %s", sqlite3_errmsg(s->d->h));
        pthread_mutex_unlock(&s->d->mu);
        return -1;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW && now_ms - sqlite3_column_double(q, 10) <= s->ttl_ms) {
        *found = 1;
        col(q, 0, st->pending, sizeof st->pending);
        col(q, 1, st->intent, sizeof st->intent);
        col(q, 2, st->scenario, sizeof st->scenario);
        col(q, 3, st->missing, sizeof st->missing);
        col(q, 4, st->text, sizeof st->text);
        col(q, 5, st->last_response, sizeof st->last_response);
        col(q, 6, st->last_intent, sizeof st->last_intent);
        col(q, 7, st->last_scenario, sizeof st->last_scenario);
        st->n_slots = slots_parse((const char *)sqlite3_column_text(q, 8), st->slots);
        st->n_last = slots_parse((const char *)sqlite3_column_text(q, 9), st->last_slots);
        st->updated_ms = sqlite3_column_double(q, 10);
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->d->mu);
    return 0;
}

/* Make room for one new session at now_ms: drop the expired, then the least recently used
 * beyond max - 1. Called with d->mu held. */
static int prune(store *s, double now_ms, char *err)
{
    sqlite3_stmt *q = NULL;
    int ok = sqlite3_prepare_v2(s->d->h, "DELETE FROM sessions WHERE updated_ms < ?", -1, &q,
                                NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_double(q, 1, now_ms - s->ttl_ms);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    q = NULL;
    /* the newest max - 1 stay: LIMIT -1 OFFSET k is SQLite for "all after the first k" */
    if (ok)
        ok = sqlite3_prepare_v2(s->d->h,
                                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions "
                                "ORDER BY updated_ms DESC, id LIMIT -1 OFFSET ?)",
                                -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(q, 1, (sqlite3_int64)(s->max - 1));
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    if (!ok) snprintf(err, DLG_ERR, "sqlite (sessions): %s", sqlite3_errmsg(s->d->h));
    return ok ? 0 : -1;
}

int store_save(store *s, const char *id, const dlg_state *st, int is_new, char *err)
{
    sqlite3_stmt *q;
    char *js = slots_json(st->slots, st->n_slots), *jl = slots_json(st->last_slots, st->n_last);
    int rc = -1;
    pthread_mutex_lock(&s->d->mu);
    if (is_new && prune(s, st->updated_ms, err) < 0) goto out;
    if (sqlite3_prepare_v2(s->d->h,
                           "INSERT OR REPLACE INTO sessions(id, pending, intent, scenario, "
                           "missing, text, last_response, last_intent, last_scenario, slots, "
                           "last_slots, updated_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &q, NULL) == SQLITE_OK) {
        const char *v[] = {id,
                           st->pending,
                           st->intent,
                           st->scenario,
                           st->missing,
                           st->text,
                           st->last_response,
                           st->last_intent,
                           st->last_scenario,
                           js ? js : "[]",
                           jl ? jl : "[]"};
        for (int i = 0; i < 11; i++) sqlite3_bind_text(q, i + 1, v[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(q, 12, st->updated_ms);
        rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(q);
    }
    if (rc < 0) snprintf(err, DLG_ERR, "sqlite (sessions): %s", sqlite3_errmsg(s->d->h));
out:
    pthread_mutex_unlock(&s->d->mu);
    free(js);
    free(jl);
    return rc;
}

long store_count(store *s, double now_ms, char *err)
{
    sqlite3_stmt *q;
    long n = -1;
    pthread_mutex_lock(&s->d->mu);
    if (sqlite3_prepare_v2(s->d->h, "SELECT count(*) FROM sessions WHERE updated_ms >= ?", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_double(q, 1, now_ms - s->ttl_ms);
        if (sqlite3_step(q) == SQLITE_ROW) n = (long)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    if (n < 0) snprintf(err, DLG_ERR, "sqlite (sessions): %s", sqlite3_errmsg(s->d->h));
    pthread_mutex_unlock(&s->d->mu);
    return n;
}
