/* test_slu.c - SLURP's SLU-F1 (src/data/slu.c) on cases worked out by hand in the comments;
 * tolerance 1e-9 (only rounding). */
#include <string.h>

#include "core.h"
#include "harness.h"
#include "slu.h"

#define TOL 1e-9

static slu_entity ent(const char *type, const char *value)
{
    slu_entity e = {type, value, strlen(type), strlen(value)};
    return e;
}

TEST(slu_distances)
{
    /* "am" -> "a m": one substitution, one insertion over one gold word: 2 (WER above 1) */
    CHECK_NEAR(slu_word_distance("am", 2, "a m", 3), 2.0, TOL);
    CHECK_NEAR(slu_word_distance("seven am", 8, "  seven   am ", 13), 0.0, TOL);
    CHECK_NEAR(slu_word_distance("", 0, "", 0), 0.0, TOL);
    CHECK_NEAR(slu_word_distance("", 0, "x", 1), 1.0, TOL);
    /* "seven am" (8) -> "seven a m" (9): one insertion / 9 */
    CHECK_NEAR(slu_char_distance("seven am", 8, "seven a m", 9), 1.0 / 9, TOL);
    /* code points, not bytes: "straße" (6) -> "strasse" (7): ß->s, +s = 2 / 7 */
    CHECK_NEAR(slu_char_distance("stra\xc3\x9f"
                                 "e",
                                 7, "strasse", 7),
               2.0 / 7, TOL);
    CHECK_NEAR(slu_char_distance("", 0, "", 0), 0.0, TOL);
    CHECK_NEAR(slu_char_distance("abc", 3, "", 0), 1.0, TOL);
    /* an invalid byte is one unit that matches nothing valid: "a\xff" vs "ab" = 1 / 2 */
    CHECK_NEAR(slu_char_distance("a\xff", 2, "ab", 2), 0.5, TOL);
}

TEST(slu_near_miss_gets_partial_credit)
{
    slu_acc a = {0};
    slu_entity g[] = {ent("time", "seven am")}, p[] = {ent("time", "seven a m")};
    CHECK_INT(slu_add(&a, g, 1, p, 1), 0);
    slu_metrics m = slu_metrics_of(&a);
    /* span: 0 tp, 1 fp, 1 fn -> 0 */
    CHECK_NEAR(m.span.f1, 0, TOL);
    /* word: d = 2/2 = 1: tp 1, fp 1, fn 1 -> P = R = F1 = 50 */
    CHECK_NEAR(m.word.f1, 50, TOL);
    /* char: d = 1/9: P = R = 1 / (1 + 1/9) = 90 */
    CHECK_NEAR(m.chr.f1, 90, TOL);
    /* SLU: tp 2, fp = fn = 1 + 1/9 = 10/9: P = R = 2 / (28/9) = 18/28 */
    CHECK_NEAR(m.slu.f1, 100.0 * 18 / 28, TOL);
    CHECK_INT(m.n, 1);

    /* an exact prediction added to the same accumulator: every count grows by tp 1 */
    slu_entity g2[] = {ent("date", "tomorrow")};
    CHECK_INT(slu_add(&a, g2, 1, g2, 1), 0);
    m = slu_metrics_of(&a);
    CHECK_NEAR(m.span.f1, 50, TOL);           /* tp 1 fp 1 fn 1 */
    CHECK_NEAR(m.word.p, 100.0 * 2 / 3, TOL); /* tp 2 fp 1 */
    CHECK_NEAR(m.chr.r, 100.0 * 2 / (2 + 1.0 / 9), TOL);
}

