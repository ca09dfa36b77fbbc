/*
 * parse.c - the smallest complete program on libmille: load a model, parse utterances given
 * on the command line (or a batch of them), print intent, confidence and slots.
 *
 *     cc parse.c $(pkg-config --cflags --libs mille) -o parse
 *     ./parse MODEL [--locale fr-FR] "réveille-moi à cinq heures" ["another one" ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mille.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL [--locale LOCALE] TEXT...\n", argv[0]);
        return 2;
    }
    const char *locale = NULL;
    int first = 2;
    if (argc > 4 && strcmp(argv[2], "--locale") == 0) {
        locale = argv[3];
        first = 4;
    }
    mille_error err;
    mille_model *model;
    mille_session *session;
    if (mille_model_load(argv[1], &model, &err) < 0) {
        fprintf(stderr, "parse: %s (%s)\n", err.msg, mille_strerror(err.code));
        return 1;
    }
    if (mille_session_new(model, &session, &err) < 0) {
        fprintf(stderr, "parse: %s\n", err.msg);
        mille_model_free(model);
        return 1;
    }
    /* all the texts in one batch: one forward pass */
    size_t n = (size_t)(argc - first);
    mille_input *in = calloc(n, sizeof *in);
    mille_result *res = calloc(n, sizeof *res);
    mille_error *errs = calloc(n, sizeof *errs);
    int status = 1;
    if (in && res && errs) {
        for (size_t i = 0; i < n; i++)
            in[i] = (mille_input){argv[first + (int)i], strlen(argv[first + (int)i]), locale};
        int ok = mille_parse_batch(session, in, n, res, errs);
        if (ok < 0) {
            fprintf(stderr, "parse: %s\n", mille_strerror(ok));
        } else {
            for (size_t i = 0; i < n; i++) {
                if (!res[i].intent) {
                    printf("%s\n  error: %s\n", in[i].text, errs[i].msg);
                    continue;
                }
                printf("%s\n  intent: %s (%s) %.3f\n", in[i].text, res[i].intent, res[i].scenario,
                       (double)res[i].confidence);
                for (size_t k = 0; k < res[i].n_slots; k++) {
                    const mille_slot *s = &res[i].slots[k];
                    printf("  %s = \"%.*s\" [%zu, %zu)\n", s->slot, (int)(s->end - s->start),
                           in[i].text + s->start, s->start, s->end);
                }
                printf("  annot_utt: %s\n", res[i].annot_utt);
            }
            status = (size_t)ok == n ? 0 : 1;
        }
    }
    free(in);
    free(res);
    free(errs);
    mille_session_free(session);
    mille_model_free(model);
    printf("libmille %s\n", mille_version());
    return status;
}
