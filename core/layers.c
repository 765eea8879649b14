/* layers.c - the fast ViT layer kernels: matmuls through cblas_sgemm, the
 * elementwise layers as flat loops the compiler vectorizes. Naive versions
 * of the BLAS-backed ones live in layers_ref.c. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gemm.h"
#include "layers.h"

/* Built for AVX-512, AVX2+FMA and the baseline, picked at load time. */
#define LG_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

void lg_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int Kin, int Kout)
{
    float beta = 0.0f;
    if (b) {
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * Kout, b, (size_t)Kout * sizeof *b);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Kout, Kin, 1.0f, in, Kin, w, Kin, beta, out, Kout);
}

void lg_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                        int Kin, int Kout)
{
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Kin, Kout, 1.0f, dout, Kout, w, Kin, 0.0f, din, Kin);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kout, Kin, N, 1.0f, dout, Kout, in, Kin, 1.0f, dw, Kin);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * Kout;
            for (int o = 0; o < Kout; o++) db[o] += d[o];
        }
}

/* Σ (x[i] - m)^p for p = 1 or 2 in 16 running sums, so the loop vectorizes
 * without the compiler reassociating anything. */
static inline float sum_pow(const float *x, int D, float m, int p)
{
    float acc[16] = {0}, s = 0.0f;
    int i = 0;
    for (; i + 16 <= D; i += 16)
        for (int j = 0; j < 16; j++) {
            float d = x[i + j] - m;
            acc[j] += p == 1 ? d : d * d;
        }
    for (; i < D; i++) s += p == 1 ? x[i] - m : (x[i] - m) * (x[i] - m);
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

LG_SIMD_CLONES void lg_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w,
                                         const float *b, int N, int D)
{
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * D;
        float *y = out + (size_t)n * D;
        float m = sum_pow(x, D, 0.0f, 1) / (float)D;
        float r = 1.0f / sqrtf(sum_pow(x, D, m, 2) / (float)D + LG_LN_EPS);
        for (int i = 0; i < D; i++) y[i] = (x[i] - m) * r * w[i] + b[i];
        mean[n] = m;
        rstd[n] = r;
    }
}

void lg_layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *mean,
                           const float *rstd, const float *w, int N, int D)
{
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * D, *dy = dout + (size_t)n * D;
        float *dx = din + (size_t)n * D;
        float m = mean[n], r = rstd[n];
        /* dxhat = dy·w; dx = r·(dxhat - mean(dxhat) - xhat·mean(dxhat·xhat)) */
        float sum_g = 0.0f, sum_gx = 0.0f;
        for (int i = 0; i < D; i++) {
            float xhat = (x[i] - m) * r;
            float g = dy[i] * w[i];
            sum_g += g;
            sum_gx += g * xhat;
            dw[i] += dy[i] * xhat;
            db[i] += dy[i];
        }
        sum_g /= (float)D;
        sum_gx /= (float)D;
        for (int i = 0; i < D; i++) {
            float xhat = (x[i] - m) * r;
            dx[i] += r * (dy[i] * w[i] - sum_g - xhat * sum_gx);
        }
    }
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

/* exp(x) for x ≤ 0 (relative error < 2e-7), branch-free so that loops over
 * it vectorize: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial,
 * 2^n by building the float's exponent bits. Underflows to 0 below -87. */
static inline float exp_neg(float x)
{
    x = x < -87.0f ? -87.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f +
                                                  r * (4.16666418e-2f + r * (8.33360944e-3f + r * 1.38867637e-3f)))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Φ(x) = (1 + erf(x/√2))/2 by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7
 * in erf), written without branches so GELU loops vectorize. gauss is
 * exp(-x²/2), which the backward pass needs for φ(x) as well. */
static inline float normal_cdf(float x, float gauss)
{
    float z = x * INV_SQRT2;
    float t = 1.0f / (1.0f + 0.3275911f * __builtin_fabsf(z));
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float erf = __builtin_copysignf(1.0f - poly * gauss, z);
    return 0.5f * (1.0f + erf);
}

LG_SIMD_CLONES void lg_gelu_forward(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = x * normal_cdf(x, exp_neg(-0.5f * x * x));
    }
}

LG_SIMD_CLONES void lg_gelu_backward(float *din, const float *dout, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float gauss = exp_neg(-0.5f * x * x);
        din[i] = dout[i] * (normal_cdf(x, gauss) + x * INV_SQRT_2PI * gauss);
    }
}

