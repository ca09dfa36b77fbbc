/* test_lexicon.c - bilingual lexicons and word-by-word synthesis: dictd base64, the tiny
 * FreeDict dictionary in tests/data/lexicon (plain .dict and a .dict.dz gzipped here with
 * zlib), multi-word and cross-reference handling, TSV pairs, bad inputs (code + a message
 * naming where), and synthesized records against hand-written expected strings.
 *
 * tests/data/lexicon/freedict-eng-fra.{index,dict} imitate the layouts of Debian's FreeDict
 * packages (old FreeDict, Ding, WikDict, numbered senses, a cross-reference "Maine (ME)"
 * indexed under "me", a multi-spelling headword "adapter, adaptor"). */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "lexicon.h"
#include "test_lexicon.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Translations of src joined with '|' ("" when absent); also used by test_sources.c. */
const char *lexicon_test_tr(const lexicon *lx, const char *src)
{
    static char out[1024];
    text_buf tb = {0};
    const uint32_t *t;
    mille_error e;
    int n = lexicon_find(lx, src, strlen(src), &tb, &t, &e);
    text_buf_free(&tb);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o < sizeof out - 100; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "|" : "", lexicon_str(lx, t[i]));
    return out;
}

static char *read_fixture(const char *rel, size_t *n)
{
    char *s = NULL;
    mille_error e;
    if (file_read_all(test_path(rel), &s, n, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return NULL;
    }
    return s;
}

/* Error code of loading a FreeDict index+dict from memory; the message must hold needle. */
static int fd_err(const char *index, const char *dict, size_t dict_len, const char *needle)
{
    lexicon lx = {0};
    mille_error e = {0};
    int rc = lexicon_add_freedict(&lx, index, strlen(index), dict, dict_len, "t.index", NULL, &e);
    lexicon_free(&lx);
    if (rc < 0 && needle && !strstr(e.msg, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, needle);
        return 1;
    }
    return rc;
}

static int tsv_err(const char *s, const char *needle)
{
    lexicon lx = {0};
    mille_error e = {0};
    int rc = lexicon_add_tsv(&lx, s, strlen(s), "t.tsv", NULL, &e);
    lexicon_free(&lx);
    if (rc < 0 && needle && !strstr(e.msg, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, needle);
        return 1;
    }
    return rc;
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* ---- dictd base64 --------------------------------------------------------------------------- */

TEST(lexicon_base64)
{
    uint64_t v = 99;
    CHECK(lexicon_b64("A", 1, &v) == 0 && v == 0);
    CHECK(lexicon_b64("/", 1, &v) == 0 && v == 63);
    CHECK(lexicon_b64("BA", 2, &v) == 0 && v == 64);
    CHECK(lexicon_b64("//", 2, &v) == 0 && v == 4095);
    CHECK(lexicon_b64("BAA", 3, &v) == 0 && v == 4096);
    CHECK(lexicon_b64("+", 1, &v) == 0 && v == 62);
    CHECK(lexicon_b64("z9", 2, &v) == 0 && v == 51 * 64 + 61);
    /* from freedict-eng-fra as Debian ships it: "00databasealphabet BVBC q" */
    CHECK(lexicon_b64("BVBC", 4, &v) == 0 && v == ((1 * 64 + 21) * 64 + 1) * 64 + 2);
    CHECK(lexicon_b64("", 0, &v) == -1);
    CHECK(lexicon_b64("A=", 2, &v) == -1);
    CHECK(lexicon_b64("A-", 2, &v) == -1);
    CHECK(lexicon_b64("AAAAAAAAAAA", 11, &v) == -1); /* more than 60 bits */
    CHECK(lexicon_b64("//////////", 10, &v) == 0 && v == (1ULL << 60) - 1);
}

/* ---- the tiny FreeDict dictionary ---------------------------------------------------------- */

static void check_fixture_lexicon(const lexicon *lx)
{
    /* numbered senses; U+2010 HYPHEN becomes '-' */
    CHECK_STR(lexicon_test_tr(lx, "alarm"), "alarme|alerte|réveil|réveil-matin");
    /* multi-word headword, looked up case- and space-insensitively */
    CHECK_STR(lexicon_test_tr(lx, "alarm clock"), "réveil-matin");
    CHECK_STR(lexicon_test_tr(lx, "Alarm   Clock"), "réveil-matin");
    /* the Maine entry is indexed under "me" too: a cross-reference, not a translation of me */
    CHECK_STR(lexicon_test_tr(lx, "me"), "moi|me");
    CHECK_STR(lexicon_test_tr(lx, "maine"), "maine");
    /* WikDict: glosses and " 2." sub-sense marks are not translations */
    CHECK_STR(lexicon_test_tr(lx, "music"), "musique|partition");
    /* Ding: tags, notes, examples and "see:" dropped; a [tagged] sense after plain ones */
    CHECK_STR(lexicon_test_tr(lx, "play"), "jouer|faire jouer|pièce");
    CHECK_STR(lexicon_test_tr(lx, "turn off"), "éteindre");
    /* one entry, two spellings, each indexed; translations lower-cased */
    CHECK_STR(lexicon_test_tr(lx, "adapter"), "adaptateur");
    CHECK_STR(lexicon_test_tr(lx, "adaptor"), "adaptateur");
    /* "to plunk" is also "plunk"; the text after a sentence end is another headword's */
    CHECK_STR(lexicon_test_tr(lx, "to plunk"), "taper|pincer");
    CHECK_STR(lexicon_test_tr(lx, "plunk"), "taper|pincer");
    /* a blank line before the translations; parentheses dropped */
    CHECK_STR(lexicon_test_tr(lx, "the"), "le|la|les");
    CHECK_STR(lexicon_test_tr(lx, "weather"), "temps|météo");
    CHECK_STR(lexicon_test_tr(lx, "x-row"), "rangée x");
    CHECK_STR(lexicon_test_tr(lx, "absent"), "");
    CHECK_INT(lx->max_words, 2);
}

TEST(lexicon_freedict_plain_dict)
{
    lexicon lx = {0};
    lexicon_stats st;
    mille_error e;
    int rc = lexicon_load(&lx, test_path("tests/data/lexicon/freedict-eng-fra.index"), &st, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    CHECK_INT(rc, 0);
    CHECK_INT(st.entries, 16); /* index lines without the two 00database ones */
    CHECK_INT(st.skipped, 1);  /* "me" -> Maine */
    check_fixture_lexicon(&lx);
    lexicon_free(&lx);
    lexicon_free(&lx); /* freed twice / NULL: no-ops */
    lexicon_free(NULL);
}

TEST(lexicon_freedict_dict_dz)
{
    /* gzip the fixture's .dict into a temporary directory next to a copy of its .index */
    size_t ni = 0, nd = 0;
    char *idx = read_fixture("tests/data/lexicon/freedict-eng-fra.index", &ni);
    char *dict = read_fixture("tests/data/lexicon/freedict-eng-fra.dict", &nd);
    CHECK(idx && dict);
    if (!idx || !dict) return;
    char dir[] = "/tmp/mille_lex_XXXXXX", ip[256], dp[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(ip, sizeof ip, "%s/freedict-eng-fra.index", dir);
    snprintf(dp, sizeof dp, "%s/freedict-eng-fra.dict.dz", dir);
    CHECK(write_file(ip, idx, ni) == 0);
    gzFile gz = gzopen(dp, "wb9");
    CHECK(gz != NULL);
    if (gz) {
        CHECK(gzwrite(gz, dict, (unsigned)nd) == (int)nd);
        gzclose(gz);
    }
    lexicon lx = {0};
    mille_error e;
    int rc = lexicon_load(&lx, ip, NULL, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    CHECK_INT(rc, 0);
    check_fixture_lexicon(&lx);
    lexicon_free(&lx);
    /* named by its data file */
    CHECK_INT(lexicon_load(&lx, dp, NULL, &e), 0);
    CHECK_STR(lexicon_test_tr(&lx, "wake"), "réveiller|s'éveiller|se réveiller");
    lexicon_free(&lx);
    /* description and entry count for `mille lexicons` */
    size_t entries = 0;
    char desc[128];
    CHECK_INT(lexicon_freedict_info(ip, &entries, desc, sizeof desc, &e), 0);
    CHECK_INT(entries, 16);
    CHECK_STR(desc, "English-French test dictionary ver. 0.1");
    /* a truncated .dict.dz */
    FILE *f = fopen(dp, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fclose(f);
        CHECK(truncate(dp, len / 2) == 0);
    }
    rc = lexicon_load(&lx, ip, NULL, &e);
    CHECK_INT(rc, MILLE_EIO);
    CHECK(strstr(e.msg, "freedict-eng-fra.dict.dz") != NULL);
    lexicon_free(&lx);
    /* no data file beside the index */
    remove(dp);
    rc = lexicon_load(&lx, ip, NULL, &e);
    CHECK_INT(rc, MILLE_EIO);
    CHECK(strstr(e.msg, "freedict-eng-fra.index: no ") && strstr(e.msg, ".dict.dz or .dict"));
    lexicon_free(&lx);
    remove(ip);
    rmdir(dir);
    free(idx);
    free(dict);
}

TEST(lexicon_merge_order)
{
    /* two lexicons: translations of the first come first, duplicates are merged */
    lexicon lx = {0};
    mille_error e;
    const char *a = "alarm\tsonnerie\nwake\tréveille\n";
    CHECK_INT(lexicon_add_tsv(&lx, a, strlen(a), "a.tsv", NULL, &e), 0);
    CHECK_INT(lexicon_load(&lx, test_path("tests/data/lexicon/freedict-eng-fra.index"), NULL, &e),
              0);
    CHECK_STR(lexicon_test_tr(&lx, "alarm"), "sonnerie|alarme|alerte|réveil|réveil-matin");
    const char *b = "alarm\talarme\n";
    lexicon_stats st;
    CHECK_INT(lexicon_add_tsv(&lx, b, strlen(b), "b.tsv", &st, &e), 0);
    CHECK_INT(st.entries, 1);
    CHECK_INT(st.pairs, 0);
    CHECK_STR(lexicon_test_tr(&lx, "alarm"), "sonnerie|alarme|alerte|réveil|réveil-matin");
    lexicon_free(&lx);
}

/* ---- TSV ------------------------------------------------------------------------------------ */

TEST(lexicon_tsv)
{
    const char *s = "# comment\n"
                    "\n"
                    "Alarm Clock\tRéveil\t0.9\n" /* a weight column is ignored */
                    "wake up\t réveille-moi \r\n"
                    "one two three four five\ttoo long\n" /* > LEXICON_MAX_WORDS: skipped */
                    "straße\tStraße\n";
    lexicon lx = {0};
    lexicon_stats st;
    mille_error e;
    CHECK_INT(lexicon_add_tsv(&lx, s, strlen(s), "t.tsv", &st, &e), 0);
    CHECK_INT(st.entries, 4);
    CHECK_INT(st.skipped, 1);
    CHECK_INT(st.pairs, 3);
    CHECK_STR(lexicon_test_tr(&lx, "alarm clock"), "Réveil"); /* targets are kept as written */
    CHECK_STR(lexicon_test_tr(&lx, "WAKE UP"), "réveille-moi");
    CHECK_STR(lexicon_test_tr(&lx, "STRASSE"), "Straße"); /* keys are case folded: ß = ss */
    CHECK_INT(lx.max_words, 2);
    lexicon_free(&lx);
    /* the fixture for the CLI tests loads */
    CHECK_INT(lexicon_load(&lx, test_path("tests/data/lexicon/en-fr.tsv"), &st, &e), 0);
    CHECK_STR(lexicon_test_tr(&lx, "alarm"), "alarme|réveil");
    lexicon_free(&lx);
}

/* ---- bad inputs ------------------------------------------------------------------------------ */

TEST(lexicon_bad_inputs)
{
    const char dict[] = "alarm /x/\nalarme\n";
    size_t dn = sizeof dict - 1;
    CHECK_INT(dn, 17); /* "R" in base64 */
    CHECK_INT(fd_err("alarm\tA\tR\n", dict, dn, NULL), 0);
    CHECK_INT(fd_err("alarm\tA!\tR\n", dict, dn, "t.index:1: bad base64 offset 'A!'"),
              MILLE_EFORMAT);
    CHECK_INT(fd_err("alarm\tA\tR\nwake\tA\t=\n", dict, dn, "t.index:2: bad base64 length '='"),
              MILLE_EFORMAT);
    CHECK_INT(fd_err("alarm\tA\tR\nwake\tB\tR\n", dict, dn,
                     "t.index:2: entry 'wake' at offset 1, length 17 ends past the end of the "
                     ".dict (17 bytes)"),
              MILLE_EFORMAT);
    CHECK_INT(fd_err("alarm\tAAAAAAAAAAAAAAAAAAAAA\tR\n", dict, dn, "t.index:1: bad base64"),
              MILLE_EFORMAT);
    CHECK_INT(fd_err("alarm A S\n", dict, dn, "t.index:1: expected 'headword<TAB>offset"),
              MILLE_EFORMAT);
    CHECK_INT(fd_err("al\xffrm\tA\tR\n", dict, dn, "t.index:1: invalid UTF-8 at byte 2"),
              MILLE_EUTF8);
    CHECK_INT(fd_err("alarm\tA\tQ\n", "alarm /x/\nalar\xc3\n", 16,
                     "t.index:1: entry 'alarm' at .dict offset 0: invalid UTF-8 at byte 14"),
              MILLE_EUTF8);
    CHECK_INT(fd_err("", dict, dn, "t.index: no dictionary entries"), MILLE_EFORMAT);
    CHECK_INT(fd_err("00databaseshort\tA\tB\n", dict, dn, "no dictionary entries"), MILLE_EFORMAT);
    CHECK_INT(fd_err("alarm\tA\tR\n", "", 0, "ends past the end"), MILLE_EFORMAT);

    CHECK_INT(tsv_err("alarm\talarme\n", NULL), 0);
    CHECK_INT(tsv_err("alarm\talarme\nwake réveille\n", "t.tsv:2: expected 'source<TAB>target'"),
              MILLE_EFORMAT);
    CHECK_INT(tsv_err("alarm\t \n", "t.tsv:1: empty target"), MILLE_EFORMAT);
    CHECK_INT(tsv_err("\talarme\n", "t.tsv:1: empty source"), MILLE_EFORMAT);
    CHECK_INT(tsv_err("# x\nalarm\tal\xe9rme\n", "t.tsv:2: invalid UTF-8 at byte 8"), MILLE_EUTF8);
    CHECK_INT(tsv_err("", "t.tsv: no word pairs"), MILLE_EFORMAT);
    CHECK_INT(tsv_err("# only a comment\n", "no word pairs"), MILLE_EFORMAT);

    lexicon lx = {0};
    mille_error e;
    CHECK_INT(lexicon_load(&lx, "/nonexistent/x.tsv", NULL, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "/nonexistent/x.tsv") != NULL);
    CHECK_INT(lexicon_load(&lx, "/nonexistent/x.index", NULL, &e), MILLE_EIO);
    CHECK(strstr(e.msg, "/nonexistent/x.index") != NULL);
    CHECK_INT(lexicon_load(&lx, "words.csv", NULL, &e), MILLE_EINVAL);
    CHECK(strstr(e.msg, "words.csv: unknown lexicon type") != NULL);
    /* a failed load leaves what was there usable */
    const char *ok = "alarm\talarme\n";
    CHECK_INT(lexicon_add_tsv(&lx, ok, strlen(ok), "ok.tsv", NULL, &e), 0);
    const char *badl = "wake\tréveille\nbroken line\n";
    CHECK_INT(lexicon_add_tsv(&lx, badl, strlen(badl), "bad.tsv", NULL, &e), MILLE_EFORMAT);
    CHECK_STR(lexicon_test_tr(&lx, "alarm"), "alarme");
    lexicon_free(&lx);
}

/* ---- synthesis ------------------------------------------------------------------------------- */

/* Synthesize one record; "utt || annot" or "SKIP" or "ERR msg". */
static const char *synth1(const lexicon *lx, const char *id, const char *utt, const char *annot,
                          int dst_split, int drop, uint64_t seed)
{
    static char out[2048];
    synth_ctx c = {0};
    synth_stats st = {0};
    synth_opts o = {seed, drop, 0, dst_split};
    mille_error e;
    int rc = synth_record(&c, lx, id, utt, strlen(utt), annot, strlen(annot), &o, &st, &e);
    if (rc < 0)
        snprintf(out, sizeof out, "ERR %s", e.msg);
    else if (rc == 0)
        snprintf(out, sizeof out, "SKIP");
    else
        snprintf(out, sizeof out, "%s || %s", c.utt, c.annot);
    synth_free(&c);
    synth_stats_free(&st);
    return out;
}

static void load_tsv(lexicon *lx, const char *s)
{
    mille_error e;
    int rc = lexicon_add_tsv(lx, s, strlen(s), "t.tsv", NULL, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    CHECK_INT(rc, 0);
}

TEST(synth_slot_carry_over)
{
    lexicon lx = {0};
    load_tsv(&lx, "wake\tréveiller\nme\tmoi\nat\tà\nnine am\tneuf heures du matin\n"
                  "nine\tneuf\non\tle\nfriday\tvendredi\n"
                  /* crosses the boundary between "at" (Other) and "nine" (time): unusable */
                  "at nine\tXX\n"
                  "today\taujourd'hui\nweather\tmétéo\n");
    /* the multi-word match "nine am" stays in its slot; "up" is unknown and kept */
    CHECK_STR(synth1(&lx, "1", "wake me up at nine am on friday",
                     "wake me up at [time : nine am] on [date : friday]", 0, 0, 1),
              "réveiller moi up à neuf heures du matin le vendredi || réveiller moi up à [time : "
              "neuf heures du matin] le [date : vendredi]");
    /* --drop-unknown */
    CHECK_STR(synth1(&lx, "1", "wake me up at nine am on friday",
                     "wake me up at [time : nine am] on [date : friday]", 0, 1, 1),
              "réveiller moi à neuf heures du matin le vendredi || réveiller moi à [time : neuf "
              "heures du matin] le [date : vendredi]");
    /* a slot whose words are all dropped disappears; an all-unknown record is skipped */
    CHECK_STR(synth1(&lx, "2", "wake me at five", "wake me at [time : five]", 0, 1, 1),
              "réveiller moi à || réveiller moi à");
    CHECK_STR(synth1(&lx, "3", "olly quiet", "olly quiet", 0, 1, 1), "SKIP");
    /* two adjacent slots of one type stay two slots */
    CHECK_STR(synth1(&lx, "4", "friday friday", "[date : friday] [date : friday]", 0, 0, 1),
              "vendredi vendredi || [date : vendredi] [date : vendredi]");
    /* punctuation around an unknown form is split off for the lookup and put back */
    CHECK_STR(synth1(&lx, "5", "weather today?", "weather [date : today?]", 0, 0, 1),
              "météo aujourd'hui? || météo [date : aujourd'hui?]");
    /* a bad annot_utt is an error naming the reason */
    CHECK(strstr(synth1(&lx, "6", "wake me", "wake [x : me", 0, 0, 1), "ERR ") != NULL);
    lexicon_free(&lx);
}

TEST(synth_spaceless_target)
{
    lexicon lx = {0};
    load_tsv(&lx, "wake\t起こして\nme\t私を\nat\tに\nnine am\t午前九時\non\tの\nfriday\t金曜日\n"
                  "play\t再生\nmy\t私の\n");
    /* MASSIVE's ja/zh format: no spaces between words, one around each bracketed slot */
    CHECK_STR(
        synth1(&lx, "1", "wake me at nine am on friday",
               "wake me at [time : nine am] on [date : friday]", 1, 0, 1),
        "起こして私をに午前九時の金曜日 || 起こして私をに [time : 午前九時] の [date : 金曜日]");
    /* kept ASCII words keep their space between them, none next to Japanese */
    CHECK_STR(synth1(&lx, "2", "play taylor swift", "play [artist_name : taylor swift]", 1, 0, 1),
              "再生taylor swift || 再生 [artist_name : taylor swift]");
    CHECK_STR(synth1(&lx, "3", "play my abba songs", "play my [artist_name : abba] songs", 1, 0, 1),
              "再生私のabba songs || 再生私の [artist_name : abba] songs");
    lexicon_free(&lx);
}

TEST(synth_output_reads_back)
{
    /* every synthesized annot_utt parses against its utt, with the labels carried over */
    lexicon lx = {0};
    load_tsv(&lx, "play\t再生\nsong\t歌 曲\nby\tの\n");
    synth_ctx c = {0};
    synth_stats st = {0};
    synth_opts o = {7, 0, 0, 1};
    mille_error e;
    const char *utt = "play song by the beatles",
               *annot = "play [song_name : song] by [artist : the beatles]";
    CHECK_INT(synth_record(&c, &lx, "9", utt, strlen(utt), annot, strlen(annot), &o, &st, &e), 1);
    annot_word w[64];
    annot_scratch as = {0};
    int n = annot_parse(c.utt, c.utt_len, c.annot, c.annot_len, 1, w, &as, &e);
    CHECK_INT(n, 7); /* 再 生 歌 曲 の the beatles */
    annot_scratch_free(&as);
    CHECK_STR(c.utt, "再生歌曲のthe beatles");
    CHECK_STR(c.annot, "再生 [song_name : 歌曲] の [artist : the beatles]");
    CHECK_INT(st.words, 5);
    CHECK_INT(st.words_translated, 3);
    CHECK_INT(st.slot_words, 3);
    CHECK_INT(st.slot_words_translated, 1);
    CHECK_INT(st.unknown.n, 2);
    synth_free(&c);
    synth_stats_free(&st);
    lexicon_free(&lx);
}

TEST(synth_deterministic_choice)
{
    lexicon lx = {0};
    load_tsv(&lx, "alarm\talarme\nalarm\tréveil\nalarm\tsonnerie\n");
    /* same seed and id: same choice; choices spread over ids, the first listed most often */
    size_t first = 0, third = 0, n = 600;
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%zu", i);
        char a[256];
        snprintf(a, sizeof a, "%s", synth1(&lx, id, "alarm", "alarm", 0, 0, 42));
        CHECK_STR(synth1(&lx, id, "alarm", "alarm", 0, 0, 42), a);
        first += strncmp(a, "alarme ", 7) == 0;
        third += strncmp(a, "sonnerie ", 9) == 0;
    }
    /* P(first) = 2/3, P(third) = 1/9: loose bounds (binomial sd ~ 2% and 1.3%) */
    CHECK(first > n * 55 / 100 && first < n * 78 / 100);
    CHECK(third > n * 4 / 100 && third < n * 20 / 100);
    /* another seed changes some choices */
    size_t diff = 0;
    for (size_t i = 0; i < 50; i++) {
        char id[32], a[256];
        snprintf(id, sizeof id, "%zu", i);
        snprintf(a, sizeof a, "%s", synth1(&lx, id, "alarm", "alarm", 0, 0, 1));
        diff += strcmp(a, synth1(&lx, id, "alarm", "alarm", 0, 0, 2)) != 0;
    }
    CHECK(diff > 0);
    lexicon_free(&lx);
}

TEST(lexicon_language_codes)
{
    CHECK_STR(lexicon_code_locale("fra", 0), "fr-FR");
    CHECK_STR(lexicon_code_locale("rom", 0), "ro-RO"); /* FreeDict's eng-rom is Romanian */
    CHECK_STR(lexicon_code_locale("nor", 0), "nb-NO");
    CHECK_STR(lexicon_code_locale("swh", 0), "sw-KE");
    CHECK_STR(lexicon_code_locale("zho", 0), "zh-CN");
    CHECK_STR(lexicon_code_locale("zho", 1), "zh-TW");
    CHECK(lexicon_code_locale("zho", 2) == NULL);
    CHECK(lexicon_code_locale("lat", 0) == NULL);
    CHECK_INT(lexicon_n_massive_locales, 52);
    /* every locale of the table is a MASSIVE locale */
    const char *codes[] = {"afr", "ara", "deu", "jpn", "rus", "tur", "cym", "hin", "ind"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *l = lexicon_code_locale(codes[i], 0);
        int found = 0;
        for (size_t k = 0; l && k < lexicon_n_massive_locales; k++)
            found |= strcmp(l, lexicon_massive_locales[k]) == 0;
        CHECK(found);
    }
}

/* dictd base64 of v (most significant digit first). */
static void b64(uint64_t v, char *out)
{
    static const char dig[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char tmp[12];
    int n = 0;
    do tmp[n++] = dig[v % 64], v /= 64;
    while (v);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* Audit 2026-12 #15: the work of a dictionary is capped. An index that points at one entry
 * over and over is refused once it refers to 16 times the .dict's bytes; a headword line of
 * many spellings gives at most LEXICON_MAX_KEYS (16) keys; an absurdly long entry is
 * skipped; an oversized .tsv is refused by its size before it is read. */
TEST(lexicon_work_is_capped)
{
    /* one 4 KiB entry, referred to by 400 index lines: 1.6 MB > 16 x 4 KiB + 1 MiB */
    size_t dn = 4096;
    char *dict = malloc(dn + 1);
    char *index = malloc(400 * 16 + 1);
    CHECK(dict && index);
    if (!dict || !index) return;
    memset(dict, '\n', dn);
    memcpy(dict, "hello /x/\nbonjour\n", 18);
    dict[dn] = '\0';
    char len64[12];
    b64(dn, len64);
    size_t o = 0;
    for (int i = 0; i < 400; i++)
        o += (size_t)snprintf(index + o, 400 * 16 + 1 - o, "hello\tA\t%s\n", len64);
    CHECK_INT(fd_err("hello\tA\tBAA\n", dict, dn, NULL), 0);
    CHECK_INT(fd_err(index, dict, dn, "refers to more than"), MILLE_ERANGE);
    CHECK(fd_err(index, dict, dn, "t.index:") == MILLE_ERANGE);
    free(index);
    free(dict);

    /* a headword line of 100 spellings, indexed under the whole line: 16 keys */
    char big[4096], idx[4200];
    o = (size_t)snprintf(big, sizeof big, "w0");
    for (int i = 1; i < 100; i++) o += (size_t)snprintf(big + o, sizeof big - o, ", w%d", i);
    size_t hw = o;
    o += (size_t)snprintf(big + o, sizeof big - o, "\nbonjour\n");
    char off64[12];
    b64(o, len64);
    b64(0, off64);
    snprintf(idx, sizeof idx, "%.*s\t%s\t%s\n", (int)hw, big, off64, len64);
    lexicon lx = {0};
    mille_error e;
    CHECK_INT(lexicon_add_freedict(&lx, idx, strlen(idx), big, o, "t.index", NULL, &e), 0);
    CHECK_STR(lexicon_test_tr(&lx, "w0"), "bonjour");
    CHECK_STR(lexicon_test_tr(&lx, "w15"), "bonjour");
    CHECK_STR(lexicon_test_tr(&lx, "w16"), "");
    lexicon_free(&lx);

    /* an entry over 256 KiB is skipped, not parsed */
    size_t ln = (256u << 10) + 100;
    char *longd = malloc(ln + 1);
    CHECK(longd != NULL);
    if (!longd) return;
    memset(longd, 'x', ln);
    memcpy(longd, "alarm /x/\nalarme\n", 17);
    char li[64];
    b64(ln, len64);
    snprintf(li, sizeof li, "alarm\tA\t%s\n", len64);
    lexicon_stats st;
    CHECK_INT(lexicon_add_freedict(&lx, li, strlen(li), longd, ln, "t.index", &st, &e), 0);
    CHECK_INT(st.skipped, 1);
    CHECK_STR(lexicon_test_tr(&lx, "alarm"), "");
    lexicon_free(&lx);
    free(longd);

    /* a 2 GiB (sparse) .tsv: refused by its size */
    char path[] = "/tmp/mille_test_lex_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    char tsv[64];
    snprintf(tsv, sizeof tsv, "%s.tsv", path);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)2 << 30) == 0);
    if (fd >= 0) close(fd);
    CHECK_INT(rename(path, tsv), 0);
    CHECK_INT(lexicon_load(&lx, tsv, NULL, &e), MILLE_ERANGE);
    CHECK(strstr(e.msg, "more than the limit") != NULL && strstr(e.msg, tsv) != NULL);
    unlink(tsv);
    lexicon_free(&lx);
}
