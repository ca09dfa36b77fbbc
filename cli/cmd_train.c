/*
 * cmd_train.c - `mille train --data PATH [--locales L] --out MODEL [options]`: train a joint
 * intent + slot model on MASSIVE-format data, select it on the dev partition, save it.
 * Settings go to stderr at start; a live progress line (percent, loss, dev exact match,
 * utterances/s, ETA) to stderr; a JSON summary line to stdout at the end.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "train_cli.h"

static void usage(FILE *f, const train_params *d)
{
    fprintf(
        f,
        "usage: mille train --data PATH --out MODEL [options]\n\n"
        "Trains one model for all locales in PATH (or --locales), selects it by dev exact "
        "match.\n\n"
        "  --data PATH          MASSIVE data: .jsonl(.gz) file, directory, or release .tar.gz;\n"
        "                       repeat to add more (e.g. data made by mille synth)\n"
        "  --dev-locales L1,L2  only these locales' dev records select the model (default: all;\n"
        "                       zero-shot: the labeled source locale)\n"
        "  --init PRETRAINED    start from the embedding of a mille pretrain file (its feature\n"
        "                       settings replace --dim --buckets --minn --maxn --subwords)\n"
        "  --out MODEL          model file to write (atomically)\n"
        "  --locales L1,L2      locales to train on (default: all in PATH)\n"
        "  --epochs N           maximum epochs (default %d)\n"
        "  --batch N            utterances per step (default %d)\n"
        "  --lr X               AdamW learning rate of the dense layers (default %g)\n"
        "  --emb-lr X           learning rate of the embedding rows (default %g)\n"
        "  --weight-decay X     AdamW decoupled weight decay (default %g)\n"
        "  --dim N              embedding width (default %u)\n"
        "  --hidden N           hidden width (default %u)\n"
        "  --layers N           convolution layers, 2..6 (default %u)\n"
        "  --buckets N          hashed feature rows (default %u)\n"
        "  --minn N --maxn N    character n-gram lengths (default %u..%u)\n"
        "  --bigrams 0|1        hashed bigrams of neighbouring words as features (default %u)\n"
        "  --subwords 0|1       pre-tokens (dictionary words in th/km/my/ja/zh) as features\n"
        "                       (default %u)\n"
        "  --translit 0|1       the Latin spelling of words in other scripts (ICU Any-Latin) as\n"
        "                       features, shared with Latin words (default %u)\n"
        "  --dropout X          dropout rate on word vectors and encoder outputs (default %g)\n"
        "  --threads N          worker threads; results do not depend on it (default %d)\n"
        "  --shards N           fixed shards of a step's batch, >= processes under mpirun; the\n"
        "                       result depends on it, not on threads or processes (default %d)\n"
        "  --seed N             random seed (default %llu)\n"
        "  --time-budget SEC    stop after SEC seconds, keeping the best model (default none)\n"
        "  --patience N         dev evaluations without improvement before stopping (default %d)\n"
        "  --evals-per-epoch N  dev evaluations per epoch (default %d)\n"
        "  --max-train N        use only the first N training utterances (default all)\n"
        "  --checkpoint PATH    checkpoint file (default MODEL.ckpt)\n"
        "  --resume             continue exactly from the checkpoint\n"
        "  --stop-after-epochs N  stop after N epochs with a checkpoint (to --resume later)\n"
        "  --f32                store the embedding in float32 (default float16)\n"
        "  --reject-recall R    after training, fit the temperature of the intent\n"
        "                       probabilities on dev and the default rejection threshold\n"
        "                       that keeps R of the in-scope dev utterances; 0 = neither\n"
        "                       (default %g)\n"
        "  --strict             stop at the first malformed record\n"
        "  --quiet              no progress line\n"
        "  --code-switch LEX    code-switching: each epoch, every --cs-from training record is\n"
        "                       also seen --cs-copies times with words swapped for translations\n"
        "                       from the lexicons, remade every epoch (repeat: one lexicon per\n"
        "                       language, PATH or LOCALE=PATH; docs/zeroshot.md)\n"
        "  --cs-rate P          probability that a word is swapped (default %g)\n"
        "  --cs-copies K        code-switched copies of each record per epoch (default %d)\n"
        "  --cs-from LOCALE     the locale of the records to switch (default en-US)\n",
        d->epochs, d->batch, (double)d->lr, (double)d->emb_lr, (double)d->weight_decay, d->cfg.dim,
        d->cfg.hidden, d->cfg.layers, d->cfg.buckets, d->cfg.minn, d->cfg.maxn, d->cfg.bigrams,
        d->cfg.subwords, d->cfg.translit, (double)d->dropout, d->threads, LOOP_SHARDS,
        (unsigned long long)d->seed, d->patience, d->evals_per_epoch, (double)d->reject_recall,
        (double)d->cs_rate, d->cs_copies);
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (s < 0) s = 0;
    int h = (int)(s / 3600), mi = (int)(s / 60) % 60, se = (int)s % 60;
    if (h)
        snprintf(buf, n, "%dh%02dm", h, mi);
    else
        snprintf(buf, n, "%dm%02ds", mi, se);
}

void cli_train_progress(void *ud, const train_progress *p)
{
    train_ui *u = ud;
    u->last = *p;
    if (u->quiet) return;
    char eta[32], el[32], dev[32] = "  -  ";
    fmt_time(eta, sizeof eta, p->eta_s);
    fmt_time(el, sizeof el, p->elapsed_s);
    if (p->dev_em >= 0) snprintf(dev, sizeof dev, "%5.2f", p->dev_em);
    double pct = p->total_steps ? 100.0 * (double)p->step / (double)p->total_steps : 0;
    if (p->evaluated) {
        fprintf(stderr,
                "%sstep %llu epoch %d: dev exact %.2f intent %.2f slot F1 %.2f (best %.2f) [%s]\n",
                u->tty ? "\r\033[K" : "", (unsigned long long)p->step, p->epoch, p->dev.exact_match,
                p->dev.intent_accuracy, p->dev.slot_f1, p->best_dev_em, el);
        fflush(stderr); /* at once in a log file too (stderr is unbuffered unless changed) */
        return;
    }
    if (!u->tty) return; /* a live line only on a terminal; evaluations are logged always */
    fprintf(stderr, "\r\033[K%5.1f%% epoch %d/%d  loss %.3f  dev EM %s  %.0f utt/s  ETA %s", pct,
            p->epoch, p->epochs, p->loss, dev, p->utt_per_s, eta);
    fflush(stderr);
}

