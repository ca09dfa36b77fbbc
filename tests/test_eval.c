/* test_eval.c - MASSIVE metrics on hand-worked cases (values computed by hand in the comments;
 * tolerance 1e-9 percent, i.e. only rounding). */
#include <string.h>

#include "eval.h"
#include "harness.h"

#define TOL    1e-9
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Label ids used below: 0 Other, 1 time, 2 date, 3 place. */

TEST(eval_record_spans)
{
    eval_counts c = {0};
    /* gold time time Other date: spans (time,0,2) (date,3,4); pred time Other Other date:
     * spans (time,0,1) (date,3,4) -> 2 gold, 2 pred, 1 ok; not exact */
    const uint32_t g1[] = {1, 1, 0, 2}, p1[] = {1, 0, 0, 2};
    eval_count_record(&c, 5, 5, g1, LEN(g1), p1, LEN(p1));
    CHECK_INT(c.gold_spans, 2);
    CHECK_INT(c.pred_spans, 2);
    CHECK_INT(c.ok_spans, 1);
    CHECK_INT(c.intent_ok, 1);
    CHECK_INT(c.exact_ok, 0);

    /* adjacent words of one type are ONE span (convert_to_bio gives B-time I-time), so a
     * prediction cutting it in two types has 2 spans and none right */
    eval_counts d = {0};
    const uint32_t g2[] = {1, 1}, p2[] = {1, 2};
    eval_count_record(&d, 0, 0, g2, 2, p2, 2);
    CHECK_INT(d.gold_spans, 1);
    CHECK_INT(d.pred_spans, 2);
    CHECK_INT(d.ok_spans, 0);
    eval_metrics m = eval_metrics_of(&d);
    CHECK_NEAR(m.slot_precision, 0, TOL);
    CHECK_NEAR(m.slot_f1, 0, TOL);

    /* a span ending where gold's goes on is wrong, and so is one going past gold's end */
    eval_counts e = {0};
    const uint32_t g3[] = {0, 3, 3, 3, 0}, p3[] = {0, 3, 3, 0, 0}, p4[] = {0, 3, 3, 3, 3};
    eval_count_record(&e, 0, 0, g3, 5, p3, 5);
    eval_count_record(&e, 0, 0, g3, 5, p4, 5);
    CHECK_INT(e.ok_spans, 0);
    eval_count_record(&e, 0, 0, g3, 5, g3, 5);
    CHECK_INT(e.ok_spans, 1);
    CHECK_INT(e.exact_ok, 1);
}

TEST(eval_cut_and_pad)
{
    eval_counts c = {0};
    /* pred longer than gold: cut to gold length -> equal -> exact */
    const uint32_t g[] = {0, 3, 3}, p_long[] = {0, 3, 3, 3, 1};
    eval_count_record(&c, 7, 7, g, 3, p_long, 5);
    CHECK_INT(c.pred_spans, 1);
    CHECK_INT(c.ok_spans, 1);
    CHECK_INT(c.exact_ok, 1);
    /* pred shorter: padded with Other; gold date Other, pred date -> exact */
    eval_counts d = {0};
    const uint32_t g2[] = {2, 0}, p_short[] = {2};
    eval_count_record(&d, 1, 1, g2, 2, p_short, 1);
    CHECK_INT(d.exact_ok, 1);
    CHECK_INT(d.ok_spans, 1);
    /* no prediction at all (NULL, 0) = all Other */
    eval_counts e = {0};
    eval_count_record(&e, 1, EVAL_MISSING, g2, 2, NULL, 0);
    CHECK_INT(e.pred_spans, 0);
    CHECK_INT(e.gold_spans, 1);
    CHECK_INT(e.intent_ok, 0);
    /* a missing intent never matches, not even an intent id equal to EVAL_MISSING */
    eval_count_record(&e, EVAL_MISSING, EVAL_MISSING, NULL, 0, NULL, 0);
    CHECK_INT(e.intent_ok, 0);
}