/* max of x[0…n-1] (n ≥ 1) in 16 running maxima, so the loop vectorizes. */
static inline float row_max(const float *x, int n)
{
    float acc[16], m = x[0];
    for (int j = 0; j < 16; j++) acc[j] = x[0];
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int j = 0; j < 16; j++) m = acc[j] > m ? acc[j] : m;
    return m;
}

/* Row-wise softmax of a (rows,T) block in place. */
LG_SIMD_CLONES static void softmax_rows(float *a, int rows, int T)
{
    for (int i = 0; i < rows; i++) {
        float *row = a + (size_t)i * T;
        float mx = row_max(row, T);
        for (int j = 0; j < T; j++) row[j] = exp_neg(row[j] - mx);
        float inv = 1.0f / sum_pow(row, T, 0.0f, 1);
        for (int j = 0; j < T; j++) row[j] *= inv;
    }
}

void lg_attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int H)
{
    lg_attention_forward_rows(out, att, qkv, B, T, D, H, 0, T, NULL);
}

size_t lg_attention_scratch_floats(int T, int hd)
{
    return lg_gemm_packed_floats(hd, T) + lg_gemm_packed_floats(T, hd);
}

void lg_attention_forward_rows(float *out, float *att, const float *qkv, int B, int T, int D, int H, int q0, int q1,
                               float *scratch)
{
    int hd = D / H, D3 = 3 * D, rows = q1 - q0;
    float scale = 1.0f / sqrtf((float)hd);
    float *pk = scratch, *pv = scratch ? scratch + lg_gemm_packed_floats(hd, T) : NULL;
    if (rows <= 0) return;
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)b * T * D3 + (size_t)h * hd, *qr = q + (size_t)q0 * D3;
            const float *k = q + D, *v = q + 2 * D;
            float *a = att + ((size_t)b * H + h) * T * T + (size_t)q0 * T;
            float *o = out + ((size_t)b * T + q0) * D + (size_t)h * hd;
            if (!scratch) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, T, hd, scale, qr, D3, k, D3, 0.0f, a, T);
                softmax_rows(a, rows, T);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, T, 1.0f, a, T, v, D3, 0.0f, o, D);
                continue;
            }
            lg_gemm_pack_ld(pk, k, (size_t)D3, hd, T, scale); /* "weights" K·scale (T, hd) */
            lg_gemm_pack_t(pv, v, (size_t)D3, T, hd);         /* "weights" Vᵀ (hd, T) */
            lg_gemm_run_ld(a, (size_t)T, NULL, qr, (size_t)D3, pk, NULL, rows, hd, T, 0, lg_gemm_panels(T), 0);
            softmax_rows(a, rows, T);
            lg_gemm_run_ld(o, (size_t)D, NULL, a, (size_t)T, pv, NULL, rows, T, hd, 0, lg_gemm_panels(hd), 0);
        }
    }
}

void lg_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B,
                           int T, int D, int H)
{
    int hd = D / H, D3 = 3 * D;
    float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            size_t qoff = (size_t)b * T * D3 + (size_t)h * hd;
            const float *q = qkv + qoff, *k = q + D, *v = q + 2 * D;
            float *dq = dqkv + qoff, *dk = dq + D, *dv = dq + 2 * D;
            const float *a = att + ((size_t)b * H + h) * T * T;
            const float *dO = dout + (size_t)b * T * D + (size_t)h * hd;
            float *da = scratch;
            /* dA = dO·vᵀ ; dv = Aᵀ·dO */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dO, D, v, D3, 0.0f, da, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, a, T, dO, D, 0.0f, dv, D3);
            /* softmax backward: dS = A ⊙ (dA - Σ_j dA·A) */
            for (int i = 0; i < T; i++) {
                const float *ar = a + (size_t)i * T;
                float *dr = da + (size_t)i * T;
                float dot = 0.0f;
                for (int j = 0; j < T; j++) dot += dr[j] * ar[j];
                for (int j = 0; j < T; j++) dr[j] = ar[j] * (dr[j] - dot);
            }
            /* S = scale·q·kᵀ: dq = scale·dS·k ; dk = scale·dSᵀ·q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, da, T, k, D3, 0.0f, dq, D3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, da, T, q, D3, 0.0f, dk, D3);
        }
    }
}

void lg_patchify(float *cols, const float *images, int B, int C, int S, int p)
{
    int g = S / p, K = C * p * p;
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++) {
                float *row = cols + (((size_t)b * g + gy) * g + gx) * K;
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < p; i++) {
                        const float *src = images + (((size_t)b * C + c) * S + (size_t)gy * p + i) * S + (size_t)gx * p;
                        memcpy(row + (c * p + i) * p, src, (size_t)p * sizeof *src);
                    }
            }
}
