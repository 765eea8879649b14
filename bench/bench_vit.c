/* bench_vit.c - liblearngene's ViT speed on one shape: inference and a full
 * training step (forward, cross-entropy, backward, AdamW), images/s and
 * GFLOP/s, next to OpenBLAS sgemm at the model's own matmul shapes (the
 * roofline). FLOPs are counted as vit_ref.py counts them (2·M·N·K per matmul,
 * matmuls only; training = 3·forward - the patch conv's input gradient) so
 * the two programs' numbers compare directly. Also measures the machine's
 * float32 FMA peak on the same thread count (a loop of independent FMAs, no
 * memory traffic): no matmul, ours or OpenBLAS's, can beat it. Prints a JSON
 * line at the end.
 *
 * usage: bench_vit --preset fmnist-ti|deit-ti|deit-s [--depth L] [--pool P]
 *                  --batch B --threads N [--warmup W] [--iters I] [--mode both|infer|train]
 */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learngene.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Matmul FLOPs per image in vit_ref.py's convention. */
static double matmul_flops(const lg_config *c, double *patch)
{
    double D = c->dim, M = c->mlp, T = lg_config_tokens(c), Np = lg_config_patches(c);
    *patch = 2 * Np * D * c->in_chans * c->patch * c->patch;
    double blk = 2 * T * D * 3 * D + 4 * T * T * D + 2 * T * D * D + 4 * T * D * M;
    return *patch + c->depth * blk + 2 * D * c->classes;
}

/* The matmul FLOPs liblearngene's inference really runs per image: with a
 * token pool the last block's attention, projection and MLP run for the
 * class token only (vit.c, block_forward_cls), so T-1 rows of them are not
 * executed. Inference GFLOP/s below use this count. */
static double executed_infer_flops(const lg_config *c, double fwd)
{
    if (c->pool != LG_POOL_TOKEN) return fwd;
    double D = c->dim, M = c->mlp, T = lg_config_tokens(c);
    return fwd - (T - 1) * (4 * T * D + 2 * D * D + 4 * D * M);
}

/* OpenBLAS sgemm GFLOP/s over the model's four block matmuls at N = B·T rows
 * (forward layout X·Wᵀ), weighted by their FLOPs. */
static double sgemm_roofline(const lg_config *c, int B, int threads)
{
    int N = B * lg_config_tokens(c), D = c->dim, M = c->mlp;
    int shapes[4][2] = {{3 * D, D}, {D, D}, {M, D}, {D, M}}; /* (out, in) */
    float *x = calloc((size_t)N * (M > 3 * D ? M : 3 * D), sizeof *x);
    float *w = calloc((size_t)M * (M > 3 * D ? M : 3 * D), sizeof *w);
    float *y = calloc((size_t)N * (M > 3 * D ? M : 3 * D), sizeof *y);
    openblas_set_num_threads(threads);
    double flops = 0, secs = 0;
    for (int s = 0; s < 4; s++) {
        int out = shapes[s][0], in = shapes[s][1];
        double t[7];
        for (int r = 0; r < 7; r++) {
            double t0 = now_s();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
            t[r] = now_s() - t0;
        }
        flops += 2.0 * N * out * in;
        secs += median(t + 2, 5);
    }
    free(x), free(w), free(y);
    return flops / secs / 1e9;
}

/* One thread's float32 FMA rate: 12 independent 8-wide FMA chains (enough
 * to cover the FMA latency on every x86-64 core with two FMA pipes). */
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static void *fma_loop(void *arg)
{
    double *gflops = arg;
    __m256 acc[12], mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-6f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    const long rounds = 50000000;
    double t0 = now_s();
    for (long n = 0; n < rounds; n++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
    }
    double secs = now_s() - t0;
    float sink[8];
    for (int i = 1; i < 12; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]);
    _mm256_storeu_ps(sink, acc[0]);
    *gflops = rounds * 12.0 * 16.0 / secs / 1e9 + (sink[0] == 12345.0f);
    return NULL;
}

