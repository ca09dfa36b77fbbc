/*
 * model.c - the "hashcnn" joint intent + slot model: features, parameters, forward and
 * backward passes, decoding. Training (optimizer, threads, data) is in train.c; files in
 * modelio.c. Shapes are named in model.h (B D H I S N U).
 *
 * Why this design (measured ablations in docs/design.md):
 *   - hashed character n-grams (fastText, Bojanowski et al. 2017) give every script and
 *     every misspelling a representation without a vocabulary, in a fixed memory budget;
 *   - convolutions over words (Collobert et al. 2011) are cheap on a CPU and see +-2 words;
 *     conv 2 also gets the utterance mean, so each word knows what the request is about;
 *   - a CRF over word labels (Lample et al. 2016) learns which labels follow which;
 *   - one softmax on [mean; max] pooled features gives the intent; both heads share the
 *     encoder and are trained on the sum of their losses.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crf.h"
#include "kern.h"

model_config model_default_config(void)
{
    /* chosen by the ablations in docs/design.md */
    model_config c = {1u << 18, 48, 256, 0, 0, 3, 5, TEXT_NORM_DEFAULT, 0, 3, 1, 0};
    return c;
}

size_t model_layout(const model_config *c, tensor_info *t, int *n_tensors)
{
    size_t B = c->buckets, D = c->dim, H = c->hidden, I = c->n_intents, S = c->n_slots;
    static const char *const conv_names[MODEL_MAX_LAYERS + 1][2] = {{"", ""},
                                                                    {"", ""},
                                                                    {"", ""},
                                                                    {"conv3.w", "conv3.b"},
                                                                    {"conv4.w", "conv4.b"},
                                                                    {"conv5.w", "conv5.b"},
                                                                    {"conv6.w", "conv6.b"}};
    const tensor_info shapes[T_COUNT] = {
        {"emb", B, D, 0},         {"conv1.w", H, 3 * D, 0},  {"conv1.b", H, 1, 0},
        {"conv2.w", H, 4 * H, 0}, {"conv2.b", H, 1, 0},      {"slot.w", S, H, 0},
        {"slot.b", S, 1, 0},      {"crf.trans", S, S, 0},    {"crf.start", S, 1, 0},
        {"crf.end", S, 1, 0},     {"intent.w", I, 2 * H, 0}, {"intent.b", I, 1, 0},
    };
    int n = T_COUNT;
    for (int i = 0; i < T_COUNT; i++) t[i] = shapes[i];
    for (int l = 3; l <= (int)c->layers && l <= MODEL_MAX_LAYERS; l++) {
        t[n++] = (tensor_info){conv_names[l][0], H, 4 * H, 0};
        t[n++] = (tensor_info){conv_names[l][1], H, 1, 0};
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        t[i].off = off;
        off += t[i].rows * t[i].cols;
    }
    *n_tensors = n;
    return off;
}

int model_new(model *m, const model_config *cfg, mille_error *err)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->temperature = 1;
    if (!cfg->buckets || !cfg->dim || !cfg->hidden || !cfg->n_intents || !cfg->n_slots ||
        cfg->buckets > (1u << 26) || cfg->dim > 4096 || cfg->hidden > 4096 || cfg->n_slots > 512 ||
        cfg->n_intents > 65536 || cfg->minn < 1 || cfg->maxn < cfg->minn || cfg->maxn > 16 ||
        cfg->layers < 2 || cfg->layers > MODEL_MAX_LAYERS)
        return err_set(err, MILLE_EINVAL, "model: configuration out of range");
    m->n_params = model_layout(cfg, m->t, &m->n_tensors);
    m->p = calloc(m->n_params, sizeof *m->p);
    m->intent_scenario = calloc(cfg->n_intents, sizeof *m->intent_scenario);
    if (!m->p || !m->intent_scenario) {
        model_free(m);
        return err_set(err, MILLE_ENOMEM, "model: out of memory for %zu parameters", m->n_params);
    }
    m->owns_p = 1;
    for (int i = 0; i < m->n_tensors; i++) m->w[i] = m->p + m->t[i].off;
    return MILLE_OK;
}

static void uniform(rng *r, float *v, size_t n, double a)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(a * (2.0 * (double)(rng_next(r) >> 11) / 9007199254740992.0 - 1.0));
}

void model_init_params(model *m, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    memset(m->p, 0, m->n_params * sizeof *m->p);
    uniform(&r, model_tensor(m, T_EMB), m->t[T_EMB].rows * m->t[T_EMB].cols, 0.5);
    /* He-uniform for the ReLU layers, Glorot-uniform for the output layers */
    const int gl[] = {T_WS, T_WI};
    for (int l = 1; l <= (int)m->cfg.layers; l++) {
        int id = l == 1 ? T_W1 : T_WL(l);
        const tensor_info *t = &m->t[id];
        uniform(&r, model_tensor(m, id), t->rows * t->cols, sqrt(6.0 / (double)t->cols));
    }
    for (int i = 0; i < 2; i++) {
        const tensor_info *t = &m->t[gl[i]];
        uniform(&r, model_tensor(m, gl[i]), t->rows * t->cols,
                sqrt(6.0 / (double)(t->cols + t->rows)));
    }
}

