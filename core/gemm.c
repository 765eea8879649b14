/* gemm.c - the packed-weight matmul of gemm.h: an AVX-512 micro-kernel
 * (up to 14 rows × 32 columns of accumulators in 28 zmm registers, the input
 * broadcast straight from its rows, the weights read from their panel) and a
 * portable one for machines without AVX-512F, picked once at run time.
 *
 * Loop order: blocks of rows small enough that their inputs stay in L2
 * (row_block), then the panels, then tiles of equal height (≤ 14 rows)
 * over the whole Kin. A panel (Kin × 32 floats, 24-96 KB at ViT-Ti widths)
 * is reused by every tile of the row block. GELU, when asked for, runs over
 * each row block once its panels are done.
 */
#include <string.h>

#include "gemm.h"
#include "layers.h"

#define MR 14                     /* rows per micro-tile, at most */
#define ROW_BLOCK_BYTES (1 << 18) /* inputs of one row block: 256 KB */

void lg_gemm_pack(float *dst, const float *w, int kin, int kout) { lg_gemm_pack_ld(dst, w, (size_t)kin, kin, kout, 1); }

void lg_gemm_pack_ld(float *dst, const float *w, size_t ldw, int kin, int kout, float scale)
{
    int np = lg_gemm_panels(kout);
    for (int p = 0; p < np; p++)
        for (int k = 0; k < kin; k++) {
            float *d = dst + ((size_t)p * kin + k) * LG_GEMM_NR;
            for (int c = 0; c < LG_GEMM_NR; c++) {
                int j = p * LG_GEMM_NR + c;
                d[c] = j < kout ? scale * w[(size_t)j * ldw + k] : 0.0f;
            }
        }
}

void lg_gemm_pack_t(float *dst, const float *wt, size_t ldwt, int kin, int kout)
{
    int np = lg_gemm_panels(kout);
    for (int p = 0; p < np; p++) {
        int j = p * LG_GEMM_NR, width = kout - j < LG_GEMM_NR ? kout - j : LG_GEMM_NR;
        for (int k = 0; k < kin; k++) {
            float *d = dst + ((size_t)p * kin + k) * LG_GEMM_NR;
            memcpy(d, wt + (size_t)k * ldwt + j, (size_t)width * sizeof *d);
            memset(d + width, 0, (size_t)(LG_GEMM_NR - width) * sizeof *d);
        }
    }
}

static int row_block(int kin)
{
    int rows = ROW_BLOCK_BYTES / (int)(kin * sizeof(float)) / MR * MR;
    return rows < MR ? MR : rows;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512_KERNEL 1

#define AVX512 __attribute__((target("avx512f")))

/* rows × 32 tile: C = A·B + bias (+ R); masks cut the last panel's columns. */
AVX512 static inline __attribute__((always_inline)) void tile512(const int rows, const float *A, size_t lda,
                                                                 const float *B, int K, float *C, const float *R,
                                                                 size_t ldc, const float *bias, __mmask16 m0,
                                                                 __mmask16 m1)
{
    __m512 c0[MR], c1[MR];
    __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) c0[r] = b0, c1[r] = b1;
    for (int k = 0; k < K; k++) {
        __m512 x0 = _mm512_load_ps(B + (size_t)k * LG_GEMM_NR), x1 = _mm512_load_ps(B + (size_t)k * LG_GEMM_NR + 16);
        for (int r = 0; r < rows; r++) {
            __m512 a = _mm512_set1_ps(A[r * lda + k]);
            c0[r] = _mm512_fmadd_ps(a, x0, c0[r]);
            c1[r] = _mm512_fmadd_ps(a, x1, c1[r]);
        }
    }
    for (int r = 0; r < rows; r++) {
        if (R) {
            c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(m0, R + r * ldc));
            c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(m1, R + r * ldc + 16));
        }
        _mm512_mask_storeu_ps(C + r * ldc, m0, c0[r]);
        _mm512_mask_storeu_ps(C + r * ldc + 16, m1, c1[r]);
    }
}

