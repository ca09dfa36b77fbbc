/*
 * sources.c - lexicon readers beyond FreeDict (Apertium via lt-print, CC-CEDICT, reversed
 * dictionaries, CLDR) and the merge of all of them into one scored lexicon per locale.
 *
 * What it implements:
 *   - lt-print's AT&T dump of a compiled Apertium bidix: arcs and finals per section, every
 *     path from state 0 to a final state enumerated depth first (a state is not re-entered on
 *     the current path, so cycles end; paths and depth are capped), input and output symbols
 *     concatenated with tags (<n>, <vblex> ...) and epsilons dropped: "house" / "casa";
 *   - CC-CEDICT lines: glosses cleaned ("(...)" notes dropped, "to " of verbs dropped;
 *     "variant of", "surname", "CL:" and similar glosses skipped), first glosses of all
 *     entries before later ones;
 *   - the merge (lxs_merge): candidate (english, target) pairs from each tier, pivots
 *     composed eng -> P -> X through the first LXS_PIVOT_FANOUT translations on each side, with
 *     the set of pivot languages that reach each pair (two or more agreeing is the safer tier:
 *     Wang, Ruder & Neubig 2022 and the measurements in ../shared/notes/zeroshot-resources.md),
 *     ranked by tier, then by frequency in the target's unlabeled text, then by the order the
 *     sources list them.
 * What it does not: run Apertium (no morphology, no transfer: only the bilingual entries), read
 *   the binary .bin files itself (lt-print does; its text format is stable and documented),
 *   stem or segment target text (frequencies are of whitespace words: spaceless scripts get
 *   no frequency filter).
 *
 * References: lttoolbox lt-print(1) and the AT&T FSM text format; CC-CEDICT format
 * (cc-cedict.org/wiki/format:syntax); FreeDict (lexicon.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "sources.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "text.h"

const char *lxs_tier_name(int tier)
{
    static const char *const names[LXS_TIERS] = {"direct", "apertium", "pivot2", "pivot1"};
    return tier >= 0 && tier < LXS_TIERS ? names[tier] : "?";
}

/* ---- language codes ------------------------------------------------------------------------ */

static const char *const locale_codes[][2] = {
    {"af-ZA", "afr"}, {"am-ET", "amh"}, {"ar-SA", "ara"}, {"az-AZ", "aze"}, {"bn-BD", "ben"},
    {"ca-ES", "cat"}, {"cy-GB", "cym"}, {"da-DK", "dan"}, {"de-DE", "deu"}, {"el-GR", "ell"},
    {"en-US", "eng"}, {"es-ES", "spa"}, {"fa-IR", "fas"}, {"fi-FI", "fin"}, {"fr-FR", "fra"},
    {"he-IL", "heb"}, {"hi-IN", "hin"}, {"hu-HU", "hun"}, {"hy-AM", "hye"}, {"id-ID", "ind"},
    {"is-IS", "isl"}, {"it-IT", "ita"}, {"ja-JP", "jpn"}, {"jv-ID", "jav"}, {"ka-GE", "kat"},
    {"km-KH", "khm"}, {"kn-IN", "kan"}, {"ko-KR", "kor"}, {"lv-LV", "lav"}, {"ml-IN", "mal"},
    {"mn-MN", "mon"}, {"ms-MY", "msa"}, {"my-MM", "mya"}, {"nb-NO", "nob"}, {"nl-NL", "nld"},
    {"pl-PL", "pol"}, {"pt-PT", "por"}, {"ro-RO", "ron"}, {"ru-RU", "rus"}, {"sl-SL", "slv"},
    {"sq-AL", "sqi"}, {"sv-SE", "swe"}, {"sw-KE", "swh"}, {"ta-IN", "tam"}, {"te-IN", "tel"},
    {"th-TH", "tha"}, {"tl-PH", "tgl"}, {"tr-TR", "tur"}, {"ur-PK", "urd"}, {"vi-VN", "vie"},
    {"zh-CN", "zho"}, {"zh-TW", "zht"},
};

const char *lxs_locale_code(const char *locale)
{
    for (size_t i = 0; i < sizeof locale_codes / sizeof locale_codes[0]; i++)
        if (strcmp(locale_codes[i][0], locale) == 0) return locale_codes[i][1];
    return NULL;
}

/* Two-letter codes (Apertium's older pairs) and the variants dictionaries use. */
static const char *const code_alias[][2] = {
    {"en", "eng"},  {"es", "spa"},  {"ro", "ron"},  {"ca", "cat"},  {"id", "ind"},  {"ms", "msa"},
    {"sv", "swe"},  {"da", "dan"},  {"is", "isl"},  {"ur", "urd"},  {"hi", "hin"},  {"pt", "por"},
    {"it", "ita"},  {"fr", "fra"},  {"af", "afr"},  {"nl", "nld"},  {"nb", "nob"},  {"no", "nob"},
    {"de", "deu"},  {"fi", "fin"},  {"pl", "pol"},  {"ru", "rus"},  {"sl", "slv"},  {"el", "ell"},
    {"zlm", "msa"}, {"zsm", "msa"}, {"nor", "nob"}, {"rom", "ron"}, {"arb", "ara"}, {"swa", "swh"},
    {"pes", "fas"}, {"khk", "mon"}, {"lvs", "lav"}, {"azj", "aze"}, {"als", "sqi"}, {"cmn", "zho"},
};

const char *lxs_canon_code(const char *code, size_t n, char *buf, size_t cap)
{
    if (n < 2 || n > 3 || cap < 4) return NULL;
    for (size_t i = 0; i < n; i++)
        if (code[i] < 'a' || code[i] > 'z') return NULL;
    memcpy(buf, code, n);
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof code_alias / sizeof code_alias[0]; i++)
        if (strcmp(code_alias[i][0], buf) == 0) {
            snprintf(buf, cap, "%s", code_alias[i][1]);
            break;
        }
    return strlen(buf) == 3 ? buf : NULL;
}

