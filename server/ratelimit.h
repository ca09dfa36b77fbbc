/*
 * ratelimit.h - per-address token buckets of request-body bytes, for `mille serve`.
 *
 * Each client address has a bucket that holds up to `burst` bytes and refills at `rate`
 * bytes a second. A request charges its body's length; when the bucket cannot cover it, the
 * bucket goes into debt and the request waits until the debt is repaid (the server does not
 * read the body until then, so the client is slowed by TCP itself). A request that would
 * wait longer than the caller allows is refused and charges nothing.
 *
 * The table has a fixed number of slots (RL_SLOTS): an address that finds its probe window
 * full takes the slot of the address whose bucket would be full by now (the same as having
 * no entry), else of the one charged longest ago, whose debt is then forgiven. A client with
 * thousands of addresses escapes any per-address limit; this one stops one address, or a
 * few, from spending the server's time on large bodies (audit 2026-12 #6, docs/http.md).
 * Thread-safe.
 */
#ifndef MILLE_RATELIMIT_H
#define MILLE_RATELIMIT_H

#include <stddef.h>

#define RL_SLOTS   4096 /* addresses tracked; a power of two */
#define RL_KEY_MAX 16   /* an IPv6 address */

typedef struct ratelimit ratelimit;

/* A table of buckets of `burst` bytes refilled at `rate` bytes a second (both > 0). NULL when
 * out of memory. */
ratelimit *ratelimit_new(double rate, double burst);
void ratelimit_free(ratelimit *rl);

/* Charge n bytes to the address key (klen <= RL_KEY_MAX bytes; longer keys are cut) at time
 * now (seconds, monotonic). Returns the seconds the request must wait before its body is read
 * (0: at once), or -1 when that would exceed max_wait, in which case nothing is charged. */
double ratelimit_charge(ratelimit *rl, const void *key, size_t klen, double n, double now,
                        double max_wait);

#endif
