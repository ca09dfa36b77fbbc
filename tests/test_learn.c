/* test_learn.c - self-learning (src/learn/): keys, the rewrite table and its file, the log
 * writer (rotation without loss, concurrent appends) and reader (malformed lines named as
 * FILE:LINE), the miner on hand-made logs with known answers (a fake model), and rewrites
 * through the public API. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "learn.h"
#include "mille.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static char *tmp_dir(void)
{
    static char d[64];
    snprintf(d, sizeof d, "/tmp/mille_test_learn_XXXXXX");
    return mkdtemp(d);
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

typedef struct fake_entry {
    const char *text, *intent;
    float conf;
    const char *slot, *value; /* one slot or none */
} fake_entry;

/* The fake model: a table of texts; anything else is "general_quirky" with no slots. */
static int fake_parse(void *ud, const char *text, size_t len, const char *locale, learn_interp *out)
{
    (void)locale;
    static const char *sl[1], *val[1];
    for (const fake_entry *e = ud; e->text; e++)
        if (strlen(e->text) == len && memcmp(e->text, text, len) == 0) {
            out->intent = e->intent;
            out->confidence = e->conf;
            out->n_slots = e->slot ? 1 : 0;
            sl[0] = e->slot;
            val[0] = e->value;
            out->slot = sl;
            out->value = val;
            return 0;
        }
    out->intent = "general_quirky";
    out->confidence = 0.3f;
    out->n_slots = 0;
    return 0;
}

static const fake_entry model[] = {
    {"play lady gaga's poker face", "music_query", 0.6f, "artist_name", "lady gaga"},
    {"play poker face by lady gaga", "play_music", 0.95f, "artist_name", "lady gaga"},
    {"kill the lamp", "iot_cleaning", 0.4f, NULL, NULL},
    {"lights off", "iot_hue_lightoff", 0.97f, NULL, NULL},
    {"what's the weather", "weather_query", 0.99f, NULL, NULL},
    {NULL, NULL, 0, NULL, NULL},
};

/* Append a turn as a JSON line. */
static void turn(char **buf, size_t *len, const char *session, const char *user, double t,
                 const char *text, const char *intent, const char *outcome)
{
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "{\"session\":\"%s\",\"user\":\"%s\",\"time\":%.3f,\"locale\":\"en-US\","
                     "\"text\":\"%s\",\"intent\":\"%s\",\"confidence\":0.5,\"slots\":[]%s%s%s}\n",
                     session, user, t, text, intent, outcome ? ",\"outcome\":\"" : "",
                     outcome ? outcome : "", outcome ? "\"" : "");
    *buf = realloc(*buf, *len + (size_t)n + 1);
    memcpy(*buf + *len, line, (size_t)n + 1);
    *len += (size_t)n;
}

/* Sessions of n_users users, each: source (defect) then rephrase (success) gap seconds
 * later, optionally one more unrelated turn. */
static void rephrase_log(char **buf, size_t *len, int n_users, int sessions_each, const char *src,
                         const char *tgt, double gap)
{
    char s[64], u[64];
    for (int k = 0; k < n_users; k++)
        for (int j = 0; j < sessions_each; j++) {
            snprintf(s, sizeof s, "s-%s-%d-%d", src, k, j);
            snprintf(u, sizeof u, "user%d", k);
            double t = 1e9 + 1000.0 * (k * 10 + j);
            turn(buf, len, s, u, t, src, "x", "defect");
            turn(buf, len, s, u, t + gap, tgt, "y", "success");
        }
}

static int mine(const char *buf, size_t len, learn_params *p, learn_rewrites *rw,
                learn_examples *ex, learn_stats *st)
{
    learn_turns ts = {0};
    mille_error e;
    int rc = learn_turns_parse(&ts, "log.jsonl", buf, len, NULL, NULL, &e);
    if (rc == 0) rc = learn_mine(&ts, p, fake_parse, (void *)model, rw, ex, st, &e);
    learn_turns_free(&ts);
    return rc;
}

/* ---- keys and the table ------------------------------------------------------------------ */

