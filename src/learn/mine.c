/*
 * mine.c - from interaction logs to rewrites and training data (learn.h, docs/learn.md).
 *
 * 1. Sessions. Turns are grouped by session and ordered by time (ties by text and line, so
 *    the result does not depend on file order).
 * 2. Rephrase detection. Turn b is a rephrase of the turn a before it when: same locale;
 *    0 <= gap <= max_gap seconds; different keys; a was not reported a success; and the
 *    two are about the same thing: character-trigram Jaccard of the keys >= min_similarity,
 *    or every slot value the model found in b occurs in a (so "play poker face by lady
 *    gaga" after "play lady gaga's poker face" counts, an unrelated next request does not),
 *    or a was reported a defect and b has no slots (a new wording of a slot-less request
 *    shares few trigrams: "lights off" after "kill the lamp"; a distractor of this kind is
 *    filtered by the aggregation, which needs several users behind the same pair).
 * 3. Aggregation: the absorbing Markov chain of Ponnusamy et al. (AAAI 2020, arXiv
 *    1911.02557). Transient states are (locale, key); a rephrase a -> b is an edge; a turn
 *    that is not rephrased is absorbed in Success or Failure by its outcome ("success" 1,
 *    "defect" 0, absent unknown_success). Counts are summed over all sessions and users and
 *    row-normalized into Q (transient) and R (absorbing); x_u = R_uS is u's own success
 *    rate (a rephrase is u's failure, even when the session ends well). For a source u with
 *    x_u <= 1/2 the candidates v are ranked by N_uv R_vS with N ~ sum_{k<=3} Q^k (expected
 *    visits to v before absorption, times v's own success), as in the paper; sessions hold
 *    few rephrases, so three steps of the Neumann series are the whole of N in practice.
 * 4. Guards, each measured on the simulator (docs/BENCHMARKS.md): distinct users >=
 *    min_users (never one user alone; a session without user id counts as its own user);
 *    N_uv >= min_share: v follows u more often than an unrelated next request would (a
 *    popular request that users make right after giving up on u reaches u's row at the
 *    rate of a distractor, a few percent; a real rephrase at tens of percent);
 *    x_v - x_u >= min_gain and x_v >= min_target_p; the model parses v with confidence >=
 *    min_confidence and differently from u (else the rewrite changes nothing); and - our
 *    addition, the one that buys precision - every slot value of v's parse occurs in u's key,
 *    so a rewrite never invents an entity the user did not say (a distractor request or
 *    another user's different goal cannot pass it). Candidates are tried best first; the
 *    first that passes every guard is the rewrite.
 * 5. Outputs: the rewrite (locale, raw source, raw target, users, sessions, x_v) and a
 *    training example: the source phrasing labeled with v's intent, slots carried over
 *    where their values occur verbatim in the source.
 * 6. Positives (implicit positive feedback, off by default): a phrasing whose turns work
 *    becomes a training example labeled with its own logged parse, i.e. self-training on
 *    the logged traffic that the users' behaviour confirms. A turn counts when it was not
 *    rephrased (absorbed), was not reported a defect and its logged confidence is >=
 *    positive_min_confidence; its phrasing is mined when its success rate x_u (the same
 *    R_uS as above: rephrases and defects count against it) is >= positive_min_success,
 *    at least positive_min_users distinct users said it in such a turn, and it is not a
 *    rewrite source (those are labeled by their rephrase). The label is the parse of its
 *    most confident such turn. The gain is measured in docs/BENCHMARKS.md: mined data of
 *    this kind is what the rewrite examples lack in volume; the confidence threshold is
 *    the precision/volume knob (self-training amplifies the model's confident mistakes).
 *
 * Not here: self-aware monitoring of deployed rewrites (Ponnusamy et al. 2022).
 */
#include <stdlib.h>
#include <string.h>

#include "learn.h"

