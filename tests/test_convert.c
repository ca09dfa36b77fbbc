/* test_convert.c - src/data/convert*.c: Rasa annotations parsed into text and byte spans
 * (both syntaxes, multibyte text, plain brackets), Rasa YAML and Snips JSON read and written
 * back to the same examples, MASSIVE annot_utt written for whitespace and character-split
 * locales, and malformed files rejected with file:line(:column). The CLI round trips on the
 * bundled sample are in cli_test.sh. */
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "harness.h"

static int n_notes;
static void count_note(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
    n_notes++;
}

static void set_init(conv_set *cs)
{
    memset(cs, 0, sizeof *cs);
    cs->on_note = count_note;
}

/* the span k of example i as "name=value" */
static const char *span_str(const conv_set *cs, size_t i, size_t k, char *buf, size_t cap)
{
    const conv_example *e = &cs->ex[i];
    const conv_span *s = &cs->spans[e->span0 + k];
    snprintf(buf, cap, "%s=%.*s", conv_str(cs, s->name), (int)(s->end - s->start),
             conv_str(cs, e->text) + s->start);
    return buf;
}

TEST(convert_rasa_annotations)
{
    conv_set cs;
    set_init(&cs);
    mille_error e;
    char b[128];
    const char *line = "réveille-moi à [cinq heures](time) [demain]{\"entity\": \"date\"} [x] (y)";
    CHECK_INT(conv_rasa_example(&cs, "alarm_set", 9, line, strlen(line), "f", 3, 7, &e), 0);
    CHECK_INT(cs.n, 1);
    CHECK_STR(conv_str(&cs, cs.ex[0].text), "réveille-moi à cinq heures demain [x] (y)");
    CHECK_INT(cs.ex[0].n_spans, 2);
    CHECK_STR(span_str(&cs, 0, 0, b, sizeof b), "time=cinq heures");
    CHECK_STR(span_str(&cs, 0, 1, b, sizeof b), "date=demain");
    /* byte offsets: "réveille-moi à " is 15 characters, 17 bytes */
    CHECK_INT(cs.spans[0].start, 17);

    /* a synonym is dropped with a note and the example kept; strict makes it an error */
    n_notes = 0;
    const char *syn = "at [five](time:05:00)";
    CHECK_INT(conv_rasa_example(&cs, "a", 1, syn, strlen(syn), "f", 1, 0, &e), 0);
    CHECK_INT(cs.n, 2);
    CHECK_INT(n_notes, 1);
    CHECK_INT(cs.n_lossy, 1);
    cs.strict = 1;
    CHECK_INT(conv_rasa_example(&cs, "a", 1, syn, strlen(syn), "f", 1, 5, &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "f:1:8:") != NULL);

    /* malformed: the column is the '[' of the annotation, in characters */
    const char *bad = "à [x](y";
    CHECK_INT(conv_rasa_example(&cs, "a", 1, bad, strlen(bad), "nlu.yml", 12, 7, &e),
              MILLE_EFORMAT);
    CHECK(strstr(e.msg, "nlu.yml:12:9:") != NULL);
    const char *bad2 = "[x]{\"value\": \"y\"}";
    CHECK_INT(conv_rasa_example(&cs, "a", 1, bad2, strlen(bad2), "n", 2, 0, &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "n:2:") != NULL);
    conv_free(&cs);
}

static const char *const YAML_IN = "version: \"3.1\"\n"
                                   "nlu:\n"
                                   "- intent: alarm_set\n"
                                   "  examples: |\n"
                                   "    - wake me up at [five am](time)\n"
                                   "    - 今週は[午前五時](time)に起こして\n"
                                   "- intent: weather_query\n"
                                   "  examples:\n"
                                   "  - text: weather in [paris](place_name)\n"
                                   "- lookup: city\n"
                                   "  examples: |\n"
                                   "    - paris\n";

TEST(convert_rasa_yaml_round_trip)
{
    conv_set a, b;
    set_init(&a);
    set_init(&b);
    mille_error e;
    conv_buf out = {0};
    n_notes = 0;
    CHECK_INT(conv_read_rasa(&a, "in.yml", YAML_IN, strlen(YAML_IN), &e), 0);
    CHECK_INT(a.n, 3);
    CHECK_INT(a.n_skipped, 1); /* the lookup */
    CHECK_INT(a.ex[1].line, 6);
    CHECK_STR(conv_str(&a, a.ex[2].intent), "weather_query");
    CHECK_INT(conv_write_rasa(&a, &out, &e), 0);
    CHECK_INT(conv_read_rasa(&b, "out.yml", out.p, out.len, &e), 0);
    CHECK_INT(b.n, a.n);
    for (size_t i = 0; i < a.n && i < b.n; i++) {
        CHECK_STR(conv_str(&b, b.ex[i].text), conv_str(&a, a.ex[i].text));
        CHECK_STR(conv_str(&b, b.ex[i].intent), conv_str(&a, a.ex[i].intent));
        CHECK_INT(b.ex[i].n_spans, a.ex[i].n_spans);
        for (size_t k = 0; k < a.ex[i].n_spans && k < b.ex[i].n_spans; k++) {
            CHECK_INT(b.spans[b.ex[i].span0 + k].start, a.spans[a.ex[i].span0 + k].start);
            CHECK_INT(b.spans[b.ex[i].span0 + k].end, a.spans[a.ex[i].span0 + k].end);
        }
    }
    /* a text whose brackets would read back as an annotation is not written */
    const char *tricky = "see [x](y) literally";
    CHECK_INT(conv_add(&b, "a", 1, NULL, 0, tricky, strlen(tricky), NULL, 0, "t", 1, &e), 0);
    size_t skipped = b.n_skipped;
    out.len = 0;
    CHECK_INT(conv_write_rasa(&b, &out, &e), 0);
    CHECK_INT(b.n_skipped, skipped + 1);
    CHECK(strstr(out.p, "literally") == NULL);
    free(out.p);
    conv_free(&a);
    conv_free(&b);
}

