/*
 * skills.c - routing of understood requests to skills, and the skills themselves.
 *
 * Routing: a declared skill (the --skills JSON file) for the intent wins; then the built-in
 * handler of the intent (table `builtin`); then every other request is answered, honestly,
 * that its scenario is not connected.
 *
 * Built-in skills keep their state in SQLite (one file, also holding dialogue sessions; each
 * handler runs with the connection's mutex held, so their statements do not interleave):
 * alarms (alarm_set/query/remove), reminders (calendar_set/query/remove), lists
 * (lists_createoradd/query/remove), and the date and time (datetime_query). MASSIVE does not
 * label list items, so an added item is stored as the whole utterance.
 *
 * Declared skills: {"skills": [{"intent": "...", "response": {"en-US": "template", ...},
 * "command": ["/abs/path", "arg {slot}", ...] or "webhook": "https://...", "timeout_ms":
 * 2000}]}. For a command, slots are substituted into each argv element by tpl_render (text
 * only) and it is run with execve: no shell, no PATH search, an empty environment, stdin from
 * /dev/null; its first line of stdout is {output} in the response template. A webhook gets
 * the request as JSON (webhook.c; slots are JSON strings, never substituted into anything)
 * and its answer's "text" is {output}. A command or hook that fails gives the locale's
 * "skill_failed" answer and the reason in skill_resp.error (docs/dialogue.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlg.h"

#define MAX_ARGV   32
#define OUTPUT_CAP 512

typedef struct declared {
    char intent[64];
    json_t *response; /* locale -> template */
    char *argv[MAX_ARGV];
    size_t argc;
    char *webhook; /* http(s) URL, or NULL */
    int timeout_ms;
} declared;

struct skills {
    db *d;
    sqlite3 *db; /* d->h */
    const tpl_table *tpl;
    declared *decl;
    size_t n_decl;
};

static const char *slot(const skill_req *r, const char *key)
{
    for (size_t i = 0; i < r->n_slots; i++)
        if (strcmp(r->slots[i].key, key) == 0) return r->slots[i].val;
    return NULL;
}

/* render the locale's template for key with vars into out */
static void say(const skills *s, skill_resp *out, const char *locale, const char *key,
                const kv *vars, size_t n)
{
    int fb = 0;
    const char *t = tpl_get(s->tpl, locale, key, &fb);
    out->tpl_fallback |= fb;
    tpl_render(t ? t : key, vars, n, out->text, sizeof out->text);
}

/* ---- built-in skills ------------------------------------------------------------------------ */

/* "7:00 AM" in the locale when the time was understood, else the words as said */
static void show_time(const char *locale, int minutes, const char *said, char *out, size_t cap)
{
    if (minutes >= 0)
        tpl_format_time(locale, minutes * 60000.0, out, cap);
    else
        out[0] = 0;
    if (!out[0]) snprintf(out, cap, "%.120s", said ? said : "");
}

/* rows of `sql` (one text column) joined with ", " into items; returns the count */
static int join_rows(sqlite3_stmt *st, char *items, size_t cap)
{
    int n = 0;
    size_t o = 0;
    items[0] = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        int w = snprintf(items + o, cap - o, "%s%s", n ? ", " : "", t ? t : "");
        if (w > 0 && (size_t)w < cap - o) o += (size_t)w;
        n++;
    }
    return n;
}

