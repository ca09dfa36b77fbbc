/*
 * augment.h - perturbed copies of labeled utterances, for distillation: the teachers label
 * them, so the student learns how the teachers behave off the clean training text. Each word
 * may be dropped, repeated, misspelled (a deleted, doubled, swapped or neighbouring-key
 * character) or swapped for a translation from a bilingual lexicon (code-switching); slot
 * labels stay aligned with the words they belong to.
 */
#ifndef MILLE_AUGMENT_H
#define MILLE_AUGMENT_H

#include "core.h"
#include "data.h"
#include "lexicon.h"

typedef struct aug_opts {
    float drop;        /* probability of dropping a word (never the last one left)          */
    float repeat;      /* ... of repeating it                                                */
    float typo;        /* ... of one character edit in a word of 3 or more characters        */
    float swap;        /* ... of replacing it by a lexicon translation (when it has one)      */
    const lexicon *lx; /* NULL: no code-switching */
} aug_opts;

aug_opts aug_default_opts(void);

/* Reusable scratch (one per thread; zero-initialize, free with aug_scratch_free). */
typedef struct aug_scratch {
    char *text;
    size_t cap_text;
    data_word *words;
    size_t cap_words;
    text_buf tb;
} aug_scratch;
void aug_scratch_free(aug_scratch *s);

/* Append to ds a perturbed copy of record r of ds in partition `partition`, drawing from g.
 * Returns 1 if a copy was added, 0 if the perturbation changed nothing (no copy), or a
 * negative code. */
int aug_perturb(data_set *ds, uint32_t r, uint32_t partition, rng *g, const aug_opts *o,
                aug_scratch *sc, mille_error *err);

/* One character edit of word w (n bytes, valid UTF-8) into out (room for n + 4 bytes):
 * returns the new length, or 0 when the word is too short to misspell. Exposed for tests. */
size_t aug_typo(const char *w, size_t n, rng *g, char *out);

#endif
