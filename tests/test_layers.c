/* test_layers.c - every layer's backward against finite differences, and the
 * fast (BLAS and packed-weight) kernels against the naive references. */
#include <string.h>

#include "gemm.h"
#include "layers.h"
#include "testutil.h"

/* Loss = Σ out ⊙ R for a fixed random R, so ∂loss/∂out = R. */
static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------- linear */
enum { LN_N = 5, LN_I = 7, LN_O = 6 };
typedef struct {
    float in[LN_N * LN_I], w[LN_O * LN_I], b[LN_O], out[LN_N * LN_O], r[LN_N * LN_O];
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    lg_linear_forward(c->out, c->in, c->w, c->b, LN_N, LN_I, LN_O);
    return dot(c->out, c->r, LN_N * LN_O);
}

START_TEST(linear_backward_matches_finite_differences)
{
    lin_ctx c;
    lg_rng r;
    lg_rng_seed(&r, 1);
    lg_test_fill(c.in, LN_N * LN_I, &r, 1);
    lg_test_fill(c.w, LN_O * LN_I, &r, 1);
    lg_test_fill(c.b, LN_O, &r, 1);
    lg_test_fill(c.r, LN_N * LN_O, &r, 1);
    float din[LN_N * LN_I], dw[LN_O * LN_I] = {0}, db[LN_O] = {0};
    lg_linear_backward(din, dw, db, c.r, c.in, c.w, LN_N, LN_I, LN_O);
    ck_assert_msg(lg_test_fd(lin_loss, &c, c.in, din, LN_N * LN_I, 1, 1e-2f, 1e-3, 1e-3, "din") <= 1, "linear din");
    ck_assert_msg(lg_test_fd(lin_loss, &c, c.w, dw, LN_O * LN_I, 1, 1e-2f, 1e-3, 1e-3, "dw") <= 1, "linear dw");
    ck_assert_msg(lg_test_fd(lin_loss, &c, c.b, db, LN_O, 1, 1e-2f, 1e-3, 1e-3, "db") <= 1, "linear db");
}
END_TEST

START_TEST(linear_fast_matches_naive)
{
    enum { N = 67, Kin = 45, Kout = 38 };
    static float in[N * Kin], w[Kout * Kin], b[Kout], out[N * Kout], ref[N * Kout], dout[N * Kout];
    static float din[N * Kin], din_r[N * Kin], dw[Kout * Kin], dw_r[Kout * Kin], db[Kout], db_r[Kout];
    lg_rng r;
    lg_rng_seed(&r, 2);
    lg_test_fill(in, N * Kin, &r, 1);
    lg_test_fill(w, Kout * Kin, &r, 1);
    lg_test_fill(b, Kout, &r, 1);
    lg_test_fill(dout, N * Kout, &r, 1);
    lg_linear_forward(out, in, w, b, N, Kin, Kout);
    lg_linear_forward_ref(ref, in, w, b, N, Kin, Kout);
    ck_assert_msg(lg_test_max_relerr(out, ref, N * Kout, 1.0, NULL) < 1e-5, "linear forward differs from naive");
    memset(dw, 0, sizeof dw), memset(dw_r, 0, sizeof dw_r), memset(db, 0, sizeof db), memset(db_r, 0, sizeof db_r);
    lg_linear_backward(din, dw, db, dout, in, w, N, Kin, Kout);
    lg_linear_backward_ref(din_r, dw_r, db_r, dout, in, w, N, Kin, Kout);
    ck_assert_msg(lg_test_max_relerr(din, din_r, N * Kin, 1.0, NULL) < 1e-5, "linear din differs from naive");
    ck_assert_msg(lg_test_max_relerr(dw, dw_r, Kout * Kin, 1.0, NULL) < 1e-5, "linear dw differs from naive");
    ck_assert_msg(lg_test_max_relerr(db, db_r, Kout, 1.0, NULL) < 1e-5, "linear db differs from naive");
}
END_TEST

/* The packed-weight matmul (gemm.h), both kernels, against the naive linear:
 * row counts around the 14-row tile and past a row block, widths cutting the last 32-column
 * panel, two callers splitting the panels, with and without bias, residual
 * and GELU. */
