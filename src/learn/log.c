/*
 * log.c - the interaction log of self-learning (learn.h): a writer of JSON lines, one turn
 * per line, with size rotation, and the reader the miner uses.
 *
 * A line holds exactly the fields of issue 11, so that any runtime can produce them:
 *
 *   {"session":"s1","user":"u7","time":1764680000.25,"locale":"en-US","text":"...",
 *    "intent":"alarm_set","confidence":0.93,
 *    "slots":[{"slot":"time","value":"five am","start":14,"end":21}],"outcome":"defect"}
 *
 * user, locale and outcome are optional; outcome is "success", "defect" or absent (unknown).
 * Nothing else is recorded (docs/learn.md: the privacy stance).
 *
 * Atomic appends: each line is formatted whole, then written with one write(2) on an
 * O_APPEND descriptor under the log's mutex; on Linux a write to a regular file is not
 * interleaved with other appenders' writes, so concurrent writers (threads, processes)
 * never mix lines. A short write (disk full) is reported, and the partial line is cut off by
 * the reader as malformed, never merged with the next one: each line begins after a '\n'.
 *
 * The reader is for hostile input: every field is type-checked, a bad line is reported as
 * FILE:LINE and skipped, never fatal.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "learn.h"

/* ---- writer ------------------------------------------------------------------------------ */

static int open_current(learn_log *lg, mille_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/turns.jsonl", lg->dir) >= (int)sizeof path)
        return err_set(err, MILLE_EINVAL, "%s: path too long", lg->dir);
    lg->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (lg->fd < 0) return err_set(err, MILLE_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(lg->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(lg->fd);
        lg->fd = -1;
        return err_set(err, MILLE_EIO, "%s: not a regular file", path);
    }
    lg->size = (size_t)st.st_size;
    return 0;
}

int learn_log_open(const char *dir, size_t max_bytes, learn_log **out, mille_error *err)
{
    if (!dir || !out) return err_set(err, MILLE_EINVAL, "learn_log_open: NULL argument");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, MILLE_EIO, "%s: not a directory", dir);
    learn_log *lg = calloc(1, sizeof *lg);
    if (!lg || !(lg->dir = strdup(dir))) {
        free(lg);
        return err_set(err, MILLE_ENOMEM, "out of memory");
    }
    lg->max_bytes = max_bytes ? max_bytes : LEARN_LOG_MAX_DEFAULT;
    int rc = open_current(lg, err);
    if (rc < 0) {
        free(lg->dir);
        free(lg);
        return rc;
    }
    pthread_mutex_init(&lg->mu, NULL);
    *out = lg;
    return 0;
}

/* Rename the current file to a fresh name and start a new one (under lg->mu). */
static int rotate(learn_log *lg, mille_error *err)
{
    char from[4096], to[4200], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(from, sizeof from, "%s/turns.jsonl", lg->dir);
    for (unsigned k = 0;; k++) {
        snprintf(to, sizeof to, "%s/turns-%s-%ld-%lu.jsonl", lg->dir, stamp, (long)getpid(),
                 lg->rotations + k);
        /* link + unlink never replaces an existing file, unlike rename */
        if (link(from, to) == 0) break;
        if (errno != EEXIST || k > 1000)
            return err_set(err, MILLE_EIO, "%s: cannot rotate to %s: %s", from, to,
                           strerror(errno));
    }
    lg->rotations++;
    unlink(from);
    close(lg->fd);
    return open_current(lg, err);
}

/* The slots array as `mille predict` prints it. */
static json_t *slots_json(const learn_turn_in *t)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->n_slots; i++) {
        const learn_slot_in *s = &t->slots[i];
        if (s->start > s->end || s->end > t->len) continue;
        json_array_append_new(a, json_pack("{s:s,s:s%,s:I,s:I}", "slot", s->slot, "value",
                                           t->text + s->start, s->end - s->start, "start",
                                           (json_int_t)s->start, "end", (json_int_t)s->end));
    }
    return a;
}

