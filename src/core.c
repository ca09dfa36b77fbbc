/*
 * core.c - error details, checked growth, string tables, the PRNG and file helpers that every
 * other module uses. Nothing here knows about NLU.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <time.h>
#include <zlib.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------------------------ */

static const struct {
    int code;
    const char *name;
} err_table[] = {
    {MILLE_OK, "success"},
    {MILLE_ENOMEM, "out of memory"},
    {MILLE_EIO, "input/output error"},
    {MILLE_EFORMAT, "bad format"},
    {MILLE_EUTF8, "invalid UTF-8"},
    {MILLE_EANNOT, "bad annotation"},
    {MILLE_EINVAL, "invalid argument"},
    {MILLE_ERANGE, "out of range"},
    {MILLE_ENOTFOUND, "not found"},
    {MILLE_ELIMIT, "over a limit"},
};

MILLE_API const char *mille_strerror(int code)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == code) return err_table[i].name;
    return "unknown error";
}

MILLE_API const char *mille_version(void) { return MILLE_VERSION_STRING; }

int err_set(mille_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int err_prefix(mille_error *err, const char *fmt, ...)
{
    if (!err) return MILLE_OK;
    char head[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    /* shift the old message right by the head's length (truncating its tail), then copy */
    size_t hl = strlen(head), cap = sizeof err->msg - 1;
    if (hl > cap) hl = cap;
    size_t ol = strnlen(err->msg, cap);
    if (ol > cap - hl) ol = cap - hl;
    memmove(err->msg + hl, err->msg, ol);
    memcpy(err->msg, head, hl);
    err->msg[hl + ol] = '\0';
    return err->code;
}

_Noreturn void core_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "mille: internal error: assertion `%s` failed at %s:%d\n", expr, file, line);
    abort();
}

/* ---- memory ------------------------------------------------------------------------------ */

int vec_reserve(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return MILLE_OK;
    size_t ncap = *cap ? *cap : 16, bytes;
    while (ncap < need) {
        if (size_mul(ncap, 2, &ncap)) return MILLE_ENOMEM;
    }
    if (size_mul(ncap, elem, &bytes)) return MILLE_ENOMEM;
    void *p = realloc(*buf, bytes);
    if (!p) return MILLE_ENOMEM;
    *buf = p;
    *cap = ncap;
    return MILLE_OK;
}

int strstore_add(strstore *st, const char *s, size_t n, uint32_t *off)
{
    size_t need;
    /* Offsets are 32-bit: a store holds at most 4 GiB, far beyond any MASSIVE-sized input. */
    if (size_add(st->len, n + 1, &need) || need > UINT32_MAX) return MILLE_ENOMEM;
    if (vec_reserve((void **)&st->buf, &st->cap, need, 1)) return MILLE_ENOMEM;
    if (n) memcpy(st->buf + st->len, s, n);
    st->buf[st->len + n] = '\0';
    *off = (uint32_t)st->len;
    st->len = need;
    return MILLE_OK;
}

void strstore_free(strstore *st)
{
    free(st->buf);
    memset(st, 0, sizeof *st);
}

static int strtab_rehash(strtab *t, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return MILLE_ENOMEM;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = hash_bytes(strtab_str(t, id), t->lens[id]) & (nslots - 1);
        while (slots[i]) i = (i + 1) & (nslots - 1);
        slots[i] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return MILLE_OK;
}

int64_t strtab_find(const strtab *t, const char *s, size_t n)
{
    if (!t->nslots) return -1;
    size_t i = hash_bytes(s, n) & (t->nslots - 1);
    for (; t->slots[i]; i = (i + 1) & (t->nslots - 1)) {
        uint32_t id = t->slots[i] - 1;
        if (t->lens[id] == n && memcmp(strtab_str(t, id), s, n) == 0) return id;
    }
    return -1;
}

int strtab_map(const strtab *from, const strtab *to, uint32_t **out, size_t *missing)
{
    if (!(*out = malloc((from->n + 1) * sizeof **out))) return MILLE_ENOMEM;
    for (size_t i = 0; i < from->n; i++) {
        int64_t id = strtab_find(to, strtab_str(from, i), from->lens[i]);
        if (id < 0) {
            *missing = i;
            return MILLE_ENOTFOUND;
        }
        (*out)[i] = (uint32_t)id;
    }
    return MILLE_OK;
}

