/* test_pipeline.c - the SPEC §7 experiment, scaled down to seconds: an
 * ancestry model on Fashion-MNIST classes 0-4, a TLEG learngene distilled
 * from it and an inherited-layers learngene cut from it, then descendants on
 * classes 5-9 from 100 images per class, initialized each way and from scratch, trained
 * with the same optimizer and steps. A TLEG descendant must beat scratch. */
#include <string.h>

#include "testutil.h"

static const lg_config anc_cfg = {.img = 28,
                                  .in_chans = 1,
                                  .patch = 7,
                                  .dim = 48,
                                  .depth = 4,
                                  .heads = 3,
                                  .mlp = 96,
                                  .classes = 5,
                                  .pool = LG_POOL_AVG};

static void load(lg_dataset *ds, int train, const int *classes, int per_class)
{
    char err[512];
    ck_assert_msg(lg_fmnist_load(ds, lg_test_fmnist_dir(), train, err, sizeof err) == LG_OK, "%s", err);
    ck_assert(lg_dataset_filter(ds, classes, 5, 1, NULL, 0) == LG_OK);
    if (per_class) ck_assert(lg_dataset_per_class(ds, per_class, 5, 7, NULL, 0) == LG_OK);
}

static double train_eval(lg_model *m, const lg_dataset *train, const lg_dataset *test, long steps)
{
    char err[512];
    lg_train_opts o;
    lg_train_defaults(&o);
    o.batch = 32, o.steps = steps, o.threads = 2, o.log_every = 0, o.opt.lr = 1e-3f, o.opt.warmup_steps = steps / 10;
    ck_assert_msg(lg_train(m, train, &o, err, sizeof err) == LG_OK, "%s", err);
    double acc;
    ck_assert(lg_evaluate(m, test, 256, 2, &acc, NULL, err, sizeof err) == LG_OK);
    return acc;
}

START_TEST(tleg_descendant_beats_scratch)
{
    static const int src[] = {0, 1, 2, 3, 4}, dst[] = {5, 6, 7, 8, 9};
    lg_dataset a_train = {0}, d_train = {0}, d_test = {0};
    load(&a_train, 1, src, 400);
    load(&d_train, 1, dst, 100);
    load(&d_test, 0, dst, 200);
    char err[512];

    lg_model *anc;
    ck_assert(lg_model_new(&anc, &anc_cfg, err, sizeof err) == LG_OK);
    lg_model_init(anc, 1);
    lg_dataset a_test = {0};
    load(&a_test, 0, src, 200);
    double anc_acc = train_eval(anc, &a_train, &a_test, 400);

    lg_gene tleg, inh;
    ck_assert(lg_gene_tleg_new(&tleg, &anc_cfg, 2, err, sizeof err) == LG_OK);
    lg_train_opts o;
    lg_train_defaults(&o);
    o.batch = 32, o.steps = 300, o.threads = 2, o.log_every = 0, o.opt.lr = 1e-3f, o.opt.warmup_steps = 30;
    o.teacher = anc, o.alpha = 1.0f, o.tau = 1.0f;
    ck_assert_msg(lg_tleg_train(&tleg, &a_train, &o, err, sizeof err) == LG_OK, "%s", err);
    ck_assert(lg_gene_inherit(&inh, anc, 2, err, sizeof err) == LG_OK);
    lg_model *aux;
    ck_assert(lg_gene_expand(&aux, &tleg, 4, 5, 1, err, sizeof err) == LG_OK);
    double aux_acc;
    ck_assert(lg_evaluate(aux, &a_test, 256, 2, &aux_acc, NULL, err, sizeof err) == LG_OK);

    const long steps = 60;
    const int depth = 3;
    lg_model *m_tleg, *m_inh, *m_scratch;
    lg_config dc = anc_cfg;
    dc.depth = depth;
    ck_assert(lg_gene_expand(&m_tleg, &tleg, depth, 5, 3, err, sizeof err) == LG_OK);
    lg_model_init_head(m_tleg, 3); /* classes 5-9 are a new task: fresh head */
    ck_assert(lg_gene_expand(&m_inh, &inh, depth, 5, 3, err, sizeof err) == LG_OK);
    ck_assert(lg_model_new(&m_scratch, &dc, err, sizeof err) == LG_OK);
    lg_model_init(m_scratch, 3);
    double acc_tleg = train_eval(m_tleg, &d_train, &d_test, steps);
    double acc_inh = train_eval(m_inh, &d_train, &d_test, steps);
    double acc_scratch = train_eval(m_scratch, &d_train, &d_test, steps);
    printf("ancestry (classes 0-4) %.3f; TLEG auxiliary net (depth 4) %.3f\n", anc_acc, aux_acc);
    printf("descendants depth %d, classes 5-9, 100 images/class, %ld steps: TLEG %.3f  inherit %.3f  scratch %.3f\n",
           depth, steps, acc_tleg, acc_inh, acc_scratch);
    ck_assert_msg(anc_acc > 0.75, "the ancestry model learned classes 0-4 (%.3f)", anc_acc);
    ck_assert_msg(aux_acc > 0.6, "the distilled auxiliary network works on classes 0-4 (%.3f)", aux_acc);
    ck_assert_msg(acc_tleg > acc_scratch, "TLEG-initialized descendant (%.3f) beats scratch (%.3f)", acc_tleg,
                  acc_scratch);

    lg_model_free(anc);
    lg_model_free(aux);
    lg_model_free(m_tleg);
    lg_model_free(m_inh);
    lg_model_free(m_scratch);
    lg_gene_free(&tleg);
    lg_gene_free(&inh);
    lg_dataset_free(&a_train);
    lg_dataset_free(&a_test);
    lg_dataset_free(&d_train);
    lg_dataset_free(&d_test);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipeline");
    TCase *t = tcase_create("pipeline");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, tleg_descendant_beats_scratch);
    suite_add_tcase(s, t);
    return lg_test_run(s);
}