TEST(eval_exact_needs_both)
{
    eval_counts c = {0};
    const uint32_t g[] = {0, 1}, wrong[] = {0, 2};
    eval_count_record(&c, 3, 4, g, 2, g, 2);     /* labels right, intent wrong */
    eval_count_record(&c, 3, 3, g, 2, wrong, 2); /* intent right, labels wrong */
    eval_count_record(&c, 3, 3, g, 2, g, 2);     /* both right */
    CHECK_INT(c.n, 3);
    CHECK_INT(c.intent_ok, 2);
    CHECK_INT(c.exact_ok, 1);
    eval_metrics m = eval_metrics_of(&c);
    CHECK_NEAR(m.exact_match, 100.0 / 3, TOL);
    CHECK_NEAR(m.intent_accuracy, 200.0 / 3, TOL);
    /* spans: gold 3, pred 3, ok 2 -> F1 = 2*2/(3+3) */
    CHECK_NEAR(m.slot_f1, 400.0 / 6, TOL);
}

TEST(eval_all_other)
{
    /* nothing to count: seqeval returns 0, and so do we (docs/eval.md) */
    eval_counts c = {0};
    const uint32_t g[] = {0, 0, 0};
    eval_count_record(&c, 0, 0, g, 3, NULL, 0);
    eval_metrics m = eval_metrics_of(&c);
    CHECK_NEAR(m.exact_match, 100, TOL);
    CHECK_NEAR(m.slot_f1, 0, TOL);
    CHECK_NEAR(m.slot_precision, 0, TOL);
    CHECK_NEAR(m.slot_recall, 0, TOL);
}

TEST(eval_locales_average)
{
    eval_acc a = {0};
    /* locale 0 (4 records): gold spans 2+1+1+0, pred 2+1+1+0, ok 1+1+1 -> F1 75;
     * intent 3/4 -> 75; exact: records 2 and 4 -> 50 */
    const uint32_t g1[] = {1, 1, 0, 2}, p1[] = {1, 0, 0, 2};
    const uint32_t g2[] = {0, 3, 3}, p2[] = {0, 3, 3, 3, 1};
    const uint32_t g3[] = {2, 0}, p3[] = {2};
    const uint32_t g4[] = {0, 0, 0};
    CHECK_INT(eval_add(&a, 0, 1, 1, g1, 4, p1, 4), 0);
    CHECK_INT(eval_add(&a, 0, 2, 2, g2, 3, p2, 5), 0);
    CHECK_INT(eval_add(&a, 0, 1, 2, g3, 2, p3, 1), 0);
    CHECK_INT(eval_add(&a, 0, 4, 4, g4, 3, NULL, 0), 0);
    /* locale 2 (locale 1 has no record and is not averaged): gold time time, pred time date,
     * intent missing -> all 0 */
    const uint32_t g5[] = {1, 1}, p5[] = {1, 2};
    CHECK_INT(eval_add(&a, 2, 1, EVAL_MISSING, g5, 2, p5, 2), 0);
    eval_metrics m0 = eval_locale_metrics(&a, 0), m1 = eval_locale_metrics(&a, 1);
    CHECK_INT(m0.n, 4);
    CHECK_NEAR(m0.slot_f1, 75, TOL);
    CHECK_NEAR(m0.intent_accuracy, 75, TOL);
    CHECK_NEAR(m0.exact_match, 50, TOL);
    CHECK_INT(m1.n, 0);
    eval_metrics avg = eval_average(&a);
    CHECK_INT(avg.n, 5);
    CHECK_INT(avg.n_locales, 2);
    CHECK_NEAR(avg.exact_match, 25, TOL);
    CHECK_NEAR(avg.intent_accuracy, 37.5, TOL);
    CHECK_NEAR(avg.slot_f1, 37.5, TOL);

    /* precision and recall differ: gold date Other place Other, pred date only:
     * P = 1/1, R = 1/2, F1 = 2PR/(P+R) = 2/3 */
    eval_acc b = {0};
    const uint32_t g6[] = {2, 0, 3, 0}, p6[] = {2, 0, 0, 0};
    CHECK_INT(eval_add(&b, 0, 0, 0, g6, 4, p6, 4), 0);
    eval_metrics mb = eval_locale_metrics(&b, 0);
    CHECK_NEAR(mb.slot_precision, 100, TOL);
    CHECK_NEAR(mb.slot_recall, 50, TOL);
    CHECK_NEAR(mb.slot_f1, 200.0 / 3, TOL);

    /* merging accumulators = adding the records to one */
    CHECK_INT(eval_merge(&b, &a), 0);
    CHECK_INT(b.loc[0].n, 5);
    CHECK_INT(b.loc[2].n, 1);
    eval_acc_reset(&b);
    CHECK_INT(b.loc[0].n, 0);
    eval_acc_free(&a);
    eval_acc_free(&b);
    eval_acc_free(NULL);
}

