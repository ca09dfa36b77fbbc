/*
 * core.h - what every module of mille stands on: error details, checked allocation and size
 * arithmetic, an always-on assert, a seeded PRNG, whole-file reads and atomic file writes.
 * Internal: not part of the public API (include/mille.h).
 */
#ifndef MILLE_CORE_H
#define MILLE_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mille.h"

/* ---- errors ------------------------------------------------------------------------------ */

/* Fill err (may be NULL) with code and a printf-style message; returns code, so that callers
 * can write `return err_set(err, MILLE_EIO, "%s: %s", path, strerror(errno));`. */
int err_set(mille_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix the message already in err with more context ("file.jsonl:12: " + old message). */
int err_prefix(mille_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Broken internal invariants (never bad input): always on, prints file and line, aborts. */
#define MILLE_ASSERT(c) ((c) ? (void)0 : core_assert_fail(#c, __FILE__, __LINE__))
_Noreturn void core_assert_fail(const char *expr, const char *file, int line);

/* ---- memory ------------------------------------------------------------------------------ */

/* Overflow-checked size arithmetic: return 0 and set *out, or return -1 on overflow. */
static inline int size_mul(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b) return -1;
    *out = a * b;
    return 0;
}
static inline int size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b) return -1;
    *out = a + b;
    return 0;
}

/* Grow *buf (of element size `elem`) so that it holds at least `need` elements; capacity is
 * kept in *cap and doubles. Returns 0 or MILLE_ENOMEM (buffer untouched on failure). */
int vec_reserve(void **buf, size_t *cap, size_t need, size_t elem);

/* Append-only string store: strings are copied in and referred to by offset, so that the
 * store can grow (realloc) without invalidating references. */
typedef struct strstore {
    char *buf;
    size_t len, cap;
} strstore;
/* Copy s[0..n) plus a NUL; *off receives its offset. Returns 0 or MILLE_ENOMEM. */
int strstore_add(strstore *st, const char *s, size_t n, uint32_t *off);
void strstore_free(strstore *st);

/* Interning table: distinct strings get dense ids 0,1,2... in order of first appearance. */
typedef struct strtab {
    strstore store;
    uint32_t *offs; /* (n) offset of string i in store */
    uint32_t *lens; /* (n) */
    size_t n, cap;
    uint32_t *slots; /* (nslots) open addressing: id+1, 0 = empty */
    size_t nslots;
} strtab;
/* Id of s[0..n), adding it if new. Returns id >= 0 or MILLE_ENOMEM. */
int64_t strtab_intern(strtab *t, const char *s, size_t n);
/* Id of s[0..n) or -1 if absent. */
int64_t strtab_find(const strtab *t, const char *s, size_t n);
/* The id in `to` of every string of `from`, by name: *out receives from->n ids (malloc'ed,
 * the caller frees it, also on failure). MILLE_ENOTFOUND with *missing = the id in `from` of
 * the first string `to` lacks, or MILLE_ENOMEM. */
int strtab_map(const strtab *from, const strtab *to, uint32_t **out, size_t *missing);
static inline const char *strtab_str(const strtab *t, size_t id)
{
    return t->store.buf + t->offs[id];
}
void strtab_free(strtab *t);

/* 64-bit FNV-1a; used for hashing strings (tables, feature hashing). hash_more continues a
 * hash h over n more bytes: hash_more(hash_bytes(a), b) == hash_bytes(a followed by b). */
static inline uint64_t hash_more(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}
static inline uint64_t hash_bytes(const void *p, size_t n)
{
    return hash_more(1469598103934665603ULL, p, n);
}

/* ---- random numbers ---------------------------------------------------------------------- */

/* xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64: our own PRNG so that runs
 * are reproducible across libcs. */
typedef struct rng {
    uint64_t s[4];
} rng;
void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(rng *r, uint64_t n);
/* Fisher-Yates shuffle of v[0..n) with a generator seeded by seed (same seed, same order). */
void shuffle_u32(uint32_t *v, size_t n, uint64_t seed);
/* Uniform in [0, 1). */
static inline double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- files ------------------------------------------------------------------------------- */

/* Read a whole file into a NUL-terminated malloc'd buffer. Returns 0 or MILLE_EIO/ENOMEM. */
int file_read_all(const char *path, char **data, size_t *len, mille_error *err);
/* Read a gzip file (or dictzip, or plain: zlib passes those through) whole, or its first
 * `limit` bytes, NUL-terminated. More than `max` bytes uncompressed is MILLE_ERANGE; a
 * truncated or corrupt stream MILLE_EIO. */
int file_read_gz(const char *path, size_t limit, size_t max, char **data, size_t *len,
                 mille_error *err);

/* Open path for reading if it is a regular file of at most max bytes (*size receives its
 * size): returns the descriptor, or MILLE_EIO (cannot open, not a regular file: a FIFO is
 * refused at once, never waited on) / MILLE_ERANGE (larger than max), naming the path. */
int file_open_regular(const char *path, size_t max, size_t *size, mille_error *err);
/* Read exactly n bytes of fd into buf (retrying short reads); MILLE_EIO naming path when the
 * file ends first (it shrank) or read fails. */
int file_read_exact(int fd, void *buf, size_t n, const char *path, mille_error *err);
/* Read a regular file of at most max bytes whole into a buffer aligned to `align` (a power
 * of two, or 0/1 for malloc's) with a NUL after the last byte; free it with free(). Checks
 * the size (fstat) before reading anything. Errors as file_open_regular, plus MILLE_EIO when
 * the file shrinks while read, MILLE_ENOMEM. */
int file_read_regular(const char *path, size_t max, size_t align, void **data, size_t *len,
                      mille_error *err);

/* Seconds on the monotonic clock. */
double clock_s(void);
/* Write data atomically: a new temp file "path.tmp.XXXXXX" (mkstemp: O_EXCL, mode 0644) in
 * the same directory, fsync, rename over path, fsync the directory. On failure the old file
 * (if any) is untouched and the temp file is removed; a process killed mid-write leaves a
 * "path.tmp.XXXXXX" behind, never a partial path. */
int file_write_atomic(const char *path, const void *data, size_t len, mille_error *err);

/* Checked string to integer / double: whole string must parse. Return 0 or MILLE_EINVAL. */
int parse_long(const char *s, long lo, long hi, long *out);
int parse_double(const char *s, double *out);

#endif /* MILLE_CORE_H */
