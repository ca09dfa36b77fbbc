/* fuzz_annot.c - libFuzzer target for annot_parse: input is "utt\nannot_utt"; parsed with and
 * without char splitting and without utt; checks offsets and labels stay in bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t ulen = nl ? (size_t)(nl - s) : 0;
    const char *annot = nl ? nl + 1 : s;
    size_t alen = size - (size_t)(annot - s);
    size_t cap = (ulen > alen ? ulen : alen) + 1;
    annot_word *w = malloc(cap * sizeof *w);
    annot_scratch sc = {0};
    for (int variant = 0; variant < 4; variant++) {
        int cjk = variant & 1, with_utt = variant < 2;
        mille_error e;
        int n = annot_parse(with_utt ? s : NULL, with_utt ? ulen : 0, annot, alen, cjk, w, &sc, &e);
        size_t tlen = with_utt ? ulen : alen;
        uint32_t prev = 0;
        for (int k = 0; k < n; k++) {
            if (w[k].start < prev || w[k].end <= w[k].start || w[k].end > tlen) abort();
            if ((size_t)w[k].label_off + w[k].label_len > alen) abort();
            prev = w[k].end;
        }
    }
    annot_scratch_free(&sc);
    free(w);
    return 0;
}
