/*
 * codeswitch.h - code-switching during training: every epoch, each labeled utterance of the
 * source language (en-US) is seen again with random words swapped for their translations
 * from a bilingual lexicon, slot labels carried from each word to the words of its
 * translation (CoSDA-ML, Qin et al. 2020, "Multi-Lingual Code-Switching Data Augmentation for
 * Zero-Shot Cross-Lingual NLP"). Unlike the static word-by-word copies of `mille synth`, the
 * switched words and the translations chosen change from epoch to epoch, so the model sees
 * each English word in many contexts of target words, and never the same mixture twice.
 *
 * Determinism: a copy depends only on (seed, epoch, record, copy number), never on the order
 * records are processed in or on the thread that makes it: fixed seed and threads give the
 * same training run, and resuming from a checkpoint replays the same copies.
 *
 * A cs_set is read-only after cs_load and shared by threads; each thread has its own
 * cs_scratch.
 */
#ifndef MILLE_CODESWITCH_H
#define MILLE_CODESWITCH_H

#include "core.h"
#include "data.h"
#include "lexicon.h"

/* One target language: its lexicon (source phrases -> translations) and its locale. */
typedef struct cs_lexicon {
    lexicon lx;
    char locale[16]; /* "" when the file name does not tell */
    int char_split;  /* the locale writes words as characters (ja-JP, zh-*): a translation
                        becomes one word per character, as MASSIVE's own records are */
} cs_lexicon;

typedef struct cs_set {
    cs_lexicon *lex; /* (n) */
    size_t n;
    float rate;    /* probability that a word (or a lexicon phrase) is swapped */
    uint64_t seed; /* with epoch, record and copy number: the choices of one copy */
} cs_set;

/* Load the lexicons named by specs[0..n): "PATH" or "LOCALE=PATH" (any file lexicon_load
 * reads). Without LOCALE= the locale comes from the file name: "fr-FR.tsv" (tools/lexicons.sh)
 * or "freedict-eng-fra.index" (FreeDict's language code); else it stays unknown (words are
 * then joined with spaces). Returns 0 or a negative code with err naming the file. */
int cs_load(cs_set *cs, const char *const *specs, size_t n, float rate, uint64_t seed,
            mille_error *err);
/* NULL is a no-op. */
void cs_free(cs_set *cs);

/* Per-thread scratch; zero-initialize, free with cs_scratch_free. The last copy made: */
typedef struct cs_scratch {
    char *text; /* (len + 1) the copy's words joined by single spaces, NUL-terminated */
    size_t len;
    data_word *words; /* (n_words) offsets into text and the slot labels of the record */
    size_t n_words;
    size_t swapped;     /* source words replaced by a translation */
    const char *locale; /* the target locale of this copy ("" when unknown) */
    /* private */
    size_t cap_text, cap_words;
    char *norm;     /* the record's words, normalized, one space apart */
    uint32_t *noff; /* (2 * words) offset and length of each word in norm */
    size_t cap_norm, cap_noff;
    annot_word *aw;
    size_t cap_aw;
    annot_scratch as;
    text_buf tb;
} cs_scratch;
void cs_scratch_free(cs_scratch *sc);

/* The lexicon copy `copy` of record r uses in epoch `epoch`: they rotate, so that with as many
 * copies as lexicons each record visits every language once per epoch. */
size_t cs_lexicon_of(const cs_set *cs, uint32_t r, uint64_t epoch, uint32_t copy);

/* Make the code-switched copy number `copy` of record r of ds for epoch `epoch` into sc
 * (sc->text, sc->words): longest lexicon match first (never across a slot boundary, as
 * synthesis does), each match swapped with probability cs->rate for one of its translations
 * (lexicon_pick), split into words by the target locale's rules; every word of a translation
 * takes the label of the source words it replaces; the other words stay as they are.
 * Returns 0 or a negative code (MILLE_ENOMEM, MILLE_EUTF8) with err set. */
int cs_record(const cs_set *cs, const data_set *ds, uint32_t r, uint64_t epoch, uint32_t copy,
              cs_scratch *sc, mille_error *err);

#endif