int64_t strtab_intern(strtab *t, const char *s, size_t n)
{
    int64_t id = strtab_find(t, s, n);
    if (id >= 0) return id;
    if (t->n >= UINT32_MAX - 1 || n > UINT32_MAX) return MILLE_ENOMEM;
    /* keep the load factor under 1/2 */
    if ((t->n + 1) * 2 > t->nslots && strtab_rehash(t, t->nslots ? t->nslots * 2 : 64))
        return MILLE_ENOMEM;
    size_t cap = t->cap;
    if (vec_reserve((void **)&t->offs, &cap, t->n + 1, sizeof *t->offs)) return MILLE_ENOMEM;
    cap = t->cap;
    if (vec_reserve((void **)&t->lens, &cap, t->n + 1, sizeof *t->lens)) return MILLE_ENOMEM;
    t->cap = cap;
    uint32_t off;
    if (strstore_add(&t->store, s, n, &off)) return MILLE_ENOMEM;
    t->offs[t->n] = off;
    t->lens[t->n] = (uint32_t)n;
    size_t i = hash_bytes(s, n) & (t->nslots - 1);
    while (t->slots[i]) i = (i + 1) & (t->nslots - 1);
    t->slots[i] = (uint32_t)t->n + 1;
    return (int64_t)t->n++;
}

