/* model.c - a ViT's tensor table, its one contiguous parameter buffer with
 * named views (params, grads and AdamW moments share one layout), and the
 * timm-style initialization. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Appends one tensor to the table being built. */
static void add(lg_tensor_info *t, int *n, size_t *off, const char *name, int ndim, const int64_t *shape, int decay)
{
    lg_tensor_info *e = &t[(*n)++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    e->numel = 1;
    for (int i = 0; i < ndim; i++) {
        e->shape[i] = shape[i];
        e->numel *= (size_t)shape[i];
    }
    e->offset = *off;
    e->decay = decay;
    *off += e->numel;
}

#define SHAPE(...)                                                                                                     \
    (const int64_t[]) { __VA_ARGS__ }

lg_status lg_tensor_table(const lg_config *c, lg_tensor_info **out, int *n, size_t *total, char *err, size_t errlen)
{
    lg_status st = lg_config_validate(c, err, errlen);
    if (st != LG_OK) return st;
    int64_t D = c->dim, T = lg_config_tokens(c), K = c->classes, Dout = lg_config_out_dim(c);
    int cap = 6 + 12 * c->depth + 6;
    lg_tensor_info *t = calloc((size_t)cap, sizeof *t);
    if (!t) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for the tensor table");
    int k = 0;
    size_t off = 0;
    char name[LG_MAX_NAME];
    add(t, &k, &off, "patch_embed.proj.weight", 4, SHAPE(D, c->in_chans, c->patch, c->patch), 1);
    add(t, &k, &off, "patch_embed.proj.bias", 1, SHAPE(D), 0);
    if (c->pool == LG_POOL_TOKEN) add(t, &k, &off, "cls_token", 3, SHAPE(1, 1, D), 0);
    add(t, &k, &off, "pos_embed", 3, SHAPE(1, T, D), 0);
    static const struct {
        const char *suffix;
        int rows; /* 0: D, 1: 3D, 2: M; matrix columns D unless fc2 */
        int matrix;
    } blk[] = {
        {"norm1.weight", 0, 0},     {"norm1.bias", 0, 0},     {"attn.qkv.weight", 1, 1}, {"attn.qkv.bias", 1, 0},
        {"attn.proj.weight", 0, 1}, {"attn.proj.bias", 0, 0}, {"norm2.weight", 0, 0},    {"norm2.bias", 0, 0},
        {"mlp.fc1.weight", 2, 1},   {"mlp.fc1.bias", 2, 0},   {"mlp.fc2.weight", 0, 1},  {"mlp.fc2.bias", 0, 0},
    };
    for (int i = 0; i < c->depth; i++) {
        if (c->stitch_at && i == c->stitch_at) {
            add(t, &k, &off, "stitch.weight", 2, SHAPE(c->dim2, D), 1);
            add(t, &k, &off, "stitch.bias", 1, SHAPE(c->dim2), 0);
        }
        int bd, bh, bm;
        lg_config_block(c, i, &bd, &bh, &bm);
        int64_t Db = bd, M = bm;
        for (size_t j = 0; j < sizeof blk / sizeof *blk; j++) {
            int64_t rows = blk[j].rows == 0 ? Db : blk[j].rows == 1 ? 3 * Db : M;
            int64_t cols = !strcmp(blk[j].suffix, "mlp.fc2.weight") ? M : Db;
            snprintf(name, sizeof name, "blocks.%d.%s", i, blk[j].suffix);
            if (blk[j].matrix)
                add(t, &k, &off, name, 2, SHAPE(rows, cols), 1);
            else
                add(t, &k, &off, name, 1, SHAPE(rows), 0);
        }
    }
    const char *norm = c->pool == LG_POOL_TOKEN ? "norm" : "fc_norm";
    snprintf(name, sizeof name, "%s.weight", norm);
    add(t, &k, &off, name, 1, SHAPE(Dout), 0);
    snprintf(name, sizeof name, "%s.bias", norm);
    add(t, &k, &off, name, 1, SHAPE(Dout), 0);
    add(t, &k, &off, "head.weight", 2, SHAPE(K, Dout), 1);
    add(t, &k, &off, "head.bias", 1, SHAPE(K), 0);
    *out = t;
    *n = k;
    *total = off;
    return LG_OK;
}

void lg_view_bind(lg_param_view *v, lg_block_view *blocks, const lg_model *m, float *buf)
{
    const lg_tensor_info *t = m->tensors;
    int k = 0;
    memset(v, 0, sizeof *v);
    v->patch_w = buf + t[k++].offset;
    v->patch_b = buf + t[k++].offset;
    if (m->cfg.pool == LG_POOL_TOKEN) v->cls_token = buf + t[k++].offset;
    v->pos_embed = buf + t[k++].offset;
    for (int i = 0; i < m->cfg.depth; i++) {
        if (m->cfg.stitch_at && i == m->cfg.stitch_at) {
            v->stitch_w = buf + t[k++].offset;
            v->stitch_b = buf + t[k++].offset;
        }
        float **p[] = {&blocks[i].norm1_w, &blocks[i].norm1_b, &blocks[i].qkv_w,   &blocks[i].qkv_b,
                       &blocks[i].proj_w,  &blocks[i].proj_b,  &blocks[i].norm2_w, &blocks[i].norm2_b,
                       &blocks[i].fc1_w,   &blocks[i].fc1_b,   &blocks[i].fc2_w,   &blocks[i].fc2_b};
        for (size_t j = 0; j < sizeof p / sizeof *p; j++) *p[j] = buf + t[k++].offset;
    }
    v->blocks = blocks;
    v->norm_w = buf + t[k++].offset;
    v->norm_b = buf + t[k++].offset;
    v->head_w = buf + t[k++].offset;
    v->head_b = buf + t[k++].offset;
}

lg_status lg_model_new(lg_model **out, const lg_config *c, char *err, size_t errlen)
{
    *out = NULL;
    lg_model *m = calloc(1, sizeof *m);
    if (!m) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for the model");
    m->cfg = *c;
    lg_status st = lg_tensor_table(c, &m->tensors, &m->ntensors, &m->n, err, errlen);
    if (st != LG_OK) goto fail;
    m->params = calloc(m->n, sizeof *m->params);
    m->pblocks = calloc((size_t)c->depth, sizeof *m->pblocks);
    m->gblocks = calloc((size_t)c->depth, sizeof *m->gblocks);
    if (!m->params || !m->pblocks || !m->gblocks) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for %zu parameters", m->n);
        goto fail;
    }
    lg_view_bind(&m->pv, m->pblocks, m, m->params);
    *out = m;
    return LG_OK;
fail:
    lg_model_free(m);
    return st;
}