/* ---- small helpers ------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sbuf_put(sbuf *b, const char *s, size_t n)
{
    if (vec_reserve((void **)&b->p, &b->cap, b->n + n + 1, 1)) return MILLE_ENOMEM;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return MILLE_OK;
}

/* Next line of s[*i..n) (without '\n' or '\r'); 0 at the end. */
static int next_line(const char *s, size_t n, size_t *i, const char **ln, size_t *m)
{
    if (*i >= n) return 0;
    const char *p = s + *i, *nl = memchr(p, '\n', n - *i);
    *m = nl ? (size_t)(nl - p) : n - *i;
    *i += *m + 1;
    *ln = p;
    if (*m && p[*m - 1] == '\r') (*m)--;
    return 1;
}

/* A decimal number of at most 9 digits: 0 and *out, or -1. */
static int parse_num(const char *s, size_t n, uint32_t *out)
{
    if (n == 0 || n > 9) return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* ---- Apertium: lt-print's AT&T text -------------------------------------------------------- */

typedef struct att_arc {
    uint32_t from, to;
    uint32_t in, in_n, out, out_n; /* symbol text: offsets into the file */
} att_arc;

typedef struct att_ctx {
    const char *s, *name;
    lexicon *fwd, *rev;
    lexicon_stats st;
    att_arc *arcs;
    size_t n_arcs, cap_arcs;
    uint32_t *first; /* (states + 1) CSR of arcs by from-state */
    uint8_t *final;  /* (states) */
    uint8_t *skip;   /* (states) on a cycle, or no final state reachable: never entered */
    size_t cap_states;
    uint32_t n_states;
    sbuf a, b; /* the current path's input and output text */
    size_t paths, steps;
} att_ctx;

/* What a symbol contributes to an entry: 0 nothing (epsilon, '#' of multiword groups), 1 text
 * (*t, *tn), 2 a tag. */
static int att_symbol(const char *s, size_t n, const char **t, size_t *tn)
{
    if (n == 0) return 0;
    if ((n == 2 && memcmp(s, "\xce\xb5", 2) == 0) || (n == 3 && memcmp(s, "@0@", 3) == 0) ||
        (n == 18 && memcmp(s, "@_EPSILON_SYMBOL_@", 18) == 0))
        return 0;
    if (n > 2 && s[0] == '<' && s[n - 1] == '>') return 2;
    if (n == 9 && memcmp(s, "@_SPACE_@", 9) == 0) {
        *t = " ", *tn = 1;
        return 1;
    }
    if (n == 1 && s[0] == '#') return 0;
    *t = s, *tn = n;
    return 1;
}

static int att_emit(att_ctx *c, mille_error *err)
{
    c->st.entries++;
    if (!c->a.n || !c->b.n) return MILLE_OK;
    int rc = 0;
    if (c->fwd) {
        rc = lexicon_add_pair(c->fwd, c->a.p, c->a.n, c->b.p, c->b.n, err);
        if (rc > 0) c->st.pairs++;
    }
    if (rc >= 0 && c->rev) rc = lexicon_add_pair(c->rev, c->b.p, c->b.n, c->a.p, c->a.n, err);
    if (rc < 0) {
        err_prefix(err, "%s: ", c->name);
        return rc;
    }
    return MILLE_OK;
}

/* Depth-first walk of one section from `state` (recursion bounded by LXS_MAX_DEPTH). An
 * entry ends where both sides have passed their first tag: the rest of the path is more
 * tags (gender, number ...), which would multiply the paths, not the entries; since every
 * state entered reaches a final state, the entry is emitted there. Returns 0, 1 when a
 * budget ran out (the section is cut short), or a negative code. */
static int att_walk(att_ctx *c, uint32_t state, unsigned depth, int in_tag, int out_tag,
                    mille_error *err)
{
    int rc;
    if (c->final[state] || (in_tag && out_tag)) {
        if (++c->paths > LXS_MAX_PATHS) return 1;
        if ((rc = att_emit(c, err)) < 0) return rc;
        if (in_tag && out_tag) return MILLE_OK;
    }
    if (depth >= LXS_MAX_DEPTH) return MILLE_OK;
    for (uint32_t k = c->first[state]; k < c->first[state + 1]; k++) {
        const att_arc *e = &c->arcs[k];
        if (c->skip[e->to]) continue;
        if (++c->steps > LXS_MAX_STEPS) return 1;
        size_t an = c->a.n, bn = c->b.n;
        const char *t;
        size_t tn;
        int si = att_symbol(c->s + e->in, e->in_n, &t, &tn);
        if (si == 1 && !in_tag && sbuf_put(&c->a, t, tn))
            return err_set(err, MILLE_ENOMEM, "out of memory");
        int so = att_symbol(c->s + e->out, e->out_n, &t, &tn);
        if (so == 1 && !out_tag && sbuf_put(&c->b, t, tn))
            return err_set(err, MILLE_ENOMEM, "out of memory");
        rc = att_walk(c, e->to, depth + 1, in_tag || si == 2, out_tag || so == 2, err);
        c->a.n = an, c->b.n = bn;
        if (rc) return rc;
    }
    return MILLE_OK;
}

static int att_grow_states(att_ctx *c, uint32_t need, mille_error *err)
{
    if (need >= LXS_MAX_STATES)
        return err_set(err, MILLE_ELIMIT, "state %u is over the limit of %u", need, LXS_MAX_STATES);
    if (need < c->n_states) return MILLE_OK;
    size_t old = c->cap_states, c1 = old, c2 = old, c3 = old;
    if (vec_reserve((void **)&c->final, &c1, (size_t)need + 2, 1) ||
        vec_reserve((void **)&c->skip, &c2, (size_t)need + 2, 1) ||
        vec_reserve((void **)&c->first, &c3, (size_t)need + 2, sizeof *c->first))
        return err_set(err, MILLE_ENOMEM, "out of memory");
    c->cap_states = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
    memset(c->final + c->n_states, 0, (size_t)need + 1 - c->n_states);
    memset(c->skip + c->n_states, 0, (size_t)need + 1 - c->n_states);
    c->n_states = need + 1;
    return MILLE_OK;
}

static int arc_cmp(const void *x, const void *y)
{
    const att_arc *a = x, *b = y;
    if (a->from != b->from) return a->from < b->from ? -1 : 1;
    return (a->in > b->in) - (a->in < b->in); /* file order within a state */
}

/* Mark the states to skip: those on a cycle (Tarjan's strongly connected components, run
 * iteratively: a component of two or more states, or a state with an arc to itself; such
 * parts of a bidix are regular expressions, whose simple paths can be exponentially many)
 * and those from which no final state is reachable (a reverse breadth-first search). */
static int att_mark_skip(att_ctx *c)
{
    uint32_t N = c->n_states;
    uint32_t *idx = malloc((size_t)N * sizeof *idx), *low = malloc((size_t)N * sizeof *low);
    uint32_t *stk = malloc((size_t)N * sizeof *stk), *cs = malloc((size_t)N * sizeof *cs);
    uint32_t *pos = malloc((size_t)N * sizeof *pos), *rfirst = calloc((size_t)N + 1, 4);
    uint32_t *rarc = malloc((c->n_arcs ? c->n_arcs : 1) * sizeof *rarc);
    uint8_t *ons = calloc(N, 1), *live = calloc(N, 1);
    int rc = MILLE_OK;
    if (!idx || !low || !stk || !cs || !pos || !rfirst || !rarc || !ons || !live) {
        rc = MILLE_ENOMEM;
        goto done;
    }
    const uint32_t UNSEEN = UINT32_MAX;
    for (uint32_t q = 0; q < N; q++) idx[q] = UNSEEN;
    uint32_t counter = 0, sp = 0;
    for (uint32_t root = 0; root < N; root++) {
        if (idx[root] != UNSEEN) continue;
        uint32_t csp = 0;
        cs[csp++] = root;
        idx[root] = low[root] = counter++;
        pos[root] = c->first[root];
        stk[sp++] = root, ons[root] = 1;
        while (csp) {
            uint32_t v = cs[csp - 1];
            if (pos[v] < c->first[v + 1]) {
                uint32_t w = c->arcs[pos[v]++].to;
                if (w == v) c->skip[v] = 1; /* a loop */
                if (idx[w] == UNSEEN) {
                    idx[w] = low[w] = counter++;
                    pos[w] = c->first[w];
                    stk[sp++] = w, ons[w] = 1;
                    cs[csp++] = w;
                } else if (ons[w] && idx[w] < low[v]) {
                    low[v] = idx[w];
                }
                continue;
            }
            csp--;
            if (csp && low[v] < low[cs[csp - 1]]) low[cs[csp - 1]] = low[v];
            if (low[v] == idx[v]) { /* v roots a component: pop it */
                uint32_t size = 0, w;
                size_t top = sp;
                do {
                    w = stk[--sp];
                    ons[w] = 0;
                    size++;
                } while (w != v);
                if (size > 1)
                    for (size_t k = sp; k < top; k++) c->skip[stk[k]] = 1;
            }
        }
    }
    /* reverse arcs, then live = reaches a final state */
    for (size_t k = 0; k < c->n_arcs; k++) rfirst[c->arcs[k].to + 1]++;
    for (uint32_t q = 0; q < N; q++) rfirst[q + 1] += rfirst[q];
    for (uint32_t q = 0; q < N; q++) pos[q] = rfirst[q];
    for (size_t k = 0; k < c->n_arcs; k++) rarc[pos[c->arcs[k].to]++] = c->arcs[k].from;
    uint32_t qn = 0;
    for (uint32_t q = 0; q < N; q++)
        if (c->final[q]) live[q] = 1, stk[qn++] = q;
    while (qn) {
        uint32_t q = stk[--qn];
        for (uint32_t k = rfirst[q]; k < rfirst[q + 1]; k++)
            if (!live[rarc[k]]) live[rarc[k]] = 1, stk[qn++] = rarc[k];
    }
    for (uint32_t q = 0; q < N; q++)
        if (!live[q]) c->skip[q] = 1;
done:
    free(idx);
    free(low);
    free(stk);
    free(cs);
    free(pos);
    free(rfirst);
    free(rarc);
    free(ons);
    free(live);
    return rc;
}

/* Walk the section collected so far, then forget it. */
static int att_section(att_ctx *c, mille_error *err)
{
    if (!c->n_arcs && !c->n_states) return MILLE_OK;
    if (att_grow_states(c, 0, err)) return MILLE_ENOMEM;
    if (c->n_arcs) qsort(c->arcs, c->n_arcs, sizeof *c->arcs, arc_cmp); /* arcs may be NULL */
    size_t k = 0;
    for (uint32_t q = 0; q <= c->n_states; q++) {
        c->first[q] = (uint32_t)k;
        while (k < c->n_arcs && c->arcs[k].from == q) k++;
    }
    int rc = att_mark_skip(c);
    if (rc) return err_set(err, rc, "out of memory");
    c->a.n = c->b.n = 0;
    c->paths = c->steps = 0;
    if (!c->skip[0]) rc = att_walk(c, 0, 0, 0, 0, err);
    if (rc == 1) { /* over a budget: keep what was found, count the section as cut */
        c->st.skipped++;
        rc = MILLE_OK;
    }
    c->n_arcs = 0;
    c->n_states = 0;
    return rc;
}

int lxs_read_att(lexicon *fwd, lexicon *rev, const char *s, size_t n, const char *name,
                 lexicon_stats *st, mille_error *err)
{
    att_ctx c = {0};
    c.s = s, c.name = name, c.fwd = fwd, c.rev = rev;
    size_t i = 0, lineno = 0, m, bad;
    const char *ln;
    int rc = MILLE_OK;
    while (rc == MILLE_OK && next_line(s, n, &i, &ln, &m)) {
        lineno++;
        if (text_utf8_check(ln, m, &bad)) {
            rc = err_set(err, MILLE_EUTF8, "%s:%zu: invalid UTF-8 at byte %zu of the line", name,
                         lineno, bad);
            break;
        }
        if (m == 0) continue;
        if (m == 2 && ln[0] == '-' && ln[1] == '-') {
            rc = att_section(&c, err);
            continue;
        }
        /* up to 5 tab-separated fields; a symbol may be a space, never a tab */
        const char *f[6];
        size_t fn[6], nf = 0, a = 0;
        for (size_t k = 0; k <= m && nf < 6; k++)
            if (k == m || ln[k] == '\t') {
                f[nf] = ln + a, fn[nf++] = k - a;
                a = k + 1;
            }
        /* lt-print ends arc lines with a tab after the weight: an empty last field */
        if (nf > 1 && fn[nf - 1] == 0) nf--;
        uint32_t from, to;
        if ((nf == 1 || nf == 2) && parse_num(f[0], fn[0], &from) == 0) {
            rc = att_grow_states(&c, from, err);
            if (!rc) c.final[from] = 1;
        } else if ((nf == 4 || nf == 5) && parse_num(f[0], fn[0], &from) == 0 &&
                   parse_num(f[1], fn[1], &to) == 0 && fn[2] && fn[3]) {
            rc = att_grow_states(&c, from > to ? from : to, err);
            if (!rc && vec_reserve((void **)&c.arcs, &c.cap_arcs, c.n_arcs + 1, sizeof *c.arcs))
                rc = err_set(err, MILLE_ENOMEM, "out of memory");
            if (!rc)
                c.arcs[c.n_arcs++] = (att_arc){
                    from,           to, (uint32_t)(f[2] - s), (uint32_t)fn[2], (uint32_t)(f[3] - s),
                    (uint32_t)fn[3]};
        } else {
            rc = err_set(err, MILLE_EFORMAT,
                         "%s:%zu: expected 'from<TAB>to<TAB>in<TAB>out[<TAB>weight]' or "
                         "'state[<TAB>weight]' (lt-print output)",
                         name, lineno);
        }
        if (rc == MILLE_ELIMIT) err_prefix(err, "%s:%zu: ", name, lineno); /* a state number */
    }
    if (rc == MILLE_OK) rc = att_section(&c, err);
    if (rc == MILLE_OK && c.st.entries == 0)
        rc = err_set(err, MILLE_EFORMAT, "%s: no entries (no path from state 0 to a final state)",
                     name);
    int f1 = fwd ? lexicon_finish(fwd, rc ? NULL : err) : 0;
    int f2 = rev ? lexicon_finish(rev, rc ? NULL : err) : 0;
    if (!rc) rc = f1 ? f1 : f2;
    if (st) *st = c.st;
    free(c.arcs);
    free(c.first);
    free(c.final);
    free(c.skip);
    free(c.a.p);
    free(c.b.p);
    return rc;
}

/* ---- CC-CEDICT ----------------------------------------------------------------------------- */

/* A gloss cleaned into out, or 0 when it is not a translation to use. */
static int cedict_gloss(const char *g, size_t n, sbuf *out)
{
    static const char *const skip[] = {"variant of", "old variant",   "see ",
                                       "cl:",        "surname ",      "abbr.",
                                       "used in",    "erhua variant", "japanese variant",
                                       "(old)",      "also written",  "pr."};
    out->n = 0;
    for (size_t k = 0; k < sizeof skip / sizeof skip[0]; k++) {
        size_t kn = strlen(skip[k]);
        if (n >= kn && strncasecmp(g, skip[k], kn) == 0) return 0;
    }
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = g[i];
        if (ch == '(') depth++;
        if (!depth && sbuf_put(out, &ch, 1)) return MILLE_ENOMEM;
        if (ch == ')' && depth) depth--;
    }
    /* leftover markup ([pin1 yin1] readings, '|' variants) or digits of a reading: not a word */
    for (size_t i = 0; i < out->n; i++)
        if (strchr("[]|/;:\"", out->p[i])) return 0;
    size_t a = 0, e = out->n;
    while (a < e && out->p[a] == ' ') a++;
    while (e > a && out->p[e - 1] == ' ') e--;
    if (e - a > 3 && strncmp(out->p + a, "to ", 3) == 0) a += 3; /* "to wake up": a verb */
    if (e == a) return 0; /* nothing outside parentheses (then out->p may be NULL) */
    memmove(out->p, out->p + a, e - a);
    out->n = e - a;
    out->p[out->n] = '\0';
    return out->n > 0;
}

