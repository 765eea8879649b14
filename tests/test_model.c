/* test_model.c - the whole ViT: gradients of every parameter against finite
 * differences (both pools, CE + distillation), sharded (multi-threaded)
 * forward/backward equal to single-shard, init statistics, AdamW. */
#include <string.h>

#include "testutil.h"

static const lg_config tiny_token = {.img = 8,
                                     .in_chans = 2,
                                     .patch = 4,
                                     .dim = 8,
                                     .depth = 2,
                                     .heads = 2,
                                     .mlp = 12,
                                     .classes = 3,
                                     .pool = LG_POOL_TOKEN};

enum { TB = 3 };

typedef struct {
    lg_model *m;
    lg_ctx *x;
    float images[TB * 2 * 8 * 8];
    float teacher[TB * 3];
    int labels[TB];
    lg_loss_spec ls;
} model_ctx;

static double model_loss(void *p)
{
    model_ctx *c = p;
    float logits[TB * 3];
    lg_forward(c->x, logits, c->images, TB);
    double ce = lg_cross_entropy(NULL, logits, c->labels, TB, 3, 1) / TB;
    double kd = lg_distill_kl(NULL, logits, c->teacher, TB, 3, c->ls.tau, 1) / TB;
    return (1 - c->ls.alpha) * ce + c->ls.alpha * kd;
}

static void setup(model_ctx *c, const lg_config *cfg, int threads)
{
    char err[256];
    ck_assert_msg(lg_model_new(&c->m, cfg, err, sizeof err) == LG_OK, "%s", err);
    lg_model_init(c->m, 11);
    /* make every tensor non-trivial so no gradient hides behind a zero */
    lg_rng r;
    lg_rng_seed(&r, 12);
    float *p = lg_model_params(c->m);
    for (size_t i = 0; i < lg_model_nparams(c->m); i++) p[i] += 0.3f * lg_rng_normal(&r);
    lg_test_fill(c->images, sizeof c->images / 4, &r, 1);
    lg_test_fill(c->teacher, sizeof c->teacher / 4, &r, 2);
    for (int b = 0; b < TB; b++) c->labels[b] = (int)lg_rng_below(&r, 3);
    c->ls = (lg_loss_spec){.teacher = c->teacher, .alpha = 0.4f, .tau = 2.0f};
    ck_assert_msg(lg_ctx_new(&c->x, c->m, TB, threads, 1, err, sizeof err) == LG_OK, "%s", err);
}

static void teardown(model_ctx *c)
{
    lg_ctx_free(c->x);
    lg_model_free(c->m);
}

static void check_model_gradients(const lg_config *cfg)
{
    model_ctx c;
    setup(&c, cfg, 1);
    float loss;
    lg_model_zero_grad(c.m);
    ck_assert(lg_forward_backward(c.x, &loss, NULL, c.images, c.labels, TB, &c.ls) == LG_OK);
    ck_assert_msg(fabs(loss - model_loss(&c)) < 1e-5, "lg_forward_backward's loss %g equals the forward's %g", loss,
                  model_loss(&c));
    int n;
    const lg_tensor_info *t = lg_model_tensors(c.m, &n);
    float *g = lg_model_grads(c.m), *p = lg_model_params(c.m);
    for (int i = 0; i < n; i++) {
        size_t stride = t[i].numel > 64 ? 7 : 1; /* sample big tensors */
        double worst = lg_test_fd(model_loss, &c, p + t[i].offset, g + t[i].offset, t[i].numel, stride, 1e-2f, 2e-3,
                                  2e-2, t[i].name);
        ck_assert_msg(worst <= 1, "gradient of %s differs from finite differences (worst ratio %g)", t[i].name, worst);
    }
    teardown(&c);
}

START_TEST(gradients_token_pool) { check_model_gradients(&tiny_token); }
END_TEST

START_TEST(gradients_avg_pool)
{
    lg_config c = tiny_token;
    c.pool = LG_POOL_AVG;
    check_model_gradients(&c);
}
END_TEST