TEST(learn_key_normalizes)
{
    text_buf tb = {0};
    const char *k;
    size_t n;
    CHECK_INT(learn_key("  Play  Poker\tFACE?! ", 21, &tb, &k, &n, NULL), 0);
    CHECK_STR(k, "play poker face");
    CHECK_INT(learn_key("ＡＢＣ。", strlen("ＡＢＣ。"), &tb, &k, &n, NULL), 0);
    CHECK_STR(k, "abc");
    CHECK(learn_key("a\xff", 2, &tb, &k, &n, NULL) < 0);
    text_buf_free(&tb);
}

TEST(learn_rewrites_find_save_load)
{
    learn_rewrites rw = {0};
    text_buf tb = {0};
    mille_error e;
    CHECK_INT(learn_rewrites_add(&rw, "en-US", "Kill the lamp", 13, "lights off", 10, 3, 4, 0.9f,
                                 &tb, &e),
              0);
    CHECK_INT(learn_rewrites_add(&rw, "", "olly quiet", 10, "stop", 4, 5, 5, 0.8f, &tb, &e), 0);
    for (int i = 0; i < 200; i++) { /* grow the hash table */
        char s[32];
        snprintf(s, sizeof s, "source %d", i);
        CHECK_INT(learn_rewrites_add(&rw, "fr-FR", s, strlen(s), "t", 1, 2, 2, 0.7f, &tb, &e), 0);
    }
    const learn_rewrite *r = learn_rewrites_find(&rw, "KILL the   lamp.", 16, "en-US", &tb);
    CHECK(r != NULL);
    if (r) CHECK_STR(rw.st.buf + r->target, "lights off");
    CHECK(learn_rewrites_find(&rw, "kill the lamp", 13, "fr-FR", &tb) == NULL);
    CHECK(learn_rewrites_find(&rw, "kill the lamp", 13, NULL, &tb) != NULL);
    CHECK(learn_rewrites_find(&rw, "olly quiet", 10, "de-DE", &tb) != NULL);
    CHECK(learn_rewrites_find(&rw, "source 199", 10, "fr-FR", &tb) != NULL);
    CHECK(learn_rewrites_find(&rw, "kill the lamps", 14, "en-US", &tb) == NULL);
    char *d = tmp_dir(), path[256];
    snprintf(path, sizeof path, "%s/rw.jsonl", d);
    CHECK_INT(learn_rewrites_save(&rw, path, &e), 0);
    learn_rewrites back = {0};
    CHECK_INT(learn_rewrites_load(&back, path, &e), 0);
    CHECK_INT(back.n, rw.n);
    r = learn_rewrites_find(&back, "kill the lamp", 13, "en-US", &tb);
    CHECK(r && r->users == 3 && r->sessions == 4);
    /* a bad line refuses the table, naming FILE:LINE */
    FILE *f = fopen(path, "a");
    fputs("{\"source\":\"x\"}\n", f);
    fclose(f);
    learn_rewrites bad = {0};
    CHECK_INT(learn_rewrites_load(&bad, path, &e), MILLE_EFORMAT);
    char want[300];
    snprintf(want, sizeof want, "%s:%zu:", path, rw.n + 1);
    CHECK(strstr(e.msg, want) != NULL);
    learn_rewrites_free(&bad);
    learn_rewrites_free(&back);
    learn_rewrites_free(&rw);
    text_buf_free(&tb);
    rm_dir(d);
}

/* ---- log writer and reader --------------------------------------------------------------- */

