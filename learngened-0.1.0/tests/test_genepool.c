/* test_genepool.c - the Learngene Pool: least-squares stitch init beats a
 * random one on the stitch MSE, configurations and their models, pool files,
 * and instances that do not fit together refused. */
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static lg_model *instance(int dim, int heads, int depth, uint64_t seed)
{
    lg_config c = {.img = 8,
                   .in_chans = 1,
                   .patch = 2,
                   .dim = dim,
                   .depth = depth,
                   .heads = heads,
                   .mlp = 2 * dim,
                   .classes = 4,
                   .pool = LG_POOL_AVG};
    lg_model *m;
    char err[256];
    ck_assert_msg(lg_model_new(&m, &c, err, sizeof err) == LG_OK, "%s", err);
    lg_model_init(m, seed);
    lg_rng r;
    lg_rng_seed(&r, seed + 50);
    float *p = lg_model_params(m);
    for (size_t i = 0; i < lg_model_nparams(m); i++) p[i] += 0.2f * lg_rng_normal(&r);
    return m;
}

static double mse(const float *X, const float *Y, const float *w, const float *b, size_t rows, int din, int dout)
{
    double s = 0;
    for (size_t r = 0; r < rows; r++)
        for (int o = 0; o < dout; o++) {
            double y = b[o];
            for (int i = 0; i < din; i++) y += (double)w[o * din + i] * X[r * din + i];
            double d = y - Y[r * dout + o];
            s += d * d;
        }
    return s / (double)(rows * dout);
}

enum { NCAL = 20 };