void lg_model_free(lg_model *m)
{
    if (!m) return;
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->pblocks);
    free(m->gblocks);
    free(m);
}

const lg_config *lg_model_config(const lg_model *m) { return &m->cfg; }
float *lg_model_params(lg_model *m)
{
    lg_model_touch(m); /* the caller may write through it */
    return m->params;
}

const float *lg_model_weights(const lg_model *m) { return m->params; }
float *lg_model_grads(lg_model *m) { return m->grads; }
size_t lg_model_nparams(const lg_model *m) { return m->n; }
const lg_param_view *lg_model_pview(const lg_model *m) { return &m->pv; }
const lg_param_view *lg_model_gview(const lg_model *m) { return m->grads ? &m->gv : NULL; }

const lg_tensor_info *lg_model_tensors(const lg_model *m, int *n)
{
    *n = m->ntensors;
    return m->tensors;
}

const lg_tensor_info *lg_model_find(const lg_model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

lg_status lg_model_enable_training(lg_model *m)
{
    if (m->grads) return LG_OK;
    /* grads, AdamW m and v in one allocation of the same layout */
    m->grads = calloc(3 * m->n, sizeof *m->grads);
    if (!m->grads) return LG_ERR_NOMEM;
    m->adam_m = m->grads + m->n;
    m->adam_v = m->grads + 2 * m->n;
    lg_view_bind(&m->gv, m->gblocks, m, m->grads);
    return LG_OK;
}

lg_status lg_model_adam_state(lg_model *m, float **first, float **second)
{
    *first = m->adam_m;
    *second = m->adam_v;
    return m->grads ? LG_OK : LG_ERR_INVALID;
}

void lg_model_zero_grad(lg_model *m)
{
    if (m->grads) memset(m->grads, 0, m->n * sizeof *m->grads);
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) p[i] = v;
}

static void fill_trunc_normal(lg_rng *r, float *p, size_t n, float std)
{
    for (size_t i = 0; i < n; i++) p[i] = lg_rng_trunc_normal(r, std);
}

/* One tensor's init by its role, read off its name. */
static void init_tensor(lg_rng *r, const lg_model *m, const lg_tensor_info *t)
{
    float *p = m->params + t->offset;
    const char *n = t->name;
    size_t len = strlen(n);
    int is_bias = len > 5 && !strcmp(n + len - 5, ".bias");
    int is_norm = strstr(n, "norm") != NULL;
    if (!strcmp(n, "patch_embed.proj.weight") || !strcmp(n, "patch_embed.proj.bias")) {
        /* PyTorch Conv2d default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        float bound = 1.0f / sqrtf((float)(m->cfg.in_chans * m->cfg.patch * m->cfg.patch));
        for (size_t i = 0; i < t->numel; i++) p[i] = (2.0f * lg_rng_uniform(r) - 1.0f) * bound;
    } else if (!strcmp(n, "cls_token")) {
        for (size_t i = 0; i < t->numel; i++) p[i] = 1e-6f * lg_rng_normal(r);
    } else if (!strcmp(n, "pos_embed")) {
        fill_trunc_normal(r, p, t->numel, 0.02f);
    } else if (is_norm) {
        fill(p, t->numel, is_bias ? 0.0f : 1.0f);
    } else if (is_bias) {
        fill(p, t->numel, 0.0f);
    } else {
        fill_trunc_normal(r, p, t->numel, 0.02f);
    }
}

void lg_model_init(lg_model *m, uint64_t seed)
{
    lg_rng r;
    lg_rng_seed(&r, seed);
    for (int i = 0; i < m->ntensors; i++) init_tensor(&r, m, &m->tensors[i]);
    lg_model_touch(m);
}

void lg_model_init_head(lg_model *m, uint64_t seed)
{
    lg_rng r;
    lg_rng_seed(&r, seed);
    init_tensor(&r, m, lg_model_find(m, "head.weight"));
    init_tensor(&r, m, lg_model_find(m, "head.bias"));
    lg_model_touch(m);
}

void lg_model_block_range(const lg_model *m, int i, size_t *offset, size_t *len)
{
    /* patch w, b, [cls], pos, then 12 per block and the stitch's 2 */
    int first = (m->cfg.pool == LG_POOL_TOKEN ? 4 : 3) + 12 * i + (m->cfg.stitch_at && i >= m->cfg.stitch_at ? 2 : 0);
    *offset = m->tensors[first].offset;
    *len = m->tensors[first + 11].offset + m->tensors[first + 11].numel - *offset;
}
