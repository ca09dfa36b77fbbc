/*
 * modelio.c - the model file: save (atomic) and load (read whole into memory, every field
 * checked).
 *
 *   offset 0   "MILLEMDL"                      magic, 8 bytes
 *          8   u32 version (1 or 2)            little-endian; 2 iff some tensor is i8
 *         12   u32 header_len                  bytes of the JSON header (<= 16 MiB)
 *         16   header: JSON object             config, normalization, labels, tensor table
 *              zero padding to a multiple of 64
 *   data_start tensor data, each tensor at a 64-byte-aligned offset from data_start,
 *              row-major, little-endian, by dtype:
 *                f32  rows x cols float32
 *                f16  rows x cols IEEE half                     (emb only)
 *                i8   rows x cols int8 codes in [-127, 127], and at scale_offset
 *                     rows float32 scales: value = scale[r] * code (emb, conv*.w,
 *                     slot.w, intent.w only)
 *   size - 8   u32 CRC-32 (zlib) of bytes [0, size - 8), then "MEND"
 *
 * The JSON header holds "config" {buckets, dim, hidden, minn, maxn, norm_flags}, "intents",
 * "scenarios", "intent_scenario", "slots" (slots[0] == "Other") and "tensors": a list of
 * {name, dtype, shape, offset, size[, scale_offset]}. The loader treats the file as
 * hostile: every count, offset, size, dtype, shape and int8 scale is checked against the
 * file size and against the architecture before any tensor is touched. The version
 * changes only when the structure changes: version 2 added the i8 dtype. The writer
 * writes the oldest version that describes the file (1 for float models, which older
 * readers still read); a newer version is refused with a message naming both.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_HUGEPAGE */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "langid.h"
#include "model.h"

#define MODEL_MAGIC      "MILLEMDL"
#define MODEL_VERSION    2u /* the newest version this code reads */
#define MODEL_VERSION_I8 2u /* the first version with int8 tensors */
#define MODEL_ALIGN      64u
#define MODEL_MAX_HEADER (16u << 20)

static size_t aligned(size_t n) { return (n + MODEL_ALIGN - 1) / MODEL_ALIGN * MODEL_ALIGN; }

/* The image of a loaded model: anonymous memory holding a copy of the file (model_load). */
void modelio_unmap(void *map, size_t len) { munmap(map, len); }

uint32_t file_crc32(const void *buf, size_t n)
{
    /* zlib's crc32 takes uInt lengths: feed large buffers in 1 GiB chunks */
    const unsigned char *p = buf;
    uLong c = crc32(0L, Z_NULL, 0);
    for (size_t o = 0; o < n;) {
        size_t len = n - o > (1u << 30) ? (1u << 30) : n - o;
        c = crc32(c, p + o, (uInt)len);
        o += len;
    }
    return (uint32_t)c;
}

/* ---- save ---------------------------------------------------------------------------------- */

static uint16_t float_to_half(float f)
{
    /* round to nearest even; values beyond the half range saturate to +-65504 */
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7bff); /* no inf/nan: clamp */
    if (exp >= 31) return (uint16_t)(sign | 0x7bff);
    if (exp <= 0) { /* subnormal or zero */
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp), half = man >> shift, rem = man & ((1u << shift) - 1),
                 mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into exp: fine */
    if ((half & 0x7fff) >= 0x7c00) half = sign | 0x7bff;
    return (uint16_t)half;
}

static json_t *names_json(const strtab *t)
{
    json_t *a = json_array();
    for (size_t i = 0; i < t->n; i++)
        json_array_append_new(a, json_stringn(strtab_str(t, i), t->lens[i]));
    return a;
}

/* The tensors of a langid head, in file order: name, data, shape (rows, cols); returns how
 * many (absent parts are left out). */
typedef struct lid_tensor {
    const char *name;
    const float *p;
    size_t rows, cols;
} lid_tensor;
static int lid_tensors(const langid_head *l, lid_tensor *t)
{
    int n = 0;
    t[n++] = (lid_tensor){"langid.b", l->b, l->K, 1};
    if (l->F) t[n++] = (lid_tensor){"langid.w", l->w, l->K, l->F};
    if (l->feats & LANGID_FEAT_NGRAM) {
        t[n++] = (lid_tensor){"langid.a", l->a, l->K, l->Q};
        t[n++] = (lid_tensor){"langid.e", l->e, l->R, l->Q};
    }
    return n;
}

