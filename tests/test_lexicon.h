/* test_lexicon.h - what the lexicon tests share (defined in test_lexicon.c). */
#ifndef MILLE_TEST_LEXICON_H
#define MILLE_TEST_LEXICON_H

#include "lexicon.h"

/* Translations of src in lx joined with '|' ("" when absent), in a static buffer. */
const char *lexicon_test_tr(const lexicon *lx, const char *src);

#endif
