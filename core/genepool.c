/* genepool.c - the Learngene Pool (Shi et al., AAAI 2024): instances of one
 * depth and different widths, stitch layers between them fitted by least
 * squares (LAPACK sgels) on calibration images, the stitched configurations
 * as models, and pools to and from safetensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* LAPACK (in OpenBLAS): least squares by QR. */
extern void sgels_(const char *trans, const int *m, const int *n, const int *nrhs, float *a, const int *lda, float *b,
                   const int *ldb, float *work, const int *lwork, int *info, size_t trans_len);

void lg_genepool_free(lg_genepool *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) lg_model_free(p->inst[i]);
    for (int i = 0; i < p->nstitch; i++) free(p->stitches[i].w);
    free(p->stitches);
    memset(p, 0, sizeof *p);
}

static int same_stem(const lg_config *a, const lg_config *b)
{
    return a->img == b->img && a->in_chans == b->in_chans && a->patch == b->patch && a->depth == b->depth &&
           a->classes == b->classes && a->pool == b->pool && !a->stitch_at && !b->stitch_at;
}

lg_status lg_genepool_new(lg_genepool *p, lg_model **inst, const char *const *names, int n, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    lg_status st = LG_OK;
    if (n < 1 || n > LG_GENEPOOL_MAX) {
        st = lg_fail(err, errlen, LG_ERR_RANGE, "a pool holds 1 to %d instances, not %d", LG_GENEPOOL_MAX, n);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (!same_stem(&inst[i]->cfg, &inst[0]->cfg)) {
            st = lg_fail(err, errlen, LG_ERR_MISMATCH,
                         "instance '%s' differs from '%s' in depth, input, classes or pooling (or is stitched)",
                         names[i], names[0]);
            goto fail;
        }
        if (strlen(names[i]) >= LG_GENEPOOL_NAME || !names[i][0] || strpbrk(names[i], ".,")) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "instance name '%s' must be 1-31 characters without '.' or ','",
                         names[i]);
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (inst[j]->cfg.dim == inst[i]->cfg.dim || !strcmp(names[i], names[j])) {
                st = lg_fail(err, errlen, LG_ERR_INVALID, "instances '%s' and '%s' share a width or a name", names[j],
                             names[i]);
                goto fail;
            }
    }
    /* width order, narrowest first (insertion sort; n ≤ 8) */
    int order[LG_GENEPOOL_MAX];
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && inst[order[j - 1]]->cfg.dim > inst[i]->cfg.dim) order[j] = order[j - 1], j--;
        order[j] = i;
    }
    p->n = n;
    for (int i = 0; i < n; i++) {
        p->inst[i] = inst[order[i]];
        snprintf(p->names[i], sizeof p->names[i], "%s", names[order[i]]);
    }
    int L = p->inst[0]->cfg.depth;
    p->stitches = calloc((size_t)(n * (n - 1) / 2 * (L - 1) + 1), sizeof *p->stitches);
    if (!p->stitches) goto nomem;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            for (int k = 1; k < L; k++) {
                lg_stitch *s = &p->stitches[p->nstitch++];
                size_t da = (size_t)p->inst[a]->cfg.dim, db = (size_t)p->inst[b]->cfg.dim;
                *s = (lg_stitch){a, b, k, calloc(db * da + db, sizeof(float)), NULL};
                if (!s->w) goto nomem;
                s->b = s->w + db * da;
            }
    return LG_OK;
nomem:
    lg_genepool_free(p);
    return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for the pool's stitches");
fail:
    for (int i = 0; i < n && i < LG_GENEPOOL_MAX; i++) lg_model_free(inst[i]);
    memset(p, 0, sizeof *p);
    return st;
}

static lg_stitch *find_stitch(const lg_genepool *p, int from, int to, int at)
{
    for (int i = 0; i < p->nstitch; i++)
        if (p->stitches[i].from == from && p->stitches[i].to == to && p->stitches[i].at == at) return &p->stitches[i];
    return NULL;
}

int lg_genepool_configs(const lg_genepool *p, lg_genepool_cfg *out, int max)
{
    int n = 0;
    for (int i = 0; i < p->n; i++, n++)
        if (out && n < max) out[n] = (lg_genepool_cfg){i, i, 0};
    for (int i = 0; i < p->nstitch; i++, n++)
        if (out && n < max) out[n] = (lg_genepool_cfg){p->stitches[i].from, p->stitches[i].to, p->stitches[i].at};
    return n;
}

