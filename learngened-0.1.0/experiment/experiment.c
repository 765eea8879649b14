/* experiment.c - the SPEC §7 experiment: an ancestry ViT and learngenes on
 * Fashion-MNIST classes 0-4; descendants on classes 5-9 with n images per
 * class at several depths, initialized by TLEG, by inherited layers and from
 * scratch, trained with the same optimizer and steps; test accuracy every
 * `every` steps. Writes CSV (one row per evaluation) to stdout and progress
 * to stderr. Run by `make experiment` (experiment/run.sh).
 *
 * usage: experiment OUTDIR [--quick]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "learngene.h"

typedef struct {
    int anc_depth, aux_depth, inherit_k, pool_depth;
    long anc_steps, tleg_steps, pool_steps, desc_steps, every;
    int per_class[3], nper;
    int depths[8], ndepth;
    int test_per_class;
} plan;

static const plan full = {8, 8, 2, 6, 2400, 2400, 1200, 500, 50, {10, 100, 0}, 3, {2, 3, 4, 6, 8, 12}, 6, 200};
static const plan quick = {4, 4, 2, 4, 300, 300, 150, 100, 25, {10, 100, 0}, 3, {2, 4}, 2, 100};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "experiment: %s: %s\n", what, err);
    exit(1);
}

static void load(lg_dataset *ds, int train, const int *classes, int per_class, uint64_t seed)
{
    char err[512];
    if (lg_fmnist_load(ds, NULL, train, err, sizeof err) != LG_OK) die("Fashion-MNIST", err);
    if (lg_dataset_filter(ds, classes, 5, 1, NULL, 0) != LG_OK) die("filter", "classes");
    if (per_class && lg_dataset_per_class(ds, per_class, 5, seed, NULL, 0) != LG_OK) die("per-class", "sampling");
}

static void base_opts(lg_train_opts *o, long steps)
{
    lg_train_defaults(o);
    o->batch = 64, o->steps = steps, o->threads = 2, o->log_every = 0;
    o->opt.lr = 1e-3f, o->opt.warmup_steps = steps / 20;
}

/* Progress callback state for descendants: evaluate on the test set. */
typedef struct {
    lg_model *m;
    const lg_dataset *test;
    const char *method;
    int n, depth;
    FILE *csv;
} probe;

