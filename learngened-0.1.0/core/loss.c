/* loss.c - cross-entropy and soft distillation (KL with temperature), each
 * returning the summed loss and adding its scaled gradient to dlogits. */
#include <math.h>

#include "learngene.h"

/* Log-sum-exp of one row of K logits scaled by inv_tau. */
static double logsumexp(const float *z, int K, double inv_tau)
{
    double mx = z[0] * inv_tau;
    for (int k = 1; k < K; k++) mx = fmax(mx, z[k] * inv_tau);
    double s = 0.0;
    for (int k = 0; k < K; k++) s += exp(z[k] * inv_tau - mx);
    return mx + log(s);
}

double lg_cross_entropy(float *dlogits, const float *logits, const int *labels, int B, int K, float scale)
{
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        double lse = logsumexp(z, K, 1.0);
        total += lse - z[labels[b]];
        if (!dlogits) continue;
        float *d = dlogits + (size_t)b * K;
        for (int k = 0; k < K; k++) d[k] += scale * (float)(exp(z[k] - lse) - (k == labels[b]));
    }
    return total;
}

double lg_distill_kl(float *dlogits, const float *student, const float *teacher, int B, int K, float tau, float scale)
{
    double total = 0.0, inv_tau = 1.0 / tau;
    for (int b = 0; b < B; b++) {
        const float *s = student + (size_t)b * K, *t = teacher + (size_t)b * K;
        float *d = dlogits ? dlogits + (size_t)b * K : NULL;
        double lses = logsumexp(s, K, inv_tau), lset = logsumexp(t, K, inv_tau);
        for (int k = 0; k < K; k++) {
            double lps = s[k] * inv_tau - lses, lpt = t[k] * inv_tau - lset, pt = exp(lpt);
            total += (double)tau * tau * pt * (lpt - lps);
            /* ∂/∂s_k of τ²·KL = τ·(p_s - p_t) */
            if (d) d[k] += scale * (float)(tau * (exp(lps) - pt));
        }
    }
    return total;
}