lg_status lg_genepool_config(lg_config *out, const lg_genepool *p, const lg_genepool_cfg *c, char *err, size_t errlen)
{
    if (c->from < 0 || c->from >= p->n || c->to < 0 || c->to >= p->n ||
        (c->at && !find_stitch(p, c->from, c->to, c->at)))
        return lg_fail(err, errlen, LG_ERR_RANGE, "the pool has no configuration %d→%d at block %d", c->from, c->to,
                       c->at);
    *out = p->inst[c->from]->cfg;
    if (c->at) {
        const lg_config *w = &p->inst[c->to]->cfg;
        out->stitch_at = c->at, out->dim2 = w->dim, out->heads2 = w->heads, out->mlp2 = w->mlp;
    }
    return LG_OK;
}

/* Copies src's tensor `name` into dst's tensor of the same name. */
static void copy_tensor(lg_model *dst, const lg_model *src, const char *name)
{
    const lg_tensor_info *d = lg_model_find(dst, name), *s = lg_model_find(src, name);
    memcpy(dst->params + d->offset, src->params + s->offset, d->numel * sizeof(float));
}

lg_status lg_genepool_build(lg_model **out, const lg_genepool *p, const lg_genepool_cfg *c, char *err, size_t errlen)
{
    *out = NULL;
    lg_config cfg;
    lg_status st = lg_genepool_config(&cfg, p, c, err, errlen);
    if (st != LG_OK) return st;
    lg_model *m;
    if ((st = lg_model_new(&m, &cfg, err, errlen)) != LG_OK) return st;
    const lg_model *front = p->inst[c->from], *back = p->inst[c->at ? c->to : c->from];
    for (int i = 0; i < m->ntensors; i++) {
        const char *name = m->tensors[i].name;
        int blk = -1;
        if (!strncmp(name, "stitch.", 7)) continue;
        sscanf(name, "blocks.%d.", &blk);
        int is_head = !strncmp(name, "head.", 5) || !strncmp(name, "norm.", 5) || !strncmp(name, "fc_norm.", 8);
        copy_tensor(m, (blk >= 0 && c->at && blk >= c->at) || is_head ? back : front, name);
    }
    if (c->at) {
        const lg_stitch *s = find_stitch(p, c->from, c->to, c->at);
        memcpy(m->pv.stitch_w, s->w, (size_t)cfg.dim2 * cfg.dim * sizeof(float));
        memcpy(m->pv.stitch_b, s->b, (size_t)cfg.dim2 * sizeof(float));
    }
    *out = m;
    return LG_OK;
}

lg_status lg_stitch_lstsq(float *w, float *b, const float *X, const float *Y, size_t rows, int din, int dout, char *err,
                          size_t errlen)
{
    if (rows < (size_t)din + 1)
        return lg_fail(err, errlen, LG_ERR_RANGE, "least squares needs at least %d token rows, got %zu", din + 1, rows);
    if (rows > 0x7fffffff) return lg_fail(err, errlen, LG_ERR_RANGE, "too many calibration rows (%zu)", rows);
    /* [X 1] row-major (rows, din+1) is column-major (din+1, rows) = Aᵀ with
     * A = [X 1]ᵀ; sgels with trans 'T' then solves min ‖B − Aᵀ·W‖. */
    int m = din + 1, n = (int)rows, nrhs = dout, lda = m, ldb = n, info = 0, lwork = -1;
    float *A = malloc(rows * (size_t)m * sizeof *A), *B = malloc(rows * (size_t)dout * sizeof *B), query;
    lg_status st = LG_OK;
    if (!A || !B) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for least squares");
        goto out;
    }
    for (size_t r = 0; r < rows; r++) {
        memcpy(A + r * (size_t)m, X + r * (size_t)din, (size_t)din * sizeof *A);
        A[r * (size_t)m + (size_t)din] = 1.0f;
        for (int o = 0; o < dout; o++) B[(size_t)o * rows + r] = Y[r * (size_t)dout + (size_t)o]; /* column-major */
    }
    sgels_("T", &m, &n, &nrhs, A, &lda, B, &ldb, &query, &lwork, &info, 1);
    lwork = (int)query;
    float *work = malloc((size_t)lwork * sizeof *work);
    if (!work) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for least squares");
        goto out;
    }
    sgels_("T", &m, &n, &nrhs, A, &lda, B, &ldb, work, &lwork, &info, 1);
    free(work);
    if (info != 0) {
        st = lg_fail(err, errlen, LG_ERR_RANGE, "least squares failed (LAPACK sgels info %d: rank-deficient tokens)",
                     info);
        goto out;
    }
    for (int o = 0; o < dout; o++) {
        for (int i = 0; i < din; i++) w[(size_t)o * din + i] = B[(size_t)o * rows + (size_t)i];
        b[o] = B[(size_t)o * rows + (size_t)din];
    }
out:
    free(A);
    free(B);
    return st;
}

