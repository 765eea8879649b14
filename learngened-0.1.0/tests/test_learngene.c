/* test_learngene.c - TLEG expansion equals its formula for every tensor,
 * the tied gradients against finite differences, learngene files, layer
 * inheritance, the budget solver on constructed cases, and bad inputs. */
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const lg_config tiny = {.img = 8,
                               .in_chans = 2,
                               .patch = 4,
                               .dim = 8,
                               .depth = 4,
                               .heads = 2,
                               .mlp = 12,
                               .classes = 3,
                               .pool = LG_POOL_AVG};

/* A TLEG learngene with every tensor random (θ_B too). */
static void random_gene(lg_gene *g, const lg_config *c, uint64_t seed)
{
    char err[256];
    ck_assert_msg(lg_gene_tleg_new(g, c, seed, err, sizeof err) == LG_OK, "%s", err);
    lg_rng r;
    lg_rng_seed(&r, seed + 100);
    lg_test_fill(lg_model_params(g->m), lg_model_nparams(g->m), &r, 0.3f);
}

static const float *tensor(lg_model *m, const char *name)
{
    const lg_tensor_info *t = lg_model_find(m, name);
    ck_assert_msg(t != NULL, "tensor %s exists", name);
    return lg_model_params(m) + t->offset;
}

START_TEST(expansion_equals_the_formula)
{
    lg_gene g;
    random_gene(&g, &tiny, 1);
    char err[256], name[128], a_name[160], b_name[160];
    static const int depths[] = {1, 2, 3, 5, 8};
    for (size_t k = 0; k < sizeof depths / sizeof *depths; k++) {
        int L = depths[k];
        lg_model *m;
        ck_assert_msg(lg_gene_expand(&m, &g, L, tiny.classes, 9, err, sizeof err) == LG_OK, "%s", err);
        int n;
        const lg_tensor_info *t = lg_model_tensors(m, &n);
        for (int i = 0; i < n; i++) {
            const float *p = lg_model_params(m) + t[i].offset;
            int blk;
            if (sscanf(t[i].name, "blocks.%d.%127s", &blk, name) == 2) {
                snprintf(a_name, sizeof a_name, "blocks.0.%s", name);
                snprintf(b_name, sizeof b_name, "blocks.1.%s", name);
                const float *A = tensor(g.m, a_name), *B = tensor(g.m, b_name);
                for (size_t j = 0; j < t[i].numel; j++)
                    ck_assert_msg(p[j] == A[j] + (float)blk / (float)L * B[j],
                                  "%s[%zu] at depth %d = θ_A + (%d/%d)·θ_B", t[i].name, j, L, blk, L);
            } else {
                ck_assert_msg(!memcmp(p, tensor(g.m, t[i].name), t[i].numel * 4), "%s copied at depth %d", t[i].name,
                              L);
            }
        }
        lg_model_free(m);
    }
    /* depth = L_aux reproduces the auxiliary network exactly */
    lg_config aux_cfg = tiny;
    lg_model *aux, *desc;
    ck_assert(lg_model_new(&aux, &aux_cfg, err, sizeof err) == LG_OK);
    ck_assert(lg_tleg_expand_into(aux, &g, err, sizeof err) == LG_OK);
    ck_assert(lg_gene_expand(&desc, &g, g.aux_depth, tiny.classes, 9, err, sizeof err) == LG_OK);
    ck_assert_msg(!memcmp(lg_model_params(aux), lg_model_params(desc), lg_model_nparams(aux) * 4),
                  "the depth-L_aux descendant is the auxiliary network");
    /* other classes: head fresh, everything else as before */
    lg_model *other;
    ck_assert(lg_gene_expand(&other, &g, 3, 7, 9, err, sizeof err) == LG_OK);
    ck_assert_msg(lg_model_config(other)->classes == 7, "7 classes");
    ck_assert_msg(fabs(tensor(other, "head.weight")[0]) < 0.1 && tensor(other, "head.bias")[0] == 0.0f,
                  "fresh head (trunc normal .02, zero bias)");
    lg_model_free(aux);
    lg_model_free(desc);
    lg_model_free(other);
    lg_gene_free(&g);
}
END_TEST

enum { TB = 3 };
typedef struct {
    lg_gene g;
    lg_model *aux;
    lg_ctx *x;
    float images[TB * 2 * 8 * 8], teacher[TB * 3];
    int labels[TB];
} tied_ctx;

static double tied_loss(void *p)
{
    tied_ctx *c = p;
    float logits[TB * 3];
    lg_tleg_expand_into(c->aux, &c->g, NULL, 0);
    lg_forward(c->x, logits, c->images, TB);
    return lg_distill_kl(NULL, logits, c->teacher, TB, 3, 1.0f, 1) / TB;
}