learn_params learn_default_params(void)
{
    learn_params p = {0};
    p.max_gap = 30;
    p.min_similarity = 0.25;
    p.unknown_success = 0.5;
    p.min_users = 3;
    p.min_gain = 0.3;
    p.min_target_p = 0.6;
    p.min_confidence = 0.5;
    p.slot_guard = 1;
    p.max_rewrites = 100000;
    p.min_share = 0.1;
    p.positive_min_confidence = -1;
    p.positive_min_success = 0.5;
    p.positive_min_users = 2;
    return p;
}

void learn_examples_free(learn_examples *ex)
{
    if (!ex) return;
    strstore_free(&ex->st);
    free(ex->e);
    memset(ex, 0, sizeof *ex);
}

/* ---- per-turn facts ---------------------------------------------------------------------- */

typedef struct state {
    uint32_t raw;               /* turn index of its first turn (its raw text and locale)         */
    double out_s, out_f, out_t; /* absorbed in Success / Failure, edges out (weights)     */
    uint32_t e0, ne; /* its edges in the CSR arrays                                     */
    double x;        /* P(Success)                                                      */
} state;

typedef struct edge {
    uint32_t from, to;
    double w;
} edge;

typedef struct triple {
    uint32_t u, v, who;
} triple;

static int cmp_triple(const void *a, const void *b)
{
    const triple *x = a, *y = b;
    if (x->u != y->u) return x->u < y->u ? -1 : 1;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->who < y->who ? -1 : x->who > y->who;
}