int lxs_read_cedict(lexicon *simp, lexicon *trad, const char *s, size_t n, const char *name,
                    lexicon_stats *st, mille_error *err)
{
    lexicon_stats sts = {0};
    sbuf g = {0};
    int rc = MILLE_OK;
    /* pass 0: the first gloss of every entry; pass 1: the others */
    for (int pass = 0; pass < 2 && rc == MILLE_OK; pass++) {
        size_t i = 0, lineno = 0, m, bad;
        const char *ln;
        while (rc == MILLE_OK && next_line(s, n, &i, &ln, &m)) {
            lineno++;
            if (pass == 0 && text_utf8_check(ln, m, &bad)) {
                rc = err_set(err, MILLE_EUTF8, "%s:%zu: invalid UTF-8 at byte %zu of the line",
                             name, lineno, bad);
                break;
            }
            if (m == 0 || ln[0] == '#') continue;
            const char *sp1 = memchr(ln, ' ', m);
            const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', m - (size_t)(sp1 + 1 - ln)) : NULL;
            const char *rb = sp2 ? memchr(sp2, ']', m - (size_t)(sp2 - ln)) : NULL;
            const char *sl = rb ? memchr(rb, '/', m - (size_t)(rb - ln)) : NULL;
            if (!sp1 || !sp2 || sp1 == ln || sp2 == sp1 + 1 || sp2 + 1 == ln + m || sp2[1] != '[' ||
                !rb || !sl || ln[m - 1] != '/') {
                rc = err_set(err, MILLE_EFORMAT,
                             "%s:%zu: expected 'TRADITIONAL SIMPLIFIED [PINYIN] /GLOSS/...' "
                             "(CC-CEDICT)",
                             name, lineno);
                break;
            }
            if (pass == 0) sts.entries++;
            size_t tn = (size_t)(sp1 - ln), sn = (size_t)(sp2 - sp1 - 1);
            const char *p = sl + 1, *end = ln + m;
            for (int k = 0; p < end && rc == MILLE_OK; k++) {
                const char *q = memchr(p, '/', (size_t)(end - p));
                if (!q) break;
                if ((k == 0) == (pass == 0)) {
                    int ok = cedict_gloss(p, (size_t)(q - p), &g);
                    if (ok < 0) rc = err_set(err, MILLE_ENOMEM, "out of memory");
                    if (ok > 0 && simp) {
                        int r = lexicon_add_pair(simp, g.p, g.n, sp1 + 1, sn, err);
                        if (r > 0) sts.pairs++;
                        if (r < 0) rc = r;
                    }
                    if (ok > 0 && trad && rc == MILLE_OK) {
                        int r = lexicon_add_pair(trad, g.p, g.n, ln, tn, err);
                        if (r < 0) rc = r;
                    }
                    if (rc < 0 && rc != MILLE_ENOMEM) err_prefix(err, "%s:%zu: ", name, lineno);
                }
                p = q + 1;
            }
        }
    }
    if (rc == MILLE_OK && sts.entries == 0)
        rc = err_set(err, MILLE_EFORMAT, "%s: no entries (empty file?)", name);
    int f1 = simp ? lexicon_finish(simp, rc ? NULL : err) : 0;
    int f2 = trad ? lexicon_finish(trad, rc ? NULL : err) : 0;
    if (!rc) rc = f1 ? f1 : f2;
    if (st) *st = sts;
    free(g.p);
    return rc;
}

