/*
 * dialogue.c - the dialogue manager and the public functions of include/mille_dialogue.h:
 * confidence tiers, required slots with follow-up questions, confirmation, cancel and
 * repeat, and context carried across the turns of a session (whose state store.c keeps).
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlg.h"

struct mille_dialogue {
    mille_dialogue_params p; /* its strings are not kept */
    tpl_table *tpl;
    db db;
    store *st;
    skills *sk;
};

/* What one turn works with. */
typedef struct turn {
    mille_dialogue *d;
    mille_session *nlu;
    const char *session, *locale, *text; /* text: NUL-terminated copy of the request's */
    size_t len;
    double now_ms;
    mille_dialogue_reply *r;
    kv slots[DLG_MAX_SLOTS]; /* r->slots as kv, for the skills */
    long start[DLG_MAX_SLOTS], end[DLG_MAX_SLOTS];
    size_t n_slots;
} turn;

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

/* copy src into dst[cap], cut (if at all) at a UTF-8 character boundary */
static void set(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    memmove(dst, src, n);
    dst[n] = 0;
}
#define SET(dst, src) set(dst, sizeof dst, src)

/* a slot of the turn; [start, end) in this turn's text, or -1 when from an earlier turn */
static void add_slot(turn *t, const char *key, const char *val, long start, long end)
{
    if (t->n_slots >= DLG_MAX_SLOTS) return;
    SET(t->slots[t->n_slots].key, key);
    tpl_clean(val, strlen(val), t->slots[t->n_slots].val, sizeof t->slots[t->n_slots].val);
    t->start[t->n_slots] = start;
    t->end[t->n_slots] = end;
    t->n_slots++;
}

/* the slots of an earlier request (no offsets in this turn) */
static void set_slots(turn *t, const kv *s, size_t n)
{
    t->n_slots = 0;
    for (size_t i = 0; i < n; i++) add_slot(t, s[i].key, s[i].val, -1, -1);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void say(turn *t, const char *key, const kv *v, size_t n)
{
    int fb = 0;
    const char *tpl = tpl_get(t->d->tpl, t->locale, key, &fb);
    t->r->template_fallback |= fb;
    tpl_render(tpl ? tpl : key, v, n, t->r->response, sizeof t->r->response);
}

/* act on r->intent with t->slots through the skills */
static int act(turn *t, dlg_state *s, const char *text, char *err)
{
    struct timespec t0;
    mille_dialogue_reply *r = t->r;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    skill_req rq = {t->locale,  r->intent, r->scenario, text,
                    t->session, t->slots,  t->n_slots,  t->now_ms};
    skill_resp rs;
    if (skills_handle(t->d->sk, &rq, &rs, err) < 0) return -1;
    r->skill_ms = ms_since(&t0);
    /* a declared skill that failed answers with a fallback, and says why */
    SET(r->action, rs.error[0] ? "fallback" : "act");
    SET(r->response, rs.text);
    SET(r->skill, rs.skill);
    SET(r->skill_error, rs.error);
    r->template_fallback |= rs.tpl_fallback;
    s->pending[0] = 0;
    SET(s->last_intent, r->intent);
    SET(s->last_scenario, r->scenario);
    memcpy(s->last_slots, t->slots, sizeof t->slots);
    s->n_last = t->n_slots;
    return 0;
}

/* a request with all its slots known: confirm or act; a missing slot: ask */
static int proceed(turn *t, dlg_state *s, const char *text, int confident, char *err)
{
    mille_dialogue_reply *r = t->r;
    const char *need = required_slot(r->intent);
    if (need && !find_slot(t->slots, t->n_slots, need)) {
        /* context: the same slot from the last request of this scenario */
        const char *prev = strcmp(s->last_scenario, r->scenario) == 0
                               ? find_slot(s->last_slots, s->n_last, need)
                               : NULL;
        if (prev && strcmp(s->last_intent, r->intent) != 0) {
            add_slot(t, need, prev, -1, -1);
        } else {
            SET(r->action, "ask");
            SET(s->pending, "ask");
            SET(s->missing, need);
            char key[80];
            snprintf(key, sizeof key, "ask.%s", need);
            say(t, key, NULL, 0);
            goto keep;
        }
    }
    if (!confident) {
        SET(r->action, "confirm");
        SET(s->pending, "confirm");
        kv v[1] = {{"text", ""}};
        tpl_clean(text, strlen(text), v[0].val, sizeof v[0].val);
        say(t, "confirm", v, 1);
        goto keep;
    }
    return act(t, s, text, err);
keep: /* remember the request for the next turn */
    SET(s->intent, r->intent);
    SET(s->scenario, r->scenario);
    SET(s->text, text);
    memcpy(s->slots, t->slots, sizeof t->slots);
    s->n_slots = t->n_slots;
    return 0;
}

static int parse(turn *t, mille_result *res, mille_error *e)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = mille_parse(t->nlu, t->text, t->len, t->locale, res, e);
    t->r->nlu_ms += ms_since(&t0);
    return rc;
}