void model_free(model *m)
{
    if (!m) return;
    if (m->owns_p) free(m->p);
    free(m->intent_scenario);
    strtab_free(&m->intents);
    strtab_free(&m->slots);
    strtab_free(&m->scenarios);
    strtab_free(&m->locales);
    free(m->meta);
    free(m->q8_block);
    free(m->lid.own);
    strtab_free(&m->lid.locales);
    if (m->map) modelio_unmap(m->map, m->map_len);
    memset(m, 0, sizeof *m);
}

/* ---- int8 ---------------------------------------------------------------------------------- */

int model_is_weight_matrix(const model *m, int id)
{
    if (id == T_EMB || id == T_W1 || id == T_WS || id == T_WI) return 1;
    for (int l = 2; l <= (int)m->cfg.layers; l++)
        if (id == T_WL(l)) return 1;
    return 0;
}

void model_emb_row(const model *m, size_t row, float *out)
{
    size_t D = m->cfg.dim;
    if (m->q8[T_EMB].q) {
        const int8_t *q = m->q8[T_EMB].q + row * D;
        float s = m->q8[T_EMB].scale[row];
        for (size_t d = 0; d < D; d++) out[d] = s * (float)q[d];
    } else if (m->emb16) {
        for (size_t d = 0; d < D; d++) out[d] = model_half_to_float(m->emb16[row * D + d]);
    } else {
        memcpy(out, model_tensor(m, T_EMB) + row * D, D * sizeof *out);
    }
}

int model_quantize(model *m, mille_error *err)
{
    if (model_is_q8(m)) return err_set(err, MILLE_EINVAL, "quantize: the model is already int8");
    /* one block: every quantized tensor's codes, then (4-byte aligned) their scales */
    size_t codes = 0, scales = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (model_is_weight_matrix(m, i)) {
            codes += m->t[i].rows * m->t[i].cols;
            scales += m->t[i].rows;
        }
    codes = (codes + 3) & ~(size_t)3;
    unsigned char *blk = malloc(codes + scales * sizeof(float));
    float *row = malloc(m->cfg.dim * sizeof *row);
    if (!blk || !row) {
        free(blk), free(row);
        return err_set(err, MILLE_ENOMEM, "quantize: out of memory (%zu bytes)",
                       codes + scales * sizeof(float));
    }
    int8_t *q = (int8_t *)blk;
    float *sc = (float *)(void *)(blk + codes);
    for (int i = 0; i < m->n_tensors; i++) {
        if (!model_is_weight_matrix(m, i)) continue;
        size_t R = m->t[i].rows, K = m->t[i].cols;
        if (i == T_EMB) /* f32 or f16: one row at a time through model_emb_row */
            for (size_t r = 0; r < R; r++) {
                model_emb_row(m, r, row);
                q8_quantize_rows(row, 1, K, K, q + r * K, sc + r);
            }
        else
            q8_quantize_rows(model_tensor(m, i), R, K, K, q, sc);
        m->q8[i] = (q8_mat){q, sc, R, K};
        q += R * K;
        sc += R;
    }
    for (int i = 0; i < m->n_tensors; i++)
        if (m->q8[i].q) m->w[i] = NULL;
    m->emb16 = NULL;
    free(row);
    m->q8_block = blk;
    return MILLE_OK;
}

/* ---- features ------------------------------------------------------------------------------ */

int model_word_features(const model_config *cfg, const char *w, size_t n, text_buf *nb,
                        uint32_t *out, size_t cap, uint64_t *word_hash, mille_error *err)
{
    int rc = text_normalize(w, n, cfg->norm_flags, nb, err);
    if (rc) return rc;
    size_t k = 0;
    /* the whole word, in its own hash space ("W" prefix) */
    uint64_t h = hash_more(hash_bytes("W", 1), nb->s, nb->len);
    if (k < cap) out[k++] = (uint32_t)(h % cfg->buckets);
    if (word_hash) *word_hash = h;
    /* character n-grams of "<word>": code point starts, with virtual markers at both ends */
    uint32_t starts[MODEL_MAX_FEATS + 2];
    size_t ncp = 0;
    for (size_t i = 0; i < nb->len && ncp < MODEL_MAX_FEATS; i++)
        if (((unsigned char)nb->s[i] & 0xC0) != 0x80) starts[ncp++] = (uint32_t)i;
    size_t end_byte = ncp < MODEL_MAX_FEATS ? nb->len : starts[ncp - 1];
    if (ncp == MODEL_MAX_FEATS) ncp--; /* truncated word: end at a code point boundary */
    size_t total = ncp + 2;            /* positions: 0 = '<', 1..ncp = code points, ncp+1 = '>' */
    for (size_t nlen = cfg->minn; nlen <= cfg->maxn; nlen++)
        for (size_t a = 0; a + nlen <= total && k < cap; a++) {
            size_t b = a + nlen; /* positions [a, b) */
            uint64_t g = 1469598103934665603ULL ^ nlen;
            if (a == 0) g = hash_more(g, "\x02", 1); /* the < marker */
            /* a = ncp + 1 is the '>' marker alone (only with minn = 1): no bytes */
            size_t from = a == 0 ? 0 : a <= ncp ? starts[a - 1] : end_byte;
            size_t to = b >= ncp + 1 ? end_byte : starts[b - 1];
            MILLE_ASSERT(from <= to);
            g = hash_more(g, nb->s + from, to - from);
            if (b == total) g = hash_more(g, "\x03", 1); /* the > marker */
            out[k++] = (uint32_t)(g % cfg->buckets);
        }
    return (int)k;
}

