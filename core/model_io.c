/* model_io.c - a model to and from safetensors: the tensor table in timm
 * names, the description JSON in __metadata__["config"], lineage as further
 * metadata. Loading checks every name, shape and value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

lg_status lg_model_save(const lg_model *m, const char *path, lg_dtype dtype, const lg_st_kv *meta, int nmeta, char *err,
                        size_t errlen)
{
    char cfg[512];
    lg_config_to_json(&m->cfg, cfg, sizeof cfg);
    lg_st_in *in = calloc((size_t)m->ntensors, sizeof *in);
    lg_st_kv *kv = calloc((size_t)nmeta + 1, sizeof *kv);
    lg_status st;
    if (!in || !kv) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory");
        goto out;
    }
    kv[0].key = "config";
    kv[0].value = cfg;
    int n = 1;
    for (int i = 0; i < nmeta; i++)
        if (strcmp(meta[i].key, "config")) kv[n++] = meta[i];
    for (int i = 0; i < m->ntensors; i++) {
        const lg_tensor_info *t = &m->tensors[i];
        in[i] = (lg_st_in){t->name, t->ndim, t->shape, m->params + t->offset};
    }
    st = lg_st_write_file(path, in, m->ntensors, kv, n, dtype, err, errlen);
out:
    free(in);
    free(kv);
    return st;
}

lg_status lg_load_tensor(lg_model *m, const lg_tensor_info *t, const lg_st_tensor *f, const char *name, char *err,
                         size_t errlen)
{
    if (!f) return lg_fail(err, errlen, LG_ERR_MISMATCH, "tensor '%s' is missing", name);
    int same = f->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = f->shape[d] == t->shape[d];
    if (!same)
        return lg_fail(err, errlen, LG_ERR_MISMATCH, "tensor '%s' has the wrong shape for the model described", name);
    float *p = m->params + t->offset;
    lg_model_touch(m);
    lg_st_to_f32(f, p);
    for (size_t j = 0; j < t->numel; j++)
        if (!isfinite(p[j]))
            return lg_fail(err, errlen, LG_ERR_RANGE, "tensor '%s' holds a NaN or infinite value at index %zu", name,
                           j);
    return LG_OK;
}

lg_status lg_st_config(lg_config *c, const lg_st *st, char *err, size_t errlen)
{
    const char *json = lg_st_meta(st, "config");
    if (!json)
        return lg_fail(err, errlen, LG_ERR_MISMATCH, "the file has no __metadata__ \"config\" model description");
    char why[256];
    lg_status s = lg_config_from_json(c, json, strlen(json), why, sizeof why);
    return s == LG_OK ? s : lg_fail(err, errlen, s, "__metadata__ \"config\": %s", why);
}

lg_status lg_st_fits(const lg_st *st, const lg_config *c, char *err, size_t errlen)
{
    size_t values = 0;
    for (int i = 0; i < lg_st_count(st); i++) {
        const lg_st_tensor *t = lg_st_get(st, i);
        size_t size = lg_dtype_size(t->dtype);
        values += size ? t->nbytes / size : 0;
    }
    size_t need = lg_config_params(c);
    if (need > values)
        return lg_fail(err, errlen, LG_ERR_MISMATCH,
                       "the model described has %zu parameters but the file holds only %zu values", need, values);
    return LG_OK;
}

lg_status lg_model_from_st(lg_model **out, const lg_st *st, char *err, size_t errlen)
{
    *out = NULL;
    lg_config c;
    lg_status s = lg_st_config(&c, st, err, errlen);
    if (s != LG_OK || (s = lg_st_fits(st, &c, err, errlen)) != LG_OK) return s;
    lg_model *m = NULL;
    s = lg_model_new(&m, &c, err, errlen);
    if (s != LG_OK) return s;
    if (lg_st_count(st) != m->ntensors) {
        s = lg_fail(err, errlen, LG_ERR_MISMATCH, "the file holds %d tensors; the model described needs %d",
                    lg_st_count(st), m->ntensors);
        goto fail;
    }
    for (int i = 0; i < m->ntensors; i++) {
        const lg_tensor_info *t = &m->tensors[i];
        if ((s = lg_load_tensor(m, t, lg_st_find(st, t->name), t->name, err, errlen)) != LG_OK) goto fail;
    }
    *out = m;
    return LG_OK;
fail:
    lg_model_free(m);
    return s;
}

lg_status lg_model_load(lg_model **out, const char *path, char *err, size_t errlen)
{
    lg_st *st = NULL;
    *out = NULL;
    lg_status s = lg_st_read_file(&st, path, err, errlen);
    if (s != LG_OK) return s;
    s = lg_model_from_st(out, st, err, errlen);
    lg_st_free(st);
    return s;
}
