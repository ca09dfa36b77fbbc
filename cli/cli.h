/*
 * cli.h - what the subcommands of the `mille` binary share: the command table entry and
 * the exit codes (0 ok, 1 runtime error, 2 usage error).
 *
 * Adding a subcommand: write cli/cmd_NAME.c with `int cmd_NAME(int argc, char **argv)`
 * (argv[0] is the subcommand name; `--help` prints usage with defaults to stdout and returns
 * 0), declare it here, add one line to the table in cli/main.c.
 */
#ifndef MILLE_CLI_H
#define MILLE_CLI_H

#include <stddef.h>

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

typedef struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `mille --help` */
} cli_cmd;

int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_inflect(int argc, char **argv);
int cmd_lexicons(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_perturb(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_lexicons_sources(int argc, char **argv); /* mille lexicons --coverage / --build */
int cmd_calibrate(int argc, char **argv);
int cmd_learn(int argc, char **argv);
int cmd_langid_fit(int argc, char **argv);
int cmd_langid_eval(int argc, char **argv);

/* An option's number: 0 and *out set, or -1 after printing "mille CMD: NAME must be ... got
 * 'V'" to stderr. */
int cli_long(const char *cmd, const char *name, const char *v, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *name, const char *v, double lo, double hi, double *out);

/* The model to use when none is given: $MILLE_MODEL, else the shipped models/mille.model of
 * a source tree (beside the binary), else the installed DATADIR/mille/mille.model. Returns
 * a static path, or NULL with the places looked at in where. */
const char *cli_default_model(char *where, size_t n);

/* 1 if a is "-h" or "--help". */
int cli_is_help(const char *a);
/* Option value: for "--name=value" returns value; for "--name" takes argv[*i + 1] and
 * advances *i; otherwise NULL. Prints a usage error and sets *bad when the value is missing. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name, int *bad);

#endif