START_TEST(packed_gemm_matches_naive)
{
    enum { NMAX = 1000, KMAX = 70, OMAX = 100 }; /* 1000 rows of Kin 70 span two row blocks */
    static const int rows[] = {1, 13, 14, 29, 50, 1000}, kins[] = {8, 37, 70}, kouts[] = {10, 32, 45, 100};
    static float in[NMAX * KMAX], w[OMAX * KMAX], b[OMAX], res[NMAX * OMAX], out[NMAX * OMAX], ref[NMAX * OMAX];
    static float packed[4 * KMAX * LG_GEMM_NR] __attribute__((aligned(64)));
    lg_rng r;
    lg_rng_seed(&r, 3);
    lg_test_fill(in, NMAX * KMAX, &r, 1);
    lg_test_fill(w, OMAX * KMAX, &r, 1);
    lg_test_fill(b, OMAX, &r, 1);
    lg_test_fill(res, NMAX * OMAX, &r, 1);
    int kernels = strcmp(lg_gemm_kernel(), "avx512") ? 1 : 2;
    for (int generic = 0; generic < 2; generic++) {
        lg_gemm_force_generic(generic || kernels == 1);
        for (int a = 0; a < 6; a++)
            for (int c = 0; c < 3; c++)
                for (int d = 0; d < 4; d++)
                    for (int mode = 0; mode < 4; mode++) {
                        int N = rows[a], Kin = kins[c], Kout = kouts[d], np = lg_gemm_panels(Kout);
                        int use_res = mode & 1, gelu = mode == 2, no_bias = mode == 3;
                        ck_assert(lg_gemm_packed_floats(Kin, Kout) <= sizeof packed / 4);
                        lg_gemm_pack(packed, w, Kin, Kout);
                        lg_linear_forward_ref(ref, in, w, no_bias ? NULL : b, N, Kin, Kout);
                        for (int i = 0; use_res && i < N * Kout; i++) ref[i] += res[i];
                        if (gelu) lg_gelu_forward(ref, ref, (size_t)N * Kout);
                        memset(out, 0, sizeof out);
                        const float *rp = use_res ? res : NULL, *bp = no_bias ? NULL : b;
                        lg_gemm_run(out, rp, in, packed, bp, N, Kin, Kout, 0, np / 2, gelu);
                        lg_gemm_run(out, rp, in, packed, bp, N, Kin, Kout, np / 2, np, gelu);
                        double e = lg_test_max_relerr(out, ref, (size_t)N * Kout, 1.0, NULL);
                        ck_assert_msg(e < 1e-5, "%s kernel N=%d Kin=%d Kout=%d mode %d: error %g", lg_gemm_kernel(), N,
                                      Kin, Kout, mode, e);
                        if (N * Kout < NMAX * OMAX)
                            ck_assert_msg(out[N * Kout] == 0.0f, "nothing written past the last row");
                    }
    }
    lg_gemm_force_generic(0);
}
END_TEST

/* ---------------------------------------------------------- layernorm */
enum { LNN = 4, LND = 9 };
typedef struct {
    float in[LNN * LND], w[LND], b[LND], out[LNN * LND], mean[LNN], rstd[LNN], r[LNN * LND];
} ln_ctx;

static double ln_loss(void *p)
{
    ln_ctx *c = p;
    lg_layernorm_forward(c->out, c->mean, c->rstd, c->in, c->w, c->b, LNN, LND);
    return dot(c->out, c->r, LNN * LND);
}

START_TEST(layernorm_backward_matches_finite_differences)
{
    ln_ctx c;
    lg_rng r;
    lg_rng_seed(&r, 3);
    lg_test_fill(c.in, LNN * LND, &r, 2);
    lg_test_fill(c.w, LND, &r, 1);
    lg_test_fill(c.b, LND, &r, 1);
    lg_test_fill(c.r, LNN * LND, &r, 1);
    ln_loss(&c);
    float din[LNN * LND] = {0}, dw[LND] = {0}, db[LND] = {0};
    lg_layernorm_backward(din, dw, db, c.r, c.in, c.mean, c.rstd, c.w, LNN, LND);
    ck_assert_msg(lg_test_fd(ln_loss, &c, c.in, din, LNN * LND, 1, 1e-2f, 2e-3, 2e-3, "din") <= 1, "layernorm din");
    ck_assert_msg(lg_test_fd(ln_loss, &c, c.w, dw, LND, 1, 1e-2f, 2e-3, 2e-3, "dw") <= 1, "layernorm dw");
    ck_assert_msg(lg_test_fd(ln_loss, &c, c.b, db, LND, 1, 1e-2f, 2e-3, 2e-3, "db") <= 1, "layernorm db");
    /* mean 0, variance 1 before the affine part */
    float one[LND], zero[LND] = {0}, y[LND], m, s;
    for (int i = 0; i < LND; i++) one[i] = 1;
    lg_layernorm_forward(y, &m, &s, c.in, one, zero, 1, LND);
    ck_assert_msg(fabs(dot(y, one, LND) / LND) < 1e-5, "normalized row has mean 0");
    ck_assert_msg(fabs(dot(y, y, LND) / LND - 1) < 1e-4, "normalized row has variance 1 (eps 1e-6)");
}
END_TEST