TEST(learn_log_rotates_without_loss)
{
    char *d = tmp_dir();
    learn_log *lg;
    mille_error e;
    CHECK_INT(learn_log_open(d, 2000, &lg, &e), 0);
    learn_slot_in sl = {"time", 14, 21};
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char sess[32];
        snprintf(sess, sizeof sess, "s%d", i);
        learn_turn_in t = {sess, i % 2 ? "u1" : NULL, "en-US", 1e9 + i, "wake me up at five am",
                           21,   "alarm_set",         0.9,     &sl,     1,
                           i % 3};
        CHECK_INT(learn_log_write(lg, &t, &e), 0);
    }
    CHECK(lg->rotations > 10);
    learn_log_close(lg);
    /* read every file back: each turn exactly once */
    learn_turns ts = {0};
    DIR *dd = opendir(d);
    struct dirent *de;
    char p[512];
    while ((de = readdir(dd)))
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", d, de->d_name);
            CHECK_INT(learn_turns_load(&ts, p, NULL, NULL, &e), 0);
        }
    closedir(dd);
    CHECK_INT(ts.n, N);
    CHECK_INT(ts.bad, 0);
    int seen[N] = {0};
    for (size_t i = 0; i < ts.n; i++) {
        int k = (int)strtol(learn_str(&ts, ts.t[i].session) + 1, NULL, 10);
        if (k >= 0 && k < N) seen[k]++;
        CHECK_INT(ts.t[i].n_slots, 1);
        CHECK_STR(learn_str(&ts, ts.sl[ts.t[i].slot0].value), "five am");
    }
    for (int k = 0; k < N; k++) CHECK_INT(seen[k], 1);
    learn_turns_free(&ts);
    rm_dir(d);
}

static int n_bad;
static char last_bad[512];
static void count_bad(void *ud, const char *msg)
{
    (void)ud;
    n_bad++;
    snprintf(last_bad, sizeof last_bad, "%s", msg);
}

TEST(learn_log_reader_skips_malformed_lines)
{
    static const char log[] =
        "{\"session\":\"a\",\"time\":1,\"text\":\"hi\",\"intent\":\"x\",\"confidence\":0.5}\n"
        "not json\n"
        "{\"session\":\"a\",\"time\":2,\"text\":\"\",\"intent\":\"x\",\"confidence\":0.5}\n"
        "{\"session\":\"a\",\"time\":-5,\"text\":\"t\",\"intent\":\"x\",\"confidence\":0.5}\n"
        "{\"session\":\"a\",\"time\":3,\"text\":\"t\",\"intent\":\"x\",\"confidence\":7}\n"
        "{\"session\":\"a\",\"time\":3,\"text\":\"t\",\"intent\":\"x\",\"confidence\":0.1,"
        "\"outcome\":\"maybe\"}\n"
        "{\"session\":1,\"time\":3,\"text\":\"t\",\"intent\":\"x\",\"confidence\":0.1}\n"
        "{\"session\":\"a\",\"time\":3,\"text\":\"t\",\"intent\":\"x\",\"confidence\":0.1,"
        "\"slots\":[{\"slot\":1}]}\n"
        "[]\n"
        "\n"
        "{\"session\":\"b\",\"time\":4,\"text\":\"ok\",\"intent\":\"x\",\"confidence\":0.1,"
        "\"slots\":[],\"outcome\":\"success\"}";
    learn_turns ts = {0};
    mille_error e;
    n_bad = 0;
    CHECK_INT(learn_turns_parse(&ts, "f.jsonl", log, sizeof log - 1, count_bad, NULL, &e), 0);
    CHECK_INT(ts.n, 2);
    CHECK_INT(ts.bad, 8);
    CHECK_INT(n_bad, 8);
    CHECK(strncmp(last_bad, "f.jsonl:9:", 10) == 0);
    CHECK_INT(ts.t[1].outcome, LEARN_OUTCOME_SUCCESS);
    learn_turns_free(&ts);
}

/* ---- the miner --------------------------------------------------------------------------- */

