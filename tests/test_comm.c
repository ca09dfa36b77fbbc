/* test_comm.c - the training loop over processes (loop_comm, loop.h) without MPI: "ranks"
 * are threads of this process talking through mailboxes, so that the chain reduction, the
 * exchange of embedding rows, the split dev evaluation and the agreed failures run under
 * the sanitizers. N ranks must give the weights of one process bit for bit; a rank that
 * fails makes every rank return an error instead of waiting. (tests/mpi_test.sh runs the
 * same over MPI.) */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "loop.h"
#include "train.h"

/* ---- an in-process transport: one FIFO of messages per (from, to) --------------------------- */

#define MAXR 4

typedef struct msg {
    struct msg *next;
    size_t n;
    unsigned char data[];
} msg;

typedef struct hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg *head[MAXR][MAXR], *tail[MAXR][MAXR]; /* [from][to] */
    int size;
    int bad_sizes; /* a receive that did not match its send */
} hub;

typedef struct rank_ud {
    hub *h;
    int rank;
} rank_ud;

static int hub_send(void *ud, int peer, const void *buf, size_t n)
{
    rank_ud *u = ud;
    hub *h = u->h;
    msg *m = malloc(sizeof *m + n + 1);
    if (!m) return MILLE_ENOMEM;
    m->next = NULL;
    m->n = n;
    if (n) memcpy(m->data, buf, n);
    pthread_mutex_lock(&h->mu);
    if (h->tail[u->rank][peer])
        h->tail[u->rank][peer]->next = m;
    else
        h->head[u->rank][peer] = m;
    h->tail[u->rank][peer] = m;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return MILLE_OK;
}

static int hub_recv(void *ud, int peer, void *buf, size_t n)
{
    rank_ud *u = ud;
    hub *h = u->h;
    pthread_mutex_lock(&h->mu);
    while (!h->head[peer][u->rank]) pthread_cond_wait(&h->cv, &h->mu);
    msg *m = h->head[peer][u->rank];
    h->head[peer][u->rank] = m->next;
    if (!m->next) h->tail[peer][u->rank] = NULL;
    if (m->n != n) h->bad_sizes++;
    pthread_mutex_unlock(&h->mu);
    memcpy(buf, m->data, m->n < n ? m->n : n);
    free(m);
    return MILLE_OK;
}

static int hub_bcast(void *ud, void *buf, size_t n, int root)
{
    rank_ud *u = ud;
    if (u->rank != root) return hub_recv(ud, root, buf, n);
    for (int r = 0; r < u->h->size; r++)
        if (r != root && hub_send(ud, r, buf, n)) return MILLE_ENOMEM;
    return MILLE_OK;
}

/* gathered by rank 0, which reduces in rank order and sends the result back */
static int hub_allreduce(void *ud, int64_t *v, size_t n, int op)
{
    rank_ud *u = ud;
    if (u->rank != 0) {
        hub_send(ud, 0, v, n * sizeof *v);
        return hub_recv(ud, 0, v, n * sizeof *v);
    }
    int64_t *w = malloc(n * sizeof *w + 1);
    if (!w) return MILLE_ENOMEM;
    for (int r = 1; r < u->h->size; r++) {
        hub_recv(ud, r, w, n * sizeof *w);
        for (size_t i = 0; i < n; i++)
            v[i] = op == LOOP_OP_SUM ? v[i] + w[i] : (w[i] > v[i] ? w[i] : v[i]);
    }
    free(w);
    for (int r = 1; r < u->h->size; r++) hub_send(ud, r, v, n * sizeof *v);
    return MILLE_OK;
}

/* rank r's part to every other rank, then the others' parts in */
static int hub_allgather(void *ud, const void *mine, size_t n, void *all, const size_t *counts)
{
    rank_ud *u = ud;
    size_t at = 0, off[MAXR];
    for (int r = 0; r < u->h->size; r++) off[r] = at, at += counts[r];
    for (int r = 0; r < u->h->size; r++)
        if (r != u->rank && hub_send(ud, r, mine, n)) return MILLE_ENOMEM;
    memmove((char *)all + off[u->rank], mine, n);
    for (int r = 0; r < u->h->size; r++)
        if (r != u->rank) hub_recv(ud, r, (char *)all + off[r], counts[r]);
    return MILLE_OK;
}

/* ---- ranks as threads ------------------------------------------------------------------------ */

typedef struct rank_run {
    train_params p;
    loop_comm comm;
    rank_ud ud;
    model m;
    eval_metrics dev;
    mille_error err;
    int rc;
} rank_run;

static void *rank_main(void *arg)
{
    rank_run *r = arg;
    r->rc = train_run(&r->p, &r->m, &r->dev, &r->err);
    return NULL;
}

static train_params small(const char *out)
{
    train_params p = train_default_params();
    p.data = test_path("data/sample");
    p.locales = "en-US,ja-JP";
    p.out = out;
    p.cfg.buckets = 1u << 13;
    p.cfg.dim = 16;
    p.cfg.hidden = 24;
    p.epochs = 2;
    p.batch = 24;
    p.half = 0;
    p.patience = 100;
    return p;
}

/* Train with n ranks of p (rank k's data replaced by data[k] when data != NULL); the ranks'
 * results in runs[0..n). */