/* The same for bf16 pairs into float32 (AVX512_BF16 vdpbf16ps): 32
 * multiply-adds per instruction. Printed for comparison only: liblearngene
 * computes in float32. */
__attribute__((target("avx512f,avx512bf16"))) static void *bf16_loop(void *arg)
{
    double *gflops = arg;
    __m512 acc[12];
    __m512bh one = (__m512bh)_mm512_set1_epi16(0x3f80);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    const long rounds = 25000000;
    double t0 = now_s();
    for (long n = 0; n < rounds; n++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbf16_ps(acc[i], one, one);
    }
    double secs = now_s() - t0;
    for (int i = 1; i < 12; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    *gflops = rounds * 12.0 * 64.0 / secs / 1e9 + (_mm512_reduce_add_ps(acc[0]) == 12345.0f);
    return NULL;
}
#endif

/* The peak of `threads` threads running loop at once, GFLOP/s. */
static double peak_of(void *(*loop)(void *), int threads)
{
    pthread_t th[64];
    double g[64], sum = 0;
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&th[i], NULL, loop, &g[i]);
    for (int i = 0; i < threads && i < 64; i++) pthread_join(th[i], NULL), sum += g[i];
    return sum;
}

/* The float32 FMA peak of `threads` threads at once, GFLOP/s (0: unknown). */
static double fma_peak(int threads)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("fma") ? peak_of(fma_loop, threads) : 0;
#else
    (void)threads;
    return 0;
#endif
}

/* The bf16 dot-product peak, GFLOP/s (0: no AVX512_BF16). */
static double bf16_peak(int threads)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512bf16") ? peak_of(bf16_loop, threads) : 0;
#else
    (void)threads;
    return 0;
#endif
}

