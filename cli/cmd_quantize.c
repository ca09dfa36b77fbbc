/*
 * cmd_quantize.c - `mille quantize MODEL --out Q`: write an int8 copy of a model (the
 * embedding and the weight matrices as int8 with one float scale per row; biases and CRF in
 * float32; src/model/quant.h), atomically, and print the sizes before and after.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "model.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mille quantize MODEL --out Q\n\n"
               "Writes Q, an int8 copy of MODEL: the embedding and the weight matrices as int8\n"
               "with one float scale per row (biases and CRF transitions stay float32). Q is\n"
               "about half the size of a model with a float16 embedding, and predict, serve and\n"
               "the C API run it through integer kernels (AVX-512 VNNI or AVX2 when the CPU\n"
               "has them). Prints the sizes before and after.\n\n"
               "  --out Q   file to write (atomically; model file version 2)\n");
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int cmd_quantize(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if (bad) {
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mille quantize: unknown option '%s'\n", argv[i]);
            bad = 1;
        } else if (!in) {
            in = argv[i];
        } else {
            fprintf(stderr, "mille quantize: unexpected argument '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!in || !out)) {
        fprintf(stderr, "mille quantize: %s\n", !in ? "MODEL is required" : "--out is required");
        bad = 1;
    }
    if (!bad && strcmp(out, "-") == 0) {
        fprintf(stderr, "mille quantize: --out must be a file (the model is written atomically)\n");
        bad = 1;
    }
    if (bad) {
        usage(stderr);
        return CLI_USAGE;
    }
    mille_error err;
    model m;
    if (model_load(&m, in, &err) < 0 || model_quantize(&m, &err) < 0 ||
        model_save(&m, out, 0, &err) < 0) {
        fprintf(stderr, "mille quantize: %s\n", err.msg);
        model_free(&m);
        return CLI_ERR;
    }
    model_free(&m);
    long long a = file_bytes(in), b = file_bytes(out);
    printf("%s: %lld bytes -> %s: %lld bytes (int8, %.2fx)\n", in, a, out, b,
           a > 0 ? (double)b / (double)a : 0.0);
    return CLI_OK;
}
