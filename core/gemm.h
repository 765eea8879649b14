/* gemm.h - matmuls against weights packed once: the inference path's linear
 * layers (an inference context packs every weight matrix when the model
 * changes, so a call does no packing of its own, unlike cblas_sgemm, which
 * repacks the weights on every call and at batch 1 spends ~30% of its time
 * doing so).
 *
 * Layout: a weight w (Kout, Kin) row-major becomes panels of LG_GEMM_NR
 * output columns; panel p holds, for each k, the NR values w[p·NR + c][k]
 * (c = 0…NR-1) next to each other, zero-padded past Kout. A caller splits
 * the work between threads by panels (lg_gemm_run's p0…p1).
 */
#ifndef LG_GEMM_H
#define LG_GEMM_H

#include <stddef.h>

#define LG_GEMM_NR 32

/* Panels of a weight with kout output columns. */
static inline int lg_gemm_panels(int kout) { return (kout + LG_GEMM_NR - 1) / LG_GEMM_NR; }

/* Floats of w (kout, kin) once packed (a multiple of 16: panels stay 64-byte aligned). */
static inline size_t lg_gemm_packed_floats(int kin, int kout)
{
    return (size_t)lg_gemm_panels(kout) * (size_t)kin * LG_GEMM_NR;
}

void lg_gemm_pack(float *dst, const float *w, int kin, int kout);
/* The same from rows ldw floats apart, every value multiplied by scale. */
void lg_gemm_pack_ld(float *dst, const float *w, size_t ldw, int kin, int kout, float scale);
/* The same from wᵀ (kin, kout), rows ldwt floats apart: for A·V, where the
 * "weight" is V itself. */
void lg_gemm_pack_t(float *dst, const float *wt, size_t ldwt, int kin, int kout);

/* For the output columns of panels [p0, p1):
 *   out (N, Kout) = in (N, Kin) · wᵀ + bias (+ res when non-NULL),
 * then GELU in place when gelu. bias may be NULL; res may equal out.
 * packed must be 64-byte aligned. */
void lg_gemm_run(float *out, const float *res, const float *in, const float *packed, const float *bias, int N, int Kin,
                 int Kout, int p0, int p1, int gelu);
/* The same on rows ldi floats apart in `in` and ldo apart in out (and res). */
void lg_gemm_run_ld(float *out, size_t ldo, const float *res, const float *in, size_t ldi, const float *packed,
                    const float *bias, int N, int Kin, int Kout, int p0, int p1, int gelu);

/* Which kernel lg_gemm_run uses: "avx512" (AVX-512F machines) or "generic".
 * lg_gemm_force_generic(1) selects the generic one (tests compare both). */
const char *lg_gemm_kernel(void);
void lg_gemm_force_generic(int on);

#endif