static int cmp_edge(const void *a, const void *b)
{
    const edge *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return x->to < y->to ? -1 : x->to > y->to;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct ctx {
    const learn_turns *ts;
    const learn_params *p;
    uint32_t *order; /* (n) turns sorted by session, time */
    uint32_t *st_of; /* (n) state of each turn */
    strtab keys;     /* locale \x1f key -> state */
    state *sts;
    size_t n_st, cap_st;
    char **key_str; /* (n_st) key of each state (malloc'ed) */
    text_buf tb;
} ctx;

static ctx *g_sort; /* qsort has no user pointer; mining is not reentrant across threads */

static int cmp_turn(const void *a, const void *b)
{
    const learn_turns *ts = g_sort->ts;
    const learn_turn *x = &ts->t[*(const uint32_t *)a], *y = &ts->t[*(const uint32_t *)b];
    int c = strcmp(learn_str(ts, x->session), learn_str(ts, y->session));
    if (c) return c;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    c = strcmp(learn_str(ts, x->text), learn_str(ts, y->text));
    if (c) return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorted unique hashes of the character trigrams of a key (with a boundary mark at both
 * ends, so that one-word keys still have trigrams). */
static size_t trigrams(const char *k, size_t n, uint64_t *out, size_t cap)
{
    int32_t cp[512];
    size_t m = 0;
    cp[m++] = '^';
    for (size_t i = 0; i < n && m < sizeof cp / sizeof cp[0] - 1;) {
        int32_t c;
        int l = text_decode(k + i, n - i, &c);
        if (l <= 0) break;
        cp[m++] = c;
        i += (size_t)l;
    }
    cp[m++] = '$';
    size_t t = 0;
    for (size_t i = 0; i + 3 <= m && t < cap; i++) out[t++] = hash_bytes(cp + i, 3 * sizeof cp[0]);
    qsort(out, t, sizeof *out, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < t; i++)
        if (u == 0 || out[u - 1] != out[i]) out[u++] = out[i];
    return u;
}

static double jaccard(const char *a, size_t na, const char *b, size_t nb)
{
    uint64_t ha[512], hb[512];
    size_t x = trigrams(a, na, ha, 512), y = trigrams(b, nb, hb, 512), i = 0, j = 0, both = 0;
    while (i < x && j < y) {
        if (ha[i] == hb[j])
            both++, i++, j++;
        else if (ha[i] < hb[j])
            i++;
        else
            j++;
    }
    return x + y - both ? (double)both / (double)(x + y - both) : 0;
}

/* 1 if needle's key occurs in hay (a key). */
static int occurs_in(const char *hay, const char *needle, size_t nn, text_buf *tb)
{
    const char *k;
    size_t kl;
    if (learn_key(needle, nn, tb, &k, &kl, NULL) < 0 || kl == 0) return 0;
    return strstr(hay, k) != NULL;
}

/* b's logged slot values all occur in a's key (and b has at least one). */
static int slots_occur(ctx *c, const learn_turn *b, const char *akey)
{
    if (b->n_slots == 0) return 0;
    for (uint32_t i = 0; i < b->n_slots; i++) {
        const char *v = learn_str(c->ts, c->ts->sl[b->slot0 + i].value);
        if (!occurs_in(akey, v, strlen(v), &c->tb)) return 0;
    }
    return 1;
}

/* ---- interpretations by the model ---------------------------------------------------------- */

/* "intent\x1eslot=value\x1e..." with slots sorted, values keyed: equal iff same parse. */
static char *interp_sig(const learn_interp *in, text_buf *tb)
{
    size_t n = in->n_slots, cap = strlen(in->intent) + 2;
    char **parts = calloc(n ? n : 1, sizeof *parts);
    if (!parts) return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *k;
        size_t kl;
        if (learn_key(in->value[i], strlen(in->value[i]), tb, &k, &kl, NULL) < 0) kl = 0, k = "";
        size_t sl = strlen(in->slot[i]);
        parts[i] = malloc(sl + kl + 2);
        if (!parts[i]) continue;
        memcpy(parts[i], in->slot[i], sl);
        parts[i][sl] = '=';
        memcpy(parts[i] + sl + 1, k, kl);
        parts[i][sl + 1 + kl] = '\0';
        cap += sl + kl + 2;
    }
    /* insertion sort: a handful of slots */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && parts[j] && parts[j - 1] && strcmp(parts[j - 1], parts[j]) > 0;
             j--) {
            char *t = parts[j];
            parts[j] = parts[j - 1];
            parts[j - 1] = t;
        }
    char *sig = malloc(cap);
    if (sig) {
        size_t w = (size_t)snprintf(sig, cap, "%s", in->intent);
        for (size_t i = 0; i < n; i++)
            if (parts[i]) w += (size_t)snprintf(sig + w, cap - w, "\x1e%s", parts[i]);
    }
    for (size_t i = 0; i < n; i++) free(parts[i]);
    free(parts);
    return sig;
}

/* ---- training example -------------------------------------------------------------------- */

typedef struct span {
    size_t a, b;
    const char *slot;
} span;

/* The source labeled with the target's parse: annot_utt with the slots whose values occur
 * verbatim in the source (first occurrence not overlapping an earlier one). */
