/* cmd_info.c - `learngene info`: what a safetensors file holds: the model
 * shape, parameters, FLOPs, metadata and (with --tensors) every tensor. */
#include <getopt.h>

#include "cli.h"

static const char info_help[] = "usage: learngene info [--tensors] FILE.safetensors\n";

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {{"tensors", no_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int tensors = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "th", opts, NULL)) != -1) {
        if (c == 't')
            tensors = 1;
        else if (c == 'h') {
            fputs(info_help, stdout);
            return CLI_OK;
        } else {
            fputs(info_help, stderr);
            return CLI_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fputs(info_help, stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    char err[512];
    lg_st *st = NULL;
    lg_model *m = NULL;
    if (lg_st_read_file(&st, path, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene info: %s\n", err);
        return CLI_FAIL;
    }
    printf("file        %s\ntensors     %d\n", path, lg_st_count(st));
    for (int i = 0; i < lg_st_meta_count(st); i++) {
        const char *k, *v;
        lg_st_meta_get(st, i, &k, &v);
        printf("meta        %s = %s\n", k, v);
    }
    int rc = CLI_OK;
    lg_gene g;
    lg_genepool pool;
    if (lg_st_meta(st, "genepool")) {
        if (lg_genepool_from_st(&pool, st, err, sizeof err) == LG_OK) {
            printf("pool        %d instances, %d stitches, %zu stored params\n", pool.n, pool.nstitch,
                   lg_genepool_params(&pool));
            lg_genepool_cfg cfgs[256];
            int n = lg_genepool_configs(&pool, cfgs, 256);
            for (int i = 0; i < n && i < 256; i++) {
                char key[96];
                lg_config pc;
                cli_pool_eval_key(key, sizeof key, &pool, &cfgs[i]);
                lg_genepool_config(&pc, &pool, &cfgs[i], NULL, 0);
                const char *acc = lg_st_meta(st, key);
                printf("config      %-22s %12.0f FLOPs %10zu params  accuracy %s\n", key + 5, lg_config_flops(&pc),
                       lg_config_params(&pc), acc ? acc : "-");
            }
            lg_genepool_free(&pool);
        } else {
            printf("pool        not loadable: %s\n", err);
            rc = CLI_FAIL;
        }
    } else if (lg_st_meta(st, "learngene")) {
        if (lg_gene_from_st(&g, st, err, sizeof err) == LG_OK) {
            int lo, hi;
            lg_gene_depths(&g, &lo, &hi);
            const lg_config *cfg = lg_model_config(g.m);
            printf("learngene   %s: dim %d heads %d mlp %d classes %d pool %s; grows depths %d to %d\n",
                   lg_gene_kind_name(g.kind), cfg->dim, cfg->heads, cfg->mlp, cfg->classes,
                   cfg->pool == LG_POOL_AVG ? "avg" : "token", lo, hi);
            printf("params      %zu stored\n", lg_gene_params(&g));
            lg_gene_free(&g);
        } else {
            printf("learngene   not loadable: %s\n", err);
            rc = CLI_FAIL;
        }
    } else if (lg_model_from_st(&m, st, err, sizeof err) == LG_OK) {
        const lg_config *cfg = lg_model_config(m);
        printf("model       vit img %d×%d×%d patch %d dim %d depth %d heads %d mlp %d classes %d pool %s\n", cfg->img,
               cfg->img, cfg->in_chans, cfg->patch, cfg->dim, cfg->depth, cfg->heads, cfg->mlp, cfg->classes,
               cfg->pool == LG_POOL_AVG ? "avg" : "token");
        printf("tokens      %d\nparams      %zu\nflops       %.0f (%.4f GFLOPs per image)\n", lg_config_tokens(cfg),
               lg_config_params(cfg), lg_config_flops(cfg), lg_config_flops(cfg) / 1e9);
    } else {
        printf("model       not a loadable ViT: %s\n", err);
        rc = CLI_FAIL;
    }
    for (int i = 0; tensors && i < lg_st_count(st); i++) {
        const lg_st_tensor *t = lg_st_get(st, i);
        printf("tensor      %-40s %-4s [", t->name, lg_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
        printf("]\n");
    }
    lg_model_free(m);
    lg_st_free(st);
    return rc;
}
