/* test_pretrain.c - skip-gram pretraining: one thread is bit-reproducible, lexicon
 * code-switching pulls a word and its translation together (cosine of their input vectors
 * rises over the same run without the lexicon), and train --init starts from the embedding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "pretrain.h"
#include "train.h"

static pretrain_params small(const char *out, const char *const *texts, const char *const *lex,
                             int n_lex)
{
    pretrain_params p = pretrain_default_params();
    p.texts = texts;
    p.n_texts = 1;
    p.locales = "en-US,fr-FR";
    p.lexicons = lex;
    p.n_lexicons = n_lex;
    p.code_switch = 0.5f;
    p.out = out;
    p.cfg.buckets = 1u << 14;
    p.cfg.dim = 16;
    p.epochs = 10;
    p.threads = 1;
    return p;
}

/* Cosine of the input vectors (mean of feature rows) of two words under a model file. */
static double word_cos(const char *path, const char *a, const char *b)
{
    model m;
    mille_error e;
    if (model_load(&m, path, &e)) return NAN;
    text_buf nb = {0};
    double va[64] = {0}, vb[64] = {0};
    const char *w[2] = {a, b};
    double *v[2] = {va, vb};
    size_t D = m.cfg.dim;
    for (int k = 0; k < 2; k++) {
        uint32_t f[MODEL_MAX_FEATS];
        int n = model_word_features(&m.cfg, w[k], strlen(w[k]), &nb, f, MODEL_MAX_FEATS, NULL, &e);
        for (int i = 0; i < n; i++)
            for (size_t d = 0; d < D; d++)
                v[k][d] += model_half_to_float(m.emb16[(size_t)f[i] * D + d]) / n;
    }
    double ab = 0, aa = 0, bb = 0;
    for (size_t d = 0; d < D; d++) ab += va[d] * vb[d], aa += va[d] * va[d], bb += vb[d] * vb[d];
    text_buf_free(&nb);
    model_free(&m);
    return ab / sqrt(aa * bb + 1e-30);
}

TEST(pretrain_aligns_translations_and_is_reproducible)
{
    char p1[128], p2[128], p3[128];
    snprintf(p1, sizeof p1, "/tmp/mille_test_pre1_%ld.model", (long)getpid());
    snprintf(p2, sizeof p2, "/tmp/mille_test_pre2_%ld.model", (long)getpid());
    snprintf(p3, sizeof p3, "/tmp/mille_test_pre3_%ld.model", (long)getpid());
    const char *texts[] = {test_path("data/sample")};
    const char *lex[] = {test_path("tests/data/lexicon/en-fr.tsv")};
    mille_error e;
    pretrain_stats st;
    pretrain_params p = small(p1, texts, lex, 1);
    CHECK_INT(pretrain_run(&p, &st, &e), 0);
    CHECK_INT(st.utterances, 2 * 332); /* train partitions only */
    CHECK(st.lexicon_links > 20 && st.linked_tokens > 100);
    p.out = p2;
    CHECK_INT(pretrain_run(&p, NULL, &e), 0);
    char *a, *b;
    size_t na, nb;
    CHECK_INT(file_read_all(p1, &a, &na, &e), 0);
    CHECK_INT(file_read_all(p2, &b, &nb, &e), 0);
    CHECK(na == nb && memcmp(a, b, na) == 0);
    free(a), free(b);
    pretrain_params q = small(p3, texts, NULL, 0);
    CHECK_INT(pretrain_run(&q, NULL, &e), 0);
    /* alignment: word and translation closer with the lexicon than without */
    const char *pairs[][2] = {{"alarm", "alarme"}, {"music", "musique"}, {"weather", "météo"}};
    for (int i = 0; i < 3; i++) {
        double with = word_cos(p1, pairs[i][0], pairs[i][1]);
        double without = word_cos(p3, pairs[i][0], pairs[i][1]);
        if (!(with > without + 0.1))
            fprintf(stderr, "  %s/%s: cos %.3f with the lexicon, %.3f without\n", pairs[i][0],
                    pairs[i][1], with, without);
        CHECK(with > without + 0.1);
    }
    /* a pretrained file is not a parser, and train --init reads it */
    mille_model *mm;
    CHECK_INT(mille_model_load(p1, &mm, &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "pretrain") != NULL);
    train_params t = train_default_params();
    t.data = test_path("data/sample");
    t.locales = "en-US";
    t.out = p2;
    t.init = p1;
    t.epochs = 1;
    t.cfg.hidden = 16;
    t.cfg.layers = 2;
    model m;
    CHECK_INT(train_run(&t, &m, NULL, &e), 0);
    CHECK_INT(m.cfg.buckets, 1u << 14);
    CHECK_INT(m.cfg.dim, 16);
    model_free(&m);
    /* bad inputs */
    const char *missing[] = {"/nonexistent/text.txt"};
    q.texts = missing;
    CHECK_INT(pretrain_run(&q, NULL, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "/nonexistent/text.txt") != NULL);
    t.init = "/nonexistent/pre.model";
    CHECK_INT(train_run(&t, NULL, NULL, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "--init") != NULL);
    char ck[160];
    snprintf(ck, sizeof ck, "%s.ckpt", p2);
    unlink(p1), unlink(p2), unlink(p3), unlink(ck);
}
