/* layers_ref.c - naive, obviously-correct versions of the BLAS-backed layer
 * kernels (plain loops, double accumulators). Tests compare the fast kernels
 * in layers.c against these. */
#include <math.h>
#include <string.h>

#include "layers.h"

void lg_linear_forward_ref(float *out, const float *in, const float *w, const float *b, int N, int Kin, int Kout)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Kout; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < Kin; i++) s += (double)in[(size_t)n * Kin + i] * w[(size_t)o * Kin + i];
            out[(size_t)n * Kout + o] = (float)s;
        }
}

void lg_linear_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                            int Kin, int Kout)
{
    if (din)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < Kin; i++) {
                double s = 0.0;
                for (int o = 0; o < Kout; o++) s += (double)dout[(size_t)n * Kout + o] * w[(size_t)o * Kin + i];
                din[(size_t)n * Kin + i] = (float)s;
            }
    for (int o = 0; o < Kout; o++) {
        for (int i = 0; i < Kin; i++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += (double)dout[(size_t)n * Kout + o] * in[(size_t)n * Kin + i];
            dw[(size_t)o * Kin + i] += (float)s;
        }
        if (db) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += dout[(size_t)n * Kout + o];
            db[o] += (float)s;
        }
    }
}

void lg_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int D, int H)
{
    int hd = D / H;
    double scale = 1.0 / sqrt((double)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            float *a = att + ((size_t)b * H + h) * T * T;
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * 3 * D + h * hd;
                double mx = -INFINITY, sum = 0.0;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * 3 * D + D + h * hd;
                    double s = 0.0;
                    for (int d = 0; d < hd; d++) s += (double)q[d] * k[d];
                    a[(size_t)i * T + j] = (float)(s * scale);
                    mx = fmax(mx, s * scale);
                }
                for (int j = 0; j < T; j++) sum += exp(a[(size_t)i * T + j] - mx);
                for (int j = 0; j < T; j++) a[(size_t)i * T + j] = (float)(exp(a[(size_t)i * T + j] - mx) / sum);
                for (int d = 0; d < hd; d++) {
                    double s = 0.0;
                    for (int j = 0; j < T; j++)
                        s += (double)a[(size_t)i * T + j] * qkv[((size_t)b * T + j) * 3 * D + 2 * D + h * hd + d];
                    out[((size_t)b * T + i) * D + h * hd + d] = (float)s;
                }
            }
        }
}

void lg_attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T, int D,
                               int H)
{
    int hd = D / H;
    double scale = 1.0 / sqrt((double)hd);
    memset(dqkv, 0, (size_t)B * T * 3 * D * sizeof *dqkv);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *a = att + ((size_t)b * H + h) * T * T;
#define Q(t, d) qkv[((size_t)b * T + (t)) * 3 * D + h * hd + (d)]
#define K(t, d) qkv[((size_t)b * T + (t)) * 3 * D + D + h * hd + (d)]
#define V(t, d) qkv[((size_t)b * T + (t)) * 3 * D + 2 * D + h * hd + (d)]
#define DQ(t, d) dqkv[((size_t)b * T + (t)) * 3 * D + h * hd + (d)]
#define DK(t, d) dqkv[((size_t)b * T + (t)) * 3 * D + D + h * hd + (d)]
#define DV(t, d) dqkv[((size_t)b * T + (t)) * 3 * D + 2 * D + h * hd + (d)]
#define DO(t, d) dout[((size_t)b * T + (t)) * D + h * hd + (d)]
            for (int i = 0; i < T; i++) {
                /* dA[i,j] = Σ_d dO[i,d]·V[j,d]; dS = A ⊙ (dA - Σ_j A·dA) */
                double dot = 0.0;
                double da[LG_REF_MAX_T];
                for (int j = 0; j < T; j++) {
                    double s = 0.0;
                    for (int d = 0; d < hd; d++) s += (double)DO(i, d) * V(j, d);
                    da[j] = s;
                    dot += s * a[(size_t)i * T + j];
                }
                for (int j = 0; j < T; j++) {
                    double aij = a[(size_t)i * T + j];
                    double ds = aij * (da[j] - dot) * scale;
                    for (int d = 0; d < hd; d++) {
                        DQ(i, d) += (float)(ds * K(j, d));
                        DK(j, d) += (float)(ds * Q(i, d));
                        DV(j, d) += (float)(aij * DO(i, d));
                    }
                }
            }
#undef Q
#undef K
#undef V
#undef DQ
#undef DK
#undef DV
#undef DO
        }
}