static void take(turn *t, const mille_result *res)
{
    SET(t->r->intent, res->intent);
    SET(t->r->scenario, res->scenario);
    t->r->confidence = res->confidence;
    t->n_slots = 0;
    for (size_t i = 0; i < res->n_slots && t->n_slots < DLG_MAX_SLOTS; i++) {
        const mille_slot *sl = &res->slots[i];
        char v[1024];
        tpl_clean(t->text + sl->start, sl->end - sl->start, v, sizeof v);
        add_slot(t, sl->slot, v, (long)sl->start, (long)sl->end);
    }
}

static int fail(mille_error *e, int code, const char *msg)
{
    if (e) {
        e->code = code;
        snprintf(e->msg, sizeof e->msg, "%s", msg);
    }
    return code;
}

/* One turn with the session's state s (loaded; saved by the caller). */
static int step(turn *t, dlg_state *s, mille_error *e)
{
    mille_dialogue_reply *r = t->r;
    mille_dialogue *d = t->d;
    char err[DLG_ERR] = "";
    int rc = 0;
    if (s->pending[0] && t->now_ms - s->updated_ms > d->p.timeout_s * 1000) s->pending[0] = 0;
    if (t->len == 0) { /* nothing heard: a fallback without the NLU; the state stays */
        SET(r->action, "fallback");
        say(t, "no_speech", NULL, 0);
        return 0;
    }

    char norm[256];
    normalize(t->text, norm, sizeof norm);
    const words *w = lang_words(t->locale);
    int is_cancel = in_set(w->cancel, norm) || in_set(control[0].cancel, norm);
    int is_repeat = in_set(w->repeat, norm) || in_set(control[0].repeat, norm);
    mille_result res;
    if (is_repeat) {
        SET(r->action, "act");
        SET(r->intent, "repeat");
        if (s->last_response[0])
            SET(r->response, s->last_response);
        else
            say(t, "nothing_to_repeat", NULL, 0);
        return 0; /* the pending question, if any, stays */
    }
    if (is_cancel) {
        SET(r->action, "act");
        SET(r->intent, "cancel");
        say(t, s->pending[0] ? "cancelled" : "nothing_to_cancel", NULL, 0);
        s->pending[0] = 0;
        return 0;
    }
    if (strcmp(s->pending, "confirm") == 0 &&
        (in_set(w->yes, norm) || in_set(w->no, norm) || in_set(control[0].yes, norm) ||
         in_set(control[0].no, norm))) {
        SET(r->intent, s->intent);
        SET(r->scenario, s->scenario);
        set_slots(t, s->slots, s->n_slots);
        r->confidence = 1;
        if (in_set(w->yes, norm) || in_set(control[0].yes, norm)) {
            rc = act(t, s, s->text, err);
        } else {
            SET(r->action, "act");
            say(t, "declined", NULL, 0);
            s->pending[0] = 0;
        }
        return rc < 0 ? fail(e, MILLE_EIO, err) : 0;
    }
    if ((rc = parse(t, &res, e)) < 0) return rc;
    if (strcmp(s->pending, "ask") == 0) {
        /* the answer to "for what time?": a confident new request starts over; otherwise the
         * slot the NLU finds, or the whole answer, completes the pending request */
        int new_request = res.confidence >= d->p.act && strcmp(res.intent, s->intent) != 0;
        const mille_slot *found = NULL;
        for (size_t i = 0; i < res.n_slots && !found; i++)
            if (strcmp(res.slots[i].slot, s->missing) == 0) found = &res.slots[i];
        if (!new_request || found) {
            SET(r->intent, s->intent);
            SET(r->scenario, s->scenario);
            set_slots(t, s->slots, s->n_slots);
            r->confidence = res.confidence;
            char v[1024];
            size_t a = found ? found->start : 0, b = found ? found->end : t->len;
            tpl_clean(t->text + a, b - a, v, sizeof v);
            add_slot(t, s->missing, v, (long)a, (long)b);
            char text[sizeof s->text];
            SET(text, s->text);
            rc = proceed(t, s, text, 1, err);
            return rc < 0 ? fail(e, MILLE_EIO, err) : 0;
        }
    }
    take(t, &res);
    s->pending[0] = 0;
    if (res.confidence < d->p.confirm) {
        SET(r->action, "fallback"); /* intent, confidence, slots: the NLU's best guess */
        say(t, "fallback", NULL, 0);
        return 0;
    }
    rc = proceed(t, s, t->text, res.confidence >= d->p.act, err);
    return rc < 0 ? fail(e, MILLE_EIO, err) : 0;
}

