/* layers.h - the ViT's layers as forward/backward function pairs on raw
 * float arrays (llm.c style). Shapes in comments; N = rows (batch × tokens).
 *
 * Gradient conventions: parameter gradients (dw, db) are ACCUMULATED (+=),
 * so tied weights and data-parallel shards fall out of the same code. Input
 * gradients are OVERWRITTEN (=) except where noted, because every input
 * gradient buffer in the ViT is fresh; lg_layernorm_backward's din
 * accumulates because it feeds the residual stream.
 */
#ifndef LG_LAYERS_H
#define LG_LAYERS_H

#include <stddef.h>

#define LG_LN_EPS 1e-6f

/* out (N,Kout) = in (N,Kin) · wᵀ (Kout,Kin) + b (Kout); b may be NULL. */
void lg_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int Kin, int Kout);
/* din (N,Kin) = dout·w (skipped when din NULL); dw (Kout,Kin) += doutᵀ·in; db (Kout) += Σ dout. */
void lg_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                        int Kin, int Kout);

/* out (N,D) = (in - mean)·rstd·w + b; mean, rstd (N) saved for backward. */
void lg_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b, int N,
                          int D);
/* din (N,D) += ∂/∂in; dw, db (D) +=. */
void lg_layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *mean,
                           const float *rstd, const float *w, int N, int D);

/* Exact GELU x·Φ(x). out may equal in. */
void lg_gelu_forward(float *out, const float *in, size_t n);
/* din = dout·GELU'(in); din may equal dout. */
void lg_gelu_backward(float *din, const float *dout, const float *in, size_t n);

/* Multi-head self-attention core (no projections):
 * qkv (B,T,3D) rows [q | k | v], head h = columns h·hd…(h+1)·hd of each;
 * att (B,H,T,T) softmax(q·kᵀ/√hd) saved for backward; out (B,T,D). */
void lg_attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int H);
/* The same for the queries q0…q1-1 of every image and head only (their rows
 * of att and out), so threads can split one image's attention. With scratch
 * NULL the matmuls go through cblas_sgemm; otherwise through gemm.c, each
 * head's keys and values packed into scratch first
 * (lg_attention_scratch_floats(T, D/H) floats, 64-byte aligned). */
void lg_attention_forward_rows(float *out, float *att, const float *qkv, int B, int T, int D, int H, int q0, int q1,
                               float *scratch);
size_t lg_attention_scratch_floats(int T, int hd);
/* dqkv (B,T,3D) = ∂/∂qkv; scratch holds T·T floats. */
void lg_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B,
                           int T, int D, int H);

/* Patches of images (B,C,S,S) as rows: cols (B·(S/p)², C·p·p), each row in
 * the (c, i, j) order of the conv weight (D, C, p, p). */
void lg_patchify(float *cols, const float *images, int B, int C, int S, int p);

/* Naive references (plain loops) for the BLAS-backed kernels, for tests. */
void lg_linear_forward_ref(float *out, const float *in, const float *w, const float *b, int N, int Kin, int Kout);
void lg_linear_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                            int Kin, int Kout);
void lg_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int D, int H);
/* Tokens at most LG_REF_MAX_T (the reference keeps one row on the stack). */
#define LG_REF_MAX_T 512
void lg_attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T, int D,
                               int H);

#endif
