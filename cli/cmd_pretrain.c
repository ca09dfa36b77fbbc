/*
 * cmd_pretrain.c - `mille pretrain --text FILE... --out PRETRAINED`: skip-gram pretraining of
 * the hashed embedding on unlabeled text (src/train/pretrain.c), optionally aligned across
 * languages with bilingual lexicons. `mille train --init PRETRAINED` starts from it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mpi_comm.h"
#include "pretrain.h"

static void usage(FILE *f, const pretrain_params *d)
{
    fprintf(f,
            "usage: mille pretrain --text FILE [--text FILE ...] --out PRETRAINED [options]\n\n"
            "Self-supervised pretraining of the model's word and character n-gram embedding\n"
            "(skip-gram, negative sampling) on unlabeled text; mille train --init starts from\n"
            "it. See docs/zeroshot.md.\n\n"
            "  --text FILE          plain text, one utterance per line (.txt, or .gz), or\n"
            "                       MASSIVE data (.jsonl(.gz), directory, .tar.gz) read\n"
            "                       without labels; repeat for more\n"
            "  --locales L1,L2      MASSIVE inputs: locales to read (default all)\n"
            "  --partitions P       MASSIVE inputs: partitions to read (default %s)\n"
            "  --lexicon FILE       bilingual lexicon (FreeDict .index or TSV) to align\n"
            "                       languages by code-switching; repeat for more\n"
            "  --code-switch P      probability of swapping a word for a translation\n"
            "                       (default %g)\n"
            "  --senses N           translations used per word (default %d)\n"
            "  --out PRETRAINED     file to write (atomically)\n"
            "  --dim N --buckets N --minn N --maxn N --subwords 0|1\n"
            "                       feature settings (defaults %u, %u, %u, %u, %u: the\n"
            "                       supervised model's)\n"
            "  --epochs N           passes over the text (default %d)\n"
            "  --window N           context words each side, at most (default %d)\n"
            "  --neg N              negative samples per context word (default %d)\n"
            "  --lr X               initial learning rate (default %g)\n"
            "  --threads N          threads (default %d; more than 1 is not bit-reproducible)\n"
            "  --seed N             random seed (default %llu)\n"
            "  --time-budget SEC    stop after SEC seconds and save (default none)\n"
            "  --syncs N            under mpirun: averages of the processes' copies per epoch\n"
            "                       (default 4)\n"
            "  --quiet              no progress line\n",
            d->partitions, (double)d->code_switch, d->max_senses, d->cfg.dim, d->cfg.buckets,
            d->cfg.minn, d->cfg.maxn, d->cfg.subwords, d->epochs, d->window, d->neg, (double)d->lr,
            d->threads, (unsigned long long)d->seed);
}

typedef struct ui {
    int tty, quiet;
    double last; /* elapsed_s of the last line written (not on a terminal) */
} ui;

/* Seconds between the lines of a long epoch when stderr is not a terminal (a log file gets
 * every epoch's line, and one at least this often within an epoch). */
#define LOG_EVERY_S 10.0

static void on_progress(void *ud, const pretrain_progress *p)
{
    ui *u = ud;
    if (u->quiet) return;
    if (!u->tty && !p->epoch_end && p->elapsed_s - u->last < LOG_EVERY_S) return;
    u->last = p->elapsed_s;
    fprintf(stderr, "%sepoch %d/%d %5.1f%% loss %.4f %.0f tokens/s elapsed %.0fs eta %.0fs%s",
            u->tty ? "\r\033[K" : "", p->epoch, p->epochs, 100 * p->done, p->loss, p->tokens_s,
            p->elapsed_s, p->eta_s, u->tty ? "" : "\n");
    fflush(stderr); /* stderr is unbuffered by default, but not if a caller changed that */
}