/* The "langid" section of the header (docs/model-format.md): its version, features,
 * locales, n-gram table shape and f32 tensors placed from data offset off on. Returns the
 * offset past them. */
static size_t langid_header(const model *m, json_t *h, size_t off)
{
    lid_tensor lt[4];
    int n = lid_tensors(&m->lid, lt);
    json_t *t = json_array();
    for (int i = 0; i < n; i++) {
        size_t size = lt[i].rows * lt[i].cols * 4;
        json_array_append_new(t, json_pack("{s:s,s:s,s:[I,I],s:I,s:I}", "name", lt[i].name, "dtype",
                                           "f32", "shape", (json_int_t)lt[i].rows,
                                           (json_int_t)lt[i].cols, "offset", (json_int_t)off,
                                           "size", (json_int_t)size));
        off += aligned(size);
    }
    json_t *o = json_pack("{s:I,s:s,s:o}", "version", (json_int_t)LANGID_VERSION, "features",
                          langid_feats_name(m->lid.feats), "locales", names_json(&m->lid.locales));
    if (m->lid.feats & LANGID_FEAT_NGRAM) {
        json_object_set_new(o, "rows", json_integer((json_int_t)m->lid.R));
        json_object_set_new(o, "width", json_integer((json_int_t)m->lid.Q));
    }
    json_object_set_new(o, "tensors", t);
    json_object_set_new(h, "langid", o);
    return off;
}

