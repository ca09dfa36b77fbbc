/*
 * lexicon.h - bilingual word lists and word-by-word synthesis of labeled data.
 *
 * A lexicon maps source phrases (one to LEXICON_MAX_WORDS words, NFKC + case folded, words
 * separated by one space) to translations, first-listed sense first. It is read from
 *   - FreeDict dictionaries in dictd format, as Debian installs them
 *     (/usr/share/dictd/freedict-eng-fra.index + freedict-eng-fra.dict.dz), and
 *   - plain TSV word pairs: "source<TAB>target[<TAB>anything]" per line, '#' comments.
 * Several files merge into one lexicon; translations of earlier files come first.
 *
 * Synthesis (synth_record) turns one labeled MASSIVE record of the source language into one
 * of the target language: longest match first, slot labels carried from each source word to
 * the words of its translation, never matching a phrase across a slot boundary. See
 * docs/lexicon.md for the formats, the language-code table and the limits.
 *
 * A lexicon is read-only after loading (lookups take const): share it between threads, but
 * give each thread its own text_buf / synth_ctx scratch.
 */
#ifndef MILLE_LEXICON_H
#define MILLE_LEXICON_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "text.h"

/* Longest source phrase kept and matched, in words ("alarm clock", "turn off the light"). */
#define LEXICON_MAX_WORDS 4
/* Translations kept per source phrase; later senses of big dictionaries are rarely useful. */
#define LEXICON_MAX_TRANS 64
/* Longest translation kept, in words: longer ones are explanations, not translations. */
#define LEXICON_MAX_TRANS_WORDS 5

typedef struct lexicon {
    strtab keys;        /* normalized source phrases; a key's id is its entry number */
    strtab trans;       /* distinct translations (strings shared between keys)       */
    uint32_t *pair_key; /* (P) key id of each (key, translation) pair, in load order */
    uint32_t *pair_tr;  /* (P) translation id of each pair                            */
    uint8_t *pair_tier; /* (P) 0 plain sense, 1 tagged as specialised ("[med.]")     */
    size_t n_pairs, cap_pairs;
    uint64_t *pairset; /* (pairset_cap) open addressing: (key+1) << 32 | tr, 0 = empty */
    size_t pairset_cap;
    uint8_t *key_count; /* (keys.n) pairs kept per key, at most LEXICON_MAX_TRANS */
    size_t cap_key_count;
    uint32_t *off;      /* (keys.n + 1) translations of key k: csr[off[k] .. off[k+1]) */
    uint32_t *csr;      /* (P) translation ids grouped by key: tier 0 then 1, each in load order */
    unsigned max_words; /* longest key loaded, in words */
    /* private: loading scratch */
    text_buf tb, tb2;
} lexicon;

/* What one file added. */
typedef struct lexicon_stats {
    size_t entries; /* dictionary entries (index lines without the 00-database ones) or TSV
                       pairs read */
    size_t skipped; /* entries that gave nothing: cross-references indexed under another
                       headword, phrases longer than LEXICON_MAX_WORDS, no clean translation */
    size_t pairs;   /* new (source, translation) pairs */
} lexicon_stats;

/* Add the lexicon at path to lx (zero-initialized before the first call):
 *   *.index            FreeDict/dictd index; the entries are read from the .dict.dz (or
 *                      .dict) beside it;
 *   *.dict.dz, *.dict  the same dictionary named by its data file (the .index beside it);
 *   *.tsv, *.txt       TSV word pairs.
 * st may be NULL. Returns 0, or MILLE_EIO (cannot read; a missing .dict.dz), MILLE_EFORMAT
 * (bad base64, an entry beyond the end of the .dict, a line without a tab, no entries),
 * MILLE_EUTF8, MILLE_EINVAL (unknown extension), MILLE_ENOMEM; err names the file and the
 * line or byte offset. On failure lx keeps what earlier calls added and stays usable. */
int lexicon_load(lexicon *lx, const char *path, lexicon_stats *st, mille_error *err);

/* The same from memory (the fuzzer and the tests use these). name is used in messages.
 * dict is the uncompressed .dict text. */
int lexicon_add_freedict(lexicon *lx, const char *index, size_t index_len, const char *dict,
                         size_t dict_len, const char *name, lexicon_stats *st, mille_error *err);
int lexicon_add_tsv(lexicon *lx, const char *s, size_t n, const char *name, lexicon_stats *st,
                    mille_error *err);

/* Translations of an already normalized key (as lexicon_normalize makes it): returns their
 * count (0 when absent) and points *tr at their ids, valid until lx changes. */
size_t lexicon_lookup(const lexicon *lx, const char *key, size_t n, const uint32_t **tr);

/* Normalize a source phrase the way keys are: NFKC + case folding, whitespace runs to one
 * space, no leading/trailing space. The result is in tb->s (tb->len bytes; offsets are not
 * kept). Returns 0 or MILLE_EUTF8 / MILLE_ENOMEM / MILLE_ERANGE. */
int lexicon_normalize(const char *s, size_t n, text_buf *tb, mille_error *err);

