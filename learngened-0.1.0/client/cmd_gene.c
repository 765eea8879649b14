/* cmd_gene.c - the learngene steps of the pipeline by hand:
 *   tleg-train  distil a TLEG learngene from an ancestry model
 *   inherit     cut the last k blocks of an ancestry model as a learngene
 *   expand      grow a descendant of a given depth from a learngene */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char tleg_help[] =
    "usage: learngene tleg-train --ancestry MODEL -o GENE [OPTIONS]\n"
    "Distils a TLEG learngene (θ_A, θ_B per block tensor) from an ancestry model through\n"
    "an auxiliary network whose block i is θ_A + (i/L)·θ_B, on the ancestry's classes.\n"
    "  --ancestry FILE    the teacher (required); its labels are the default --labels\n"
    "  --aux-depth N      depth L of the auxiliary network (default: the ancestry's depth)\n"
    "  --dim N --heads N --mlp N   learngene widths (default: the ancestry's)\n"
    "  --alpha X          weight of the distillation loss vs cross-entropy (default 1: KL only)\n"
    "  --tau X            distillation temperature (default 1)\n" CLI_TRAIN_HELP;

int cmd_tleg_train(int argc, char **argv)
{
    enum { O_ANCESTRY = CLI_O_FIRST_OWN, O_AUX, O_DIM, O_HEADS, O_MLP, O_ALPHA, O_TAU };
    static const struct option opts[] = {CLI_TRAIN_OPTIONS,
                                         {"ancestry", required_argument, 0, O_ANCESTRY},
                                         {"aux-depth", required_argument, 0, O_AUX},
                                         {"dim", required_argument, 0, O_DIM},
                                         {"heads", required_argument, 0, O_HEADS},
                                         {"mlp", required_argument, 0, O_MLP},
                                         {"alpha", required_argument, 0, O_ALPHA},
                                         {"tau", required_argument, 0, O_TAU},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    cli_train_args a;
    cli_train_args_init(&a);
    const char *anc_path = NULL;
    long aux = 0, dim = 0, heads = 0, mlp = 0;
    double alpha = 1.0, tau = 1.0;
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int r = cli_train_arg(&a, c, optarg);
        if (r < 0) return CLI_USAGE;
        if (r) continue;
        switch (c) {
        case O_ANCESTRY: anc_path = optarg; break;
        case O_AUX: bad = cli_long("--aux-depth", optarg, 1, LG_MAX_DEPTH, &aux); break;
        case O_DIM: bad = cli_long("--dim", optarg, 1, LG_MAX_DIM, &dim); break;
        case O_HEADS: bad = cli_long("--heads", optarg, 1, LG_MAX_HEADS, &heads); break;
        case O_MLP: bad = cli_long("--mlp", optarg, 1, LG_MAX_MLP, &mlp); break;
        case O_ALPHA: bad = cli_double("--alpha", optarg, 0, 1, &alpha); break;
        case O_TAU: bad = cli_double("--tau", optarg, 0.01, 100, &tau); break;
        case 'h': fputs(tleg_help, stdout); return CLI_OK;
        default: fputs(tleg_help, stderr); return CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
    }
    if (!a.out || !anc_path || optind != argc) {
        fprintf(stderr, "learngene tleg-train: --ancestry FILE and -o FILE are required\n");
        return CLI_USAGE;
    }
    lg_model *anc = NULL;
    lg_gene g = {0};
    lg_dataset train = {0};
    char labels[256], err[512];
    int rc = CLI_FAIL;
    if (cli_load_ancestry(&anc, labels, sizeof labels, anc_path)) goto out;
    if (!a.labels) a.labels = labels;
    lg_config cfg = *lg_model_config(anc);
    if (dim) cfg.dim = (int)dim, cfg.mlp = 4 * (int)dim;
    if (heads) cfg.heads = (int)heads;
    if (mlp) cfg.mlp = (int)mlp;
    if (aux) cfg.depth = (int)aux;
    if (lg_gene_tleg_new(&g, &cfg, (uint64_t)a.seed, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene tleg-train: %s\n", err);
        rc = CLI_USAGE;
        goto out;
    }
    int ncls = cli_load_fmnist(&train, a.dir, 1, a.labels, a.per_class, (uint64_t)a.seed);
    if (ncls < 0) goto out;
    if (ncls != cfg.classes) {
        fprintf(stderr, "learngene tleg-train: --labels names %d classes; the ancestry has %d\n", ncls, cfg.classes);
        rc = CLI_USAGE;
        goto out;
    }
    cli_train_args_finish(&a, train.n);
    a.o.teacher = anc, a.o.alpha = (float)alpha, a.o.tau = (float)tau;
    fprintf(stderr,
            "TLEG learngene dim %d heads %d mlp %d, auxiliary depth %d: %zu stored params; %d images, %ld steps\n",
            cfg.dim, cfg.heads, cfg.mlp, cfg.depth, lg_gene_params(&g), train.n, a.o.steps);
    if (lg_tleg_train(&g, &train, &a.o, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene tleg-train: %s\n", err);
        goto out;
    }
    lg_st_kv meta[] = {{"method", "tleg"}, {"ancestry", anc_path}, {"labels", a.labels}, {"dataset", "fashion-mnist"}};
    if (lg_gene_save(&g, a.out, a.dtype, meta, 4, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene tleg-train: %s\n", err);
        goto out;
    }
    fprintf(stderr, "wrote %s\n", a.out);
    if (a.eval) {
        lg_model *m = NULL;
        lg_gene_expand(&m, &g, g.aux_depth, cfg.classes, 0, err, sizeof err);
        int r = cli_report_accuracy(m, &a, a.labels);
        lg_model_free(m);
        if (r) goto out;
    }
    rc = CLI_OK;
out:
    lg_model_free(anc);
    lg_gene_free(&g);
    lg_dataset_free(&train);
    return rc;
}

int cmd_inherit(int argc, char **argv)
{
    static const char help[] = "usage: learngene inherit --ancestry MODEL --layers K -o GENE [--dtype D]\n"
                               "Takes the last K blocks of the ancestry model as a learngene.\n";
    static const struct option opts[] = {{"ancestry", required_argument, 0, 'a'}, {"layers", required_argument, 0, 'k'},
                                         {"out", required_argument, 0, 'o'},      {"dtype", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *anc_path = NULL, *out = NULL;
    long k = 0;
    lg_dtype dtype = LG_F32;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'a')
            anc_path = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'k') {
            if (cli_long("--layers", optarg, 1, LG_MAX_DEPTH, &k)) return CLI_USAGE;
        } else if (c == 'd') {
            if (cli_dtype(optarg, &dtype)) return CLI_USAGE;
        } else {
            fputs(help, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (!anc_path || !out || !k || optind != argc) {
        fputs(help, stderr);
        return CLI_USAGE;
    }
    lg_model *anc = NULL;
    lg_gene g = {0};
    char labels[256], err[512];
    int rc = CLI_FAIL;
    if (cli_load_ancestry(&anc, labels, sizeof labels, anc_path)) goto out;
    if (lg_gene_inherit(&g, anc, (int)k, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene inherit: %s\n", err);
        rc = CLI_USAGE;
        goto out;
    }
    lg_st_kv meta[] = {{"method", "inherit"}, {"ancestry", anc_path}, {"labels", labels}};
    if (lg_gene_save(&g, out, dtype, meta, 3, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene inherit: %s\n", err);
        goto out;
    }
    fprintf(stderr, "wrote %s: the last %ld of %d blocks, %zu params\n", out, k, g.aux_depth, lg_gene_params(&g));
    rc = CLI_OK;
out:
    lg_model_free(anc);
    lg_gene_free(&g);
    return rc;
}

int cmd_expand(int argc, char **argv)
{
    static const char help[] =
        "usage: learngene expand GENE --depth L [--classes K] [--new-task] [--seed N] [--dtype D] -o MODEL\n"
        "Grows a descendant of depth L from a learngene (TLEG: θ_A + (i/L)·θ_B; inherit: fresh\n"
        "lower blocks under the inherited ones). A new --classes count, or --new-task (other\n"
        "classes, as many), gets a fresh head; otherwise the learngene's head is copied.\n";
    static const struct option opts[] = {{"depth", required_argument, 0, 'L'}, {"classes", required_argument, 0, 'K'},
                                         {"seed", required_argument, 0, 's'},  {"dtype", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},   {"new-task", no_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *out = NULL;
    long depth = 0, classes = 0, seed = 1;
    lg_dtype dtype = LG_F32;
    int c, bad = 0, new_task = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'L': bad = cli_long("--depth", optarg, 1, LG_MAX_DEPTH, &depth); break;
        case 'K': bad = cli_long("--classes", optarg, 1, LG_MAX_CLASSES, &classes); break;
        case 's': bad = cli_long("--seed", optarg, 0, 0x7fffffff, &seed); break;
        case 'd': bad = cli_dtype(optarg, &dtype); break;
        case 'o': out = optarg; break;
        case 'n': new_task = 1; break;
        default: fputs(help, c == 'h' ? stdout : stderr); return c == 'h' ? CLI_OK : CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
    }
    if (!out || !depth || optind + 1 != argc) {
        fputs(help, stderr);
        return CLI_USAGE;
    }
    lg_gene g;
    lg_model *m = NULL;
    char err[512];
    int rc = CLI_FAIL;
    if (lg_gene_load(&g, argv[optind], err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene expand: %s: %s\n", argv[optind], err);
        return CLI_FAIL;
    }
    if (!classes) classes = lg_model_config(g.m)->classes;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lg_status st = lg_gene_expand(&m, &g, (int)depth, (int)classes, (uint64_t)seed, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != LG_OK) {
        fprintf(stderr, "learngene expand: %s\n", err);
        rc = st == LG_ERR_RANGE ? CLI_USAGE : CLI_FAIL;
        goto out;
    }
    if (new_task) lg_model_init_head(m, (uint64_t)seed);
    char depth_s[16];
    snprintf(depth_s, sizeof depth_s, "%ld", depth);
    lg_st_kv meta[] = {{"method", lg_gene_kind_name(g.kind)}, {"learngene_id", argv[optind]}, {"depth", depth_s}};
    if (lg_model_save(m, out, dtype, meta, 3, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene expand: %s\n", err);
        goto out;
    }
    const lg_config *cfg = lg_model_config(m);
    printf(
        "%s: %s descendant, depth %d, %d classes, %zu params, %.4f GFLOPs; grown in %.3f ms from %zu stored params\n",
        out, lg_gene_kind_name(g.kind), cfg->depth, cfg->classes, lg_config_params(cfg), lg_config_flops(cfg) / 1e9,
        1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec), lg_gene_params(&g));
    rc = CLI_OK;
out:
    lg_model_free(m);
    lg_gene_free(&g);
    return rc;
}
