/*
 * mpi_comm.c - loop_comm over MPI (see mpi_comm.h and src/train/loop.h).
 *
 * Point-to-point MPI_Send / MPI_Recv of bytes (the chain of the dense gradient sums),
 * MPI_Bcast, MPI_Allgatherv (the word gradients of every shard), MPI_Allreduce of int64
 * (agreements, sizes, dev counts). The library passes at most 1 GiB per
 * call, so the int counts of MPI are enough. Only the main thread calls MPI
 * (MPI_THREAD_FUNNELED): the loop's worker threads compute, the main thread exchanges.
 *
 * Failures: MPI's default error handler on MPI_COMM_WORLD ends the whole job on a transport
 * error; a rank that dies is noticed by the launcher (mpirun, srun), which ends the others;
 * failures the ranks can see (a file, memory) are agreed on by the loop and every rank
 * returns the error, so none waits for ever. `fatal` is MPI_Abort.
 *
 * Built with -DMILLE_MPI when the Makefile finds OpenMPI (pkg-config ompi-c); without it
 * the functions below only detect a launcher and refuse to run under one.
 */
#define _POSIX_C_SOURCE 200809L
#include "mpi_comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The launcher's process count: OpenMPI's mpirun, PMI (srun --mpi=pmi2), PMIx (srun
 * --mpi=pmix, which sets no size: its presence alone says "launched"). */
static int launcher_size(void)
{
    const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        long n;
        if (v && parse_long(v, 1, 1L << 30, &n) == 0) {
            /* srun without MPI also sets SLURM_NTASKS: count it only with a PMI */
            if (i == 2 && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) continue;
            return (int)n;
        }
    }
    return getenv("PMIX_RANK") ? 2 : 1;
}

#ifdef MILLE_MPI
#include <mpi.h>

typedef struct mpi_ud {
    MPI_Comm comm;
    int failed; /* first failing rank an agreement reported, -1 none */
} mpi_ud;

static mpi_ud the_ud = {MPI_COMM_NULL, -1};
static loop_comm the_comm;

static int mpi_rc(int e) { return e == MPI_SUCCESS ? MILLE_OK : MILLE_EIO; }

static int mpi_send(void *ud, int peer, const void *buf, size_t n)
{
    mpi_ud *u = ud;
    return mpi_rc(MPI_Send(buf, (int)n, MPI_BYTE, peer, 0, u->comm));
}

static int mpi_recv(void *ud, int peer, void *buf, size_t n)
{
    mpi_ud *u = ud;
    return mpi_rc(MPI_Recv(buf, (int)n, MPI_BYTE, peer, 0, u->comm, MPI_STATUS_IGNORE));
}

static int mpi_bcast(void *ud, void *buf, size_t n, int root)
{
    mpi_ud *u = ud;
    return mpi_rc(MPI_Bcast(buf, (int)n, MPI_BYTE, root, u->comm));
}

static int mpi_allreduce_i64(void *ud, int64_t *v, size_t n, int op)
{
    mpi_ud *u = ud;
    for (size_t o = 0; o < n; o += 1u << 28) { /* int counts */
        int k = (int)(n - o < (1u << 28) ? n - o : (1u << 28));
        int e = MPI_Allreduce(MPI_IN_PLACE, v + o, k, MPI_INT64_T,
                              op == LOOP_OP_SUM ? MPI_SUM : MPI_MAX, u->comm);
        if (e != MPI_SUCCESS) return MILLE_EIO;
    }
    return MILLE_OK;
}

static int mpi_allgather(void *ud, const void *mine, size_t n, void *all, const size_t *counts)
{
    mpi_ud *u = ud;
    int size, rank;
    MPI_Comm_size(u->comm, &size);
    MPI_Comm_rank(u->comm, &rank);
    int *cnt = malloc((size_t)size * sizeof *cnt), *dsp = malloc((size_t)size * sizeof *dsp);
    size_t at = 0;
    int rc = cnt && dsp ? MILLE_OK : MILLE_ENOMEM;
    for (int r = 0; r < size && !rc; r++) { /* MPI counts and displacements are ints */
        if (counts[r] > INT_MAX || at > (size_t)INT_MAX - counts[r]) rc = MILLE_ERANGE;
        if (!rc) cnt[r] = (int)counts[r], dsp[r] = (int)at, at += counts[r];
    }
    if (!rc && (size_t)cnt[rank] != n) rc = MILLE_EINVAL;
    /* this rank's part is already in place when mine points there */
    const void *src = (const char *)all + (rc ? 0 : dsp[rank]) == mine ? MPI_IN_PLACE : mine;
    if (!rc && MPI_Allgatherv(src, (int)n, MPI_BYTE, all, cnt, dsp, MPI_BYTE, u->comm))
        rc = MILLE_EIO;
    free(cnt);
    free(dsp);
    return rc;
}

static void mpi_on_failure(void *ud, int rank)
{
    mpi_ud *u = ud;
    if (u->failed < 0) u->failed = rank;
}

static void mpi_fatal(void *ud, const char *msg)
{
    mpi_ud *u = ud;
    fprintf(stderr, "mille: %s\n", msg);
    fflush(stderr);
    MPI_Abort(u->comm, 1);
}

int cli_comm_has_mpi(void) { return 1; }

const loop_comm *cli_comm_start(const char *cmd, int *rc)
{
    *rc = CLI_OK;
    if (launcher_size() <= 1) return NULL;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "mille %s: MPI_Init failed\n", cmd);
        *rc = CLI_ERR;
        return NULL;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &the_ud.comm);
    the_comm.ud = &the_ud;
    MPI_Comm_rank(the_ud.comm, &the_comm.rank);
    MPI_Comm_size(the_ud.comm, &the_comm.size);
    the_comm.send = mpi_send;
    the_comm.recv = mpi_recv;
    the_comm.bcast = mpi_bcast;
    the_comm.allreduce_i64 = mpi_allreduce_i64;
    the_comm.allgather = mpi_allgather;
    the_comm.on_failure = mpi_on_failure;
    the_comm.fatal = mpi_fatal;
    return &the_comm;
}

void cli_comm_end(const loop_comm *comm)
{
    if (!comm) return;
    MPI_Barrier(the_ud.comm);
    MPI_Comm_free(&the_ud.comm);
    MPI_Finalize();
}

int cli_comm_quiet(const loop_comm *comm)
{
    return comm && the_ud.failed >= 0 && the_ud.failed != comm->rank;
}

#else /* no MPI: one process */

int cli_comm_has_mpi(void) { return 0; }

const loop_comm *cli_comm_start(const char *cmd, int *rc)
{
    *rc = CLI_OK;
    int n = launcher_size();
    if (n > 1) {
        fprintf(stderr,
                "mille %s: started as one of %d processes, but this mille was built without "
                "MPI (install libopenmpi-dev and rebuild)\n",
                cmd, n);
        *rc = CLI_ERR;
    }
    return NULL;
}

void cli_comm_end(const loop_comm *comm) { (void)comm; }

int cli_comm_quiet(const loop_comm *comm)
{
    (void)comm;
    return 0;
}

#endif
