/*
 * convert_snips.c - the Snips NLU dataset format (JSON) in and out (see convert.h).
 *
 *     {"language": "en",
 *      "intents": {"alarm_set": {"utterances": [
 *          {"data": [{"text": "wake me up at "},
 *                    {"text": "five am", "entity": "snips/datetime", "slot_name": "time"}]}]}},
 *      "entities": {"snips/datetime": {}}}
 *
 * An utterance is its chunks' texts joined; a chunk with a slot_name is a span named by it
 * (MASSIVE's slot, Rasa's entity). The entity type behind a slot name (snips/datetime above)
 * and the entities' value lists are not carried over: written back, each slot name is its
 * own custom entity. jansson keeps no positions, so a structural error names the JSON path
 * of the value (intents."alarm_set".utterances[3].data[1]); a syntax error names
 * file:line:column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "convert.h"

/* ---- reading ----------------------------------------------------------------------------- */

static int utterance(conv_set *cs, const char *file, const char *intent, size_t k, const json_t *u,
                     conv_buf *text, conv_span_in **spans, size_t *cap, mille_error *err)
{
    const json_t *data = json_object_get(u, "data");
    if (!json_is_array(data))
        return err_set(err, MILLE_EFORMAT,
                       "%s: intents.\"%s\".utterances[%zu]: expected {\"data\": [...]}", file,
                       intent, k);
    text->len = 0;
    size_t ns = 0, i;
    const json_t *c;
    json_array_foreach(data, i, c)
    {
        const json_t *t = json_object_get(c, "text"), *slot = json_object_get(c, "slot_name"),
                     *ent = json_object_get(c, "entity");
        if (!json_is_string(t) || (slot && !json_is_string(slot)) || (ent && !json_is_string(ent)))
            return err_set(err, MILLE_EFORMAT,
                           "%s: intents.\"%s\".utterances[%zu].data[%zu]: expected {\"text\": "
                           "STRING} with optional \"entity\" and \"slot_name\" strings",
                           file, intent, k, i);
        if (ent && !slot)
            return err_set(err, MILLE_EFORMAT,
                           "%s: intents.\"%s\".utterances[%zu].data[%zu]: entity \"%s\" without "
                           "a slot_name",
                           file, intent, k, i, json_string_value(ent));
        size_t start = text->len, n = json_string_length(t);
        if (conv_buf_add(text, json_string_value(t), n))
            return err_set(err, MILLE_ENOMEM, "out of memory");
        if (!slot) continue;
        if (n == 0 || json_string_length(slot) == 0)
            return err_set(err, MILLE_EFORMAT,
                           "%s: intents.\"%s\".utterances[%zu].data[%zu]: empty %s", file, intent,
                           k, i, n == 0 ? "slot text" : "slot_name");
        if (vec_reserve((void **)spans, cap, ns + 1, sizeof **spans))
            return err_set(err, MILLE_ENOMEM, "out of memory");
        (*spans)[ns].start = start;
        (*spans)[ns].end = text->len;
        (*spans)[ns].name = json_string_value(slot);
        (*spans)[ns].name_len = json_string_length(slot);
        ns++;
    }
    if (text->len == 0)
        return conv_skip(cs, err, "%s: intents.\"%s\".utterances[%zu]: empty utterance skipped",
                         file, intent, k);
    if (memchr(text->p, '\0', text->len))
        return conv_skip(cs, err, "%s: intents.\"%s\".utterances[%zu]: NUL character, skipped",
                         file, intent, k);
    return conv_add(cs, intent, strlen(intent), NULL, 0, text->p, text->len, *spans, ns, file, 0,
                    err);
}

int conv_read_snips(conv_set *cs, const char *file, const char *data, size_t len, mille_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(err, MILLE_EFORMAT, "%s:%d:%d: JSON: %s", file, je.line, je.column, je.text);
    const json_t *intents = json_object_get(root, "intents");
    int rc = 0;
    if (!json_is_object(intents)) {
        rc = err_set(err, MILLE_EFORMAT,
                     "%s: expected an object with \"intents\": {...} (not a "
                     "Snips dataset?)",
                     file);
        json_decref(root);
        return rc;
    }
    conv_buf text = {0};
    conv_span_in *spans = NULL;
    size_t cap = 0;
    const char *name;
    const json_t *in;
    json_object_foreach((json_t *)intents, name, in)
    {
        const json_t *utts = json_object_get(in, "utterances");
        if (!json_is_array(utts)) {
            rc = err_set(err, MILLE_EFORMAT, "%s: intents.\"%s\": expected {\"utterances\": [...]}",
                         file, name);
            break;
        }
        if (strlen(name) == 0) {
            rc = err_set(err, MILLE_EFORMAT, "%s: an intent with an empty name", file);
            break;
        }
        size_t k;
        const json_t *u;
        json_array_foreach(utts, k, u)
        {
            rc = utterance(cs, file, name, k, u, &text, &spans, &cap, err);
            if (rc) break;
        }
        if (rc) break;
    }
    free(text.p);
    free(spans);
    json_decref(root);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------- */

int conv_write_snips(conv_set *cs, const char *locale, conv_buf *out, mille_error *err)
{
    const char *dash = strchr(locale, '-');
    size_t ll = dash ? (size_t)(dash - locale) : strlen(locale);
    json_t *root = json_object(), *intents = json_object(), *ents = json_object();
    int bad = !root || !intents || !ents;
    for (size_t i = 0; i < cs->n && !bad; i++) {
        const conv_example *e = &cs->ex[i];
        const char *t = conv_str(cs, e->text), *iname = conv_str(cs, e->intent);
        json_t *in = json_object_get(intents, iname);
        if (!in) {
            in = json_pack("{s:[]}", "utterances");
            bad = !in || json_object_set_new(intents, iname, in);
            if (bad) break;
        }
        json_t *data = json_array();
        bad = !data;
        size_t at = 0;
        for (size_t k = 0; k <= e->n_spans && !bad; k++) {
            const conv_span *sp = k < e->n_spans ? &cs->spans[e->span0 + k] : NULL;
            size_t start = sp ? sp->start : e->len;
            if (start > at)
                bad |= json_array_append_new(data, json_pack("{s:s%}", "text", t + at, start - at));
            if (!sp) break;
            const char *sn = conv_str(cs, sp->name);
            bad |= json_array_append_new(data, json_pack("{s:s%,s:s,s:s}", "text", t + sp->start,
                                                         (size_t)(sp->end - sp->start), "entity",
                                                         sn, "slot_name", sn));
            if (!json_object_get(ents, sn))
                bad |= json_object_set_new(
                    ents, sn,
                    strncmp(sn, "snips/", 6) == 0
                        ? json_object()
                        : json_pack("{s:[],s:b,s:b,s:f}", "data", "use_synonyms", 1,
                                    "automatically_extensible", 1, "matching_strictness", 1.0));
            at = sp->end;
        }
        bad |= json_array_append_new(json_object_get(in, "utterances"),
                                     json_pack("{s:o}", "data", data));
    }
    if (!bad) {
        bad = json_object_set_new(root, "language", json_stringn(locale, ll)) ||
              json_object_set(root, "intents", intents) || json_object_set(root, "entities", ents);
    }
    char *s = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(intents);
    json_decref(ents);
    json_decref(root);
    int rc = 0;
    if (!s || conv_buf_add(out, s, strlen(s)) || conv_buf_add(out, "\n", 1))
        rc = err_set(err, MILLE_ENOMEM, "out of memory (or a text JSON cannot hold)");
    free(s);
    return rc;
}
