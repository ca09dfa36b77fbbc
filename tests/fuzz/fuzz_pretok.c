/* fuzz_pretok.c - libFuzzer target for the pre-tokenizer with a work budget: any bytes as an
 * utterance; valid UTF-8 must give tokens that meet the contract (text_pretok_verify), and
 * the characters decoded (text_pretok_work) must stay within 8 per input character plus a
 * constant, else the run fails (abort). The audit of 2026-12 (#4) found a quadratic path
 * ("!" + U+00AD ...) that a crash-only fuzzer could not see: slow is not a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static text_pretok_ctx *ctx;
    if (!ctx && !(ctx = text_pretok_new(NULL))) abort();
    const char *s = (const char *)data;
    const text_token *t;
    size_t nt;
    mille_error e;
    if (text_pretokenize(ctx, s, size, &t, &nt, &e) != 0) return 0;
    if (text_pretok_verify(s, size, t, nt, &e) != 0) {
        fprintf(stderr, "contract broken: %s\n", e.msg);
        abort();
    }
    size_t chars = 0;
    for (size_t i = 0; i < size; i++) chars += (data[i] & 0xc0) != 0x80;
    uint64_t work = text_pretok_work(ctx);
    if (work > 8 * (uint64_t)chars + 64) {
        fprintf(stderr, "work %llu for %zu characters: over the budget of 8 per character\n",
                (unsigned long long)work, chars);
        abort();
    }
    return 0;
}
