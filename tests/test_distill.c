/* test_distill.c - distillation on the bundled sample: 1 and 2 threads give identical
 * students, resuming is exact, unlabeled text files are read (and misnamed ones refused),
 * and perturbed copies keep their slot labels aligned with their words. (The loss and its
 * gradient are checked in test_model.c and test_crf.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "augment.h"
#include "distill.h"
#include "harness.h"

static train_params small(const char *out)
{
    train_params p = train_default_params();
    p.data = test_path("data/sample");
    p.locales = "en-US,fr-FR,ja-JP";
    p.out = out;
    p.cfg.buckets = 1u << 14;
    p.cfg.dim = 16;
    p.cfg.hidden = 32;
    p.cfg.layers = 2;
    p.epochs = 2;
    p.batch = 32;
    p.threads = 2;
    p.half = 0;
    p.patience = 100;
    return p;
}

static char *slurp(const char *path, size_t *n)
{
    char *buf = NULL;
    mille_error e;
    if (file_read_all(path, &buf, n, &e)) return NULL;
    return buf;
}

/* A teacher (trained once per process) and a file of unlabeled French utterances. */
static const char *teacher_path(void)
{
    static char path[256];
    if (path[0]) return path;
    snprintf(path, sizeof path, "/tmp/mille_test_teacher_%ld.model", (long)getpid());
    train_params p = small(path);
    p.epochs = 3;
    mille_error e;
    CHECK_INT(train_run(&p, NULL, NULL, &e), 0);
    return path;
}

static void unlabeled_file(char *path, size_t n)
{
    snprintf(path, n, "/tmp/mille_test_%ld/fr-FR.txt", (long)getpid());
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/mille_test_%ld", (long)getpid());
    mkdir(dir, 0700); /* may exist already */
    FILE *f = fopen(path, "w");
    fputs("réveille-moi à sept heures\nquel temps fait-il demain\n\njoue de la musique\n", f);
    fclose(f);
}

static distill_params dparams(const char *out, const char *const *teachers, const char *const *unl)
{
    distill_params d = distill_default_params();
    d.tp = small(out);
    d.teachers = teachers;
    d.n_teachers = 1;
    d.unlabeled = unl;
    d.n_unlabeled = 1;
    return d;
}

TEST(distill_threads_give_identical_students)
{
    const char *teachers[1] = {teacher_path()};
    char unl[256], a[256], b[256];
    unlabeled_file(unl, sizeof unl);
    const char *unls[1] = {unl};
    snprintf(a, sizeof a, "/tmp/mille_test_d1_%ld.model", (long)getpid());
    snprintf(b, sizeof b, "/tmp/mille_test_d2_%ld.model", (long)getpid());
    distill_params d = dparams(a, teachers, unls);
    mille_error e;
    eval_metrics dev;
    distill_stats st;
    d.tp.threads = 1;
    CHECK_INT(distill_run(&d, &dev, &st, &e), 0);
    CHECK(st.labeled > 0 && st.copies > st.labeled / 2 && st.copies <= st.labeled);
    CHECK_INT(st.unlabeled, 3); /* the empty line has no words */
    CHECK(st.entries > 0);
    CHECK(dev.n > 0 && dev.intent_accuracy > 5); /* chance is under 2% */
    d.tp.out = b;
    d.tp.threads = 2;
    CHECK_INT(distill_run(&d, NULL, NULL, &e), 0);
    size_t na = 0, nb = 0;
    char *fa = slurp(a, &na), *fb = slurp(b, &nb);
    CHECK(fa && fb && na == nb && memcmp(fa, fb, na) == 0);
    free(fa), free(fb);
    unlink(a), unlink(b);
    char ck[300];
    snprintf(ck, sizeof ck, "%s.ckpt", a);
    unlink(ck);
    snprintf(ck, sizeof ck, "%s.ckpt", b);
    unlink(ck);
}

