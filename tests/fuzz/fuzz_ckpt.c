/* fuzz_ckpt.c - libFuzzer target for checkpoint loading (loop_ckpt_check: what ckpt_load
 * runs on the file's bytes, without the CRC so that mutations get past it): any bytes, for a
 * model of the size the input implies and of one parameter; the four blocks are written only
 * when every check passed, and never past their n floats (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the header is 48 bytes and the CRC 4; 4 blocks of n floats between */
    size_t ns[2] = {1, size >= 52 ? (size - 52) / 16 : 0};
    uint64_t fp = 0;
    if (size >= 24) memcpy(&fp, data + 16, 8); /* the input's own fingerprint: reach the copy */
    for (int k = 0; k < 2; k++) {
        size_t n = ns[k];
        float *b[4];
        for (int j = 0; j < 4; j++) b[j] = malloc((n ? n : 1) * sizeof(float));
        if (b[0] && b[1] && b[2] && b[3]) {
            uint64_t step = 0;
            mille_error e;
            float *const blocks[4] = {b[0], b[1], b[2], b[3]};
            int rc = loop_ckpt_check(data, size, n, fp, blocks, &step, &e);
            if (rc != 0 && rc != MILLE_EFORMAT && rc != MILLE_EINVAL) abort();
            if (rc != 0 && e.msg[0] == '\0') abort(); /* an error always says why */
        }
        for (int j = 0; j < 4; j++) free(b[j]);
    }
    return 0;
}