START_TEST(gradients_stitched)
{
    /* Learngene Pool: 1 narrow block (dim 8), stitch 8→12, 1 wide block (dim 12, 3 heads) */
    lg_config c = tiny_token;
    c.stitch_at = 1, c.dim2 = 12, c.heads2 = 3, c.mlp2 = 20;
    check_model_gradients(&c);
    c.pool = LG_POOL_AVG;
    check_model_gradients(&c);
    char err[256];
    lg_model *m;
    ck_assert(lg_model_new(&m, &c, err, sizeof err) == LG_OK);
    ck_assert_msg(lg_model_nparams(m) == lg_config_params(&c), "stitched params %zu = %zu", lg_model_nparams(m),
                  lg_config_params(&c));
    const lg_tensor_info *sw = lg_model_find(m, "stitch.weight"), *hw = lg_model_find(m, "head.weight");
    ck_assert_msg(sw && sw->shape[0] == 12 && sw->shape[1] == 8, "stitch.weight is (dim2, dim)");
    ck_assert_msg(hw->shape[1] == 12 && lg_model_find(m, "blocks.1.attn.qkv.weight")->shape[0] == 36,
                  "wide blocks and head use dim2");
    char json[512];
    lg_config_to_json(&c, json, sizeof json);
    lg_config back;
    ck_assert_msg(lg_config_from_json(&back, json, strlen(json), err, sizeof err) == LG_OK, "%s", err);
    ck_assert_msg(!memcmp(&back, &c, sizeof c), "stitched config JSON round trips: %s", json);
    lg_model_free(m);
    c.stitch_at = 2; /* = depth */
    ck_assert_msg(lg_model_new(&m, &c, err, sizeof err) == LG_ERR_RANGE && strstr(err, "stitch_at"), "%s", err);
}
END_TEST

START_TEST(sharded_equals_single)
{
    model_ctx a, b;
    setup(&a, &tiny_token, 1);
    setup(&b, &tiny_token, 2);
    float la, lb, za[TB * 3], zb[TB * 3];
    lg_model_zero_grad(a.m);
    lg_model_zero_grad(b.m);
    lg_forward_backward(a.x, &la, za, a.images, a.labels, TB, &a.ls);
    lg_forward_backward(b.x, &lb, zb, b.images, b.labels, TB, &b.ls);
    ck_assert_msg(fabs(la - lb) < 1e-6, "loss %g (1 thread) vs %g (2 threads)", la, lb);
    ck_assert_msg(lg_test_max_relerr(zb, za, TB * 3, 1e-3, NULL) < 1e-5, "logits agree across shard counts");
    size_t at = 0;
    double e = lg_test_max_relerr(lg_model_grads(b.m), lg_model_grads(a.m), lg_model_nparams(a.m), 1e-3, &at);
    ck_assert_msg(e < 1e-4, "gradients agree across shard counts (worst %g at %zu)", e, at);
    float fa[TB * 3], fb[TB * 3];
    lg_forward(a.x, fa, a.images, TB);
    lg_forward(b.x, fb, b.images, TB);
    ck_assert_msg(lg_test_max_relerr(fb, fa, TB * 3, 1e-3, NULL) < 1e-5, "inference agrees across shard counts");
    ck_assert_msg(lg_test_max_relerr(fa, za, TB * 3, 1e-3, NULL) < 1e-5, "inference equals training forward");
    teardown(&a);
    teardown(&b);
}
END_TEST

/* Inference contexts run on packed weights (gemm.c), a batch of one on a
 * team of threads: their logits equal a training context's (cblas) for each
 * pool and a stitched model, and follow the weights when they change. */
static void check_inference_paths(const lg_config *cfg)
{
    char err[256];
    model_ctx a;
    setup(&a, cfg, 1); /* a.x: training context, the cblas path */
    enum { K = 3 };
    float want[TB * K], got[TB * K], one[K];
    lg_forward(a.x, want, a.images, TB);
    size_t img = (size_t)cfg->in_chans * cfg->img * cfg->img;
    for (int threads = 1; threads <= 3; threads++) {
        lg_ctx *single, *batch;
        ck_assert_msg(lg_ctx_new(&single, a.m, 1, threads, 0, err, sizeof err) == LG_OK, "%s", err);
        ck_assert_msg(lg_ctx_new(&batch, a.m, TB, threads, 0, err, sizeof err) == LG_OK, "%s", err);
        for (int round = 0; round < 2; round++) {
            for (int b = 0; b < TB; b++) {
                ck_assert(lg_forward(single, one, a.images + b * img, 1) == LG_OK);
                ck_assert_msg(lg_test_max_relerr(one, want + b * K, K, 1e-3, NULL) < 1e-5,
                              "batch of one on %d threads equals the training forward (image %d, round %d)", threads, b,
                              round);
                ck_assert(lg_forward(batch, got, a.images + b * img, 1) == LG_OK);
                ck_assert_msg(lg_test_max_relerr(got, one, K, 1e-3, NULL) < 1e-6, "any context size, same logits");
            }
            ck_assert(lg_forward(batch, got, a.images, TB) == LG_OK);
            ck_assert_msg(lg_test_max_relerr(got, want, TB * K, 1e-3, NULL) < 1e-5,
                          "a sharded batch on %d threads equals the training forward", threads);
            /* every token leaving the last block, not only those the logits need */
            size_t ntok = (size_t)lg_config_tokens(cfg) * lg_config_out_dim(cfg);
            float tok_want[TB * 5 * 12], tok_got[TB * 5 * 12];
            ck_assert(ntok * TB <= sizeof tok_want / sizeof *tok_want);
            ck_assert(lg_forward_tokens(a.x, tok_want, a.images, TB, cfg->depth) == LG_OK);
            ck_assert(lg_forward_tokens(batch, tok_got, a.images, TB, cfg->depth) == LG_OK);
            double e = lg_test_max_relerr(tok_got, tok_want, ntok * TB, 1e-3, NULL);
            ck_assert_msg(e < 1e-4, "the last block's tokens on %d threads equal the training forward's (error %g)",
                          threads, e);
            /* change the weights behind the contexts' backs: they repack */
            float *p = lg_model_params(a.m);
            for (size_t i = 0; i < lg_model_nparams(a.m); i++) p[i] *= 0.9f;
            lg_forward(a.x, want, a.images, TB);
        }
        lg_ctx_free(single);
        lg_ctx_free(batch);
    }
    teardown(&a);
}