void feat_scratch_free(feat_scratch *s)
{
    text_buf_free(&s->nb);
    text_pretok_free(s->pt);
    text_translit_free(s->tl);
    free(s->wh);
    free(s->tmp);
    free(s->toff);
    memset(s, 0, sizeof *s);
}

/* Bigram feature of two word hashes (0 = utterance boundary), in its own hash space. */
static uint32_t bigram(const model_config *cfg, uint64_t a, uint64_t b)
{
    uint64_t h = (a * 0x9e3779b97f4a7c15ULL) ^ (b + 0x632be59bd9b4e019ULL + (a << 6) + (a >> 2));
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    return (uint32_t)(h % cfg->buckets);
}

int model_utt_features(const model_config *cfg, const char *text, const void *words, size_t stride,
                       size_t n, feat_scratch *sc, uint32_t **feats, size_t *nf, size_t *cap,
                       uint32_t *off, mille_error *err)
{
    if (vec_reserve((void **)&sc->wh, &sc->cap_wh, n + 1, sizeof *sc->wh) ||
        vec_reserve((void **)&sc->toff, &sc->cap_toff, n + 1, sizeof *sc->toff) ||
        vec_reserve((void **)&sc->tmp, &sc->cap_tmp,
                    n * ((cfg->translit ? 2 : 1) * MODEL_MAX_FEATS + MODEL_MAX_SUBWORDS) + 1,
                    sizeof *sc->tmp))
        return err_set(err, MILLE_ENOMEM, "features: out of memory");
    /* pass 1: each word's own features, and its hash for the bigrams */
    const text_token *tok = NULL;
    size_t ntok = 0, j = 0;
    if (cfg->subwords && n) {
        uint32_t last[2];
        memcpy(last, (const char *)words + (n - 1) * stride, sizeof last);
        if (!sc->pt && !(sc->pt = text_pretok_new(err))) return err->code;
        int rc = text_pretokenize(sc->pt, text, last[1], &tok, &ntok, err);
        if (rc) return rc;
    }
    size_t t = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t span[2];
        memcpy(span, (const char *)words + k * stride, sizeof span);
        sc->toff[k] = (uint32_t)t;
        int r = model_word_features(cfg, text + span[0], span[1] - span[0], &sc->nb, sc->tmp + t,
                                    MODEL_MAX_FEATS, &sc->wh[k], err);
        if (r < 0) return r;
        t += (size_t)r;
        /* the word's Latin spelling, hashed as a Latin word is (word and n-grams) */
        if (cfg->translit && text_translit_needed(text + span[0], span[1] - span[0])) {
            char lat[4 * 256 + 16];
            if (!sc->tl && !(sc->tl = text_translit_new(err))) return err->code;
            int ln =
                text_translit_word(sc->tl, text + span[0], span[1] - span[0], lat, sizeof lat, err);
            if (ln < 0) return ln;
            if (ln > 0) {
                r = model_word_features(cfg, lat, (size_t)ln, &sc->nb, sc->tmp + t, MODEL_MAX_FEATS,
                                        NULL, err);
                if (r < 0) return r;
                t += (size_t)r;
            }
        }
        /* pre-tokens overlapping the word, whole (a Chinese character gets the dictionary
         * word it is part of; a long Thai "word" gets the words inside it) */
        while (j < ntok && tok[j].end <= span[0]) j++;
        int added = 0;
        for (size_t q = j; q < ntok && tok[q].start < span[1] && added < MODEL_MAX_SUBWORDS; q++) {
            if (tok[q].start == span[0] && tok[q].end == span[1]) continue; /* = the word */
            int rc = text_normalize(text + tok[q].start, tok[q].end - tok[q].start, cfg->norm_flags,
                                    &sc->nb, err);
            if (rc) return rc;
            uint64_t h = hash_more(hash_bytes("P", 1), sc->nb.s, sc->nb.len);
            sc->tmp[t++] = (uint32_t)(h % cfg->buckets);
            added++;
        }
    }
    sc->toff[n] = (uint32_t)t;
    /* pass 2: copy out, appending the left and right bigrams */
    size_t extra = cfg->bigrams ? 2 * n : 0;
    if (vec_reserve((void **)feats, cap, *nf + t + extra + 1, sizeof **feats))
        return err_set(err, MILLE_ENOMEM, "features: out of memory");
    for (size_t k = 0; k < n; k++) {
        off[k] = (uint32_t)*nf;
        size_t len = sc->toff[k + 1] - sc->toff[k];
        memcpy(*feats + *nf, sc->tmp + sc->toff[k], len * sizeof **feats);
        *nf += len;
        if (cfg->bigrams) {
            (*feats)[(*nf)++] = bigram(cfg, k ? sc->wh[k - 1] : 0, sc->wh[k]);
            (*feats)[(*nf)++] = bigram(cfg, sc->wh[k], k + 1 < n ? sc->wh[k + 1] : 0);
        }
    }
    off[n] = (uint32_t)*nf;
    return MILLE_OK;
}