/* lexicon_normalize then lexicon_lookup: returns the count (>= 0) or a negative code. */
int lexicon_find(const lexicon *lx, const char *src, size_t n, text_buf *tb, const uint32_t **tr,
                 mille_error *err);

/* Which of cnt translations to use: the first with probability 2/3, each later one a third
 * as likely as the one before, among the first 8 (synthesis and code-switching). */
size_t lexicon_pick(rng *g, size_t cnt);

static inline const char *lexicon_str(const lexicon *lx, uint32_t tr)
{
    return strtab_str(&lx->trans, tr);
}
static inline size_t lexicon_n_keys(const lexicon *lx) { return lx->keys.n; }

/* NULL is a no-op; lx is zeroed and reusable. */
void lexicon_free(lexicon *lx);

/* dictd's base64 number (A-Z a-z 0-9 + /, most significant digit first, no padding):
 * returns 0 and sets *out, or -1 (empty, a character outside the alphabet, over 10 digits). */
int lexicon_b64(const char *s, size_t n, uint64_t *out);

/* ---- languages -------------------------------------------------------------------------- */

/* The MASSIVE locales, in the release's order (52). */
extern const char *const lexicon_massive_locales[];
extern const size_t lexicon_n_massive_locales;

/* MASSIVE locale of a FreeDict language code (ISO 639-3 as FreeDict uses it: "fra", "nor",
 * "rom" ...), or NULL. For "zho"/"cmn" it is zh-CN (zh-TW is the second match, k = 1).
 * k selects among several locales of one code; NULL past the last. */
const char *lexicon_code_locale(const char *code, size_t k);

/* Facts of an installed FreeDict dictionary for listings: index entries (without the
 * 00-database ones) and the 00-database-short description (read from the start of the .dict;
 * "" when absent). Returns 0 or a negative code with err naming the file. */
int lexicon_freedict_info(const char *index_path, size_t *entries, char *desc, size_t desc_cap,
                          mille_error *err);

/* ---- synthesis -------------------------------------------------------------------------- */

/* Counts over a synthesis run, and the words no lexicon knew. Zero-initialize; free with
 * synth_stats_free. */
typedef struct synth_stats {
    size_t records, skipped;        /* records written / skipped (nothing left, bad record) */
    size_t words, words_translated; /* source words, and those a lexicon match covered      */
    size_t slot_words, slot_words_translated; /* the same for words inside slots        */
    strtab unknown;                           /* normalized words without a translation */
    uint32_t *unknown_count;                  /* (unknown.n) */
    size_t cap_unknown;
} synth_stats;
void synth_stats_free(synth_stats *st);

typedef struct synth_opts {
    uint64_t seed;    /* choices among translations: per record, seeded by seed and the id */
    int drop_unknown; /* 1: drop words no lexicon knows; 0: keep them as they are         */
    int src_split;    /* the source locale splits words into characters (annot_char_split) */
    int dst_split;    /* the target locale does: no spaces between its words             */
} synth_opts;

/* Per-thread scratch and the output of synth_record. Zero-initialize; free with
 * synth_free. */
typedef struct synth_ctx {
    char *utt, *annot; /* output, NUL-terminated; valid until the next synth_record */
    size_t utt_len, annot_len;
    /* private */
    size_t cap_utt, cap_annot;
    annot_scratch as;
    annot_word *aw;
    size_t cap_aw;
    char *norm; /* normalized words, separated by one space */
    size_t cap_norm;
    uint32_t *noff; /* (2 * words) offset and length of each word in norm */
    size_t cap_n;
    struct synth_tok *toks;
    size_t cap_toks;
    text_buf tb;
} synth_ctx;
void synth_free(synth_ctx *c);

/* Translate one record: utt and annot are its MASSIVE utt and annot_utt in the source locale,
 * id its id (seeds its choices, so output does not depend on record order). On success
 * c->utt / c->annot hold the target record (annot in MASSIVE syntax, which annot_parse reads
 * back with o->dst_split) and st is updated. Returns 1 when written, 0 when skipped (every
 * word dropped), or a negative code (bad annot_utt, MILLE_ENOMEM) with err set. */
int synth_record(synth_ctx *c, const lexicon *lx, const char *id, const char *utt, size_t utt_len,
                 const char *annot, size_t annot_len, const synth_opts *o, synth_stats *st,
                 mille_error *err);

/* ---- pairs from other readers (sources.c) ----------------------------------------------- */

/* Add one (source, target) pair: the source normalized as keys are (lexicon_normalize), the
 * target lower-cased as dictionary translations are. A source of more than LEXICON_MAX_WORDS
 * words or starting with '#' (a comment in TSV), a target of more than
 * LEXICON_MAX_TRANS_WORDS, or an empty side is skipped (0).
 * Returns 1 (new pair), 0 (known or skipped), or MILLE_EUTF8 / MILLE_ENOMEM with err set.
 * Call lexicon_finish after the last pair, before any lookup. */
int lexicon_add_pair(lexicon *lx, const char *src, size_t sn, const char *tgt, size_t tn,
                     mille_error *err);
int lexicon_finish(lexicon *lx, mille_error *err);

#endif /* MILLE_LEXICON_H */
