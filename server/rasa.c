/*
 * rasa.c - mille's parse result in Rasa NLU's shape (see rasa.h), for POST /model/parse.
 *
 * Rasa's HTTP API documents POST /model/parse with a body {"text": ..., "message_id": ...}
 * and a reply holding the text, the intent ({name, confidence}), the entities
 * ({entity, value, start, end, confidence_entity, extractor}) and intent_ranking, a list of
 * {name, confidence}, best first. What differs:
 *   - offsets: Rasa's are indexes into a Python str, i.e. code points; mille reports bytes,
 *     so both ends are converted here;
 *   - confidence_entity: mille's CRF decodes the best label sequence and gives no
 *     per-entity probability, so the key is left out (Rasa leaves it out too for extractors
 *     without one); a client must not require it;
 *   - intent_ranking holds mille's MILLE_TOP_K best intents, not all of them.
 * Not implemented: Rasa's emulation_mode (wit, luis, dialogflow shapes), text_tokens,
 * response_selector, entity roles and groups.
 */
#include "rasa.h"

#include <string.h>

size_t rasa_char_offset(const char *text, size_t off)
{
    size_t n = 0;
    for (size_t i = 0; i < off; i++) n += ((unsigned char)text[i] & 0xC0) != 0x80;
    return n;
}

/* {"name": s, "confidence": c} from mille's {"intent": s, "score": c} */
static json_t *ranked(const json_t *t)
{
    const json_t *name = json_object_get(t, "intent"), *score = json_object_get(t, "score");
    if (!json_is_string(name) || !json_is_number(score)) return NULL;
    return json_pack("{s:O,s:O}", "name", name, "confidence", score);
}

json_t *rasa_from_mille(json_t *m, const char *text, size_t len)
{
    json_t *out = NULL, *ents = json_array(), *rank = json_array();
    const json_t *intent = json_object_get(m, "intent"), *conf = json_object_get(m, "confidence");
    const json_t *top = json_object_get(m, "top_intents"), *slots = json_object_get(m, "slots");
    if (!ents || !rank || !json_is_string(intent) || !json_is_number(conf) || !json_is_array(top) ||
        !json_is_array(slots))
        goto fail;
    size_t i;
    json_t *v;
    json_array_foreach(top, i, v)
    {
        if (json_array_append_new(rank, ranked(v))) goto fail; /* NULL fails too */
    }
    json_array_foreach(slots, i, v)
    {
        const json_t *slot = json_object_get(v, "slot"), *value = json_object_get(v, "value");
        json_int_t b = json_integer_value(json_object_get(v, "start"));
        json_int_t e = json_integer_value(json_object_get(v, "end"));
        if (!json_is_string(slot) || !json_is_string(value) || b < 0 || e < b || (size_t)e > len)
            goto fail;
        json_t *ent =
            json_pack("{s:O,s:O,s:I,s:I,s:s}", "entity", slot, "value", value, "start",
                      (json_int_t)rasa_char_offset(text, (size_t)b), "end",
                      (json_int_t)rasa_char_offset(text, (size_t)e), "extractor", "mille");
        if (json_array_append_new(ents, ent)) goto fail;
    }
    /* "o" steals ents and rank even when json_pack fails */
    out = json_pack("{s:s%,s:{s:O,s:O},s:o,s:o}", "text", text, len, "intent", "name", intent,
                    "confidence", conf, "entities", ents, "intent_ranking", rank);
    json_decref(m);
    return out;
fail:
    json_decref(ents);
    json_decref(rank);
    json_decref(m);
    return NULL;
}
