/* fuzz_lexicon.c - libFuzzer target: the lexicon readers and synthesis on arbitrary bytes.
 * The input up to its first NUL byte is a dictd .index, the rest the .dict it points into
 * (without a NUL, the input is both: offsets then point into the index text itself). The
 * whole input is also read as TSV word pairs. Each lexicon that loads is checked (lookup
 * arrays consistent, every string valid UTF-8) and used to synthesize two records, whose
 * output must read back through annot_parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lexicon.h"

static void check_lexicon(const lexicon *lx)
{
    size_t bad;
    if (lx->keys.n && !lx->off) abort();
    for (size_t k = 0; k < lx->keys.n; k++) {
        if (lx->off[k] > lx->off[k + 1] || lx->off[k + 1] > lx->n_pairs) abort();
        if (lx->off[k + 1] - lx->off[k] > LEXICON_MAX_TRANS) abort();
        const char *key = strtab_str(&lx->keys, k);
        if (text_utf8_check(key, lx->keys.lens[k], &bad)) abort();
        for (uint32_t p = lx->off[k]; p < lx->off[k + 1]; p++) {
            const char *t = lexicon_str(lx, lx->csr[p]);
            if (!*t || text_utf8_check(t, strlen(t), &bad)) abort();
        }
        const uint32_t *tr;
        if (lexicon_lookup(lx, key, lx->keys.lens[k], &tr) != lx->off[k + 1] - lx->off[k]) abort();
    }
}

static void synth(const lexicon *lx, int from_dict)
{
    static const char *const recs[][2] = {
        {"wake me up at nine am on friday", "wake me up at [time : nine am] on [date : friday]"},
        {"play the song by abba today?", "play the [media_type : song] by [artist : abba] today?"},
    };
    synth_ctx c = {0};
    synth_stats st = {0};
    for (int split = 0; split < 2; split++)
        for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
            synth_opts o = {1, (int)i & 1, 0, split};
            mille_error e;
            const char *u = recs[i][0], *a = recs[i][1];
            int rc = synth_record(&c, lx, "id", u, strlen(u), a, strlen(a), &o, &st, &e);
            /* dictionary translations hold no brackets, so their output always reads back;
             * a TSV target may hold one, and is then refused */
            if (rc < 0 && (from_dict || rc != MILLE_EANNOT)) abort();
        }
    synth_free(&c);
    synth_stats_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t ni = nul ? (size_t)(nul - s) : size;
    const char *dict = nul ? nul + 1 : s;
    size_t nd = nul ? size - ni - 1 : size;
    mille_error e;

    lexicon lx = {0};
    lexicon_stats st;
    int rc = lexicon_add_freedict(&lx, s, ni, dict, nd, "fuzz.index", &st, &e);
    if (rc > 0) abort();
    check_lexicon(&lx);
    synth(&lx, 1);
    lexicon_free(&lx);

    rc = lexicon_add_tsv(&lx, s, size, "fuzz.tsv", &st, &e);
    if (rc > 0) abort();
    check_lexicon(&lx);
    synth(&lx, 0);
    lexicon_free(&lx);
    return 0;
}
