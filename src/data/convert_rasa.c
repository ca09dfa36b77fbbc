/*
 * convert_rasa.c - Rasa NLU training data (YAML) in and out, with libyaml (see convert.h).
 *
 * Read: the `nlu:` list of a Rasa 2/3 training data file,
 *     nlu:
 *     - intent: alarm_set
 *       examples: |
 *         - wake me up at [five am](time)
 * where examples is a block of "- " lines (or a list of {text: ...} maps). The lines of a
 * literal block are numbered from the line after its "|" (libyaml's mark), and a column is
 * found in the raw line, so that messages name file:line:column. synonym, regex and lookup
 * items, metadata and other top-level sections (stories, rules, ...) are reported and
 * skipped. YAML aliases are refused: an alias repeated many times would make a small file
 * expand into a huge one (a "billion laughs"), and training data has no use for them.
 *
 * Written: version "3.1" and one `- intent:` per intent with its examples as a literal
 * block, each line read back through conv_rasa_example to prove it means the same example.
 *
 * Not handled: Rasa's retrieval intents ("chitchat/ask_name") are plain intent names here;
 * entity roles, groups and synonyms are dropped with a message (conv_lossy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "convert.h"

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct reader {
    conv_set *cs;
    const char *file, *data;
    size_t len;
    yaml_document_t *doc;
    unsigned char *seen; /* (nodes) 1 once a node was visited: aliases repeat nodes */
    size_t n_nodes;
    size_t *line_start; /* (lines) byte offset of each 0-based line */
    size_t n_lines;
} reader;

static yaml_node_t *node(reader *r, int id) { return yaml_document_get_node(r->doc, id); }

/* 0, or an error if the node was seen before (reached again through an alias) */
static int visit(reader *r, int id, mille_error *err)
{
    yaml_node_t *n = node(r, id);
    size_t k = (size_t)(id - 1);
    if (!n || k >= r->n_nodes) return err_set(err, MILLE_EFORMAT, "%s: bad YAML node", r->file);
    if (r->seen[k])
        return err_set(err, MILLE_EFORMAT,
                       "%s:%zu:%zu: this node is used again through a YAML alias; aliases are not "
                       "supported in training data",
                       r->file, n->start_mark.line + 1, n->start_mark.column + 1);
    r->seen[k] = 1;
    return 0;
}

static int is_scalar(const yaml_node_t *n, const char *s)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
           memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

/* The 1-based column of the text of an example line "  - text" at 0-based line ln, or 0 if
 * the raw line does not look like that. */
static uint32_t example_col(const reader *r, size_t ln)
{
    if (ln >= r->n_lines) return 0;
    size_t a = r->line_start[ln], i = a;
    while (i < r->len && (r->data[i] == ' ' || r->data[i] == '\t')) i++;
    if (i + 1 >= r->len || r->data[i] != '-' || r->data[i + 1] != ' ') return 0;
    i += 2;
    while (i < r->len && r->data[i] == ' ') i++;
    size_t col = 1;
    for (size_t k = a; k < i; k++) col += ((unsigned char)r->data[k] & 0xC0) != 0x80;
    return (uint32_t)col;
}

/* examples: a block of "- text" lines */
static int block_examples(reader *r, const char *intent, size_t ilen, const yaml_node_t *ex,
                          mille_error *err)
{
    const char *s = (const char *)ex->data.scalar.value;
    size_t n = ex->data.scalar.length;
    int literal = ex->data.scalar.style == YAML_LITERAL_SCALAR_STYLE;
    size_t ln0 = ex->start_mark.line + (literal ? 1 : 0); /* 0-based line of the first */
    size_t k = 0;
    for (size_t a = 0; a < n; k++) {
        const char *nl = memchr(s + a, '\n', n - a);
        size_t b = nl ? (size_t)(nl - s) : n;
        size_t e = b;
        while (e > a && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) e--;
        size_t ln = literal ? ln0 + k : ln0;
        uint32_t line = (uint32_t)(ln + 1);
        while (a < e && (s[a] == ' ' || s[a] == '\t')) a++; /* a line indented further */
        if (e > a) {
            if (s[a] != '-' || (e > a + 1 && s[a + 1] != ' '))
                return err_set(err, MILLE_EFORMAT,
                               "%s:%u: an example line must start with \"- \", got \"%.*s\"",
                               r->file, line, (int)(e - a < 40 ? e - a : 40), s + a);
            size_t t = a + 1;
            while (t < e && s[t] == ' ') t++;
            uint32_t col = literal ? example_col(r, ln) : 0;
            int rc = conv_rasa_example(r->cs, intent, ilen, s + t, e - t, r->file, line, col, err);
            if (rc) return rc;
        }
        a = b + 1;
    }
    return 0;
}