static int add_example(learn_examples *ex, const char *locale, const char *utt, size_t ulen,
                       const learn_interp *in, int kind)
{
    if (memchr(utt, '[', ulen) || memchr(utt, ']', ulen)) return 0; /* annot_utt syntax */
    span sp[64];
    size_t ns = 0;
    for (size_t i = 0; i < in->n_slots && ns < 64; i++) {
        const char *v = in->value[i];
        size_t vl = strlen(v);
        if (vl == 0 || strchr(v, '[') || strchr(v, ']')) continue;
        for (size_t at = 0; at + vl <= ulen; at++) {
            if (memcmp(utt + at, v, vl) != 0) continue;
            int clash = 0;
            for (size_t k = 0; k < ns; k++)
                if (at < sp[k].b && sp[k].a < at + vl) clash = 1;
            if (clash) continue;
            sp[ns].a = at, sp[ns].b = at + vl, sp[ns].slot = in->slot[i];
            ns++;
            break;
        }
    }
    for (size_t i = 1; i < ns; i++)
        for (size_t j = i; j > 0 && sp[j - 1].a > sp[j].a; j--) {
            span t = sp[j];
            sp[j] = sp[j - 1];
            sp[j - 1] = t;
        }
    size_t cap = ulen + 1;
    for (size_t i = 0; i < ns; i++) cap += strlen(sp[i].slot) + 8;
    char *a = malloc(cap);
    if (!a) return MILLE_ENOMEM;
    size_t w = 0, at = 0;
    for (size_t i = 0; i < ns; i++) {
        memcpy(a + w, utt + at, sp[i].a - at);
        w += sp[i].a - at;
        w += (size_t)snprintf(a + w, cap - w, "[%s : ", sp[i].slot);
        memcpy(a + w, utt + sp[i].a, sp[i].b - sp[i].a);
        w += sp[i].b - sp[i].a;
        a[w++] = ']';
        at = sp[i].b;
    }
    memcpy(a + w, utt + at, ulen - at);
    w += ulen - at;
    int rc = vec_reserve((void **)&ex->e, &ex->cap, ex->n + 1, sizeof *ex->e);
    learn_example *e = &ex->e[ex->n];
    if (rc == 0)
        rc = strstore_add(&ex->st, locale, strlen(locale), &e->locale) |
             strstore_add(&ex->st, utt, ulen, &e->utt) |
             strstore_add(&ex->st, in->intent, strlen(in->intent), &e->intent) |
             strstore_add(&ex->st, a, w, &e->annot);
    free(a);
    if (rc) return MILLE_ENOMEM;
    e->kind = kind;
    ex->n++;
    return 0;
}

/* ---- the miner --------------------------------------------------------------------------- */

typedef struct cand {
    uint32_t v;
    double score, visits; /* N_uv R_vS, N_uv */
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* Distinct "who" of (u, v) in a sorted triple array. */
static uint32_t count_who(const triple *t, size_t n, uint32_t u, uint32_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid].u < u || (t[mid].u == u && t[mid].v < v))
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t c = 0;
    for (size_t i = lo; i < n && t[i].u == u && t[i].v == v; i++)
        if (i == lo || t[i].who != t[i - 1].who) c++;
    return c;
}

#define OOM(e) err_set(e, MILLE_ENOMEM, "out of memory")

/* The support id of a turn: its user, or its session when it has no user. -1: no memory. */
static int64_t who_of(const learn_turns *ts, const learn_turn *t, strtab *whos)
{
    const char *uname = learn_str(ts, t->user);
    char who[512];
    if (*uname)
        snprintf(who, sizeof who, "u\x1f%s", uname);
    else
        snprintf(who, sizeof who, "s\x1f%s", learn_str(ts, t->session));
    return strtab_intern(whos, who, strlen(who));
}

/* Step 6: the positives, after the rewrites (is_src marks their sources). best[u] is the
 * turn (index + 1, 0 = none) that labels state u; pos holds (u, -, who) of every confident
 * non-defect absorbed turn, sorted. */
static int mine_positives(ctx *c, const uint32_t *best, const unsigned char *is_src,
                          const triple *pos, size_t n_pos, learn_examples *ex, learn_stats *st,
                          mille_error *err)
{
    const learn_turns *ts = c->ts;
    const learn_params *p = c->p;
    const char *slot[64], *value[64];
    size_t lo = 0;
    for (uint32_t u = 0; u < c->n_st; u++) {
        uint32_t users = 0;
        while (lo < n_pos && pos[lo].u < u) lo++;
        for (size_t i = lo; i < n_pos && pos[i].u == u; i++)
            if (i == lo || pos[i].who != pos[i - 1].who) users++;
        if (!best[u]) continue;
        const learn_turn *t = &ts->t[best[u] - 1];
        const char *intent = learn_str(ts, t->intent);
        if (!*intent || !strchr(c->key_str[u], '\x1f')[1]) continue; /* no parse, empty key */
        st->positive_candidates++;
        if (is_src[u]) {
            st->rejected_pos_source++;
            continue;
        }
        if (c->sts[u].x < p->positive_min_success) {
            st->rejected_pos_success++;
            continue;
        }
        if (users < p->positive_min_users) {
            st->rejected_pos_users++;
            continue;
        }
        learn_interp in = {intent, t->confidence, 0, slot, value};
        for (uint32_t q = 0; q < t->n_slots && in.n_slots < 64; q++, in.n_slots++) {
            slot[in.n_slots] = learn_str(ts, ts->sl[t->slot0 + q].slot);
            value[in.n_slots] = learn_str(ts, ts->sl[t->slot0 + q].value);
        }
        size_t before = ex->n;
        int rc = add_example(ex, learn_str(ts, t->locale), learn_str(ts, t->text), t->text_len, &in,
                             LEARN_EX_POSITIVE);
        if (rc < 0) return OOM(err);
        st->positives += ex->n - before;
    }
    return 0;
}