/* --------------------------------------------------------------- gelu */
enum { GN = 41 };
typedef struct {
    float in[GN], out[GN], r[GN];
} gelu_ctx;

static double gelu_loss(void *p)
{
    gelu_ctx *c = p;
    lg_gelu_forward(c->out, c->in, GN);
    return dot(c->out, c->r, GN);
}

START_TEST(gelu_matches_erf_definition_and_finite_differences)
{
    gelu_ctx c;
    lg_rng r;
    lg_rng_seed(&r, 4);
    for (int i = 0; i < GN; i++) c.in[i] = -5.0f + 0.25f * (float)i;
    lg_test_fill(c.r, GN, &r, 1);
    gelu_loss(&c);
    for (int i = 0; i < GN; i++) {
        double x = c.in[i], want = 0.5 * x * (1 + erf(x / sqrt(2.0)));
        ck_assert_msg(fabs(c.out[i] - want) < 1e-6 + 1e-6 * fabs(want), "gelu(%g) = %g, want %g", x, c.out[i], want);
    }
    float din[GN];
    lg_gelu_backward(din, c.r, c.in, GN);
    ck_assert_msg(lg_test_fd(gelu_loss, &c, c.in, din, GN, 1, 1e-2f, 1e-3, 1e-3, "din") <= 1, "gelu backward");
}
END_TEST

/* ---------------------------------------------------------- attention */
enum { AB = 2, AT = 5, AD = 8, AH = 2 };
typedef struct {
    float qkv[AB * AT * 3 * AD], att[AB * AH * AT * AT], out[AB * AT * AD], r[AB * AT * AD];
} att_ctx;

static double att_loss(void *p)
{
    att_ctx *c = p;
    lg_attention_forward(c->out, c->att, c->qkv, AB, AT, AD, AH);
    return dot(c->out, c->r, AB * AT * AD);
}

START_TEST(attention_backward_matches_finite_differences)
{
    att_ctx c;
    lg_rng r;
    lg_rng_seed(&r, 5);
    lg_test_fill(c.qkv, sizeof c.qkv / 4, &r, 1);
    lg_test_fill(c.r, sizeof c.r / 4, &r, 1);
    att_loss(&c);
    float dqkv[AB * AT * 3 * AD], scratch[AT * AT];
    lg_attention_backward(dqkv, scratch, c.r, c.qkv, c.att, AB, AT, AD, AH);
    ck_assert_msg(lg_test_fd(att_loss, &c, c.qkv, dqkv, sizeof c.qkv / 4, 1, 1e-2f, 2e-3, 2e-3, "dqkv") <= 1,
                  "attention dqkv");
}
END_TEST

START_TEST(attention_fast_matches_naive)
{
    enum { B = 3, T = 17, D = 24, H = 3 };
    static float qkv[B * T * 3 * D], att[B * H * T * T], att_r[B * H * T * T], out[B * T * D], out_r[B * T * D];
    static float dout[B * T * D], dqkv[B * T * 3 * D], dqkv_r[B * T * 3 * D], scratch[T * T];
    lg_rng r;
    lg_rng_seed(&r, 6);
    lg_test_fill(qkv, B * T * 3 * D, &r, 1);
    lg_test_fill(dout, B * T * D, &r, 1);
    lg_attention_forward(out, att, qkv, B, T, D, H);
    lg_attention_forward_ref(out_r, att_r, qkv, B, T, D, H);
    ck_assert_msg(lg_test_max_relerr(att, att_r, B * H * T * T, 1e-3, NULL) < 1e-4, "attention probs differ");
    ck_assert_msg(lg_test_max_relerr(out, out_r, B * T * D, 1.0, NULL) < 1e-5, "attention output differs");
    lg_attention_backward(dqkv, scratch, dout, qkv, att, B, T, D, H);
    lg_attention_backward_ref(dqkv_r, dout, qkv, att, B, T, D, H);
    ck_assert_msg(lg_test_max_relerr(dqkv, dqkv_r, B * T * 3 * D, 1.0, NULL) < 1e-5, "attention dqkv differs");
    /* the packed-kernel version, in two query ranges as a team would split it (T = 17 spans a 32-wide panel
     * cut; head width 8 is one cut panel) */
    static float scr[4096] __attribute__((aligned(64)));
    ck_assert(lg_attention_scratch_floats(T, D / H) <= sizeof scr / sizeof *scr);
    memset(out, 0, sizeof out), memset(att, 0, sizeof att);
    lg_attention_forward_rows(out, att, qkv, B, T, D, H, 0, 5, scr);
    lg_attention_forward_rows(out, att, qkv, B, T, D, H, 5, T, scr);
    ck_assert_msg(lg_test_max_relerr(att, att_r, B * H * T * T, 1e-3, NULL) < 1e-4, "packed attention probs differ");
    ck_assert_msg(lg_test_max_relerr(out, out_r, B * T * D, 1.0, NULL) < 1e-5, "packed attention output differs");
}
END_TEST

