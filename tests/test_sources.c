/* test_sources.c - the lexicon sources of src/lexicon/sources.c on small files written here in
 * each source's format: lt-print dumps of Apertium bidixes (tags dropped, cycles not entered,
 * both directions), CC-CEDICT (gloss cleaning, primary glosses first, simplified and
 * traditional), FreeDict read in reverse, broken files (a code and a message naming
 * file:line), the merge of a toy three-language example (direct before Apertium before pivots
 * that two languages agree on before single pivots; frequency ranking and filtering by the
 * unlabeled text), the TSV written atomically and read back, CLDR pairs through ICU, and the
 * English coverage measure. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lexicon.h"
#include "sources.h"
#include "test_lexicon.h"

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(s, f);
    fclose(f);
}

/* A bidix as lt-print prints it: "house<n>" : "casa<n><f>", "alarm clock<n>" : "despertador<n>"
 * sharing the <n> tail, "wake<vblex>" with two tag tails (one entry), a second section with a
 * cycle (a regular expression: digits) that must not be entered, arcs ending in a tab. */
static const char att_ok[] = "0\t1\th\tc\t0.000000\t\n"
                             "1\t2\to\ta\t0.000000\t\n"
                             "2\t3\tu\ts\t0.000000\t\n"
                             "3\t4\ts\ta\t0.000000\t\n"
                             "4\t5\te\tε\t0.000000\t\n"
                             "5\t6\t<n>\t<n>\t0.000000\t\n"
                             "6\t7\tε\t<f>\t0.000000\t\n"
                             "7\t0.000000\n"
                             "0\t8\tw\td\t\n"
                             "8\t9\ta\te\t\n"
                             "9\t10\tk\ts\t\n"
                             "10\t11\te\tp\t\n"
                             "11\t12\tε\te\t\n"
                             "12\t13\tε\tr\t\n"
                             "13\t14\tε\tt\t\n"
                             "14\t15\tε\ta\t\n"
                             "15\t16\tε\tr\t\n"
                             "16\t17\t<vblex>\t<vblex>\t\n"
                             "17\t7\t<inf>\t<inf>\t\n"
                             "17\t7\t<pres>\t<pres>\t\n"
                             "--\n"
                             "0\t1\t1\t1\n"
                             "1\t1\t2\t2\n"
                             "1\t2\t<num>\t<num>\n"
                             "2\n";

TEST(sources_apertium_att)
{
    lexicon fwd = {0}, rev = {0};
    lexicon_stats st;
    mille_error e = {0};
    CHECK_INT(lxs_read_att(&fwd, &rev, att_ok, strlen(att_ok), "eng-cat.att", &st, &e), 0);
    CHECK_STR(lexicon_test_tr(&fwd, "house"), "casa");
    CHECK_STR(lexicon_test_tr(&fwd, "wake"), "despertar");
    CHECK_STR(lexicon_test_tr(&rev, "casa"), "house");
    CHECK_STR(lexicon_test_tr(&rev, "despertar"), "wake");
    CHECK_INT(fwd.n_pairs, 2); /* the digits section is a cycle: not entered */
    CHECK_INT(st.pairs, 2);
    lexicon_free(&fwd);
    lexicon_free(&rev);
    /* lt-print -H style symbols */
    static const char hfst[] = "0\t1\tt\tt\n1\t2\t@_SPACE_@\t@0@\n2\t3\tv\tv\n3\n";
    CHECK_INT(lxs_read_att(&fwd, NULL, hfst, strlen(hfst), "x.att", NULL, &e), 0);
    CHECK_STR(lexicon_test_tr(&fwd, "t v"), "tv");
    lexicon_free(&fwd);
}

/* Error code of reading s as an lt-print dump; the message must hold needle. */
static int att_err(const char *s, const char *needle)
{
    lexicon lx = {0};
    mille_error e = {0};
    int rc = lxs_read_att(&lx, NULL, s, strlen(s), "bad.att", NULL, &e);
    lexicon_free(&lx);
    if (rc < 0 && needle && !strstr(e.msg, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, needle);
        return 1;
    }
    return rc;
}

