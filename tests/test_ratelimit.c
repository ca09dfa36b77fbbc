/* test_ratelimit.c - the per-address body-byte buckets of `mille serve` (server/ratelimit.c):
 * waits follow the token-bucket arithmetic, refusals charge nothing, addresses are separate,
 * and a full table still serves every address. */
#include <stdint.h>

#include "harness.h"
#include "ratelimit.h"

TEST(ratelimit_waits_follow_the_bucket)
{
    ratelimit *rl = ratelimit_new(100, 200); /* 100 bytes/s, bursts of 200 */
    CHECK(rl);
    const unsigned char a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    CHECK_NEAR(ratelimit_charge(rl, a, 4, 150, 0.0, 10), 0, 1e-9);   /* 200 -> 50 */
    CHECK_NEAR(ratelimit_charge(rl, a, 4, 100, 0.0, 10), 0.5, 1e-9); /* 50 -> -50: 0.5 s */
    CHECK_NEAR(ratelimit_charge(rl, a, 4, 100, 0.0, 1.0), -1, 1e-9); /* would wait 1.5 s */
    CHECK_NEAR(ratelimit_charge(rl, a, 4, 100, 0.0, 10), 1.5,
               1e-9);                                              /* the refusal charged nothing */
    CHECK_NEAR(ratelimit_charge(rl, b, 4, 200, 0.0, 10), 0, 1e-9); /* another address */
    /* refill: at t = 3.5 the -150 debt is repaid and 200 more came, capped at the burst */
    CHECK_NEAR(ratelimit_charge(rl, a, 4, 200, 3.5, 10), 0, 1e-9);
    CHECK_NEAR(ratelimit_charge(rl, a, 4, 0, 3.5, 10), 0, 1e-9);   /* nothing to charge */
    CHECK_NEAR(ratelimit_charge(rl, a, 0, 1e9, 3.5, 10), 0, 1e-9); /* no address: no limit */
    /* time going backwards (clock steps) refills nothing */
    CHECK_NEAR(ratelimit_charge(rl, a, 4, 100, 2.0, 10), 1.0, 1e-9);
    ratelimit_free(rl);
    ratelimit_free(NULL);
    CHECK(ratelimit_new(0, 10) == NULL);
    CHECK(ratelimit_new(10, -1) == NULL);
}

TEST(ratelimit_full_table_serves_every_address)
{
    ratelimit *rl = ratelimit_new(1, 10);
    CHECK(rl);
    /* 4x more addresses than slots, each in debt: new ones evict the oldest, so each new
     * address starts with a full bucket and still sees the arithmetic of its own bucket */
    int bad = 0;
    for (uint32_t i = 0; i < 4 * RL_SLOTS; i++) {
        unsigned char k[16] = {0};
        k[0] = 0x20;
        k[12] = (unsigned char)(i >> 24), k[13] = (unsigned char)(i >> 16);
        k[14] = (unsigned char)(i >> 8), k[15] = (unsigned char)i;
        double w = ratelimit_charge(rl, k, 16, 12, (double)i * 1e-6, 100);
        if (w < 2 - 1e-9 || w > 2 + 1e-9) bad++;
    }
    CHECK_INT(bad, 0);
    ratelimit_free(rl);
}
