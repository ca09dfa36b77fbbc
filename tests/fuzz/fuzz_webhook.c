/* fuzz_webhook.c - libFuzzer target for the reader of a webhook's answer
 * (dialogue/webhook.c, webhook_reply_text): any bytes give 0 and valid, printable UTF-8 text
 * within the buffer, or -1 and a message; never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[64], err[DLG_ERR];
    err[0] = 0;
    int rc = webhook_reply_text((const char *)data, size, text, sizeof text, err);
    if (rc == 0 && (strlen(text) >= sizeof text || !tpl_utf8_valid(text, strlen(text)))) abort();
    if (rc < 0 && !err[0]) abort();
    return 0;
}
