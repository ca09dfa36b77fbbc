/*
 * ratelimit.c - per-address token buckets of request-body bytes (see ratelimit.h).
 *
 * A bucket is stored as its level at the time it was last charged; the level now is that plus
 * the refill since, capped at burst. Debt is a negative level. Slots are found by FNV-1a of
 * the address and linear probing over a window of RL_PROBE slots.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RL_PROBE 8

typedef struct rl_slot {
    unsigned char key[RL_KEY_MAX];
    unsigned char klen; /* 0: free */
    double level;       /* bytes in the bucket at time t; negative: debt */
    double t;
} rl_slot;

struct ratelimit {
    double rate, burst;
    pthread_mutex_t mu;
    rl_slot slot[RL_SLOTS];
};

ratelimit *ratelimit_new(double rate, double burst)
{
    if (!(rate > 0) || !(burst > 0)) return NULL;
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    rl->rate = rate;
    rl->burst = burst;
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static double level_now(const ratelimit *rl, const rl_slot *s, double now)
{
    double dt = now > s->t ? now - s->t : 0;
    double v = s->level + dt * rl->rate;
    return v < rl->burst ? v : rl->burst;
}

/* The slot of key: its own, else a free one, else one whose bucket is full by now, else the
 * one charged longest ago (its debt forgiven). Under rl->mu. */
static rl_slot *find(ratelimit *rl, const unsigned char *key, size_t klen, double now)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < klen; i++) h = (h ^ key[i]) * 16777619u;
    rl_slot *victim = NULL;
    int victim_rank = 3; /* 0 free, 1 full bucket, 2 oldest */
    for (int i = 0; i < RL_PROBE; i++) {
        rl_slot *s = &rl->slot[(h + (uint32_t)i) & (RL_SLOTS - 1)];
        if (s->klen == klen && memcmp(s->key, key, klen) == 0) return s;
        int rank = s->klen == 0 ? 0 : level_now(rl, s, now) >= rl->burst ? 1 : 2;
        if (rank < victim_rank || (rank == 2 && victim_rank == 2 && s->t < victim->t)) {
            victim = s;
            victim_rank = rank;
        }
    }
    memcpy(victim->key, key, klen);
    victim->klen = (unsigned char)klen;
    victim->level = rl->burst;
    victim->t = now;
    return victim;
}

double ratelimit_charge(ratelimit *rl, const void *key, size_t klen, double n, double now,
                        double max_wait)
{
    if (klen > RL_KEY_MAX) klen = RL_KEY_MAX;
    if (klen == 0 || !(n > 0)) return 0;
    pthread_mutex_lock(&rl->mu);
    rl_slot *s = find(rl, key, klen, now);
    double v = level_now(rl, s, now) - n;
    double wait = v >= 0 ? 0 : -v / rl->rate;
    if (wait > max_wait) {
        wait = -1;
    } else {
        s->level = v;
        s->t = now;
    }
    pthread_mutex_unlock(&rl->mu);
    return wait;
}
