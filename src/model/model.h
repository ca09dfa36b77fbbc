/*
 * model.h - mille's joint intent + slot model ("hashcnn"): hashed word and character
 * n-gram embeddings, two convolution layers over words (the second also sees a pooled
 * summary of the whole utterance), a CRF over word slot labels and an intent classifier on
 * mean+max pooled features. Words are MASSIVE's words (whitespace split; characters in
 * ja/zh), so predictions line up with the official metric one to one.
 *
 * Shape vocabulary: B feature buckets, D embedding width, H hidden width, I intents,
 * S slot labels (0 = Other), N words in a batch, U utterances in a batch.
 *
 * A model is read-only after load and may be shared by threads; all per-call memory lives
 * in a model_ws (workspace) used by one thread at a time.
 */
#ifndef MILLE_MODEL_H
#define MILLE_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "quant.h"
#include "text.h"

typedef struct model_config {
    uint32_t buckets;    /* B: rows of the hashed embedding table                 */
    uint32_t dim;        /* D                                                     */
    uint32_t hidden;     /* H                                                     */
    uint32_t n_intents;  /* I                                                     */
    uint32_t n_slots;    /* S, label 0 = Other                                    */
    uint32_t minn, maxn; /* character n-gram lengths (code points, with < and >)  */
    uint32_t norm_flags; /* TEXT_NORM_* applied to every word before hashing      */
    uint32_t bigrams;    /* 1: each word also gets hashed bigrams with its neighbours */
    uint32_t layers;     /* convolution layers L, 2..MODEL_MAX_LAYERS                */
    uint32_t subwords;   /* 1: each word also gets the pre-tokens (text_pretokenize:
                            dictionary words in Thai, Khmer, Myanmar, Chinese, Japanese)
                            that overlap it                                       */
    uint32_t translit;   /* 1: a word in a non-Latin script also gets the features of its
                            Latin spelling (text_translit: ICU Any-Latin), in the Latin
                            words' hash space ("радио" shares rows with "radio")       */
} model_config;

model_config model_default_config(void);

/* Named tensors, in the order they sit in the parameter block. Gradients and AdamW moments
 * are blocks of the same layout; the dense tensors (everything after emb) are contiguous,
 * so their gradient is one flat range. */
enum {
    T_EMB = 0, /* (B, D) */
    T_W1,      /* (H, 3D)  conv 1: windows of 3 word vectors              */
    T_B1,      /* (H)                                                     */
    T_W2,      /* (H, 4H)  conv 2: 3 conv-1 outputs + utterance mean       */
    T_B2,      /* (H)                                                     */
    T_WS,      /* (S, H)   slot emissions                                 */
    T_BS,      /* (S)                                                     */
    T_TRANS,   /* (S, S)   CRF transitions, from row to column            */
    T_START,   /* (S)                                                     */
    T_END,     /* (S)                                                     */
    T_WI,      /* (I, 2H)  intent classifier on [mean; max] pooling       */
    T_BI,      /* (I)                                                     */
    T_COUNT    /* then conv 3..L: (H, 4H) and (H) each, like conv 2       */
};

#define MODEL_MAX_LAYERS  6
#define MODEL_MAX_TENSORS (T_COUNT + 2 * (MODEL_MAX_LAYERS - 2))
/* Tensor ids of conv layer l >= 2 (weights, bias). */
static inline int T_WL(int l) { return l == 2 ? T_W2 : T_COUNT + 2 * (l - 3); }
static inline int T_BL(int l) { return l == 2 ? T_B2 : T_COUNT + 2 * (l - 3) + 1; }

typedef struct tensor_info {
    const char *name;
    size_t rows, cols; /* a vector is (n, 1) */
    size_t off;        /* offset in floats inside the block */
} tensor_info;

/* Layout of the blocks for cfg (t has MODEL_MAX_TENSORS entries, *n_tensors receives how
 * many are used); returns the total number of floats. */
size_t model_layout(const model_config *cfg, tensor_info *t, int *n_tensors);

/* The language-identification head (src/model/langid.c): p = softmax(b + W x + A h) over K
 * locales, x the model's dense utterance features named by `feats` (LANGID_FEAT_EMB/POOL,
 * width F, may be 0) and h the mean of the rows of the head's own n-gram table E picked by
 * the utterance's feature ids (LANGID_FEAT_NGRAM, fastText). Shape vocabulary: K locales,
 * F dense width, R rows of E, Q their width. */
typedef struct langid_head {
    uint32_t K, F, R, Q;
    uint32_t feats; /* LANGID_FEAT_* bits                                          */
    strtab locales; /* K locale names, class order                                 */
    const float *b; /* (K)                                                         */
    const float *w; /* (K, F), NULL when F == 0                                    */
    const float *e; /* (R, Q) n-gram table, NULL without LANGID_FEAT_NGRAM          */
    const float *a; /* (K, Q)                                                      */
    float *own;     /* storage made by langid_head_set (owned), else NULL: the
                       pointers above are into the file image                      */
} langid_head;

