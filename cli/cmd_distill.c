/*
 * cmd_distill.c - `mille distill --teacher T [--teacher T2 ...] --data LABELED
 * [--unlabeled TEXT ...] --out STUDENT [options]`: distill one teacher or an ensemble into a
 * student of the shape the options give (src/train/distill.h). The student's training options,
 * progress line and summary are `mille train`'s.
 */
#include <stdio.h>
#include <string.h>

#include "distill.h"
#include "train_cli.h"

static void usage(FILE *f, const distill_params *d)
{
    fprintf(
        f,
        "usage: mille distill --teacher T [--teacher T2 ...] --data LABELED --out STUDENT\n"
        "                     [--unlabeled TEXT ...] [options]\n\n"
        "The teachers (their intent probabilities and slot marginals averaged) label the\n"
        "labeled data, perturbed copies of it and unlabeled text; the student learns from\n"
        "their labels mixed with the gold ones, and is selected by dev exact match.\n\n"
        "  --teacher MODEL      a trained model; repeat for an ensemble (up to %d)\n"
        "  --data PATH          labeled MASSIVE data (train and dev partitions); repeatable\n"
        "  --unlabeled PATH     unlabeled utterances: MASSIVE data (labels ignored) or a text\n"
        "                       file named like its locale (ja-JP.txt[.gz], one per line);\n"
        "                       repeatable\n"
        "  --lexicon PATH       bilingual lexicon for code-switched copies (as mille synth);\n"
        "                       repeatable\n"
        "  --copies N           perturbed copies of each training utterance (default %d)\n"
        "  --drop P, --repeat P, --typos P, --swap P\n"
        "                       in a copy, each word is dropped, repeated, misspelled (one\n"
        "                       character edit, words of 3+ characters) or swapped for a\n"
        "                       lexicon translation with these probabilities (defaults %g,\n"
        "                       %g, %g, %g; at most one of them per word)\n"
        "  --copy-labels K      what a copy learns from: 'mixed' (the teachers' labels mixed\n"
        "                       with the copy's gold ones, as for labeled data; default) or\n"
        "                       'teacher' (the teachers' alone)\n"
        "  --temperature T      temperature of the intent distributions (default %g)\n"
        "  --alpha X            weight of the teachers' intents on labeled data (default %g)\n"
        "  --beta X             weight of the teachers' slot marginals on labeled data\n"
        "                       (default %g); unlabeled inputs use the teachers' alone\n"
        "  --min-p X            drop slot target entries below X (default %g)\n"
        "  --out MODEL          the student (written atomically)\n\n"
        "The student's shape and training: every option of `mille train` (--hidden, --layers,\n"
        "--dim, --buckets, --minn, --maxn, --epochs, --lr, --threads, --time-budget, --resume,\n"
        "...); see mille train --help. Defaults: hidden %u, layers %u, dim %u, buckets %u.\n",
        DISTILL_MAX_TEACHERS, d->copies, (double)d->aug.drop, (double)d->aug.repeat,
        (double)d->aug.typo, (double)d->aug.swap, (double)d->temp, (double)d->alpha,
        (double)d->beta, (double)d->min_p, d->tp.cfg.hidden, d->tp.cfg.layers, d->tp.cfg.dim,
        d->tp.cfg.buckets);
}

static void on_note(void *ud, const char *msg)
{
    train_ui *u = ud;
    if (!u->quiet) fprintf(stderr, "%smille distill: %s\n", u->tty ? "\r\033[K" : "", msg);
}

