/* cmd_train.c - `learngene train`: a ViT from scratch on Fashion-MNIST,
 * with a progress line per N steps, saved as safetensors. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char train_help[] =
    "usage: learngene train -o FILE [OPTIONS]\n"
    "Trains a ViT from scratch on Fashion-MNIST and writes it as safetensors.\n"
    "  -o, --out FILE     where to write the model (required)\n"
    "  --data DIR         Fashion-MNIST directory (default " LG_FMNIST_DIR ")\n"
    "  --labels LIST      train on these classes only, e.g. 5,6,7,8,9 (relabelled 0..n-1)\n"
    "  --per-class N      N training images per class (default: all)\n"
    "  --epochs N         passes over the data (default 5), or\n"
    "  --steps N          optimizer steps (overrides --epochs)\n"
    "  --batch N          images per step (default 64)\n"
    "  --lr X             peak learning rate (default 1e-3)\n"
    "  --min-lr X         final learning rate of the cosine (default 1e-5)\n"
    "  --wd X             AdamW weight decay (default 0.05)\n"
    "  --warmup N         warm-up steps (default 5% of the steps)\n"
    "  --hflip            random horizontal flips\n"
    "  --threads N        CPU threads (default 1)\n"
    "  --seed N           initialization and shuffling seed (default 1)\n"
    "  --log-every N      steps between progress lines (default 50)\n"
    "  --dtype F32|F16|BF16  weights dtype of the file (default F32)\n"
    "  --eval             report test-set accuracy at the end\n" CLI_SHAPE_HELP;

static int print_progress(void *user, const lg_train_progress *p)
{
    (void)user;
    cli_print_progress(stderr, p);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    enum { O_DATA = 256, O_LABELS, O_PER_CLASS, O_EPOCHS, O_STEPS, O_BATCH, O_LR, O_MIN_LR, O_WD, O_WARMUP, O_HFLIP,
           O_THREADS, O_SEED, O_LOG, O_DTYPE, O_EVAL, O_PRESET, O_SHAPE };
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},         {"data", required_argument, 0, O_DATA},
        {"labels", required_argument, 0, O_LABELS}, {"per-class", required_argument, 0, O_PER_CLASS},
        {"epochs", required_argument, 0, O_EPOCHS}, {"steps", required_argument, 0, O_STEPS},
        {"batch", required_argument, 0, O_BATCH},   {"lr", required_argument, 0, O_LR},
        {"min-lr", required_argument, 0, O_MIN_LR}, {"wd", required_argument, 0, O_WD},
        {"warmup", required_argument, 0, O_WARMUP}, {"hflip", no_argument, 0, O_HFLIP},
        {"threads", required_argument, 0, O_THREADS}, {"seed", required_argument, 0, O_SEED},
        {"log-every", required_argument, 0, O_LOG}, {"dtype", required_argument, 0, O_DTYPE},
        {"eval", no_argument, 0, O_EVAL},           {"preset", required_argument, 0, O_PRESET},
        {"img", required_argument, 0, O_SHAPE},     {"chans", required_argument, 0, O_SHAPE},
        {"patch", required_argument, 0, O_SHAPE},   {"dim", required_argument, 0, O_SHAPE},
        {"depth", required_argument, 0, O_SHAPE},   {"heads", required_argument, 0, O_SHAPE},
        {"mlp", required_argument, 0, O_SHAPE},     {"classes", required_argument, 0, O_SHAPE},
        {"pool", required_argument, 0, O_SHAPE},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *out = NULL, *dir = LG_FMNIST_DIR, *labels = NULL;
    long per_class = 0, epochs = 5, steps = 0, warmup = -1, seed = 1, v;
    double d;
    int eval = 0, classes_set = 0;
    lg_dtype dtype = LG_F32;
    lg_config cfg;
    cli_shape_default(&cfg);
    lg_train_opts o;
    lg_train_defaults(&o);
    int c, idx = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, &idx)) != -1) {
        const char *name = idx >= 0 ? opts[idx].name : "";
        int bad = 0;
        switch (c) {
        case 'o': out = optarg; break;
        case O_DATA: dir = optarg; break;
        case O_LABELS: labels = optarg; break;
        case O_PER_CLASS: bad = cli_long("--per-class", optarg, 1, 1000000, &per_class); break;
        case O_EPOCHS: bad = cli_long("--epochs", optarg, 1, 100000, &epochs); break;
        case O_STEPS: bad = cli_long("--steps", optarg, 1, 100000000, &steps); break;
        case O_BATCH: bad = cli_long("--batch", optarg, 1, 65536, &v), o.batch = (int)v; break;
        case O_LR: bad = cli_double("--lr", optarg, 0, 10, &d), o.opt.lr = (float)d; break;
        case O_MIN_LR: bad = cli_double("--min-lr", optarg, 0, 10, &d), o.opt.min_lr = (float)d; break;
        case O_WD: bad = cli_double("--wd", optarg, 0, 10, &d), o.opt.weight_decay = (float)d; break;
        case O_WARMUP: bad = cli_long("--warmup", optarg, 0, 100000000, &warmup); break;
        case O_HFLIP: o.hflip = 1; break;
        case O_THREADS: bad = cli_long("--threads", optarg, 1, 256, &v), o.threads = (int)v; break;
        case O_SEED: bad = cli_long("--seed", optarg, 0, 0x7fffffff, &seed); break;
        case O_LOG: bad = cli_long("--log-every", optarg, 0, 100000000, &v), o.log_every = (int)v; break;
        case O_DTYPE:
            if ((bad = lg_dtype_parse(optarg, &dtype) != 0))
                fprintf(stderr, "learngene: --dtype must be F32, F16 or BF16, got '%s'\n", optarg);
            break;
        case O_EVAL: eval = 1; break;
        case O_PRESET: bad = cli_shape_preset(&cfg, optarg); break;
        case O_SHAPE:
            bad = cli_shape_option(&cfg, name, optarg) < 0;
            classes_set |= !strcmp(name, "classes");
            break;
        case 'h': fputs(train_help, stdout); return CLI_OK;
        default: fputs(train_help, stderr); return CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
        idx = -1;
    }
    if (!out || optind != argc) {
        fprintf(stderr, "learngene train: %s\n", !out ? "-o FILE is required" : "unexpected argument");
        fputs(train_help, stderr);
        return CLI_USAGE;
    }
    lg_dataset train = {0}, test = {0};
    lg_model *m = NULL;
    int rc = CLI_FAIL;
    char err[512];
    int ncls = cli_load_fmnist(&train, dir, 1, labels, per_class, (uint64_t)seed);
    if (ncls < 0) goto out;
    if (!classes_set) cfg.classes = ncls;
    if (lg_model_new(&m, &cfg, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene train: %s\n", err);
        rc = CLI_USAGE;
        goto out;
    }
    lg_model_init(m, (uint64_t)seed);
    o.seed = (uint64_t)seed;
    o.steps = steps ? steps : (epochs * train.n + o.batch - 1) / o.batch;
    o.opt.warmup_steps = warmup >= 0 ? warmup : o.steps / 20;
    o.progress = print_progress;
    char shape[512];
    lg_config_to_json(&cfg, shape, sizeof shape);
    fprintf(stderr, "model %s: %zu params, %.4f GFLOPs/image; %d training images, %ld steps of %d\n", shape,
            lg_config_params(&cfg), lg_config_flops(&cfg) / 1e9, train.n, o.steps, o.batch);
    if (lg_train(m, &train, &o, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene train: %s\n", err);
        goto out;
    }
    char steps_s[32];
    snprintf(steps_s, sizeof steps_s, "%ld", o.steps);
    lg_st_kv meta[] = {{"method", "scratch"}, {"dataset", "fashion-mnist"}, {"labels", labels ? labels : "0-9"},
                       {"steps", steps_s}};
    if (lg_model_save(m, out, dtype, meta, 4, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene train: %s\n", err);
        goto out;
    }
    fprintf(stderr, "wrote %s\n", out);
    if (eval) {
        double acc, loss;
        if (cli_load_fmnist(&test, dir, 0, labels, 0, 0) < 0) goto out;
        if (lg_evaluate(m, &test, 256, o.threads, &acc, &loss, err, sizeof err) != LG_OK) {
            fprintf(stderr, "learngene train: %s\n", err);
            goto out;
        }
        printf("test accuracy %.4f (%d images), loss %.4f\n", acc, test.n, loss);
    }
    rc = CLI_OK;
out:
    lg_model_free(m);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
    return rc;
}