typedef struct model {
    model_config cfg;
    tensor_info t[MODEL_MAX_TENSORS];
    int n_tensors;
    size_t n_params;
    float *p;                     /* (n_params) all parameters, layout above (training); NULL
                                     for a loaded model, whose tensors live in the file map   */
    float *w[MODEL_MAX_TENSORS];  /* each tensor: into p, or into the mapped file           */
    const uint16_t *emb16;        /* (B, D) half-precision embedding when loaded from a file
                                     that stores it so (then p's T_EMB range is unused) */
    q8_mat q8[MODEL_MAX_TENSORS]; /* int8 + per-row scales, for the tensors an int8 model
                                     stores so (model_is_weight_matrix; w[id] is NULL then):
                                     into the mapped file, or into q8_block */
    void *q8_block;               /* storage of q8 made by model_quantize (owned)          */
    strtab intents;               /* intent names, id = class index                         */
    strtab slots;                 /* slot names, id 0 = "Other"                              */
    uint32_t *intent_scenario;    /* (I) id in scenarios                             */
    strtab scenarios;
    strtab locales; /* locales the model was trained on (information)         */
    char *meta;     /* the file's JSON header (loaded models), else NULL        */
    /* storage owned by the model (set by model_new / model_load) */
    void *map;
    size_t map_len;
    int owns_p;
    int pretrained; /* an embedding from mille pretrain: heads untrained, not for parsing */
    /* calibration (src/train/calib.c; header "calibration", optional: files without it load
     * with temperature 1 and no rejection) */
    float temperature;   /* T > 0: intent probabilities are softmax(logits / T)           */
    float reject_below;  /* default rejection threshold on that probability, 0 = none     */
    float reject_recall; /* the in-scope dev recall the threshold was chosen for (info)  */
    /* language identification head (langid.h; header "langid", optional: K == 0 = none) */
    langid_head lid;
} model;

/* Allocate a model with cfg and zero parameters (tables empty). Returns 0 or MILLE_ENOMEM. */
int model_new(model *m, const model_config *cfg, mille_error *err);
/* Random initialization (seeded; uniform fan-in scaling). */
void model_init_params(model *m, uint64_t seed);
void model_free(model *m);

static inline float *model_tensor(const model *m, int id) { return m->w[id]; }

/* 1 for the tensors an int8 model stores as int8 with per-row scales: the embedding and the
 * weight matrices (conv, slot emission, intent); biases and the CRF stay f32. */
int model_is_weight_matrix(const model *m, int id);
/* Quantize those tensors in place (their f32 or f16 data stays where it is, unused): the
 * model then runs through the int8 kernels (quant.h) and model_save writes them as int8.
 * Returns 0 or MILLE_ENOMEM / MILLE_EINVAL (already quantized). */
int model_quantize(model *m, mille_error *err);
/* 1 if the model has int8 tensors. */
static inline int model_is_q8(const model *m)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (m->q8[i].q) return 1;
    return 0;
}
/* Row `row` of the embedding as floats, whatever its storage (f32, f16, int8). */
void model_emb_row(const model *m, size_t row, float *out);

/* ---- features ------------------------------------------------------------------------------ */

/* Hashed feature ids of one word: the whole normalized word and its character n-grams.
 * Writes at most cap ids and returns how many (>= 1 for a non-empty word), or a negative
 * code (invalid UTF-8). nb is the caller's reusable normalization buffer. */
int model_word_features(const model_config *cfg, const char *w, size_t n, text_buf *nb,
                        uint32_t *out, size_t cap, uint64_t *word_hash, mille_error *err);
#define MODEL_MAX_FEATS    64 /* per word: longer words keep their first n-grams */
#define MODEL_MAX_SUBWORDS 16 /* pre-token features per word */

/* Reusable scratch of model_utt_features (one per thread; zero-initialize). */
typedef struct feat_scratch {
    text_buf nb;
    struct text_pretok_ctx *pt; /* created on first use */
    struct text_translit *tl;   /* created on first use (model_config.translit) */
    uint64_t *wh;               /* (n) word hashes */
    uint32_t *tmp, *toff;
    size_t cap_wh, cap_tmp, cap_toff;
} feat_scratch;
void feat_scratch_free(feat_scratch *s);

/* Features of the n words of one utterance: word k spans text[start, end) where start and
 * end are the first two uint32_t of the k-th element of `words` (elements `stride` bytes
 * apart: data_word and annot_word both fit). Appends them to *feats (growing *cap) from
 * index *nf, and sets off[k] .. off[k+1] for word k (off has n + 1 entries). */
int model_utt_features(const model_config *cfg, const char *text, const void *words, size_t stride,
                       size_t n, feat_scratch *sc, uint32_t **feats, size_t *nf, size_t *cap,
                       uint32_t *off, mille_error *err);

/* ---- batches and the forward / backward pass ----------------------------------------------- */

/* U utterances, N words: word i of the batch has features feats[feat_off[i]..feat_off[i+1]);
 * utterance u has words utt_off[u]..utt_off[u+1] (at least one). Labels for training. */
