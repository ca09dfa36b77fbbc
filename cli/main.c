/*
 * main.c - the `mille` binary: git-style subcommands dispatched through one table.
 *
 *     mille --help            list the subcommands
 *     mille version           print the version
 *     mille CMD --help        usage of CMD, with its defaults
 *
 * Results go to stdout, messages to stderr; exit codes 0 ok, 1 runtime error, 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core.h"
#include "mille.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

/* The dispatch table: one line per subcommand (train, predict, inspect, serve go here). */
static const cli_cmd commands[] = {
    {"train", cmd_train, "train a joint intent + slot model on MASSIVE-format data"},
    {"distill", cmd_distill, "distill teachers (one model or an ensemble) into a student"},
    {"pretrain", cmd_pretrain, "pretrain the embedding on unlabeled text (train --init)"},
    {"predict", cmd_predict, "parse utterances with a model (JSON lines out)"},
    {"inspect", cmd_inspect, "check a model file and print its description"},
    {"quantize", cmd_quantize, "write an int8 copy of a model (smaller, faster)"},
    {"serve", cmd_serve, "serve a model over HTTP/JSON, with a playground page"},
    {"eval", cmd_eval, "score predictions against MASSIVE gold data (official metrics)"},
    {"synth", cmd_synth, "translate labeled data word by word with bilingual lexicons"},
    {"lexicons", cmd_lexicons, "list installed FreeDict dictionaries and the locales they cover"},
    {"perturb", cmd_perturb, "noisy copies of labeled data (typos, dropped words), labels aligned"},
    {"convert", cmd_convert, "convert labeled data between MASSIVE, Rasa (YAML) and Snips (JSON)"},
    {"embed", cmd_embed, "print utterance vectors (JSON lines) for rephrase / translation search"},
    {"calibrate", cmd_calibrate, "fit confidence temperature and rejection threshold on dev"},
    {"learn", cmd_learn, "mine interaction logs into rewrites and training data"},
    {"inflect", cmd_inflect, "inflect lexicon translations by the forms unlabeled text uses"},
    {"langid-fit", cmd_langid_fit, "fit a language-identification head (parse without a locale)"},
    {"langid-eval", cmd_langid_eval, "accuracy of the language-identification head per locale"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

#ifndef MILLE_DATADIR
#define MILLE_DATADIR "/usr/local/share"
#endif

const char *cli_default_model(char *where, size_t n)
{
    static char path[PATH_MAX + 64];
    const char *env = getenv("MILLE_MODEL");
    if (env && *env) {
        snprintf(where, n, "$MILLE_MODEL");
        snprintf(path, sizeof path, "%s", env);
        return path;
    }
    /* beside the binary in a source tree (build/mille, build/asan/mille), then installed */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *const rel[] = {"/../models/mille.model", "/../../models/mille.model"};
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(path, sizeof path, "%s%s", exe, rel[i]);
            if (access(path, R_OK) == 0) return path;
        }
    }
    snprintf(path, sizeof path, "%s/mille/mille.model", MILLE_DATADIR);
    if (access(path, R_OK) == 0) return path;
    snprintf(where, n, "$MILLE_MODEL, models/mille.model beside the binary, %s", path);
    return NULL;
}

int cli_is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0; }

const char *cli_opt_value(int argc, char **argv, int *i, const char *name, int *bad)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "mille %s: option %s needs a value\n", argv[0], name);
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

int cli_long(const char *cmd, const char *name, const char *v, long lo, long hi, long *out)
{
    if (parse_long(v, lo, hi, out) == 0) return 0;
    fprintf(stderr, "mille %s: %s must be an integer in %ld..%ld, got '%s'\n", cmd, name, lo, hi,
            v);
    return -1;
}

int cli_double(const char *cmd, const char *name, const char *v, double lo, double hi, double *out)
{
    if (parse_double(v, out) == 0 && *out >= lo && *out <= hi) return 0;
    fprintf(stderr, "mille %s: %s must be a number in %g..%g, got '%s'\n", cmd, name, lo, hi, v);
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mille <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'mille <command> --help' shows the options of a command and their defaults.\n"
               "exit codes: 0 ok, 1 runtime error, 2 usage error.\n");
}

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return CLI_OK;
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: mille version\n\nprints \"mille MAJOR.MINOR.PATCH\".\n");
        return CLI_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "mille version: unexpected argument '%s'\n", argv[1]);
        return CLI_USAGE;
    }
    printf("mille %s\n", mille_version());
    return CLI_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1])) return cmd_help(argc - 1, argv + 1);
    if (strcmp(argv[1], "--version") == 0) return cmd_version(1, argv + 1);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mille: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