TEST(eval_map_names)
{
    strtab from = {0}, to = {0};
    strtab_intern(&to, "Other", 5);
    strtab_intern(&to, "time", 4);
    strtab_intern(&to, "date", 4);
    strtab_intern(&from, "Other", 5);
    strtab_intern(&from, "date", 4);
    strtab_intern(&from, "bogus", 5);
    strtab_intern(&from, "bogus2", 6);
    uint32_t map[4];
    eval_map_names(&from, &to, map);
    CHECK_INT(map[0], 0);
    CHECK_INT(map[1], 2);
    CHECK_INT(map[2], 3 + 2); /* fresh: to->n + i, distinct and never a gold id */
    CHECK_INT(map[3], 3 + 3);
    strtab_free(&from);
    strtab_free(&to);
}

/* ---- eval_sets on small data sets -------------------------------------------------------- */

static void add_lines(data_set *ds, int mode, const char *const *lines, size_t n)
{
    data_opts o = data_default_opts();
    o.mode = mode;
    mille_error e = {0};
    int64_t src = strtab_intern(&ds->srcs, "test.jsonl", 10);
    CHECK(src >= 0);
    for (size_t i = 0; i < n; i++) {
        int rc =
            data_add_line(ds, lines[i], strlen(lines[i]), (uint32_t)src, (uint32_t)i + 1, &o, &e);
        if (rc != 1) fprintf(stderr, "line %zu: %s\n", i + 1, e.msg);
        CHECK_INT(rc, 1);
    }
}

typedef struct notes {
    int n[EVAL_NOTE_COUNT];
    char last_id[EVAL_NOTE_COUNT][32];
} notes;

static void note_cb(void *ud, int kind, const data_set *ds, const data_record *r, const char *msg)
{
    (void)msg;
    notes *x = ud;
    x->n[kind]++;
    snprintf(x->last_id[kind], sizeof x->last_id[kind], "%s", data_str(ds, r->id));
}

TEST(eval_sets_en)
{
    static const char *const gold_lines[] = {
        /* two adjacent brackets of one type: one span "nine am" */
        "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"alarm_set\",\"utt\":\"wake me up at nine "
        "am\","
        "\"annot_utt\":\"wake me up at [time : nine] [time : am]\"}",
        "{\"id\":\"2\",\"locale\":\"en-US\",\"intent\":\"weather_query\",\"utt\":\"weather in "
        "paris today\","
        "\"annot_utt\":\"weather in [place_name : paris] [date : today]\"}",
        "{\"id\":\"3\",\"locale\":\"en-US\",\"intent\":\"general_joke\",\"utt\":\"tell me a joke\","
        "\"annot_utt\":\"tell me a joke\"}",
    };
    static const char *const pred_lines[] = {
        /* id 1: one bracket covering both words = the same span: exact */
        "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"alarm_set\","
        "\"annot_utt\":\"wake me up at [time : nine am]\"}",
        /* id 2: text differs (one word shorter): compared by position: weather in paris ->
         * labels Other Other place_name, padded with Other -> place ok, date missed */
        "{\"id\":\"2\",\"locale\":\"en-US\",\"intent\":\"weather_query\","
        "\"annot_utt\":\"weather in [place_name : paris]\"}",
        /* a duplicate of id 2 (ignored), an unknown record, and id 3 missing */
        "{\"id\":\"2\",\"locale\":\"en-US\",\"intent\":\"x\",\"annot_utt\":\"a b c d\"}",
        "{\"id\":\"9\",\"locale\":\"en-US\",\"intent\":\"x\",\"annot_utt\":\"[bogus : hello]\"}",
    };
    data_set gold = {0}, pred = {0};
    add_lines(&gold, DATA_GOLD, gold_lines, LEN(gold_lines));
    add_lines(&pred, DATA_PRED, pred_lines, LEN(pred_lines));
    eval_report rep = {0};
    notes x = {{0}, {{0}}};
    mille_error e = {0};
    CHECK_INT(eval_sets(&gold, &pred, &rep, note_cb, &x, &e), 0);
    CHECK_INT(x.n[EVAL_NOTE_MISSING], 1);
    CHECK_STR(x.last_id[EVAL_NOTE_MISSING], "3");
    CHECK_INT(x.n[EVAL_NOTE_EXTRA], 1);
    CHECK_STR(x.last_id[EVAL_NOTE_EXTRA], "9");
    CHECK_INT(x.n[EVAL_NOTE_DUPLICATE], 1);
    CHECK_INT(x.n[EVAL_NOTE_TEXT], 1);
    CHECK_STR(x.last_id[EVAL_NOTE_TEXT], "2");
    CHECK_INT(rep.notes[EVAL_NOTE_TEXT], 1);
    /* spans: gold 1 + 2 + 0 = 3, pred 1 + 1 + 0 = 2, ok 1 + 1 = 2: F1 = 4/5 = 80;
     * intent 2/3; exact: id 1 only -> 1/3 */
    eval_metrics m = eval_average(&rep.acc);
    CHECK_INT(m.n, 3);
    CHECK_INT(m.n_locales, 1);
    CHECK_NEAR(m.slot_f1, 80, TOL);
    CHECK_NEAR(m.intent_accuracy, 200.0 / 3, TOL);
    CHECK_NEAR(m.exact_match, 100.0 / 3, TOL);
    eval_report_free(&rep);
    data_free(&gold);
    data_free(&pred);
}

