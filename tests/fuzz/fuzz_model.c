/* fuzz_model.c - libFuzzer target for the model file loader: any bytes as a model image
 * (checksum not enforced, so that mutations reach the header and tensor checks); a model
 * that loads must run a forward pass on a short utterance (and its language-identification
 * head, when it has one) without touching memory outside the image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crf.h"
#include "data.h"
#include "langid.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* tensors must be aligned, as they are in an mmap'ed file */
    unsigned char *img = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!img) return 0;
    memcpy(img, data, size);
    model m;
    mille_error e;
    if (model_from_memory(&m, img, size, 0, "fuzz", &e) == 0) {
        const char *text = "wake me up at nine am";
        annot_word w[8];
        annot_scratch as = {0};
        int nw = annot_words(text, strlen(text), 0, w, &as, &e);
        feat_scratch fs = {0};
        uint32_t *feats = NULL, off[8];
        size_t nf = 0, cap = 0;
        if (nw > 0 && model_utt_features(&m.cfg, text, w, sizeof *w, (size_t)nw, &fs, &feats, &nf,
                                         &cap, off, &e) == 0) {
            batch b = {0};
            model_ws ws = {0};
            if (batch_add(&b, feats, off, (size_t)nw, 0, NULL) == 0 &&
                model_forward(&m, &b, &ws) == 0) {
                uint32_t intent;
                int tags[8];
                model_decode(&m, &b, &ws, &intent, NULL, tags);
                if (intent >= m.cfg.n_intents) abort();
                if (m.lid.K) { /* the language-identification head, as mille_parse runs it */
                    float *x = malloc(((size_t)m.lid.F + 1) * sizeof *x);
                    if (x) {
                        langid_features(&m, m.lid.feats, b.feats, nf, ws.P, x);
                        if (langid_predict(&m.lid, x, b.feats, nf, NULL) >= m.lid.K) abort();
                        free(x);
                    }
                }
            }
            batch_free(&b);
            model_ws_free(&ws);
        }
        free(feats);
        feat_scratch_free(&fs);
        annot_scratch_free(&as);
        model_free(&m);
    }
    free(img);
    return 0;
}