int learn_log_write(learn_log *lg, const learn_turn_in *t, mille_error *err)
{
    if (!lg || !t || !t->session || !t->text || t->len == 0)
        return err_set(err, MILLE_EINVAL, "a logged turn needs a session and a text");
    size_t bad;
    if (text_utf8_check(t->text, t->len, &bad) < 0)
        return err_set(err, MILLE_EUTF8, "invalid UTF-8 at byte %zu of the text", bad);
    double when = t->time;
    if (when <= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        when = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    json_t *j = json_object();
    json_object_set_new(j, "session", json_string(t->session));
    if (t->user) json_object_set_new(j, "user", json_string(t->user));
    json_object_set_new(j, "time", json_real(when));
    if (t->locale) json_object_set_new(j, "locale", json_string(t->locale));
    json_object_set_new(j, "text", json_stringn(t->text, t->len));
    json_object_set_new(j, "intent", json_string(t->intent ? t->intent : ""));
    json_object_set_new(j, "confidence", json_real(t->confidence));
    json_object_set_new(j, "slots", slots_json(t));
    if (t->outcome == LEARN_OUTCOME_SUCCESS || t->outcome == LEARN_OUTCOME_DEFECT)
        json_object_set_new(
            j, "outcome", json_string(t->outcome == LEARN_OUTCOME_SUCCESS ? "success" : "defect"));
    /* 17 significant digits: the time keeps its sub-millisecond part */
    char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!line) return err_set(err, MILLE_EINVAL, "the turn cannot be written as JSON");
    size_t n = strlen(line);
    line[n++] = '\n'; /* json_dumps' NUL becomes the newline: written as one piece */
    int rc = 0;
    pthread_mutex_lock(&lg->mu);
    if (lg->size > 0 && lg->size + n > lg->max_bytes) rc = rotate(lg, err);
    if (rc == 0 && lg->fd < 0) rc = open_current(lg, err);
    if (rc == 0) {
        ssize_t w;
        do w = write(lg->fd, line, n);
        while (w < 0 && errno == EINTR);
        if (w != (ssize_t)n)
            rc = err_set(err, MILLE_EIO, "%s/turns.jsonl: write: %s", lg->dir,
                         w < 0 ? strerror(errno) : "short write");
        if (w > 0) lg->size += (size_t)w;
    }
    pthread_mutex_unlock(&lg->mu);
    free(line);
    return rc;
}

void learn_log_close(learn_log *lg)
{
    if (!lg) return;
    if (lg->fd >= 0) close(lg->fd);
    pthread_mutex_destroy(&lg->mu);
    free(lg->dir);
    free(lg);
}

/* ---- reader ------------------------------------------------------------------------------ */

static int add_str(learn_turns *ts, const char *s, size_t n, uint32_t *off)
{
    return strstore_add(&ts->st, s, n, off);
}