/* local wall-clock time as ms since the epoch, so ICU formats it in UTC as local time */
static double wall_ms(void)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    return ((double)now + (double)tm.tm_gmtoff) * 1000.0;
}

int mille_dialogue_turn(mille_dialogue *d, mille_session *nlu, const mille_dialogue_request *q,
                        mille_dialogue_reply *out, mille_error *err)
{
    mille_error local;
    if (!err) err = &local;
    err->code = 0;
    err->msg[0] = 0;
    if (!d || !nlu || !q || !out || (!q->text && q->len))
        return fail(err, MILLE_EINVAL, "mille_dialogue_turn: NULL argument");
    memset(out, 0, sizeof *out);
    if (q->session) {
        size_t n = strlen(q->session);
        if (n == 0 || n > MILLE_DIALOGUE_MAX_ID || !tpl_utf8_valid(q->session, n)) {
            snprintf(err->msg, sizeof err->msg,
                     "session id: %zu bytes; it must be 1..%d bytes of UTF-8 without control "
                     "characters",
                     n, MILLE_DIALOGUE_MAX_ID);
            err->code = MILLE_EINVAL;
            return MILLE_EINVAL;
        }
    }
    if (q->locale && (strlen(q->locale) >= sizeof out->locale ||
                      !tpl_utf8_valid(q->locale, strlen(q->locale)))) {
        snprintf(err->msg, sizeof err->msg,
                 "locale: at most %zu bytes of UTF-8 without control characters",
                 sizeof out->locale - 1);
        err->code = MILLE_EINVAL;
        return MILLE_EINVAL;
    }
    const char *nul = q->len ? memchr(q->text, 0, q->len) : NULL;
    if (nul) {
        snprintf(err->msg, sizeof err->msg, "text holds a NUL byte at offset %zu",
                 (size_t)(nul - q->text));
        err->code = MILLE_EINVAL;
        return MILLE_EINVAL;
    }
    turn *t = calloc(1, sizeof *t);
    char *text = malloc(q->len + 1);
    if (!t || !text) {
        free(t);
        free(text);
        return fail(err, MILLE_ENOMEM, "out of memory");
    }
    if (q->len) memcpy(text, q->text, q->len);
    text[q->len] = 0;
    t->d = d;
    t->nlu = nlu;
    t->session = q->session;
    /* no locale: the model's language-identification head picks it (then the response is in
     * the user's language), else en-US as before */
    t->locale = q->locale && strcmp(q->locale, MILLE_LOCALE_AUTO) != 0 ? q->locale : "en-US";
    if (!q->locale || strcmp(q->locale, MILLE_LOCALE_AUTO) == 0) {
        mille_locale_score best;
        mille_error ie;
        if (q->len && mille_identify(nlu, text, q->len, &best, 1, &ie) == 1 && best.locale)
            t->locale = best.locale;
    }
    t->text = text;
    t->len = q->len;
    t->now_ms = q->now_ms >= 0 ? q->now_ms : wall_ms();
    t->r = out;
    SET(out->locale, t->locale);

    dlg_state *s = malloc(sizeof *s);
    char msg[DLG_ERR] = "";
    int found = 0, rc = 0, held = 0;
    if (!s) {
        rc = fail(err, MILLE_ENOMEM, "out of memory");
        goto out;
    }
    memset(s, 0, sizeof *s);
    if (q->session) {
        if (store_acquire(d->st, q->session, msg) < 0) {
            rc = fail(err, MILLE_ENOMEM, msg);
            goto out;
        }
        held = 1;
        if (store_load(d->st, q->session, t->now_ms, s, &found, msg) < 0) {
            rc = fail(err, MILLE_EIO, msg);
            goto out;
        }
    }
    if ((rc = step(t, s, err)) < 0) goto out;
    for (size_t i = 0; i < t->n_slots; i++) {
        SET(out->slots[i].slot, t->slots[i].key);
        SET(out->slots[i].value, t->slots[i].val);
        out->slots[i].start = t->start[i];
        out->slots[i].end = t->end[i];
    }
    out->n_slots = t->n_slots;
    if (q->session) {
        SET(s->last_response, out->response);
        s->updated_ms = t->now_ms;
        if (store_save(d->st, q->session, s, !found, msg) < 0) rc = fail(err, MILLE_EIO, msg);
    }
out:
    if (held) store_release(d->st, q->session);
    free(s);
    free(text);
    free(t);
    return rc;
}

/* ---- open, free, JSON ------------------------------------------------------------------------ */

