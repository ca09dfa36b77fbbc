/*
 * out.c - lines to stdout, or to a file written atomically at the end (see out.h).
 */
#include "out.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

out_buf out_open(const char *path)
{
    out_buf o = {path, NULL, 0, 0};
    return o;
}

static int to_stdout(const out_buf *o) { return strcmp(o->path, "-") == 0; }

int out_line(out_buf *o, const char *s)
{
    size_t n = strlen(s);
    if (to_stdout(o)) return fputs(s, stdout) < 0 || fputc('\n', stdout) < 0 ? -1 : 0;
    if (vec_reserve((void **)&o->buf, &o->cap, o->len + n + 2, 1)) return -1;
    memcpy(o->buf + o->len, s, n);
    o->buf[o->len + n] = '\n';
    o->len += n + 1;
    return 0;
}

int out_json(out_buf *o, json_t *j)
{
    char *line =
        j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    int rc = line ? out_line(o, line) : -1;
    free(line);
    return rc;
}

int out_massive(out_buf *o, const char *id, const char *locale, const char *partition,
                const char *scenario, const char *intent, const char *utt, size_t utt_len,
                const char *annot, size_t annot_len)
{
    json_t *j = json_object();
    if (!j) return -1;
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "locale", json_string(locale));
    json_object_set_new(j, "partition", json_string(partition));
    json_object_set_new(j, "scenario", json_string(scenario));
    json_object_set_new(j, "intent", json_string(intent));
    json_object_set_new(j, "utt", json_stringn(utt, utt_len));
    json_object_set_new(j, "annot_utt", json_stringn(annot, annot_len));
    return out_json(o, j);
}

int out_close(out_buf *o, mille_error *err)
{
    int rc = 0;
    if (to_stdout(o)) {
        if (fflush(stdout) != 0) rc = err_set(err, MILLE_EIO, "<stdout>: write failed");
    } else if (file_write_atomic(o->path, o->buf ? o->buf : "", o->len, err) < 0) {
        rc = -1;
    }
    out_discard(o);
    return rc < 0 ? -1 : 0;
}

void out_discard(out_buf *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
}