TEST(learn_mine_known_answers)
{
    char *buf = NULL;
    size_t len = 0;
    rephrase_log(&buf, &len, 3, 2, "play lady gaga's poker face", "play poker face by lady gaga",
                 4);
    rephrase_log(&buf, &len, 4, 1, "kill the lamp", "lights off", 3);
    /* a one-turn session and turns of other sessions do not disturb it */
    turn(&buf, &len, "lonely", "u9", 5, "what's the weather", "weather_query", NULL);
    learn_params p = learn_default_params();
    learn_rewrites rw = {0};
    learn_examples ex = {0};
    learn_stats st;
    CHECK_INT(mine(buf, len, &p, &rw, &ex, &st), 0);
    CHECK_INT(st.sessions, 11);
    CHECK_INT(st.single_turn_sessions, 1);
    CHECK_INT(st.rephrases, 10);
    CHECK_INT(rw.n, 2);
    text_buf tb = {0};
    const learn_rewrite *r =
        learn_rewrites_find(&rw, "play lady gaga's poker face", 27, "en-US", &tb);
    CHECK(r != NULL);
    if (r) {
        CHECK_STR(rw.st.buf + r->target, "play poker face by lady gaga");
        CHECK_INT(r->users, 3);
        CHECK_INT(r->sessions, 6);
    }
    CHECK(learn_rewrites_find(&rw, "kill the lamp", 13, "en-US", &tb) != NULL);
    /* the examples: the source labeled with the target's parse, slots carried verbatim */
    CHECK_INT(ex.n, 2);
    int found = 0;
    for (size_t i = 0; i < ex.n; i++)
        if (strcmp(ex.st.buf + ex.e[i].annot, "play [artist_name : lady gaga]'s poker face") == 0) {
            CHECK_STR(ex.st.buf + ex.e[i].intent, "play_music");
            found = 1;
        }
    CHECK(found);
    text_buf_free(&tb);
    learn_examples_free(&ex);
    learn_rewrites_free(&rw);
    free(buf);
}

TEST(learn_mine_never_from_one_user)
{
    char *buf = NULL;
    size_t len = 0;
    /* one user, many sessions: no rewrite, whatever the volume */
    rephrase_log(&buf, &len, 1, 20, "kill the lamp", "lights off", 3);
    learn_params p = learn_default_params();
    p.min_users = 2;
    learn_rewrites rw = {0};
    learn_stats st;
    CHECK_INT(mine(buf, len, &p, &rw, NULL, &st), 0);
    CHECK_INT(rw.n, 0);
    CHECK(st.rejected_users > 0);
    learn_rewrites_free(&rw);
    free(buf);
}

TEST(learn_mine_ignores_unrelated_consecutive_requests)
{
    char *buf = NULL;
    size_t len = 0;
    /* the next request comes long after (a new request, not a rephrase) ... */
    rephrase_log(&buf, &len, 5, 1, "kill the lamp", "lights off", 600);
    learn_params p = learn_default_params();
    learn_rewrites rw = {0};
    learn_stats st;
    CHECK_INT(mine(buf, len, &p, &rw, NULL, &st), 0);
    CHECK_INT(st.rephrases, 0);
    CHECK_INT(rw.n, 0);
    /* ... or right after a turn that succeeded; or it names an entity the first lacks */
    free(buf);
    buf = NULL;
    len = 0;
    char s[32], u[32];
    for (int k = 0; k < 5; k++) {
        snprintf(s, sizeof s, "s%d", k);
        snprintf(u, sizeof u, "u%d", k);
        turn(&buf, &len, s, u, 100, "what's the weather", "weather_query", "success");
        turn(&buf, &len, s, u, 103, "lights off", "iot_hue_lightoff", "success");
        turn(&buf, &len, s, u, 200, "play lady gaga's poker face", "music_query", NULL);
        turn(&buf, &len, s, u, 203, "what's the weather", "weather_query", "success");
    }
    learn_rewrites_free(&rw);
    memset(&rw, 0, sizeof rw);
    CHECK_INT(mine(buf, len, &p, &rw, NULL, &st), 0);
    CHECK_INT(rw.n, 0);
    learn_rewrites_free(&rw);
    free(buf);
}

TEST(learn_mine_survives_texts_that_normalize_to_nothing)
{
    char *buf = NULL;
    size_t len = 0;
    rephrase_log(&buf, &len, 4, 1, "?!", "lights off", 3);
    rephrase_log(&buf, &len, 4, 1, "kill the lamp", "...", 3);
    learn_params p = learn_default_params();
    learn_rewrites rw = {0};
    CHECK_INT(mine(buf, len, &p, &rw, NULL, NULL), 0);
    CHECK_INT(rw.n, 0);
    learn_rewrites_free(&rw);
    free(buf);
}