int learn_mine(const learn_turns *ts, const learn_params *p, learn_parse_fn parse, void *ud,
               learn_rewrites *out, learn_examples *ex, learn_stats *stats, mille_error *err)
{
    learn_stats st_local, *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    st->turns = ts->n;
    if (ts->n == 0) return 0;
    if (ts->n >= UINT32_MAX) return err_set(err, MILLE_ERANGE, "too many turns");
    ctx c = {0};
    c.ts = ts;
    c.p = p;
    int rc = 0;
    edge *edges = NULL;
    size_t n_e = 0, cap_e = 0;
    triple *users = NULL, *sess = NULL;
    size_t n_u = 0, cap_u = 0, n_s = 0, cap_s = 0;
    strtab whos = {0};
    cand *cands = NULL;
    double *nv = NULL, *cur = NULL, *nxt = NULL;
    unsigned char *seen = NULL, *is_src = NULL;
    uint32_t *touched = NULL, *best = NULL;
    triple *pos = NULL;
    size_t n_pos = 0, cap_pos = 0;
    const int positives = ex && p->positive_min_confidence >= 0;
    c.order = malloc(ts->n * sizeof *c.order);
    c.st_of = malloc(ts->n * sizeof *c.st_of);
    if (!c.order || !c.st_of) {
        rc = OOM(err);
        goto done;
    }
    for (size_t i = 0; i < ts->n; i++) c.order[i] = (uint32_t)i;
    g_sort = &c;
    qsort(c.order, ts->n, sizeof *c.order, cmp_turn);
    g_sort = NULL;

    /* states: (locale, key), numbered in sorted-turn order (deterministic) */
    for (size_t k = 0; k < ts->n && rc == 0; k++) {
        uint32_t i = c.order[k];
        const learn_turn *t = &ts->t[i];
        const char *key;
        size_t kl;
        if (learn_key(learn_str(ts, t->text), t->text_len, &c.tb, &key, &kl, NULL) < 0) kl = 0;
        const char *loc = learn_str(ts, t->locale);
        size_t ll = strlen(loc);
        char *full = malloc(ll + 1 + kl + 1);
        if (!full) {
            rc = OOM(err);
            break;
        }
        memcpy(full, loc, ll);
        full[ll] = '\x1f';
        memcpy(full + ll + 1, key, kl);
        full[ll + 1 + kl] = '\0';
        int64_t id = strtab_intern(&c.keys, full, ll + 1 + kl);
        if (id < 0) {
            free(full);
            rc = OOM(err);
            break;
        }
        if ((size_t)id == c.n_st) {
            if (vec_reserve((void **)&c.sts, &c.cap_st, c.n_st + 1, sizeof *c.sts) < 0) {
                free(full);
                rc = OOM(err);
                break;
            }
            char **ks = realloc(c.key_str, (c.n_st + 1) * sizeof *ks);
            if (!ks) {
                free(full);
                rc = OOM(err);
                break;
            }
            c.key_str = ks;
            memset(&c.sts[c.n_st], 0, sizeof c.sts[0]);
            c.sts[c.n_st].raw = i;
            c.key_str[c.n_st] = full;
            c.n_st++;
        } else {
            free(full);
        }
        c.st_of[i] = (uint32_t)id;
    }
    if (rc) goto done;
    st->states = c.n_st;
    if (positives && !(best = calloc(c.n_st, sizeof *best))) {
        rc = OOM(err);
        goto done;
    }

    /* sessions: rephrase edges, absorption, and the (u, v, user) support triples */
    for (size_t k = 0; k < ts->n && rc == 0;) {
        size_t e = k + 1;
        const char *sid = learn_str(ts, ts->t[c.order[k]].session);
        while (e < ts->n && strcmp(learn_str(ts, ts->t[c.order[e]].session), sid) == 0) e++;
        st->sessions++;
        if (e - k == 1) st->single_turn_sessions++;
        size_t chain0 = k; /* first turn of the current rephrase chain */
        for (size_t j = k; j < e && rc == 0; j++) {
            const learn_turn *a = &ts->t[c.order[j]];
            uint32_t sa = c.st_of[c.order[j]];
            int reph = 0;
            if (j + 1 < e) {
                const learn_turn *b = &ts->t[c.order[j + 1]];
                uint32_t sb = c.st_of[c.order[j + 1]];
                double gap = b->time - a->time;
                const char *ak = strchr(c.key_str[sa], '\x1f') + 1,
                           *bk = strchr(c.key_str[sb], '\x1f') + 1;
                reph = sa != sb && gap >= 0 && gap <= p->max_gap &&
                       a->outcome != LEARN_OUTCOME_SUCCESS &&
                       strcmp(learn_str(ts, a->locale), learn_str(ts, b->locale)) == 0 &&
                       (jaccard(ak, strlen(ak), bk, strlen(bk)) >= p->min_similarity ||
                        slots_occur(&c, b, ak) ||
                        (a->outcome == LEARN_OUTCOME_DEFECT && b->n_slots == 0));
                if (reph) {
                    st->rephrases++;
                    if (vec_reserve((void **)&edges, &cap_e, n_e + 1, sizeof *edges) < 0) {
                        rc = OOM(err);
                        break;
                    }
                    edges[n_e++] = (edge){sa, sb, 1.0};
                    c.sts[sa].out_t += 1.0;
                    /* support: every earlier turn of the chain reaches b */
                    int64_t wid = who_of(ts, b, &whos);
                    int64_t sidn = strtab_intern(&whos, sid, strlen(sid));
                    if (wid < 0 || sidn < 0) {
                        rc = OOM(err);
                        break;
                    }
                    for (size_t q = chain0; q <= j; q++) {
                        uint32_t su = c.st_of[c.order[q]];
                        if (su == sb) continue;
                        if (vec_reserve((void **)&users, &cap_u, n_u + 1, sizeof *users) < 0 ||
                            vec_reserve((void **)&sess, &cap_s, n_s + 1, sizeof *sess) < 0) {
                            rc = OOM(err);
                            break;
                        }
                        users[n_u++] = (triple){su, sb, (uint32_t)wid};
                        sess[n_s++] = (triple){su, sb, (uint32_t)sidn};
                    }
                }
            }
            if (!reph) {
                double s = a->outcome == LEARN_OUTCOME_SUCCESS  ? 1.0
                           : a->outcome == LEARN_OUTCOME_DEFECT ? 0.0
                                                                : p->unknown_success;
                c.sts[sa].out_s += s;
                c.sts[sa].out_f += 1.0 - s;
                chain0 = j + 1;
                /* a positive turn: absorbed, not a defect, confident (compared in float, as
                 * stored, so that a logged 0.9 passes a threshold of 0.9) */
                if (positives && a->outcome != LEARN_OUTCOME_DEFECT &&
                    a->confidence >= (float)p->positive_min_confidence) {
                    uint32_t ti = c.order[j];
                    if (!best[sa] || a->confidence > ts->t[best[sa] - 1].confidence)
                        best[sa] = ti + 1;
                    int64_t wid = who_of(ts, a, &whos);
                    if (wid < 0 ||
                        vec_reserve((void **)&pos, &cap_pos, n_pos + 1, sizeof *pos) < 0) {
                        rc = OOM(err);
                        break;
                    }
                    pos[n_pos++] = (triple){sa, 0, (uint32_t)wid};
                }
            }
        }
        k = e;
    }
    if (rc) goto done;

    /* CSR of the summed edges */
    if (n_e) qsort(edges, n_e, sizeof *edges, cmp_edge); /* NULL with no edge */
    size_t w = 0;
    for (size_t i = 0; i < n_e; i++) {
        if (w && edges[w - 1].from == edges[i].from && edges[w - 1].to == edges[i].to)
            edges[w - 1].w += edges[i].w;
        else
            edges[w++] = edges[i];
    }
    n_e = w;
    for (size_t i = 0; i < n_e; i++) {
        state *s = &c.sts[edges[i].from];
        if (s->ne == 0) s->e0 = (uint32_t)i;
        s->ne++;
    }
    /* R_uS: the share of u's turns absorbed in Success directly, its own success rate (a
     * rephrase is u's failure even when the session ends well) */
    for (size_t i = 0; i < c.n_st; i++) {
        state *sx = &c.sts[i];
        double tot = sx->out_s + sx->out_f + sx->out_t;
        sx->x = tot > 0 ? sx->out_s / tot : 0;
    }
    if (n_u) qsort(users, n_u, sizeof *users, cmp_triple);
    if (n_s) qsort(sess, n_s, sizeof *sess, cmp_triple);

    /* candidates per source: N_u. by 3 steps of sparse propagation */
    nv = calloc(c.n_st, sizeof *nv);
    cur = calloc(c.n_st, sizeof *cur);
    nxt = calloc(c.n_st, sizeof *nxt);
    seen = calloc(c.n_st, 1);
    touched = malloc(c.n_st * sizeof *touched);
    cands = malloc(c.n_st * sizeof *cands);
    is_src = calloc(c.n_st, 1);
    if (!nv || !cur || !nxt || !seen || !touched || !cands || !is_src) {
        rc = OOM(err);
        goto done;
    }
    for (size_t u = 0; u < c.n_st && rc == 0; u++) {
        state *su = &c.sts[u];
        /* a text that normalizes to nothing ("?!") is never a source */
        if (su->ne == 0 || su->x > 0.5 || !strchr(c.key_str[u], '\x1f')[1]) continue;
        if (out->n >= p->max_rewrites) break;
        /* N_u. ~ sum_{k<=3} (Q^k)_u.: cur holds the mass after k steps, nv the visits */
        size_t nt = 0;
        seen[u] = 1;
        touched[nt++] = (uint32_t)u;
        cur[u] = 1;
        for (int step = 0; step < 3; step++) {
            size_t nt0 = nt;
            for (size_t i = 0; i < nt0; i++) {
                uint32_t a = touched[i];
                if (cur[a] <= 0) continue;
                const state *sa = &c.sts[a];
                double tot = sa->out_s + sa->out_f + sa->out_t;
                for (uint32_t q = 0; q < sa->ne; q++) {
                    const edge *ed = &edges[sa->e0 + q];
                    if (!seen[ed->to]) seen[ed->to] = 1, touched[nt++] = ed->to;
                    nxt[ed->to] += cur[a] * ed->w / tot;
                }
            }
            for (size_t i = 0; i < nt; i++) {
                uint32_t a = touched[i];
                cur[a] = nxt[a];
                nxt[a] = 0;
                nv[a] += cur[a];
            }
        }
        size_t nc = 0;
        for (size_t i = 0; i < nt; i++) {
            uint32_t v = touched[i];
            state *sv = &c.sts[v];
            double tot = sv->out_s + sv->out_f + sv->out_t;
            if (v != u && tot > 0) cands[nc++] = (cand){v, nv[v] * sv->out_s / tot, nv[v]};
        }
        for (size_t i = 0; i < nt; i++)
            nv[touched[i]] = cur[touched[i]] = nxt[touched[i]] = 0, seen[touched[i]] = 0;
        qsort(cands, nc, sizeof *cands, cmp_cand);
        if (nc) st->candidates++;
        char *usig = NULL;
        int u_parsed = 0;
        for (size_t ci = 0; ci < nc && ci < 5 && rc == 0; ci++) {
            uint32_t v = cands[ci].v;
            if (cands[ci].score <= 0) break;
            state *sv = &c.sts[v];
            uint32_t nusers = count_who(users, n_u, (uint32_t)u, v);
            if (nusers < p->min_users || nusers < 2) {
                st->rejected_users++;
                continue;
            }
            if (cands[ci].visits < p->min_share) {
                st->rejected_share++;
                continue;
            }
            if (sv->x - su->x < p->min_gain || sv->x < p->min_target_p) {
                st->rejected_gain++;
                continue;
            }
            const learn_turn *tv = &ts->t[sv->raw], *tu = &ts->t[su->raw];
            const char *loc = learn_str(ts, tu->locale);
            learn_interp in;
            if (!u_parsed) {
                u_parsed = 1;
                if (parse(ud, learn_str(ts, tu->text), tu->text_len, *loc ? loc : NULL, &in) == 0)
                    usig = interp_sig(&in, &c.tb);
            }
            if (parse(ud, learn_str(ts, tv->text), tv->text_len, *loc ? loc : NULL, &in) < 0 ||
                in.confidence < p->min_confidence) {
                st->rejected_model++;
                continue;
            }
            char *vsig = interp_sig(&in, &c.tb);
            int same = vsig && usig && strcmp(vsig, usig) == 0;
            free(vsig);
            if (same) {
                st->rejected_model++;
                continue;
            }
            const char *ukey = strchr(c.key_str[u], '\x1f') + 1;
            int ok = 1;
            for (size_t q = 0; p->slot_guard && q < in.n_slots && ok; q++)
                ok = occurs_in(ukey, in.value[q], strlen(in.value[q]), &c.tb);
            if (!ok) {
                st->rejected_slots++;
                continue;
            }
            rc = learn_rewrites_add(out, loc, learn_str(ts, tu->text), tu->text_len,
                                    learn_str(ts, tv->text), tv->text_len, nusers,
                                    count_who(sess, n_s, (uint32_t)u, v), (float)sv->x, &c.tb, err);
            if (rc == 0 && ex)
                rc = add_example(ex, loc, learn_str(ts, tu->text), tu->text_len, &in,
                                 LEARN_EX_REPHRASE);
            if (rc == MILLE_ENOMEM) OOM(err);
            st->rewrites++;
            is_src[u] = 1;
            break;
        }
        free(usig);
    }
    if (rc == 0 && positives) {
        if (n_pos) qsort(pos, n_pos, sizeof *pos, cmp_triple);
        rc = mine_positives(&c, best, is_src, pos, n_pos, ex, st, err);
    }

done:
    for (size_t i = 0; i < c.n_st; i++) free(c.key_str[i]);
    free(c.key_str);
    free(c.sts);
    free(c.order);
    free(c.st_of);
    strtab_free(&c.keys);
    text_buf_free(&c.tb);
    free(edges);
    free(users);
    free(sess);
    strtab_free(&whos);
    free(cands);
    free(nv);
    free(cur);
    free(nxt);
    free(seen);
    free(touched);
    free(is_src);
    free(best);
    free(pos);
    return rc;
}
