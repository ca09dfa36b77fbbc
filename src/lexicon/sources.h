/*
 * sources.h - more bilingual lexicons, and one merged, scored lexicon per locale.
 *
 * Readers (each from memory, for the tests and the fuzzer, and by file name through
 * lxs_set_add):
 *   - Apertium bilingual dictionaries as lttoolbox's `lt-print` prints a compiled bidix
 *     (AT&T text: "from<TAB>to<TAB>in<TAB>out[<TAB>weight]" arcs, "state[<TAB>weight]" finals,
 *     "--" between sections); every path from state 0 to a final state is an entry, tags
 *     dropped: one file gives both directions;
 *   - CC-CEDICT ("TRAD SIMP [pin1 yin1] /gloss/gloss/"): English glosses to simplified
 *     (zh-CN) and traditional (zh-TW) Chinese;
 *   - FreeDict dictd files (lexicon.c) in both directions: an X-eng dictionary read in
 *     reverse is an English-X one;
 *   - CLDR through ICU (text_cldr_pairs): weekdays, months, relative dates, spelled numbers.
 * lxs_merge then builds one lexicon for a target locale: direct entries first, then
 * Apertium, then translations through a third (pivot) language that two or more pivots
 * agree on, then single-pivot ones; within a tier candidates are ranked by their frequency in
 * unlabeled target-language text, and pivot candidates that text never shows are dropped.
 * See docs/lexicon.md ("More sources").
 */
#ifndef MILLE_SOURCES_H
#define MILLE_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "lexicon.h"

/* Tiers of a merged entry, best first. */
enum { LXS_DIRECT = 0, LXS_APERTIUM, LXS_PIVOT2, LXS_PIVOT1, LXS_TIERS };
const char *lxs_tier_name(int tier); /* "direct", "apertium", "pivot2", "pivot1" */

/* Limits per section of an Apertium dump: entries enumerated (a bidix has 10^4..10^6), arcs
 * walked, symbols per path, states. Over the first two the section is cut short (counted in
 * lexicon_stats.skipped), not refused; a state number over the last is an error. */
#define LXS_MAX_PATHS  (1u << 21)
#define LXS_MAX_DEPTH  256
#define LXS_MAX_STATES (1u << 24)
#define LXS_MAX_STEPS  (1u << 26) /* arcs walked per file */
/* Pivot composition looks at this many translations on each side. */
#define LXS_PIVOT_FANOUT 3
/* Candidates kept per English key in a merged lexicon (synth samples among them). */
#define LXS_MAX_CAND 3

/* `lt-print` output of a bidix: fwd receives left -> right pairs, rev right -> left (either
 * may be NULL). States on a cycle (regular-expression entries) are not entered. st counts
 * entries, new pairs of fwd and sections cut short by the budgets (skipped). Errors:
 * MILLE_EFORMAT ("name:line: expected ..."), MILLE_EUTF8, MILLE_ELIMIT (a state number over
 * LXS_MAX_STATES), MILLE_ENOMEM. */
int lxs_read_att(lexicon *fwd, lexicon *rev, const char *s, size_t n, const char *name,
                 lexicon_stats *st, mille_error *err);
/* CC-CEDICT text: English glosses -> simplified (simp) and traditional (trad) headwords;
 * either may be NULL. Primary glosses (the first of an entry) come before the others. */
int lxs_read_cedict(lexicon *simp, lexicon *trad, const char *s, size_t n, const char *name,
                    lexicon_stats *st, mille_error *err);
/* Every pair of in, turned around, added to out (then finished). */
int lxs_reverse(const lexicon *in, lexicon *out, mille_error *err);

/* ISO 639-3 code of a MASSIVE locale ("zht" stands for zh-TW's traditional script), or NULL;
 * and the canonical form of a code as dictionaries spell it ("en" -> "eng", "zlm" -> "msa",
 * "nor" -> "nob", "rom" -> "ron"), or NULL for a malformed one. */
const char *lxs_locale_code(const char *locale);
const char *lxs_canon_code(const char *code, size_t n, char *buf, size_t cap);

/* One loaded source: pairs from language a to language b. */
typedef struct lxs_source {
    char a[8], b[8]; /* canonical codes */
    int tier;        /* LXS_DIRECT or LXS_APERTIUM */
    char name[96];   /* file name, "(reversed)" for the other direction */
    lexicon lx;
} lxs_source;

typedef struct lxs_set {
    lxs_source *v;
    size_t n, cap;
} lxs_set;

/* Load path by its name, both directions where the source has them:
 *   freedict-AAA-BBB.index (.dict.dz, .dict)  FreeDict / dictd
 *   AAA-BBB.att                               lt-print of an Apertium AAA-BBB.autobil.bin
 *   *cedict*.u8, *cedict*.txt                 CC-CEDICT (eng -> zho and zht)
 *   AAA-BBB.tsv                               word pairs (source<TAB>target)
 * A directory: every file in it that matches, in name order, except pairs of which a
 * language is not one of MASSIVE's (those can be neither a direct source nor a pivot step). Returns
 * the number of files loaded (>= 0; a directory may hold none) or a negative code with err naming
 * the file. */
int lxs_set_add(lxs_set *set, const char *path, mille_error *err);
void lxs_set_free(lxs_set *set);

typedef struct lxs_opts {
    const char *text; /* unlabeled target-language text (one utterance a line), or NULL */
    size_t text_len;
    int cldr;        /* 1: add CLDR pairs from ICU (tier direct) */
    size_t max_cand; /* candidates kept per key (LXS_MAX_CAND when 0) */
} lxs_opts;

/* A merged lexicon: lx (each key's candidates best first) and, per pair of lx (in the order
 * pairs were added: key by key, best first, which is also lookup order), its tier, frequency
 * in the text and source. */
typedef struct lxs_merged {
    lexicon lx;
    uint8_t *tier;             /* (lx.n_pairs) */
    uint32_t *freq;            /* (lx.n_pairs) */
    uint32_t *source;          /* (lx.n_pairs) id in names */
    strtab names;              /* source names */
    size_t by_tier[LXS_TIERS]; /* pairs kept of each tier */
    size_t dropped;            /* pivot candidates the text never shows */
} lxs_merged;

/* The merged lexicon of English -> locale from the sources of set. out is zero-initialized
 * by the caller; free with lxs_merged_free. Returns 0 or a negative code. */
int lxs_merge(const lxs_set *set, const char *locale, const lxs_opts *o, lxs_merged *out,
              mille_error *err);
void lxs_merged_free(lxs_merged *m);
/* Write m as TSV, "english<TAB>target<TAB>tier<TAB>frequency<TAB>source" per line, each key's
 * candidates best first (lexicon_load reads it back: the columns after the second are
 * ignored), atomically (temporary file, then rename). */
int lxs_write_tsv(const lxs_merged *m, const char *path, mille_error *err);

/* 1 if the English word w (already normalized) or a naive de-inflection of it ("alarms",
 * "playing", "turned", "tomorrow's") is a key of lx: the coverage measure of `mille
 * lexicons --coverage`. tb is scratch. */
int lxs_en_covered(const lexicon *lx, const char *w, size_t n, char *tmp, size_t tmp_cap);

#endif /* MILLE_SOURCES_H */
