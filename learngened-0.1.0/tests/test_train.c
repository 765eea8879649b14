/* test_train.c - a short real training run on Fashion-MNIST whose loss falls
 * and whose accuracy beats chance by far; save/load keeps the logits; a
 * distilled student learns from a teacher. */
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const lg_config small = {.img = 28,
                                .in_chans = 1,
                                .patch = 7,
                                .dim = 32,
                                .depth = 2,
                                .heads = 2,
                                .mlp = 64,
                                .classes = 10,
                                .pool = LG_POOL_AVG};

typedef struct {
    float first, last;
    int reports;
} losses;

static int record(void *user, const lg_train_progress *p)
{
    losses *l = user;
    if (l->reports++ == 0) l->first = p->loss;
    l->last = p->loss;
    return 0;
}

static void load(lg_dataset *ds, int train, int per_class)
{
    char err[512];
    ck_assert_msg(lg_fmnist_load(ds, lg_test_fmnist_dir(), train, err, sizeof err) == LG_OK, "%s", err);
    if (per_class) ck_assert(lg_dataset_per_class(ds, per_class, 10, 3, NULL, 0) == LG_OK);
}

START_TEST(loss_falls_and_accuracy_beats_chance)
{
    lg_dataset train = {0}, test = {0};
    load(&train, 1, 200);
    load(&test, 0, 100);
    lg_model *m;
    char err[512];
    ck_assert(lg_model_new(&m, &small, err, sizeof err) == LG_OK);
    lg_model_init(m, 5);
    double acc0;
    ck_assert(lg_evaluate(m, &test, 128, 2, &acc0, NULL, err, sizeof err) == LG_OK);
    lg_train_opts o;
    lg_train_defaults(&o);
    o.batch = 32, o.steps = 300, o.threads = 2, o.log_every = 25, o.opt.lr = 2e-3f, o.opt.warmup_steps = 15;
    losses l = {0};
    o.progress = record, o.user = &l;
    ck_assert_msg(lg_train(m, &train, &o, err, sizeof err) == LG_OK, "%s", err);
    double acc;
    ck_assert(lg_evaluate(m, &test, 128, 2, &acc, NULL, err, sizeof err) == LG_OK);
    printf("loss %.3f -> %.3f over %d reports; test accuracy %.3f -> %.3f\n", l.first, l.last, l.reports, acc0, acc);
    ck_assert_msg(l.reports == 12, "one report per 25 steps, got %d", l.reports);
    ck_assert_msg(l.last < 0.6f * l.first, "loss falls: first %.3f, last %.3f", l.first, l.last);
    ck_assert_msg(acc > 0.6, "test accuracy %.3f after 300 steps is far above chance (0.1)", acc);

    /* save (F32) and load back: the same logits bit for bit */
    char path[] = "/tmp/lg_test_train_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    lg_st_kv meta[] = {{"method", "scratch"}};
    ck_assert_msg(lg_model_save(m, path, LG_F32, meta, 1, err, sizeof err) == LG_OK, "%s", err);
    lg_model *back;
    ck_assert_msg(lg_model_load(&back, path, err, sizeof err) == LG_OK, "%s", err);
    ck_assert(!memcmp(lg_model_params(back), lg_model_params(m), lg_model_nparams(m) * sizeof(float)));
    double acc_back;
    ck_assert(lg_evaluate(back, &test, 128, 1, &acc_back, NULL, err, sizeof err) == LG_OK);
    ck_assert_msg(acc_back == acc, "reloaded model has the same accuracy (%.4f vs %.4f)", acc_back, acc);

    /* distillation: a student trained only on the teacher's logits learns the task */
    lg_model *student;
    ck_assert(lg_model_new(&student, &small, err, sizeof err) == LG_OK);
    lg_model_init(student, 9);
    o.teacher = back, o.alpha = 1.0f, o.tau = 1.0f, o.steps = 200;
    l = (losses){0};
    ck_assert_msg(lg_train(student, &train, &o, err, sizeof err) == LG_OK, "%s", err);
    double acc_s;
    ck_assert(lg_evaluate(student, &test, 128, 2, &acc_s, NULL, err, sizeof err) == LG_OK);
    printf("distilled student: KD loss %.3f -> %.3f, accuracy %.3f\n", l.first, l.last, acc_s);
    ck_assert_msg(l.last < l.first, "distillation loss falls");
    ck_assert_msg(acc_s > 0.5, "distilled student accuracy %.3f", acc_s);

    unlink(path);
    lg_model_free(m);
    lg_model_free(back);
    lg_model_free(student);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
}
END_TEST

START_TEST(mismatched_data_is_an_error)
{
    lg_dataset ds = {0};
    load(&ds, 0, 10);
    lg_config c = small;
    c.classes = 5; /* labels reach 9 */
    lg_model *m;
    char err[512] = "";
    ck_assert(lg_model_new(&m, &c, err, sizeof err) == LG_OK);
    lg_train_opts o;
    lg_train_defaults(&o);
    o.steps = 1;
    ck_assert(lg_train(m, &ds, &o, err, sizeof err) == LG_ERR_MISMATCH);
    ck_assert_msg(strstr(err, "label"), "message names the labels: %s", err);
    lg_model_free(m);
    c = small, c.img = 32, c.patch = 8;
    ck_assert(lg_model_new(&m, &c, err, sizeof err) == LG_OK);
    double acc;
    ck_assert(lg_evaluate(m, &ds, 8, 1, &acc, NULL, err, sizeof err) == LG_ERR_MISMATCH);
    ck_assert_msg(strstr(err, "28x28"), "message gives the image size: %s", err);
    lg_model_free(m);
    lg_dataset_free(&ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *t = tcase_create("train");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, loss_falls_and_accuracy_beats_chance);
    tcase_add_test(t, mismatched_data_is_an_error);
    suite_add_tcase(s, t);
    return lg_test_run(s);
}