int model_save(const model *m, const char *path, int half, mille_error *err)
{
    const model_config *c = &m->cfg;
    json_t *h = json_object(), *tensors = json_array(), *is = json_array();
    json_object_set_new(h, "format", json_string("mille-model"));
    json_object_set_new(h, "arch", json_string("hashcnn"));
    json_object_set_new(h, "config",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "buckets",
                                  (json_int_t)c->buckets, "dim", (json_int_t)c->dim, "hidden",
                                  (json_int_t)c->hidden, "minn", (json_int_t)c->minn, "maxn",
                                  (json_int_t)c->maxn, "norm_flags", (json_int_t)c->norm_flags,
                                  "bigrams", (json_int_t)c->bigrams, "subwords",
                                  (json_int_t)c->subwords, "layers", (json_int_t)c->layers));
    /* written only when on: files without it read as before */
    if (c->translit) json_object_set_new(json_object_get(h, "config"), "translit", json_integer(1));
    json_object_set_new(h, "intents", names_json(&m->intents));
    json_object_set_new(h, "scenarios", names_json(&m->scenarios));
    json_object_set_new(h, "slots", names_json(&m->slots));
    json_object_set_new(h, "locales", names_json(&m->locales));
    if (m->pretrained) json_object_set_new(h, "pretrained", json_true());
    if (m->temperature != 1 || m->reject_below != 0) /* absent = T 1, no rejection */
        json_object_set_new(h, "calibration",
                            json_pack("{s:f,s:f,s:f}", "temperature", (double)m->temperature,
                                      "reject_below", (double)m->reject_below, "reject_recall",
                                      round((double)m->reject_recall * 1e6) / 1e6));
    for (size_t i = 0; i < c->n_intents; i++)
        json_array_append_new(is, json_integer(m->intent_scenario[i]));
    json_object_set_new(h, "intent_scenario", is);
    size_t off = 0;
    uint32_t version = 1; /* the oldest version that describes the file: older readers keep
                             reading f32 / f16 models */
    for (int i = 0; i < m->n_tensors; i++) {
        int f16 = half && i == T_EMB && !m->q8[i].q, i8 = m->q8[i].q != NULL;
        size_t size = m->t[i].rows * m->t[i].cols * (i8 ? 1 : f16 ? 2 : 4);
        json_t *t = json_pack("{s:s,s:s,s:[I,I],s:I,s:I}", "name", m->t[i].name, "dtype",
                              i8    ? "i8"
                              : f16 ? "f16"
                                    : "f32",
                              "shape", (json_int_t)m->t[i].rows, (json_int_t)m->t[i].cols, "offset",
                              (json_int_t)off, "size", (json_int_t)size);
        off += aligned(size);
        if (i8) { /* the per-row scales follow the codes */
            json_object_set_new(t, "scale_offset", json_integer((json_int_t)off));
            off += aligned(m->t[i].rows * 4);
            version = MODEL_VERSION_I8;
        }
        json_array_append_new(tensors, t);
    }
    json_object_set_new(h, "tensors", tensors);
    size_t lid_off = off; /* the langid section's tensors follow the model's */
    if (m->lid.K) off = langid_header(m, h, off);
    char *hs = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!hs) return err_set(err, MILLE_ENOMEM, "%s: out of memory", path);
    size_t hlen = strlen(hs),
           data_start = (16 + hlen + MODEL_ALIGN - 1) / MODEL_ALIGN * MODEL_ALIGN;
    size_t total = data_start + off + 8;
    unsigned char *buf = calloc(1, total);
    if (!buf) {
        free(hs);
        return err_set(err, MILLE_ENOMEM, "%s: out of memory (%zu bytes)", path, total);
    }
    uint32_t v = version, hl = (uint32_t)hlen;
    memcpy(buf, MODEL_MAGIC, 8);
    memcpy(buf + 8, &v, 4);
    memcpy(buf + 12, &hl, 4);
    memcpy(buf + 16, hs, hlen);
    free(hs);
    off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        int f16 = half && i == T_EMB && !m->q8[i].q;
        size_t n = m->t[i].rows * m->t[i].cols;
        const float *src = model_tensor(m, i);
        unsigned char *dst = buf + data_start + off;
        if (m->q8[i].q) {
            memcpy(dst, m->q8[i].q, n);
            off += aligned(n);
            memcpy(buf + data_start + off, m->q8[i].scale, m->t[i].rows * 4);
            off += aligned(m->t[i].rows * 4);
            continue;
        }
        if (i == T_EMB && !src) { /* a loaded model's half-precision embedding */
            MILLE_ASSERT(m->emb16);
            if (f16) memcpy(dst, m->emb16, n * 2);
            for (size_t k = 0; k < n && !f16; k++) {
                float x = model_half_to_float(m->emb16[k]);
                memcpy(dst + 4 * k, &x, 4);
            }
        } else if (f16) {
            for (size_t k = 0; k < n; k++) {
                uint16_t q = float_to_half(src[k]);
                memcpy(dst + 2 * k, &q, 2);
            }
        } else {
            memcpy(dst, src, n * 4);
        }
        off += aligned(n * (f16 ? 2 : 4));
    }
    if (m->lid.K) { /* the langid tensors, in the order of langid_header */
        lid_tensor lt[4];
        int n = lid_tensors(&m->lid, lt);
        for (int i = 0; i < n; i++) {
            memcpy(buf + data_start + lid_off, lt[i].p, lt[i].rows * lt[i].cols * 4);
            lid_off += aligned(lt[i].rows * lt[i].cols * 4);
        }
    }
    uint32_t crc = file_crc32(buf, total - 8);
    memcpy(buf + total - 8, &crc, 4);
    memcpy(buf + total - 4, "MEND", 4);
    int rc = file_write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

/* ---- load ---------------------------------------------------------------------------------- */

/* Fill a strtab from a JSON array of distinct strings. */
static int names_from(json_t *a, strtab *t, const char *what, const char *path, mille_error *err)
{
    /* "locales" is information: a model pretrained on unnamed text has none */
    int may_be_empty = strcmp(what, "locales") == 0;
    if (!json_is_array(a) || (json_array_size(a) == 0 && !may_be_empty))
        return err_set(err, MILLE_EFORMAT, "%s: header field \"%s\" must be a non-empty list", path,
                       what);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s))
            return err_set(err, MILLE_EFORMAT, "%s: %s[%zu] is not a string", path, what, i);
        int64_t id = strtab_intern(t, json_string_value(s), json_string_length(s));
        if (id < 0) return err_set(err, MILLE_ENOMEM, "%s: out of memory", path);
        if ((size_t)id != i)
            return err_set(err, MILLE_EFORMAT, "%s: %s[%zu] is a duplicate", path, what, i);
    }
    return MILLE_OK;
}

