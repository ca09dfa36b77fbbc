/*
 * rasa.h - the reply of POST /model/parse in the shape of Rasa NLU's HTTP API, so that a
 * client written for a Rasa server works unchanged against `mille serve` (docs/http.md).
 */
#ifndef MILLE_RASA_H
#define MILLE_RASA_H

#include <stddef.h>

#include <jansson.h>

/* Rasa's parse result made from mille's (the object /v1/parse answers: intent, confidence,
 * top_intents, slots with byte offsets into text) and the text it came from (text[0..len),
 * valid UTF-8):
 *   {"text": ..., "intent": {"name", "confidence"},
 *    "entities": [{"entity", "value", "start", "end", "extractor": "mille"}],
 *    "intent_ranking": [{"name", "confidence"}, ...]}
 * with start and end in characters (Unicode code points, as Python's str indexes them), not
 * bytes. Steals m (freed in every case); returns a new object, or NULL when m is not such an
 * object or memory runs out. */
json_t *rasa_from_mille(json_t *m, const char *text, size_t len);

/* The number of code points in the first off bytes of a UTF-8 string (off <= its length). */
size_t rasa_char_offset(const char *text, size_t off);

#endif /* MILLE_RASA_H */
