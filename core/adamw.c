/* adamw.c - AdamW with decoupled weight decay (only on tensors marked decay:
 * matrix weights, not biases, norms, pos_embed or cls_token), global-norm
 * clipping, and the linear warm-up + cosine learning-rate schedule. */
#include <math.h>

#include "internal.h"

void lg_adamw_defaults(lg_adamw_config *o)
{
    o->lr = 5e-4f;
    o->min_lr = 1e-5f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = 0.05f;
    o->warmup_steps = 0;
    o->total_steps = 1;
    o->clip_norm = 0.0f;
}

float lg_lr_at(const lg_adamw_config *o, long step)
{
    if (step < o->warmup_steps) return o->lr * (float)(step + 1) / (float)o->warmup_steps;
    long span = o->total_steps - o->warmup_steps;
    if (span <= 0) return o->lr;
    double t = (double)(step - o->warmup_steps) / (double)span;
    if (t > 1.0) t = 1.0;
    return o->min_lr + (o->lr - o->min_lr) * (float)(0.5 * (1.0 + cos(M_PI * t)));
}

void lg_adamw_update(float *p, const float *g, float *mm, float *vv, size_t n, float lr, float wd, float gscale, long t,
                     const lg_adamw_config *o)
{
    float b1 = o->beta1, b2 = o->beta2;
    float c1 = 1.0f - powf(b1, (float)(t + 1)), c2 = 1.0f - powf(b2, (float)(t + 1));
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
        vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
        float mhat = mm[i] / c1, vhat = vv[i] / c2;
        p[i] -= lr * (mhat / (sqrtf(vhat) + o->eps) + wd * p[i]);
    }
}

void lg_adamw_model(lg_model *m, const lg_adamw_config *o, float lr, float gscale, long t)
{
    lg_model_touch(m);
    for (int i = 0; i < m->ntensors; i++) {
        const lg_tensor_info *ti = &m->tensors[i];
        size_t off = ti->offset;
        lg_adamw_update(m->params + off, m->grads + off, m->adam_m + off, m->adam_v + off, ti->numel, lr,
                        ti->decay ? o->weight_decay : 0.0f, gscale, t, o);
    }
}

lg_status lg_adamw_step(lg_model *m, const lg_adamw_config *o, long step, float *lr_out)
{
    if (!m->grads) return LG_ERR_INVALID;
    float lr = lg_lr_at(o, step);
    if (lr_out) *lr_out = lr;
    float gscale = 1.0f;
    if (o->clip_norm > 0.0f) {
        double ss = 0.0;
        for (size_t i = 0; i < m->n; i++) ss += (double)m->grads[i] * m->grads[i];
        double norm = sqrt(ss);
        if (norm > o->clip_norm) gscale = (float)(o->clip_norm / norm);
    }
    lg_adamw_model(m, o, lr, gscale, step);
    return LG_OK;
}
