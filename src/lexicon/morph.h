/*
 * morph.h - inflected forms for lexicon translations, from a hunspell dictionary and
 * unlabeled text in the target language.
 *
 * Dictionaries give lemmas ("budzik", "muzyka"); real utterances use inflected forms
 * ("budzika", "muzykę"). Word-by-word synthesis with lemmas therefore teaches the model forms
 * the test utterances rarely contain. Here every distinct word of the unlabeled target text is
 * reduced to its stems with hunspell (the dictionary's affix rules: Debian's hunspell-*
 * packages), and each one-word translation of a lexicon is replaced by the forms of the text
 * that share a stem with it, most frequent first: the forms people actually write, in the
 * proportions they write them. A translation whose stem the text never shows stays as it is.
 *
 * What it does not do: choose the form the English context needs (case after a preposition,
 * agreement); inflect multi-word translations; generate forms the text does not contain
 * (hunspell can, but which form to use is the question the text answers).
 *
 * A morph is used by one thread at a time (hunspell handles are not thread-safe).
 */
#ifndef MILLE_MORPH_H
#define MILLE_MORPH_H

#include <stdio.h>

#include "core.h"
#include "lexicon.h"

typedef struct morph morph;

/* Open the hunspell dictionary PREFIX.aff + PREFIX.dic ("/usr/share/hunspell/pl_PL").
 * Dictionaries in another encoding than UTF-8 (SET ISO8859-2 ...) are converted with iconv.
 * Returns NULL with err set: MILLE_EIO (a file missing or unreadable), MILLE_EINVAL (an
 * encoding iconv does not know), MILLE_ENOMEM. */
morph *morph_open(const char *prefix, mille_error *err);
/* NULL is a no-op. */
void morph_free(morph *m);

/* The stems hunspell gives word w[0..n) (UTF-8), case folded, one space-free string each,
 * into out (cleared first); a lower-case word the dictionary lists capitalized (German
 * nouns) is tried capitalized too. Returns the number of stems (0: the dictionary does not
 * know the word) or a negative code. */
int morph_stems(morph *m, const char *w, size_t n, strtab *out, mille_error *err);

/* Count the words of text[0..n) (lines of unlabeled utterances; words split as MASSIVE splits
 * them for char_split) and index each distinct word under its stems. May be called several
 * times. Returns 0 or a negative code (MILLE_EUTF8 names the byte offset). */
int morph_add_text(morph *m, const char *text, size_t n, int char_split, mille_error *err);

/* What morph_inflect did. */
typedef struct morph_stats {
    size_t keys;         /* source phrases written */
    size_t translations; /* one-word translations looked at */
    size_t inflected;    /* ... that the text showed forms of */
    size_t pairs;        /* lines written */
} morph_stats;

/* Write lx as a TSV lexicon ("source<TAB>target" lines, keys in lx's order, translations in
 * their order) with every one-word translation replaced by up to max_forms forms of the text
 * sharing a stem with it, most frequent first (ties: first seen). st may be NULL. Returns 0
 * or a negative code (MILLE_EIO when writing fails). */
int morph_inflect(morph *m, const lexicon *lx, size_t max_forms, FILE *out, morph_stats *st,
                  mille_error *err);

/* The forms of the text indexed under the stems of word w (what morph_inflect uses), most
 * frequent first, at most cap, into ids (form ids; morph_form names them). Returns the count
 * or a negative code. For tests and `mille inflect --show`. */
int morph_forms(morph *m, const char *w, size_t n, uint32_t *ids, size_t cap, mille_error *err);
const char *morph_form(const morph *m, uint32_t id, uint32_t *count);

#endif
