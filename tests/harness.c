/*
 * harness.c - test runner: `test_mille` runs every test, `test_mille NAME...` runs the named
 * ones, `test_mille --list` lists them. Exit status 0 only when nothing failed.
 */
#include "harness.h"

#include <stdlib.h>

#define MAX_TESTS 512
static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int n_tests;
int harness_failed;

void harness_register(const char *name, test_fn fn)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "harness: too many tests\n");
        abort();
    }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

const char *test_path(const char *rel)
{
    static char buf[4][1024];
    static int k;
    const char *root = getenv("MILLE_SRCDIR");
    char *b = buf[k++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", root ? root : ".", rel);
    return b;
}

static int by_name(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, matched = 0;
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        const char *names[MAX_TESTS];
        for (int i = 0; i < n_tests; i++) names[i] = tests[i].name;
        qsort(names, (size_t)n_tests, sizeof names[0], by_name);
        for (int i = 0; i < n_tests; i++) printf("%s\n", names[i]);
        return 0;
    }
    for (int i = 0; i < n_tests; i++) {
        int run = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], tests[i].name) == 0) run = 1;
        if (!run) continue;
        matched++;
        harness_failed = 0;
        tests[i].fn();
        if (harness_failed) {
            fprintf(stderr, "FAIL %s\n", tests[i].name);
            failed++;
        } else {
            passed++;
        }
    }
    if (argc >= 2 && matched == 0) {
        fprintf(stderr, "no test matches; try --list\n");
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