/* ---- batches ------------------------------------------------------------------------------- */

int batch_add(batch *b, const uint32_t *f, const uint32_t *fo, size_t n, uint32_t intent,
              const int *tags)
{
    size_t nf = fo[n] - fo[0];
    if (vec_reserve((void **)&b->utt_off, &b->cap_uo, b->n_utt + 2, sizeof *b->utt_off) ||
        vec_reserve((void **)&b->intent, &b->cap_in, b->n_utt + 1, sizeof *b->intent) ||
        vec_reserve((void **)&b->feat_off, &b->cap_fo, b->n_words + n + 1, sizeof *b->feat_off) ||
        vec_reserve((void **)&b->tags, &b->cap_tg, b->n_words + n, sizeof *b->tags) ||
        vec_reserve((void **)&b->feats, &b->cap_ft, b->n_feats + nf + 1, sizeof *b->feats))
        return MILLE_ENOMEM;
    b->utt_off[0] = 0;
    b->feat_off[0] = 0;
    memcpy(b->feats + b->n_feats, f + fo[0], nf * sizeof *f);
    for (size_t k = 0; k < n; k++) {
        b->feat_off[b->n_words + k + 1] = (uint32_t)(b->n_feats + fo[k + 1] - fo[0]);
        b->tags[b->n_words + k] = tags ? tags[k] : 0;
    }
    b->n_feats += nf;
    b->n_words += n;
    b->intent[b->n_utt] = intent;
    b->utt_off[++b->n_utt] = (uint32_t)b->n_words;
    return MILLE_OK;
}

void batch_clear(batch *b) { b->n_utt = b->n_words = b->n_feats = 0; }

void batch_free(batch *b)
{
    free(b->utt_off);
    free(b->feat_off);
    free(b->feats);
    free(b->intent);
    free(b->tags);
    memset(b, 0, sizeof *b);
}

void model_ws_free(model_ws *ws)
{
    free(ws->mX);
    free(ws->buf);
    free(ws->gbuf);
    free(ws->crf);
    free(ws->ibuf);
    q8_scratch_free(&ws->q8s);
    memset(ws, 0, sizeof *ws);
}

/* ---- forward ------------------------------------------------------------------------------- */

/* Floats of the activation views for N words and U utterances. Inference needs only these;
 * the gradient views (ws_bwd_floats) live in a block of their own that model_backward
 * reserves, so that a parsing session never holds training memory (audit 2026-12 #2). */
static size_t ws_fwd_floats(const model_config *c, size_t N, size_t U)
{
    size_t D = c->dim, H = c->hidden, S = c->n_slots, I = c->n_intents;
    size_t L = c->layers; /* each conv layer l >= 2 keeps G (U,H), U (N,4H), Hp and H (N,H) */
    return N * D + N * 3 * D + N * H + (L - 1) * (U * H + N * 4 * H + 2 * N * H) + N * S +
           U * 2 * H + U * I;
}
static size_t ws_bwd_floats(const model_config *c, size_t N, size_t U)
{
    size_t D = c->dim, H = c->hidden, S = c->n_slots, I = c->n_intents;
    return N * S + U * I + U * 2 * H + N * H + N * H + N * 4 * H + U * H + N * 3 * D + S * S +
           2 * S;
}

/* Y (n, rows) = A (n, cols) W^T for the weight matrix `id` (rows, cols): through the int8
 * kernels when the model stores W so, else through sgemm. */
static int dense(const model *m, int id, size_t n, const float *A, float *Y, model_ws *ws)
{
    const tensor_info *t = &m->t[id];
    if (m->q8[id].q) return q8_gemm(n, A, t->cols, &m->q8[id], Y, t->rows, &ws->q8s);
    kern_gemm(0, 1, n, t->rows, t->cols, 1, A, t->cols, model_tensor(m, id), t->cols, 0, Y,
              t->rows);
    return MILLE_OK;
}