static int get_uint(json_t *o, const char *key, uint32_t lo, uint32_t hi, uint32_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < (json_int_t)lo || x > (json_int_t)hi) return -1;
    *out = (uint32_t)x;
    return 0;
}

/* A real number of object o in [lo, hi] (JSON integers count), or -1. */
static int get_real(json_t *o, const char *key, double lo, double hi, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return -1;
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return -1; /* also NaN */
    *out = x;
    return 0;
}

/* "calibration": {"temperature": T, "reject_below": X, "reject_recall": R}, optional (added
 * without a version change: older readers ignore it, and a file without it loads with T = 1
 * and no rejection). T in [1e-3, 1e3]; X and R in [0, 1]. */
static int load_calibration(model *m, json_t *c, const char *path, mille_error *err)
{
    m->temperature = 1;
    m->reject_below = m->reject_recall = 0;
    if (!c) return MILLE_OK;
    double t, x, r = 0;
    if (!json_is_object(c) || get_real(c, "temperature", 1e-3, 1e3, &t) ||
        get_real(c, "reject_below", 0, 1, &x) ||
        (json_object_get(c, "reject_recall") && get_real(c, "reject_recall", 0, 1, &r)))
        return err_set(err, MILLE_EFORMAT,
                       "%s: header \"calibration\" needs temperature in [0.001, 1000] and "
                       "reject_below (and optional reject_recall) in [0, 1]",
                       path);
    m->temperature = (float)t;
    m->reject_below = (float)x;
    m->reject_recall = (float)r;
    return MILLE_OK;
}

/* The optional "langid" section: {"version": 1, "features": "ngram" | "emb" | ... (langid.h),
 * "locales": [K names], "rows": R, "width": Q (with ngram), "tensors": [langid.b (K, 1),
 * langid.w (K, F) (with emb or pool), langid.a (K, Q), langid.e (R, Q) (with ngram)], all f32}.
 * Added without a change of the file version (the model's own tensors are as before;
 * readers from before it ignore the key and the bytes after the model's tensors); a section
 * of a newer version than this reader knows is refused by naming both. Every field is
 * checked like the model's tensors, and the weights must be finite. */