/* -------------------------------------------------------------- losses */
enum { CB = 3, CK = 5 };
typedef struct {
    float logits[CB * CK], teacher[CB * CK];
    int labels[CB];
    float tau;
} loss_ctx;

static double ce_loss(void *p)
{
    loss_ctx *c = p;
    return lg_cross_entropy(NULL, c->logits, c->labels, CB, CK, 1);
}

static double kd_loss(void *p)
{
    loss_ctx *c = p;
    return lg_distill_kl(NULL, c->logits, c->teacher, CB, CK, c->tau, 1);
}

START_TEST(losses_match_finite_differences)
{
    loss_ctx c = {.labels = {0, 3, 4}};
    lg_rng r;
    lg_rng_seed(&r, 7);
    lg_test_fill(c.logits, CB * CK, &r, 2);
    lg_test_fill(c.teacher, CB * CK, &r, 2);
    float d[CB * CK] = {0};
    lg_cross_entropy(d, c.logits, c.labels, CB, CK, 1);
    ck_assert_msg(lg_test_fd(ce_loss, &c, c.logits, d, CB * CK, 1, 1e-2f, 1e-4, 1e-3, "dCE") <= 1, "CE gradient");
    for (int k = 0; k < 2; k++) {
        c.tau = k ? 4.0f : 1.0f;
        memset(d, 0, sizeof d);
        lg_distill_kl(d, c.logits, c.teacher, CB, CK, c.tau, 1);
        ck_assert_msg(lg_test_fd(kd_loss, &c, c.logits, d, CB * CK, 1, 1e-2f, 1e-4, 1e-3, "dKD") <= 1,
                      "KD gradient at tau %g", c.tau);
    }
    /* KL of a distribution with itself is 0; CE of uniform logits is log K */
    ck_assert_msg(fabs(lg_distill_kl(NULL, c.teacher, c.teacher, CB, CK, 2, 1)) < 1e-9, "KL(p||p) = 0");
    float flat[CB * CK] = {0};
    double ce = lg_cross_entropy(NULL, flat, c.labels, CB, CK, 1);
    ck_assert_msg(fabs(ce - CB * log(CK)) < 1e-6, "CE of uniform logits is B·log K, got %g", ce);
}
END_TEST

START_TEST(patchify_orders_rows_like_the_conv_weight)
{
    enum { C = 2, S = 4, P = 2 };
    float img[C * S * S], cols[4 * C * P * P];
    for (int i = 0; i < C * S * S; i++) img[i] = (float)i;
    lg_patchify(cols, img, 1, C, S, P);
    /* patch (gy=1, gx=0), channel 1, pixel (i=1, j=1): image index c·16 + (2+1)·4 + 0+1 */
    float got = cols[2 * C * P * P + (1 * P + 1) * P + 1];
    ck_assert_msg(got == 16 + 13, "patch (1,0) c1 (1,1) = %g, want 29", got);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *t = tcase_create("layers");
    tcase_add_test(t, linear_backward_matches_finite_differences);
    tcase_add_test(t, linear_fast_matches_naive);
    tcase_add_test(t, packed_gemm_matches_naive);
    tcase_add_test(t, layernorm_backward_matches_finite_differences);
    tcase_add_test(t, gelu_matches_erf_definition_and_finite_differences);
    tcase_add_test(t, attention_backward_matches_finite_differences);
    tcase_add_test(t, attention_fast_matches_naive);
    tcase_add_test(t, losses_match_finite_differences);
    tcase_add_test(t, patchify_orders_rows_like_the_conv_weight);
    suite_add_tcase(s, t);
    return lg_test_run(s);
}