TEST(sources_apertium_bad_inputs)
{
    CHECK_INT(att_err("0\t1\ta\tb\n1\n0\t1\ta\n", "bad.att:3: expected"), MILLE_EFORMAT);
    CHECK_INT(att_err("0\tx\ta\tb\n1\n", "bad.att:1: expected"), MILLE_EFORMAT);
    CHECK_INT(att_err("0\t1\t\tb\n", "bad.att:1:"), MILLE_EFORMAT);
    CHECK_INT(att_err("0\t1\ta\t\xff\n1\n", "bad.att:1: invalid UTF-8"), MILLE_EUTF8);
    CHECK_INT(att_err("0\t999999999\ta\tb\n", "bad.att:1: state 999999999"), MILLE_ELIMIT);
    CHECK_INT(att_err("", "no entries"), MILLE_EFORMAT);
    CHECK_INT(att_err("0\t1\ta\tb\n", "no entries"), MILLE_EFORMAT); /* no final state */
    /* a dense DAG of exponentially many paths: cut short by the budget, no error, no hang */
    char big[1 << 14];
    size_t o = 0;
    for (int q = 0; q < 60; q++)
        o += (size_t)snprintf(big + o, sizeof big - o, "%d\t%d\tε\tε\n%d\t%d\t@0@\t@0@\n", q, q + 1,
                              q, q + 1);
    snprintf(big + o, sizeof big - o, "60\n");
    lexicon lx = {0};
    lexicon_stats st;
    mille_error e;
    CHECK_INT(lxs_read_att(&lx, NULL, big, strlen(big), "dag.att", &st, &e), 0);
    CHECK_INT(st.skipped, 1);
    CHECK_INT(st.entries, LXS_MAX_PATHS);
    lexicon_free(&lx);
}

static const char cedict_ok[] =
    "# CC-CEDICT\n"
    "#! version=1\n"
    "鬧鐘 闹钟 [nao4 zhong1] /alarm clock/\n"
    "定時鐘 定时钟 [ding4 shi2 zhong1] /timer/timing clock/alarm clock/\n"
    "叫醒 叫醒 [jiao4 xing3] /to wake up (sb)/to awaken/\n"
    "了 了 [le5] /(modal particle)/variant of 瞭[liao3]/CL:個|个[ge4]/\n";

TEST(sources_cedict)
{
    lexicon simp = {0}, trad = {0};
    lexicon_stats st;
    mille_error e = {0};
    CHECK_INT(lxs_read_cedict(&simp, &trad, cedict_ok, strlen(cedict_ok), "cedict_ts.u8", &st, &e),
              0);
    CHECK_INT(st.entries, 4);
    /* first glosses of all entries before later ones: 闹钟 before 定时钟 */
    CHECK_STR(lexicon_test_tr(&simp, "alarm clock"), "闹钟|定时钟");
    CHECK_STR(lexicon_test_tr(&trad, "alarm clock"), "鬧鐘|定時鐘");
    CHECK_STR(lexicon_test_tr(&simp, "wake up"), "叫醒"); /* "to " and "(sb)" dropped */
    CHECK_STR(lexicon_test_tr(&simp, "awaken"), "叫醒");
    CHECK_STR(lexicon_test_tr(&simp, "variant of 瞭"), "");
    CHECK_INT(lexicon_n_keys(&simp), 5); /* alarm clock, timer, timing clock, wake up, awaken */
    lexicon_free(&simp);
    lexicon_free(&trad);
    static const char *const bad[][2] = {
        {"鬧鐘 闹钟 /alarm clock/\n", "c.u8:1: expected"},
        {"# c\n鬧鐘 闹钟 [nao4 zhong1] /alarm clock\n", "c.u8:2: expected"},
        {"鬧鐘\n", "c.u8:1: expected"},
        {"鬧鐘 闹钟 [nao4] /a\xff/\n", "c.u8:1: invalid UTF-8"},
        {"# only comments\n", "no entries"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lexicon lx = {0};
        int rc = lxs_read_cedict(&lx, NULL, bad[i][0], strlen(bad[i][0]), "c.u8", NULL, &e);
        CHECK(rc < 0);
        if (!strstr(e.msg, bad[i][1]))
            fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, bad[i][1]);
        CHECK(strstr(e.msg, bad[i][1]) != NULL);
        lexicon_free(&lx);
    }
}