START_TEST(tied_gradients_match_finite_differences)
{
    tied_ctx c = {.labels = {0, 1, 2}};
    char err[256];
    random_gene(&c.g, &tiny, 2);
    ck_assert(lg_model_new(&c.aux, &tiny, err, sizeof err) == LG_OK);
    ck_assert(lg_ctx_new(&c.x, c.aux, TB, 1, 1, err, sizeof err) == LG_OK);
    lg_rng r;
    lg_rng_seed(&r, 3);
    lg_test_fill(c.images, sizeof c.images / 4, &r, 1);
    lg_test_fill(c.teacher, sizeof c.teacher / 4, &r, 2);
    lg_loss_spec ls = {c.teacher, 1.0f, 1.0f};
    lg_tleg_expand_into(c.aux, &c.g, NULL, 0);
    lg_model_zero_grad(c.aux);
    ck_assert(lg_forward_backward(c.x, NULL, NULL, c.images, c.labels, TB, &ls) == LG_OK);
    lg_tleg_fold_grads(&c.g, c.aux);
    int n;
    const lg_tensor_info *t = lg_model_tensors(c.g.m, &n);
    float *p = lg_model_params(c.g.m), *g = lg_model_grads(c.g.m);
    for (int i = 0; i < n; i++) {
        double worst = lg_test_fd(tied_loss, &c, p + t[i].offset, g + t[i].offset, t[i].numel, t[i].numel > 64 ? 5 : 1,
                                  1e-2f, 2e-3, 2e-2, t[i].name);
        ck_assert_msg(worst <= 1, "tied gradient of %s differs from finite differences (%g)", t[i].name, worst);
    }
    lg_ctx_free(c.x);
    lg_model_free(c.aux);
    lg_gene_free(&c.g);
}
END_TEST

START_TEST(learngene_files_round_trip)
{
    char err[512], path[] = "/tmp/lg_test_gene_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    lg_gene g, back;
    random_gene(&g, &tiny, 4);
    lg_st_kv meta[] = {{"ancestry", "abc"}};
    ck_assert_msg(lg_gene_save(&g, path, LG_F32, meta, 1, err, sizeof err) == LG_OK, "%s", err);
    lg_st *st;
    ck_assert(lg_st_read_file(&st, path, err, sizeof err) == LG_OK);
    ck_assert_msg(lg_st_find(st, "learngene.A.attn.qkv.weight") && lg_st_find(st, "learngene.B.mlp.fc2.bias") &&
                      lg_st_find(st, "patch_embed.proj.weight") && !lg_st_find(st, "blocks.0.norm1.weight"),
                  "SPEC §2 names: learngene.A.*, learngene.B.*, shared tensors");
    ck_assert_str_eq(lg_st_meta(st, "learngene"), "tleg");
    ck_assert_str_eq(lg_st_meta(st, "aux_depth"), "4");
    ck_assert_str_eq(lg_st_meta(st, "ancestry"), "abc");
    lg_model *plain;
    ck_assert_msg(lg_model_from_st(&plain, st, err, sizeof err) != LG_OK, "a learngene is not a plain model: %s", err);
    lg_st_free(st);
    ck_assert_msg(lg_gene_load(&back, path, err, sizeof err) == LG_OK, "%s", err);
    ck_assert(back.kind == LG_GENE_TLEG && back.aux_depth == 4);
    ck_assert(!memcmp(lg_model_params(back.m), lg_model_params(g.m), lg_model_nparams(g.m) * 4));
    ck_assert_msg(lg_gene_params(&g) < lg_config_params(&tiny), "a learngene stores fewer params than one model");
    lg_gene_free(&back);

    /* inherit learngene: the last k blocks */
    lg_model *anc;
    ck_assert(lg_model_new(&anc, &tiny, err, sizeof err) == LG_OK);
    lg_model_init(anc, 5);
    lg_gene h;
    ck_assert(lg_gene_inherit(&h, anc, 2, err, sizeof err) == LG_OK);
    ck_assert(lg_gene_save(&h, path, LG_BF16, NULL, 0, err, sizeof err) == LG_OK);
    ck_assert(lg_gene_load(&back, path, err, sizeof err) == LG_OK);
    ck_assert(back.kind == LG_GENE_INHERIT && back.aux_depth == 4 && lg_model_config(back.m)->depth == 2);
    lg_model *d;
    ck_assert(lg_gene_expand(&d, &h, 5, 3, 6, err, sizeof err) == LG_OK);
    ck_assert_msg(!memcmp(tensor(d, "blocks.4.mlp.fc1.weight"), tensor(anc, "blocks.3.mlp.fc1.weight"), 12 * 8 * 4),
                  "top block of the descendant = last ancestry block");
    ck_assert_msg(!memcmp(tensor(d, "blocks.3.attn.qkv.weight"), tensor(anc, "blocks.2.attn.qkv.weight"), 24 * 8 * 4),
                  "second from top = second-to-last ancestry block");
    ck_assert_msg(memcmp(tensor(d, "blocks.0.attn.qkv.weight"), tensor(anc, "blocks.0.attn.qkv.weight"), 24 * 8 * 4),
                  "lower blocks are fresh");
    lg_model_free(d);
    ck_assert_msg(lg_gene_expand(&d, &h, 1, 3, 6, err, sizeof err) == LG_ERR_RANGE, "depth below k refused");
    ck_assert_msg(strstr(err, "depth 1"), "message names the depth: %s", err);
    lg_model_free(d);
    lg_gene_free(&back);
    lg_gene_free(&h);
    ck_assert(lg_gene_inherit(&h, anc, 5, err, sizeof err) == LG_ERR_RANGE);
    ck_assert(lg_gene_inherit(&h, anc, 0, err, sizeof err) == LG_ERR_RANGE);
    lg_model_free(anc);

    /* bad inputs */
    ck_assert_msg(lg_gene_expand(&d, &g, 0, 3, 1, err, sizeof err) == LG_ERR_RANGE, "depth 0 refused: %s", err);
    lg_config wide = tiny;
    wide.dim = 16;
    lg_model *w;
    ck_assert(lg_model_new(&w, &wide, err, sizeof err) == LG_OK);
    ck_assert_msg(lg_tleg_expand_into(w, &g, err, sizeof err) == LG_ERR_MISMATCH, "width mismatch refused: %s", err);
    lg_model_free(w);
    lg_gene_free(&g);
    unlink(path);
}
END_TEST

