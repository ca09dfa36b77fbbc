/*
 * cmd_inspect.c - `mille inspect MODEL`: check a model file and print its description
 * (configuration, normalization, locales, intents, slot types, tensors) as indented JSON.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"
#include "model.h"

int cmd_inspect(int argc, char **argv)
{
    if (argc != 2 || cli_is_help(argv[1])) {
        FILE *f = argc == 2 ? stdout : stderr;
        fprintf(f, "usage: mille inspect MODEL\n\nChecks MODEL (checksum, every tensor's "
                   "shape and offset) and prints its description as JSON.\n");
        return argc == 2 ? CLI_OK : CLI_USAGE;
    }
    mille_error err;
    model m; /* the internal loader: pretrained embeddings are shown too */
    if (model_load(&m, argv[1], &err) < 0) {
        fprintf(stderr, "mille inspect: %s\n", err.msg);
        return CLI_ERR;
    }
    json_error_t je;
    json_t *j = json_loads(m.meta ? m.meta : "{}", 0, &je);
    struct stat st;
    if (j && stat(argv[1], &st) == 0)
        json_object_set_new(j, "file_bytes", json_integer(st.st_size));
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (s) printf("%s\n", s);
    free(s);
    json_decref(j);
    model_free(&m);
    return s ? CLI_OK : CLI_ERR;
}