TEST(learn_mine_is_independent_of_order)
{
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    rephrase_log(&a, &la, 4, 1, "kill the lamp", "lights off", 3);
    rephrase_log(&a, &la, 3, 1, "play lady gaga's poker face", "play poker face by lady gaga", 5);
    rephrase_log(&b, &lb, 3, 1, "play lady gaga's poker face", "play poker face by lady gaga", 5);
    rephrase_log(&b, &lb, 4, 1, "kill the lamp", "lights off", 3);
    learn_params p = learn_default_params();
    learn_rewrites ra = {0}, rb = {0};
    CHECK_INT(mine(a, la, &p, &ra, NULL, NULL), 0);
    CHECK_INT(mine(b, lb, &p, &rb, NULL, NULL), 0);
    CHECK_INT(ra.n, rb.n);
    for (size_t i = 0; i < ra.n && i < rb.n; i++)
        CHECK_STR(ra.st.buf + ra.r[i].source, rb.st.buf + rb.r[i].source);
    learn_rewrites_free(&ra);
    learn_rewrites_free(&rb);
    free(a);
    free(b);
}

/* ---- positives (implicit positive feedback) ------------------------------------------------ */

/* A turn with its own confidence and at most one slot (value must occur in text). */
static void turn_c(char **buf, size_t *len, const char *session, const char *user, double t,
                   const char *text, const char *intent, double conf, const char *slot,
                   const char *value, const char *outcome)
{
    char line[1024], sl[256] = "";
    if (slot) {
        size_t at = (size_t)(strstr(text, value) - text);
        snprintf(sl, sizeof sl, "{\"slot\":\"%s\",\"value\":\"%s\",\"start\":%zu,\"end\":%zu}",
                 slot, value, at, at + strlen(value));
    }
    int n = snprintf(line, sizeof line,
                     "{\"session\":\"%s\",\"user\":\"%s\",\"time\":%.3f,\"locale\":\"en-US\","
                     "\"text\":\"%s\",\"intent\":\"%s\",\"confidence\":%g,\"slots\":[%s]%s%s%s}\n",
                     session, user, t, text, intent, conf, sl, outcome ? ",\"outcome\":\"" : "",
                     outcome ? outcome : "", outcome ? "\"" : "");
    *buf = realloc(*buf, *len + (size_t)n + 1);
    memcpy(*buf + *len, line, (size_t)n + 1);
    *len += (size_t)n;
}

/* One single-turn session per user u0 .. u0+n-1 saying text. */
static void said(char **buf, size_t *len, int u0, int n, const char *text, const char *intent,
                 double conf, const char *slot, const char *value, const char *outcome)
{
    char s[128], u[32];
    for (int k = u0; k < u0 + n; k++) {
        snprintf(s, sizeof s, "%s/%d", text, k);
        snprintf(u, sizeof u, "u%d", k);
        turn_c(buf, len, s, u, 2e9 + 100.0 * k, text, intent, conf, slot, value, outcome);
    }
}

/* The annot_utt of the positive mined from utt, or NULL. */
static const char *positive_of(const learn_examples *ex, const char *utt)
{
    for (size_t i = 0; i < ex->n; i++)
        if (ex->e[i].kind == LEARN_EX_POSITIVE && strcmp(ex->st.buf + ex->e[i].utt, utt) == 0)
            return ex->st.buf + ex->e[i].annot;
    return NULL;
}