static int load_langid(model *m, json_t *s, const unsigned char *data, size_t data_len,
                       const char *path, mille_error *err)
{
    if (!s) return MILLE_OK;
    uint32_t v;
    if (!json_is_object(s) || get_uint(s, "version", 1, UINT32_MAX, &v))
        return err_set(err, MILLE_EFORMAT, "%s: header \"langid\" needs a version >= 1", path);
    if (v > LANGID_VERSION)
        return err_set(err, MILLE_EFORMAT,
                       "%s: langid section version %u, this mille reads version %u (upgrade "
                       "mille)",
                       path, v, LANGID_VERSION);
    const char *fs = json_string_value(json_object_get(s, "features"));
    uint32_t feats = fs ? langid_feats_parse(fs) : 0;
    if (!feats)
        return err_set(err, MILLE_EFORMAT,
                       "%s: langid: unknown features \"%s\" (this mille reads ngram, emb, pool "
                       "joined by +)",
                       path, fs ? fs : "");
    langid_head *l = &m->lid;
    int rc = names_from(json_object_get(s, "locales"), &l->locales, "langid.locales", path, err);
    if (rc) return rc;
    uint32_t K = (uint32_t)l->locales.n, R = 0, Q = 0;
    if (K < 2 || K > LANGID_MAX_LOCALES)
        return err_set(err, MILLE_EFORMAT, "%s: langid: %u locales (must be 2..%u)", path, K,
                       LANGID_MAX_LOCALES);
    if ((feats & LANGID_FEAT_NGRAM) &&
        (get_uint(s, "rows", 1, LANGID_MAX_ROWS, &R) || get_uint(s, "width", 1, LANGID_MAX_Q, &Q)))
        return err_set(err, MILLE_EFORMAT, "%s: langid: \"rows\" must be 1..%u and \"width\" 1..%u",
                       path, LANGID_MAX_ROWS, LANGID_MAX_Q);
    l->K = K;
    l->F = (uint32_t)langid_dim(&m->cfg, feats);
    l->R = R;
    l->Q = Q;
    l->feats = feats;
    lid_tensor lt[4];
    int n = lid_tensors(l, lt);
    json_t *tl = json_object_get(s, "tensors");
    if (!json_is_array(tl) || json_array_size(tl) != (size_t)n)
        return err_set(err, MILLE_EFORMAT, "%s: langid: expected %d tensors", path, n);
    const float *ptr[4];
    for (int i = 0; i < n; i++) {
        json_t *t = json_array_get(tl, (size_t)i), *shape = json_object_get(t, "shape");
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *dtype = json_string_value(json_object_get(t, "dtype"));
        json_t *jo = json_object_get(t, "offset"), *js = json_object_get(t, "size");
        if (!name || strcmp(name, lt[i].name) != 0 || !dtype || strcmp(dtype, "f32") != 0 ||
            !json_is_array(shape) || json_array_size(shape) != 2 || !json_is_integer(jo) ||
            !json_is_integer(js))
            return err_set(err, MILLE_EFORMAT,
                           "%s: langid tensor %d: expected \"%s\", dtype f32, shape, offset, size",
                           path, i, lt[i].name);
        json_int_t r0 = json_integer_value(json_array_get(shape, 0)),
                   r1 = json_integer_value(json_array_get(shape, 1)), off = json_integer_value(jo),
                   size = json_integer_value(js);
        size_t want = lt[i].rows * lt[i].cols * 4;
        if (r0 != (json_int_t)lt[i].rows || r1 != (json_int_t)lt[i].cols)
            return err_set(err, MILLE_EFORMAT,
                           "%s: tensor %s: shape [%lld, %lld], expected [%zu, %zu]", path,
                           lt[i].name, (long long)r0, (long long)r1, lt[i].rows, lt[i].cols);
        if (size != (json_int_t)want || off < 0 || off % MODEL_ALIGN || (size_t)off > data_len ||
            want > data_len - (size_t)off)
            return err_set(err, MILLE_EFORMAT,
                           "%s: tensor %s: offset %lld size %lld outside the data (%zu bytes)",
                           path, lt[i].name, (long long)off, (long long)size, data_len);
        ptr[i] = (const float *)(const void *)(data + off);
        for (size_t j = 0; j < lt[i].rows * lt[i].cols; j++)
            if (!isfinite(ptr[i][j]))
                return err_set(err, MILLE_EFORMAT, "%s: tensor %s: element %zu is not finite", path,
                               lt[i].name, j);
    }
    int i = 0;
    l->b = ptr[i++];
    if (l->F) l->w = ptr[i++];
    if (feats & LANGID_FEAT_NGRAM) {
        l->a = ptr[i++];
        l->e = ptr[i++];
    }
    return MILLE_OK;
}

