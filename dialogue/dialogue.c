/*
 * dialogue.c - the dialogue manager: confidence tiers, required slots with follow-up
 * questions, confirmation, cancel and repeat, and context carried across the turns of a
 * session. Session state is one row of the `sessions` table in the skills' SQLite file, so a
 * session survives the process (each `mille-voice --session ID` call is one turn).
 *
 * A turn, in order:
 *   1. a pending question older than the timeout is forgotten;
 *   2. control words of the locale's language ("cancel", "repeat", and "yes"/"no" when a
 *      confirmation is pending) are handled without the NLU (MASSIVE has no such intents);
 *   3. a pending slot question takes the answer: the slot of that type if the NLU finds one,
 *      else the whole answer ("seven am"), unless the NLU is confident of a new request;
 *   4. otherwise the NLU's confidence picks a tier: below `confirm` -> fallback; a required
 *      slot missing -> ask (a slot of the same type from the session's last request in the
 *      same scenario is reused first: context); below `act` -> confirm; else act.
 * Not here: barge-in, multi-intent utterances, per-user state.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voice.h"

struct dlg {
    mille_session *nlu;
    skills *sk;
    sqlite3 *db;
    dlg_params p;
};

/* intents that cannot be done without a slot, and the slot */
static const struct {
    const char *intent, *slot;
} required[] = {
    {"alarm_set", "time"},
    {"calendar_set", "event_name"},
    {"lists_createoradd", "list_name"},
    {"lists_remove", "list_name"},
};

/* Control words by language (the locale's first two letters), matched against the whole
 * turn, lower-cased, without final punctuation. Languages missing here fall back to English
 * words only. */
typedef struct words {
    const char *lang, *cancel, *repeat, *yes, *no;
} words;
static const words control[] = {
    {"en", "|cancel|never mind|nevermind|stop|forget it|", "|repeat|repeat that|say that again|",
     "|yes|yeah|yep|sure|correct|right|ok|okay|yes please|do it|", "|no|nope|no thanks|wrong|"},
    {"de", "|abbrechen|vergiss es|stopp|", "|wiederholen|wiederhole das|noch einmal|",
     "|ja|genau|richtig|ok|okay|", "|nein|falsch|"},
    {"fr", "|annuler|annule|laisse tomber|stop|", "|répète|répéter|peux-tu répéter|",
     "|oui|d'accord|exact|ok|", "|non|"},
    {"es", "|cancelar|cancela|olvídalo|para|", "|repite|repetir|", "|sí|si|claro|vale|correcto|",
     "|no|"},
    {"it", "|annulla|lascia stare|stop|", "|ripeti|", "|sì|si|certo|ok|", "|no|"},
    {"pt", "|cancelar|cancela|esquece|", "|repete|repetir|", "|sim|claro|certo|", "|não|nao|"},
    {"nl", "|annuleren|annuleer|laat maar|stop|", "|herhaal|herhalen|", "|ja|klopt|oké|ok|",
     "|nee|"},
    {"ja", "|キャンセル|やめて|", "|もう一度|繰り返して|", "|はい|うん|そう|", "|いいえ|いや|"},
    {"zh", "|取消|算了|", "|再说一遍|重复|", "|是|是的|对|好|", "|不|不是|不对|"},
    {"ru", "|отмена|отменить|забудь|", "|повтори|", "|да|верно|", "|нет|"},
};

static const words *lang_words(const char *locale)
{
    for (size_t i = 0; i < sizeof control / sizeof *control; i++)
        if (locale && strncmp(locale, control[i].lang, 2) == 0) return &control[i];
    return &control[0];
}

/* "|a|b|" contains the whole of s? */
static int in_set(const char *set, const char *s)
{
    char pat[160];
    if (!*s || strlen(s) > 120) return 0;
    snprintf(pat, sizeof pat, "|%s|", s);
    return strstr(set, pat) != NULL;
}

static void normalize(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    while (*in == ' ') in++;
    for (; *in && o + 1 < cap; in++)
        out[o++] = (char)((unsigned char)*in < 0x80 ? tolower((unsigned char)*in) : *in);
    while (o > 0 && strchr(" .!?,", out[o - 1])) o--;
    out[o] = 0;
}

