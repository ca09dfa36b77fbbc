/* fuzz_learnlog.c - libFuzzer target: arbitrary bytes as an interaction log (src/learn/log.c),
 * then mined (mine.c) with a fake model that parses every text as one intent with the first
 * word as a slot, positives on. Checks that every accepted turn is well formed, every rewrite
 * is found again by its own source and every positive has an intent and no defect label. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"

static char word[64];
static const char *slot_names[1] = {"thing"}, *slot_values[1] = {word};

static int fake_parse(void *ud, const char *text, size_t len, const char *locale, learn_interp *out)
{
    (void)ud;
    (void)locale;
    size_t n = 0;
    while (n < len && n < sizeof word - 1 && text[n] != ' ') n++;
    memcpy(word, text, n);
    word[n] = '\0';
    out->intent = len % 2 ? "odd" : "even";
    out->confidence = 0.9f;
    out->n_slots = n ? 1 : 0;
    out->slot = slot_names;
    out->value = slot_values;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    learn_turns ts = {0};
    mille_error e;
    if (learn_turns_parse(&ts, "fuzz.jsonl", (const char *)data, size, NULL, NULL, &e) == 0) {
        for (size_t i = 0; i < ts.n; i++) {
            const learn_turn *t = &ts.t[i];
            if (t->text_len == 0 || strlen(learn_str(&ts, t->text)) != t->text_len ||
                t->slot0 + t->n_slots > ts.n_sl || t->confidence < 0 || t->confidence > 1)
                abort();
        }
        learn_params p = learn_default_params();
        p.min_users = 2;
        p.min_gain = 0;
        p.min_target_p = 0;
        p.min_share = 0;
        p.positive_min_confidence = 0;
        p.positive_min_users = 1;
        learn_rewrites rw = {0};
        learn_examples ex = {0};
        if (learn_mine(&ts, &p, fake_parse, NULL, &rw, &ex, NULL, &e) == 0) {
            text_buf tb = {0};
            for (size_t i = 0; i < rw.n; i++) {
                const learn_rewrite *r = &rw.r[i];
                const char *src = rw.st.buf + r->raw_source;
                const char *loc = rw.st.buf + r->locale;
                if (!learn_rewrites_find(&rw, src, strlen(src), *loc ? loc : NULL, &tb)) abort();
            }
            text_buf_free(&tb);
            for (size_t i = 0; i < ex.n; i++)
                if (!ex.st.buf[ex.e[i].intent] || !ex.st.buf[ex.e[i].utt]) abort();
        }
        learn_examples_free(&ex);
        learn_rewrites_free(&rw);
    }
    learn_turns_free(&ts);
    return 0;
}