/* ---- reversing ----------------------------------------------------------------------------- */

int lxs_reverse(const lexicon *in, lexicon *out, mille_error *err)
{
    int rc = MILLE_OK;
    for (size_t k = 0; k < lexicon_n_keys(in) && rc >= 0; k++)
        for (uint32_t p = in->off[k]; p < in->off[k + 1] && rc >= 0; p++) {
            uint32_t t = in->csr[p];
            rc = lexicon_add_pair(out, lexicon_str(in, t), in->trans.lens[t],
                                  strtab_str(&in->keys, k), in->keys.lens[k], err);
        }
    int f = lexicon_finish(out, rc < 0 ? NULL : err);
    return rc < 0 ? rc : f;
}

/* ---- loading files by name ----------------------------------------------------------------- */

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* "AAA-BBB" at the start of base (after prefix), codes canonical, up to the first '.'. */
static int pair_codes(const char *base, char *a, char *b)
{
    const char *dash = strchr(base, '-'), *dot = strchr(base, '.');
    if (!dash || !dot || dash > dot) return -1;
    if (!lxs_canon_code(base, (size_t)(dash - base), a, 8)) return -1;
    if (!lxs_canon_code(dash + 1, (size_t)(dot - dash - 1), b, 8)) return -1;
    return 0;
}

