/* test_data.c - annot_utt parsing (golden cases by hand) and the MASSIVE readers. */
#define _DEFAULT_SOURCE /* mkstemps, popen */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "harness.h"

/* Parse and render as "word|label word|label ..." (label "O" for Other). */
static const char *render(const char *utt, const char *annot, int cjk)
{
    static char out[4096];
    annot_word w[256];
    annot_scratch s = {0};
    mille_error e;
    int n = annot_parse(utt, utt ? strlen(utt) : 0, annot, strlen(annot), cjk, w, &s, &e);
    annot_scratch_free(&s);
    if (n < 0) {
        snprintf(out, sizeof out, "ERR %s", e.msg);
        return out;
    }
    const char *text = utt ? utt : annot;
    size_t o = 0;
    for (int i = 0; i < n && o < sizeof out - 100; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%.*s|%.*s", i ? " " : "",
                              (int)(w[i].end - w[i].start), text + w[i].start,
                              w[i].label_len ? (int)w[i].label_len : 1,
                              w[i].label_len ? annot + w[i].label_off : "O");
    out[o] = '\0';
    return out;
}

TEST(annot_english)
{
    CHECK_STR(render("wake me up at nine am on friday",
                     "wake me up at [time : nine am] on [date : friday]", 0),
              "wake|O me|O up|O at|O nine|time am|time on|O friday|date");
    CHECK_STR(render("olly quiet", "olly quiet", 0), "olly|O quiet|O");
    /* a value may hold ':' and the utterance may start with a slot */
    CHECK_STR(render("5:30 alarm", "[time : 5:30] alarm", 0), "5:30|time alarm|O");
    /* adjacent slots stay separate words with their own labels */
    CHECK_STR(render("play abba now", "play [artist_name : abba] [time : now]", 0),
              "play|O abba|artist_name now|time");
    /* tabs and repeated spaces in utt are word separators, as str.split() */
    CHECK_STR(render("a  b\tc", "a b [x : c]", 0), "a|O b|O c|x");
}

TEST(annot_offsets_point_into_utt)
{
    const char *utt = "réveille-moi à cinq heures";
    annot_word w[16];
    annot_scratch s = {0};
    mille_error e;
    const char *annot = "réveille-moi à [time : cinq heures]";
    int n = annot_parse(utt, strlen(utt), annot, strlen(annot), 0, w, &s, &e);
    CHECK_INT(n, 4);
    CHECK_INT(w[0].start, 0);
    CHECK_INT(w[0].end, 13); /* "réveille-moi": é is two bytes */
    CHECK_INT(w[1].start, 14);
    CHECK_INT(w[1].end, 16); /* "à" */
    CHECK_INT(w[3].end, strlen(utt));
    CHECK_INT(w[2].label_len, 4);
    CHECK(memcmp(annot + w[2].label_off, "time", 4) == 0);
    annot_scratch_free(&s);
}

TEST(annot_char_split)
{
    CHECK_STR(render("金曜日の午前九時に", "[date : 金曜日] の [time : 午前九時] に", 1),
              "金|date 曜|date 日|date の|O 午|time 前|time 九|time 時|time に|O");
    /* the official code's quirk: an ASCII word ending a slot does not close it there; we
     * close it at "]" */
    CHECK_STR(render("b. b. c.のニュース", "[media_type : b. b. c.] のニュース", 1),
              "b.|media_type b.|media_type c.|media_type の|O ニ|O ュ|O ー|O ス|O");
    /* code-switched ASCII word kept whole; words come from utt, not annot spacing */
    CHECK_STR(render("美美 email 給我", "[person : 美美] [personal_info : email] 給我", 1),
              "美|person 美|person email|personal_info 給|O 我|O");
    CHECK_STR(render("用iphone2打", "用 [device : iphone2] 打", 1), "用|O iphone2|device 打|O");
    /* a bracket inside an ASCII run splits it */
    CHECK_STR(render("abcdef的", "[x : abc] def的", 1), "abc|x def|O 的|O");
    /* zero width space is a character, not a space (as in Python) */
    CHECK_STR(render("的\xe2\x80\x8b通知", "的\xe2\x80\x8b通知", 1),
              "的|O \xe2\x80\x8b|O 通|O 知|O");
    CHECK(annot_char_split("ja-JP", 5) && annot_char_split("zh-TW", 5));
    CHECK(!annot_char_split("ko-KR", 5) && !annot_char_split("th-TH", 5));
}

