/*
 * data.c - read MASSIVE records into a data_set: JSON lines (jansson) from plain or gzip files
 * (zlib reads both), directories of them, and tar archives such as the official release
 * amazon-massive-dataset-1.1.tar.gz (libarchive). Each line's annot_utt is parsed into
 * labeled words (annot.c). A malformed record is reported with file, line and reason and
 * skipped, or stops the load with opts.strict.
 *
 * Not here: tokenization for models (pretok.c), metrics (eval.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "data.h"
#include "text.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* A line longer than this is malformed: MASSIVE lines are under 2 KiB. */
#define DATA_MAX_LINE (1u << 20)

data_opts data_default_opts(void)
{
    data_opts o = {DATA_GOLD, NULL, NULL, 0, NULL, NULL};
    return o;
}

int data_list_has(const char *list, const char *s, size_t n)
{
    if (!list) return 1;
    for (const char *p = list;;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0) return 1;
        if (!q) return 0;
        p = q + 1;
    }
}

/* ---- one record -------------------------------------------------------------------------- */

typedef struct field {
    const char *s;
    size_t n;
} field;

/* Fetch string field `key`; absent fields are empty unless required. */
static int get_field(json_t *obj, const char *key, int required, field *f, mille_error *err)
{
    json_t *v = json_object_get(obj, key);
    f->s = "";
    f->n = 0;
    if (!v || json_is_null(v)) {
        if (required) return err_set(err, MILLE_EFORMAT, "missing field \"%s\"", key);
        return MILLE_OK;
    }
    if (!json_is_string(v))
        return err_set(err, MILLE_EFORMAT, "field \"%s\": expected a string", key);
    f->s = json_string_value(v);
    f->n = json_string_length(v);
    if (required && f->n == 0) return err_set(err, MILLE_EFORMAT, "field \"%s\" is empty", key);
    return MILLE_OK;
}

static int intern(strtab *t, field f, uint32_t *id, mille_error *err)
{
    int64_t v = strtab_intern(t, f.s, f.n);
    if (v < 0) return err_set(err, MILLE_ENOMEM, "out of memory");
    *id = (uint32_t)v;
    return MILLE_OK;
}