/* examples: a list of {text: ..., metadata: ...} */
static int list_examples(reader *r, const char *intent, size_t ilen, const yaml_node_t *ex,
                         mille_error *err)
{
    for (yaml_node_item_t *it = ex->data.sequence.items.start; it < ex->data.sequence.items.top;
         it++) {
        int rc = visit(r, *it, err);
        if (rc) return rc;
        yaml_node_t *m = node(r, *it), *text = NULL;
        if (m->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
                 p++)
                if (is_scalar(node(r, p->key), "text")) text = node(r, p->value);
        if (!text || text->type != YAML_SCALAR_NODE)
            return err_set(err, MILLE_EFORMAT, "%s:%zu:%zu: an example must be {text: ...}",
                           r->file, m->start_mark.line + 1, m->start_mark.column + 1);
        const char *s = (const char *)text->data.scalar.value;
        size_t n = text->data.scalar.length;
        while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r')) n--;
        int block = text->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                    text->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
        rc = conv_rasa_example(r->cs, intent, ilen, s, n, r->file,
                               (uint32_t)(text->start_mark.line + 1 + (block ? 1 : 0)), 0, err);
        if (rc) return rc;
    }
    return 0;
}

static int nlu_item(reader *r, int id, mille_error *err)
{
    int rc = visit(r, id, err);
    if (rc) return rc;
    yaml_node_t *m = node(r, id);
    size_t line = m->start_mark.line + 1, col = m->start_mark.column + 1;
    if (m->type != YAML_MAPPING_NODE)
        return err_set(err, MILLE_EFORMAT,
                       "%s:%zu:%zu: an nlu: item must be a mapping "
                       "(- intent: NAME ...)",
                       r->file, line, col);
    yaml_node_t *intent = NULL, *ex = NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(r, p->key);
        if (is_scalar(k, "intent"))
            intent = node(r, p->value);
        else if (is_scalar(k, "examples"))
            ex = node(r, p->value);
        else if (k && k->type == YAML_SCALAR_NODE && !intent && !is_scalar(k, "metadata"))
            /* synonym, regex, lookup: no MASSIVE or Snips form */
            return conv_skip(r->cs, err,
                             "%s:%zu:%zu: \"%.*s\" item skipped (only intents "
                             "are converted)",
                             r->file, k->start_mark.line + 1, k->start_mark.column + 1,
                             (int)k->data.scalar.length, (const char *)k->data.scalar.value);
    }
    if (!intent || intent->type != YAML_SCALAR_NODE || intent->data.scalar.length == 0)
        return err_set(err, MILLE_EFORMAT, "%s:%zu:%zu: an nlu: item needs \"intent: NAME\"",
                       r->file, line, col);
    const char *in = (const char *)intent->data.scalar.value;
    size_t ilen = intent->data.scalar.length;
    if (!ex)
        return err_set(err, MILLE_EFORMAT, "%s:%zu:%zu: intent %.*s has no examples", r->file, line,
                       col, (int)ilen, in);
    rc = visit(r, (int)(ex - r->doc->nodes.start) + 1, err);
    if (rc) return rc;
    if (ex->type == YAML_SCALAR_NODE) return block_examples(r, in, ilen, ex, err);
    if (ex->type == YAML_SEQUENCE_NODE) return list_examples(r, in, ilen, ex, err);
    return err_set(err, MILLE_EFORMAT, "%s:%zu:%zu: examples must be a block of \"- \" lines",
                   r->file, ex->start_mark.line + 1, ex->start_mark.column + 1);
}