TEST(annot_without_utt)
{
    CHECK_STR(render(NULL, "wake me at [time : nine am]", 0), "wake|O me|O at|O nine|time am|time");
    CHECK_STR(render(NULL, "[date : 金曜日] の", 1), "金|date 曜|date 日|date の|O");
}

static int err_code(const char *utt, const char *annot, int cjk, const char *needle)
{
    annot_word w[256];
    annot_scratch s = {0};
    mille_error e = {0};
    int n = annot_parse(utt, strlen(utt), annot, strlen(annot), cjk, w, &s, &e);
    annot_scratch_free(&s);
    if (n >= 0) return 0;
    if (needle && !strstr(e.msg, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, needle);
        return 1;
    }
    return n;
}

TEST(annot_errors)
{
    CHECK_INT(err_code("nine am", "[time : nine am", 0, "never closed"), MILLE_EANNOT);
    CHECK_INT(err_code("nine am", "nine am]", 0, "closes no slot"), MILLE_EANNOT);
    CHECK_INT(err_code("nine am", "[time : [x : nine] am]", 0, "inside the slot"), MILLE_EANNOT);
    CHECK_INT(err_code("nine am", "nine am [time : ]", 0, "empty value"), MILLE_EANNOT);
    CHECK_INT(err_code("nine am", "[time nine am]", 0, "expected ' : '"), MILLE_EANNOT);
    CHECK_INT(err_code("nine am", "[ : nine am]", 0, "slot name missing"), MILLE_EANNOT);
    CHECK_INT(err_code("wake me", "wake you", 0, "does not match"), MILLE_EANNOT);
    CHECK_INT(err_code("wake me", "wake", 0, "ends first"), MILLE_EANNOT);
    CHECK_INT(err_code("abcd", "[x : ab]cd", 0, "inside the word"), MILLE_EANNOT);
    CHECK_INT(err_code("ab cd", "abcd", 0, "differ"), MILLE_EANNOT);
    CHECK_INT(err_code("wake me", "wake \xff", 0, "invalid UTF-8 at byte 5"), MILLE_EUTF8);
    CHECK_INT(err_code("wake \xc3", "wake me", 0, "utt: invalid UTF-8"), MILLE_EUTF8);
    CHECK_INT(err_code("金曜日", "[date : 金曜]", 1, "ends first"), MILLE_EANNOT);
    CHECK_INT(err_code("", "", 0, NULL), 0); /* empty is zero words, not an error */
}

/* ---- records ------------------------------------------------------------------------------ */

static int add(data_set *ds, const char *line, int mode, char *msg)
{
    data_opts o = data_default_opts();
    o.mode = mode;
    mille_error e = {0};
    int rc = data_add_line(ds, line, strlen(line), 0, 1, &o, &e);
    if (msg) snprintf(msg, 512, "%s", e.msg);
    return rc;
}

TEST(data_record_fields)
{
    data_set ds = {0};
    char msg[512];
    CHECK_INT(add(&ds,
                  "{\"id\": \"1\", \"locale\": \"en-US\", \"partition\": \"train\", \"scenario\": "
                  "\"alarm\", \"intent\": \"alarm_set\", \"utt\": \"wake me up at nine am\", "
                  "\"annot_utt\": \"wake me up at [time : nine am]\"}",
                  DATA_GOLD, msg),
              1);
    CHECK_INT(ds.n, 1);
    CHECK_INT(ds.recs[0].n_words, 6);
    CHECK_STR(strtab_str(&ds.slots, ds.words[4].label), "time");
    CHECK_STR(strtab_str(&ds.slots, ds.words[0].label), "Other");
    CHECK_STR(data_str(&ds, ds.recs[0].utt), "wake me up at nine am");
    CHECK_STR(strtab_str(&ds.intents, ds.recs[0].intent), "alarm_set");
    /* a prediction needs no utt; its offsets point into annot_utt */
    CHECK_INT(
        add(&ds, "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"x\",\"annot_utt\":\"a [t : b]\"}",
            DATA_PRED, msg),
        1);
    CHECK_INT(ds.recs[1].n_words, 2);
    data_free(&ds);
}

