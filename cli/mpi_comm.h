/*
 * mpi_comm.h - the processes of `mille train`, `distill` and `pretrain` under mpirun or
 * Slurm's srun: an MPI implementation of the training loop's loop_comm (src/train/loop.h).
 * Only the binary links MPI (when the build finds OpenMPI); libmille never does.
 *
 * Outside a launcher the program is one process, as without MPI: cli_comm_start returns
 * NULL. A binary built without MPI that finds itself started by a launcher with more than
 * one process refuses to run (N copies would each train alone and write the same files).
 */
#ifndef MILLE_MPI_COMM_H
#define MILLE_MPI_COMM_H

#include "loop.h"

/* The processes of this run, or NULL for one process. Prints a message and returns NULL
 * with *rc = CLI_ERR when it cannot start (see above); *rc = CLI_OK otherwise. */
const loop_comm *cli_comm_start(const char *cmd, int *rc);
/* Leave MPI (every rank, after the run, failed or not). comm may be NULL. */
void cli_comm_end(const loop_comm *comm);
/* 1 when another rank failed first: its message is the one printed, this rank stays quiet. */
int cli_comm_quiet(const loop_comm *comm);
/* 1 if MPI support is compiled in. */
int cli_comm_has_mpi(void);

#endif