int cmd_pretrain(int argc, char **argv)
{
    pretrain_params p = pretrain_default_params();
    enum { MAXF = 256 };
    const char *texts[MAXF], *lexicons[MAXF];
    int nt = 0, nl = 0, bad = 0;
    ui u = {isatty(2), 0, 0};
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        long l;
        double d;
        if (cli_is_help(argv[i])) {
            usage(stdout, &p);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--text", &bad))) {
            if (nt == MAXF) {
                fprintf(stderr, "mille pretrain: at most %d --text files\n", MAXF);
                return CLI_USAGE;
            }
            texts[nt++] = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--lexicon", &bad))) {
            if (nl == MAXF) {
                fprintf(stderr, "mille pretrain: at most %d --lexicon files\n", MAXF);
                return CLI_USAGE;
            }
            lexicons[nl++] = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--out", &bad))) {
            p.out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--locales", &bad))) {
            p.locales = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--partitions", &bad))) {
            p.partitions = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--code-switch", &bad))) {
            bad = cli_double("pretrain", "--code-switch", v, 0, 1, &d) ||
                  (p.code_switch = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--senses", &bad))) {
            bad = cli_long("pretrain", "--senses", v, 1, 64, &l) || (p.max_senses = (int)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--dim", &bad))) {
            bad = cli_long("pretrain", "--dim", v, 1, 512, &l) || (p.cfg.dim = (uint32_t)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--buckets", &bad))) {
            bad = cli_long("pretrain", "--buckets", v, 1, 1L << 26, &l) ||
                  (p.cfg.buckets = (uint32_t)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--minn", &bad))) {
            bad = cli_long("pretrain", "--minn", v, 1, 16, &l) || (p.cfg.minn = (uint32_t)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--maxn", &bad))) {
            bad = cli_long("pretrain", "--maxn", v, 1, 16, &l) || (p.cfg.maxn = (uint32_t)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--subwords", &bad))) {
            bad = cli_long("pretrain", "--subwords", v, 0, 1, &l) ||
                  (p.cfg.subwords = (uint32_t)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--epochs", &bad))) {
            bad = cli_long("pretrain", "--epochs", v, 1, 1000, &l) || (p.epochs = (int)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--window", &bad))) {
            bad = cli_long("pretrain", "--window", v, 1, 64, &l) || (p.window = (int)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--neg", &bad))) {
            bad = cli_long("pretrain", "--neg", v, 0, 100, &l) || (p.neg = (int)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--lr", &bad))) {
            bad = cli_double("pretrain", "--lr", v, 1e-6, 10, &d) || (p.lr = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--threads", &bad))) {
            bad = cli_long("pretrain", "--threads", v, 1, 16, &l) || (p.threads = (int)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", &bad))) {
            bad =
                cli_long("pretrain", "--seed", v, 0, 2147483647L, &l) || (p.seed = (uint64_t)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--time-budget", &bad))) {
            bad = cli_double("pretrain", "--time-budget", v, 1, 1e7, &d) || (p.time_budget = d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--syncs", &bad))) {
            bad = cli_long("pretrain", "--syncs", v, 1, 100000, &l) ||
                  (p.syncs_per_epoch = (int)l, 0);
        } else if (strcmp(argv[i], "--quiet") == 0) {
            u.quiet = 1;
        } else if (!bad) {
            fprintf(stderr, "mille pretrain: unknown option '%s' (see --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return CLI_USAGE;
    if (!nt || !p.out) {
        fprintf(stderr, "mille pretrain: --text and --out are required (see --help)\n");
        return CLI_USAGE;
    }
    if (p.cfg.maxn < p.cfg.minn) {
        fprintf(stderr, "mille pretrain: --maxn must be >= --minn\n");
        return CLI_USAGE;
    }
    p.texts = texts;
    p.n_texts = nt;
    p.lexicons = lexicons;
    p.n_lexicons = nl;
    p.progress = on_progress;
    p.ud = &u;
    int crc;
    const loop_comm *comm = p.comm = cli_comm_start("pretrain", &crc);
    if (crc) return CLI_ERR;
    int rank = loop_comm_rank(comm);
    if (rank > 0) u.quiet = 1; /* rank 0 speaks for all */
    if (!u.quiet)
        fprintf(stderr,
                "mille pretrain: texts=%d lexicons=%d out=%s dim=%u buckets=%u ngrams=%u..%u "
                "subwords=%u epochs=%d window=%d neg=%d lr=%g code_switch=%g threads=%d "
                "seed=%llu\n",
                nt, nl, p.out, p.cfg.dim, p.cfg.buckets, p.cfg.minn, p.cfg.maxn, p.cfg.subwords,
                p.epochs, p.window, p.neg, (double)p.lr, nl ? (double)p.code_switch : 0.0,
                p.threads, (unsigned long long)p.seed);
    mille_error err;
    pretrain_stats st;
    int rc = pretrain_run(&p, &st, &err);
    if (u.tty && !u.quiet) fprintf(stderr, "\r\033[K");
    if (rc && !cli_comm_quiet(comm)) { /* over processes: the rank that failed first */
        char who[64] = "";
        if (comm) snprintf(who, sizeof who, "rank %d of %d: ", rank, comm->size);
        fprintf(stderr, "mille pretrain: %s%s: %s\n", who, mille_strerror(rc), err.msg);
    }
    if (!rc && comm && rank == 0)
        fprintf(stderr,
                "mille pretrain: %d processes, %llu bytes sent by rank 0 averaging copies\n",
                comm->size, (unsigned long long)st.comm_bytes);
    fflush(stderr);
    cli_comm_end(comm);
    if (rc) return CLI_ERR;
    if (rank > 0) return CLI_OK;
    printf("{\"pretrained\": \"%s\", \"utterances\": %zu, \"tokens\": %zu, \"skipped_lines\": "
           "%zu, \"lexicon_links\": %zu, \"linked_tokens\": %zu, \"loss\": %.4f, \"seconds\": "
           "%.1f}\n",
           p.out, st.utterances, st.tokens, st.skipped_lines, st.lexicon_links, st.linked_tokens,
           st.loss, st.seconds);
    return CLI_OK;
}
