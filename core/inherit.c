/* inherit.c - the original Learngene (Wang et al., 2022): the last k blocks
 * of an ancestry model are the learngene; a descendant stacks freshly
 * initialized lower blocks (and a fresh embedding, norm and head) under them.
 *
 * Which blocks: the paper picks the integral layers by gradient magnitude
 * during continued training, and finds they are the last ones; liblearngene
 * takes the last k directly (the documented simpler rule). */
#include <string.h>

#include "internal.h"

lg_status lg_gene_inherit(lg_gene *g, const lg_model *ancestry, int k, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    int L = ancestry->cfg.depth;
    if (k < 1 || k > L)
        return lg_fail(err, errlen, LG_ERR_RANGE, "layers to inherit is %d; the ancestry model has %d blocks", k, L);
    if (ancestry->cfg.stitch_at)
        return lg_fail(err, errlen, LG_ERR_INVALID, "layers are inherited from a one-width ancestry model only");
    lg_config c = ancestry->cfg;
    c.depth = k;
    lg_status st = lg_model_new(&g->m, &c, err, errlen);
    if (st != LG_OK) return st;
    size_t src, dst, len;
    lg_model_block_range(ancestry, L - k, &src, &len);
    lg_model_block_range(g->m, 0, &dst, &len);
    memcpy(g->m->params + dst, ancestry->params + src, (size_t)k * len * sizeof(float));
    lg_copy_shared(g->m, ancestry, ancestry->params, g->m->params);
    g->kind = LG_GENE_INHERIT;
    g->aux_depth = L;
    return LG_OK;
}

/* Fills a fresh descendant's top k blocks from the learngene. */
void lg_inherit_into(lg_model *dst, const lg_gene *g)
{
    int k = g->m->cfg.depth, L = dst->cfg.depth;
    size_t src, off, len;
    lg_model_block_range(g->m, 0, &src, &len);
    lg_model_block_range(dst, L - k, &off, &len);
    memcpy(dst->params + off, g->m->params + src, (size_t)k * len * sizeof(float));
    lg_model_touch(dst);
}