static int evaluate_probe(void *user, const lg_train_progress *p)
{
    probe *q = user;
    char err[256];
    double acc;
    if (lg_evaluate(q->m, q->test, 500, 2, &acc, NULL, err, sizeof err) != LG_OK) die("evaluate", err);
    fprintf(q->csv, "%s,%d,%d,%ld,%.4f,%.4f\n", q->method, q->n, q->depth, p->step, p->loss, acc);
    fflush(q->csv);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: experiment OUTDIR [--quick]\n");
        return 2;
    }
    const char *dir = argv[1];
    const plan *P = argc > 2 && !strcmp(argv[2], "--quick") ? &quick : &full;
    mkdir(dir, 0755);
    char path[1024], err[512];
    static const int src[] = {0, 1, 2, 3, 4}, dst[] = {5, 6, 7, 8, 9};
    double t0 = now_s();

    lg_dataset a_train = {0}, a_test = {0}, d_test = {0};
    load(&a_train, 1, src, 0, 1);
    load(&a_test, 0, src, 0, 1);
    load(&d_test, 0, dst, P->test_per_class, 2);

    /* ancestry: fmnist-small widths, deeper */
    lg_config ac = {.img = 28,
                    .in_chans = 1,
                    .patch = 4,
                    .dim = 96,
                    .depth = P->anc_depth,
                    .heads = 3,
                    .mlp = 192,
                    .classes = 5,
                    .pool = LG_POOL_AVG};
    lg_model *anc;
    if (lg_model_new(&anc, &ac, err, sizeof err) != LG_OK) die("ancestry", err);
    lg_model_init(anc, 1);
    lg_train_opts o;
    base_opts(&o, P->anc_steps);
    o.hflip = 1;
    if (lg_train(anc, &a_train, &o, err, sizeof err) != LG_OK) die("ancestry", err);
    double anc_acc;
    lg_evaluate(anc, &a_test, 500, 2, &anc_acc, NULL, err, sizeof err);
    snprintf(path, sizeof path, "%s/ancestry.safetensors", dir);
    lg_model_save(anc, path, LG_F32, NULL, 0, err, sizeof err);
    fprintf(stderr, "ancestry depth %d: test accuracy on classes 0-4 %.4f (%.0f s)\n", ac.depth, anc_acc, now_s() - t0);

    /* TLEG learngene through an auxiliary net of depth aux_depth, KL only */
    lg_config gc = ac;
    gc.depth = P->aux_depth;
    lg_gene tleg, inh;
    if (lg_gene_tleg_new(&tleg, &gc, 2, err, sizeof err) != LG_OK) die("tleg", err);
    base_opts(&o, P->tleg_steps);
    o.hflip = 1, o.teacher = anc, o.alpha = 1.0f, o.tau = 1.0f;
    if (lg_tleg_train(&tleg, &a_train, &o, err, sizeof err) != LG_OK) die("tleg", err);
    lg_model *aux;
    lg_gene_expand(&aux, &tleg, tleg.aux_depth, 5, 0, err, sizeof err);
    double aux_acc;
    lg_evaluate(aux, &a_test, 500, 2, &aux_acc, NULL, err, sizeof err);
    lg_model_free(aux);
    snprintf(path, sizeof path, "%s/tleg.safetensors", dir);
    lg_gene_save(&tleg, path, LG_F32, NULL, 0, err, sizeof err);
    if (lg_gene_inherit(&inh, anc, P->inherit_k, err, sizeof err) != LG_OK) die("inherit", err);
    fprintf(stderr, "TLEG auxiliary net depth %d: test accuracy on classes 0-4 %.4f (%.0f s)\n", gc.depth, aux_acc,
            now_s() - t0);

    /* Learngene Pool: instances of widths 48 and 96 at pool_depth, each
     * distilled from the ancestry (0.5 CE + 0.5 KD), stitches by least squares */
    lg_model *inst[2];
    const char *names[2] = {"d48", "d96"};
    for (int i = 0; i < 2; i++) {
        lg_config ic = ac;
        ic.depth = P->pool_depth, ic.dim = 48 * (i + 1), ic.mlp = 2 * ic.dim;
        if (lg_model_new(&inst[i], &ic, err, sizeof err) != LG_OK) die("pool", err);
        lg_model_init(inst[i], 20 + (uint64_t)i);
        base_opts(&o, P->pool_steps);
        o.hflip = 1, o.teacher = anc, o.alpha = 0.5f, o.tau = 1.0f;
        if (lg_train(inst[i], &a_train, &o, err, sizeof err) != LG_OK) die("pool", err);
    }
    lg_genepool pool;
    if (lg_genepool_new(&pool, inst, names, 2, err, sizeof err) != LG_OK) die("pool", err);
    if (lg_genepool_init_stitches(&pool, a_train.images, 100, 2, err, sizeof err) != LG_OK) die("stitch", err);
    lg_genepool_cfg pool_cfgs[3] = {{0, 0, 0}, {1, 1, 0}, {0, 1, P->pool_depth / 2}};
    snprintf(path, sizeof path, "%s/pool.safetensors", dir);
    lg_genepool_save(&pool, path, LG_F32, NULL, 0, err, sizeof err);
    fprintf(stderr, "pool of widths 48, 96 at depth %d ready (%.0f s)\n", P->pool_depth, now_s() - t0);

    /* stored parameters */
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    FILE *sum = fopen(path, "w");
    size_t every_size = 0;
    for (int i = 0; i < P->ndepth; i++) {
        lg_config c = ac;
        c.depth = P->depths[i];
        every_size += lg_config_params(&c);
    }
    fprintf(sum, "ancestry_depth %d\nancestry_acc %.4f\naux_depth %d\naux_acc %.4f\n", ac.depth, anc_acc, gc.depth,
            aux_acc);
    fprintf(sum, "params_tleg %zu\nparams_inherit %zu\nparams_every_size %zu\nparams_pool %zu\n", lg_gene_params(&tleg),
            lg_gene_params(&inh), every_size, lg_genepool_params(&pool));
    for (int i = 0; i < 3; i++) {
        lg_model *m;
        lg_genepool_build(&m, &pool, &pool_cfgs[i], err, sizeof err);
        double acc;
        lg_evaluate(m, &a_test, 500, 2, &acc, NULL, err, sizeof err);
        fprintf(sum, "pool_config_%d_acc_src %.4f\npool_config_%d_flops %.0f\n", i, acc, i,
                lg_config_flops(lg_model_config(m)));
        lg_model_free(m);
    }

    snprintf(path, sizeof path, "%s/curves.csv", dir);
    FILE *csv = fopen(path, "w");
    fprintf(csv, "method,per_class,depth,step,train_loss,test_acc\n");
    static const char *methods[] = {"tleg", "inherit", "scratch"};
    for (int ni = 0; ni < P->nper; ni++) {
        lg_dataset d_train = {0};
        load(&d_train, 1, dst, P->per_class[ni], 3);
        int n = P->per_class[ni] ? P->per_class[ni] : d_train.n / 5;
        for (int di = 0; di < P->ndepth; di++) {
            int depth = P->depths[di];
            for (int mi = 0; mi < 3; mi++) {
                if (mi == 1 && depth < P->inherit_k) continue;
                lg_model *m;
                lg_status st;
                if (mi == 0) {
                    st = lg_gene_expand(&m, &tleg, depth, 5, 7, err, sizeof err);
                    if (st == LG_OK) lg_model_init_head(m, 7); /* classes 5-9: a new task */
                } else if (mi == 1)
                    st = lg_gene_expand(&m, &inh, depth, 5, 7, err, sizeof err);
                else {
                    lg_config c = ac;
                    c.depth = depth;
                    st = lg_model_new(&m, &c, err, sizeof err);
                    if (st == LG_OK) lg_model_init(m, 7);
                }
                if (st != LG_OK) die(methods[mi], err);
                probe q = {m, &d_test, methods[mi], n, depth, csv};
                lg_train_progress p0 = {0};
                evaluate_probe(&q, &p0);
                base_opts(&o, P->desc_steps);
                o.log_every = (int)P->every, o.progress = evaluate_probe, o.user = &q, o.seed = 11;
                if (lg_train(m, &d_train, &o, err, sizeof err) != LG_OK) die("descendant", err);
                fprintf(stderr, "n=%d depth %d %s done (%.0f s)\n", n, depth, methods[mi], now_s() - t0);
                lg_model_free(m);
            }
        }
        char stitched[32];
        snprintf(stitched, sizeof stitched, "pool-d48.%d.d96", pool_cfgs[2].at);
        const char *pool_names[3] = {"pool-d48", "pool-d96", stitched};
        for (int ci = 0; ci < 3; ci++) {
            lg_model *m;
            if (lg_genepool_build(&m, &pool, &pool_cfgs[ci], err, sizeof err) != LG_OK) die("pool", err);
            lg_model_init_head(m, 7); /* classes 5-9: a new task */
            probe q = {m, &d_test, pool_names[ci], n, P->pool_depth, csv};
            lg_train_progress p0 = {0};
            evaluate_probe(&q, &p0);
            base_opts(&o, P->desc_steps);
            o.log_every = (int)P->every, o.progress = evaluate_probe, o.user = &q, o.seed = 11;
            if (lg_train(m, &d_train, &o, err, sizeof err) != LG_OK) die("descendant", err);
            fprintf(stderr, "n=%d %s done (%.0f s)\n", n, pool_names[ci], now_s() - t0);
            lg_model_free(m);
        }
        lg_dataset_free(&d_train);
    }
    fprintf(sum, "seconds %.0f\n", now_s() - t0);
    fclose(csv);
    fclose(sum);
    lg_gene_free(&tleg);
    lg_gene_free(&inh);
    lg_genepool_free(&pool);
    lg_model_free(anc);
    lg_dataset_free(&a_train);
    lg_dataset_free(&a_test);
    lg_dataset_free(&d_test);
    return 0;
}