/* One instance per row count, so every accumulator lives in a register. */
AVX512 static void tile512_any(int rows, const float *A, size_t lda, const float *B, int K, float *C, const float *R,
                               size_t ldc, const float *bias, int width)
{
    __mmask16 m0 = width >= 16 ? 0xffff : (__mmask16)((1u << width) - 1);
    __mmask16 m1 = width >= 32 ? 0xffff : width > 16 ? (__mmask16)((1u << (width - 16)) - 1) : 0;
    switch (rows) {
#define TILE(n)                                                                                                        \
    case n: tile512(n, A, lda, B, K, C, R, ldc, bias, m0, m1); break;
        TILE(1)
        TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12) TILE(13) TILE(14)
#undef TILE
    }
}
#endif

/* Portable kernel: one row at a time, 32 accumulators the compiler vectorizes. */
static void tile_generic(int rows, const float *A, size_t lda, const float *B, int K, float *C, const float *R,
                         size_t ldc, const float *bias, int width)
{
    for (int r = 0; r < rows; r++) {
        float acc[LG_GEMM_NR];
        for (int c = 0; c < LG_GEMM_NR; c++) acc[c] = bias && c < width ? bias[c] : 0.0f;
        const float *a = A + r * lda;
        for (int k = 0; k < K; k++)
            for (int c = 0; c < LG_GEMM_NR; c++) acc[c] += a[k] * B[(size_t)k * LG_GEMM_NR + c];
        for (int c = 0; c < width; c++) C[r * ldc + c] = acc[c] + (R ? R[r * ldc + c] : 0.0f);
    }
}

static int force_generic;

void lg_gemm_force_generic(int on) { force_generic = on; }

static int use_avx512(void)
{
#ifdef HAVE_AVX512_KERNEL
    return __builtin_cpu_supports("avx512f") && !force_generic; /* reads libgcc's cached cpuid */
#else
    return 0;
#endif
}

const char *lg_gemm_kernel(void) { return use_avx512() ? "avx512" : "generic"; }

void lg_gemm_run(float *out, const float *res, const float *in, const float *packed, const float *bias, int N, int Kin,
                 int Kout, int p0, int p1, int gelu)
{
    lg_gemm_run_ld(out, (size_t)Kout, res, in, (size_t)Kin, packed, bias, N, Kin, Kout, p0, p1, gelu);
}

void lg_gemm_run_ld(float *out, size_t ldo, const float *res, const float *in, size_t ldi, const float *packed,
                    const float *bias, int N, int Kin, int Kout, int p0, int p1, int gelu)
{
    int fast = use_avx512(), rb = row_block(Kin);
    for (int n0 = 0; n0 < N; n0 += rb) {
        int n1 = n0 + rb < N ? n0 + rb : N, tiles = (n1 - n0 + MR - 1) / MR;
        int height = (n1 - n0 + tiles - 1) / tiles; /* 50 rows: 13, 13, 12, 12 rather than 14, 14, 14, 8 */
        for (int p = p0; p < p1; p++) {
            int j = p * LG_GEMM_NR, width = Kout - j < LG_GEMM_NR ? Kout - j : LG_GEMM_NR;
            const float *B = packed + (size_t)p * Kin * LG_GEMM_NR, *b = bias ? bias + j : NULL;
            for (int n = n0; n < n1; n += height) {
                int rows = n1 - n < height ? n1 - n : height;
                const float *A = in + (size_t)n * ldi, *R = res ? res + (size_t)n * ldo + j : NULL;
                float *C = out + (size_t)n * ldo + j;
#ifdef HAVE_AVX512_KERNEL
                if (fast)
                    tile512_any(rows, A, ldi, B, Kin, C, R, ldo, b, width);
                else
#endif
                    tile_generic(rows, A, ldi, B, Kin, C, R, ldo, b, width);
            }
        }
        /* GELU over the block's rows, on this caller's columns only */
        int c0 = p0 * LG_GEMM_NR, c1 = p1 * LG_GEMM_NR < Kout ? p1 * LG_GEMM_NR : Kout;
        for (int n = n0; gelu && c1 > c0 && n < n1; n++) {
            float *row = out + (size_t)n * ldo + c0;
            lg_gelu_forward(row, row, (size_t)(c1 - c0));
        }
    }
    (void)fast;
}