static int load_header(model *m, json_t *h, uint32_t version, const unsigned char *data,
                       size_t data_len, const char *path, mille_error *err)
{
    model_config c = model_default_config();
    json_t *cfg = json_object_get(h, "config");
    const char *arch = json_string_value(json_object_get(h, "arch"));
    if (!arch || strcmp(arch, "hashcnn") != 0)
        return err_set(err, MILLE_EFORMAT, "%s: unknown model architecture \"%s\"", path,
                       arch ? arch : "");
    if (!json_is_object(cfg) || get_uint(cfg, "buckets", 1, 1u << 26, &c.buckets) ||
        get_uint(cfg, "dim", 1, 4096, &c.dim) || get_uint(cfg, "hidden", 1, 4096, &c.hidden) ||
        get_uint(cfg, "minn", 1, 16, &c.minn) || get_uint(cfg, "maxn", c.minn, 16, &c.maxn) ||
        get_uint(cfg, "norm_flags", 0, TEXT_NORM_ALL, &c.norm_flags))
        return err_set(err, MILLE_EFORMAT, "%s: header \"config\" missing or out of range", path);
    c.bigrams = c.subwords = 0; /* absent in files written before these features existed */
    c.layers = 2;
    if (json_object_get(cfg, "layers") && get_uint(cfg, "layers", 2, MODEL_MAX_LAYERS, &c.layers))
        return err_set(err, MILLE_EFORMAT, "%s: header config \"layers\" must be 2..%d", path,
                       MODEL_MAX_LAYERS);
    if (json_object_get(cfg, "subwords") && get_uint(cfg, "subwords", 0, 1, &c.subwords))
        return err_set(err, MILLE_EFORMAT, "%s: header config \"subwords\" must be 0 or 1", path);
    if (json_object_get(cfg, "bigrams") && get_uint(cfg, "bigrams", 0, 1, &c.bigrams))
        return err_set(err, MILLE_EFORMAT, "%s: header config \"bigrams\" must be 0 or 1", path);
    c.translit = 0;
    if (json_object_get(cfg, "translit") && get_uint(cfg, "translit", 0, 1, &c.translit))
        return err_set(err, MILLE_EFORMAT, "%s: header config \"translit\" must be 0 or 1", path);
    strtab intents = {0}, slots = {0}, scen = {0}, locs = {0};
    int rc;
    /* "locales" is information only (optional) */
    json_t *jl = json_object_get(h, "locales");
    if ((jl && (rc = names_from(jl, &locs, "locales", path, err))) ||
        (rc = names_from(json_object_get(h, "intents"), &intents, "intents", path, err)) ||
        (rc = names_from(json_object_get(h, "slots"), &slots, "slots", path, err)) ||
        (rc = names_from(json_object_get(h, "scenarios"), &scen, "scenarios", path, err)))
        goto fail;
    if (slots.n > 512 || intents.n > 65536 || strcmp(strtab_str(&slots, 0), "Other") != 0) {
        rc = err_set(err, MILLE_EFORMAT, "%s: bad slot or intent list (slots[0] must be \"Other\")",
                     path);
        goto fail;
    }
    c.n_intents = (uint32_t)intents.n;
    c.n_slots = (uint32_t)slots.n;
    memset(m, 0, sizeof *m);
    m->cfg = c;
    m->n_params = model_layout(&c, m->t, &m->n_tensors);
    m->intent_scenario = calloc(c.n_intents, sizeof *m->intent_scenario);
    if (!m->intent_scenario) {
        rc = err_set(err, MILLE_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    json_t *is = json_object_get(h, "intent_scenario");
    if (!json_is_array(is) || json_array_size(is) != c.n_intents) {
        rc = err_set(err, MILLE_EFORMAT,
                     "%s: \"intent_scenario\" must list one scenario per intent", path);
        goto fail;
    }
    for (size_t i = 0; i < c.n_intents; i++) {
        json_t *v = json_array_get(is, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (size_t)json_integer_value(v) >= scen.n) {
            rc = err_set(err, MILLE_EFORMAT, "%s: intent_scenario[%zu] out of range", path, i);
            goto fail;
        }
        m->intent_scenario[i] = (uint32_t)json_integer_value(v);
    }
    json_t *tl = json_object_get(h, "tensors");
    if (!json_is_array(tl) || json_array_size(tl) != (size_t)m->n_tensors) {
        rc = err_set(err, MILLE_EFORMAT, "%s: expected %d tensors in the header", path,
                     m->n_tensors);
        goto fail;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        json_t *t = json_array_get(tl, (size_t)i);
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *dtype = json_string_value(json_object_get(t, "dtype"));
        json_t *shape = json_object_get(t, "shape");
        json_t *jo = json_object_get(t, "offset"), *js = json_object_get(t, "size");
        if (!name || strcmp(name, m->t[i].name) != 0 || !dtype || !json_is_array(shape) ||
            json_array_size(shape) != 2 || !json_is_integer(jo) || !json_is_integer(js)) {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s: tensor %d: expected \"%s\" with dtype, shape, offset, size", path, i,
                         m->t[i].name);
            goto fail;
        }
        int f16 = strcmp(dtype, "f16") == 0, i8 = strcmp(dtype, "i8") == 0;
        if (!f16 && !i8 && strcmp(dtype, "f32") != 0) {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s: tensor %s: unknown dtype \"%s\" (this mille reads f32, f16, i8)",
                         path, name, dtype);
            goto fail;
        }
        if (f16 && i != T_EMB) {
            rc = err_set(err, MILLE_EFORMAT, "%s: tensor %s: only emb may be f16", path, name);
            goto fail;
        }
        if (i8 && version < MODEL_VERSION_I8) {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s: tensor %s: dtype i8 needs model file version %u, the file says %u",
                         path, name, MODEL_VERSION_I8, version);
            goto fail;
        }
        if (i8 && !model_is_weight_matrix(m, i)) {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s: tensor %s: only the embedding and weight matrices may be i8", path,
                         name);
            goto fail;
        }
        json_int_t r0 = json_integer_value(json_array_get(shape, 0)),
                   r1 = json_integer_value(json_array_get(shape, 1));
        json_int_t off = json_integer_value(jo), size = json_integer_value(js);
        size_t want = m->t[i].rows * m->t[i].cols * (i8 ? 1 : f16 ? 2 : 4);
        if (r0 != (json_int_t)m->t[i].rows || r1 != (json_int_t)m->t[i].cols) {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s: tensor %s: shape [%lld, %lld], expected [%zu, %zu]", path, name,
                         (long long)r0, (long long)r1, m->t[i].rows, m->t[i].cols);
            goto fail;
        }
        if (size != (json_int_t)want || off < 0 || off % MODEL_ALIGN || (size_t)off > data_len ||
            want > data_len - (size_t)off) {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s: tensor %s: offset %lld size %lld outside the data (%zu bytes)", path,
                         name, (long long)off, (long long)size, data_len);
            goto fail;
        }
        if (i8) {
            /* the per-row scales: inside the data, aligned, finite and >= 0 (a NaN scale
             * would reach the activations of every word that uses the row) */
            json_t *jso = json_object_get(t, "scale_offset");
            json_int_t so = json_is_integer(jso) ? json_integer_value(jso) : -1;
            size_t rows = m->t[i].rows;
            if (so < 0 || so % MODEL_ALIGN || (size_t)so > data_len ||
                rows * 4 > data_len - (size_t)so) {
                rc = err_set(err, MILLE_EFORMAT,
                             "%s: tensor %s: scale_offset %lld missing or outside the data (%zu "
                             "bytes)",
                             path, name, (long long)so, data_len);
                goto fail;
            }
            const float *sc = (const float *)(const void *)(data + so);
            for (size_t r = 0; r < rows; r++)
                if (!(sc[r] >= 0 && sc[r] <= FLT_MAX)) {
                    rc = err_set(err, MILLE_EFORMAT,
                                 "%s: tensor %s: scale of row %zu is %g (must be finite, >= 0)",
                                 path, name, r, (double)sc[r]);
                    goto fail;
                }
            m->q8[i] = (q8_mat){(const int8_t *)(const void *)(data + off), sc, rows, m->t[i].cols};
            m->w[i] = NULL;
        } else if (f16) {
            m->emb16 = (const uint16_t *)(const void *)(data + off);
            m->w[i] = NULL;
        } else {
            m->w[i] = (float *)(uintptr_t)(const void *)(data + off); /* read-only map */
        }
    }
    if ((rc = load_calibration(m, json_object_get(h, "calibration"), path, err)) ||
        (rc = load_langid(m, json_object_get(h, "langid"), data, data_len, path, err)))
        goto fail;
    m->intents = intents;
    m->slots = slots;
    m->scenarios = scen;
    m->locales = locs;
    m->pretrained = json_is_true(json_object_get(h, "pretrained"));
    return MILLE_OK;
