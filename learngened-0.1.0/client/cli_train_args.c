/* cli_train_args.c - the options every training subcommand shares (data,
 * schedule, optimizer, threads, output dtype), parsed in one place. */
#include <string.h>

#include "cli.h"

void cli_train_args_init(cli_train_args *a)
{
    memset(a, 0, sizeof *a);
    lg_train_defaults(&a->o);
    a->dir = LG_FMNIST_DIR;
    a->epochs = 5;
    a->warmup = -1;
    a->seed = 1;
    a->dtype = LG_F32;
}

int cli_train_arg(cli_train_args *a, int code, const char *arg)
{
    long v;
    double d;
    int bad = 0;
    lg_train_opts *o = &a->o;
    switch (code) {
    case 'o': a->out = arg; break;
    case CLI_O_DATA: a->dir = arg; break;
    case CLI_O_LABELS: a->labels = arg; break;
    case CLI_O_PER_CLASS: bad = cli_long("--per-class", arg, 1, 1000000, &a->per_class); break;
    case CLI_O_EPOCHS: bad = cli_long("--epochs", arg, 1, 100000, &a->epochs); break;
    case CLI_O_STEPS: bad = cli_long("--steps", arg, 1, 100000000, &a->steps); break;
    case CLI_O_BATCH: bad = cli_long("--batch", arg, 1, 65536, &v), o->batch = (int)v; break;
    case CLI_O_LR: bad = cli_double("--lr", arg, 0, 10, &d), o->opt.lr = (float)d; break;
    case CLI_O_MIN_LR: bad = cli_double("--min-lr", arg, 0, 10, &d), o->opt.min_lr = (float)d; break;
    case CLI_O_WD: bad = cli_double("--wd", arg, 0, 10, &d), o->opt.weight_decay = (float)d; break;
    case CLI_O_WARMUP: bad = cli_long("--warmup", arg, 0, 100000000, &a->warmup); break;
    case CLI_O_HFLIP: o->hflip = 1; break;
    case CLI_O_THREADS: bad = cli_long("--threads", arg, 1, 256, &v), o->threads = (int)v; break;
    case CLI_O_SEED: bad = cli_long("--seed", arg, 0, 0x7fffffff, &a->seed); break;
    case CLI_O_LOG: bad = cli_long("--log-every", arg, 0, 100000000, &v), o->log_every = (int)v; break;
    case CLI_O_EVAL: a->eval = 1; break;
    case CLI_O_DTYPE: bad = cli_dtype(arg, &a->dtype); break;
    default: return 0;
    }
    return bad ? -1 : 1;
}

static int print_progress(void *user, const lg_train_progress *p)
{
    (void)user;
    cli_print_progress(stderr, p);
    return 0;
}

void cli_train_args_finish(cli_train_args *a, int n_images)
{
    a->o.seed = (uint64_t)a->seed;
    a->o.steps = a->steps ? a->steps : (a->epochs * n_images + a->o.batch - 1) / a->o.batch;
    a->o.opt.warmup_steps = a->warmup >= 0 ? a->warmup : a->o.steps / 20;
    a->o.progress = print_progress;
}

int cli_report_accuracy(lg_model *m, const cli_train_args *a, const char *labels)
{
    lg_dataset test = {0};
    char err[512];
    double acc, loss;
    if (cli_load_fmnist(&test, a->dir, 0, labels, 0, 0) < 0) return -1;
    lg_status st = lg_evaluate(m, &test, 256, a->o.threads, &acc, &loss, err, sizeof err);
    if (st == LG_OK)
        printf("test accuracy %.4f (%d images), loss %.4f\n", acc, test.n, loss);
    else
        fprintf(stderr, "learngene: %s\n", err);
    lg_dataset_free(&test);
    return st == LG_OK ? 0 : -1;
}