static int sk_alarm(skills *s, const skill_req *r, skill_resp *out, char *err)
{
    char shown[128], items[768], count[16];
    sqlite3_stmt *st = NULL;
    const char *t = slot(r, "time"), *d = slot(r, "date");
    int minutes = t ? tpl_parse_time(t) : -1;
    if (strcmp(r->intent, "alarm_set") == 0) {
        show_time(r->locale, minutes, t ? t : slot(r, "timeofday"), shown, sizeof shown);
        if (sqlite3_prepare_v2(s->db,
                               "INSERT INTO alarms(locale, minutes, shown, date, created_ms) "
                               "VALUES(?,?,?,?,?)",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, r->locale, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, minutes);
        sqlite3_bind_text(st, 3, shown, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, d ? d : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 5, r->now_ms);
        if (sqlite3_step(st) != SQLITE_DONE) goto fail;
        kv v[2] = {{"time", ""}, {"date", ""}};
        snprintf(v[0].val, sizeof v[0].val, "%s", shown);
        snprintf(v[1].val, sizeof v[1].val, "%s", d ? d : "");
        say(s, out, r->locale, "alarm_set.ok", v, 2);
    } else if (strcmp(r->intent, "alarm_query") == 0) {
        if (sqlite3_prepare_v2(s->db, "SELECT shown FROM alarms ORDER BY minutes, id", -1, &st,
                               NULL) != SQLITE_OK)
            goto fail;
        int n = join_rows(st, items, sizeof items);
        kv v[2] = {{"count", ""}, {"items", ""}};
        snprintf(v[0].val, sizeof v[0].val, "%d", n);
        snprintf(v[1].val, sizeof v[1].val, "%s", items);
        say(s, out, r->locale, n ? "alarm_query.list" : "alarm_query.none", v, 2);
    } else { /* alarm_remove: the alarm at the time said, or all of them */
        if (sqlite3_prepare_v2(s->db,
                               t ? "DELETE FROM alarms WHERE (minutes >= 0 AND minutes = ?) "
                                   "OR shown = ?"
                                 : "DELETE FROM alarms",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        if (t) {
            sqlite3_bind_int(st, 1, minutes);
            sqlite3_bind_text(st, 2, t, -1, SQLITE_TRANSIENT);
        }
        if (sqlite3_step(st) != SQLITE_DONE) goto fail;
        int n = sqlite3_changes(s->db);
        snprintf(count, sizeof count, "%d", n);
        kv v[1] = {{"count", ""}};
        snprintf(v[0].val, sizeof v[0].val, "%s", count);
        say(s, out, r->locale, n ? "alarm_remove.ok" : "alarm_remove.none", v, 1);
    }
    sqlite3_finalize(st);
    snprintf(out->skill, sizeof out->skill, "alarm");
    out->ok = 1;
    return 0;
fail:
    snprintf(err, DLG_ERR, "sqlite (alarms): %s", sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return -1;
}

static int sk_reminder(skills *s, const skill_req *r, skill_resp *out, char *err)
{
    char items[768];
    sqlite3_stmt *st = NULL;
    const char *ev = slot(r, "event_name"), *d = slot(r, "date"), *t = slot(r, "time");
    kv v[3] = {{"event", ""}, {"count", ""}, {"items", ""}};
    snprintf(v[0].val, sizeof v[0].val, "%s", ev ? ev : r->text);
    if (strcmp(r->intent, "calendar_set") == 0) {
        if (sqlite3_prepare_v2(s->db,
                               "INSERT INTO reminders(event, date, time, created_ms) "
                               "VALUES(?,?,?,?)",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, v[0].val, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, d ? d : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, t ? t : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 4, r->now_ms);
        if (sqlite3_step(st) != SQLITE_DONE) goto fail;
        say(s, out, r->locale, "calendar_set.ok", v, 1);
    } else if (strcmp(r->intent, "calendar_query") == 0) {
        if (sqlite3_prepare_v2(s->db,
                               "SELECT trim(event || ' ' || date || ' ' || time) FROM reminders "
                               "ORDER BY id",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        int n = join_rows(st, items, sizeof items);
        snprintf(v[1].val, sizeof v[1].val, "%d", n);
        snprintf(v[2].val, sizeof v[2].val, "%s", items);
        say(s, out, r->locale, n ? "calendar_query.list" : "calendar_query.none", v, 3);
    } else { /* calendar_remove: by event name, else by date, else nothing */
        const char *key = ev ? ev : d;
        if (sqlite3_prepare_v2(s->db,
                               ev ? "DELETE FROM reminders WHERE event = ?"
                                  : "DELETE FROM reminders WHERE date = ?",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, key ? key : "\x01", -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) goto fail;
        int n = sqlite3_changes(s->db);
        snprintf(v[1].val, sizeof v[1].val, "%d", n);
        say(s, out, r->locale, n ? "calendar_remove.ok" : "calendar_remove.none", v, 3);
    }
    sqlite3_finalize(st);
    snprintf(out->skill, sizeof out->skill, "reminders");
    out->ok = 1;
    return 0;
fail:
    snprintf(err, DLG_ERR, "sqlite (reminders): %s", sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return -1;
}

static int sk_lists(skills *s, const skill_req *r, skill_resp *out, char *err)
{
    char items[768];
    sqlite3_stmt *st = NULL;
    const char *l = slot(r, "list_name");
    kv v[3] = {{"list", ""}, {"count", ""}, {"items", ""}};
    snprintf(v[0].val, sizeof v[0].val, "%s", l ? l : "");
    if (strcmp(r->intent, "lists_createoradd") == 0) {
        if (sqlite3_prepare_v2(s->db,
                               "INSERT INTO list_items(list, item, created_ms) VALUES(?,?,?)", -1,
                               &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, v[0].val, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, r->text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 3, r->now_ms);
        if (sqlite3_step(st) != SQLITE_DONE) goto fail;
        say(s, out, r->locale, "lists_add.ok", v, 1);
    } else if (strcmp(r->intent, "lists_query") == 0) {
        if (sqlite3_prepare_v2(s->db,
                               l ? "SELECT item FROM list_items WHERE list = ? ORDER BY id"
                                 : "SELECT DISTINCT list FROM list_items ORDER BY list",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        if (l) sqlite3_bind_text(st, 1, l, -1, SQLITE_TRANSIENT);
        int n = join_rows(st, items, sizeof items);
        snprintf(v[1].val, sizeof v[1].val, "%d", n);
        snprintf(v[2].val, sizeof v[2].val, "%s", items);
        say(s, out, r->locale, n ? "lists_query.list" : "lists_query.none", v, 3);
    } else {
        if (sqlite3_prepare_v2(s->db, "DELETE FROM list_items WHERE list = ?", -1, &st, NULL) !=
            SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, v[0].val, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) goto fail;
        int n = sqlite3_changes(s->db);
        snprintf(v[1].val, sizeof v[1].val, "%d", n);
        say(s, out, r->locale, n ? "lists_remove.ok" : "lists_query.none", v, 2);
    }
    sqlite3_finalize(st);
    snprintf(out->skill, sizeof out->skill, "lists");
    out->ok = 1;
    return 0;
fail:
    snprintf(err, DLG_ERR, "sqlite (lists): %s", sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return -1;
}

static int sk_datetime(skills *s, const skill_req *r, skill_resp *out, char *err)
{
    (void)s;
    (void)err;
    kv v[2] = {{"time", ""}, {"date", ""}};
    tpl_format_time(r->locale, r->now_ms, v[0].val, sizeof v[0].val);
    tpl_format_date(r->locale, r->now_ms, v[1].val, sizeof v[1].val);
    /* "what day is it" has a date slot or asks for the day; everything else gets the time */
    int date = slot(r, "date") != NULL || strstr(r->text, "date") || strstr(r->text, "day");
    say(s, out, r->locale, date ? "datetime.date" : "datetime.time", v, 2);
    snprintf(out->skill, sizeof out->skill, "datetime");
    out->ok = 1;
    return 0;
}

static const struct {
    const char *intent;
    int (*fn)(skills *, const skill_req *, skill_resp *, char *);
} builtin[] = {
    {"alarm_set", sk_alarm},         {"alarm_query", sk_alarm},
    {"alarm_remove", sk_alarm},      {"calendar_set", sk_reminder},
    {"calendar_query", sk_reminder}, {"calendar_remove", sk_reminder},
    {"lists_createoradd", sk_lists}, {"lists_query", sk_lists},
    {"lists_remove", sk_lists},      {"datetime_query", sk_datetime},
};

/* ---- declared skills --------------------------------------------------------------------------
 */

/* Run argv (already substituted) with execve; the first line of its stdout goes to output. */
static int run_command(char *const argv[], int timeout_ms, char *output, size_t cap, char *err)
{
    int fd[2];
    output[0] = 0;
    if (pipe2(fd, O_CLOEXEC) < 0) {
        snprintf(err, DLG_ERR, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        snprintf(err, DLG_ERR, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 2);
        }
        dup2(fd[1], 1);
        char *const envp[] = {NULL};
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(fd[1]);
    size_t o = 0;
    char sink[256];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long left =
            timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {fd[0], POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n =
            o + 1 < cap ? read(fd[0], output + o, cap - 1 - o) : read(fd[0], sink, sizeof sink);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (o + 1 < cap) o += (size_t)n;
    }
    close(fd[0]);
    output[o] = 0;
    output[strcspn(output, "\n")] = 0;
    /* the child may close stdout and go on: wait for it only until the deadline */
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) break;
        struct timespec t1, nap = {0, 5 * 1000000};
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        nanosleep(&nap, NULL);
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, DLG_ERR, "%s: killed after %d ms", argv[0], timeout_ms);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, DLG_ERR, "%s: exit status %d", argv[0], WEXITSTATUS(status));
        return -1;
    }
    return 0;
}

/* A failed command or hook: the locale's "skill_failed" answer, and why (for logs and the
 * JSON reply, not for the user's ears). */
static int declared_failed(const skills *s, const skill_req *r, skill_resp *out, const char *why)
{
    kv v[1] = {{"intent", ""}};
    snprintf(v[0].val, sizeof v[0].val, "%s", r->intent);
    out->ok = 0;
    say(s, out, r->locale, "skill_failed", v, 1);
    tpl_clean(why, strlen(why), out->error, sizeof out->error);
    if (!out->error[0]) snprintf(out->error, sizeof out->error, "failed");
    return 0;
}

static int sk_declared(const skills *s, const declared *d, const skill_req *r, skill_resp *out)
{
    kv vars[DLG_MAX_SLOTS + 2];
    size_t nv = 0;
    for (size_t i = 0; i < r->n_slots && nv < DLG_MAX_SLOTS; i++) vars[nv++] = r->slots[i];
    kv *outv = &vars[nv++];
    snprintf(outv->key, sizeof outv->key, "output");
    outv->val[0] = 0;
    snprintf(vars[nv].key, sizeof vars[nv].key, "text");
    tpl_clean(r->text, strlen(r->text), vars[nv].val, sizeof vars[nv].val);
    nv++;
    snprintf(out->skill, sizeof out->skill, "declared");
    out->ok = 1;
    char output[OUTPUT_CAP], cerr[DLG_ERR];
    output[0] = 0;
    if (d->argc) {
        char bufs[MAX_ARGV][512];
        char *argv[MAX_ARGV + 1];
        for (size_t i = 0; i < d->argc; i++) {
            tpl_render(d->argv[i], vars, nv, bufs[i], sizeof bufs[i]);
            argv[i] = bufs[i];
        }
        argv[d->argc] = NULL;
        if (run_command(argv, d->timeout_ms, output, sizeof output, cerr) < 0)
            return declared_failed(s, r, out, cerr);
    } else if (d->webhook) {
        char *body = webhook_body(r);
        int rc = body ? webhook_call(d->webhook, body, d->timeout_ms, output, sizeof output, cerr)
                      : (snprintf(cerr, sizeof cerr, "out of memory"), -1);
        free(body);
        if (rc < 0) {
            char why[DLG_ERR + 16];
            snprintf(why, sizeof why, "webhook: %s", cerr);
            return declared_failed(s, r, out, why);
        }
    }
    tpl_clean(output, strlen(output), outv->val, sizeof outv->val);
    const char *t = NULL;
    json_t *j = json_object_get(d->response, r->locale);
    if (!j && (j = json_object_get(d->response, "en-US"))) out->tpl_fallback = 1;
    t = json_string_value(j);
    tpl_render(t ? t : "{output}", vars, nv, out->text, sizeof out->text);
    return 0;
}

static int load_declared(skills *s, const char *path, char *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    json_t *arr = json_object_get(root, "skills");
    if (!root) {
        snprintf(err, DLG_ERR, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_array(arr)) {
        snprintf(err, DLG_ERR, "%s: expected {\"skills\": [...]}", path);
        json_decref(root);
        return -1;
    }
    size_t n = json_array_size(arr);
    s->decl = calloc(n ? n : 1, sizeof *s->decl);
    if (!s->decl) {
        snprintf(err, DLG_ERR, "%s: out of memory", path);
        json_decref(root);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i), *cmd = json_object_get(e, "command");
        json_t *resp = json_object_get(e, "response"), *to = json_object_get(e, "timeout_ms");
        json_t *hook = json_object_get(e, "webhook");
        const char *intent = json_string_value(json_object_get(e, "intent"));
        declared *d = &s->decl[s->n_decl];
        if (!intent || strlen(intent) >= sizeof d->intent || (resp && !json_is_object(resp)) ||
            (cmd && (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
                     json_array_size(cmd) > MAX_ARGV)) ||
            (hook && !json_is_string(hook)) || (cmd && hook) || (!resp && !cmd && !hook) ||
            (to && (!json_is_integer(to) || json_integer_value(to) < 1 ||
                    json_integer_value(to) > 600000))) {
            snprintf(err, DLG_ERR,
                     "%s: skill %zu: needs \"intent\", and a \"response\" object and/or one of a "
                     "\"command\" array of 1..%d strings or a \"webhook\" URL string; "
                     "\"timeout_ms\" is 1..600000",
                     path, i, MAX_ARGV);
            json_decref(root);
            return -1;
        }
        snprintf(d->intent, sizeof d->intent, "%s", intent);
        d->timeout_ms = json_is_integer(to) ? (int)json_integer_value(to) : 2000;
        d->response = resp ? json_incref(resp) : json_object();
        s->n_decl++;
        if (hook) {
            const char *u = json_string_value(hook);
            if (!webhook_url_ok(u)) {
                snprintf(err, DLG_ERR,
                         "%s: skill %zu (%s): webhook must be an http:// or https:// URL without "
                         "spaces or control characters",
                         path, i, intent);
                json_decref(root);
                return -1;
            }
            if (!(d->webhook = strdup(u))) {
                snprintf(err, DLG_ERR, "%s: out of memory", path);
                json_decref(root);
                return -1;
            }
        }
        for (size_t k = 0; cmd && k < json_array_size(cmd); k++) {
            const char *a = json_string_value(json_array_get(cmd, k));
            if (!a || (k == 0 && (a[0] != '/' || strchr(a, '{')))) {
                snprintf(err, DLG_ERR,
                         "%s: skill %zu (%s): command element %zu must be a string, and the "
                         "program a fixed absolute path (no shell, no PATH search, no {slot})",
                         path, i, intent, k);
                json_decref(root);
                return -1;
            }
            if (!(d->argv[k] = strdup(a))) {
                snprintf(err, DLG_ERR, "%s: out of memory", path);
                json_decref(root);
                return -1;
            }
            d->argc++;
        }
    }
    json_decref(root);
    return 0;
}

/* ---- open, route, close -----------------------------------------------------------------------
 */

skills *skills_open(db *d, const tpl_table *tpl, const char *skill_file, char *err)
{
    skills *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, DLG_ERR, "out of memory");
        return NULL;
    }
    s->d = d;
    s->db = d->h;
    s->tpl = tpl;
    if (db_exec(d,
                "CREATE TABLE IF NOT EXISTS alarms(id INTEGER PRIMARY KEY, locale TEXT, "
                "minutes INTEGER, shown TEXT, date TEXT, created_ms REAL);"
                "CREATE TABLE IF NOT EXISTS reminders(id INTEGER PRIMARY KEY, event TEXT, "
                "date TEXT, time TEXT, created_ms REAL);"
                "CREATE TABLE IF NOT EXISTS list_items(id INTEGER PRIMARY KEY, list TEXT, "
                "item TEXT, created_ms REAL);",
                err) < 0) {
        skills_close(s);
        return NULL;
    }
    if (skill_file && load_declared(s, skill_file, err) < 0) {
        skills_close(s);
        return NULL;
    }
    return s;
}

int skills_handle(skills *s, const skill_req *r, skill_resp *out, char *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < s->n_decl; i++)
        if (strcmp(s->decl[i].intent, r->intent) == 0) return sk_declared(s, &s->decl[i], r, out);
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++)
        if (strcmp(builtin[i].intent, r->intent) == 0) {
            pthread_mutex_lock(&s->d->mu);
            int rc = builtin[i].fn(s, r, out, err);
            pthread_mutex_unlock(&s->d->mu);
            return rc;
        }
    kv v[1] = {{"scenario", ""}};
    snprintf(v[0].val, sizeof v[0].val, "%s", r->scenario ? r->scenario : r->intent);
    say(s, out, r->locale, "not_connected", v, 1);
    snprintf(out->skill, sizeof out->skill, "not_connected");
    return 0;
}

void skills_close(skills *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_decl; i++) {
        json_decref(s->decl[i].response);
        for (size_t k = 0; k < s->decl[i].argc; k++) free(s->decl[i].argv[k]);
        free(s->decl[i].webhook);
    }
    free(s->decl);
    free(s);
}