TEST(data_record_errors)
{
    data_set ds = {0};
    char msg[512];
    CHECK_INT(add(&ds, "{\"id\": \"1\", ", DATA_GOLD, msg), MILLE_EFORMAT);
    CHECK(strstr(msg, "bad JSON") != NULL);
    CHECK_INT(add(&ds, "[1, 2]", DATA_GOLD, msg), MILLE_EFORMAT);
    CHECK_INT(add(&ds, "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"x\",\"annot_utt\":\"a\"}",
                  DATA_GOLD, msg),
              MILLE_EFORMAT);
    CHECK(strstr(msg, "missing field \"utt\"") != NULL);
    CHECK_INT(
        add(&ds,
            "{\"id\":1,\"locale\":\"en-US\",\"intent\":\"x\",\"utt\":\"a\",\"annot_utt\":\"a\"}",
            DATA_GOLD, msg),
        MILLE_EFORMAT);
    CHECK(strstr(msg, "\"id\": expected a string") != NULL);
    /* invalid UTF-8 and NUL inside JSON strings are refused by the JSON parser */
    CHECK_INT(add(&ds,
                  "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"x\",\"utt\":\"a\xff\",\"annot_"
                  "utt\":\"a\"}",
                  DATA_GOLD, msg),
              MILLE_EFORMAT);
    CHECK_INT(add(&ds,
                  "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"x\",\"utt\":\"a\\u0000\","
                  "\"annot_utt\":\"a\"}",
                  DATA_GOLD, msg),
              MILLE_EFORMAT);
    CHECK_INT(add(&ds,
                  "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"x\",\"utt\":\"a "
                  "b\",\"annot_utt\":\"[t : a b\"}",
                  DATA_GOLD, msg),
              MILLE_EANNOT);
    CHECK_INT(add(&ds, "{\"id\":\"1\",\"id\":\"2\"}", DATA_GOLD, msg), MILLE_EFORMAT);
    CHECK_INT(ds.n, 0);
    data_free(&ds);
}

/* ---- files -------------------------------------------------------------------------------- */

static size_t n_skips;
static char last_skip[512];
static void on_skip(void *ud, const mille_error *e)
{
    (void)ud;
    n_skips++;
    snprintf(last_skip, sizeof last_skip, "%s", e->msg);
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_INT(fwrite(data, 1, n, f), n);
    fclose(f);
}

TEST(data_load_sample)
{
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.strict = 1;
    mille_error e;
    CHECK_INT(data_load(&ds, test_path("data/sample"), &o, &e), 0);
    CHECK_INT(ds.n, 52 * 439);
    CHECK_INT(ds.locales.n, 52);
    CHECK_INT(ds.n_skipped, 0);
    data_free(&ds);
    o.locales = "fr-FR,ja-JP";
    o.partitions = "dev";
    CHECK_INT(data_load(&ds, test_path("data/sample"), &o, &e), 0);
    CHECK_INT(ds.n, 2 * 107);
    data_free(&ds);
}

TEST(data_load_lines_and_errors)
{
    char dir[] = "/tmp/mille_data_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/x.jsonl", dir);
    const char *good = "{\"id\":\"1\",\"locale\":\"en-US\",\"intent\":\"i\",\"utt\":\"a "
                       "b\",\"annot_utt\":\"a [t : b]\"}";
    char buf[2048];
    /* CRLF, a blank line, a bad line (3), no final newline */
    snprintf(buf, sizeof buf, "%s\r\n\n{bad\n%s", good, good);
    write_file(path, buf, strlen(buf));
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.on_skip = on_skip;
    mille_error e;
    n_skips = 0;
    CHECK_INT(data_load(&ds, path, &o, &e), 0);
    CHECK_INT(ds.n, 2);
    CHECK_INT(n_skips, 1);
    CHECK(strstr(last_skip, "x.jsonl:3: bad JSON") != NULL);
    CHECK_INT(ds.recs[1].line, 4);
    data_free(&ds);
    o.strict = 1;
    CHECK_INT(data_load(&ds, path, &o, &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "x.jsonl:3:") != NULL);
    data_free(&ds);
    /* an over-long line is skipped and the next line still read */
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big + 300);
    memset(huge, 'x', big);
    huge[big] = '\n';
    memcpy(huge + big + 1, good, strlen(good));
    write_file(path, huge, big + 1 + strlen(good));
    free(huge);
    o.strict = 0;
    n_skips = 0;
    CHECK_INT(data_load(&ds, path, &o, &e), 0);
    CHECK_INT(ds.n, 1);
    CHECK(strstr(last_skip, "x.jsonl:1: line longer") != NULL);
    data_free(&ds);
    /* missing file, empty directory */
    CHECK_INT(data_load(&ds, "/nonexistent/file.jsonl", &o, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "/nonexistent/file.jsonl") != NULL);
    unlink(path);
    CHECK_INT(data_load(&ds, dir, &o, &e), MILLE_ENOTFOUND);
    data_free(&ds);
    rmdir(dir);
}