lg_status lg_genepool_init_stitches(lg_genepool *p, const float *images, int n, int threads, char *err, size_t errlen)
{
    int L = p->inst[0]->cfg.depth;
    size_t T = (size_t)lg_config_tokens(&p->inst[0]->cfg), rows = (size_t)n * T;
    float *tok[LG_GENEPOOL_MAX] = {0};
    lg_ctx *ctx[LG_GENEPOOL_MAX] = {0};
    lg_status st = LG_OK;
    for (int i = 0; i < p->n; i++) {
        tok[i] = malloc(rows * (size_t)p->inst[i]->cfg.dim * (size_t)(L + 1) * sizeof(float));
        if (!tok[i]) {
            st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for calibration tokens");
            goto out;
        }
        if ((st = lg_ctx_new(&ctx[i], p->inst[i], n, threads, 0, err, errlen)) != LG_OK) goto out;
        for (int k = 1; k < L; k++)
            lg_forward_tokens(ctx[i], tok[i] + (size_t)k * rows * (size_t)p->inst[i]->cfg.dim, images, n, k);
    }
    for (int s = 0; s < p->nstitch; s++) {
        lg_stitch *sp = &p->stitches[s];
        int da = p->inst[sp->from]->cfg.dim, db = p->inst[sp->to]->cfg.dim;
        const float *X = tok[sp->from] + (size_t)sp->at * rows * (size_t)da;
        const float *Y = tok[sp->to] + (size_t)sp->at * rows * (size_t)db;
        if ((st = lg_stitch_lstsq(sp->w, sp->b, X, Y, rows, da, db, err, errlen)) != LG_OK) goto out;
    }
out:
    for (int i = 0; i < p->n; i++) {
        free(tok[i]);
        lg_ctx_free(ctx[i]);
    }
    return st;
}

size_t lg_genepool_params(const lg_genepool *p)
{
    size_t n = 0;
    for (int i = 0; i < p->n; i++) n += p->inst[i]->n;
    for (int i = 0; i < p->nstitch; i++) {
        size_t db = (size_t)p->inst[p->stitches[i].to]->cfg.dim;
        n += db * (size_t)p->inst[p->stitches[i].from]->cfg.dim + db;
    }
    return n;
}

lg_status lg_genepool_save(const lg_genepool *p, const char *path, lg_dtype dtype, const lg_st_kv *meta, int nmeta,
                           char *err, size_t errlen)
{
    int nt = 2 * p->nstitch, nkv = 1 + p->n + nmeta;
    for (int i = 0; i < p->n; i++) nt += p->inst[i]->ntensors;
    lg_st_in *in = calloc((size_t)nt, sizeof *in);
    char(*names)[LG_MAX_NAME + LG_GENEPOOL_NAME + 16] = calloc((size_t)nt, sizeof *names);
    char(*cfgs)[512] = calloc((size_t)p->n, sizeof *cfgs);
    char(*keys)[LG_GENEPOOL_NAME + 8] = calloc((size_t)p->n, sizeof *keys);
    int64_t(*shapes)[2] = calloc((size_t)nt, sizeof *shapes);
    lg_st_kv *kv = calloc((size_t)nkv, sizeof *kv);
    char list[LG_GENEPOOL_MAX * LG_GENEPOOL_NAME] = "";
    lg_status st;
    if (!in || !names || !cfgs || !keys || !shapes || !kv) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory");
        goto out;
    }
    int k = 0, q = 0;
    for (int i = 0; i < p->n; i++) {
        const lg_model *m = p->inst[i];
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", p->names[i]);
        lg_config_to_json(&m->cfg, cfgs[i], sizeof cfgs[i]);
        snprintf(keys[i], sizeof keys[i], "config.%s", p->names[i]);
        for (int t = 0; t < m->ntensors; t++, k++) {
            snprintf(names[k], sizeof names[k], "instances.%s.%s", p->names[i], m->tensors[t].name);
            in[k] = (lg_st_in){names[k], m->tensors[t].ndim, m->tensors[t].shape, m->params + m->tensors[t].offset};
        }
    }
    for (int s = 0; s < p->nstitch; s++) {
        const lg_stitch *sp = &p->stitches[s];
        int64_t da = p->inst[sp->from]->cfg.dim, db = p->inst[sp->to]->cfg.dim;
        for (int wb = 0; wb < 2; wb++, k++) {
            snprintf(names[k], sizeof names[k], "stitches.%s.%d.%s.%d.%s", p->names[sp->from], sp->at, p->names[sp->to],
                     sp->at, wb ? "bias" : "weight");
            shapes[k][0] = db, shapes[k][1] = da;
            in[k] = (lg_st_in){names[k], wb ? 1 : 2, shapes[k], wb ? sp->b : sp->w};
        }
    }
    kv[q++] = (lg_st_kv){"genepool", list};
    for (int i = 0; i < p->n; i++) kv[q++] = (lg_st_kv){keys[i], cfgs[i]};
    for (int i = 0; i < nmeta; i++) kv[q++] = meta[i];
    st = lg_st_write_file(path, in, nt, kv, q, dtype, err, errlen);