int model_forward(const model *m, const batch *b, model_ws *ws)
{
    const model_config *c = &m->cfg;
    size_t N = b->n_words, U = b->n_utt, D = c->dim, H = c->hidden, S = c->n_slots,
           I = c->n_intents;
    if (vec_reserve((void **)&ws->buf, &ws->cap, ws_fwd_floats(c, N, U), sizeof(float)) ||
        vec_reserve((void **)&ws->ibuf, &ws->icap, U * H + N, sizeof(int)))
        return MILLE_ENOMEM;
    float *p = ws->buf;
    ws->X = p, p += N * D;
    ws->U1 = p, p += N * 3 * D;
    ws->H1 = p, p += N * H;
    int L = (int)c->layers;
    for (int l = 2; l <= L; l++) {
        ws->G[l] = p, p += U * H;
        ws->U[l] = p, p += N * 4 * H;
        ws->Hp[l] = p, p += N * H;
        ws->Hl[l] = p, p += N * H;
    }
    ws->H2 = ws->Hl[L];
    ws->E = p, p += N * S;
    ws->P = p, p += U * 2 * H;
    ws->L = p;
    ws->amax = ws->ibuf;

    /* X: mean of each word's feature embeddings */
    const float *emb = model_tensor(m, T_EMB);
    const q8_mat *eq = &m->q8[T_EMB];
    for (size_t i = 0; i < N; i++) {
        float *x = ws->X + i * D;
        memset(x, 0, D * sizeof *x);
        uint32_t f0 = b->feat_off[i], f1 = b->feat_off[i + 1];
        if (eq->q && i + 1 < N) /* the next word's rows and scales: random rows of a table
                                   larger than the caches, fetched while this word sums */
            for (uint32_t f = f1; f < b->feat_off[i + 2]; f++) {
                const int8_t *q = eq->q + (size_t)b->feats[f] * D;
                __builtin_prefetch(q);
                __builtin_prefetch(q + D - 1);
                __builtin_prefetch(eq->scale + b->feats[f]);
            }
        for (uint32_t f = f0; f < f1; f++) {
            size_t row = (size_t)b->feats[f] * D;
            if (eq->q) /* int8 rows: dequantize with the row's scale while summing */
                q8_axpy(x, eq->scale[b->feats[f]], eq->q + row, D);
            else if (m->emb16)
                for (size_t d = 0; d < D; d++) x[d] += model_half_to_float(m->emb16[row + d]);
            else
                for (size_t d = 0; d < D; d++) x[d] += emb[row + d];
        }
        float inv = f1 > f0 ? 1.0f / (float)(f1 - f0) : 0.0f;
        for (size_t d = 0; d < D; d++) x[d] *= inv;
    }
    if (ws->drop > 0) {
        size_t need = N * D + N * H;
        if (need > ws->cap_mask) {
            float *mk = realloc(ws->mX, need * sizeof *mk);
            if (!mk) return MILLE_ENOMEM;
            ws->mX = mk;
            ws->cap_mask = need;
        }
        ws->mH = ws->mX + N * D;
        rng r;
        rng_seed(&r, ws->drop_seed);
        /* keep with probability 1 - drop, scaled so that the expectation is unchanged */
        uint64_t thresh = (uint64_t)((double)ws->drop * 18446744073709551616.0);
        float keep = 1.0f / (1.0f - ws->drop);
        for (size_t i = 0; i < need; i++) ws->mX[i] = rng_next(&r) < thresh ? 0.0f : keep;
        for (size_t i = 0; i < N * D; i++) ws->X[i] *= ws->mX[i];
    }
    /* U1: windows [x(i-1), x(i), x(i+1)], zero outside the utterance */
    for (size_t u = 0; u < U; u++)
        for (size_t i = b->utt_off[u]; i < b->utt_off[u + 1]; i++) {
            float *w = ws->U1 + i * 3 * D;
            if (i > b->utt_off[u])
                memcpy(w, ws->X + (i - 1) * D, D * sizeof *w);
            else
                memset(w, 0, D * sizeof *w);
            memcpy(w + D, ws->X + i * D, D * sizeof *w);
            if (i + 1 < b->utt_off[u + 1])
                memcpy(w + 2 * D, ws->X + (i + 1) * D, D * sizeof *w);
            else
                memset(w + 2 * D, 0, D * sizeof *w);
        }
    /* H1 = relu(U1 W1^T + b1) */
    if (dense(m, T_W1, N, ws->U1, ws->H1, ws)) return MILLE_ENOMEM;
    kern_bias_relu(ws->H1, model_tensor(m, T_B1), N, H);
    /* conv l = 2..L: G = utterance means of the previous output, U = [h(i-1), h(i), h(i+1),
     * g], H_l = relu(U W_l^T + b_l) + h (residual) */
    const float *prev = ws->H1;
    for (int l = 2; l <= L; l++) {
        for (size_t u = 0; u < U; u++) {
            size_t a = b->utt_off[u], e = b->utt_off[u + 1];
            float *g = ws->G[l] + u * H;
            memset(g, 0, H * sizeof *g);
            for (size_t i = a; i < e; i++)
                for (size_t h = 0; h < H; h++) g[h] += prev[i * H + h];
            for (size_t h = 0; h < H; h++) g[h] /= (float)(e - a);
            for (size_t i = a; i < e; i++) {
                float *w = ws->U[l] + i * 4 * H;
                if (i > a)
                    memcpy(w, prev + (i - 1) * H, H * sizeof *w);
                else
                    memset(w, 0, H * sizeof *w);
                memcpy(w + H, prev + i * H, H * sizeof *w);
                if (i + 1 < e)
                    memcpy(w + 2 * H, prev + (i + 1) * H, H * sizeof *w);
                else
                    memset(w + 2 * H, 0, H * sizeof *w);
                memcpy(w + 3 * H, g, H * sizeof *w);
            }
        }
        if (dense(m, T_WL(l), N, ws->U[l], ws->Hp[l], ws)) return MILLE_ENOMEM;
        kern_bias_relu_res(ws->Hp[l], ws->Hl[l], model_tensor(m, T_BL(l)), prev, N, H);
        prev = ws->Hl[l];
    }
    if (ws->drop > 0)
        for (size_t i = 0; i < N * H; i++) ws->H2[i] *= ws->mH[i];
    /* E = H2 Ws^T + bs */
    if (dense(m, T_WS, N, ws->H2, ws->E, ws)) return MILLE_ENOMEM;
    const float *bs = model_tensor(m, T_BS);
    for (size_t i = 0; i < N; i++)
        for (size_t s = 0; s < S; s++) ws->E[i * S + s] += bs[s];
    /* P = [mean; max] of H2 over each utterance; L = P Wi^T + bi */
    for (size_t u = 0; u < U; u++) {
        size_t a = b->utt_off[u], e = b->utt_off[u + 1];
        float *mean = ws->P + u * 2 * H, *mx = mean + H;
        int *am = ws->amax + u * H;
        for (size_t h = 0; h < H; h++) {
            float s = 0, best = ws->H2[a * H + h];
            int arg = (int)a;
            for (size_t i = a; i < e; i++) {
                float v = ws->H2[i * H + h];
                s += v;
                if (v > best) best = v, arg = (int)i;
            }
            mean[h] = s / (float)(e - a);
            mx[h] = best;
            am[h] = arg;
        }
    }
    if (dense(m, T_WI, U, ws->P, ws->L, ws)) return MILLE_ENOMEM;
    const float *bi = model_tensor(m, T_BI);
    for (size_t u = 0; u < U; u++)
        for (size_t k = 0; k < I; k++) ws->L[u * I + k] += bi[k];
    return MILLE_OK;
}