int data_add_line(data_set *ds, const char *line, size_t len, uint32_t src, uint32_t lineno,
                  const data_opts *o, mille_error *err)
{
    json_error_t jerr;
    /* jansson rejects invalid UTF-8 and (without JSON_ALLOW_NUL) "\u0000" in strings. */
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        return err_set(err, MILLE_EFORMAT, "bad JSON at column %d: %s", jerr.column, jerr.text);
    int rc = MILLE_OK;
    if (!json_is_object(obj)) {
        rc = err_set(err, MILLE_EFORMAT, "expected a JSON object");
        goto out;
    }
    int gold = o->mode == DATA_GOLD, text = o->mode == DATA_TEXT;
    field id, locale, partition, scenario, intent, utt, annot;
    if ((rc = get_field(obj, "id", !text, &id, err)) ||
        (rc = get_field(obj, "locale", !text, &locale, err)) ||
        (rc = get_field(obj, "partition", 0, &partition, err)) ||
        (rc = get_field(obj, "scenario", 0, &scenario, err)) ||
        (rc = get_field(obj, "intent", !text, &intent, err)) ||
        (rc = get_field(obj, "utt", gold || text, &utt, err)) ||
        (rc = get_field(obj, "annot_utt", !text, &annot, err)))
        goto out;
    /* a prediction's optional "confidence" (mille eval's calibration error) */
    double conf = -1;
    json_t *jc = o->mode == DATA_PRED ? json_object_get(obj, "confidence") : NULL;
    if (jc && !json_is_null(jc)) {
        conf = json_is_number(jc) ? json_number_value(jc) : -1;
        if (!(conf >= 0 && conf <= 1)) {
            rc = err_set(err, MILLE_EFORMAT, "field \"confidence\": expected a number in [0, 1]");
            goto out;
        }
    }
    /* a prediction without a partition field passes the partition filter */
    int part_ok = data_list_has(o->partitions, partition.s, partition.n) ||
                  (o->mode == DATA_PRED && partition.n == 0);
    if (!data_list_has(o->locales, locale.s, locale.n) || !part_ok)
        goto out; /* filtered out: rc stays 0 */

    int have_utt = utt.n > 0;
    size_t cap = (utt.n > annot.n ? utt.n : annot.n) + 1;
    if (vec_reserve((void **)&ds->aw, &ds->cap_aw, cap, sizeof *ds->aw)) {
        rc = err_set(err, MILLE_ENOMEM, "out of memory");
        goto out;
    }
    int nw = 0;
    if (annot.n) {
        nw = annot_parse(have_utt ? utt.s : NULL, utt.n, annot.s, annot.n,
                         annot_char_split(locale.s, locale.n), ds->aw, &ds->scratch, err);
        if (nw < 0) {
            rc = nw;
            goto out;
        }
    } else {
        size_t bad;
        if (text_utf8_check(utt.s, utt.n, &bad)) {
            rc = err_set(err, MILLE_EUTF8, "utt: invalid UTF-8 at byte %zu", bad);
            goto out;
        }
    }

    /* All checks passed: append. */
    data_record r = {0};
    if (vec_reserve((void **)&ds->recs, &ds->cap, ds->n + 1, sizeof *ds->recs) ||
        vec_reserve((void **)&ds->words, &ds->cap_words, ds->n_words + (size_t)nw,
                    sizeof *ds->words)) {
        rc = err_set(err, MILLE_ENOMEM, "out of memory");
        goto out;
    }
    if (ds->slots.n == 0 && strtab_intern(&ds->slots, "Other", 5) != DATA_OTHER) {
        rc = err_set(err, MILLE_ENOMEM, "out of memory");
        goto out;
    }
    /* A record without utt (a prediction) keeps offsets into annot_utt. */
    field text_f = have_utt ? utt : annot;
    if (strstore_add(&ds->str, id.s, id.n, &r.id) ||
        strstore_add(&ds->str, text_f.s, text_f.n, &r.utt) ||
        strstore_add(&ds->str, annot.s, annot.n, &r.annot)) {
        rc = err_set(err, MILLE_ENOMEM, "out of memory");
        goto out;
    }
    r.utt_len = (uint32_t)text_f.n;
    r.annot_len = (uint32_t)annot.n;
    if ((rc = intern(&ds->locales, locale, &r.locale, err)) ||
        (rc = intern(&ds->partitions, partition, &r.partition, err)) ||
        (rc = intern(&ds->scenarios, scenario, &r.scenario, err)) ||
        (rc = intern(&ds->intents, intent, &r.intent, err)))
        goto out;
    r.word0 = (uint32_t)ds->n_words;
    r.n_words = (uint32_t)nw;
    r.src = src;
    r.line = lineno;
    r.confidence = (float)conf;
    for (int k = 0; k < nw; k++) {
        data_word w = {ds->aw[k].start, ds->aw[k].end, DATA_OTHER};
        if (ds->aw[k].label_len) {
            field lf = {annot.s + ds->aw[k].label_off, ds->aw[k].label_len};
            if ((rc = intern(&ds->slots, lf, &w.label, err))) goto out;
        }
        ds->words[ds->n_words + (size_t)k] = w;
    }
    ds->n_words += (size_t)nw;
    ds->recs[ds->n++] = r;
    rc = 1;
out:
    json_decref(obj);
    return rc;
}

int data_add_words(data_set *ds, const data_record *like, uint32_t partition, const char *text,
                   size_t len, const data_word *words, size_t n, mille_error *err)
{
    if (len > UINT32_MAX / 2 || ds->n_words + n > UINT32_MAX)
        return err_set(err, MILLE_ERANGE, "data: record of %zu bytes, %zu words is too large", len,
                       n);
    data_record r = *like;
    if (vec_reserve((void **)&ds->recs, &ds->cap, ds->n + 1, sizeof *ds->recs) ||
        vec_reserve((void **)&ds->words, &ds->cap_words, ds->n_words + n, sizeof *ds->words) ||
        strstore_add(&ds->str, text, len, &r.utt) || strstore_add(&ds->str, "", 0, &r.annot))
        return err_set(err, MILLE_ENOMEM, "data: out of memory");
    r.utt_len = (uint32_t)len;
    r.annot_len = 0;
    r.partition = partition;
    r.word0 = (uint32_t)ds->n_words;
    r.n_words = (uint32_t)n;
    memcpy(ds->words + ds->n_words, words, n * sizeof *words);
    ds->n_words += n;
    ds->recs[ds->n++] = r;
    return MILLE_OK;
}

/* ---- streams of lines -------------------------------------------------------------------- */

typedef struct line_sink {
    data_set *ds;
    const data_opts *o;
    const char *name; /* source name for messages */
    uint32_t src, lineno;
    char *part; /* partial line carried between chunks */
    size_t part_len, part_cap;
    int too_long;
} line_sink;