/* ---- session rows ------------------------------------------------------------------------ */

typedef struct state {
    char pending[16]; /* "", "confirm", "ask" */
    char intent[64], scenario[64], missing[64];
    char text[512]; /* the request being completed or confirmed */
    char last_response[1024];
    char last_intent[64], last_scenario[64]; /* the last request acted on (context) */
    kv slots[VOICE_MAX_SLOTS], last_slots[VOICE_MAX_SLOTS];
    size_t n_slots, n_last;
    double updated_ms;
} state;

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
    for (size_t i = 0; i < json_array_size(a) && n < VOICE_MAX_SLOTS; i++) {
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

static int load(dlg *d, const char *id, state *s, char *err)
{
    memset(s, 0, sizeof *s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db,
                           "SELECT pending, intent, scenario, missing, text, last_response, "
                           "last_intent, last_scenario, slots, last_slots, updated_ms FROM "
                           "sessions WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, VOICE_ERR, "sqlite (sessions): %s", sqlite3_errmsg(d->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        col(st, 0, s->pending, sizeof s->pending);
        col(st, 1, s->intent, sizeof s->intent);
        col(st, 2, s->scenario, sizeof s->scenario);
        col(st, 3, s->missing, sizeof s->missing);
        col(st, 4, s->text, sizeof s->text);
        col(st, 5, s->last_response, sizeof s->last_response);
        col(st, 6, s->last_intent, sizeof s->last_intent);
        col(st, 7, s->last_scenario, sizeof s->last_scenario);
        s->n_slots = slots_parse((const char *)sqlite3_column_text(st, 8), s->slots);
        s->n_last = slots_parse((const char *)sqlite3_column_text(st, 9), s->last_slots);
        s->updated_ms = sqlite3_column_double(st, 10);
    }
    sqlite3_finalize(st);
    return 0;
}

static int save(dlg *d, const char *id, const state *s, char *err)
{
    sqlite3_stmt *st;
    char *js = slots_json(s->slots, s->n_slots), *jl = slots_json(s->last_slots, s->n_last);
    int rc = -1;
    if (sqlite3_prepare_v2(d->db,
                           "INSERT OR REPLACE INTO sessions(id, pending, intent, scenario, "
                           "missing, text, last_response, last_intent, last_scenario, slots, "
                           "last_slots, updated_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) == SQLITE_OK) {
        const char *v[] = {id,
                           s->pending,
                           s->intent,
                           s->scenario,
                           s->missing,
                           s->text,
                           s->last_response,
                           s->last_intent,
                           s->last_scenario,
                           js ? js : "[]",
                           jl ? jl : "[]"};
        for (int i = 0; i < 11; i++) sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 12, s->updated_ms);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    if (rc < 0) snprintf(err, VOICE_ERR, "sqlite (sessions): %s", sqlite3_errmsg(d->db));
    free(js);
    free(jl);
    return rc;
}

/* ---- the turn ------------------------------------------------------------------------------- */

size_t dlg_slots(const mille_result *r, const char *text, kv *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_slots && n < cap; i++) {
        snprintf(out[n].key, sizeof out[n].key, "%s", r->slots[i].slot);
        tpl_clean(text + r->slots[i].start, r->slots[i].end - r->slots[i].start, out[n].val,
                  sizeof out[n].val);
        n++;
    }
    return n;
}

static const char *find_slot(const kv *s, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].key, key) == 0) return s[i].val;
    return NULL;
}

static const char *required_slot(const char *intent)
{
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (strcmp(required[i].intent, intent) == 0) return required[i].slot;
    return NULL;
}