fail:
    free(m->intent_scenario);
    m->intent_scenario = NULL;
    langid_head_clear(m);
    strtab_free(&intents);
    strtab_free(&slots);
    strtab_free(&scen);
    strtab_free(&locs);
    return rc;
}

int model_from_memory(model *m, const unsigned char *map, size_t size, int verify_crc,
                      const char *path, mille_error *err)
{
    memset(m, 0, sizeof *m);
    if (size < 16 + 8)
        return err_set(err, MILLE_EFORMAT, "%s: %zu bytes is too short for a mille model", path,
                       size);
    int rc = MILLE_OK;
    uint32_t version = 0, hlen = 0, crc = 0;
    json_t *h = NULL;
    if (memcmp(map, MODEL_MAGIC, 8) != 0)
        return err_set(err, MILLE_EFORMAT, "%s: not a mille model (bad magic)", path);
    memcpy(&version, map + 8, 4);
    memcpy(&hlen, map + 12, 4);
    if (version > MODEL_VERSION || version == 0)
        return err_set(err, MILLE_EFORMAT,
                       "%s: model file version %u, this mille reads versions 1 to %u%s", path,
                       version, MODEL_VERSION, version > MODEL_VERSION ? " (upgrade mille)" : "");
    if (memcmp(map + size - 4, "MEND", 4) != 0)
        return err_set(err, MILLE_EFORMAT, "%s: truncated model file (no end marker)", path);
    memcpy(&crc, map + size - 8, 4);
    if (verify_crc) {
        if (file_crc32(map, size - 8) != crc)
            return err_set(err, MILLE_EFORMAT, "%s: checksum mismatch (file corrupt)", path);
    }
    if (hlen > MODEL_MAX_HEADER || hlen > size - 16 - 8)
        return err_set(err, MILLE_EFORMAT, "%s: header length %u out of range", path, hlen);
    size_t data_start = (16 + (size_t)hlen + MODEL_ALIGN - 1) / MODEL_ALIGN * MODEL_ALIGN;
    if (data_start > size - 8)
        return err_set(err, MILLE_EFORMAT, "%s: no tensor data after the header", path);
    json_error_t je;
    h = json_loadb((const char *)map + 16, hlen, JSON_REJECT_DUPLICATES, &je);
    if (!h || !json_is_object(h)) {
        rc = err_set(err, MILLE_EFORMAT, "%s: header is not a JSON object (%s at %d)", path,
                     h ? "" : je.text, je.position);
        json_decref(h);
        return rc;
    }
    rc = load_header(m, h, version, map + data_start, size - 8 - data_start, path, err);
    json_decref(h);
    if (rc) return rc;
    if (!(m->meta = malloc((size_t)hlen + 1))) {
        model_free(m);
        return err_set(err, MILLE_ENOMEM, "%s: out of memory", path);
    }
    memcpy(m->meta, map + 16, hlen);
    m->meta[hlen] = '\0';
    return MILLE_OK;
}