static int sink_line(line_sink *k, const char *s, size_t n, mille_error *err)
{
    k->lineno++;
    if (n && s[n - 1] == '\r') n--;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i == n && !k->too_long) return MILLE_OK; /* blank line */
    mille_error e = {0};
    int rc = k->too_long ? err_set(&e, MILLE_EFORMAT, "line longer than %u bytes", DATA_MAX_LINE)
                         : data_add_line(k->ds, s, n, k->src, k->lineno, k->o, &e);
    k->too_long = 0;
    if (rc >= 0) return MILLE_OK;
    err_prefix(&e, "%s:%u: ", k->name, k->lineno);
    if (k->o->strict || rc == MILLE_ENOMEM) {
        if (err) *err = e;
        return rc;
    }
    k->ds->n_skipped++;
    if (k->o->on_skip) k->o->on_skip(k->o->ud, &e);
    return MILLE_OK;
}

/* Feed a chunk of bytes; complete lines are parsed, the rest is kept for the next chunk. */
static int sink_feed(line_sink *k, const char *buf, size_t n, mille_error *err)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - buf) : n;
        if (!k->part_len && nl && !k->too_long) { /* whole line inside the chunk: no copy */
            int rc = sink_line(k, buf + i, end - i, err);
            if (rc) return rc;
        } else if (!k->too_long) {
            if (k->part_len + (end - i) > DATA_MAX_LINE) {
                k->too_long = 1;
                k->part_len = 0;
            } else {
                if (vec_reserve((void **)&k->part, &k->part_cap, k->part_len + (end - i) + 1, 1))
                    return err_set(err, MILLE_ENOMEM, "%s: out of memory", k->name);
                memcpy(k->part + k->part_len, buf + i, end - i);
                k->part_len += end - i;
            }
            if (nl) {
                int rc = sink_line(k, k->part, k->part_len, err);
                k->part_len = 0;
                if (rc) return rc;
            }
        } else if (nl) {
            int rc = sink_line(k, "", 0, err);
            if (rc) return rc;
        }
        i = end + (nl ? 1 : 0);
    }
    return MILLE_OK;
}

static int sink_end(line_sink *k, mille_error *err)
{
    int rc = MILLE_OK;
    if (k->part_len || k->too_long) rc = sink_line(k, k->part ? k->part : "", k->part_len, err);
    free(k->part);
    k->part = NULL;
    return rc;
}

static int sink_init(line_sink *k, data_set *ds, const data_opts *o, const char *name,
                     mille_error *err)
{
    memset(k, 0, sizeof *k);
    int64_t src = strtab_intern(&ds->srcs, name, strlen(name));
    if (src < 0) return err_set(err, MILLE_ENOMEM, "out of memory");
    k->ds = ds;
    k->o = o;
    k->src = (uint32_t)src;
    k->name = strtab_str(&ds->srcs, (size_t)src);
    return MILLE_OK;
}

/* ---- sources ----------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A plain or gzip-compressed JSON-lines file; "-" is stdin. */
static int load_gz(data_set *ds, const char *path, const data_opts *o, mille_error *err)
{
    gzFile gz;
    if (strcmp(path, "-") == 0) {
        int fd = dup(0);
        gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
    } else {
        gz = gzopen(path, "rb");
    }
    if (!gz)
        return err_set(err, MILLE_EIO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(gz, 1 << 17);
    line_sink k;
    int rc = sink_init(&k, ds, o, strcmp(path, "-") == 0 ? "<stdin>" : path, err);
    static const size_t chunk = 1 << 18;
    char *buf = rc ? NULL : malloc(chunk);
    if (!rc && !buf) rc = err_set(err, MILLE_ENOMEM, "out of memory");
    while (!rc) {
        int got = gzread(gz, buf, (unsigned)chunk);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            rc = err_set(err, MILLE_EIO, "%s: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (got == 0) break;
        rc = sink_feed(&k, buf, (size_t)got, err);
    }
    if (!rc) {
        /* gzread returns 0 both at a clean end and at a truncated gzip member */
        int zerr;
        const char *msg = gzerror(gz, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END) rc = err_set(err, MILLE_EIO, "%s: %s", path, msg);
    }
    int rc2 = sink_end(&k, err);
    if (!rc) rc = rc2;
    free(buf);
    gzclose(gz);
    return rc;
}

/* A tar archive, plain or gzip-compressed (the release is .tar.gz): every member named
 * *.jsonl. Only the gzip filter is enabled, and only as libarchive's own zlib code: with
 * filter_all, a file that looks like lzop, lrzip, grzip, lz4 or zstd made libarchive run an
 * external program (audit 2026-12 #16), a hostile file choosing what runs. */
static int load_archive(data_set *ds, const char *path, const data_opts *o, mille_error *err)
{
    struct archive *a = archive_read_new();
    if (!a) return err_set(err, MILLE_ENOMEM, "out of memory");
    /* ARCHIVE_WARN here means "gzip through an external program": refuse that too */
    if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_none(a) != ARCHIVE_OK) {
        archive_read_free(a);
        return err_set(err, MILLE_EIO, "%s: this libarchive has no built-in gzip reader", path);
    }
    archive_read_support_format_tar(a);
    int rc = MILLE_OK, found = 0;
    if (archive_read_open_filename(a, path, 1 << 17) != ARCHIVE_OK) {
        rc = err_set(err, MILLE_EIO, "%s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    struct archive_entry *e;
    char name[4096];
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = err_set(err, MILLE_EFORMAT, "%s: %s", path, archive_error_string(a));
            break;
        }
        const char *member = archive_entry_pathname(e);
        if (!member || archive_entry_filetype(e) != AE_IFREG || !ends_with(member, ".jsonl"))
            continue;
        found++;
        snprintf(name, sizeof name, "%s:%s", path, member);
        line_sink k;
        if ((rc = sink_init(&k, ds, o, name, err))) break;
        for (;;) {
            const void *buf;
            size_t size;
            la_int64_t off;
            r = archive_read_data_block(a, &buf, &size, &off);
            if (r == ARCHIVE_EOF) break;
            if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                rc = err_set(err, MILLE_EFORMAT, "%s: %s", name, archive_error_string(a));
                break;
            }
            if ((rc = sink_feed(&k, buf, size, err))) break;
        }
        int rc2 = sink_end(&k, err);
        if (!rc) rc = rc2;
        if (rc) break;
    }
    if (!rc && !found)
        rc = err_set(err, MILLE_ENOTFOUND, "%s: no .jsonl member in the archive", path);
    archive_read_free(a);
    return rc;
}