int conv_read_rasa(conv_set *cs, const char *file, const char *data, size_t len, mille_error *err)
{
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) return err_set(err, MILLE_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    if (!yaml_parser_load(&p, &doc)) {
        int rc =
            err_set(err, MILLE_EFORMAT, "%s:%zu:%zu: YAML: %s%s%s", file, p.problem_mark.line + 1,
                    p.problem_mark.column + 1, p.problem ? p.problem : "error",
                    p.context ? " " : "", p.context ? p.context : "");
        yaml_parser_delete(&p);
        return rc;
    }
    reader r = {cs, file, data, len, &doc, NULL, 0, NULL, 0};
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    r.n_nodes = (size_t)(doc.nodes.top - doc.nodes.start);
    r.seen = calloc(r.n_nodes + 1, 1);
    for (size_t i = 0; i < len; i++) r.n_lines += data[i] == '\n';
    r.line_start = malloc((r.n_lines + 1) * sizeof *r.line_start);
    if (!r.seen || !r.line_start) {
        rc = err_set(err, MILLE_ENOMEM, "out of memory");
        goto out;
    }
    r.n_lines = 0;
    r.line_start[r.n_lines++] = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n') r.line_start[r.n_lines++] = i + 1;
    if (!root) {
        rc = err_set(err, MILLE_EFORMAT, "%s: empty YAML file (expected nlu: ...)", file);
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        rc = err_set(err, MILLE_EFORMAT, "%s:%zu:%zu: expected a mapping with nlu:", file,
                     root->start_mark.line + 1, root->start_mark.column + 1);
        goto out;
    }
    int found = 0;
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start;
         rc == 0 && q < root->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(&r, q->key), *v = node(&r, q->value);
        if (is_scalar(k, "nlu")) {
            found = 1;
            if (v->type != YAML_SEQUENCE_NODE) {
                rc = err_set(err, MILLE_EFORMAT, "%s:%zu:%zu: nlu: must be a list", file,
                             v->start_mark.line + 1, v->start_mark.column + 1);
                break;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 rc == 0 && it < v->data.sequence.items.top; it++)
                rc = nlu_item(&r, *it, err);
        } else if (k && k->type == YAML_SCALAR_NODE && !is_scalar(k, "version")) {
            rc = conv_skip(cs, err, "%s:%zu: section \"%.*s\" skipped (only nlu: is converted)",
                           file, k->start_mark.line + 1, (int)k->data.scalar.length,
                           (const char *)k->data.scalar.value);
        }
    }
    if (rc == 0 && !found)
        rc = err_set(err, MILLE_EFORMAT, "%s: no nlu: section (not Rasa NLU training data?)", file);
out:
    free(r.seen);
    free(r.line_start);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------- */

/* example e as a Rasa line (without "- "): entities as [value](name), or as
 * [value]{"entity": "name"} when the name holds a character the short form cannot carry */
static int rasa_line(const conv_set *cs, const conv_example *e, conv_buf *b)
{
    const char *t = conv_str(cs, e->text);
    size_t at = 0;
    int bad = 0;
    b->len = 0;
    for (size_t k = 0; k < e->n_spans; k++) {
        const conv_span *sp = &cs->spans[e->span0 + k];
        const char *name = conv_str(cs, sp->name);
        bad |= conv_buf_add(b, t + at, sp->start - at) | conv_buf_add(b, "[", 1) |
               conv_buf_add(b, t + sp->start, sp->end - sp->start);
        if (strpbrk(name, ":()[]{}\"\\\n")) {
            bad |= conv_buf_add(b, "]{\"entity\": \"", 13) | conv_buf_add(b, name, strlen(name)) |
                   conv_buf_add(b, "\"}", 2);
        } else {
            bad |= conv_buf_add(b, "](", 2) | conv_buf_add(b, name, strlen(name)) |
                   conv_buf_add(b, ")", 1);
        }
        at = sp->end;
    }
    bad |= conv_buf_add(b, t + at, e->len - at);
    return bad ? MILLE_ENOMEM : 0;
}

