/*
 * convert.c - the example set every format converts through, MASSIVE JSONL in and out, and
 * Rasa's inline entity annotations ("[five am](time)") in and out (see convert.h). The YAML
 * around Rasa's examples is convert_rasa.c, the Snips dataset convert_snips.c.
 *
 * MASSIVE labels words, not bytes: an entity of another format that starts or ends inside a
 * word ("[New York](city)'s") has no MASSIVE form, and such an example is skipped with a
 * message. Rasa's annotation syntax has no escapes: a text whose brackets would read back as
 * an annotation cannot be written, which is found by reading every written line back.
 */
#include "convert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "data.h"

/* ---- the example set --------------------------------------------------------------------- */

void conv_free(conv_set *cs)
{
    if (!cs) return;
    free(cs->ex);
    free(cs->spans);
    strstore_free(&cs->str);
    memset(cs, 0, sizeof *cs);
}

int conv_add(conv_set *cs, const char *intent, size_t intent_len, const char *scenario,
             size_t scenario_len, const char *text, size_t len, const conv_span_in *spans,
             size_t n_spans, const char *src, uint32_t line, mille_error *err)
{
    if (len > UINT32_MAX / 2 || cs->n_spans + n_spans > UINT32_MAX / 2)
        return err_set(err, MILLE_ERANGE, "example too large");
    for (size_t k = 0; k < n_spans; k++)
        MILLE_ASSERT(spans[k].start < spans[k].end && spans[k].end <= len &&
                     (k == 0 || spans[k - 1].end <= spans[k].start));
    if (vec_reserve((void **)&cs->ex, &cs->cap, cs->n + 1, sizeof *cs->ex) ||
        vec_reserve((void **)&cs->spans, &cs->cap_spans, cs->n_spans + n_spans, sizeof *cs->spans))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    conv_example *e = &cs->ex[cs->n];
    e->scenario = CONV_NONE;
    if (strstore_add(&cs->str, intent, intent_len, &e->intent) ||
        (scenario && strstore_add(&cs->str, scenario, scenario_len, &e->scenario)) ||
        strstore_add(&cs->str, text, len, &e->text))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    /* one copy of the source's name for a run of examples from it */
    if (cs->n && strcmp(conv_str(cs, cs->ex[cs->n - 1].src), src) == 0)
        e->src = cs->ex[cs->n - 1].src;
    else if (strstore_add(&cs->str, src, strlen(src), &e->src))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    e->len = (uint32_t)len;
    e->span0 = (uint32_t)cs->n_spans;
    e->n_spans = (uint32_t)n_spans;
    e->line = line;
    for (size_t k = 0; k < n_spans; k++) {
        conv_span *s = &cs->spans[cs->n_spans + k];
        s->start = (uint32_t)spans[k].start;
        s->end = (uint32_t)spans[k].end;
        if (strstore_add(&cs->str, spans[k].name, spans[k].name_len, &s->name))
            return err_set(err, MILLE_ENOMEM, "out of memory");
    }
    cs->n_spans += n_spans;
    cs->n++;
    return 0;
}

void conv_where(const conv_set *cs, size_t i, char *buf, size_t cap)
{
    const conv_example *e = &cs->ex[i];
    if (e->line)
        snprintf(buf, cap, "%s:%u", conv_str(cs, e->src), e->line);
    else
        snprintf(buf, cap, "%s, example %zu", conv_str(cs, e->src), i + 1);
}

