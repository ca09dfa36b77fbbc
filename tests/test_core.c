#define _POSIX_C_SOURCE 200809L
/* test_core.c - error table, string tables, PRNG and atomic writes. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "harness.h"

TEST(core_strerror)
{
    CHECK_STR(mille_strerror(MILLE_EUTF8), "invalid UTF-8");
    CHECK_STR(mille_strerror(12345), "unknown error");
    mille_error e;
    CHECK_INT(err_set(&e, MILLE_EIO, "x.jsonl:%d: bad", 3), MILLE_EIO);
    err_prefix(&e, "load: ");
    CHECK_STR(e.msg, "load: x.jsonl:3: bad");
    CHECK_INT(e.code, MILLE_EIO);
}

TEST(core_strtab)
{
    strtab t = {0};
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "slot%d", i);
        CHECK_INT(strtab_intern(&t, name, strlen(name)), i);
    }
    for (int i = 999; i >= 0; i--) {
        snprintf(name, sizeof name, "slot%d", i);
        CHECK_INT(strtab_intern(&t, name, strlen(name)), i);
        CHECK_STR(strtab_str(&t, (size_t)i), name);
    }
    CHECK_INT(strtab_find(&t, "nope", 4), -1);
    CHECK_INT(t.n, 1000);
    strtab_free(&t);
}

TEST(core_rng)
{
    rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) CHECK(rng_next(&a) == rng_next(&b));
    /* rng_below covers its range roughly uniformly: 60000 draws in 6 bins, each within 5%. */
    int bins[6] = {0};
    for (int i = 0; i < 60000; i++) bins[rng_below(&a, 6)]++;
    for (int i = 0; i < 6; i++) CHECK(bins[i] > 9500 && bins[i] < 10500);
}

TEST(core_parse_numbers)
{
    long v;
    double d;
    CHECK_INT(parse_long("42", 0, 100, &v), 0);
    CHECK_INT(v, 42);
    CHECK_INT(parse_long("42x", 0, 100, &v), MILLE_EINVAL);
    CHECK_INT(parse_long("101", 0, 100, &v), MILLE_EINVAL);
    CHECK_INT(parse_long("", 0, 100, &v), MILLE_EINVAL);
    CHECK_INT(parse_double("0.5", &d), 0);
    CHECK_NEAR(d, 0.5, 0);
    CHECK_INT(parse_double("1e", &d), MILLE_EINVAL);
}

TEST(core_atomic_write)
{
    char path[] = "/tmp/mille_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    mille_error e;
    CHECK_INT(file_write_atomic(path, "hello", 5, &e), 0);
    char *data = NULL;
    size_t n = 0;
    CHECK_INT(file_read_all(path, &data, &n, &e), 0);
    CHECK_INT(n, 5);
    CHECK_STR(data, "hello");
    free(data);
    unlink(path);
    CHECK_INT(file_write_atomic("/nonexistent-dir/x", "a", 1, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "/nonexistent-dir/x") != NULL);
    CHECK_INT(file_read_all("/nonexistent-dir/x", &data, &n, &e), MILLE_EIO);
}

/* Files in directory dir (not . and ..). */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Audit 2026-12 #13: the temp file of an atomic write was "path.tmp.PID", opened with
 * O_CREAT|O_TRUNC: a symlink planted at that name made the write clobber its target. Now
 * mkstemp picks a fresh name (O_EXCL), the result is 0644, and no temp file is left behind,
 * whether the write succeeds or fails. */
TEST(core_atomic_write_is_safe)
{
    char dir[] = "/tmp/mille_test_dir_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], victim[256], planted[300];
    snprintf(path, sizeof path, "%s/out.model", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(planted, sizeof planted, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(victim, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("precious", f);
        fclose(f);
    }
    CHECK_INT(symlink(victim, planted), 0);
    mille_error e;
    CHECK_INT(file_write_atomic(path, "hello", 5, &e), 0);
    char *data = NULL;
    size_t n = 0;
    CHECK_INT(file_read_all(victim, &data, &n, &e), 0);
    CHECK_STR(data, "precious");
    free(data);
    CHECK_INT(file_read_all(path, &data, &n, &e), 0);
    CHECK_STR(data, "hello");
    free(data);
    struct stat st;
    CHECK_INT(lstat(path, &st), 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_INT(st.st_mode & 0777, 0644);
    CHECK_INT(count_files(dir), 3); /* out.model, victim, the planted link: no temp file */
    /* a failing rename (the target is a non-empty directory) leaves no temp file either */
    char sub[256], subfile[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(subfile, sizeof subfile, "%s/f", sub);
    CHECK_INT(mkdir(sub, 0755), 0);
    f = fopen(subfile, "w");
    if (f) fclose(f);
    CHECK_INT(file_write_atomic(sub, "x", 1, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "rename") != NULL);
    CHECK_INT(count_files(dir), 4);
    unlink(subfile);
    rmdir(sub);
    unlink(planted);
    unlink(victim);
    unlink(path);
    CHECK_INT(rmdir(dir), 0);
}

/* file_read_regular: the size is checked before reading, a FIFO is refused at once (no
 * writer: a blocking open would hang here), the buffer is aligned and NUL-terminated. */
TEST(core_read_regular)
{
    char path[] = "/tmp/mille_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, "0123456789", 10), 10);
    close(fd);
    void *data = NULL;
    size_t n = 0;
    mille_error e;
    CHECK_INT(file_read_regular(path, 10, 64, &data, &n, &e), 0);
    CHECK_INT(n, 10);
    CHECK_INT((uintptr_t)data % 64, 0);
    CHECK_STR((const char *)data, "0123456789");
    free(data);
    CHECK_INT(file_read_regular(path, 9, 0, &data, &n, &e), MILLE_ERANGE);
    CHECK(strstr(e.msg, "10 bytes, more than the limit of 9") != NULL);
    /* a sparse file of 1 TiB: refused by its size, nothing is read */
    fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)1 << 40) == 0);
    if (fd >= 0) close(fd);
    CHECK_INT(file_read_regular(path, (size_t)1 << 30, 0, &data, &n, &e), MILLE_ERANGE);
    unlink(path);
    CHECK_INT(mkfifo(path, 0600), 0);
    CHECK_INT(file_read_regular(path, 100, 0, &data, &n, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "not a regular file") != NULL);
    unlink(path);
    CHECK_INT(file_read_regular("/tmp", 100, 0, &data, &n, &e), MILLE_EIO);
}
