/* fuzz_templates.c - libFuzzer target for the response table and the template substitution
 * of the dialogue library (dialogue/tpl.c): the input is parsed as a response table (TSV) and
 * looked up, then used as a template with hostile values. A table parses or is refused with a
 * message; a rendered answer is always valid UTF-8 within its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[DLG_ERR] = "";
    tpl_table *t = tpl_parse((const char *)data, size, "fuzz", err);
    if (!t && !err[0]) abort();
    if (t) {
        int fb;
        const char *locales[] = {"en-US", "fr-CA", "x", "", NULL};
        for (size_t i = 0; i < sizeof locales / sizeof *locales; i++) {
            const char *s = tpl_get(t, locales[i], "alarm_set.ok", &fb);
            if (s) (void)strlen(s);
        }
        tpl_free(t);
    }
    /* the input as a template (up to its first NUL) with hostile values */
    char *tpl = malloc(size + 1);
    if (!tpl) return 0;
    memcpy(tpl, data, size);
    tpl[size] = 0;
    kv v[3] = {{"time", "{time}{{\xff\xfe"}, {"x", "$(id) `id` '\"\x01"}, {"", "empty key"}};
    char out[97];
    tpl_render(tpl, v, 3, out, sizeof out);
    if (strlen(out) >= sizeof out || !tpl_utf8_valid(out, strlen(out))) abort();
    free(tpl);
    return 0;
}