/* ---- backward ------------------------------------------------------------------------------ */

static void add_colsum(float *g, const float *M, size_t rows, size_t cols, float scale)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) g[c] += scale * M[r * cols + c];
}

double model_backward(const model *m, const batch *b, model_ws *ws, const crf_trans *tr,
                      float scale, float *g, float *dX)
{
    return model_backward_soft(m, b, ws, tr, NULL, scale, g, dX);
}

/* Intent loss of logits l (I) and its gradient into dl (scaled), when dl != NULL:
 * soft == NULL: CE(gold); else the mix of model_soft. */
static double intent_loss(const float *l, size_t I, uint32_t gold, const model_soft *soft, size_t u,
                          float scale, float *dl)
{
    float mx = l[0];
    for (size_t k = 1; k < I; k++)
        if (l[k] > mx) mx = l[k];
    double z = 0;
    for (size_t k = 0; k < I; k++) z += exp((double)(l[k] - mx));
    double hard_w = soft ? (soft->gold[u] ? 1.0 - soft->alpha : 0.0) : 1.0;
    double loss = 0;
    if (dl)
        for (size_t k = 0; k < I; k++) dl[k] = 0;
    if (hard_w > 0) {
        loss += hard_w * (log(z) - (double)(l[gold] - mx));
        if (dl)
            for (size_t k = 0; k < I; k++)
                dl[k] += (float)(hard_w * (exp((double)(l[k] - mx)) / z - (k == gold)));
    }
    double soft_w = soft ? (soft->gold[u] ? soft->alpha : 1.0) : 0.0;
    if (soft_w > 0) {
        /* w T^2 * CE(q, softmax(l/T)); d/dl = w T (softmax(l/T) - q) */
        double T = soft->temp, zt = 0, w = soft_w * T * T;
        const float *q = soft->intent + u * I;
        for (size_t k = 0; k < I; k++) zt += exp((double)(l[k] - mx) / T);
        double lzt = log(zt);
        for (size_t k = 0; k < I; k++) {
            double lp = (double)(l[k] - mx) / T - lzt;
            if (q[k] > 0) loss -= w * q[k] * lp;
            if (dl) dl[k] += (float)(soft_w * T * (exp(lp) - q[k]));
        }
    }
    if (dl)
        for (size_t k = 0; k < I; k++) dl[k] *= scale;
    return loss;
}

