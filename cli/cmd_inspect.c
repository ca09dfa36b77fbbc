/*
 * cmd_inspect.c - `mille inspect MODEL`: check a model file and print its description
 * (configuration, normalization, locales, intents, slot types, tensors and their dtypes: f32,
 * f16, i8) as indented JSON.
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
    if (j) { /* how many tensors of each dtype, and the kernel an int8 model runs on */
        json_t *dt = json_object(), *tl = json_object_get(j, "tensors"), *t;
        size_t k;
        json_array_foreach(tl, k, t)
        {
            const char *d = json_string_value(json_object_get(t, "dtype"));
            json_t *n = d ? json_object_get(dt, d) : NULL;
            if (d) json_object_set_new(dt, d, json_integer(n ? json_integer_value(n) + 1 : 1));
        }
        json_object_set_new(j, "dtypes", dt);
        if (model_is_q8(&m))
            json_object_set_new(j, "int8_kernel", json_string(q8_kernel_name(q8_kernel_active())));
    }
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (s) printf("%s\n", s);
    free(s);
    json_decref(j);
    model_free(&m);
    return s ? CLI_OK : CLI_ERR;
}