int cmd_distill(int argc, char **argv)
{
    distill_params p = distill_default_params();
    enum { MAX_LIST = 64 };
    const char *teachers[MAX_LIST], *unlabeled[MAX_LIST], *lexicons[MAX_LIST];
    train_ui u;
    cli_train_ui_init(&u, "distill");
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        long l;
        double d;
        if (cli_is_help(argv[i])) {
            usage(stdout, &p);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--teacher", &bad))) {
            if (p.n_teachers < DISTILL_MAX_TEACHERS)
                teachers[p.n_teachers++] = v;
            else
                fprintf(stderr, "mille distill: at most %d --teacher options\n",
                        DISTILL_MAX_TEACHERS),
                    bad = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--unlabeled", &bad))) {
            if (p.n_unlabeled < MAX_LIST)
                unlabeled[p.n_unlabeled++] = v;
            else
                fprintf(stderr, "mille distill: at most %d --unlabeled options\n", MAX_LIST),
                    bad = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--lexicon", &bad))) {
            if (p.n_lexicons < MAX_LIST)
                lexicons[p.n_lexicons++] = v;
            else
                fprintf(stderr, "mille distill: at most %d --lexicon options\n", MAX_LIST), bad = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--copies", &bad))) {
            bad = cli_long("distill", "--copies", v, 0, 16, &l) || (p.copies = (int)l, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--drop", &bad))) {
            bad = cli_double("distill", "--drop", v, 0, 1, &d) || (p.aug.drop = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--repeat", &bad))) {
            bad = cli_double("distill", "--repeat", v, 0, 1, &d) || (p.aug.repeat = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--typos", &bad))) {
            bad = cli_double("distill", "--typos", v, 0, 1, &d) || (p.aug.typo = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--swap", &bad))) {
            bad = cli_double("distill", "--swap", v, 0, 1, &d) || (p.aug.swap = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--copy-labels", &bad))) {
            if (!strcmp(v, "mixed") || !strcmp(v, "teacher"))
                p.copy_gold = !strcmp(v, "mixed");
            else
                fprintf(stderr, "mille distill: --copy-labels: '%s' is neither mixed nor teacher\n",
                        v),
                    bad = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--temperature", &bad))) {
            bad =
                cli_double("distill", "--temperature", v, 0.05, 100, &d) || (p.temp = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--alpha", &bad))) {
            bad = cli_double("distill", "--alpha", v, 0, 1, &d) || (p.alpha = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--beta", &bad))) {
            bad = cli_double("distill", "--beta", v, 0, 1, &d) || (p.beta = (float)d, 0);
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-p", &bad))) {
            bad = cli_double("distill", "--min-p", v, 0, 0.49, &d) || (p.min_p = (float)d, 0);
        } else if (cli_train_option(argc, argv, &i, &p.tp, &u, &bad)) {
            continue;
        } else if (!bad) {
            fprintf(stderr, "mille distill: unknown option '%s' (see --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return CLI_USAGE;
    if (!p.tp.data || !p.tp.out || p.n_teachers == 0) {
        fprintf(stderr, "mille distill: --teacher, --data and --out are required (see --help)\n");
        return CLI_USAGE;
    }
    if (p.tp.cfg.maxn < p.tp.cfg.minn) {
        fprintf(stderr, "mille distill: --maxn must be >= --minn\n");
        return CLI_USAGE;
    }
    if (p.aug.drop + p.aug.repeat + p.aug.typo + p.aug.swap > 1.0001f) {
        fprintf(stderr, "mille distill: --drop + --repeat + --typos + --swap must be <= 1 (they "
                        "are exclusive choices for each word)\n");
        return CLI_USAGE;
    }
    p.teachers = teachers;
    p.unlabeled = unlabeled;
    p.lexicons = lexicons;
    if (cli_train_setup(&p.tp, &u)) return CLI_ERR;
    p.note = on_note;
    if (!u.quiet) {
        fprintf(stderr, "mille distill: %d teacher%s (", p.n_teachers, p.n_teachers > 1 ? "s" : "");
        for (int t = 0; t < p.n_teachers; t++) fprintf(stderr, "%s%s", t ? ", " : "", teachers[t]);
        fprintf(stderr,
                ") data=%s out=%s copies=%d (drop %g repeat %g typos %g swap %g, %s labels) T=%g "
                "alpha=%g beta=%g student: dim=%u hidden=%u "
                "layers=%u buckets=%u ngrams=%u..%u epochs=%d threads=%d seed=%llu "
                "time_budget=%gs%s\n",
                p.tp.data, p.tp.out, p.copies, (double)p.aug.drop, (double)p.aug.repeat,
                (double)p.aug.typo, (double)p.aug.swap, p.copy_gold ? "mixed" : "teacher",
                (double)p.temp, (double)p.alpha, (double)p.beta, p.tp.cfg.dim, p.tp.cfg.hidden,
                p.tp.cfg.layers, p.tp.cfg.buckets, p.tp.cfg.minn, p.tp.cfg.maxn, p.tp.epochs,
                p.tp.threads, (unsigned long long)p.tp.seed, p.tp.time_budget,
                p.tp.resume ? " (resuming)" : "");
    }
    mille_error err;
    eval_metrics best;
    distill_stats st;
    int rc = distill_run(&p, &best, &st, &err);
    if (!rc && !u.quiet)
        fprintf(stderr, "%smille distill: labeling %.0f s, student training %.0f s\n",
                u.tty ? "\r\033[K" : "", st.label_s, st.train_s);
    return cli_train_finish(&p.tp, &u, rc, &err, &best);
}
