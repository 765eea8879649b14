/* cmd_solve.c - `learngene solve`: the best model under a FLOPs / params
 * budget across the given learngenes, by the same solver the daemon uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char solve_help[] =
    "usage: learngene solve [--flops N] [--params N] [BOUNDS] [--eval GENE:DEPTH:ACC]... GENE|POOL...\n"
    "Picks the best model under the budget across learngenes (any depth they grow) and\n"
    "pools (every configuration): the highest measured accuracy among those that fit (a\n"
    "pool's own evaluations, and --eval for learngenes), else the largest that fits.\n"
    "N takes a K, M or G suffix (1.2G).\n"
    "  --min-depth N --max-depth N --min-dim N --max-dim N   shape bounds\n"
    "  --classes K        classes of the descendant (default: the learngene's)\n";

/* 1.2G, 300M, 5e8 … */
static int parse_amount(const char *opt, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    double mul = *end == 'K' || *end == 'k' ? 1e3 : *end == 'M' ? 1e6 : *end == 'G' || *end == 'g' ? 1e9 : 1;
    if (mul != 1) end++;
    if (end == s || *end || !isfinite(v) || v <= 0) {
        fprintf(stderr, "learngene: %s must be a positive number with an optional K/M/G suffix, got '%s'\n", opt, s);
        return -1;
    }
    *out = v * mul;
    return 0;
}

