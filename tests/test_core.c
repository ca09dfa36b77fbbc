#define _POSIX_C_SOURCE 200809L
/* test_core.c - error table, string tables, PRNG and atomic writes. */
#include <stdlib.h>
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