static lxs_source *set_push(lxs_set *set, const char *a, const char *b, int tier, const char *name,
                            const char *note)
{
    if (vec_reserve((void **)&set->v, &set->cap, set->n + 1, sizeof *set->v)) return NULL;
    lxs_source *s = &set->v[set->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->a, sizeof s->a, "%s", a);
    snprintf(s->b, sizeof s->b, "%s", b);
    s->tier = tier;
    snprintf(s->name, sizeof s->name, "%s%s", name, note);
    return s;
}

/* The other direction of set->v[i] as a new source. */
static int push_reversed(lxs_set *set, size_t i, mille_error *err)
{
    char name[96];
    snprintf(name, sizeof name, "%s", set->v[i].name);
    lxs_source *r = set_push(set, set->v[i].b, set->v[i].a, set->v[i].tier, name, " (reversed)");
    if (!r) return err_set(err, MILLE_ENOMEM, "out of memory");
    return lxs_reverse(&set->v[i].lx, &r->lx, err);
}

/* 1 if code is the language of a MASSIVE locale (en-US included). */
static int massive_code(const char *code)
{
    for (size_t i = 0; i < sizeof locale_codes / sizeof locale_codes[0]; i++)
        if (strcmp(locale_codes[i][1], code) == 0) return 1;
    return 0;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(lxs_set *set, const char *dir, mille_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return err_set(err, MILLE_EIO, "%s: cannot open directory", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        int want = (strncmp(nm, "freedict-", 9) == 0 && has_suffix(nm, ".index")) ||
                   has_suffix(nm, ".att") ||
                   (strstr(nm, "cedict") && (has_suffix(nm, ".u8") || has_suffix(nm, ".txt")));
        char ca[8], cb[8];
        want = want || (has_suffix(nm, ".tsv") && pair_codes(nm, ca, cb) == 0);
        /* a pair between two languages MASSIVE does not have can neither be a direct source
         * nor a pivot step (eng -> P needs P ... and P -> X needs X): not loaded */
        const char *codes = strncmp(nm, "freedict-", 9) == 0 ? nm + 9 : nm;
        if (want && !strstr(nm, "cedict") &&
            (pair_codes(codes, ca, cb) || !massive_code(ca) || !massive_code(cb)))
            want = 0;
        if (!want) continue;
        char *c = strdup(nm);
        if (!c || vec_reserve((void **)&names, &cap, n + 1, sizeof *names)) {
            free(c);
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        names[n++] = c;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_str);
    int loaded = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = lxs_set_add(set, path, err);
        if (rc > 0) loaded += rc;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc < 0 ? rc : loaded;
}

int lxs_set_add(lxs_set *set, const char *path, mille_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return err_set(err, MILLE_EIO, "%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) return add_dir(set, path, err);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char a[8], b[8];
    int rc;
    if (strncmp(base, "freedict-", 9) == 0 && pair_codes(base + 9, a, b) == 0) {
        lxs_source *s = set_push(set, a, b, LXS_DIRECT, base, "");
        if (!s) return err_set(err, MILLE_ENOMEM, "out of memory");
        rc = lexicon_load(&s->lx, path, NULL, err);
        if (rc == 0) rc = push_reversed(set, set->n - 1, err);
    } else if (has_suffix(base, ".att") && pair_codes(base, a, b) == 0) {
        char *text = NULL;
        size_t tn = 0;
        rc = file_read_all(path, &text, &tn, err);
        lxs_source *f = rc ? NULL : set_push(set, a, b, LXS_APERTIUM, base, "");
        lxs_source *r = f ? set_push(set, b, a, LXS_APERTIUM, base, " (reversed)") : NULL;
        if (!rc && !r) rc = err_set(err, MILLE_ENOMEM, "out of memory");
        if (!rc)
            rc = lxs_read_att(&set->v[set->n - 2].lx, &set->v[set->n - 1].lx, text, tn, path, NULL,
                              err);
        free(text);
    } else if (strstr(base, "cedict") && (has_suffix(base, ".u8") || has_suffix(base, ".txt"))) {
        char *text = NULL;
        size_t tn = 0;
        rc = file_read_all(path, &text, &tn, err);
        lxs_source *f = rc ? NULL : set_push(set, "eng", "zho", LXS_DIRECT, base, "");
        lxs_source *r = f ? set_push(set, "eng", "zht", LXS_DIRECT, base, " (traditional)") : NULL;
        if (!rc && !r) rc = err_set(err, MILLE_ENOMEM, "out of memory");
        if (!rc)
            rc = lxs_read_cedict(&set->v[set->n - 2].lx, &set->v[set->n - 1].lx, text, tn, path,
                                 NULL, err);
        free(text);
    } else if (has_suffix(base, ".tsv") && pair_codes(base, a, b) == 0) {
        lxs_source *s = set_push(set, a, b, LXS_DIRECT, base, "");
        if (!s) return err_set(err, MILLE_ENOMEM, "out of memory");
        rc = lexicon_load(&s->lx, path, NULL, err);
        if (rc == 0) rc = push_reversed(set, set->n - 1, err);
    } else {
        return err_set(err, MILLE_EINVAL,
                       "%s: unknown source (expected freedict-AAA-BBB.index, AAA-BBB.att from "
                       "lt-print, *cedict*.u8 or AAA-BBB.tsv)",
                       path);
    }
    return rc < 0 ? rc : 1;
}

void lxs_set_free(lxs_set *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) lexicon_free(&set->v[i].lx);
    free(set->v);
    memset(set, 0, sizeof *set);
}

/* ---- the merge ----------------------------------------------------------------------------- */

typedef struct cand {
    uint32_t key, tr; /* ids in the merge's key / target tables */
    uint32_t order;   /* first seen */
    uint32_t source;  /* id in names of the first source that gave it */
    uint32_t freq;
    uint64_t votes; /* pivot languages that reach it (bit per pivot) */
    uint8_t tier;
} cand;

typedef struct merge_ctx {
    strtab keys, trs;
    cand *c;
    size_t n, cap;
    uint64_t *set; /* open addressing: (key+1) << 32 | tr -> index + 1 in the low... see find */
    uint32_t *set_idx;
    size_t set_cap;
    strtab *names;
    text_buf tb;
} merge_ctx;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static int set_grow(merge_ctx *m)
{
    size_t ncap = m->set_cap ? m->set_cap * 2 : 4096;
    uint64_t *t = calloc(ncap, sizeof *t);
    uint32_t *ix = calloc(ncap, sizeof *ix);
    if (!t || !ix) {
        free(t);
        free(ix);
        return MILLE_ENOMEM;
    }
    for (size_t i = 0; i < m->set_cap; i++) {
        if (!m->set[i]) continue;
        size_t h = mix(m->set[i]) & (ncap - 1);
        while (t[h]) h = (h + 1) & (ncap - 1);
        t[h] = m->set[i], ix[h] = m->set_idx[i];
    }
    free(m->set);
    free(m->set_idx);
    m->set = t, m->set_idx = ix, m->set_cap = ncap;
    return MILLE_OK;
}

/* Note candidate (key, tr) from a source of `tier` (pivot: vote bit `pivot`). key is a
 * normalized key, tr a translation as lexicons store them. */
static int note(merge_ctx *m, const char *key, size_t kn, const char *tr, size_t tn, int tier,
                uint32_t source, int pivot)
{
    int64_t k = strtab_intern(&m->keys, key, kn), t = strtab_intern(&m->trs, tr, tn);
    if (k < 0 || t < 0) return MILLE_ENOMEM;
    if (2 * (m->n + 1) > m->set_cap && set_grow(m)) return MILLE_ENOMEM;
    uint64_t v = ((uint64_t)k + 1) << 32 | (uint64_t)t;
    size_t h = mix(v) & (m->set_cap - 1);
    while (m->set[h] && m->set[h] != v) h = (h + 1) & (m->set_cap - 1);
    cand *c;
    if (m->set[h]) {
        c = &m->c[m->set_idx[h]];
        if (tier < c->tier) c->tier = (uint8_t)tier, c->source = source;
    } else {
        if (vec_reserve((void **)&m->c, &m->cap, m->n + 1, sizeof *m->c)) return MILLE_ENOMEM;
        m->set[h] = v;
        m->set_idx[h] = (uint32_t)m->n;
        c = &m->c[m->n];
        *c = (cand){(uint32_t)k, (uint32_t)t, (uint32_t)m->n, source, 0, 0, (uint8_t)tier};
        m->n++;
    }
    if (pivot >= 0) c->votes |= 1ull << pivot;
    return MILLE_OK;
}

static int note_source(merge_ctx *m, const lexicon *lx, int tier, const char *name)
{
    int64_t sid = strtab_intern(m->names, name, strlen(name));
    if (sid < 0) return MILLE_ENOMEM;
    for (size_t k = 0; k < lexicon_n_keys(lx); k++)
        for (uint32_t p = lx->off[k]; p < lx->off[k + 1]; p++) {
            uint32_t t = lx->csr[p];
            if (note(m, strtab_str(&lx->keys, k), lx->keys.lens[k], lexicon_str(lx, t),
                     lx->trans.lens[t], tier, (uint32_t)sid, -1))
                return MILLE_ENOMEM;
        }
    return MILLE_OK;
}

/* eng -> P (e2p) composed with P -> X (p2x), votes under bit `pivot`. */
static int note_pivot(merge_ctx *m, const lexicon *e2p, const lexicon *p2x, int pivot,
                      const char *name, mille_error *err)
{
    int64_t sid = strtab_intern(m->names, name, strlen(name));
    if (sid < 0) return err_set(err, MILLE_ENOMEM, "out of memory");
    for (size_t k = 0; k < lexicon_n_keys(e2p); k++) {
        uint32_t n1 = e2p->off[k + 1] - e2p->off[k];
        for (uint32_t i = 0; i < n1 && i < LXS_PIVOT_FANOUT; i++) {
            uint32_t p = e2p->csr[e2p->off[k] + i];
            const uint32_t *x;
            int nx = lexicon_find(p2x, lexicon_str(e2p, p), e2p->trans.lens[p], &m->tb, &x, err);
            if (nx < 0) return nx;
            for (int j = 0; j < nx && j < LXS_PIVOT_FANOUT; j++)
                if (note(m, strtab_str(&e2p->keys, k), e2p->keys.lens[k], lexicon_str(p2x, x[j]),
                         p2x->trans.lens[x[j]], LXS_PIVOT1, (uint32_t)sid, pivot))
                    return err_set(err, MILLE_ENOMEM, "out of memory");
        }
    }
    return MILLE_OK;
}

typedef struct cldr_ud {
    lexicon *lx;
    mille_error *err;
} cldr_ud;

static int cldr_cb(void *ud, const char *en, size_t en_n, const char *tgt, size_t tgt_n,
                   const char *what)
{
    (void)what;
    cldr_ud *u = ud;
    int rc = lexicon_add_pair(u->lx, en, en_n, tgt, tgt_n, u->err);
    return rc < 0 ? rc : 0;
}

/* Word counts of the text: ids in words, counts in cnt. */
typedef struct freq_tab {
    strtab words;
    uint32_t *cnt;
    size_t cap;
} freq_tab;

static int count_text(freq_tab *f, const char *s, size_t n, text_buf *tb, mille_error *err)
{
    size_t i = 0, m;
    const char *ln;
    while (next_line(s, n, &i, &ln, &m)) {
        if (text_utf8_check(ln, m, &(size_t){0})) continue; /* the text is a hint: skip bad lines */
        int rc = lexicon_normalize(ln, m, tb, err);
        if (rc < 0) return rc;
        for (size_t a = 0; a < tb->len;) {
            size_t e = a;
            while (e < tb->len && tb->s[e] != ' ') e++;
            size_t before = f->words.n;
            int64_t id = strtab_intern(&f->words, tb->s + a, e - a);
            if (id < 0 || vec_reserve((void **)&f->cnt, &f->cap, (size_t)id + 1, sizeof *f->cnt))
                return err_set(err, MILLE_ENOMEM, "out of memory");
            if ((size_t)id == before) f->cnt[id] = 0; /* new word */
            f->cnt[id]++;
            a = e + 1;
        }
    }
    return MILLE_OK;
}

/* Frequency of a translation: the least frequent of its words (0 if one is unseen). */
static uint32_t tr_freq(const freq_tab *f, const char *t, size_t n, text_buf *tb)
{
    if (lexicon_normalize(t, n, tb, NULL) < 0) return 0;
    uint32_t best = UINT32_MAX;
    for (size_t a = 0; a < tb->len;) {
        size_t e = a;
        while (e < tb->len && tb->s[e] != ' ') e++;
        int64_t id = strtab_find(&f->words, tb->s + a, e - a);
        uint32_t c = id < 0 ? 0 : f->cnt[id];
        if (c < best) best = c;
        a = e + 1;
    }
    return best == UINT32_MAX ? 0 : best;
}

/* qsort has no context argument: the array being sorted (lxs_merge is not reentrant while it
 * sorts; the CLI merges one locale at a time). */
static const cand *sort_base;
static int cand_cmp(const void *x, const void *y)
{
    const cand *a = &sort_base[*(const uint32_t *)x], *b = &sort_base[*(const uint32_t *)y];
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (a->tier != b->tier) return a->tier < b->tier ? -1 : 1;
    if (a->freq != b->freq) return a->freq > b->freq ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* Scripts written without spaces: whitespace words of their text are not words. */
static int spaceless(const char *locale)
{
    static const char *const l[] = {"ja-JP", "zh-CN", "zh-TW", "th-TH", "km-KH", "my-MM"};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        if (strcmp(l[i], locale) == 0) return 1;
    return 0;
}

int lxs_merge(const lxs_set *set, const char *locale, const lxs_opts *o, lxs_merged *out,
              mille_error *err)
{
    const char *x = lxs_locale_code(locale);
    if (!x) return err_set(err, MILLE_EINVAL, "%s: not a MASSIVE locale", locale);
    size_t max_cand = o && o->max_cand ? o->max_cand : LXS_MAX_CAND;
    merge_ctx m = {0};
    m.names = &out->names;
    freq_tab ft = {0};
    lexicon cl = {0};
    int rc = MILLE_OK;
    /* 1. direct dictionaries, then CLDR (also direct), 2. Apertium */
    for (int tier = LXS_DIRECT; tier <= LXS_APERTIUM && !rc; tier++) {
        for (size_t i = 0; i < set->n && !rc; i++) {
            const lxs_source *s = &set->v[i];
            if (s->tier == tier && strcmp(s->a, "eng") == 0 && strcmp(s->b, x) == 0)
                rc = note_source(&m, &s->lx, tier, s->name);
        }
        if (!rc && tier == LXS_DIRECT && o && o->cldr) {
            cldr_ud u = {&cl, err};
            rc = text_cldr_pairs(locale, cldr_cb, &u, err);
            if (!rc) rc = lexicon_finish(&cl, err);
            if (!rc && cl.n_pairs) rc = note_source(&m, &cl, LXS_DIRECT, "cldr (icu)");
        }
        if (rc == MILLE_ENOMEM) err_set(err, rc, "out of memory");
    }
    /* 3. pivots: eng -> P from any source, P -> X from any source, P not eng or X */
    char pivots[64][8];
    int n_piv = 0;
    for (size_t i = 0; i < set->n && !rc; i++) {
        const lxs_source *s1 = &set->v[i];
        if (strcmp(s1->a, "eng") != 0 || strcmp(s1->b, x) == 0) continue;
        int pv = 0;
        while (pv < n_piv && strcmp(pivots[pv], s1->b) != 0) pv++;
        for (size_t j = 0; j < set->n && !rc; j++) {
            const lxs_source *s2 = &set->v[j];
            if (strcmp(s2->a, s1->b) != 0 || strcmp(s2->b, x) != 0) continue;
            if (pv == n_piv) {
                if (n_piv == 64) break; /* more pivot languages than vote bits: ignore the rest */
                snprintf(pivots[n_piv++], 8, "%s", s1->b);
            }
            char name[256];
            snprintf(name, sizeof name, "pivot %s: %s + %s", s1->b, s1->name, s2->name);
            rc = note_pivot(&m, &s1->lx, &s2->lx, pv, name, err);
        }
    }
    for (size_t i = 0; i < m.n; i++)
        if (m.c[i].tier == LXS_PIVOT1 && __builtin_popcountll(m.c[i].votes) >= 2)
            m.c[i].tier = LXS_PIVOT2;
    /* 4. frequencies in the unlabeled text */
    int use_text = o && o->text && !spaceless(locale);
    if (!rc && use_text) rc = count_text(&ft, o->text, o->text_len, &m.tb, err);
    if (!rc && use_text)
        for (size_t i = 0; i < m.n; i++)
            m.c[i].freq = tr_freq(&ft, strtab_str(&m.trs, m.c[i].tr), m.trs.lens[m.c[i].tr], &m.tb);
    /* 5. rank each key's candidates, keep the best max_cand */
    uint32_t *idx = rc ? NULL : malloc((m.n ? m.n : 1) * sizeof *idx);
    if (!rc && !idx) rc = err_set(err, MILLE_ENOMEM, "out of memory");
    size_t kept = 0;
    if (!rc) {
        for (size_t i = 0; i < m.n; i++) idx[i] = (uint32_t)i;
        sort_base = m.c;
        qsort(idx, m.n, sizeof *idx, cand_cmp);
        size_t cap1 = 0, cap2 = 0, cap3 = 0;
        for (size_t i = 0, run = 0; i < m.n && !rc; i++) {
            const cand *c = &m.c[idx[i]];
            run = (i && m.c[idx[i - 1]].key == c->key) ? run + 1 : 0;
            if (run >= max_cand) continue;
            if (use_text && c->tier >= LXS_PIVOT2 && c->freq == 0) {
                out->dropped++;
                continue;
            }
            int r = lexicon_add_pair(&out->lx, strtab_str(&m.keys, c->key), m.keys.lens[c->key],
                                     strtab_str(&m.trs, c->tr), m.trs.lens[c->tr], err);
            if (r < 0) rc = r;
            if (r <= 0) continue;
            if (vec_reserve((void **)&out->tier, &cap1, kept + 1, 1) ||
                vec_reserve((void **)&out->freq, &cap2, kept + 1, sizeof *out->freq) ||
                vec_reserve((void **)&out->source, &cap3, kept + 1, sizeof *out->source)) {
                rc = err_set(err, MILLE_ENOMEM, "out of memory");
                break;
            }
            out->tier[kept] = c->tier;
            out->freq[kept] = c->freq;
            out->source[kept] = c->source;
            out->by_tier[c->tier]++;
            kept++;
        }
    }
    if (!rc) rc = lexicon_finish(&out->lx, err);
    /* pairs were added key by key, best first: lookup order is insertion order, so the
     * per-pair arrays line up with csr (checked) */
    if (!rc) MILLE_ASSERT(out->lx.n_pairs == kept);
    free(idx);
    strtab_free(&m.keys);
    strtab_free(&m.trs);
    free(m.c);
    free(m.set);
    free(m.set_idx);
    text_buf_free(&m.tb);
    strtab_free(&ft.words);
    free(ft.cnt);
    lexicon_free(&cl);
    return rc;
}

void lxs_merged_free(lxs_merged *m)
{
    if (!m) return;
    lexicon_free(&m->lx);
    free(m->tier);
    free(m->freq);
    free(m->source);
    strtab_free(&m->names);
    memset(m, 0, sizeof *m);
}

int lxs_write_tsv(const lxs_merged *m, const char *path, mille_error *err)
{
    sbuf b = {0};
    char num[32];
    static const char head[] = "# english\ttarget\ttier\tfrequency\tsource (mille lexicons)\n";
    int rc = sbuf_put(&b, head, sizeof head - 1);
    const lexicon *lx = &m->lx;
    /* pairs in insertion order = key by key, best first (lxs_merge adds them so) */
    for (size_t p = 0; p < lx->n_pairs && !rc; p++) {
        uint32_t k = lx->pair_key[p], t = lx->pair_tr[p];
        int nn = snprintf(num, sizeof num, "\t%s\t%u\t", lxs_tier_name(m->tier[p]), m->freq[p]);
        const char *src = strtab_str(&m->names, m->source[p]);
        rc = sbuf_put(&b, strtab_str(&lx->keys, k), lx->keys.lens[k]) || sbuf_put(&b, "\t", 1) ||
             sbuf_put(&b, lexicon_str(lx, t), lx->trans.lens[t]) || sbuf_put(&b, num, (size_t)nn) ||
             sbuf_put(&b, src, strlen(src)) || sbuf_put(&b, "\n", 1);
    }
    if (rc) {
        free(b.p);
        return err_set(err, MILLE_ENOMEM, "out of memory");
    }
    rc = file_write_atomic(path, b.p, b.n, err);
    free(b.p);
    return rc;
}

/* ---- coverage ------------------------------------------------------------------------------ */

int lxs_en_covered(const lexicon *lx, const char *w, size_t n, char *tmp, size_t tmp_cap)
{
    const uint32_t *t;
    if (lexicon_lookup(lx, w, n, &t)) return 1;
    /* naive English de-inflection: suffix -> replacement */
    static const char *const rules[][2] = {
        {"'s", ""}, {"s", ""},   {"es", ""}, {"ies", "y"}, {"ing", ""}, {"ing", "e"},
        {"ed", ""}, {"ed", "e"}, {"d", ""},  {"'ll", ""},  {"n't", ""}, {"'re", ""},
    };
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        size_t sn = strlen(rules[r][0]), rn = strlen(rules[r][1]);
        if (n <= sn + 1 || memcmp(w + n - sn, rules[r][0], sn) != 0) continue;
        if (n - sn + rn > tmp_cap) continue;
        memcpy(tmp, w, n - sn);
        memcpy(tmp + n - sn, rules[r][1], rn);
        if (lexicon_lookup(lx, tmp, n - sn + rn, &t)) return 1;
    }
    return 0;
}