void cli_train_skip(void *ud, const mille_error *e)
{
    train_ui *u = ud;
    if (u->skipped++ < 10 && loop_comm_rank(u->comm) == 0)
        fprintf(stderr, "mille %s: skipped: %s\n", u->cmd, e->msg);
}

int cli_train_option(int argc, char **argv, int *i, train_params *p, train_ui *u, int *bad)
{
    const char *v;
    long l;
    double d;
    if ((v = cli_opt_value(argc, argv, i, "--data", bad))) {
        if (!p->data) {
            p->data = v;
        } else if (u->n_more < CLI_MAX_DATA) {
            u->more[u->n_more++] = v;
        } else {
            fprintf(stderr, "mille %s: at most %d --data options\n", u->cmd, CLI_MAX_DATA + 1);
            *bad = 1;
        }
    } else if ((v = cli_opt_value(argc, argv, i, "--dev-locales", bad))) {
        p->dev_locales = v;
    } else if ((v = cli_opt_value(argc, argv, i, "--init", bad))) {
        p->init = v;
    } else if ((v = cli_opt_value(argc, argv, i, "--out", bad))) {
        p->out = v;
    } else if ((v = cli_opt_value(argc, argv, i, "--locales", bad))) {
        p->locales = v;
    } else if ((v = cli_opt_value(argc, argv, i, "--checkpoint", bad))) {
        p->checkpoint = v;
    } else if ((v = cli_opt_value(argc, argv, i, "--epochs", bad))) {
        *bad = cli_long(u->cmd, "--epochs", v, 1, 1000, &l) || (p->epochs = (int)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--batch", bad))) {
        *bad = cli_long(u->cmd, "--batch", v, 1, 65536, &l) || (p->batch = (int)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--threads", bad))) {
        *bad = cli_long(u->cmd, "--threads", v, 1, 64, &l) || (p->threads = (int)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--seed", bad))) {
        *bad = cli_long(u->cmd, "--seed", v, 0, 2147483647L, &l) || (p->seed = (uint64_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--dim", bad))) {
        *bad = cli_long(u->cmd, "--dim", v, 1, 4096, &l) || (p->cfg.dim = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--hidden", bad))) {
        *bad = cli_long(u->cmd, "--hidden", v, 1, 4096, &l) || (p->cfg.hidden = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--layers", bad))) {
        *bad = cli_long(u->cmd, "--layers", v, 2, 6, &l) || (p->cfg.layers = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--buckets", bad))) {
        *bad =
            cli_long(u->cmd, "--buckets", v, 1, 1L << 26, &l) || (p->cfg.buckets = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--minn", bad))) {
        *bad = cli_long(u->cmd, "--minn", v, 1, 16, &l) || (p->cfg.minn = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--maxn", bad))) {
        *bad = cli_long(u->cmd, "--maxn", v, 1, 16, &l) || (p->cfg.maxn = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--bigrams", bad))) {
        *bad = cli_long(u->cmd, "--bigrams", v, 0, 1, &l) || (p->cfg.bigrams = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--subwords", bad))) {
        *bad = cli_long(u->cmd, "--subwords", v, 0, 1, &l) || (p->cfg.subwords = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--translit", bad))) {
        *bad = cli_long(u->cmd, "--translit", v, 0, 1, &l) || (p->cfg.translit = (uint32_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--dropout", bad))) {
        *bad = cli_double(u->cmd, "--dropout", v, 0, 0.9, &d) || (p->dropout = (float)d, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--patience", bad))) {
        *bad = cli_long(u->cmd, "--patience", v, 1, 1000, &l) || (p->patience = (int)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--evals-per-epoch", bad))) {
        *bad = cli_long(u->cmd, "--evals-per-epoch", v, 1, 1000, &l) ||
               (p->evals_per_epoch = (int)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--max-train", bad))) {
        *bad =
            cli_long(u->cmd, "--max-train", v, 1, 2147483647L, &l) || (p->max_train = (size_t)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--lr", bad))) {
        *bad = cli_double(u->cmd, "--lr", v, 1e-7, 10, &d) || (p->lr = (float)d, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--emb-lr", bad))) {
        *bad = cli_double(u->cmd, "--emb-lr", v, 0, 10, &d) || (p->emb_lr = (float)d, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--weight-decay", bad))) {
        *bad = cli_double(u->cmd, "--weight-decay", v, 0, 1, &d) || (p->weight_decay = (float)d, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--time-budget", bad))) {
        *bad = cli_double(u->cmd, "--time-budget", v, 1, 1e7, &d) || (p->time_budget = d, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--reject-recall", bad))) {
        *bad =
            cli_double(u->cmd, "--reject-recall", v, 0, 1, &d) || (p->reject_recall = (float)d, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--shards", bad))) {
        *bad = cli_long(u->cmd, "--shards", v, 1, LOOP_MAX_SHARDS, &l) || (p->shards = (int)l, 0);
    } else if ((v = cli_opt_value(argc, argv, i, "--stop-after-epochs", bad))) {
        *bad = cli_long(u->cmd, "--stop-after-epochs", v, 1, 100000, &l) ||
               (p->stop_after_epochs = (int)l, 0);
    } else if (strcmp(argv[*i], "--resume") == 0) {
        p->resume = 1;
    } else if (strcmp(argv[*i], "--f32") == 0) {
        p->half = 0;
    } else if (strcmp(argv[*i], "--strict") == 0) {
        u->strict = 1;
    } else if (strcmp(argv[*i], "--quiet") == 0) {
        u->quiet = 1;
    } else {
        return 0;
    }
    return 1;
}

int cmd_train(int argc, char **argv)
{
    train_params p = train_default_params();
    train_ui u;
    cli_train_ui_init(&u, "train");
    int bad = 0;
    const char *cs[CLI_MAX_DATA];
    const char *v;
    long l;
    double d;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout, &p);
            return CLI_OK;
        } else if (cli_train_option(argc, argv, &i, &p, &u, &bad)) {
            continue;
        } else if ((v = cli_opt_value(argc, argv, &i, "--code-switch", &bad))) {
            if (p.n_cs < CLI_MAX_DATA) {
                cs[p.n_cs++] = v;
            } else {
                fprintf(stderr, "mille train: at most %d --code-switch options\n", CLI_MAX_DATA);
                bad = 1;
            }
        } else if ((v = cli_opt_value(argc, argv, &i, "--cs-rate", &bad))) {
            bad = cli_double("train", "--cs-rate", v, 0, 1, &d) || (p.cs_rate = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--cs-copies", &bad))) {
            bad = cli_long("train", "--cs-copies", v, 1, 100, &l) || (p.cs_copies = (int)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--cs-from", &bad))) {
            p.cs_from = v;
        } else if (!bad) {
            fprintf(stderr, "mille train: unknown option '%s' (see --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return CLI_USAGE;
    p.cs_lexicons = cs;
    if (!p.data || !p.out) {
        fprintf(stderr, "mille train: --data and --out are required (see --help)\n");
        return CLI_USAGE;
    }
    if (p.cfg.maxn < p.cfg.minn) {
        fprintf(stderr, "mille train: --maxn must be >= --minn\n");
        return CLI_USAGE;
    }
    if (cli_train_setup(&p, &u)) return CLI_ERR;
    if (!u.quiet)
        fprintf(stderr,
                "mille train: data=%s locales=%s out=%s epochs=%d batch=%d lr=%g emb_lr=%g wd=%g "
                "dim=%u hidden=%u layers=%u buckets=%u ngrams=%u..%u bigrams=%u subwords=%u "
                "dropout=%g threads=%d "
                "seed=%llu time_budget=%gs%s%s%s%s%s",
                p.data, p.locales ? p.locales : "all", p.out, p.epochs, p.batch, (double)p.lr,
                (double)p.emb_lr, (double)p.weight_decay, p.cfg.dim, p.cfg.hidden, p.cfg.layers,
                p.cfg.buckets, p.cfg.minn, p.cfg.maxn, p.cfg.bigrams, p.cfg.subwords,
                (double)p.dropout, p.threads, (unsigned long long)p.seed, p.time_budget,
                p.resume ? " (resuming)" : "", p.init ? " init=" : "", p.init ? p.init : "",
                p.dev_locales ? " dev_locales=" : "", p.dev_locales ? p.dev_locales : "");
    if (!u.quiet && p.n_cs)
        fprintf(stderr, " code_switch=%d lexicons rate=%g copies=%d from=%s", p.n_cs,
                (double)p.cs_rate, p.cs_copies, p.cs_from ? p.cs_from : "en-US");
    if (!u.quiet) fprintf(stderr, "\n");
    mille_error err;
    eval_metrics best;
    int rc = train_run(&p, NULL, &best, &err);
    return cli_train_finish(&p, &u, rc, &err, &best);
}

void cli_train_ui_init(train_ui *u, const char *cmd)
{
    memset(u, 0, sizeof *u);
    u->tty = isatty(2);
    u->cmd = cmd;
}

int cli_train_setup(train_params *p, train_ui *u)
{
    p->strict = u->strict;
    p->data_more = u->more;
    p->n_data_more = u->n_more;
    p->progress = cli_train_progress;
    p->on_skip = cli_train_skip;
    p->ud = u;
    int rc;
    p->comm = u->comm = cli_comm_start(u->cmd, &rc);
    if (loop_comm_rank(u->comm) > 0) u->quiet = 1; /* rank 0 speaks for all */
    return rc;
}

/* Where the time of a step went and what it sent: the slowest rank's times, the bytes of all
 * ranks; one line from rank 0 (one process: its own step time). */
static void step_report(train_ui *u)
{
    const train_progress *l = &u->last;
    int64_t v[9] = {
        (int64_t)(l->compute_s * 1e6), (int64_t)(l->wait_s * 1e6),   (int64_t)(l->comm_s * 1e6),
        (int64_t)(l->step_s * 1e6),    (int64_t)l->steps_run,        (int64_t)(l->rows_s * 1e6),
        (int64_t)(l->update_s * 1e6),  (int64_t)(l->gather_s * 1e6), (int64_t)(l->adds_s * 1e6)};
    int64_t b[1] = {(int64_t)l->comm_bytes};
    const loop_comm *c = u->comm;
    if (c && (c->allreduce_i64(c->ud, v, 9, LOOP_OP_MAX) ||
              c->allreduce_i64(c->ud, b, 1, LOOP_OP_SUM) || c->rank != 0))
        return;
    if (!v[4] || (!c && u->quiet)) return;
    double n = (double)v[4], ms = 1e3 * n;
    fprintf(stderr,
            "mille %s: %d process%s, %lld steps: %.2f ms per step (%.2f computing, %.2f waiting "
            "for the slowest rank, %.2f exchanging and summing, of which %.2f the embedding "
            "rows); %.0f bytes sent per step by all ranks; dense gradient %llu floats, %.0f "
            "embedding rows touched per step; %.2f ms updating this rank's share, %.2f ms "
            "gathering the updated weights, %.2f ms adding word gradients to rows\n",
            u->cmd, c ? c->size : 1, c ? "es" : "", (long long)v[4], (double)v[3] / ms,
            (double)v[0] / ms, (double)v[1] / ms, (double)v[2] / ms, (double)v[5] / ms,
            (double)b[0] / n, (unsigned long long)l->n_dense, (double)l->rows_run / n,
            (double)v[6] / ms, (double)v[7] / ms, (double)v[8] / ms);
}

int cli_train_finish(const train_params *p, train_ui *u, int rc, const mille_error *err,
                     const eval_metrics *best)
{
    if (u->tty && !u->quiet) fprintf(stderr, "\r\033[K");
    if (u->skipped && loop_comm_rank(u->comm) == 0)
        fprintf(stderr, "mille %s: %zu malformed records skipped\n", u->cmd, u->skipped);
    if (!rc) step_report(u);
    int quiet = cli_comm_quiet(u->comm), rank = loop_comm_rank(u->comm);
    if (rc && !quiet) { /* the rank that failed first says why; the others stop quietly */
        char who[64] = "";
        if (u->comm) snprintf(who, sizeof who, "rank %d of %d: ", rank, u->comm->size);
        fprintf(stderr, "mille %s: %s%s: %s\n", u->cmd, who, mille_strerror(rc), err->msg);
        fflush(stderr);
    }
    /* every rank gets here, failed or not (the failures were agreed): leave MPI together,
     * so that the launcher does not end a rank before it has had its say */
    cli_comm_end(u->comm);
    if (rc) return CLI_ERR;
    if (rank > 0) return CLI_OK;
    printf("{\"model\": \"%s\", \"dev\": {\"exact_match\": %.2f, \"intent_accuracy\": %.2f, "
           "\"slot_f1\": %.2f, \"locales\": %zu, \"n\": %llu}}\n",
           p->out, best->exact_match, best->intent_accuracy, best->slot_f1, best->n_locales,
           (unsigned long long)best->n);
    return CLI_OK;
}
