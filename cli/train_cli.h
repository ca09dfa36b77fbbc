/*
 * train_cli.h - what `mille train` and `mille distill` share (cli/cmd_train.c): the options
 * of the data, the model's shape, the optimizer and the run; the progress line; the summary.
 */
#ifndef MILLE_TRAIN_CLI_H
#define MILLE_TRAIN_CLI_H

#include "cli.h"
/* ---- what train and distill share (cmd_train.c) ---- */
#include "mpi_comm.h"
#include "train.h"
#define CLI_MAX_DATA 63
typedef struct train_ui {
    const char *cmd; /* "train", "distill": for messages */
    int tty, quiet, strict;
    size_t skipped;
    const char *more[CLI_MAX_DATA]; /* --data after the first */
    int n_more;
    const loop_comm *comm; /* the processes of the run (MPI), NULL = one */
    train_progress last;   /* the last progress report (rank 0) */
} train_ui;
void cli_train_ui_init(train_ui *u, const char *cmd);
/* The options of the data, the model's shape, the optimizer and the run: 1 if argv[*i] was
 * one of them (consumed, *bad set on a bad value), 0 if not. */
int cli_train_option(int argc, char **argv, int *i, train_params *p, train_ui *u, int *bad);
/* Hook the progress line, skipped-record messages, collected options and the processes of
 * the run (MPI: only rank 0 prints) into p. CLI_OK, or CLI_ERR after a message. */
int cli_train_setup(train_params *p, train_ui *u);
void cli_train_progress(void *ud, const train_progress *pr);
void cli_train_skip(void *ud, const mille_error *e);
/* Report the run's end: the error, or the JSON summary line; returns the exit code. */
int cli_train_finish(const train_params *p, train_ui *u, int rc, const mille_error *err,
                     const eval_metrics *best);

#endif
