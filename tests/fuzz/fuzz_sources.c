/* fuzz_sources.c - libFuzzer target: the lexicon source readers of src/lexicon/sources.c on
 * arbitrary bytes. The whole input is read as an lt-print dump of an Apertium bidix (both
 * directions) and as CC-CEDICT; each lexicon that loads is checked (lookup arrays consistent,
 * every string valid UTF-8, every key found by lookup), reversed, and merged with the others
 * through a toy pivot into a scored lexicon whose TSV form must read back. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lexicon.h"
#include "sources.h"

static void check_lexicon(const lexicon *lx)
{
    size_t bad;
    if (lx->keys.n && !lx->off) abort();
    for (size_t k = 0; k < lx->keys.n; k++) {
        if (lx->off[k] > lx->off[k + 1] || lx->off[k + 1] > lx->n_pairs) abort();
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    mille_error err;
    lxs_set set = {0};
    /* the fuzzer's lexicons go into a set as they would from files: eng -> ron (Apertium
     * dump, forward), ron -> eng, eng -> zho (CEDICT) and zho -> ron (CEDICT reversed) */
    if (vec_reserve((void **)&set.v, &set.cap, 4, sizeof *set.v)) return 0;
    memset(set.v, 0, 4 * sizeof *set.v);
    set.n = 4;
    static const char *const ab[4][2] = {
        {"eng", "ron"}, {"ron", "eng"}, {"eng", "zho"}, {"zho", "ron"}};
    for (int i = 0; i < 4; i++) {
        memcpy(set.v[i].a, ab[i][0], 4);
        memcpy(set.v[i].b, ab[i][1], 4);
        set.v[i].tier = i < 2 ? LXS_APERTIUM : LXS_DIRECT;
        memcpy(set.v[i].name, "fuzz", 5);
    }
    if (lxs_read_att(&set.v[0].lx, &set.v[1].lx, s, size, "fuzz.att", NULL, &err) == 0) {
        check_lexicon(&set.v[0].lx);
        check_lexicon(&set.v[1].lx);
    }
    lexicon trad = {0};
    if (lxs_read_cedict(&set.v[2].lx, &trad, s, size, "fuzz.u8", NULL, &err) == 0) {
        check_lexicon(&set.v[2].lx);
        check_lexicon(&trad);
    }
    if (lxs_reverse(&trad, &set.v[3].lx, &err) == 0) check_lexicon(&set.v[3].lx);
    lexicon_free(&trad);
    lxs_merged m = {0};
    lxs_opts o = {s, size, 0, 0};
    if (lxs_merge(&set, "ro-RO", &o, &m, &err) == 0) {
        check_lexicon(&m.lx);
        if (m.lx.n_pairs) {
            char path[] = "/tmp/fuzz_sources_XXXXXX.tsv";
            int fd = mkstemps(path, 4);
            if (fd >= 0) {
                close(fd);
                if (lxs_write_tsv(&m, path, &err) != 0) abort();
                lexicon back = {0};
                if (lexicon_load(&back, path, NULL, &err) != 0) abort();
                check_lexicon(&back);
                lexicon_free(&back);
                unlink(path);
            }
        }
    }
    lxs_merged_free(&m);
    lxs_set_free(&set);
    return 0;
}