static void add_slot(kv *s, size_t *n, const char *key, const char *val)
{
    if (*n >= VOICE_MAX_SLOTS) return;
    snprintf(s[*n].key, sizeof s[*n].key, "%s", key);
    tpl_clean(val, strlen(val), s[*n].val, sizeof s[*n].val);
    (*n)++;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void say(dlg_turn *t, const char *key, const kv *v, size_t n)
{
    int fb = 0;
    const char *tpl = tpl_get(t->locale, key, &fb);
    t->tpl_fallback |= fb;
    tpl_render(tpl ? tpl : key, v, n, t->response, sizeof t->response);
}

/* act on t->intent with t->slots through the skills */
static int act(dlg *d, dlg_turn *t, state *s, const char *text, char *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    skill_req rq = {t->locale, t->intent, t->scenario, text, t->slots, t->n_slots, t->now_ms};
    skill_resp rs;
    if (skills_handle(d->sk, &rq, &rs, err) < 0) return -1;
    t->skill_ms = ms_since(&t0);
    snprintf(t->action, sizeof t->action, "act");
    snprintf(t->response, sizeof t->response, "%s", rs.text);
    snprintf(t->skill, sizeof t->skill, "%s", rs.skill);
    t->tpl_fallback |= rs.tpl_fallback;
    s->pending[0] = 0;
    snprintf(s->last_intent, sizeof s->last_intent, "%s", t->intent);
    snprintf(s->last_scenario, sizeof s->last_scenario, "%s", t->scenario);
    memcpy(s->last_slots, t->slots, sizeof t->slots);
    s->n_last = t->n_slots;
    return 0;
}

/* a request with all its slots known: confirm or act; a missing slot: ask */
static int proceed(dlg *d, dlg_turn *t, state *s, const char *text, int confident, char *err)
{
    const char *need = required_slot(t->intent);
    if (need && !find_slot(t->slots, t->n_slots, need)) {
        /* context: the same slot from the last request of this scenario */
        const char *prev = strcmp(s->last_scenario, t->scenario) == 0
                               ? find_slot(s->last_slots, s->n_last, need)
                               : NULL;
        if (prev && strcmp(s->last_intent, t->intent) != 0) {
            add_slot(t->slots, &t->n_slots, need, prev);
        } else {
            snprintf(t->action, sizeof t->action, "ask");
            snprintf(s->pending, sizeof s->pending, "ask");
            snprintf(s->missing, sizeof s->missing, "%s", need);
            char key[80];
            snprintf(key, sizeof key, "ask.%s", need);
            say(t, key, NULL, 0);
            goto keep;
        }
    }
    if (!confident) {
        snprintf(t->action, sizeof t->action, "confirm");
        snprintf(s->pending, sizeof s->pending, "confirm");
        kv v[1] = {{"text", ""}};
        tpl_clean(text, strlen(text), v[0].val, sizeof v[0].val);
        say(t, "confirm", v, 1);
        goto keep;
    }
    return act(d, t, s, text, err);
keep: /* remember the request for the next turn */
    snprintf(s->intent, sizeof s->intent, "%s", t->intent);
    snprintf(s->scenario, sizeof s->scenario, "%s", t->scenario);
    snprintf(s->text, sizeof s->text, "%s", text);
    memcpy(s->slots, t->slots, sizeof t->slots);
    s->n_slots = t->n_slots;
    return 0;
}

static int parse(dlg *d, dlg_turn *t, mille_result *r, char *err)
{
    struct timespec t0;
    mille_error me;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = mille_parse(d->nlu, t->text, strlen(t->text), t->locale, r, &me);
    t->nlu_ms += ms_since(&t0);
    if (rc < 0) snprintf(err, VOICE_ERR, "nlu: %.500s", me.msg);
    return rc;
}

static void take(dlg_turn *t, const mille_result *r)
{
    snprintf(t->intent, sizeof t->intent, "%s", r->intent);
    snprintf(t->scenario, sizeof t->scenario, "%s", r->scenario);
    t->confidence = r->confidence;
    t->n_slots = dlg_slots(r, t->text, t->slots, VOICE_MAX_SLOTS);
}

int dlg_step(dlg *d, dlg_turn *t, char *err)
{
    state s;
    const char *id = t->session ? t->session : "";
    if (load(d, id, &s, err) < 0) return -1;
    t->action[0] = t->intent[0] = t->scenario[0] = t->response[0] = t->skill[0] = 0;
    t->n_slots = 0;
    t->confidence = 0;
    t->tpl_fallback = 0;
    t->nlu_ms = t->skill_ms = 0;
    if (s.pending[0] && t->now_ms - s.updated_ms > d->p.timeout_s * 1000) s.pending[0] = 0;

    char norm[256];
    normalize(t->text, norm, sizeof norm);
    const words *w = lang_words(t->locale);
    int is_cancel = in_set(w->cancel, norm) || in_set(control[0].cancel, norm);
    int is_repeat = in_set(w->repeat, norm) || in_set(control[0].repeat, norm);
    int rc = 0;
    mille_result r;
    if (is_repeat) {
        snprintf(t->action, sizeof t->action, "act");
        snprintf(t->intent, sizeof t->intent, "repeat");
        if (s.last_response[0])
            snprintf(t->response, sizeof t->response, "%s", s.last_response);
        else
            say(t, "nothing_to_repeat", NULL, 0);
        goto done; /* the pending question, if any, stays */
    }
    if (is_cancel) {
        snprintf(t->action, sizeof t->action, "act");
        snprintf(t->intent, sizeof t->intent, "cancel");
        say(t, s.pending[0] ? "cancelled" : "nothing_to_cancel", NULL, 0);
        s.pending[0] = 0;
        goto done;
    }
    if (strcmp(s.pending, "confirm") == 0 &&
        (in_set(w->yes, norm) || in_set(w->no, norm) || in_set(control[0].yes, norm) ||
         in_set(control[0].no, norm))) {
        snprintf(t->intent, sizeof t->intent, "%s", s.intent);
        snprintf(t->scenario, sizeof t->scenario, "%s", s.scenario);
        memcpy(t->slots, s.slots, sizeof s.slots);
        t->n_slots = s.n_slots;
        t->confidence = 1;
        if (in_set(w->yes, norm) || in_set(control[0].yes, norm)) {
            rc = act(d, t, &s, s.text, err);
        } else {
            snprintf(t->action, sizeof t->action, "act");
            say(t, "declined", NULL, 0);
            s.pending[0] = 0;
        }
        goto done;
    }
    if ((rc = parse(d, t, &r, err)) < 0) return rc;
    if (strcmp(s.pending, "ask") == 0) {
        /* the answer to "for what time?": a confident new request starts over; otherwise the
         * slot the NLU finds, or the whole answer, completes the pending request */
        int new_request = r.confidence >= d->p.act && strcmp(r.intent, s.intent) != 0;
        const char *val = NULL;
        kv found[VOICE_MAX_SLOTS];
        size_t nf = dlg_slots(&r, t->text, found, VOICE_MAX_SLOTS);
        val = find_slot(found, nf, s.missing);
        if (!new_request || val) {
            snprintf(t->intent, sizeof t->intent, "%s", s.intent);
            snprintf(t->scenario, sizeof t->scenario, "%s", s.scenario);
            memcpy(t->slots, s.slots, sizeof s.slots);
            t->n_slots = s.n_slots;
            t->confidence = r.confidence;
            add_slot(t->slots, &t->n_slots, s.missing, val ? val : t->text);
            rc = proceed(d, t, &s, s.text, 1, err);
            goto done;
        }
    }
    take(t, &r);
    s.pending[0] = 0;
    if (r.confidence < d->p.confirm) {
        snprintf(t->action, sizeof t->action, "fallback");
        say(t, "fallback", NULL, 0);
        goto done;
    }
    rc = proceed(d, t, &s, t->text, r.confidence >= d->p.act, err);
done:
    if (rc < 0) return rc;
    snprintf(s.last_response, sizeof s.last_response, "%s", t->response);
    s.updated_ms = t->now_ms;
    return t->session ? save(d, id, &s, err) : 0;
}

dlg *dlg_open(mille_session *nlu, skills *sk, const char *db, dlg_params p, char *err)
{
    (void)db; /* sessions share the skills' connection (one file, one writer) */
    dlg *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, VOICE_ERR, "out of memory");
        return NULL;
    }
    d->nlu = nlu;
    d->sk = sk;
    d->db = skills_db(sk);
    d->p = p;
    char *msg = NULL;
    if (sqlite3_exec(d->db,
                     "CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, pending TEXT, "
                     "intent TEXT, scenario TEXT, missing TEXT, text TEXT, last_response TEXT, "
                     "last_intent TEXT, last_scenario TEXT, slots TEXT, last_slots TEXT, "
                     "updated_ms REAL)",
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, VOICE_ERR, "sqlite (sessions): %s", msg ? msg : "error");
        sqlite3_free(msg);
        free(d);
        return NULL;
    }
    return d;
}

void dlg_close(dlg *d) { free(d); }