/* Parse one line into ts; a message in why (and 1) when it is malformed, <0 on ENOMEM. */
static int parse_line(learn_turns *ts, const char *s, size_t n, uint32_t src, uint32_t line,
                      char *why, size_t why_n)
{
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(why, why_n, "not JSON: %s (column %d)", je.text, je.column);
        return 1;
    }
    const char *session, *text, *intent, *user = "", *locale = "", *outcome = NULL;
    size_t text_len;
    double when, conf;
    json_t *slots = NULL;
    int rc = 1;
    if (!json_is_object(j)) {
        snprintf(why, why_n, "not a JSON object");
    } else if (json_unpack_ex(j, &je, 0, "{s:s,s:F,s:s%,s:s,s:F,s?s,s?s,s?o,s?s}", "session",
                              &session, "time", &when, "text", &text, &text_len, "intent", &intent,
                              "confidence", &conf, "user", &user, "locale", &locale, "slots",
                              &slots, "outcome", &outcome) < 0) {
        snprintf(why, why_n, "%s", je.text);
    } else if (!isfinite(when) || when < 0) {
        snprintf(why, why_n, "time must be seconds since the epoch, got %g", when);
    } else if (!isfinite(conf) || conf < 0 || conf > 1) {
        snprintf(why, why_n, "confidence must be in [0, 1], got %g", conf);
    } else if (text_len == 0 || text_len >= UINT32_MAX || memchr(text, '\0', text_len)) {
        snprintf(why, why_n, "text must be a non-empty string without NUL");
    } else if (outcome && strcmp(outcome, "success") && strcmp(outcome, "defect")) {
        snprintf(why, why_n, "outcome must be \"success\" or \"defect\", got \"%.40s\"", outcome);
    } else if (slots && !json_is_array(slots)) {
        snprintf(why, why_n, "slots must be an array");
    } else {
        rc = 0;
    }
    size_t n_slots = slots ? json_array_size(slots) : 0;
    for (size_t i = 0; rc == 0 && i < n_slots; i++) {
        const char *sl, *v;
        if (json_unpack_ex(json_array_get(slots, i), &je, 0, "{s:s,s:s}", "slot", &sl, "value",
                           &v) < 0) {
            snprintf(why, why_n, "slots[%zu]: %s", i, je.text);
            rc = 1;
        }
    }
    if (rc == 0) {
        if (vec_reserve((void **)&ts->t, &ts->cap, ts->n + 1, sizeof *ts->t) < 0 ||
            vec_reserve((void **)&ts->sl, &ts->cap_sl, ts->n_sl + n_slots, sizeof *ts->sl) < 0) {
            json_decref(j);
            return MILLE_ENOMEM;
        }
        learn_turn *t = &ts->t[ts->n];
        memset(t, 0, sizeof *t);
        t->time = when;
        t->confidence = (float)conf;
        t->outcome = !outcome                     ? LEARN_OUTCOME_NONE
                     : strcmp(outcome, "success") ? LEARN_OUTCOME_DEFECT
                                                  : LEARN_OUTCOME_SUCCESS;
        t->text_len = (uint32_t)text_len;
        t->src = src;
        t->line = line;
        t->slot0 = (uint32_t)ts->n_sl;
        t->n_slots = (uint32_t)n_slots;
        int e = add_str(ts, session, strlen(session), &t->session) |
                add_str(ts, user, strlen(user), &t->user) |
                add_str(ts, locale, strlen(locale), &t->locale) |
                add_str(ts, text, text_len, &t->text) |
                add_str(ts, intent, strlen(intent), &t->intent);
        for (size_t i = 0; e == 0 && i < n_slots; i++) {
            json_t *o = json_array_get(slots, i);
            const char *sl = json_string_value(json_object_get(o, "slot"));
            json_t *v = json_object_get(o, "value");
            learn_slot *d = &ts->sl[ts->n_sl + i];
            e |= add_str(ts, sl, strlen(sl), &d->slot) |
                 add_str(ts, json_string_value(v), json_string_length(v), &d->value);
        }
        if (e) {
            json_decref(j);
            return MILLE_ENOMEM;
        }
        ts->n_sl += n_slots;
        ts->n++;
    }
    json_decref(j);
    return rc;
}

int learn_turns_parse(learn_turns *ts, const char *name, const char *buf, size_t n,
                      learn_on_bad on_bad, void *ud, mille_error *err)
{
    int64_t src = strtab_intern(&ts->srcs, name, strlen(name));
    if (src < 0) return err_set(err, MILLE_ENOMEM, "out of memory");
    uint32_t line = 0;
    char why[256], msg[512];
    for (size_t i = 0; i < n;) {
        const char *s = buf + i, *nl = memchr(s, '\n', n - i);
        size_t len = nl ? (size_t)(nl - s) : n - i;
        i += len + 1;
        if (line < UINT32_MAX) line++;
        while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        if (len == 0) continue;
        int rc = parse_line(ts, s, len, (uint32_t)src, line, why, sizeof why);
        if (rc < 0) return err_set(err, MILLE_ENOMEM, "%s:%u: out of memory", name, line);
        if (rc > 0) {
            ts->bad++;
            if (on_bad) {
                snprintf(msg, sizeof msg, "%s:%u: %s", name, line, why);
                on_bad(ud, msg);
            }
        }
    }
    return 0;
}

#define LOG_MAX_BYTES ((size_t)8 << 30)

int learn_turns_load(learn_turns *ts, const char *path, learn_on_bad on_bad, void *ud,
                     mille_error *err)
{
    char *buf;
    size_t len;
    int rc = file_read_gz(path, SIZE_MAX, LOG_MAX_BYTES, &buf, &len, err);
    if (rc < 0) return rc;
    rc = learn_turns_parse(ts, path, buf, len, on_bad, ud, err);
    free(buf);
    return rc;
}

void learn_turns_free(learn_turns *ts)
{
    if (!ts) return;
    strstore_free(&ts->st);
    free(ts->t);
    free(ts->sl);
    strtab_free(&ts->srcs);
    memset(ts, 0, sizeof *ts);
}