START_TEST(inference_paths_token_pool) { check_inference_paths(&tiny_token); }
END_TEST

START_TEST(inference_paths_avg_pool_stitched)
{
    lg_config c = tiny_token;
    c.pool = LG_POOL_AVG;
    check_inference_paths(&c);
    c.stitch_at = 1, c.dim2 = 12, c.heads2 = 3, c.mlp2 = 20, c.depth = 3;
    check_inference_paths(&c);
}
END_TEST

START_TEST(init_matches_timm)
{
    lg_config cfg = {.img = 28,
                     .in_chans = 1,
                     .patch = 4,
                     .dim = 64,
                     .depth = 2,
                     .heads = 2,
                     .mlp = 128,
                     .classes = 10,
                     .pool = LG_POOL_TOKEN};
    lg_model *m;
    char err[256];
    ck_assert(lg_model_new(&m, &cfg, err, sizeof err) == LG_OK);
    lg_model_init(m, 1);
    const lg_param_view *v = lg_model_pview(m);
    double s = 0, ss = 0;
    size_t n = 3 * 64 * 64;
    for (size_t i = 0; i < n; i++)
        s += v->blocks[0].qkv_w[i], ss += (double)v->blocks[0].qkv_w[i] * v->blocks[0].qkv_w[i];
    double sd = sqrt(ss / n - (s / n) * (s / n));
    ck_assert_msg(fabs(sd - 0.02) < 0.001, "qkv weight std %g, want 0.02", sd);
    ck_assert_msg(v->blocks[1].norm1_w[5] == 1.0f && v->blocks[1].norm1_b[5] == 0.0f, "LayerNorm init (1, 0)");
    ck_assert_msg(v->blocks[1].fc2_b[3] == 0.0f && v->head_b[2] == 0.0f, "biases zero");
    ck_assert_msg(fabs(v->cls_token[0]) < 1e-5, "cls_token ~ N(0, 1e-6)");
    for (int i = 0; i < 64 * 16; i++) ck_assert_msg(fabs(v->patch_w[i]) <= 0.25f, "patch conv in U(±1/√16)");
    lg_model *m2;
    lg_model_new(&m2, &cfg, err, sizeof err);
    lg_model_init(m2, 1);
    ck_assert_msg(!memcmp(lg_model_params(m), lg_model_params(m2), lg_model_nparams(m) * 4), "same seed, same init");
    lg_model_init(m2, 2);
    ck_assert_msg(memcmp(lg_model_params(m), lg_model_params(m2), lg_model_nparams(m) * 4), "other seed, other init");
    ck_assert_msg(lg_model_nparams(m) == lg_config_params(&cfg), "buffer size %zu equals lg_config_params %zu",
                  lg_model_nparams(m), lg_config_params(&cfg));
    lg_model_free(m);
    lg_model_free(m2);
}
END_TEST