START_TEST(least_squares_stitch_beats_random)
{
    lg_model *inst[2] = {instance(16, 2, 3, 1), instance(8, 2, 3, 2)};
    const char *names[2] = {"wide", "narrow"};
    lg_genepool p;
    char err[256];
    ck_assert_msg(lg_genepool_new(&p, inst, names, 2, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_msg(!strcmp(p.names[0], "narrow") && lg_model_config(p.inst[0])->dim == 8, "width order");
    ck_assert_msg(p.nstitch == 2, "one narrow→wide stitch per inner block boundary (k = 1, 2)");
    float images[NCAL * 64];
    lg_rng r;
    lg_rng_seed(&r, 3);
    lg_test_fill(images, NCAL * 64, &r, 1);
    ck_assert_msg(lg_genepool_init_stitches(&p, images, NCAL, 1, err, sizeof err) == LG_OK, "%s", err);
    /* recompute X and Y for k = 1 and compare fits */
    size_t rows = NCAL * 16;
    float *X = malloc(rows * 8 * 4), *Y = malloc(rows * 16 * 4), wr[16 * 8], br[16] = {0};
    lg_ctx *xa, *xb;
    ck_assert(lg_ctx_new(&xa, p.inst[0], NCAL, 1, 0, err, sizeof err) == LG_OK);
    ck_assert(lg_ctx_new(&xb, p.inst[1], NCAL, 1, 0, err, sizeof err) == LG_OK);
    lg_forward_tokens(xa, X, images, NCAL, 1);
    lg_forward_tokens(xb, Y, images, NCAL, 1);
    for (int i = 0; i < 16 * 8; i++) wr[i] = lg_rng_trunc_normal(&r, 0.02f);
    const lg_stitch *s = &p.stitches[0];
    ck_assert(s->at == 1);
    double e_ls = mse(X, Y, s->w, s->b, rows, 8, 16), e_rand = mse(X, Y, wr, br, rows, 8, 16);
    printf("stitch MSE: least squares %.4f, random init %.4f\n", e_ls, e_rand);
    ck_assert_msg(e_ls < 0.5 * e_rand, "least squares (%.4f) well below random (%.4f)", e_ls, e_rand);
    /* optimality: perturbing the solution only increases the error */
    float w2[16 * 8];
    memcpy(w2, s->w, sizeof w2);
    w2[5] += 0.05f;
    ck_assert_msg(mse(X, Y, w2, s->b, rows, 8, 16) > e_ls, "a perturbed stitch fits worse");
    /* too few rows is an error, not a crash */
    ck_assert(lg_stitch_lstsq(w2, br, X, Y, 5, 8, 16, err, sizeof err) == LG_ERR_RANGE);
    free(X), free(Y);
    lg_ctx_free(xa), lg_ctx_free(xb);
    lg_genepool_free(&p);
}
END_TEST

START_TEST(configurations_and_models)
{
    lg_model *inst[3] = {instance(8, 2, 4, 4), instance(12, 3, 4, 5), instance(16, 2, 4, 6)};
    const char *names[3] = {"s", "m", "l"};
    lg_genepool p;
    char err[256];
    ck_assert(lg_genepool_new(&p, inst, names, 3, err, sizeof err) == LG_OK);
    int n = lg_genepool_configs(&p, NULL, 0);
    ck_assert_msg(n == 3 + 3 * 3, "3 instances + 3 pairs × 3 stitch positions, got %d", n);
    lg_genepool_cfg cfgs[16];
    lg_genepool_configs(&p, cfgs, 16);
    double prev_plain = 0;
    for (int i = 0; i < n; i++) {
        lg_model *m;
        ck_assert_msg(lg_genepool_build(&m, &p, &cfgs[i], err, sizeof err) == LG_OK, "%s", err);
        const lg_config *c = lg_model_config(m);
        ck_assert(lg_model_nparams(m) == lg_config_params(c));
        if (!cfgs[i].at) {
            ck_assert_msg(!memcmp(lg_model_params(m), lg_model_params(p.inst[cfgs[i].from]), lg_model_nparams(m) * 4),
                          "a plain configuration is its instance");
            ck_assert_msg(lg_config_flops(c) > prev_plain, "instances in width order");
            prev_plain = lg_config_flops(c);
        } else {
            ck_assert(c->stitch_at == cfgs[i].at && c->dim == lg_model_config(p.inst[cfgs[i].from])->dim &&
                      c->dim2 == lg_model_config(p.inst[cfgs[i].to])->dim);
            const lg_tensor_info *t0 = lg_model_find(m, "blocks.0.mlp.fc1.weight");
            const lg_tensor_info *f0 = lg_model_find(p.inst[cfgs[i].from], "blocks.0.mlp.fc1.weight");
            ck_assert_msg(!memcmp(lg_model_params(m) + t0->offset, lg_model_params(p.inst[cfgs[i].from]) + f0->offset,
                                  t0->numel * 4),
                          "block 0 comes from the narrow instance");
            const lg_tensor_info *h = lg_model_find(m, "head.weight"),
                                 *hw = lg_model_find(p.inst[cfgs[i].to], "head.weight");
            ck_assert_msg(
                !memcmp(lg_model_params(m) + h->offset, lg_model_params(p.inst[cfgs[i].to]) + hw->offset, h->numel * 4),
                "the head comes from the wide instance");
        }
        lg_model_free(m);
    }
    lg_genepool_cfg bad = {0, 1, 9};
    lg_model *m;
    ck_assert_msg(lg_genepool_build(&m, &p, &bad, err, sizeof err) == LG_ERR_RANGE, "unknown configuration refused");

    /* save and load */
    char path[] = "/tmp/lg_test_pool_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    for (int i = 0; i < p.nstitch; i++) p.stitches[i].w[0] = (float)i; /* distinguishable stitches */
    ck_assert_msg(lg_genepool_save(&p, path, LG_F32, NULL, 0, err, sizeof err) == LG_OK, "%s", err);
    lg_st *st;
    ck_assert(lg_st_read_file(&st, path, err, sizeof err) == LG_OK);
    ck_assert_msg(lg_st_find(st, "instances.m.blocks.3.mlp.fc2.bias") && lg_st_find(st, "stitches.s.2.l.2.weight"),
                  "SPEC §2 names");
    lg_st_free(st);
    lg_genepool q;
    ck_assert_msg(lg_genepool_load(&q, path, err, sizeof err) == LG_OK, "%s", err);
    ck_assert(q.n == 3 && q.nstitch == p.nstitch && lg_genepool_params(&q) == lg_genepool_params(&p));
    for (int i = 0; i < p.nstitch; i++)
        ck_assert_msg(q.stitches[i].w[0] == (float)i && !memcmp(q.stitches[i].b, p.stitches[i].b, 4), "stitch %d", i);
    for (int i = 0; i < 3; i++)
        ck_assert(!memcmp(lg_model_params(q.inst[i]), lg_model_params(p.inst[i]), lg_model_nparams(p.inst[i]) * 4));
    lg_genepool_free(&q);
    unlink(path);
    lg_genepool_free(&p);
}
END_TEST

START_TEST(mismatched_instances_are_refused)
{
    char err[256];
    lg_genepool p;
    lg_model *a[2] = {instance(8, 2, 3, 1), instance(16, 2, 4, 2)};
    const char *names[2] = {"a", "b"};
    ck_assert(lg_genepool_new(&p, a, names, 2, err, sizeof err) == LG_ERR_MISMATCH);
    ck_assert_msg(strstr(err, "depth"), "message says why: %s", err);
    lg_model *b[2] = {instance(8, 2, 3, 1), instance(8, 4, 3, 2)};
    ck_assert_msg(lg_genepool_new(&p, b, names, 2, err, sizeof err) == LG_ERR_INVALID, "same width refused: %s", err);
    lg_model *c[1] = {instance(8, 2, 3, 1)};
    const char *bad_name[1] = {"a.b"};
    ck_assert_msg(lg_genepool_new(&p, c, bad_name, 1, err, sizeof err) == LG_ERR_INVALID, "dotted name refused");
    ck_assert(lg_genepool_new(&p, NULL, NULL, 0, err, sizeof err) == LG_ERR_RANGE);
}
END_TEST

/* Mean cross-entropy of every configuration of the pool on ds. */
static void config_losses(double *loss, const lg_genepool *p, const lg_dataset *ds, int ncfg)
{
    lg_genepool_cfg cfgs[16];
    char err[256];
    lg_genepool_configs(p, cfgs, 16);
    for (int i = 0; i < ncfg; i++) {
        lg_model *m;
        double acc;
        ck_assert(lg_genepool_build(&m, p, &cfgs[i], err, sizeof err) == LG_OK);
        ck_assert(lg_evaluate(m, ds, 250, 2, &acc, &loss[i], err, sizeof err) == LG_OK);
        lg_model_free(m);
    }
}

START_TEST(pool_training_improves_every_configuration)
{
    char err[512];
    lg_dataset ds = {0};
    ck_assert_msg(lg_fmnist_load(&ds, lg_test_fmnist_dir(), 1, err, sizeof err) == LG_OK, "%s", err);
    ck_assert(lg_dataset_per_class(&ds, 50, 10, 1, NULL, 0) == LG_OK);
    lg_model *inst[2];
    for (int i = 0; i < 2; i++) {
        lg_config c = {.img = 28,
                       .in_chans = 1,
                       .patch = 7,
                       .dim = 16 * (i + 1),
                       .depth = 3,
                       .heads = 2,
                       .mlp = 32 * (i + 1),
                       .classes = 10,
                       .pool = LG_POOL_AVG};
        ck_assert(lg_model_new(&inst[i], &c, err, sizeof err) == LG_OK);
        lg_model_init(inst[i], 10 + (uint64_t)i);
    }
    const char *names[2] = {"a", "b"};
    lg_genepool p;
    ck_assert(lg_genepool_new(&p, inst, names, 2, err, sizeof err) == LG_OK);
    ck_assert(lg_genepool_init_stitches(&p, ds.images, 100, 2, err, sizeof err) == LG_OK);
    int ncfg = lg_genepool_configs(&p, NULL, 0);
    ck_assert(ncfg == 4);
    double before[4], after[4];
    config_losses(before, &p, &ds, ncfg);
    lg_train_opts o;
    lg_train_defaults(&o);
    o.batch = 32, o.steps = 300, o.threads = 2, o.log_every = 0, o.opt.lr = 2e-3f, o.opt.warmup_steps = 10;
    ck_assert_msg(lg_genepool_train(&p, &ds, &o, err, sizeof err) == LG_OK, "%s", err);
    config_losses(after, &p, &ds, ncfg);
    for (int i = 0; i < ncfg; i++) printf("configuration %d: loss %.3f -> %.3f\n", i, before[i], after[i]);
    for (int i = 0; i < ncfg; i++)
        ck_assert_msg(after[i] < 0.85 * before[i], "configuration %d learned (%.3f -> %.3f)", i, before[i], after[i]);
    lg_genepool_free(&p);
    lg_dataset_free(&ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("genepool");
    TCase *t = tcase_create("genepool");
    tcase_add_test(t, least_squares_stitch_beats_random);
    tcase_add_test(t, configurations_and_models);
    tcase_add_test(t, mismatched_instances_are_refused);
    tcase_add_test(t, pool_training_improves_every_configuration);
    tcase_set_timeout(t, 300);
    suite_add_tcase(s, t);
    return lg_test_run(s);
}