TEST(convert_snips_round_trip)
{
    const char *js = "{\"language\": \"en\", \"intents\": {\"alarm_set\": {\"utterances\": ["
                     "{\"data\": [{\"text\": \"wake me at \"}, {\"text\": \"five\", \"entity\": "
                     "\"snips/datetime\", \"slot_name\": \"time\"}]},"
                     "{\"data\": [{\"text\": \"alarm\"}]}]}}, \"entities\": {}}";
    conv_set a, b;
    set_init(&a);
    set_init(&b);
    mille_error e;
    conv_buf out = {0};
    char buf[64];
    CHECK_INT(conv_read_snips(&a, "s.json", js, strlen(js), &e), 0);
    CHECK_INT(a.n, 2);
    CHECK_STR(conv_str(&a, a.ex[0].text), "wake me at five");
    CHECK_STR(span_str(&a, 0, 0, buf, sizeof buf), "time=five");
    CHECK_INT(conv_write_snips(&a, "en-US", &out, &e), 0);
    CHECK(strstr(out.p, "\"language\": \"en\"") != NULL);
    CHECK_INT(conv_read_snips(&b, "o.json", out.p, out.len, &e), 0);
    CHECK_INT(b.n, 2);
    CHECK_STR(conv_str(&b, b.ex[0].text), "wake me at five");
    CHECK_STR(span_str(&b, 0, 0, buf, sizeof buf), "time=five");
    free(out.p);
    conv_free(&a);
    conv_free(&b);

    /* malformed: syntax errors with line and column, structure with the JSON path */
    set_init(&a);
    const char *syn = "{\"intents\":\n {\"a\": [}}";
    CHECK_INT(conv_read_snips(&a, "bad.json", syn, strlen(syn), &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "bad.json:2:") != NULL);
    const char *noslot = "{\"intents\": {\"a\": {\"utterances\": [{\"data\": [{\"text\": \"x\", "
                         "\"entity\": \"e\"}]}]}}}";
    CHECK_INT(conv_read_snips(&a, "b.json", noslot, strlen(noslot), &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "intents.\"a\".utterances[0].data[0]") != NULL);
    conv_free(&a);
}

TEST(convert_massive_annot)
{
    conv_set cs;
    set_init(&cs);
    mille_error e;
    conv_buf out = {0};
    conv_span_in ja[] = {{0, 6, "date", 4}, {9, 21, "time", 4}}; /* 今週 / 午前五時 */
    const char *jt = "今週は午前五時に起こして";
    CHECK_INT(conv_add(&cs, "alarm_set", 9, NULL, 0, jt, strlen(jt), ja, 2, "t", 1, &e), 0);
    CHECK_INT(conv_write_massive(&cs, "ja-JP", &out, &e), 0);
    CHECK(strstr(out.p, "\"annot_utt\":\"[date : 今週] は [time : 午前五時] に起こして\"") != NULL);
    CHECK(strstr(out.p, "\"scenario\":\"alarm\"") != NULL);
    conv_free(&cs);

    /* an entity that ends inside a word has no MASSIVE form: skipped with a note */
    set_init(&cs);
    n_notes = 0;
    out.len = 0;
    conv_span_in ny[] = {{0, 8, "place_name", 10}};
    const char *t = "new york's weather";
    CHECK_INT(conv_add(&cs, "weather_query", 13, NULL, 0, t, strlen(t), ny, 1, "t", 4, &e), 0);
    CHECK_INT(conv_write_massive(&cs, "en-US", &out, &e), 0);
    CHECK_INT(cs.n_skipped, 1);
    CHECK_INT(n_notes, 1);
    CHECK_INT(out.len, 0);
    cs.strict = 1;
    CHECK_INT(conv_write_massive(&cs, "en-US", &out, &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "t:4:") != NULL);
    free(out.p);
    conv_free(&cs);
}

TEST(convert_rasa_malformed_yaml)
{
    struct {
        const char *yaml, *want;
    } cases[] = {
        {"nlu:\n  - intent: a\n   examples: x\n", "y.yml:3:"},                     /* YAML syntax */
        {"nlu:\n- intent: a\n  examples: |\n    - ok\n    no dash\n", "y.yml:5:"}, /* line */
        {"nlu:\n- intent: a\n  examples: |\n    - [x](y\n", "y.yml:4:7:"}, /* ( not closed */
        {"nlu:\n- examples: |\n    - hi\n", "y.yml:2:3:"},                 /* no intent */
        {"nlu: 3\n", "y.yml:1:6:"},                                        /* not a list */
        {"stories: []\n", "no nlu:"},                                      /* no nlu */
        {"", "empty"},
        {"nlu:\n- &a\n  intent: x\n  examples: |\n    - hi\n- *a\n", "alias"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conv_set cs;
        set_init(&cs);
        mille_error e;
        memset(&e, 0, sizeof e);
        int rc = conv_read_rasa(&cs, "y.yml", cases[i].yaml, strlen(cases[i].yaml), &e);
        if (rc != MILLE_EFORMAT || !strstr(e.msg, cases[i].want)) {
            fprintf(stderr, "case %zu: rc %d, message \"%s\", wanted \"%s\"\n", i, rc, e.msg,
                    cases[i].want);
            harness_failed++;
        }
        conv_free(&cs);
    }
}
