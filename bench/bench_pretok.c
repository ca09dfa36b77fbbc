/*
 * bench_pretok.c - speed of the pre-tokenizer (and of normalization) on every utt of
 * MASSIVE 1.1 (train + dev, 52 locales).
 *
 * Loads all utterances into memory first (gzgets + a minimal extraction of the "utt" JSON
 * string), checks correctness (text_pretok_verify on every utterance; normalization equal to
 * the whole-string reference), then times only the calls: REPS passes, median reported.
 * Groups: all locales; the spaceless ones that go through ICU's dictionaries (th, km, my,
 * ja, zh-CN, zh-TW); the others. Output, one machine-readable line per measurement:
 *   bench=pretok group=all utts=... bytes=... median_s=... utt_per_s=... mb_per_s=...
 *
 * Build (by hand, not in the Makefile yet):
 *   cc -std=c11 -O2 -Iinclude -Isrc bench/bench_pretok.c build/libmille.a \
 *      -licui18n -licuuc -licudata -lutf8proc -lz -lm -o build/bench_pretok
 * Run: build/bench_pretok [MASSIVE_DIR] (default $MASSIVE or ../shared/massive-1.1)
 */
#define _POSIX_C_SOURCE 200809L
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "bench.h"
#include "text.h"

#define REPS 5

typedef struct corpus {
    char *buf; /* all utterances, back to back */
    size_t len, cap;
    size_t *off;              /* (n + 1) start of utterance i in buf */
    unsigned char *spaceless; /* (n) 1 if its locale is written without spaces */
    size_t n, cap_n, cap_sl;
} corpus;

static void die(const char *msg)
{
    fprintf(stderr, "bench_pretok: %s\n", msg);
    exit(1);
}

/* Append the JSON string that starts after the opening quote at p; returns 0 or -1. Handles
 * the escapes JSON allows (\" \\ \/ \b \f \n \r \t \uXXXX with surrogate pairs). */
static int add_json_string(corpus *c, const char *p)
{
    for (;;) {
        if (vec_reserve((void **)&c->buf, &c->cap, c->len + 8, 1)) die("out of memory");
        char ch = *p++;
        if (ch == '\0') return -1;
        if (ch == '"') return 0;
        if (ch != '\\') {
            c->buf[c->len++] = ch;
            continue;
        }
        ch = *p++;
        const char *simple = strchr("\"\\/bfnrt", ch);
        if (ch && simple) {
            c->buf[c->len++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        if (ch != 'u') return -1;
        unsigned long cp = strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
            unsigned long lo = strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        char *o = c->buf + c->len;
        if (cp < 0x80) {
            o[0] = (char)cp, c->len += 1;
        } else if (cp < 0x800) {
            o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), c->len += 2;
        } else if (cp < 0x10000) {
            o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[2] = (char)(0x80 | (cp & 0x3F)), c->len += 3;
        } else {
            o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F));
            c->len += 4;
        }
    }
}

static void load(corpus *c, const char *dir)
{
    char pat[4096];
    snprintf(pat, sizeof pat, "%s/*.jsonl.gz", dir);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0) die("no *.jsonl.gz in the MASSIVE dir");
    static char line[1 << 16];
    for (size_t f = 0; f < g.gl_pathc; f++) {
        const char *base = strrchr(g.gl_pathv[f], '/') + 1;
        int sl = !strncmp(base, "th-", 3) || !strncmp(base, "km-", 3) || !strncmp(base, "my-", 3) ||
                 !strncmp(base, "ja-", 3) || !strncmp(base, "zh-", 3);
        gzFile z = gzopen(g.gl_pathv[f], "rb");
        if (!z) die("gzopen failed");
        while (gzgets(z, line, sizeof line)) {
            const char *p = strstr(line, "\"utt\": \"");
            if (!p) continue;
            if (vec_reserve((void **)&c->off, &c->cap_n, c->n + 2, sizeof *c->off) ||
                vec_reserve((void **)&c->spaceless, &c->cap_sl, c->n + 2, 1))
                die("out of memory");
            c->off[c->n] = c->len;
            if (add_json_string(c, p + 8)) die("bad JSON string");
            c->spaceless[c->n++] = (unsigned char)sl;
        }
        gzclose(z);
    }
    c->off[c->n] = c->len;
    globfree(&g);
}

/* which: 0 pretokenize, 1 normalize. group: 0 all, 1 spaceless, 2 spaced. */
static void run(const corpus *c, text_pretok_ctx *ctx, text_buf *nb, int which, int group)
{
    static const char *const gname[] = {"all", "spaceless", "spaced"};
    double t[REPS];
    size_t utts = 0, bytes = 0, toks = 0;
    for (int r = 0; r < REPS; r++) {
        utts = bytes = toks = 0;
        double t0 = bench_now();
        for (size_t i = 0; i < c->n; i++) {
            if (group && c->spaceless[i] != (group == 1)) continue;
            const char *s = c->buf + c->off[i];
            size_t n = c->off[i + 1] - c->off[i];
            if (which == 0) {
                const text_token *tk;
                size_t nt;
                if (text_pretokenize(ctx, s, n, &tk, &nt, NULL)) die("pretokenize failed");
                toks += nt;
            } else if (text_normalize(s, n, TEXT_NORM_DEFAULT, nb, NULL)) {
                die("normalize failed");
            }
            utts++;
            bytes += n;
        }
        t[r] = bench_now() - t0;
    }
    qsort(t, REPS, sizeof t[0], bench_cmp_double);
    double med = t[REPS / 2];
    printf("bench=%s group=%s utts=%zu bytes=%zu tokens=%zu median_s=%.4f utt_per_s=%.0f "
           "mb_per_s=%.2f\n",
           which ? "normalize" : "pretok", gname[group], utts, bytes, toks, med, (double)utts / med,
           (double)bytes / med / 1e6);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("MASSIVE");
    if (!dir) dir = "../shared/massive-1.1";
    corpus c = {0};
    load(&c, dir);
    fprintf(stderr, "loaded %zu utterances, %zu bytes\n", c.n, c.len);

    mille_error e;
    text_pretok_ctx *ctx = text_pretok_new(&e);
    if (!ctx) die(e.msg);
    text_buf nb = {0}, rb = {0};
    /* Correctness first: every utterance tokenizes with the invariants, and per-segment
     * normalization equals whole-string normalization. */
    for (size_t i = 0; i < c.n; i++) {
        const char *s = c.buf + c.off[i];
        size_t n = c.off[i + 1] - c.off[i];
        const text_token *tk;
        size_t nt;
        if (text_pretokenize(ctx, s, n, &tk, &nt, &e) || text_pretok_verify(s, n, tk, nt, &e)) {
            fprintf(stderr, "utterance %zu: %s\n", i, e.msg);
            return 1;
        }
        if (text_normalize(s, n, TEXT_NORM_DEFAULT, &nb, &e) ||
            text_normalize_ref(s, n, TEXT_NORM_DEFAULT, &rb, &e) || nb.len != rb.len ||
            memcmp(nb.s, rb.s, nb.len) != 0) {
            fprintf(stderr, "utterance %zu: normalization differs from the reference\n", i);
            return 1;
        }
    }
    fprintf(stderr, "correctness: ok\n");
    for (int g = 0; g < 3; g++) run(&c, ctx, &nb, 0, g);
    run(&c, ctx, &nb, 1, 0);
    text_buf_free(&nb);
    text_buf_free(&rb);
    text_pretok_free(ctx);
    free(c.buf);
    free(c.off);
    free(c.spaceless);
    return 0;
}
