/* tleg.c - TLEG (Xia et al., AAAI 2024): a learngene of two tensors θ_A, θ_B
 * per block tensor, linear expansion θ_i = θ_A + (i/L)·θ_B to any depth L,
 * and training of (θ_A, θ_B) through the tied auxiliary network by
 * distillation. The learngene is a depth-2 model: block 0 = θ_A, 1 = θ_B. */
#include <string.h>

#include "internal.h"

lg_status lg_gene_tleg_new(lg_gene *g, const lg_config *c, uint64_t seed, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    lg_status st = lg_config_validate(c, err, errlen);
    if (st != LG_OK) return st;
    if (c->stitch_at) return lg_fail(err, errlen, LG_ERR_INVALID, "a TLEG learngene needs one width (no stitch)");
    lg_config two = *c;
    two.depth = 2;
    if ((st = lg_model_new(&g->m, &two, err, errlen)) != LG_OK) return st;
    lg_model_init(g->m, seed);
    size_t off, len;
    lg_model_block_range(g->m, 1, &off, &len);
    memset(g->m->params + off, 0, len * sizeof(float)); /* θ_B = 0 */
    g->kind = LG_GENE_TLEG;
    g->aux_depth = c->depth;
    return LG_OK;
}

/* Copies every tensor that is not in a block from src to dst by name (the
 * head only when its shape matches). */
void lg_copy_shared(lg_model *dst, const lg_model *src, const float *src_buf, float *dst_buf)
{
    for (int i = 0; i < dst->ntensors; i++) {
        const lg_tensor_info *t = &dst->tensors[i];
        if (!strncmp(t->name, "blocks.", 7)) continue;
        const lg_tensor_info *s = lg_model_find(src, t->name);
        if (s && s->numel == t->numel) memcpy(dst_buf + t->offset, src_buf + s->offset, t->numel * sizeof(float));
    }
}

static int same_widths(const lg_config *a, const lg_config *b)
{
    return a->img == b->img && a->in_chans == b->in_chans && a->patch == b->patch && a->dim == b->dim &&
           a->heads == b->heads && a->mlp == b->mlp && a->pool == b->pool && !a->stitch_at && !b->stitch_at;
}

lg_status lg_tleg_expand_into(lg_model *dst, const lg_gene *g, char *err, size_t errlen)
{
    if (g->kind != LG_GENE_TLEG) return lg_fail(err, errlen, LG_ERR_INVALID, "not a TLEG learngene");
    if (!same_widths(&dst->cfg, &g->m->cfg))
        return lg_fail(err, errlen, LG_ERR_MISMATCH, "the model's widths differ from the learngene's");
    size_t a_off, b_off, len, dlen;
    lg_model_block_range(g->m, 0, &a_off, &len);
    lg_model_block_range(g->m, 1, &b_off, &len);
    const float *A = g->m->params + a_off, *Bv = g->m->params + b_off;
    int L = dst->cfg.depth;
    for (int i = 0; i < L; i++) {
        size_t off;
        lg_model_block_range(dst, i, &off, &dlen);
        float *p = dst->params + off, c = (float)i / (float)L;
        for (size_t j = 0; j < len; j++) p[j] = A[j] + c * Bv[j];
    }
    lg_copy_shared(dst, g->m, g->m->params, dst->params);
    lg_model_touch(dst);
    return LG_OK;
}

void lg_tleg_fold_grads(lg_gene *g, const lg_model *aux)
{
    lg_model *gene = g->m;
    if (lg_model_enable_training(gene) != LG_OK || !aux->grads) return;
    size_t a_off, b_off, len, alen;
    lg_model_block_range(gene, 0, &a_off, &len);
    lg_model_block_range(gene, 1, &b_off, &len);
    float *dA = gene->grads + a_off, *dB = gene->grads + b_off;
    memset(dA, 0, len * sizeof(float));
    memset(dB, 0, len * sizeof(float));
    int L = aux->cfg.depth;
    for (int i = 0; i < L; i++) {
        size_t off;
        lg_model_block_range(aux, i, &off, &alen);
        const float *d = aux->grads + off;
        float c = (float)i / (float)L;
        for (size_t j = 0; j < len; j++) {
            dA[j] += d[j];
            dB[j] += c * d[j];
        }
    }
    lg_copy_shared(gene, aux, aux->grads, gene->grads);
}

typedef struct {
    lg_gene *g;
    lg_model *aux;
} tleg_tie;

static void tie_expand(void *user)
{
    tleg_tie *t = user;
    lg_tleg_expand_into(t->aux, t->g, NULL, 0);
}

static void tie_fold(void *user)
{
    tleg_tie *t = user;
    lg_tleg_fold_grads(t->g, t->aux);
}

lg_status lg_tleg_train(lg_gene *g, const lg_dataset *ds, const lg_train_opts *o, char *err, size_t errlen)
{
    if (g->kind != LG_GENE_TLEG) return lg_fail(err, errlen, LG_ERR_INVALID, "not a TLEG learngene");
    lg_config c = g->m->cfg;
    c.depth = g->aux_depth;
    tleg_tie tie = {g, NULL};
    lg_status st = lg_model_new(&tie.aux, &c, err, errlen);
    if (st != LG_OK) return st;
    lg_train_hooks h = {g->m, tie_expand, tie_fold, &tie};
    st = lg_train_loop(tie.aux, ds, o, &h, err, errlen);
    lg_model_free(tie.aux);
    return st;
}