mille_dialogue_params mille_dialogue_default_params(void)
{
    mille_dialogue_params p = {NULL, NULL, NULL, 0.6f, 0.3f, 60, 3600, 1000};
    return p;
}

int mille_dialogue_open(const mille_dialogue_params *p, mille_dialogue **out, mille_error *err)
{
    char msg[DLG_ERR] = "";
    mille_dialogue_params dp = p ? *p : mille_dialogue_default_params();
    *out = NULL;
    if (!(dp.confirm >= 0 && dp.confirm <= dp.act && dp.act <= 1) || !(dp.timeout_s >= 0) ||
        !(dp.session_ttl_s >= 0) || dp.max_sessions == 0) {
        snprintf(msg, sizeof msg,
                 "dialogue params: need 0 <= confirm (%g) <= act (%g) <= 1, timeouts >= 0, "
                 "max_sessions >= 1",
                 (double)dp.confirm, (double)dp.act);
        return fail(err, MILLE_EINVAL, msg);
    }
    mille_dialogue *d = calloc(1, sizeof *d);
    if (!d) return fail(err, MILLE_ENOMEM, "out of memory");
    d->p = dp;
    d->p.db = d->p.skills = d->p.responses = NULL;
    int code = MILLE_EIO;
    if (webhook_global_init(msg) < 0) goto fail;
    d->tpl = dp.responses ? tpl_load(dp.responses, msg)
                          : tpl_parse((const char *)mille_dialogue_responses_tsv,
                                      mille_dialogue_responses_tsv_len, "responses.tsv", msg);
    if (!d->tpl) {
        code = strstr(msg, "expected") ? MILLE_EFORMAT : MILLE_EIO;
        goto fail;
    }
    if (db_open(&d->db, dp.db, msg) < 0) goto fail;
    if (!(d->st = store_open(&d->db, dp.session_ttl_s * 1000, dp.max_sessions, msg))) goto fail;
    if (!(d->sk = skills_open(&d->db, d->tpl, dp.skills, msg))) {
        code = strstr(msg, "sqlite") || strstr(msg, "unable to open") ? MILLE_EIO : MILLE_EFORMAT;
        goto fail;
    }
    *out = d;
    return 0;
fail:
    mille_dialogue_free(d);
    return fail(err, code, msg);
}

void mille_dialogue_free(mille_dialogue *d)
{
    if (!d) return;
    skills_close(d->sk);
    store_close(d->st);
    db_close(&d->db);
    tpl_free(d->tpl);
    free(d);
}

long mille_dialogue_sessions(mille_dialogue *d, double now_ms, mille_error *err)
{
    char msg[DLG_ERR];
    if (!d) return fail(err, MILLE_EINVAL, "mille_dialogue_sessions: NULL dialogue");
    long n = store_count(d->st, now_ms >= 0 ? now_ms : wall_ms(), msg);
    return n < 0 ? fail(err, MILLE_EIO, msg) : n;
}

char *mille_dialogue_reply_json(const mille_dialogue_reply *r, const char *session)
{
    json_t *slots = json_array(), *o = json_object();
    int bad = !slots || !o;
    for (size_t i = 0; i < r->n_slots && !bad; i++) {
        const mille_dialogue_slot *s = &r->slots[i];
        json_t *sl = json_pack("{s:s,s:s}", "slot", s->slot, "value", s->value);
        if (sl && s->start >= 0) {
            json_object_set_new(sl, "start", json_integer(s->start));
            json_object_set_new(sl, "end", json_integer(s->end));
        }
        bad = json_array_append_new(slots, sl) != 0;
    }
    if (bad) {
        json_decref(slots);
        json_decref(o);
        return NULL;
    }
    /* every string here is valid UTF-8 (cleaned, or from the model and the tables) */
    bad |= json_object_set_new(o, "intent", json_string(r->intent));
    bad |= json_object_set_new(o, "scenario", json_string(r->scenario));
    bad |= json_object_set_new(o, "confidence",
                               json_real(isfinite(r->confidence) ? r->confidence : 0));
    bad |= json_object_set_new(o, "slots", slots);
    bad |= json_object_set_new(o, "action", json_string(r->action));
    bad |= json_object_set_new(o, "response", json_string(r->response));
    bad |= json_object_set_new(o, "locale", json_string(r->locale));
    bad |= json_object_set_new(o, "skill", json_string(r->skill));
    bad |= json_object_set_new(o, "template_fallback", json_boolean(r->template_fallback));
    if (r->skill_error[0])
        bad |= json_object_set_new(o, "skill_error", json_string(r->skill_error));
    if (session) bad |= json_object_set_new(o, "session", json_string(session));
    char *js = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    return js;
}