TEST(learn_mine_positives_known_answers)
{
    char *buf = NULL;
    size_t len = 0;
    /* mined: 3 users, success, confident; the label is the logged parse with its slot */
    said(&buf, &len, 0, 3, "what's the weather in paris", "weather_query", 0.9, "place_name",
         "paris", "success");
    /* mined: not rephrased, outcome unknown (x = unknown_success = 0.5) */
    said(&buf, &len, 10, 2, "play jazz", "play_music", 0.8, "music_genre", "jazz", NULL);
    /* not mined: below the threshold */
    said(&buf, &len, 20, 3, "set an alarm", "alarm_set", 0.49, NULL, NULL, "success");
    /* never mined: every turn a defect, however confident */
    said(&buf, &len, 30, 4, "lights off", "iot_hue_lightoff", 0.99, NULL, NULL, "defect");
    /* not mined: one success among defects (x = 0.25); the defects never label it */
    said(&buf, &len, 40, 1, "olly quiet", "audio_volume_mute", 0.9, NULL, NULL, "success");
    said(&buf, &len, 41, 3, "olly quiet", "audio_volume_mute", 0.95, NULL, NULL, "defect");
    /* not mined by default: one user alone */
    said(&buf, &len, 50, 1, "turn it up", "audio_volume_up", 0.9, NULL, NULL, "success");
    /* a rewrite source is labeled by its rephrase, never as a positive; the rephrase
     * (logged confidence 0.5, success) is a positive */
    rephrase_log(&buf, &len, 3, 1, "play lady gaga's poker face", "play poker face by lady gaga",
                 4);
    said(&buf, &len, 60, 1, "play lady gaga's poker face", "music_query", 0.6, NULL, NULL, NULL);
    learn_params p = learn_default_params();
    learn_rewrites rw = {0};
    learn_examples ex = {0};
    learn_stats st;
    /* off by default */
    CHECK_INT(mine(buf, len, &p, &rw, &ex, &st), 0);
    CHECK_INT(st.positives, 0);
    CHECK_INT(ex.n, 1);
    learn_examples_free(&ex);
    learn_rewrites_free(&rw);
    p.positive_min_confidence = 0.5;
    CHECK_INT(mine(buf, len, &p, &rw, &ex, &st), 0);
    CHECK_INT(rw.n, 1);
    CHECK_INT(st.positives, 3);
    CHECK_INT(ex.n, 4);
    const char *a = positive_of(&ex, "what's the weather in paris");
    CHECK(a != NULL);
    if (a) CHECK_STR(a, "what's the weather in [place_name : paris]");
    a = positive_of(&ex, "play jazz");
    CHECK(a != NULL);
    if (a) CHECK_STR(a, "play [music_genre : jazz]");
    CHECK(positive_of(&ex, "play poker face by lady gaga") != NULL);
    CHECK(positive_of(&ex, "set an alarm") == NULL);
    CHECK(positive_of(&ex, "lights off") == NULL);
    CHECK(positive_of(&ex, "olly quiet") == NULL);
    CHECK(positive_of(&ex, "turn it up") == NULL);
    CHECK(positive_of(&ex, "play lady gaga's poker face") == NULL);
    CHECK_INT(st.rejected_pos_users, 1);
    CHECK_INT(st.rejected_pos_source, 1);
    CHECK(st.rejected_pos_success >= 1);
    for (size_t i = 0; i < ex.n; i++)
        if (ex.e[i].kind == LEARN_EX_POSITIVE)
            CHECK(strcmp(ex.st.buf + ex.e[i].intent, "iot_hue_lightoff") != 0);
    learn_examples_free(&ex);
    learn_rewrites_free(&rw);
    /* one user is enough when asked; a threshold above every turn mines nothing */
    p.positive_min_users = 1;
    CHECK_INT(mine(buf, len, &p, &rw, &ex, &st), 0);
    CHECK(positive_of(&ex, "turn it up") != NULL);
    CHECK_INT(st.positives, 4);
    learn_examples_free(&ex);
    learn_rewrites_free(&rw);
    p.positive_min_confidence = 0.999;
    CHECK_INT(mine(buf, len, &p, &rw, &ex, &st), 0);
    CHECK_INT(st.positives, 0);
    learn_examples_free(&ex);
    learn_rewrites_free(&rw);
    free(buf);
}

TEST(learn_mine_positive_is_labeled_by_its_confident_turn)
{
    char *buf = NULL;
    size_t len = 0;
    /* the same phrasing parsed two ways (two model versions): the confident parse labels
     * it; a defect turn never does, even the most confident one */
    said(&buf, &len, 0, 2, "wake me at five", "alarm_query", 0.6, NULL, NULL, "success");
    said(&buf, &len, 2, 2, "wake me at five", "alarm_set", 0.9, "time", "five", "success");
    said(&buf, &len, 4, 1, "wake me at five", "alarm_remove", 0.99, NULL, NULL, "defect");
    learn_params p = learn_default_params();
    p.positive_min_confidence = 0.5;
    learn_rewrites rw = {0};
    learn_examples ex = {0};
    learn_stats st;
    CHECK_INT(mine(buf, len, &p, &rw, &ex, &st), 0);
    CHECK_INT(ex.n, 1);
    if (ex.n == 1) {
        CHECK_STR(ex.st.buf + ex.e[0].intent, "alarm_set");
        CHECK_STR(ex.st.buf + ex.e[0].annot, "wake me at [time : five]");
    }
    learn_examples_free(&ex);
    learn_rewrites_free(&rw);
    free(buf);
}