int main(int argc, char **argv)
{
    const char *preset = "fmnist-ti", *mode = "both", *pool = NULL;
    int depth = 0, B = 64, threads = 2, warmup = 3, iters = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--preset"))
            preset = argv[i + 1];
        else if (!strcmp(argv[i], "--depth"))
            depth = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pool"))
            pool = argv[i + 1];
        else if (!strcmp(argv[i], "--batch"))
            B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup"))
            warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
        else {
            fprintf(stderr, "bench_vit: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    lg_config c;
    if (!strcmp(preset, "fmnist-ti"))
        c = (lg_config){
            .img = 28, .in_chans = 1, .patch = 4, .dim = 192, .depth = 12, .heads = 3, .mlp = 768, .classes = 10};
    else if (!strcmp(preset, "deit-ti"))
        c = (lg_config){
            .img = 224, .in_chans = 3, .patch = 16, .dim = 192, .depth = 12, .heads = 3, .mlp = 768, .classes = 1000};
    else if (!strcmp(preset, "deit-s"))
        c = (lg_config){
            .img = 224, .in_chans = 3, .patch = 16, .dim = 384, .depth = 12, .heads = 6, .mlp = 1536, .classes = 1000};
    else {
        fprintf(stderr, "bench_vit: unknown preset %s\n", preset);
        return 2;
    }
    if (depth) c.depth = depth;
    if (pool) c.pool = !strcmp(pool, "avg") ? LG_POOL_AVG : LG_POOL_TOKEN;
    if (iters < 1 || iters > 1000 || warmup < 0 || B < 1 || threads < 1) {
        fprintf(stderr, "bench_vit: bad --iters/--warmup/--batch/--threads\n");
        return 2;
    }
    char err[256];
    lg_model *m;
    if (lg_model_new(&m, &c, err, sizeof err) != LG_OK) {
        fprintf(stderr, "bench_vit: %s\n", err);
        return 1;
    }
    lg_model_init(m, 0);
    size_t img = (size_t)c.in_chans * c.img * c.img;
    float *x = malloc((size_t)B * img * sizeof *x), *logits = malloc((size_t)B * c.classes * sizeof *logits);
    int *y = malloc((size_t)B * sizeof *y);
    lg_rng r;
    lg_rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)B * img; i++) x[i] = lg_rng_normal(&r);
    for (int b = 0; b < B; b++) y[b] = (int)lg_rng_below(&r, (uint32_t)c.classes);
    double patch, fwd = matmul_flops(&c, &patch), train = 3 * fwd - patch, fwd_run = executed_infer_flops(&c, fwd);
    printf("# openblas core %s, config: %s\n", openblas_get_corename(), openblas_get_config());
    printf("# model %s depth %d dim %d tokens %d batch %d threads %d params %zu; forward %.4f GFLOP/image "
           "(2·MNK matmuls; %.4f run by liblearngene's inference), train %.4f\n",
           preset, c.depth, c.dim, lg_config_tokens(&c), B, threads, lg_config_params(&c), fwd / 1e9, fwd_run / 1e9,
           train / 1e9);
    double *t = malloc((size_t)iters * sizeof *t), infer_med = 0, train_med = 0;
    if (strcmp(mode, "train")) {
        lg_ctx *ctx;
        if (lg_ctx_new(&ctx, m, B, threads, 0, err, sizeof err) != LG_OK) {
            fprintf(stderr, "bench_vit: %s\n", err);
            return 1;
        }
        for (int i = 0; i < warmup + iters; i++) {
            double t0 = now_s();
            lg_forward(ctx, logits, x, B);
            if (i >= warmup) t[i - warmup] = now_s() - t0;
        }
        infer_med = median(t, iters);
        printf("infer  batch=%d threads=%d: s/iter med %.4f min %.4f | img/s med %.1f | GFLOP/s med %.1f\n", B, threads,
               infer_med, t[0], B / infer_med, fwd_run * B / infer_med / 1e9);
        lg_ctx_free(ctx);
    }
    if (strcmp(mode, "infer")) {
        lg_ctx *ctx;
        if (lg_ctx_new(&ctx, m, B, threads, 1, err, sizeof err) != LG_OK) {
            fprintf(stderr, "bench_vit: %s\n", err);
            return 1;
        }
        lg_adamw_config o;
        lg_adamw_defaults(&o);
        o.lr = 1e-3f, o.total_steps = 1000;
        for (int i = 0; i < warmup + iters; i++) {
            double t0 = now_s();
            float loss;
            lg_model_zero_grad(m);
            lg_forward_backward(ctx, &loss, NULL, x, y, B, NULL);
            lg_adamw_step(m, &o, i, NULL);
            if (i >= warmup) t[i - warmup] = now_s() - t0;
        }
        train_med = median(t, iters);
        printf("train  batch=%d threads=%d: s/iter med %.4f min %.4f | img/s med %.1f | GFLOP/s med %.1f\n", B, threads,
               train_med, t[0], B / train_med, train * B / train_med / 1e9);
        lg_ctx_free(ctx);
    }
    double roof = sgemm_roofline(&c, B, threads);
    printf("sgemm  at the model's block shapes (N=%d rows, %d threads): %.1f GFLOP/s\n", B * lg_config_tokens(&c),
           threads, roof);
    double peak = fma_peak(threads);
    printf("peak   float32 FMA, %d threads at once: %.1f GFLOP/s (bf16 vdpbf16ps, for comparison: %.1f)\n", threads,
           peak, bf16_peak(threads));
    printf("JSON {\"preset\":\"%s\",\"depth\":%d,\"batch\":%d,\"threads\":%d,\"core\":\"%s\",\"infer_s\":%.6f,"
           "\"train_s\":%.6f,\"fwd_flops\":%.0f,\"fwd_flops_run\":%.0f,\"train_flops\":%.0f,\"sgemm_gflops\":%.2f,"
           "\"fma_peak_gflops\":%.2f}\n",
           preset, c.depth, B, threads, openblas_get_corename(), infer_med, train_med, fwd, fwd_run, train, roof, peak);
    free(t), free(x), free(y), free(logits);
    lg_model_free(m);
    return 0;
}