/* The file is read into memory, not mapped from it: a mapping shares the file's pages, so
 * truncating the file in place (cp new.model served.model) made the next access SIGBUS and
 * killed `mille serve` (audit 2026-12 #3). The copy costs the file's size in RSS, which a
 * mapping also costs once every page is touched (the CRC reads them all); it loses only the
 * sharing of pages between processes that serve the same file. The buffer is anonymous
 * memory asking for transparent huge pages: read(2) into 4 KiB pages spent 10x longer in
 * page faults (docs/model-format.md has the numbers), and it is made read-only once
 * filled, as the model is. */
int model_load(model *m, const char *path, mille_error *err)
{
    memset(m, 0, sizeof *m);
    size_t size;
    int fd = file_open_regular(path, SIZE_MAX / 2, &size, err);
    if (fd < 0) return fd;
    if (size < 16 + 8) {
        close(fd);
        return err_set(err, MILLE_EFORMAT, "%s: %zu bytes is too short for a mille model", path,
                       size);
    }
    unsigned char *map =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        close(fd);
        return err_set(err, MILLE_ENOMEM, "%s: out of memory for %zu bytes", path, size);
    }
#ifdef MADV_HUGEPAGE
    madvise(map, size, MADV_HUGEPAGE); /* a hint: no error if the kernel has none */
#endif
    int rc = file_read_exact(fd, map, size, path, err);
    close(fd);
    if (!rc && mprotect(map, size, PROT_READ) != 0)
        rc = err_set(err, MILLE_EIO, "%s: mprotect: %s", path, strerror(errno));
    if (rc) {
        munmap(map, size);
        return rc;
    }
    rc = model_from_memory(m, map, size, 1, path, err);
    if (rc) {
        munmap(map, size);
        return rc;
    }
    m->map = map;
    m->map_len = size;
    return MILLE_OK;
}