TEST(distill_resume_is_exact)
{
    const char *teachers[2] = {teacher_path(), teacher_path()}; /* an ensemble of two */
    char unl[256], a[256], b[256], ck[300];
    unlabeled_file(unl, sizeof unl);
    const char *unls[1] = {unl};
    snprintf(a, sizeof a, "/tmp/mille_test_dr1_%ld.model", (long)getpid());
    snprintf(b, sizeof b, "/tmp/mille_test_dr2_%ld.model", (long)getpid());
    distill_params d = dparams(a, teachers, unls);
    d.n_teachers = 2;
    d.tp.evals_per_epoch = 2;
    mille_error e;
    CHECK_INT(distill_run(&d, NULL, NULL, &e), 0);
    d.tp.out = b;
    d.tp.stop_after = 1;
    CHECK_INT(distill_run(&d, NULL, NULL, &e), 0);
    d.tp.stop_after = 0;
    d.tp.resume = 1;
    CHECK_INT(distill_run(&d, NULL, NULL, &e), 0);
    size_t na = 0, nb = 0;
    char *fa = slurp(a, &na), *fb = slurp(b, &nb);
    CHECK(fa && fb && na == nb && memcmp(fa, fb, na) == 0);
    free(fa), free(fb);
    /* a checkpoint of other settings is refused */
    d.temp = 3;
    int rc = distill_run(&d, NULL, NULL, &e);
    CHECK_INT(rc, MILLE_EINVAL);
    if (rc != MILLE_EINVAL) fprintf(stderr, "%s\n", e.msg);
    unlink(a), unlink(b);
    snprintf(ck, sizeof ck, "%s.ckpt", a);
    unlink(ck);
    snprintf(ck, sizeof ck, "%s.ckpt", b);
    unlink(ck);
}

TEST(distill_refuses_bad_inputs)
{
    const char *teachers[1] = {teacher_path()};
    const char *unls[1] = {test_path("data/demo.txt")}; /* not named like a locale */
    distill_params d = dparams("/tmp/mille_test_never.model", teachers, unls);
    mille_error e;
    CHECK_INT(distill_run(&d, NULL, NULL, &e), MILLE_EINVAL);
    CHECK(strstr(e.msg, "demo.txt") != NULL);
    d.n_unlabeled = 0;
    const char *missing[1] = {"/nonexistent/teacher.model"};
    d.teachers = missing;
    CHECK(distill_run(&d, NULL, NULL, &e) < 0);
    CHECK(strstr(e.msg, "/nonexistent/teacher.model") != NULL);
    d.teachers = teachers;
    d.n_teachers = 0;
    CHECK_INT(distill_run(&d, NULL, NULL, &e), MILLE_EINVAL);
    CHECK(access("/tmp/mille_test_never.model", F_OK) != 0);
}

TEST(augment_keeps_labels_aligned)
{
    data_set ds = {0};
    data_opts o = data_default_opts();
    mille_error e;
    const char *lines[] = {
        "{\"id\":\"1\",\"locale\":\"en-US\",\"partition\":\"train\",\"scenario\":\"alarm\","
        "\"intent\":\"alarm_set\",\"utt\":\"wake me up at five am this week\","
        "\"annot_utt\":\"wake me up at [time : five am] [date : this week]\"}",
        "{\"id\":\"2\",\"locale\":\"ja-JP\",\"partition\":\"train\",\"scenario\":\"alarm\","
        "\"intent\":\"alarm_set\",\"utt\":\"今週は午前五時に起こして\","
        "\"annot_utt\":\"[date : 今週] は [time : 午前五時] に起こして\"}"};
    for (int i = 0; i < 2; i++)
        CHECK_INT(data_add_line(&ds, lines[i], strlen(lines[i]), 0, (uint32_t)i + 1, &o, &e), 1);
    aug_opts ao = {0.2f, 0.2f, 0.3f, 0, NULL};
    aug_scratch sc = {0};
    rng g;
    rng_seed(&g, 3);
    size_t made = 0;
    for (int trial = 0; trial < 200; trial++) {
        uint32_t r = (uint32_t)(trial % 2);
        size_t n0 = ds.n;
        int k = aug_perturb(&ds, r, 0, &g, &ao, &sc, &e);
        CHECK(k == 0 || k == 1);
        if (k != 1) continue;
        made++;
        const data_record *src = &ds.recs[r], *cp = &ds.recs[n0];
        const char *text = data_str(&ds, cp->utt);
        CHECK(text_utf8_check(text, cp->utt_len, NULL) == 0);
        /* the copy's labels are the source's in order, each repeated or dropped */
        uint32_t j = 0;
        for (uint32_t w = 0; w < cp->n_words; w++) {
            const data_word *cw = &ds.words[cp->word0 + w];
            CHECK(cw->end > cw->start && cw->end <= cp->utt_len);
            while (j < src->n_words && ds.words[src->word0 + j].label != cw->label) j++;
            CHECK(j < src->n_words);
        }
    }
    CHECK(made > 100);
    /* typos: one edit, valid UTF-8, never on words under 3 characters */
    char out[64];
    CHECK_INT(aug_typo("am", 2, &g, out), 0);
    for (int i = 0; i < 50; i++) {
        size_t n = aug_typo("réveille", strlen("réveille"), &g, out);
        CHECK(n > 0 && text_utf8_check(out, n, NULL) == 0);
        CHECK(n + 2 >= strlen("réveille") && n <= strlen("réveille") + 2);
    }
    aug_scratch_free(&sc);
    data_free(&ds);
}