int cmd_solve(int argc, char **argv)
{
    enum { O_FLOPS = 256, O_PARAMS, O_MIN_DEPTH, O_MAX_DEPTH, O_MIN_DIM, O_MAX_DIM, O_EVAL, O_CLASSES };
    static const struct option opts[] = {{"flops", required_argument, 0, O_FLOPS},
                                         {"params", required_argument, 0, O_PARAMS},
                                         {"min-depth", required_argument, 0, O_MIN_DEPTH},
                                         {"max-depth", required_argument, 0, O_MAX_DEPTH},
                                         {"min-dim", required_argument, 0, O_MIN_DIM},
                                         {"max-dim", required_argument, 0, O_MAX_DIM},
                                         {"eval", required_argument, 0, O_EVAL},
                                         {"classes", required_argument, 0, O_CLASSES},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    lg_budget b = {0};
    enum { MAX_EVAL = 256 };
    const char *eval_arg[MAX_EVAL];
    int neval = 0, c, bad = 0;
    long v, classes = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_FLOPS: bad = parse_amount("--flops", optarg, &b.max_flops); break;
        case O_PARAMS: bad = parse_amount("--params", optarg, &b.max_params); break;
        case O_MIN_DEPTH: bad = cli_long("--min-depth", optarg, 1, LG_MAX_DEPTH, &v), b.min_depth = (int)v; break;
        case O_MAX_DEPTH: bad = cli_long("--max-depth", optarg, 1, LG_MAX_DEPTH, &v), b.max_depth = (int)v; break;
        case O_MIN_DIM: bad = cli_long("--min-dim", optarg, 1, LG_MAX_DIM, &v), b.min_dim = (int)v; break;
        case O_MAX_DIM: bad = cli_long("--max-dim", optarg, 1, LG_MAX_DIM, &v), b.max_dim = (int)v; break;
        case O_CLASSES: bad = cli_long("--classes", optarg, 1, LG_MAX_CLASSES, &classes); break;
        case O_EVAL:
            if ((bad = neval == MAX_EVAL))
                fprintf(stderr, "learngene: at most %d --eval\n", MAX_EVAL);
            else
                eval_arg[neval++] = optarg;
            break;
        default: fputs(solve_help, c == 'h' ? stdout : stderr); return c == 'h' ? CLI_OK : CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
    }
    int nfile = argc - optind;
    if (nfile < 1 || (b.max_flops <= 0 && b.max_params <= 0)) {
        fprintf(stderr, "learngene solve: give --flops and/or --params and at least one learngene or pool\n");
        return CLI_USAGE;
    }
    enum { MAX_SRC = 1024 };
    lg_solver_source *src = calloc(MAX_SRC, sizeof *src);
    char(*ids)[320] = calloc(MAX_SRC, sizeof *ids);
    const char **kind = calloc(MAX_SRC, sizeof *kind);
    lg_solver_eval *ev = calloc(MAX_SRC + MAX_EVAL, sizeof *ev);
    char err[512];
    int rc = CLI_FAIL, nsrc = 0, nev = 0;
    if (!src || !ids || !kind || !ev) goto out;
    for (int f = 0; f < nfile; f++) {
        const char *path = argv[optind + f];
        lg_st *st = NULL;
        lg_gene g;
        lg_genepool p;
        if (lg_st_read_file(&st, path, err, sizeof err) != LG_OK) {
            fprintf(stderr, "learngene solve: %s\n", err);
            goto out;
        }
        if (lg_st_meta(st, "genepool")) {
            /* every configuration of a pool is a source of one depth */
            if (lg_genepool_from_st(&p, st, err, sizeof err) != LG_OK) {
                fprintf(stderr, "learngene solve: %s: %s\n", path, err);
                lg_st_free(st);
                goto out;
            }
            lg_genepool_cfg cfgs[256];
            int n = lg_genepool_configs(&p, cfgs, 256);
            for (int i = 0; i < n && i < 256 && nsrc < MAX_SRC; i++, nsrc++) {
                char key[96];
                cli_pool_eval_key(key, sizeof key, &p, &cfgs[i]);
                snprintf(ids[nsrc], sizeof ids[nsrc], "%s#%s", path, key + 5);
                src[nsrc].id = ids[nsrc];
                kind[nsrc] = "pool";
                lg_genepool_config(&src[nsrc].base, &p, &cfgs[i], NULL, 0);
                src[nsrc].min_depth = src[nsrc].max_depth = src[nsrc].base.depth;
                const char *acc = lg_st_meta(st, key);
                if (acc) ev[nev++] = (lg_solver_eval){nsrc, src[nsrc].base.depth, strtod(acc, NULL)};
            }
            lg_genepool_free(&p);
        } else if (nsrc < MAX_SRC) {
            if (lg_gene_from_st(&g, st, err, sizeof err) != LG_OK) {
                fprintf(stderr, "learngene solve: %s: %s\n", path, err);
                lg_st_free(st);
                goto out;
            }
            snprintf(ids[nsrc], sizeof ids[nsrc], "%s", path);
            src[nsrc].id = ids[nsrc];
            kind[nsrc] = lg_gene_kind_name(g.kind);
            src[nsrc].base = *lg_model_config(g.m);
            lg_gene_depths(&g, &src[nsrc].min_depth, &src[nsrc].max_depth);
            nsrc++;
            lg_gene_free(&g);
        }
        lg_st_free(st);
    }
    for (int i = 0; classes && i < nsrc; i++) src[i].base.classes = (int)classes;
    for (int e = 0; e < neval; e++) {
        /* GENE:DEPTH:ACC, GENE being one of the learngene files given */
        const char *s = eval_arg[e], *c2 = strrchr(s, ':');
        const char *c1 = c2 ? c2 - 1 : NULL;
        while (c1 && c1 > s && *c1 != ':') c1--;
        int src_i = -1;
        for (int i = 0; c1 && *c1 == ':' && i < nsrc; i++)
            if ((size_t)(c1 - s) == strlen(src[i].id) && !strncmp(s, src[i].id, (size_t)(c1 - s))) src_i = i;
        char *end1 = NULL, *end2 = NULL;
        long d = src_i >= 0 ? strtol(c1 + 1, &end1, 10) : 0;
        double acc = src_i >= 0 ? strtod(c2 + 1, &end2) : -1;
        if (src_i < 0 || d < 1 || *end1 != ':' || *end2 || acc < 0 || acc > 1) {
            fprintf(stderr,
                    "learngene solve: --eval '%s' is not GENE:DEPTH:ACCURACY with GENE one of the files given\n", s);
            rc = CLI_USAGE;
            goto out;
        }
        ev[nev++] = (lg_solver_eval){src_i, (int)d, acc};
    }
    lg_solution sol;
    if (lg_solve(&sol, src, nsrc, ev, nev, &b, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene solve: %s\n", err);
        goto out;
    }
    printf("source      %s (%s)\ndepth       %d\nflops       %.0f (%.4f GFLOPs)\nparams      %zu\n", src[sol.source].id,
           kind[sol.source], sol.depth, sol.flops, sol.flops / 1e9, sol.params);
    if (isnan(sol.accuracy))
        printf("accuracy    not measured\n");
    else
        printf("accuracy    %.4f\n", sol.accuracy);
    printf("why         %s\n", sol.reason);
    rc = CLI_OK;
out:
    free(src);
    free(ids);
    free(kind);
    free(ev);
    return rc;
}