double model_backward_soft(const model *m, const batch *b, model_ws *ws, const crf_trans *tr,
                           const model_soft *soft, float scale, float *g, float *dX)
{
    const model_config *c = &m->cfg;
    size_t N = b->n_words, U = b->n_utt, D = c->dim, H = c->hidden, S = c->n_slots,
           I = c->n_intents;
    size_t dense0 = m->t[T_W1].off;
#define G(id) (g + m->t[id].off - dense0)
    if (vec_reserve((void **)&ws->gbuf, &ws->gcap, ws_bwd_floats(c, N, U), sizeof(float)))
        return NAN;
    float *p = ws->gbuf;
    float *dE = p;
    p += N * S;
    float *dL = p;
    p += U * I;
    float *dP = p;
    p += U * 2 * H;
    float *dH2 = p;
    p += N * H;
    float *dH1 = p;
    p += N * H;
    float *dU2 = p;
    p += N * 4 * H;
    float *dG = p;
    p += U * H;
    float *dU1 = p;
    p += N * 3 * D;
    float *dA = p;
    p += S * S;
    float *dst = p, *den = p + S;
    double loss = 0;

    /* CRF over each utterance's emissions; intent cross-entropy */
    size_t maxT = 0;
    for (size_t u = 0; u < U; u++)
        if (b->utt_off[u + 1] - b->utt_off[u] > maxT) maxT = b->utt_off[u + 1] - b->utt_off[u];
    if (g) {
        memset(dE, 0, N * S * sizeof *dE);
        memset(dA, 0, (S * S + 2 * S) * sizeof *dA);
    }
    if (vec_reserve((void **)&ws->crf, &ws->crf_cap, crf_scratch_doubles(maxT, S), sizeof(double)))
        return NAN;
    for (size_t u = 0; u < U; u++) {
        size_t a = b->utt_off[u], T = b->utt_off[u + 1] - a;
        if (soft)
            loss +=
                crf_xent(ws->E + a * S, tr, model_tensor(m, T_START), model_tensor(m, T_END), T,
                         soft->eoff + a, soft->ent, g ? dE + a * S : NULL, dA, dst, den, ws->crf);
        else
            loss += crf_nll(ws->E + a * S, tr, model_tensor(m, T_START), model_tensor(m, T_END), T,
                            b->tags + a, g ? dE + a * S : NULL, dA, dst, den, ws->crf);
        loss += intent_loss(ws->L + u * I, I, b->intent[u], soft, u, scale, g ? dL + u * I : NULL);
    }
    if (!g) return loss;
    for (size_t i = 0; i < N * S; i++) dE[i] *= scale;
    for (size_t i = 0; i < S * S; i++) G(T_TRANS)[i] += scale * dA[i];
    for (size_t s = 0; s < S; s++) {
        G(T_START)[s] += scale * dst[s];
        G(T_END)[s] += scale * den[s];
    }
    /* slot head */
    kern_gemm(1, 0, S, H, N, 1, dE, S, ws->H2, H, 1, G(T_WS), H);
    add_colsum(G(T_BS), dE, N, S, 1);
    kern_gemm(0, 0, N, H, S, 1, dE, S, model_tensor(m, T_WS), H, 0, dH2, H);
    /* intent head and pooling */
    kern_gemm(1, 0, I, 2 * H, U, 1, dL, I, ws->P, 2 * H, 1, G(T_WI), 2 * H);
    add_colsum(G(T_BI), dL, U, I, 1);
    kern_gemm(0, 0, U, 2 * H, I, 1, dL, I, model_tensor(m, T_WI), 2 * H, 0, dP, 2 * H);
    for (size_t u = 0; u < U; u++) {
        size_t a = b->utt_off[u], e = b->utt_off[u + 1];
        float inv = 1.0f / (float)(e - a);
        for (size_t i = a; i < e; i++)
            for (size_t h = 0; h < H; h++) dH2[i * H + h] += dP[u * 2 * H + h] * inv;
        for (size_t h = 0; h < H; h++)
            dH2[(size_t)ws->amax[u * H + h] * H + h] += dP[u * 2 * H + H + h];
    }
    /* dropout on H2: the gradient passes where the mask kept the unit */
    if (ws->drop > 0)
        for (size_t i = 0; i < N * H; i++) dH2[i] *= ws->mH[i];
    /* conv L..2: H_l = relu(Hp_l) + h_prev. dH holds the gradient of H_l; the residual
     * passes it to h_prev, the ReLU gates it to Hp_l, and the windows scatter back. dH and
     * dPrev swap buffers from layer to layer. */
    float *dH = dH2, *dPrev = dH1;
    for (int l = (int)c->layers; l >= 2; l--) {
        for (size_t i = 0; i < N * H; i++) {
            dPrev[i] = dH[i];
            dH[i] = ws->Hp[l][i] > 0 ? dH[i] : 0; /* now dHp */
        }
        kern_gemm(1, 0, H, 4 * H, N, 1, dH, H, ws->U[l], 4 * H, 1, G(T_WL(l)), 4 * H);
        add_colsum(G(T_BL(l)), dH, N, H, 1);
        kern_gemm(0, 0, N, 4 * H, H, 1, dH, H, model_tensor(m, T_WL(l)), 4 * H, 0, dU2, 4 * H);
        /* U[i] = [h(i-1), h(i), h(i+1), g(u)] */
        for (size_t u = 0; u < U; u++) {
            size_t a = b->utt_off[u], e = b->utt_off[u + 1];
            float *dg = dG + u * H;
            memset(dg, 0, H * sizeof *dg);
            for (size_t i = a; i < e; i++) {
                const float *w = dU2 + i * 4 * H;
                for (size_t h = 0; h < H; h++) {
                    dPrev[i * H + h] += w[H + h];
                    if (i > a) dPrev[(i - 1) * H + h] += w[h];
                    if (i + 1 < e) dPrev[(i + 1) * H + h] += w[2 * H + h];
                    dg[h] += w[3 * H + h];
                }
            }
            float inv = 1.0f / (float)(e - a);
            for (size_t i = a; i < e; i++)
                for (size_t h = 0; h < H; h++) dPrev[i * H + h] += dg[h] * inv;
        }
        float *tmp = dH;
        dH = dPrev;
        dPrev = tmp;
    }
    dH1 = dH; /* the gradient of H1 */
    for (size_t i = 0; i < N * H; i++)
        if (ws->H1[i] <= 0) dH1[i] = 0; /* now dH1p */
    kern_gemm(1, 0, H, 3 * D, N, 1, dH1, H, ws->U1, 3 * D, 1, G(T_W1), 3 * D);
    add_colsum(G(T_B1), dH1, N, H, 1);
    kern_gemm(0, 0, N, 3 * D, H, 1, dH1, H, model_tensor(m, T_W1), 3 * D, 0, dU1, 3 * D);
    for (size_t u = 0; u < U; u++) {
        size_t a = b->utt_off[u], e = b->utt_off[u + 1];
        for (size_t i = a; i < e; i++)
            for (size_t d = 0; d < D; d++) {
                float v = dU1[i * 3 * D + D + d];
                if (i + 1 < e) v += dU1[(i + 1) * 3 * D + d];
                if (i > a) v += dU1[(i - 1) * 3 * D + 2 * D + d];
                dX[i * D + d] = ws->drop > 0 ? v * ws->mX[i * D + d] : v;
            }
    }
#undef G
    return loss;
}

