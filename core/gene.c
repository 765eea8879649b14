/* gene.c - the learngene container: descendant shapes, growing a
 * descendant by either method, and learngenes to and from safetensors
 * (metadata "learngene" = "tleg" | "inherit", "aux_depth"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *lg_gene_kind_name(lg_gene_kind k)
{
    return k == LG_GENE_TLEG ? "tleg" : k == LG_GENE_INHERIT ? "inherit" : "unknown";
}

void lg_gene_free(lg_gene *g)
{
    if (!g) return;
    lg_model_free(g->m);
    memset(g, 0, sizeof *g);
}

void lg_gene_depths(const lg_gene *g, int *min_depth, int *max_depth)
{
    *min_depth = g->kind == LG_GENE_INHERIT ? g->m->cfg.depth : 1;
    *max_depth = 2 * g->aux_depth < LG_MAX_DEPTH ? 2 * g->aux_depth : LG_MAX_DEPTH;
}

size_t lg_gene_params(const lg_gene *g) { return g->m->n; }

lg_status lg_gene_config(lg_config *out, const lg_gene *g, int depth, int classes, char *err, size_t errlen)
{
    int lo, hi;
    lg_gene_depths(g, &lo, &hi);
    if (depth < lo || depth > hi)
        return lg_fail(err, errlen, LG_ERR_RANGE, "depth %d is outside what this %s learngene grows (%d to %d)", depth,
                       lg_gene_kind_name(g->kind), lo, hi);
    *out = g->m->cfg;
    out->depth = depth;
    out->classes = classes;
    return lg_config_validate(out, err, errlen);
}

lg_status lg_gene_expand(lg_model **out, const lg_gene *g, int depth, int classes, uint64_t seed, char *err,
                         size_t errlen)
{
    *out = NULL;
    lg_config c;
    lg_status st = lg_gene_config(&c, g, depth, classes, err, errlen);
    if (st != LG_OK) return st;
    lg_model *m;
    if ((st = lg_model_new(&m, &c, err, errlen)) != LG_OK) return st;
    if (g->kind == LG_GENE_TLEG) {
        if (classes != g->m->cfg.classes) lg_model_init_head(m, seed);
        st = lg_tleg_expand_into(m, g, err, errlen);
    } else {
        lg_model_init(m, seed); /* lower blocks, embedding, norm and head are fresh */
        lg_inherit_into(m, g);
    }
    if (st != LG_OK) {
        lg_model_free(m);
        return st;
    }
    *out = m;
    return LG_OK;
}

/* TLEG files name block 0 learngene.A.* and block 1 learngene.B.*. */
static void file_name(char *buf, size_t n, const lg_gene *g, const char *name)
{
    if (g->kind == LG_GENE_TLEG && !strncmp(name, "blocks.", 7))
        snprintf(buf, n, "learngene.%c.%s", name[7] == '0' ? 'A' : 'B', name + 9);
    else
        snprintf(buf, n, "%s", name);
}

lg_status lg_gene_save(const lg_gene *g, const char *path, lg_dtype dtype, const lg_st_kv *meta, int nmeta, char *err,
                       size_t errlen)
{
    const lg_model *m = g->m;
    lg_config c = m->cfg;
    c.depth = g->aux_depth;
    char cfg[512], aux[16];
    lg_config_to_json(g->kind == LG_GENE_TLEG ? &c : &m->cfg, cfg, sizeof cfg);
    snprintf(aux, sizeof aux, "%d", g->aux_depth);
    lg_st_in *in = calloc((size_t)m->ntensors, sizeof *in);
    char(*names)[LG_MAX_NAME] = calloc((size_t)m->ntensors, sizeof *names);
    lg_st_kv *kv = calloc((size_t)nmeta + 3, sizeof *kv);
    lg_status st;
    if (!in || !names || !kv) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory");
        goto out;
    }
    int n = 0;
    kv[n++] = (lg_st_kv){"config", cfg};
    kv[n++] = (lg_st_kv){"learngene", lg_gene_kind_name(g->kind)};
    kv[n++] = (lg_st_kv){"aux_depth", aux};
    for (int i = 0; i < nmeta; i++)
        if (strcmp(meta[i].key, "config") && strcmp(meta[i].key, "learngene") && strcmp(meta[i].key, "aux_depth"))
            kv[n++] = meta[i];
    for (int i = 0; i < m->ntensors; i++) {
        const lg_tensor_info *t = &m->tensors[i];
        file_name(names[i], sizeof names[i], g, t->name);
        in[i] = (lg_st_in){names[i], t->ndim, t->shape, m->params + t->offset};
    }
    st = lg_st_write_file(path, in, m->ntensors, kv, n, dtype, err, errlen);
out:
    free(in);
    free(names);
    free(kv);
    return st;
}

lg_status lg_gene_from_st(lg_gene *g, const lg_st *st, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    const char *kind = lg_st_meta(st, "learngene"), *aux = lg_st_meta(st, "aux_depth");
    if (!kind)
        return lg_fail(err, errlen, LG_ERR_MISMATCH,
                       "not a learngene: __metadata__ needs \"learngene\" (tleg or inherit) and \"config\"");
    if (strcmp(kind, "tleg") && strcmp(kind, "inherit"))
        return lg_fail(err, errlen, LG_ERR_INVALID, "unknown learngene kind \"%s\" (tleg or inherit)", kind);
    g->kind = !strcmp(kind, "tleg") ? LG_GENE_TLEG : LG_GENE_INHERIT;
    lg_config c;
    lg_status s = lg_st_config(&c, st, err, errlen);
    if (s != LG_OK) return s;
    long a = aux ? strtol(aux, NULL, 10) : c.depth;
    if (a < 1 || a > LG_MAX_DEPTH)
        return lg_fail(err, errlen, LG_ERR_RANGE, "__metadata__ \"aux_depth\" must be in [1, %d]", LG_MAX_DEPTH);
    g->aux_depth = (int)a;
    if (g->kind == LG_GENE_TLEG) c.depth = 2;
    if ((s = lg_st_fits(st, &c, err, errlen)) != LG_OK) return s;
    if ((s = lg_model_new(&g->m, &c, err, errlen)) != LG_OK) return s;
    if (lg_st_count(st) != g->m->ntensors) {
        s = lg_fail(err, errlen, LG_ERR_MISMATCH, "the file holds %d tensors; a %s learngene of this shape has %d",
                    lg_st_count(st), kind, g->m->ntensors);
        goto fail;
    }
    for (int i = 0; i < g->m->ntensors; i++) {
        const lg_tensor_info *t = &g->m->tensors[i];
        char name[LG_MAX_NAME];
        file_name(name, sizeof name, g, t->name);
        if ((s = lg_load_tensor(g->m, t, lg_st_find(st, name), name, err, errlen)) != LG_OK) goto fail;
    }
    return LG_OK;
fail:
    lg_gene_free(g);
    return s;
}

lg_status lg_gene_load(lg_gene *g, const char *path, char *err, size_t errlen)
{
    lg_st *st = NULL;
    memset(g, 0, sizeof *g);
    lg_status s = lg_st_read_file(&st, path, err, errlen);
    if (s != LG_OK) return s;
    s = lg_gene_from_st(g, st, err, errlen);
    lg_st_free(st);
    return s;
}