TEST(sources_reverse_and_codes)
{
    lexicon x2e = {0}, e2x = {0};
    mille_error e;
    static const char tsv[] = "réveil\talarm\nréveil\talarm clock\nmusique\tmusic\n";
    CHECK_INT(lexicon_add_tsv(&x2e, tsv, strlen(tsv), "fra-eng.tsv", NULL, &e), 0);
    CHECK_INT(lxs_reverse(&x2e, &e2x, &e), 0);
    CHECK_STR(lexicon_test_tr(&e2x, "alarm"), "réveil");
    CHECK_STR(lexicon_test_tr(&e2x, "alarm clock"), "réveil");
    CHECK_STR(lexicon_test_tr(&e2x, "music"), "musique");
    lexicon_free(&x2e);
    lexicon_free(&e2x);
    char buf[8];
    CHECK_STR(lxs_canon_code("en", 2, buf, sizeof buf), "eng");
    CHECK_STR(lxs_canon_code("zlm", 3, buf, sizeof buf), "msa");
    CHECK_STR(lxs_canon_code("nor", 3, buf, sizeof buf), "nob");
    CHECK(lxs_canon_code("e1", 2, buf, sizeof buf) == NULL);
    CHECK_STR(lxs_locale_code("zh-TW"), "zht");
    CHECK_STR(lxs_locale_code("nb-NO"), "nob");
    CHECK(lxs_locale_code("xx-XX") == NULL);
}

/* Toy three languages, English -> Romanian ("ron") through Spanish and Italian:
 *   direct eng-ron:    alarm -> alarmă
 *   Apertium eng-ron:  alarm -> deșteptător, music -> muzică
 *   eng-spa + spa-ron: song -> cântec, song -> melodie; weather -> vreme
 *   eng-ita + ita-ron: song -> cântec (agrees: pivot2), weather -> timp (single)
 * Without text single pivots keep source order (eng-ita.tsv is read before eng-spa.tsv); with
 * text, "melodie" is never seen: dropped; "vreme" beats "timp" by frequency. */