/* ---- decoding ------------------------------------------------------------------------------ */

void model_decode(const model *m, const batch *b, model_ws *ws, uint32_t *intent, float *prob,
                  int *tags)
{
    size_t U = b->n_utt, S = m->cfg.n_slots, I = m->cfg.n_intents;
    for (size_t u = 0; u < U; u++) {
        const float *l = ws->L + u * I;
        size_t best = 0;
        for (size_t k = 1; k < I; k++)
            if (l[k] > l[best]) best = k;
        /* the argmax does not depend on the temperature, the probability does */
        double z = 0, beta = m->temperature > 0 ? 1.0 / (double)m->temperature : 1.0;
        for (size_t k = 0; k < I; k++) z += exp(beta * (double)(l[k] - l[best]));
        intent[u] = (uint32_t)best;
        if (prob) prob[u] = (float)(1.0 / z);
        size_t a = b->utt_off[u], T = b->utt_off[u + 1] - a;
        /* Viterbi scratch: reuse the crf buffer (T*S doubles) and ibuf past amax */
        if (vec_reserve((void **)&ws->crf, &ws->crf_cap, T * S, sizeof(double)) ||
            vec_reserve((void **)&ws->ibuf, &ws->icap, U * m->cfg.hidden + T * S, sizeof(int))) {
            for (size_t i = 0; i < T; i++) tags[a + i] = 0; /* out of memory: all Other */
            continue;
        }
        crf_viterbi(ws->E + a * S, model_tensor(m, T_TRANS), model_tensor(m, T_START),
                    model_tensor(m, T_END), T, S, tags + a, ws->crf, ws->ibuf + U * m->cfg.hidden);
    }
}