START_TEST(adamw_matches_hand_computation)
{
    lg_model *m;
    char err[256];
    ck_assert(lg_model_new(&m, &tiny_token, err, sizeof err) == LG_OK);
    ck_assert(lg_model_enable_training(m) == LG_OK);
    float *p = lg_model_params(m), *g = lg_model_grads(m);
    const lg_tensor_info *w = lg_model_find(m, "blocks.0.attn.qkv.weight"),
                         *b = lg_model_find(m, "blocks.0.attn.qkv.bias");
    ck_assert(w && w->decay && b && !b->decay);
    lg_adamw_config o;
    lg_adamw_defaults(&o);
    o.lr = 0.1f, o.weight_decay = 0.5f, o.warmup_steps = 0, o.total_steps = 100;
    p[w->offset] = 2.0f, g[w->offset] = 0.3f;
    p[b->offset] = 2.0f, g[b->offset] = 0.3f;
    float lr;
    lg_adamw_step(m, &o, 0, &lr);
    /* step 1: mhat = g, vhat = g², update = g/|g| = 1 (eps aside) */
    ck_assert_msg(fabs(p[w->offset] - (2.0f - 0.1f * (1.0f + 0.5f * 2.0f))) < 1e-5, "decayed weight %g", p[w->offset]);
    ck_assert_msg(fabs(p[b->offset] - (2.0f - 0.1f)) < 1e-5, "bias not decayed %g", p[b->offset]);
    lg_model_free(m);
}
END_TEST

START_TEST(schedule_warmup_then_cosine)
{
    lg_adamw_config o;
    lg_adamw_defaults(&o);
    o.lr = 1.0f, o.min_lr = 0.0f, o.warmup_steps = 10, o.total_steps = 110;
    ck_assert_msg(fabs(lg_lr_at(&o, 0) - 0.1f) < 1e-6, "warm-up starts at lr/warmup");
    ck_assert_msg(fabs(lg_lr_at(&o, 9) - 1.0f) < 1e-6, "warm-up ends at lr");
    ck_assert_msg(fabs(lg_lr_at(&o, 60) - 0.5f) < 1e-6, "cosine halfway is lr/2, got %g", lg_lr_at(&o, 60));
    ck_assert_msg(fabs(lg_lr_at(&o, 110)) < 1e-6, "cosine ends at min_lr");
}
END_TEST

START_TEST(bad_shapes_are_errors)
{
    lg_model *m = (lg_model *)1;
    char err[256] = "";
    lg_config c = tiny_token;
    c.depth = 0;
    ck_assert(lg_model_new(&m, &c, err, sizeof err) == LG_ERR_RANGE && m == NULL);
    ck_assert_msg(strstr(err, "depth"), "error names the field: %s", err);
    c = tiny_token, c.heads = 3;
    ck_assert(lg_model_new(&m, &c, err, sizeof err) == LG_ERR_INVALID);
    ck_assert_msg(strstr(err, "heads"), "error names the field: %s", err);
    c = tiny_token, c.patch = 3;
    ck_assert(lg_model_new(&m, &c, err, sizeof err) != LG_OK);
    c = tiny_token, c.img = 4096;
    ck_assert(lg_model_new(&m, &c, err, sizeof err) == LG_ERR_RANGE);
    lg_model *ok;
    ck_assert(lg_model_new(&ok, &tiny_token, err, sizeof err) == LG_OK);
    lg_ctx *x;
    ck_assert(lg_ctx_new(&x, ok, 0, 1, 0, err, sizeof err) == LG_ERR_RANGE);
    ck_assert(lg_ctx_new(&x, ok, 2, 1, 0, err, sizeof err) == LG_OK);
    float img[3 * 128], logits[9];
    ck_assert_msg(lg_forward(x, logits, img, 3) == LG_ERR_RANGE, "batch above the context's max is refused");
    int labels[2] = {0, 0};
    ck_assert_msg(lg_forward_backward(x, NULL, NULL, img, labels, 2, NULL) == LG_ERR_INVALID,
                  "training on an inference context is refused");
    lg_ctx_free(x);
    lg_model_free(ok);
    lg_model_free(NULL);
    lg_ctx_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *t = tcase_create("model");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, gradients_token_pool);
    tcase_add_test(t, gradients_avg_pool);
    tcase_add_test(t, gradients_stitched);
    tcase_add_test(t, sharded_equals_single);
    tcase_add_test(t, inference_paths_token_pool);
    tcase_add_test(t, inference_paths_avg_pool_stitched);
    tcase_add_test(t, init_matches_timm);
    tcase_add_test(t, adamw_matches_hand_computation);
    tcase_add_test(t, schedule_warmup_then_cosine);
    tcase_add_test(t, bad_shapes_are_errors);
    suite_add_tcase(s, t);
    return lg_test_run(s);
}