static int report(conv_set *cs, mille_error *err, size_t *count, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int report(conv_set *cs, mille_error *err, size_t *count, const char *fmt, va_list ap)
{
    char msg[sizeof err->msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (cs->strict) return err_set(err, MILLE_EFORMAT, "%s", msg);
    (*count)++;
    if (cs->on_note) cs->on_note(cs->ud, msg);
    return 0;
}

int conv_skip(conv_set *cs, mille_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report(cs, err, &cs->n_skipped, fmt, ap);
    va_end(ap);
    return rc;
}

int conv_lossy(conv_set *cs, mille_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report(cs, err, &cs->n_lossy, fmt, ap);
    va_end(ap);
    return rc;
}

int conv_buf_add(conv_buf *b, const char *s, size_t n)
{
    if (vec_reserve((void **)&b->p, &b->cap, b->len + n + 1, 1)) return MILLE_ENOMEM;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* ---- MASSIVE ----------------------------------------------------------------------------- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The slots of annot as byte spans of utt: annot is utt with "[name : " and "]" inserted
 * (and, in ja/zh, spaces around them), so the two are walked together, whitespace skipped
 * in both. spans has room for annot_len / 4 entries (a slot takes at least "[a : b]").
 * Returns the number of spans, or -1 when the two do not match. */
static long massive_spans(const char *utt, size_t ulen, const char *annot, size_t alen,
                          conv_span_in *spans)
{
    size_t u = 0, i = 0, n = 0;
    long start = -1;
    int in_slot = 0;
    while (i < alen) {
        char c = annot[i];
        if (c == '[' && !in_slot) {
            const char *sep = NULL;
            for (size_t k = i + 1; k + 2 < alen && !sep; k++)
                if (annot[k] == ' ' && annot[k + 1] == ':' && annot[k + 2] == ' ') sep = annot + k;
            if (!sep) return -1;
            spans[n].name = annot + i + 1;
            spans[n].name_len = (size_t)(sep - annot) - i - 1;
            i = (size_t)(sep - annot) + 3;
            in_slot = 1;
            start = -1;
        } else if (c == ']' && in_slot) {
            in_slot = 0;
            i++;
            if (start >= 0) { /* an empty slot is dropped */
                spans[n].start = (size_t)start;
                spans[n].end = u;
                n++;
            }
        } else if (is_space(c)) {
            i++;
        } else {
            while (u < ulen && is_space(utt[u])) u++;
            if (u >= ulen || utt[u] != c) return -1;
            if (in_slot && start < 0) start = (long)u;
            u++, i++;
        }
    }
    while (u < ulen && is_space(utt[u])) u++;
    return in_slot || u != ulen ? -1 : (long)n;
}

int conv_read_massive(conv_set *cs, const char *path, const char *locale, const char *partitions,
                      mille_error *err)
{
    data_set ds;
    memset(&ds, 0, sizeof ds);
    data_opts o = data_default_opts();
    o.mode = DATA_GOLD;
    o.locales = locale;
    o.partitions = partitions;
    o.strict = 1;
    int rc = data_load(&ds, path, &o, err);
    conv_span_in *spans = NULL;
    size_t cap = 0;
    for (size_t i = 0; rc == 0 && i < ds.n; i++) {
        const data_record *r = &ds.recs[i];
        const char *src = strtab_str(&ds.srcs, r->src);
        if (vec_reserve((void **)&spans, &cap, r->annot_len / 4 + 1, sizeof *spans)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        long n = massive_spans(data_str(&ds, r->utt), r->utt_len, data_str(&ds, r->annot),
                               r->annot_len, spans);
        if (n < 0) {
            rc = conv_skip(cs, err, "%s:%u: annot_utt does not match utt", src, r->line);
            continue;
        }
        const char *sc = strtab_str(&ds.scenarios, r->scenario),
                   *in = strtab_str(&ds.intents, r->intent);
        rc = conv_add(cs, in, strlen(in), *sc ? sc : NULL, strlen(sc), data_str(&ds, r->utt),
                      r->utt_len, spans, (size_t)n, src, r->line, err);
    }
    free(spans);
    data_free(&ds);
    return rc;
}

/* The scenario MASSIVE files an intent under: its own, else the intent's part before the
 * first '_' (MASSIVE names intents scenario_action: alarm_set), else the intent. */
static void scenario_of(const conv_set *cs, const conv_example *e, const char **s, size_t *n)
{
    if (e->scenario != CONV_NONE) {
        *s = conv_str(cs, e->scenario);
        *n = strlen(*s);
        return;
    }
    *s = conv_str(cs, e->intent);
    const char *us = strchr(*s, '_');
    *n = us && us > *s ? (size_t)(us - *s) : strlen(*s);
}

/* 1 if [start, end) begins and ends on word boundaries of MASSIVE's words of the text. */
static int on_words(const annot_word *w, size_t nw, size_t start, size_t end)
{
    int s = 0, e = 0;
    for (size_t k = 0; k < nw; k++) {
        s |= w[k].start == start;
        e |= w[k].end == end;
    }
    return s && e;
}

int conv_write_massive(conv_set *cs, const char *locale, conv_buf *out, mille_error *err)
{
    int split = annot_char_split(locale, strlen(locale));
    conv_buf annot = {0};
    annot_word *words = NULL;
    size_t cap = 0, written = 0;
    annot_scratch scratch = {0};
    int rc = 0;
    for (size_t i = 0; i < cs->n && rc == 0; i++) {
        const conv_example *e = &cs->ex[i];
        const char *t = conv_str(cs, e->text), *in = conv_str(cs, e->intent);
        const conv_span *sp = e->n_spans ? cs->spans + e->span0 : NULL; /* spans may be NULL */
        size_t need = e->len + 1;
        annot.len = 0;
        if (vec_reserve((void **)&words, &cap, need, sizeof *words)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        /* the spans must start and end where MASSIVE's words do */
        int nw = annot_words(t, e->len, split, words, &scratch, NULL);
        size_t bad = e->n_spans;
        for (size_t k = 0; nw >= 0 && k < e->n_spans && bad == e->n_spans; k++)
            if (!on_words(words, (size_t)nw, sp[k].start, sp[k].end)) bad = k;
        char place[300];
        conv_where(cs, i, place, sizeof place);
        if (nw < 0 || e->len == 0 || memchr(t, '[', e->len) || memchr(t, ']', e->len)) {
            rc = conv_skip(cs, err,
                           "%s: \"%.60s\" cannot be a MASSIVE utt (annot_utt has no escape for "
                           "'[' and ']')",
                           place, t);
            continue;
        }
        if (bad < e->n_spans) {
            rc = conv_skip(cs, err,
                           "%s: entity %s \"%.*s\" starts or ends inside a word; MASSIVE labels "
                           "whole words",
                           place, conv_str(cs, sp[bad].name), (int)(sp[bad].end - sp[bad].start),
                           t + sp[bad].start);
            continue;
        }
        size_t at = 0;
        int bad_alloc = 0;
        for (size_t k = 0; k < e->n_spans; k++) {
            const char *name = conv_str(cs, sp[k].name);
            bad_alloc |= conv_buf_add(&annot, t + at, sp[k].start - at);
            if (split && annot.len && !is_space(annot.p[annot.len - 1]))
                bad_alloc |= conv_buf_add(&annot, " ", 1);
            bad_alloc |= conv_buf_add(&annot, "[", 1) | conv_buf_add(&annot, name, strlen(name)) |
                         conv_buf_add(&annot, " : ", 3) |
                         conv_buf_add(&annot, t + sp[k].start, sp[k].end - sp[k].start) |
                         conv_buf_add(&annot, "]", 1);
            at = sp[k].end;
            if (split && at < e->len && !is_space(t[at])) bad_alloc |= conv_buf_add(&annot, " ", 1);
        }
        bad_alloc |= conv_buf_add(&annot, t + at, e->len - at);
        if (bad_alloc) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        if (vec_reserve((void **)&words, &cap, annot.len + need, sizeof *words)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        /* what mille reads back must be what was meant: the same words, the same labels */
        mille_error pe;
        if (annot_parse(t, e->len, annot.p, annot.len, split, words, &scratch, &pe) < 0) {
            rc = conv_skip(cs, err, "%s: no MASSIVE annot_utt for it (%s)", place, pe.msg);
            continue;
        }
        const char *sc;
        size_t scn;
        scenario_of(cs, e, &sc, &scn);
        char id[32];
        snprintf(id, sizeof id, "%zu", written + 1);
        json_t *j = json_pack("{s:s,s:s,s:s,s:s%,s:s,s:s%,s:s%}", "id", id, "locale", locale,
                              "partition", "train", "scenario", sc, scn, "intent", in, "utt", t,
                              (size_t)e->len, "annot_utt", annot.p, annot.len);
        char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!line || conv_buf_add(out, line, strlen(line)) || conv_buf_add(out, "\n", 1))
            rc = err_set(err, MILLE_ENOMEM, "out of memory (or a text JSON cannot hold)");
        free(line);
        written++;
    }
    free(annot.p);
    free(words);
    annot_scratch_free(&scratch);
    return rc;
}

/* ---- Rasa's inline annotations ----------------------------------------------------------- */

static size_t chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static const char *find(const char *s, size_t from, size_t n, char c)
{
    const void *p = from < n ? memchr(s + from, c, n - from) : NULL;
    return p;
}

/* The place of s[i] in messages: "file:line:column" (column in characters) or "file:line". */
static void where(char *buf, size_t cap, const char *file, uint32_t line, uint32_t col0,
                  const char *s, size_t i)
{
    if (col0)
        snprintf(buf, cap, "%s:%u:%zu", file, line, col0 + chars(s, i));
    else
        snprintf(buf, cap, "%s:%u", file, line);
}

int conv_rasa_example(conv_set *cs, const char *intent, size_t intent_len, const char *s, size_t n,
                      const char *file, uint32_t line, uint32_t col0, mille_error *err)
{
    conv_buf text = {0};
    conv_span_in *spans = NULL;
    uint32_t *name_offs = NULL;
    size_t ns = 0, cap = 0, cap_offs = 0;
    strstore names = {0};
    char at[300];
    int rc = 0, skip = 0;
    json_t *meta = NULL;
    for (size_t i = 0; i < n && rc == 0 && !skip;) {
        const char *close = s[i] == '[' ? find(s, i + 1, n, ']') : NULL;
        size_t j = close ? (size_t)(close - s) : 0;
        /* as in Rasa, "[...]" followed by neither "(" nor "{" nor "[{" is plain text */
        if (!close || j == i + 1 || j + 1 >= n ||
            (s[j + 1] != '(' && s[j + 1] != '{' &&
             !(s[j + 1] == '[' && j + 2 < n && s[j + 2] == '{'))) {
            rc = conv_buf_add(&text, s + i, 1) ? err_set(err, MILLE_ENOMEM, "out of memory") : 0;
            i++;
            continue;
        }
        where(at, sizeof at, file, line, col0, s, i);
        const char *name = NULL;
        size_t name_len = 0, next;
        if (s[j + 1] == '(') {
            const char *end = find(s, j + 2, n, ')');
            if (!end) {
                rc = err_set(err, MILLE_EFORMAT, "%s: entity annotation \"[%.*s](\" has no ')'", at,
                             (int)(j - i - 1), s + i + 1);
                break;
            }
            name = s + j + 2;
            name_len = (size_t)(end - name);
            const char *colon = memchr(name, ':', name_len);
            if (colon) { /* [value](entity:synonym) */
                rc = conv_lossy(cs, err, "%s: entity synonym \"%.*s\" dropped (kept the text)", at,
                                (int)(name_len - (size_t)(colon - name) - 1), colon + 1);
                if (rc) break;
                name_len = (size_t)(colon - name);
            }
            next = (size_t)(end - s) + 1;
        } else if (s[j + 1] == '[') { /* [value][{...}, {...}]: several entities on one span */
            skip = 1;
            rc = conv_skip(cs, err, "%s: several entities on one span: example skipped", at);
            break;
        } else {
            const char *end = find(s, j + 2, n, '}');
            if (!end) {
                rc = err_set(err, MILLE_EFORMAT, "%s: entity annotation \"[%.*s]{\" has no '}'", at,
                             (int)(j - i - 1), s + i + 1);
                break;
            }
            json_error_t je;
            json_decref(meta);
            meta = json_loadb(s + j + 1, (size_t)(end - s) - j, 0, &je);
            json_t *ent = meta ? json_object_get(meta, "entity") : NULL;
            if (!json_is_string(ent) || json_string_length(ent) == 0) {
                rc = err_set(err, MILLE_EFORMAT, "%s: entity annotation \"%.*s\": %s", at,
                             (int)((size_t)(end - s) - j), s + j + 1,
                             meta ? "needs \"entity\": \"NAME\"" : je.text);
                break;
            }
            name = json_string_value(ent);
            name_len = json_string_length(ent);
            const char *key;
            json_t *v;
            json_object_foreach(meta, key, v)
            {
                if (strcmp(key, "entity") == 0 || rc) continue;
                rc = conv_lossy(cs, err, "%s: entity %s \"%s\" dropped (kept the entity)", at, key,
                                json_is_string(v) ? json_string_value(v) : "...");
            }
            if (rc) break;
            next = (size_t)(end - s) + 1;
        }
        while (name_len && name[0] == ' ') name++, name_len--;
        while (name_len && name[name_len - 1] == ' ') name_len--;
        if (name_len == 0) {
            rc = err_set(err, MILLE_EFORMAT, "%s: entity annotation without an entity name", at);
            break;
        }
        if (vec_reserve((void **)&spans, &cap, ns + 1, sizeof *spans)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        spans[ns].start = text.len;
        if (conv_buf_add(&text, s + i + 1, j - i - 1)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        spans[ns].end = text.len;
        /* names are copied: one in a {...} lives only as long as its JSON object */
        uint32_t off;
        if (strstore_add(&names, name, name_len, &off)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        spans[ns].name_len = name_len;
        if (vec_reserve((void **)&name_offs, &cap_offs, ns + 1, sizeof *name_offs)) {
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        name_offs[ns] = off;
        ns++;
        i = next;
    }
    for (size_t k = 0; k < ns; k++) spans[k].name = names.buf + name_offs[k];
    if (rc == 0 && !skip) {
        if (text.len == 0) {
            where(at, sizeof at, file, line, col0, s, 0);
            rc = conv_skip(cs, err, "%s: empty example skipped", at);
        } else {
            rc = conv_add(cs, intent, intent_len, NULL, 0, text.p, text.len, spans, ns, file, line,
                          err);
        }
    }
    json_decref(meta);
    strstore_free(&names);
    free(name_offs);
    free(spans);
    free(text.p);
    return rc;
}