typedef struct batch {
    size_t n_utt, n_words, n_feats;
    uint32_t *utt_off;  /* (U+1) */
    uint32_t *feat_off; /* (N+1) */
    uint32_t *feats;
    uint32_t *intent;                              /* (U) gold intents (training) */
    int *tags;                                     /* (N) gold slot labels (training) */
    size_t cap_uo, cap_in, cap_fo, cap_tg, cap_ft; /* capacities of the arrays above */
} batch;
/* Append one utterance of n words (word k's features: f[fo[k]..fo[k+1])). */
int batch_add(batch *b, const uint32_t *f, const uint32_t *fo, size_t n, uint32_t intent,
              const int *tags);
void batch_clear(batch *b);
void batch_free(batch *b);

/* Workspace of one thread: activations and scratch, grown on demand. */
typedef struct model_ws {
    float *buf; /* forward activations (the views below) */
    size_t cap;
    float *gbuf; /* gradient views of model_backward (training only) */
    size_t gcap;
    double *crf;
    size_t crf_cap;
    int *ibuf;
    size_t icap;
    /* training only: inverted dropout with rate `drop` on the word vectors X and on H2, with
     * masks drawn from drop_seed (set per shard and step: deterministic) */
    float drop;
    uint64_t drop_seed;
    float *mX, *mH; /* (N,D) (N,H) masks: 0 or 1/(1-drop) */
    size_t cap_mask;
    /* views into buf for the last forward pass */
    float *X, *U1, *H1, *E, *P, *L;
    float *G[MODEL_MAX_LAYERS + 1], *U[MODEL_MAX_LAYERS + 1];   /* conv l >= 2: (U,H) (N,4H) */
    float *Hp[MODEL_MAX_LAYERS + 1], *Hl[MODEL_MAX_LAYERS + 1]; /* (N,H) pre-act., output */
    float *H2; /* (N,H) the encoder's output: Hl[L] after dropout */
    int *amax;
    q8_scratch q8s; /* int8 models: quantized activations */
} model_ws;
void model_ws_free(model_ws *ws);

/* Forward pass over a batch: fills ws views; E (N,S) emissions and L (U,I) intent logits. */
int model_forward(const model *m, const batch *b, model_ws *ws);

/* Loss of the last forward pass and, when g != NULL, its gradient ADDED to g (a block of
 * the model's layout, dense part only; the embedding gradient goes to dX (N,D), which the
 * caller scatters to rows), all scaled by `scale`. tr: prepared CRF transitions. */
struct crf_trans;
double model_backward(const model *m, const batch *b, model_ws *ws, const struct crf_trans *tr,
                      float scale, float *g, float *dX);

/* Soft targets of a batch, for distillation (Hinton et al. 2015). Intent: the loss of
 * utterance u is alpha T^2 CE(intent[u], softmax(z/T)) + (1 - alpha) CE(gold, softmax(z))
 * where gold[u], else T^2 CE(intent[u], softmax(z/T)); T^2 keeps the soft term's gradient on
 * the scale of the hard one. Slots: the CRF cross-entropy to the entries of each word (crf_xent;
 * the gold labels, if any, are already mixed into them). */
struct crf_entry;
typedef struct model_soft {
    const float *intent;  /* (U, I) target intent distribution at temperature temp */
    float temp, alpha;    /* T, weight of the soft intent term */
    const uint8_t *gold;  /* (U) 1: b->intent is a gold label */
    const uint32_t *eoff; /* (N+1) word i's slot entries: ent[eoff[i] .. eoff[i+1]) */
    const struct crf_entry *ent;
} model_soft;
/* model_backward with soft targets (soft == NULL: the gold labels of b, as model_backward). */
double model_backward_soft(const model *m, const batch *b, model_ws *ws, const struct crf_trans *tr,
                           const model_soft *soft, float scale, float *g, float *dX);

/* Decode the last forward pass: intent (U), its probability (U, at the model's temperature)
 * and tags (N) by Viterbi. */
void model_decode(const model *m, const batch *b, model_ws *ws, uint32_t *intent, float *prob,
                  int *tags);

/* float32 of an IEEE half (no NaN/Inf payload handling needed: we never store them) */
static inline float model_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) man <<= 1, exp--;
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- files (modelio.c) --------------------------------------------------------------------- */

/* Save atomically; the embedding is stored in half precision when half != 0. */
int model_save(const model *m, const char *path, int half, mille_error *err);
/* Load (read whole into a 64-byte-aligned buffer); every length, offset and shape is checked. */
int model_load(model *m, const char *path, mille_error *err);
void modelio_unmap(void *map, size_t len);
/* CRC-32 (zlib's polynomial) of n bytes of any size: the checksum of model and checkpoint
 * files. */
uint32_t file_crc32(const void *buf, size_t n);
/* The checks and the setup of model_load on a file image in memory: size bytes at map, which
 * must be 64-byte aligned and outlive the model (tensors point into it). Used by model_load
 * and by the fuzzer (verify_crc = 0 there, so that it reaches the deeper checks). */
int model_from_memory(model *m, const unsigned char *map, size_t size, int verify_crc,
                      const char *path, mille_error *err);

#endif