static void run_ranks(hub *h, rank_run *runs, int n, const train_params *p, const char **data)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->size = n;
    pthread_t tid[MAXR];
    for (int k = 0; k < n; k++) {
        rank_run *r = &runs[k];
        memset(r, 0, sizeof *r);
        r->p = *p;
        r->p.threads = 1;
        if (data) r->p.data = data[k];
        r->ud = (rank_ud){h, k};
        r->comm = (loop_comm){.ud = &r->ud,
                              .rank = k,
                              .size = n,
                              .send = hub_send,
                              .recv = hub_recv,
                              .bcast = hub_bcast,
                              .allreduce_i64 = hub_allreduce,
                              .allgather = hub_allgather};
        r->p.comm = &r->comm;
        CHECK_INT(pthread_create(&tid[k], NULL, rank_main, r), 0);
    }
    for (int k = 0; k < n; k++) pthread_join(tid[k], NULL);
    for (int a = 0; a < MAXR; a++)
        for (int b = 0; b < MAXR; b++) CHECK(h->head[a][b] == NULL); /* nothing left unread */
    CHECK_INT(h->bad_sizes, 0);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
}

TEST(comm_ranks_give_the_weights_of_one_process)
{
    char out[256];
    snprintf(out, sizeof out, "/tmp/mille_test_comm_%ld.model", (long)getpid());
    train_params p = small(out);
    model one;
    eval_metrics dev1;
    mille_error e;
    CHECK_INT(train_run(&p, &one, &dev1, &e), 0);
    hub h;
    rank_run runs[3];
    for (int n = 2; n <= 3; n++) {
        run_ranks(&h, runs, n, &p, NULL);
        for (int k = 0; k < n; k++) {
            CHECK_INT(runs[k].rc, 0);
            CHECK_INT(runs[k].m.n_params, one.n_params);
            if (runs[k].m.n_params == one.n_params)
                CHECK(memcmp(runs[k].m.p, one.p, one.n_params * sizeof *one.p) == 0);
            /* the dev set was split across the ranks: the same numbers */
            CHECK_INT(runs[k].dev.n, dev1.n);
            CHECK(runs[k].dev.exact_match == dev1.exact_match);
            CHECK(runs[k].dev.slot_f1 == dev1.slot_f1);
            model_free(&runs[k].m);
        }
    }
    model_free(&one);
    unlink(out);
    char ck[300];
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    unlink(ck);
}

TEST(comm_a_failing_rank_stops_every_rank)
{
    char out[256];
    snprintf(out, sizeof out, "/tmp/mille_test_commf_%ld.model", (long)getpid());
    train_params p = small(out);
    hub h;
    rank_run runs[2];
    /* rank 1 cannot read its data: both return an error, rank 0 names rank 1 */
    const char *data[2] = {p.data, "/nonexistent/mille-test-data.jsonl"};
    run_ranks(&h, runs, 2, &p, data);
    CHECK(runs[1].rc < 0);
    CHECK_INT(runs[0].rc, runs[1].rc);
    CHECK(strstr(runs[0].err.msg, "rank 1") != NULL);
    CHECK(strstr(runs[1].err.msg, "mille-test-data") != NULL);
    /* more ranks than shards: refused by all */
    p.shards = 1;
    run_ranks(&h, runs, 2, &p, NULL);
    CHECK_INT(runs[0].rc, MILLE_EINVAL);
    CHECK_INT(runs[1].rc, MILLE_EINVAL);
    for (int k = 0; k < 2; k++) model_free(&runs[k].m);
    unlink(out);
}

/* The sharded update keeps each rank's AdamW moments with it; a checkpoint gathers them to
 * rank 0. A run stopped after its first epoch by 3 ranks resumes with 1 process (and one
 * stopped by 1 process with 2 ranks) to the uninterrupted run's weights, bit for bit; with
 * clipping off too (the gradient norm is not exchanged then). */
TEST(comm_sharded_update_resumes_across_rank_counts)
{
    char out[256], ck[300];
    snprintf(out, sizeof out, "/tmp/mille_test_commr_%ld.model", (long)getpid());
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    for (int clip = 0; clip < 2; clip++) {
        train_params p = small(out);
        p.clip = clip ? p.clip : 0;
        p.dev_locales = "none"; /* the last weights, not the best epoch's, are the result */
        model one;
        eval_metrics dev1;
        mille_error e;
        CHECK_INT(train_run(&p, &one, &dev1, &e), 0);
        hub h;
        rank_run runs[3];
        for (int n = 1; n <= 3; n += 2) { /* stopped by n ranks, resumed by 3 - n + 1 */
            train_params q = p;
            q.stop_after_epochs = 1;
            if (n == 1) {
                model part;
                CHECK_INT(train_run(&q, &part, NULL, &e), 0);
                model_free(&part);
                q = p;
                q.resume = 1;
                run_ranks(&h, runs, 2, &q, NULL);
                for (int k = 0; k < 2; k++) {
                    CHECK_INT(runs[k].rc, 0);
                    if (!runs[k].rc)
                        CHECK(memcmp(runs[k].m.p, one.p, one.n_params * sizeof *one.p) == 0);
                    model_free(&runs[k].m);
                }
            } else {
                run_ranks(&h, runs, n, &q, NULL);
                for (int k = 0; k < n; k++) {
                    CHECK_INT(runs[k].rc, 0);
                    model_free(&runs[k].m);
                }
                q = p;
                q.resume = 1;
                model res;
                CHECK_INT(train_run(&q, &res, NULL, &e), 0);
                CHECK(memcmp(res.p, one.p, one.n_params * sizeof *one.p) == 0);
                model_free(&res);
            }
        }
        model_free(&one);
        unlink(ck);
    }
    unlink(out);
}