TEST(sources_merge_toy_pivot)
{
    char dir[] = "/tmp/mille_lxs_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[512];
    static const char *const files[][2] = {
        {"eng-ron.tsv", "alarm\talarmă\n"},
        {"eng-spa.tsv", "song\tcanción\nweather\ttiempo\n"},
        {"spa-ron.tsv", "canción\tcântec\ncanción\tmelodie\ntiempo\tvreme\n"},
        {"eng-ita.tsv", "song\tcanzone\nweather\ttempo\n"},
        {"ita-ron.tsv", "canzone\tcântec\ntempo\ttimp\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i][0]);
        write_file(p, files[i][1]);
    }
    snprintf(p, sizeof p, "%s/eng-ron.att", dir);
    write_file(p, "0\t1\ta\td\n1\t2\tl\te\n2\t3\ta\tș\n3\t4\tr\tt\n4\t5\tm\te\n5\t6\tε\tp\n"
                  "6\t7\tε\tt\n7\t8\tε\tă\n8\t9\tε\tt\n9\t10\tε\to\n10\t11\tε\tr\n11\n"
                  "0\t12\tm\tm\n12\t13\tu\tu\n13\t14\ts\tz\n14\t15\ti\ti\n15\t16\tc\tc\n"
                  "16\t17\tε\tă\n17\n");
    lxs_set set = {0};
    mille_error e = {0};
    CHECK_INT(lxs_set_add(&set, dir, &e), 6); /* the directory: six files */
    lxs_merged m = {0};
    lxs_opts o = {NULL, 0, 0, 0};
    CHECK_INT(lxs_merge(&set, "ro-RO", &o, &m, &e), 0);
    CHECK_STR(lexicon_test_tr(&m.lx, "alarm"), "alarmă|deșteptător"); /* direct, then Apertium */
    CHECK_STR(lexicon_test_tr(&m.lx, "music"), "muzică");
    CHECK_STR(lexicon_test_tr(&m.lx, "song"), "cântec|melodie"); /* two pivots agree on cântec */
    CHECK_STR(lexicon_test_tr(&m.lx, "weather"), "timp|vreme"); /* single pivots, in source order */
    CHECK_INT(m.by_tier[LXS_DIRECT], 1);
    CHECK_INT(m.by_tier[LXS_APERTIUM], 2);
    CHECK_INT(m.by_tier[LXS_PIVOT2], 1);
    CHECK_INT(m.by_tier[LXS_PIVOT1], 3);
    lxs_merged_free(&m);
    /* unlabeled text: vreme is more frequent than timp; melodie never appears */
    static const char text[] = "vreme frumoasă\nvreme rea\ntimp\ncântec\n";
    lxs_opts ot = {text, strlen(text), 0, 0};
    CHECK_INT(lxs_merge(&set, "ro-RO", &ot, &m, &e), 0);
    CHECK_STR(lexicon_test_tr(&m.lx, "song"), "cântec");
    CHECK_STR(lexicon_test_tr(&m.lx, "weather"), "vreme|timp");
    CHECK_INT(m.dropped, 1);
    /* written atomically, read back by lexicon_load in the same order */
    snprintf(p, sizeof p, "%s/ro-RO.tsv", dir);
    CHECK_INT(lxs_write_tsv(&m, p, &e), 0);
    lexicon back = {0};
    CHECK_INT(lexicon_load(&back, p, NULL, &e), 0);
    CHECK_STR(lexicon_test_tr(&back, "weather"), "vreme|timp");
    CHECK_STR(lexicon_test_tr(&back, "alarm"), "alarmă|deșteptător");
    char tmp[64];
    CHECK(lxs_en_covered(&back, "alarms", 6, tmp, sizeof tmp));
    CHECK(lxs_en_covered(&back, "song's", 6, tmp, sizeof tmp));
    CHECK(!lxs_en_covered(&back, "jazz", 4, tmp, sizeof tmp));
    lexicon_free(&back);
    lxs_merged_free(&m);
    /* an unknown file name and a broken source are errors naming the file */
    snprintf(p, sizeof p, "%s/notes.csv", dir);
    write_file(p, "x");
    CHECK_INT(lxs_set_add(&set, p, &e), MILLE_EINVAL);
    CHECK(strstr(e.msg, "notes.csv") != NULL);
    snprintf(p, sizeof p, "%s/spa-ita.att", dir);
    write_file(p, "0\t1\ta\n");
    CHECK_INT(lxs_set_add(&set, p, &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "spa-ita.att:1: expected") != NULL);
    CHECK_INT(lxs_merge(&set, "xx-XX", &o, &m, &e), MILLE_EINVAL);
    lxs_merged_free(&m);
    lxs_set_free(&set);
    const char *names[] = {"eng-ron.tsv", "eng-spa.tsv", "spa-ron.tsv",
                           "eng-ita.tsv", "ita-ron.tsv", "eng-ron.att",
                           "ro-RO.tsv",   "notes.csv",   "spa-ita.att"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* CLDR through ICU: French weekdays, relative days and spelled numbers. */
TEST(sources_cldr)
{
    lxs_set set = {0};
    lxs_merged m = {0};
    mille_error e = {0};
    lxs_opts o = {NULL, 0, 1, 0};
    CHECK_INT(lxs_merge(&set, "fr-FR", &o, &m, &e), 0);
    CHECK_STR(lexicon_test_tr(&m.lx, "monday"), "lundi");
    CHECK_STR(lexicon_test_tr(&m.lx, "tomorrow"), "demain");
    CHECK_STR(lexicon_test_tr(&m.lx, "next week"), "la semaine prochaine");
    CHECK_STR(lexicon_test_tr(&m.lx, "five"), "cinq");
    CHECK_STR(lexicon_test_tr(&m.lx, "january"), "janvier");
    lxs_merged_free(&m);
    /* every MASSIVE locale gets some */
    const char *locs[] = {"am-ET", "km-KH", "ja-JP", "sw-KE", "tl-PH", "zh-TW"};
    for (size_t i = 0; i < sizeof locs / sizeof locs[0]; i++) {
        CHECK_INT(lxs_merge(&set, locs[i], &o, &m, &e), 0);
        if (lexicon_n_keys(&m.lx) < 10)
            fprintf(stderr, "%s: %zu CLDR keys\n", locs[i], lexicon_n_keys(&m.lx));
        CHECK(lexicon_n_keys(&m.lx) >= 10);
        lxs_merged_free(&m);
    }
}