static int by_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Locale part of "fr-FR.jsonl.gz" (up to the first '.'), to skip files a filter excludes. */
static int file_locale_excluded(const char *name, const data_opts *o)
{
    const char *dot = strchr(name, '.');
    return o->locales && dot && !data_list_has(o->locales, name, (size_t)(dot - name));
}

static int load_dir(data_set *ds, const char *path, const data_opts *o, mille_error *err)
{
    DIR *d = opendir(path);
    if (!d) return err_set(err, MILLE_EIO, "%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = MILLE_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!ends_with(de->d_name, ".jsonl") && !ends_with(de->d_name, ".jsonl.gz")) continue;
        if (file_locale_excluded(de->d_name, o)) continue;
        char *full = malloc(strlen(path) + strlen(de->d_name) + 2);
        if (!full || vec_reserve((void **)&names, &cap, n + 1, sizeof *names)) {
            free(full);
            rc = err_set(err, MILLE_ENOMEM, "out of memory");
            break;
        }
        snprintf(full, strlen(path) + strlen(de->d_name) + 2, "%s/%s", path, de->d_name);
        names[n++] = full;
    }
    closedir(d);
    if (!rc && n == 0 && !o->locales)
        rc = err_set(err, MILLE_ENOTFOUND, "%s: no .jsonl or .jsonl.gz files", path);
    if (!rc && n) qsort(names, n, sizeof *names, by_str);
    for (size_t i = 0; i < n && !rc; i++) rc = load_gz(ds, names[i], o, err);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int data_load(data_set *ds, const char *path, const data_opts *o, mille_error *err)
{
    data_opts def = data_default_opts();
    if (!o) o = &def;
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) != 0)
        return err_set(err, MILLE_EIO, "%s: %s", path, strerror(errno));
    if (strcmp(path, "-") != 0 && S_ISDIR(st.st_mode)) return load_dir(ds, path, o, err);
    if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz") || ends_with(path, ".tar"))
        return load_archive(ds, path, o, err);
    return load_gz(ds, path, o, err);
}

void data_free(data_set *ds)
{
    free(ds->recs);
    free(ds->words);
    strstore_free(&ds->str);
    strtab_free(&ds->locales);
    strtab_free(&ds->partitions);
    strtab_free(&ds->scenarios);
    strtab_free(&ds->intents);
    strtab_free(&ds->slots);
    strtab_free(&ds->srcs);
    annot_scratch_free(&ds->scratch);
    free(ds->aw);
    memset(ds, 0, sizeof *ds);
}

int data_path_locale(const char *path, char out[6])
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    int ok = n == 5 && base[2] == '-';
    for (size_t i = 0; i < n && ok; i++)
        if (i != 2)
            ok = i < 2 ? base[i] >= 'a' && base[i] <= 'z' : base[i] >= 'A' && base[i] <= 'Z';
    if (ok) memcpy(out, base, 5), out[5] = '\0';
    return ok;
}

int data_is_massive_path(const char *path)
{
    struct stat st;
    size_t n = strlen(path);
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 1;
    static const char *const ext[] = {".jsonl", ".jsonl.gz", ".tar.gz", ".tgz", ".tar"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t m = strlen(ext[i]);
        if (n >= m && strcmp(path + n - m, ext[i]) == 0) return 1;
    }
    return 0;
}