TEST(data_load_gzip_truncated)
{
    char *gz;
    size_t n;
    mille_error e;
    CHECK_INT(file_read_all(test_path("data/sample/de-DE.jsonl.gz"), &gz, &n, &e), 0);
    char path[] = "/tmp/mille_trunc_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, gz, n / 2);
    free(gz);
    data_set ds = {0};
    data_opts o = data_default_opts();
    int rc = data_load(&ds, path, &o, &e);
    CHECK_INT(rc, MILLE_EIO);
    CHECK(strstr(e.msg, path) != NULL);
    data_free(&ds);
    unlink(path);
}

/* Build a tar.gz shaped like the official release (1.1/data/<locale>.jsonl) from the sample. */
static void make_archive(const char *path, const char **locales, int n)
{
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    CHECK_INT(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        char src[256], name[256];
        snprintf(src, sizeof src, "data/sample/%s.jsonl.gz", locales[i]);
        /* the archive holds plain .jsonl, as the release does: decompress with gzip(1) */
        char *raw = NULL;
        size_t rn = 0;
        FILE *p;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "gzip -dc %s", test_path(src));
        p = popen(cmd, "r");
        CHECK(p != NULL);
        char chunk[65536];
        size_t got, cap = 0;
        while (p && (got = fread(chunk, 1, sizeof chunk, p)) > 0) {
            CHECK_INT(vec_reserve((void **)&raw, &cap, rn + got, 1), 0);
            memcpy(raw + rn, chunk, got);
            rn += got;
        }
        if (p) pclose(p);
        snprintf(name, sizeof name, "1.1/data/%s.jsonl", locales[i]);
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, name);
        archive_entry_set_size(en, (la_int64_t)rn);
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_write_header(a, en);
        archive_write_data(a, raw, rn);
        archive_entry_free(en);
        free(raw);
    }
    archive_write_close(a);
    archive_write_free(a);
}

TEST(data_load_archive)
{
    const char *locs[] = {"en-US", "ja-JP", "th-TH"};
    char path[] = "/tmp/mille_arch_XXXXXX.tar.gz";
    int fd = mkstemps(path, 7);
    close(fd);
    make_archive(path, locs, 3);
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.strict = 1;
    mille_error e;
    CHECK_INT(data_load(&ds, path, &o, &e), 0);
    CHECK_INT(ds.n, 3 * 439);
    CHECK_INT(ds.locales.n, 3);
    /* the same records as the .jsonl.gz files */
    data_set ref = {0};
    o.locales = "en-US,ja-JP,th-TH";
    CHECK_INT(data_load(&ref, test_path("data/sample"), &o, &e), 0);
    CHECK_INT(ref.n, ds.n);
    CHECK_INT(ref.n_words, ds.n_words);
    data_free(&ref);
    data_free(&ds);
    /* a truncated archive is an error naming the file, not a crash */
    char *raw;
    size_t n;
    CHECK_INT(file_read_all(path, &raw, &n, &e), 0);
    write_file(path, raw, n / 3);
    free(raw);
    o.locales = NULL;
    int rc = data_load(&ds, path, &o, &e);
    CHECK(rc < 0);
    CHECK(strstr(e.msg, "mille_arch_") != NULL);
    data_free(&ds);
    unlink(path);
}

/* Audit 2026-12 #16: an archive is read with the gzip filter only. A .tar holding lrzip
 * data (or grzip, or lzop without liblzo) used to make libarchive start an external
 * decompressor ("lrzip -d -q"); now it is an unrecognized format, named with its path, and
 * no program is run. */
TEST(data_archive_filters_gzip_only)
{
    char path[] = "/tmp/mille_arch_XXXXXX.tar";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    if (fd < 0) return;
    /* the lrzip magic and version 0.6, then zeros */
    unsigned char lrz[64] = {'L', 'R', 'Z', 'I', 0, 6};
    CHECK_INT(write(fd, lrz, sizeof lrz), (long long)sizeof lrz);
    close(fd);
    data_set ds = {0};
    mille_error e;
    int rc = data_load(&ds, path, NULL, &e);
    CHECK(rc < 0);
    CHECK(strstr(e.msg, path) != NULL);
    CHECK(strstr(e.msg, "program") == NULL);
    if (rc < 0 && strstr(e.msg, "program")) fprintf(stderr, "%s\n", e.msg);
    data_free(&ds);
    unlink(path);
}