START_TEST(solver_picks_correctly)
{
    lg_config fm = {.img = 28,
                    .in_chans = 1,
                    .patch = 4,
                    .dim = 96,
                    .depth = 1,
                    .heads = 3,
                    .mlp = 192,
                    .classes = 10,
                    .pool = LG_POOL_AVG};
    lg_config wide = fm;
    wide.dim = 192, wide.mlp = 384;
    lg_solver_source src[] = {{"narrow", fm, 1, 12}, {"wide", wide, 1, 12}};
    char err[512];
    lg_solution s;
    lg_config c6 = fm;
    c6.depth = 6;
    double f6 = lg_config_flops(&c6);
    /* capacity: no evaluations → the most FLOPs under the budget */
    lg_budget b = {.max_flops = f6 * 1.001};
    ck_assert_msg(lg_solve(&s, src, 2, NULL, 0, &b, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_msg(s.flops <= b.max_flops && isnan(s.accuracy), "fits, no accuracy");
    for (int k = 0; k < 2; k++)
        for (int d = 1; d <= 12; d++) {
            lg_config c = src[k].base;
            c.depth = d;
            double f = lg_config_flops(&c);
            ck_assert_msg(f > b.max_flops || f <= s.flops, "nothing fitting has more FLOPs than the pick");
        }
    ck_assert_msg(strstr(s.reason, "largest"), "reason: %s", s.reason);
    /* evaluations: the best measured accuracy that fits wins, even if smaller */
    lg_solver_eval ev[] = {{0, 2, 0.80}, {0, 4, 0.86}, {0, 12, 0.95}, {1, 1, 0.84}};
    ck_assert(lg_solve(&s, src, 2, ev, 4, &b, err, sizeof err) == LG_OK);
    ck_assert_msg(s.source == 0 && s.depth == 4 && s.accuracy == 0.86, "picked %d/%d", s.source, s.depth);
    ck_assert_msg(strstr(s.reason, "0.86"), "reason gives the accuracy: %s", s.reason);
    /* depth bounds and params limit */
    b.max_depth = 3;
    ck_assert(lg_solve(&s, src, 2, ev, 4, &b, err, sizeof err) == LG_OK);
    ck_assert_msg(s.source == 1 && s.depth == 1,
                  "within depth ≤ 3 the wide depth-1 (0.84) beats narrow depth 2 (0.80)");
    b = (lg_budget){.max_params = 400000, .min_dim = 100};
    ck_assert_msg(lg_solve(&s, src, 2, NULL, 0, &b, err, sizeof err) == LG_OK && s.source == 1 && s.params <= 400000,
                  "params budget with a width bound");
    /* nothing fits: the error names the smallest reachable budget */
    b = (lg_budget){.max_flops = 1000};
    ck_assert(lg_solve(&s, src, 2, NULL, 0, &b, err, sizeof err) == LG_ERR_RANGE);
    ck_assert_msg(strstr(err, "smallest reachable") && strstr(err, "narrow at depth 1"), "message: %s", err);
    b = (lg_budget){0};
    ck_assert_msg(lg_solve(&s, src, 2, NULL, 0, &b, err, sizeof err) == LG_ERR_INVALID, "a budget is required");
    b = (lg_budget){.max_flops = 1e12, .min_dim = 500};
    ck_assert_msg(lg_solve(&s, src, 2, NULL, 0, &b, err, sizeof err) == LG_ERR_RANGE, "width bound excludes all");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("learngene");
    TCase *t = tcase_create("learngene");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, expansion_equals_the_formula);
    tcase_add_test(t, tied_gradients_match_finite_differences);
    tcase_add_test(t, learngene_files_round_trip);
    tcase_add_test(t, solver_picks_correctly);
    suite_add_tcase(s, t);
    return lg_test_run(s);
}