/* ---- the public API ---------------------------------------------------------------------- */

TEST(learn_api_rewrites_and_log)
{
    char *d = tmp_dir(), path[256];
    snprintf(path, sizeof path, "%s/rw.jsonl", d);
    FILE *f = fopen(path, "w");
    fputs("{\"locale\":\"en-US\",\"source\":\"olly hush\",\"target\":\"wake me up at five am\","
          "\"users\":3,\"sessions\":3,\"confidence\":0.9}\n",
          f);
    fclose(f);
    mille_error e;
    mille_model *m;
    mille_session *s;
    mille_rewrites *rw;
    CHECK_INT(mille_model_load(test_path("tests/data/model_v1.mille"), &m, &e), 0);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    CHECK_INT(mille_rewrites_load(path, &rw, &e), 0);
    CHECK_INT(mille_rewrites_count(rw), 1);
    mille_result r;
    const char *parsed;
    size_t plen;
    /* no table set: nothing happens */
    CHECK_INT(mille_parse_rewrite(s, "Olly hush!", 10, "en-US", &r, &parsed, &plen, &e), 0);
    mille_session_set_rewrites(s, rw);
    CHECK_INT(mille_parse_rewrite(s, "Olly hush!", 10, "en-US", &r, &parsed, &plen, &e), 1);
    CHECK_INT(plen, 21);
    CHECK(strncmp(parsed, "wake me up at five am", plen) == 0);
    mille_result direct;
    mille_session *s2;
    CHECK_INT(mille_session_new(m, &s2, &e), 0);
    CHECK_INT(mille_parse(s2, "wake me up at five am", 21, "en-US", &direct, &e), 0);
    CHECK_STR(r.intent, direct.intent);
    CHECK_INT(mille_parse_rewrite(s, "olly hush", 9, "fr-FR", &r, &parsed, &plen, &e), 0);
    CHECK_INT(mille_parse_rewrite(s, "wake me", 7, "en-US", &r, NULL, NULL, &e), 0);
    /* the log of a parse */
    mille_log *lg;
    CHECK_INT(mille_log_open(d, 0, &lg, &e), 0);
    CHECK_INT(mille_parse(s2, "wake me up at five am", 21, "en-US", &direct, &e), 0);
    mille_turn t = {
        "s1", NULL, "en-US", 0, "wake me up at five am", 21, &direct, MILLE_OUTCOME_DEFECT};
    CHECK_INT(mille_log_turn(lg, &t, &e), 0);
    mille_turn bad = {NULL, NULL, NULL, 0, "x", 1, NULL, 0};
    CHECK_INT(mille_log_turn(lg, &bad, &e), MILLE_EINVAL);
    mille_log_close(lg);
    snprintf(path, sizeof path, "%s/turns.jsonl", d);
    learn_turns ts = {0};
    CHECK_INT(learn_turns_load(&ts, path, NULL, NULL, &e), 0);
    CHECK_INT(ts.n, 1);
    if (ts.n) {
        CHECK_STR(learn_str(&ts, ts.t[0].intent), direct.intent);
        CHECK_INT(ts.t[0].outcome, LEARN_OUTCOME_DEFECT);
        CHECK_INT(ts.t[0].n_slots, direct.n_slots);
    }
    learn_turns_free(&ts);
    mille_session_free(s2);
    mille_session_free(s);
    mille_rewrites_free(rw);
    mille_model_free(m);
    CHECK_INT(mille_rewrites_load("/nonexistent/rw", &rw, &e), MILLE_EIO);
    mille_log_close(NULL);
    mille_rewrites_free(NULL);
    rm_dir(d);
}
