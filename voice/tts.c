/*
 * tts.c - speech out: flite (voice slt) for en-US, espeak-ng for the other MASSIVE locales it
 * has a voice for, each run as a child process (fork + execvp, no shell). espeak-ng is GPL-3:
 * it is never linked, only run, so neither libmille nor mille-voice becomes GPL.
 *
 * The text goes to espeak-ng on its stdin (--stdin), so a response starting with "-" can not
 * be taken for an option; flite gets it as the argument of -t. Locales without a voice in
 * Debian 12's espeak-ng 1.51 (jv-ID, km-KH, mn-MN, tl-PH) are an error naming the locale:
 * the response text is still printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "voice.h"

/* MASSIVE locale -> espeak-ng voice (espeak-ng --voices) */
static const char *const voices[][2] = {
    {"af-ZA", "af"},  {"am-ET", "am"},  {"ar-SA", "ar"}, {"az-AZ", "az"},    {"bn-BD", "bn"},
    {"ca-ES", "ca"},  {"cy-GB", "cy"},  {"da-DK", "da"}, {"de-DE", "de"},    {"el-GR", "el"},
    {"es-ES", "es"},  {"fa-IR", "fa"},  {"fi-FI", "fi"}, {"fr-FR", "fr-fr"}, {"he-IL", "he"},
    {"hi-IN", "hi"},  {"hu-HU", "hu"},  {"hy-AM", "hy"}, {"id-ID", "id"},    {"is-IS", "is"},
    {"it-IT", "it"},  {"ja-JP", "ja"},  {"ka-GE", "ka"}, {"kn-IN", "kn"},    {"ko-KR", "ko"},
    {"lv-LV", "lv"},  {"ml-IN", "ml"},  {"ms-MY", "ms"}, {"my-MM", "my"},    {"nb-NO", "nb"},
    {"nl-NL", "nl"},  {"pl-PL", "pl"},  {"pt-PT", "pt"}, {"ro-RO", "ro"},    {"ru-RU", "ru"},
    {"sl-SL", "sl"},  {"sq-AL", "sq"},  {"sv-SE", "sv"}, {"sw-KE", "sw"},    {"ta-IN", "ta"},
    {"te-IN", "te"},  {"th-TH", "th"},  {"tr-TR", "tr"}, {"ur-PK", "ur"},    {"vi-VN", "vi"},
    {"zh-CN", "cmn"}, {"zh-TW", "cmn"},
};

const char *tts_voice(const char *locale, const char **program)
{
    if (!locale) locale = "en-US";
    if (strcmp(locale, "en-US") == 0) {
        *program = "flite";
        return "slt";
    }
    for (size_t i = 0; i < sizeof voices / sizeof *voices; i++)
        if (strcmp(voices[i][0], locale) == 0) {
            *program = "espeak-ng";
            return voices[i][1];
        }
    *program = NULL;
    return NULL;
}

int tts_speak(const char *locale, const char *text, const char *out_wav, char *err)
{
    const char *prog, *voice = tts_voice(locale, &prog);
    if (!voice) {
        snprintf(err, VOICE_ERR, "no voice for locale %s (espeak-ng 1.51 has none)", locale);
        return -1;
    }
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0) {
        snprintf(err, VOICE_ERR, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]);
        close(in[1]);
        snprintf(err, VOICE_ERR, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        if (nul >= 0) {
            dup2(nul, 1);
            dup2(nul, 2);
        }
        if (strcmp(prog, "flite") == 0) {
            char *const argv[] = {"flite",      "-voice", (char *)voice,   "-t",
                                  (char *)text, "-o",     (char *)out_wav, NULL};
            execvp(argv[0], argv);
        } else {
            char *const argv[] = {"espeak-ng",     "-v",      (char *)voice, "-w",
                                  (char *)out_wav, "--stdin", NULL};
            execvp(argv[0], argv);
        }
        _exit(127);
    }
    close(in[0]);
    if (strcmp(prog, "flite") != 0) {
        size_t len = strlen(text), o = 0;
        while (o < len) {
            ssize_t w = write(in[1], text + o, len - o);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            o += (size_t)w;
        }
    }
    close(in[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, VOICE_ERR, "%s failed (status %d)%s", prog,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                 WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ": not installed?" : "");
        return -1;
    }
    return 0;
}
