/* fuzz_jsonl.c - libFuzzer target: arbitrary bytes as JSON lines of MASSIVE records, read in
 * all three modes (gold, prediction, plain text); checks the words of every accepted record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

static void check(const data_set *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        const data_record *r = &ds->recs[i];
        uint32_t prev = 0;
        for (uint32_t k = 0; k < r->n_words; k++) {
            const data_word *w = &ds->words[r->word0 + k];
            if (w->start < prev || w->end <= w->start || w->end > r->utt_len ||
                w->label >= ds->slots.n)
                abort();
            prev = w->end;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int mode = DATA_GOLD; mode <= DATA_TEXT; mode++) {
        data_set ds = {0};
        data_opts o = data_default_opts();
        o.mode = mode;
        const char *s = (const char *)data;
        size_t i = 0;
        uint32_t line = 0;
        while (i < size) {
            const char *nl = memchr(s + i, '\n', size - i);
            size_t end = nl ? (size_t)(nl - s) : size;
            mille_error e;
            data_add_line(&ds, s + i, end - i, 0, ++line, &o, &e);
            i = end + 1;
        }
        check(&ds);
        data_free(&ds);
    }
    return 0;
}
