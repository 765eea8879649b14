/* cmd_pool.c - the Learngene Pool by hand:
 *   pool-train  distil instances of several widths from an ancestry model,
 *               fit every stitch by least squares, evaluate every
 *               configuration, save the pool (evaluations in its metadata)
 *   stitch      build one configuration of a pool as a model file */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char pool_help[] =
    "usage: learngene pool-train --ancestry MODEL --widths 48,96[,…] -o POOL [OPTIONS]\n"
    "Distils one instance per width from the ancestry (0.5·CE + 0.5·KD), all of one depth,\n"
    "fits the stitches between them by least squares on calibration images, evaluates every\n"
    "configuration on the test images of the ancestry's classes, and writes the pool.\n"
    "  --ancestry FILE    the teacher (required); its labels are the default --labels\n"
    "  --widths LIST      instance widths, e.g. 48,96 (required; 1 to 8)\n"
    "  --depth N          instance depth (default: the ancestry's)\n"
    "  --heads N          attention heads of every instance (default 3; must divide each width)\n"
    "  --mlp-ratio N      MLP size = N × width (default 2)\n"
    "  --calib N          calibration images for the stitches (default 100)\n"
    "  --finetune N       then fine-tune the whole pool N steps, a random configuration per step\n"
    "                     (0.5·CE + 0.5·KD; default 0)\n" CLI_TRAIN_HELP;

/* The evaluation key of a configuration in the pool's metadata. */
void cli_pool_eval_key(char *buf, size_t n, const lg_genepool *p, const lg_genepool_cfg *c)
{
    if (c->at)
        snprintf(buf, n, "eval.%s.%d.%s", p->names[c->from], c->at, p->names[c->to]);
    else
        snprintf(buf, n, "eval.%s", p->names[c->from]);
}