out:
    free(in), free(names), free(cfgs), free(keys), free(shapes), free(kv);
    return st;
}

lg_status lg_genepool_from_st(lg_genepool *p, const lg_st *st, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    const char *list = lg_st_meta(st, "genepool");
    if (!list) return lg_fail(err, errlen, LG_ERR_MISMATCH, "not a pool: __metadata__ has no \"genepool\"");
    char names[LG_GENEPOOL_MAX][LG_GENEPOOL_NAME], buf[LG_GENEPOOL_MAX * LG_GENEPOOL_NAME];
    const char *name_ptr[LG_GENEPOOL_MAX];
    lg_model *inst[LG_GENEPOOL_MAX] = {0};
    int n = 0;
    lg_status s = LG_OK;
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == LG_GENEPOOL_MAX || strlen(t) >= LG_GENEPOOL_NAME)
            return lg_fail(err, errlen, LG_ERR_RANGE, "\"genepool\" lists too many or too long instance names");
        snprintf(names[n], sizeof names[n], "%s", t);
        name_ptr[n] = names[n];
        n++;
    }
    int expect = 0;
    for (int i = 0; i < n; i++) {
        char key[300], tname[400];
        snprintf(key, sizeof key, "config.%s", names[i]);
        const char *json = lg_st_meta(st, key);
        lg_config c;
        char why[256];
        if (!json) {
            s = lg_fail(err, errlen, LG_ERR_MISMATCH, "__metadata__ has no \"%s\"", key);
            goto fail;
        }
        if ((s = lg_config_from_json(&c, json, strlen(json), why, sizeof why)) != LG_OK) {
            s = lg_fail(err, errlen, s, "\"%s\": %s", key, why);
            goto fail;
        }
        if ((s = lg_model_new(&inst[i], &c, err, errlen)) != LG_OK) goto fail;
        expect += inst[i]->ntensors;
        for (int t = 0; t < inst[i]->ntensors; t++) {
            const lg_tensor_info *ti = &inst[i]->tensors[t];
            snprintf(tname, sizeof tname, "instances.%s.%s", names[i], ti->name);
            if ((s = lg_load_tensor(inst[i], ti, lg_st_find(st, tname), tname, err, errlen)) != LG_OK) goto fail;
        }
    }
    int count = n;
    n = 0; /* lg_genepool_new owns the instances from here */
    if ((s = lg_genepool_new(p, inst, name_ptr, count, err, errlen)) != LG_OK) return s;
    expect += 2 * p->nstitch;
    if (lg_st_count(st) != expect) {
        s = lg_fail(err, errlen, LG_ERR_MISMATCH, "the file holds %d tensors; this pool has %d", lg_st_count(st),
                    expect);
        goto fail_pool;
    }
    for (int i = 0; i < p->nstitch; i++) {
        lg_stitch *sp = &p->stitches[i];
        int da = p->inst[sp->from]->cfg.dim, db = p->inst[sp->to]->cfg.dim;
        for (int wb = 0; wb < 2; wb++) {
            char tname[2 * LG_GENEPOOL_NAME + 48];
            snprintf(tname, sizeof tname, "stitches.%s.%d.%s.%d.%s", p->names[sp->from], sp->at, p->names[sp->to],
                     sp->at, wb ? "bias" : "weight");
            const lg_st_tensor *f = lg_st_find(st, tname);
            int ok = f && f->ndim == (wb ? 1 : 2) && f->shape[0] == db && (wb || f->shape[1] == da);
            if (!ok) {
                s = lg_fail(err, errlen, LG_ERR_MISMATCH, "stitch tensor '%s' is missing or has the wrong shape",
                            tname);
                goto fail_pool;
            }
            lg_st_to_f32(f, wb ? sp->b : sp->w);
        }
    }
    return LG_OK;
fail_pool:
    lg_genepool_free(p);
    return s;
fail:
    for (int i = 0; i < n; i++) lg_model_free(inst[i]);
    return s;
}

lg_status lg_genepool_load(lg_genepool *p, const char *path, char *err, size_t errlen)
{
    lg_st *st = NULL;
    memset(p, 0, sizeof *p);
    lg_status s = lg_st_read_file(&st, path, err, errlen);
    if (s != LG_OK) return s;
    s = lg_genepool_from_st(p, st, err, errlen);
    lg_st_free(st);
    return s;
}
