/*
 * mille.h - the one public header of mille, a multilingual intent + slot NLU engine.
 *
 * Thread safety: every function here is safe to call from several threads at once as long as
 * each thread passes its own mille_error. Later: a model is read-only after load and shared by
 * threads; per-call scratch lives in a session used by one thread at a time.
 *
 * Usage (error reporting, the part that exists today):
 *
 *     mille_error err;
 *     int rc = some_mille_call(..., &err);
 *     if (rc < 0) fprintf(stderr, "mille: %s: %s\n", mille_strerror(rc), err.msg);
 *
 * Conventions:
 *   - functions return 0 (or a count) on success and a negative MILLE_E* code on failure;
 *   - a failing function that takes a mille_error* fills it with a detail message naming what
 *     and where (file, line, offset, expected/got); passing NULL is allowed;
 *   - text is UTF-8 with explicit byte lengths; invalid UTF-8 is MILLE_EUTF8, never a crash;
 *   - the library never calls exit() and never prints to stdout.
 */
#ifndef MILLE_H
#define MILLE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MILLE_VERSION_MAJOR  0
#define MILLE_VERSION_MINOR  1
#define MILLE_VERSION_PATCH  0
#define MILLE_VERSION_STRING "0.1.0"

#if defined(MILLE_BUILD) && defined(__GNUC__)
#define MILLE_API __attribute__((visibility("default")))
#else
#define MILLE_API
#endif

/* Error codes: one table, all negative. mille_strerror() names each. */
enum {
    MILLE_OK = 0,
    MILLE_ENOMEM = -1,   /* out of memory, or a size that overflows                  */
    MILLE_EIO = -2,      /* a file could not be opened, read or written              */
    MILLE_EFORMAT = -3,  /* input is not in the expected format (JSON, archive, ...) */
    MILLE_EUTF8 = -4,    /* invalid UTF-8                                            */
    MILLE_EANNOT = -5,   /* malformed annot_utt, or annot_utt that does not match utt */
    MILLE_EINVAL = -6,   /* invalid argument                                         */
    MILLE_ERANGE = -7,   /* a value or a length is out of its allowed range          */
    MILLE_ENOTFOUND = -8 /* a named thing (file, locale, label) does not exist       */
};

/* Detail of the last failure of a call: code plus a message naming what and where. */
typedef struct mille_error {
    int code;
    char msg[512];
} mille_error;

/* Static string naming an error code ("out of memory", ...). Never NULL. */
MILLE_API const char *mille_strerror(int code);

/* The library version as "MAJOR.MINOR.PATCH"; static storage. */
MILLE_API const char *mille_version(void);

#ifdef __cplusplus
}
#endif
#endif /* MILLE_H */
