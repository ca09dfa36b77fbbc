/*
 * utt_input.h - the utterances a command reads, as `mille predict` and `mille embed` take
 * them: MASSIVE data in any form the data reader takes (filtered by locale and partition), or
 * plain text, one utterance per line (gzip'ed or not; stdin for "-"), where a line starting
 * with '{' is a MASSIVE record. Bad lines and records (a NUL byte, too long, malformed) are
 * named on stderr as "mille CMD: FILE:LINE: why" and counted; the others go on.
 */
#ifndef MILLE_CLI_UTT_INPUT_H
#define MILLE_CLI_UTT_INPUT_H

#include <stddef.h>

#include "mille.h"

/* One utterance; id, locale and partition are NULL when the input has none. */
typedef struct cli_utt {
    const char *id, *locale, *partition;
    const char *text;
    size_t len;
    const char *where; /* FILE:LINE, for messages */
} cli_utt;

typedef struct cli_utt_opts {
    const char *cmd;        /* "predict": the prefix of messages */
    const char *locale;     /* of utterances that carry none (NULL: none) */
    const char *locales;    /* MASSIVE data: only these (comma-separated; NULL: all) */
    const char *partitions; /* MASSIVE data: only these (NULL: all) */
} cli_utt_opts;

/* The command line of a command that reads utterances with a model: --model (repeatable, an
 * ensemble), --locale, --locales, --partitions and one INPUT (default "-"). */
typedef struct cli_utt_args {
    const char *models[MILLE_MAX_ENSEMBLE];
    size_t n_models;
    const char *input;
    int n_inputs;
    cli_utt_opts o;
} cli_utt_args;

/* Zero the arguments of command cmd ("predict"). */
void cli_utt_args_init(cli_utt_args *a, const char *cmd);
/* Take argv[*i] (after the command's own options were tried): one of the options above, an
 * unknown option (an error) or INPUT. Sets *bad after printing a usage error. */
void cli_utt_arg(cli_utt_args *a, int argc, char **argv, int *i, int *bad);
/* After the loop: at most one INPUT, and the shipped model when no --model was given. CLI_OK,
 * or CLI_USAGE after a message. */
int cli_utt_args_done(cli_utt_args *a);

/* Calls fn(ud, u) for each utterance of input, in order; *errors counts the lines and records
 * skipped. Returns CLI_OK, or CLI_ERR when the input cannot be opened or read. */
int cli_each_utt(const char *input, const cli_utt_opts *o, void (*fn)(void *ud, const cli_utt *u),
                 void *ud, size_t *errors);

#endif