int cmd_pool_train(int argc, char **argv)
{
    enum { O_ANCESTRY = CLI_O_FIRST_OWN, O_WIDTHS, O_DEPTH, O_HEADS, O_RATIO, O_CALIB, O_FINETUNE };
    static const struct option opts[] = {CLI_TRAIN_OPTIONS,
                                         {"ancestry", required_argument, 0, O_ANCESTRY},
                                         {"widths", required_argument, 0, O_WIDTHS},
                                         {"depth", required_argument, 0, O_DEPTH},
                                         {"heads", required_argument, 0, O_HEADS},
                                         {"mlp-ratio", required_argument, 0, O_RATIO},
                                         {"calib", required_argument, 0, O_CALIB},
                                         {"finetune", required_argument, 0, O_FINETUNE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    cli_train_args a;
    cli_train_args_init(&a);
    const char *anc_path = NULL, *widths = NULL;
    long depth = 0, heads = 3, ratio = 2, calib = 100, finetune = 0;
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int r = cli_train_arg(&a, c, optarg);
        if (r < 0) return CLI_USAGE;
        if (r) continue;
        switch (c) {
        case O_ANCESTRY: anc_path = optarg; break;
        case O_WIDTHS: widths = optarg; break;
        case O_DEPTH: bad = cli_long("--depth", optarg, 2, LG_MAX_DEPTH, &depth); break;
        case O_HEADS: bad = cli_long("--heads", optarg, 1, LG_MAX_HEADS, &heads); break;
        case O_RATIO: bad = cli_long("--mlp-ratio", optarg, 1, 16, &ratio); break;
        case O_CALIB: bad = cli_long("--calib", optarg, 1, 100000, &calib); break;
        case O_FINETUNE: bad = cli_long("--finetune", optarg, 0, 100000000, &finetune); break;
        case 'h': fputs(pool_help, stdout); return CLI_OK;
        default: fputs(pool_help, stderr); return CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
    }
    if (!a.out || !anc_path || !widths || optind != argc) {
        fprintf(stderr, "learngene pool-train: --ancestry, --widths and -o are required\n");
        return CLI_USAGE;
    }
    lg_model *anc = NULL, *inst[LG_GENEPOOL_MAX] = {0};
    lg_genepool pool = {0};
    lg_dataset train = {0}, test = {0};
    char labels[256], err[512], names[LG_GENEPOOL_MAX][LG_GENEPOOL_NAME];
    const char *name_ptr[LG_GENEPOOL_MAX];
    int rc = CLI_FAIL, n = 0;
    if (cli_load_ancestry(&anc, labels, sizeof labels, anc_path)) goto out;
    if (!a.labels) a.labels = labels;
    char wbuf[256], *save = NULL;
    snprintf(wbuf, sizeof wbuf, "%s", widths);
    for (char *t = strtok_r(wbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long w;
        if (n == LG_GENEPOOL_MAX || cli_long("--widths", t, 1, LG_MAX_DIM, &w)) {
            rc = CLI_USAGE;
            goto out;
        }
        lg_config ic = *lg_model_config(anc);
        ic.dim = (int)w, ic.heads = (int)heads, ic.mlp = (int)(ratio * w);
        if (depth) ic.depth = (int)depth;
        if (lg_model_new(&inst[n], &ic, err, sizeof err) != LG_OK) {
            fprintf(stderr, "learngene pool-train: width %ld: %s\n", w, err);
            rc = CLI_USAGE;
            goto out;
        }
        lg_model_init(inst[n], (uint64_t)a.seed + (uint64_t)n);
        snprintf(names[n], sizeof names[n], "d%ld", w);
        name_ptr[n] = names[n];
        n++;
    }
    int ncls = cli_load_fmnist(&train, a.dir, 1, a.labels, a.per_class, (uint64_t)a.seed);
    if (ncls < 0 || cli_load_fmnist(&test, a.dir, 0, a.labels, 0, 0) < 0) goto out;
    cli_train_args_finish(&a, train.n);
    a.o.teacher = anc, a.o.alpha = 0.5f, a.o.tau = 1.0f;
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "instance %s: %zu params, distilling %ld steps\n", names[i], lg_model_nparams(inst[i]),
                a.o.steps);
        if (lg_train(inst[i], &train, &a.o, err, sizeof err) != LG_OK) {
            fprintf(stderr, "learngene pool-train: %s\n", err);
            goto out;
        }
    }
    int count = n;
    n = 0; /* the pool owns the instances now */
    if (lg_genepool_new(&pool, inst, name_ptr, count, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene pool-train: %s\n", err);
        rc = CLI_USAGE;
        goto out;
    }
    int ncal = (int)(calib < train.n ? calib : train.n);
    if (lg_genepool_init_stitches(&pool, train.images, ncal, a.o.threads, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene pool-train: %s\n", err);
        goto out;
    }
    if (finetune) {
        lg_train_opts ft = a.o;
        ft.steps = finetune, ft.opt.warmup_steps = finetune / 20;
        fprintf(stderr, "fine-tuning the pool %ld steps, a random configuration per step\n", finetune);
        if (lg_genepool_train(&pool, &train, &ft, err, sizeof err) != LG_OK) {
            fprintf(stderr, "learngene pool-train: %s\n", err);
            goto out;
        }
    }
    int ncfg = lg_genepool_configs(&pool, NULL, 0);
    lg_genepool_cfg *cfgs = calloc((size_t)ncfg, sizeof *cfgs);
    lg_st_kv *kv = calloc((size_t)ncfg + 3, sizeof *kv);
    char(*keys)[96] = calloc((size_t)ncfg, sizeof *keys), (*vals)[16] = calloc((size_t)ncfg, sizeof *vals);
    if (!cfgs || !kv || !keys || !vals) goto out_cfg;
    lg_genepool_configs(&pool, cfgs, ncfg);
    printf("%-22s %12s %10s %9s\n", "configuration", "FLOPs", "params", "accuracy");
    for (int i = 0; i < ncfg; i++) {
        lg_model *m = NULL;
        double acc;
        if (lg_genepool_build(&m, &pool, &cfgs[i], err, sizeof err) != LG_OK ||
            lg_evaluate(m, &test, 256, a.o.threads, &acc, NULL, err, sizeof err) != LG_OK) {
            fprintf(stderr, "learngene pool-train: %s\n", err);
            lg_model_free(m);
            goto out_cfg;
        }
        cli_pool_eval_key(keys[i], sizeof keys[i], &pool, &cfgs[i]);
        snprintf(vals[i], sizeof vals[i], "%.4f", acc);
        kv[i] = (lg_st_kv){keys[i], vals[i]};
        printf("%-22s %12.0f %10zu %9.4f\n", keys[i] + 5, lg_config_flops(lg_model_config(m)), lg_model_nparams(m),
               acc);
        lg_model_free(m);
    }
    kv[ncfg] = (lg_st_kv){"ancestry", anc_path};
    kv[ncfg + 1] = (lg_st_kv){"labels", a.labels};
    kv[ncfg + 2] = (lg_st_kv){"method", "pool"};
    if (lg_genepool_save(&pool, a.out, a.dtype, kv, ncfg + 3, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene pool-train: %s\n", err);
        goto out_cfg;
    }
    fprintf(stderr, "wrote %s: %d instances, %d stitches, %zu stored params\n", a.out, pool.n, pool.nstitch,
            lg_genepool_params(&pool));
    rc = CLI_OK;
out_cfg:
    free(cfgs), free(kv), free(keys), free(vals);
out:
    for (int i = 0; i < n; i++) lg_model_free(inst[i]);
    lg_genepool_free(&pool);
    lg_model_free(anc);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
    return rc;
}

/* Index of instance `name` in the pool, or -1 after a message. */
static int instance_index(const lg_genepool *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->names[i], name)) return i;
    fprintf(stderr, "learngene stitch: the pool has no instance '%s' (", name);
    for (int i = 0; i < p->n; i++) fprintf(stderr, "%s%s", i ? ", " : "", p->names[i]);
    fprintf(stderr, ")\n");
    return -1;
}

int cmd_stitch(int argc, char **argv)
{
    static const char help[] = "usage: learngene stitch POOL --from NAME [--to NAME --at K] [--dtype D] -o MODEL\n"
                               "Builds one configuration of a pool: instance FROM alone, or its first K blocks,\n"
                               "the stitch, and blocks K… of the wider instance TO.\n";
    static const struct option opts[] = {{"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"at", required_argument, 0, 'k'},
                                         {"dtype", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *from = NULL, *to = NULL, *out = NULL;
    long at = 0;
    lg_dtype dtype = LG_F32;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'f')
            from = optarg;
        else if (c == 't')
            to = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'k') {
            if (cli_long("--at", optarg, 1, LG_MAX_DEPTH, &at)) return CLI_USAGE;
        } else if (c == 'd') {
            if (cli_dtype(optarg, &dtype)) return CLI_USAGE;
        } else {
            fputs(help, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (!from || !out || optind + 1 != argc || (!to) != (!at)) {
        fputs(help, stderr);
        return CLI_USAGE;
    }
    lg_genepool p;
    char err[512];
    if (lg_genepool_load(&p, argv[optind], err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene stitch: %s: %s\n", argv[optind], err);
        return CLI_FAIL;
    }
    int rc = CLI_USAGE;
    lg_model *m = NULL;
    lg_genepool_cfg cfg = {instance_index(&p, from), to ? instance_index(&p, to) : 0, (int)at};
    if (!to) cfg.to = cfg.from;
    if (cfg.from < 0 || cfg.to < 0) goto out;
    if (lg_genepool_build(&m, &p, &cfg, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene stitch: %s\n", err);
        goto out;
    }
    lg_st_kv meta[] = {{"method", "pool"}, {"pool_id", argv[optind]}};
    rc = CLI_FAIL;
    if (lg_model_save(m, out, dtype, meta, 2, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene stitch: %s\n", err);
        goto out;
    }
    printf("%s: %zu params, %.4f GFLOPs\n", out, lg_model_nparams(m), lg_config_flops(lg_model_config(m)) / 1e9);
    rc = CLI_OK;
out:
    lg_model_free(m);
    lg_genepool_free(&p);
    return rc;
}