TEST(eval_sets_ja_code_switch)
{
    /* "b. b. c." holds spaces: three ASCII words, then one word per character. mille closes
     * the slot at ']' after the ASCII word (the official code would not). */
    static const char *const gold_lines[] = {
        "{\"id\":\"104\",\"locale\":\"ja-JP\",\"intent\":\"news_query\","
        "\"utt\":\"b. b. c. のニュースを教えて\","
        "\"annot_utt\":\"[media_type : b. b. c.] のニュースを教えて\"}",
        "{\"id\":\"1\",\"locale\":\"ja-JP\",\"intent\":\"alarm_set\",\"utt\":"
        "\"金曜日の午前九時に起こしてください\","
        "\"annot_utt\":\"[date : 金曜日] の [time : 午前九時] に起こしてください\"}",
    };
    static const char *const pred_lines[] = {
        /* slot one ASCII word short: wrong span */
        "{\"id\":\"104\",\"locale\":\"ja-JP\",\"intent\":\"news_query\","
        "\"annot_utt\":\"[media_type : b. b.] c. のニュースを教えて\"}",
        /* date right, time one character short, brackets placed without the gold spaces:
         * the text is the same, so it is parsed against the gold utt */
        "{\"id\":\"1\",\"locale\":\"ja-JP\",\"intent\":\"alarm_set\","
        "\"annot_utt\":\"[date : 金曜日]の[time : 午前九]時に起こしてください\"}",
    };
    data_set gold = {0}, pred = {0};
    add_lines(&gold, DATA_GOLD, gold_lines, LEN(gold_lines));
    add_lines(&pred, DATA_PRED, pred_lines, LEN(pred_lines));
    /* gold words of 104: b. b. c. の ニ ュ ー ス を 教 え て = 12, the slot on the first 3 */
    const data_record *r = &gold.recs[0];
    CHECK_INT(r->n_words, 12);
    CHECK_INT(gold.words[r->word0 + 2].label != DATA_OTHER, 1);
    CHECK_INT(gold.words[r->word0 + 3].label, DATA_OTHER);
    eval_report rep = {0};
    notes x = {{0}, {{0}}};
    CHECK_INT(eval_sets(&gold, &pred, &rep, note_cb, &x, NULL), 0);
    CHECK_INT(x.n[EVAL_NOTE_TEXT], 0);
    CHECK_INT(x.n[EVAL_NOTE_MISSING], 0);
    /* gold spans 1 + 2, pred 1 + 2, ok 0 + 1 -> F1 = 2/6; intent 2/2; exact 0 */
    eval_metrics m = eval_average(&rep.acc);
    CHECK_NEAR(m.slot_f1, 100.0 / 3, TOL);
    CHECK_NEAR(m.intent_accuracy, 100, TOL);
    CHECK_NEAR(m.exact_match, 0, TOL);
    eval_report_free(&rep);
    data_free(&gold);
    data_free(&pred);
}