/* 1 if line reads back as example e */
static int reads_back(const conv_set *cs, const conv_example *e, const conv_buf *line)
{
    conv_set back;
    memset(&back, 0, sizeof back);
    back.strict = 1;
    mille_error err;
    int same = memchr(line->p, '\n', line->len) == NULL &&
               conv_rasa_example(&back, "x", 1, line->p, line->len, "", 0, 0, &err) == 0 &&
               back.n == 1 && back.ex[0].len == e->len && back.ex[0].n_spans == e->n_spans &&
               memcmp(conv_str(&back, back.ex[0].text), conv_str(cs, e->text), e->len) == 0;
    for (size_t k = 0; same && k < e->n_spans; k++) {
        const conv_span *a = &back.spans[k], *b = &cs->spans[e->span0 + k];
        same = a->start == b->start && a->end == b->end &&
               strcmp(conv_str(&back, a->name), conv_str(cs, b->name)) == 0;
    }
    conv_free(&back);
    return same;
}

static int emit_out(void *ud, unsigned char *buf, size_t n)
{
    return conv_buf_add(ud, (const char *)buf, n) == 0;
}

static int scalar(yaml_emitter_t *em, const char *s, size_t n, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s, (int)n, 1, 1,
                                        style) &&
           yaml_emitter_emit(em, &ev);
}

int conv_write_rasa(conv_set *cs, conv_buf *out, mille_error *err)
{
    /* intents in order of first appearance; done[i] marks examples already written */
    unsigned char *done = calloc(cs->n + 1, 1);
    conv_buf line = {0}, block = {0};
    yaml_emitter_t em;
    yaml_event_t ev;
    int rc = 0, ok = yaml_emitter_initialize(&em);
    if (!done || !ok) {
        free(done);
        if (ok) yaml_emitter_delete(&em);
        return err_set(err, MILLE_ENOMEM, "out of memory");
    }
    yaml_emitter_set_output(&em, emit_out, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
         yaml_emitter_emit(&em, &ev) &&
         yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
         yaml_emitter_emit(&em, &ev) &&
         yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) &&
         yaml_emitter_emit(&em, &ev) && scalar(&em, "version", 7, YAML_PLAIN_SCALAR_STYLE) &&
         scalar(&em, "3.1", 3, YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
         scalar(&em, "nlu", 3, YAML_PLAIN_SCALAR_STYLE) &&
         yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) &&
         yaml_emitter_emit(&em, &ev);
    for (size_t i = 0; ok && rc == 0 && i < cs->n; i++) {
        if (done[i]) continue;
        const char *intent = conv_str(cs, cs->ex[i].intent);
        block.len = 0;
        for (size_t j = i; rc == 0 && j < cs->n; j++) {
            if (done[j] || strcmp(conv_str(cs, cs->ex[j].intent), intent) != 0) continue;
            done[j] = 1;
            if (rasa_line(cs, &cs->ex[j], &line)) {
                rc = err_set(err, MILLE_ENOMEM, "out of memory");
                break;
            }
            if (!reads_back(cs, &cs->ex[j], &line)) {
                char at[300];
                conv_where(cs, j, at, sizeof at);
                rc = conv_skip(cs, err,
                               "%s: \"%.60s\" has no Rasa form (brackets that would read as an "
                               "annotation, a line break, or spaces at an end)",
                               at, conv_str(cs, cs->ex[j].text));
                continue;
            }
            if (conv_buf_add(&block, "- ", 2) || conv_buf_add(&block, line.p, line.len) ||
                conv_buf_add(&block, "\n", 1))
                rc = err_set(err, MILLE_ENOMEM, "out of memory");
        }
        if (rc || block.len == 0) continue;
        ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) &&
             yaml_emitter_emit(&em, &ev) && scalar(&em, "intent", 6, YAML_PLAIN_SCALAR_STYLE) &&
             scalar(&em, intent, strlen(intent), YAML_ANY_SCALAR_STYLE) &&
             scalar(&em, "examples", 8, YAML_PLAIN_SCALAR_STYLE) &&
             scalar(&em, block.p, block.len, YAML_LITERAL_SCALAR_STYLE) &&
             yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
    }
    if (ok && rc == 0)
        ok = yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
             yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
             yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
    if (!ok && rc == 0)
        rc = err_set(err, MILLE_ENOMEM, "YAML output: %s", em.problem ? em.problem : "failed");
    yaml_emitter_delete(&em);
    free(done);
    free(line.p);
    free(block.p);
    return rc;
}
