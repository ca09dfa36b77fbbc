/*
 * dialogue.c - a small program on the dialogue library (include/mille_dialogue.h): each
 * argument is one turn of one session, answered as the assistant would.
 *
 *     cc dialogue.c $(pkg-config --cflags mille) -lmille_dialogue \
 *        $(pkg-config --libs mille) -lsqlite3 -lcurl -licui18n -licuuc -ljansson -o dialogue
 *     ./dialogue MODEL "set an alarm" "seven am" "what alarms do i have"
 *     # ask: For what time?
 *     # act: Alarm set for 7:00 AM.
 *     # act: You have one alarm: 7:00 AM.
 *
 * State (sessions, alarms) is kept in memory here; set params.db to keep it in a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mille.h>
#include <mille_dialogue.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL TEXT...\n", argv[0]);
        return 2;
    }
    mille_error err;
    mille_model *model = NULL;
    mille_session *nlu = NULL;
    mille_dialogue *dlg = NULL;
    mille_dialogue_params p = mille_dialogue_default_params();
    mille_dialogue_reply *r = malloc(sizeof *r); /* about 19 KiB */
    int rc = 0;
    if (!r || mille_model_load(argv[1], &model, &err) < 0 ||
        mille_session_new(model, &nlu, &err) < 0 || mille_dialogue_open(&p, &dlg, &err) < 0) {
        fprintf(stderr, "dialogue: %s\n", r ? err.msg : "out of memory");
        rc = 1;
    }
    for (int i = 2; i < argc && rc == 0; i++) {
        mille_dialogue_request q = {"example", argv[i], strlen(argv[i]), "en-US", -1};
        if (mille_dialogue_turn(dlg, nlu, &q, r, &err) < 0) {
            fprintf(stderr, "dialogue: \"%s\": %s\n", argv[i], err.msg);
            rc = 1;
        } else {
            printf("%s: %s\n", r->action, r->response);
        }
    }
    mille_dialogue_free(dlg);
    mille_session_free(nlu);
    mille_model_free(model);
    free(r);
    return rc;
}