void strtab_free(strtab *t)
{
    strstore_free(&t->store);
    free(t->offs);
    free(t->lens);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- random numbers ---------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(rng *r, uint64_t n)
{
    MILLE_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
    do x = rng_next(r);
    while (x >= limit);
    return x % n;
}

/* ---- files ------------------------------------------------------------------------------- */

int file_read_all(const char *path, char **data, size_t *len, mille_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, MILLE_EIO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (vec_reserve((void **)&buf, &cap, n + 65536 + 1, 1)) {
            free(buf);
            fclose(f);
            return err_set(err, MILLE_ENOMEM, "%s: out of memory reading file", path);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(err, MILLE_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return MILLE_OK;
}

int file_open_regular(const char *path, size_t max, size_t *size, mille_error *err)
{
    /* O_NONBLOCK: open(2) of a FIFO without a writer would wait for one (audit 2026-12 #7);
     * regular files ignore the flag, which is cleared below all the same */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return err_set(err, MILLE_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, MILLE_EIO, "%s: not a regular file", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return err_set(err, MILLE_EIO, "%s: fcntl: %s", path, strerror(e));
    }
    if ((uintmax_t)st.st_size > max) {
        close(fd);
        return err_set(err, MILLE_ERANGE, "%s: %jd bytes, more than the limit of %zu", path,
                       (intmax_t)st.st_size, max);
    }
    *size = (size_t)st.st_size;
    return fd;
}

int file_read_exact(int fd, void *buf, size_t n, const char *path, mille_error *err)
{
    unsigned char *p = buf;
    size_t got_all = 0;
    while (got_all < n) {
        size_t want = n - got_all > (1u << 30) ? (1u << 30) : n - got_all;
        ssize_t got = read(fd, p + got_all, want);
        if (got < 0 && errno == EINTR) continue;
        if (got == 0) /* truncated since its size was taken */
            return err_set(err, MILLE_EIO, "%s: file shrank while read (%zu of %zu bytes)", path,
                           got_all, n);
        if (got < 0) return err_set(err, MILLE_EIO, "%s: read: %s", path, strerror(errno));
        got_all += (size_t)got;
    }
    return MILLE_OK;
}

int file_read_regular(const char *path, size_t max, size_t align, void **data, size_t *len,
                      mille_error *err)
{
    size_t size;
    int fd = file_open_regular(path, max, &size, err);
    if (fd < 0) return fd;
    /* one spare byte for the NUL; aligned_alloc wants a multiple of the alignment */
    size_t bytes = size + 1;
    unsigned char *buf = NULL;
    if (align > 1 && bytes <= SIZE_MAX - align)
        buf = aligned_alloc(align, (bytes + align - 1) / align * align);
    else if (align <= 1)
        buf = malloc(bytes);
    if (!buf) {
        close(fd);
        return err_set(err, MILLE_ENOMEM, "%s: out of memory for %zu bytes", path, size);
    }
    int rc = file_read_exact(fd, buf, size, path, err);
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return MILLE_OK;
}

/* fsync the directory that holds path, so that a rename in it survives a crash. */
static int fsync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        if ((size_t)(slash - path) >= sizeof dir) return -1;
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    /* some file systems cannot fsync a directory (EINVAL): nothing more to do there */
    if (rc != 0 && errno == EINVAL) rc = 0;
    close(fd);
    return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, mille_error *err)
{
    /* mkstemp: a fresh name created with O_EXCL in the target's directory (same file system,
     * so the rename is atomic); it never follows or reuses a planted file or symlink, as a
     * predictable "path.tmp.PID" opened with O_CREAT|O_TRUNC could (audit 2026-12 #13) */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return err_set(err, MILLE_EINVAL, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return err_set(err, MILLE_EIO, "%s: cannot create a temporary file: %s", tmp,
                       strerror(errno));
    /* mkstemp makes it 0600; a model or data file is meant to be read by others, as
     * before (0644, as open(..., 0644) gave under the usual umask 022) */
    const char *p = data, *what = "fchmod";
    size_t left = len;
    int rc = fchmod(fd, 0644);
    while (rc == 0 && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            what = "write";
            rc = -1;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0) what = "fsync", rc = -1;
    int e = errno;
    if (close(fd) != 0 && rc == 0) what = "close", rc = -1, e = errno;
    if (rc != 0) {
        unlink(tmp);
        return err_set(err, MILLE_EIO, "%s: %s failed: %s", tmp, what, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return err_set(err, MILLE_EIO, "rename %s -> %s: %s", tmp, path, strerror(e));
    }
    /* the new name is durable only once its directory is */
    if (fsync_dir_of(path) != 0)
        return err_set(err, MILLE_EIO, "%s: fsync of its directory: %s", path, strerror(errno));
    return MILLE_OK;
}

int parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return MILLE_EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return MILLE_EINVAL;
    *out = v;
    return MILLE_OK;
}

int parse_double(const char *s, double *out)
{
    if (!s || !*s) return MILLE_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end) return MILLE_EINVAL;
    *out = v;
    return MILLE_OK;
}

/* Read a gzip (or dictzip, or plain: zlib passes those through) file whole, or its first
 * `limit` bytes. */
int file_read_gz(const char *path, size_t limit, size_t max, char **data, size_t *len,
                 mille_error *err)
{
    /* a pipe is fine here (mille pretrain --text <(zcat ...)): only the offline tools read
     * this way, nothing a client can point at a FIFO */
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return err_set(err, MILLE_EIO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(gz, 1 << 17);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = MILLE_OK;
    while (n < limit) {
        if (n >= max) {
            rc = err_set(err, MILLE_ERANGE, "%s: larger than %zu bytes uncompressed", path, max);
            break;
        }
        if (vec_reserve((void **)&buf, &cap, n + (1 << 18) + 1, 1)) {
            rc = err_set(err, MILLE_ENOMEM, "%s: out of memory", path);
            break;
        }
        size_t want = cap - n - 1;
        if (want > limit - n) want = limit - n;
        if (want > (1u << 30)) want = 1u << 30;
        int got = gzread(gz, buf + n, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            rc = err_set(err, MILLE_EIO, "%s: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (got == 0) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            if (zerr != Z_OK && zerr != Z_STREAM_END)
                rc = err_set(err, MILLE_EIO, "%s: %s (truncated?)", path, msg);
            break;
        }
        n += (size_t)got;
    }
    gzclose(gz);
    if (rc) {
        free(buf);
        return rc;
    }
    if (!buf && !(buf = malloc(1))) return err_set(err, MILLE_ENOMEM, "out of memory");
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return MILLE_OK;
}

double clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void shuffle_u32(uint32_t *v, size_t n, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(&r, i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
