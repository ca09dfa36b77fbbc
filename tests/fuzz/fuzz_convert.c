/* fuzz_convert.c - libFuzzer target for the readers of `mille convert` (src/data/convert*.c):
 * the first byte picks Rasa YAML (even) or a Snips dataset (odd), the rest is the file. What
 * reads is written in all three formats, and the Rasa and Snips outputs must read back to as
 * many examples as were written (a writer must never produce a file its reader refuses). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

/* read back what a writer wrote: all of it must parse, every example must come back */
static void read_back(int rasa, const conv_buf *out, size_t want)
{
    conv_set b;
    memset(&b, 0, sizeof b);
    mille_error e;
    int rc = rasa ? conv_read_rasa(&b, "out", out->p ? out->p : "", out->len, &e)
                  : conv_read_snips(&b, "out", out->p ? out->p : "", out->len, &e);
    if (want && (rc != 0 || b.n + b.n_skipped != want)) abort();
    conv_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int rasa = (data[0] & 1) == 0;
    conv_set a;
    memset(&a, 0, sizeof a);
    mille_error e;
    const char *s = (const char *)data + 1;
    int rc = rasa ? conv_read_rasa(&a, "in", s, size - 1, &e)
                  : conv_read_snips(&a, "in", s, size - 1, &e);
    if (rc == 0 && a.n) {
        conv_buf out = {0};
        size_t before = a.n_skipped;
        if (conv_write_rasa(&a, &out, &e) == 0) read_back(1, &out, a.n - (a.n_skipped - before));
        out.len = 0;
        if (conv_write_snips(&a, "en-US", &out, &e) == 0) read_back(0, &out, a.n);
        out.len = 0;
        (void)conv_write_massive(&a, (data[0] & 2) ? "ja-JP" : "en-US", &out, &e);
        free(out.p);
    }
    conv_free(&a);
    return 0;
}
