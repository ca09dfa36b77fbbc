/* fuzz_dataload.c - libFuzzer target for the real MASSIVE readers (data_load): the bytes go
 * through a temporary file, so that the line reader of data.c (chunked reads, lines split
 * across chunks, long lines) and the gzip and tar paths run as they do on real files, not
 * the line splitting of fuzz_jsonl. The first byte picks the container: plain .jsonl, the
 * rest gzip-compressed here into .jsonl.gz (to reach the lines), the raw bytes as a .jsonl.gz
 * or a .tar (the decoders), or a .tar.gz built here with the rest as a member (the archive
 * member path). Every accepted record's words are checked. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"

static void check(const data_set *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        const data_record *r = &ds->recs[i];
        uint32_t prev = 0;
        for (uint32_t k = 0; k < r->n_words; k++) {
            const data_word *w = &ds->words[r->word0 + k];
            if (w->start < prev || w->end <= w->start || w->end > r->utt_len ||
                w->label >= ds->slots.n)
                abort();
            prev = w->end;
        }
    }
}

static int write_all(int fd, const void *p, size_t n) { return write(fd, p, n) == (ssize_t)n; }

/* A .tar.gz with the bytes as member 1.1/data/en-US.jsonl. */
static int write_targz(const char *path, const uint8_t *p, size_t n)
{
    struct archive *a = archive_write_new();
    if (!a) return 0;
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    int ok = archive_write_open_filename(a, path) == ARCHIVE_OK;
    struct archive_entry *e = archive_entry_new();
    if (ok && e) {
        archive_entry_set_pathname(e, "1.1/data/en-US.jsonl");
        archive_entry_set_size(e, (la_int64_t)n);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        ok = archive_write_header(a, e) == ARCHIVE_OK &&
             (n == 0 || archive_write_data(a, p, n) == (la_ssize_t)n);
    }
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int kind = data[0] % 5;
    static const char *const ext[] = {".jsonl", ".jsonl.gz", ".jsonl.gz", ".tar", ".tar.gz"};
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    char path[64];
    snprintf(path, sizeof path, "/tmp/mille_fuzz_XXXXXX%s", ext[kind]);
    int fd = mkstemps(path, (int)strlen(ext[kind]));
    if (fd < 0) abort();
    int ok = 1;
    if (kind == 1) {
        /* gzip here: compressBound-sized deflate into a gzip wrapper via gzdopen */
        gzFile gz = gzdopen(fd, "wb");
        ok = gz && (n == 0 || gzwrite(gz, p, (unsigned)n) == (int)n);
        if (gz) gzclose(gz); /* closes fd */
        fd = -1;
    } else if (kind == 4) {
        close(fd);
        fd = -1;
        ok = write_targz(path, p, n);
    } else {
        ok = write_all(fd, p, n);
    }
    if (fd >= 0) close(fd);
    if (ok) {
        for (int mode = DATA_GOLD; mode <= DATA_TEXT; mode++) {
            data_set ds = {0};
            data_opts o = data_default_opts();
            o.mode = mode;
            o.strict = n & 1;
            mille_error e;
            int rc = data_load(&ds, path, &o, &e);
            if (rc < 0 && e.msg[0] == '\0') abort(); /* an error always says why */
            check(&ds);
            data_free(&ds);
        }
    }
    unlink(path);
    return 0;
}