TEST(slu_wrong_type_and_misses)
{
    slu_acc a = {0};
    /* the right value under the wrong type: fp 1 and fn 1 everywhere */
    slu_entity g[] = {ent("date", "friday")}, p[] = {ent("time", "friday")};
    CHECK_INT(slu_add(&a, g, 1, p, 1), 0);
    CHECK_NEAR(a.word.tp, 0, TOL);
    CHECK_NEAR(a.word.fp, 1, TOL);
    CHECK_NEAR(a.chr.fn, 1, TOL);
    slu_metrics m = slu_metrics_of(&a);
    CHECK_NEAR(m.slu.f1, 0, TOL);
    CHECK_NEAR(m.slu.p, 0, TOL);
    /* nothing on either side: counted utterance, no counts */
    CHECK_INT(slu_add(&a, NULL, 0, NULL, 0), 0);
    CHECK_INT(a.n, 2);
    CHECK_NEAR(a.span.fp + a.span.fn, 2, TOL);
    /* too many entities: refused, accumulator unchanged */
    static slu_entity many[SLU_MAX_ENTITIES + 1];
    for (size_t i = 0; i <= SLU_MAX_ENTITIES; i++) many[i] = ent("x", "y");
    CHECK_INT(slu_add(&a, many, SLU_MAX_ENTITIES + 1, NULL, 0), MILLE_ENOMEM);
    CHECK_INT(a.n, 2);
}

TEST(slu_closest_gold_of_the_type)
{
    slu_acc a = {0};
    /* pred "londen" against gold place "paris" and "london":
     * char: paris 6/6 = 1, london 1/6 -> london; tp 1, fp 1/6, fn 1/6 + 1 (paris left)
     *   P = 6/7, R = 6/13, F1 = 2 (36/91) / (120/91) = 0.6
     * word: both at 1 (one substitution / one word): the first, paris; tp 1, fp 1, fn 2
     *   P = 1/2, R = 1/3, F1 = 0.4 */
    slu_entity g[] = {ent("place", "paris"), ent("place", "london")},
               p[] = {ent("place", "londen")};
    CHECK_INT(slu_add(&a, g, 2, p, 1), 0);
    slu_metrics m = slu_metrics_of(&a);
    CHECK_NEAR(m.chr.f1, 60, TOL);
    CHECK_NEAR(m.word.f1, 40, TOL);
    CHECK_NEAR(m.chr.p, 100.0 * 6 / 7, TOL);
    /* SLU: tp 2, fp 1 + 1/6, fn 2 + 7/6: P = 2 / (19/6) = 12/19, R = 2 / (31/6) = 12/31 */
    double P = 12.0 / 19, R = 12.0 / 31;
    CHECK_NEAR(m.slu.f1, 100 * 2 * P * R / (P + R), TOL);
    /* span F1 is a multiset match: two identical gold entities, one predicted */
    slu_acc b = {0};
    slu_entity g2[] = {ent("x", "a"), ent("x", "a")}, p2[] = {ent("x", "a")};
    CHECK_INT(slu_add(&b, g2, 2, p2, 1), 0);
    CHECK_NEAR(b.span.tp, 1, TOL);
    CHECK_NEAR(b.span.fn, 1, TOL);
}

TEST(slu_parse_annot)
{
    slu_entity e[4];
    const char *s = "wake me up at [time : seven am] [date : tomorrow] please";
    CHECK_INT(slu_parse_annot(s, strlen(s), e, 4), 2);
    CHECK(e[0].type_len == 4 && memcmp(e[0].type, "time", 4) == 0);
    CHECK(e[0].value_len == 8 && memcmp(e[0].value, "seven am", 8) == 0);
    CHECK(e[1].value_len == 8 && memcmp(e[1].value, "tomorrow", 8) == 0);
    CHECK_INT(slu_parse_annot("no slots", 8, e, 4), 0);
    CHECK_INT(slu_parse_annot("[a : 1] [b : 2] [c : 3]", 23, e, 2), 3); /* count beyond cap */
    CHECK_INT(slu_parse_annot("[time seven]", 12, e, 4), MILLE_EANNOT);
    CHECK_INT(slu_parse_annot("a ] b", 5, e, 4), MILLE_EANNOT);
    CHECK_INT(slu_parse_annot("[time : x", 9, e, 4), MILLE_EANNOT);
    CHECK_INT(slu_parse_annot("[t : [u : x]]", 13, e, 4), MILLE_EANNOT);
    CHECK_INT(slu_parse_annot("[ : x]", 6, e, 4), MILLE_EANNOT);
}
