/* genepool.c - the Learngene Pool (Shi et al., AAAI 2024): instances of one
 * depth and different widths, stitch layers between them fitted by least
 * squares (LAPACK sgels) on calibration images, the stitched configurations
 * as models, and pools to and from safetensors. */
#include <math.h>
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

/* Which instance a tensor of a configuration's model comes from: the front
 * (narrow) instance for the embedding and blocks before the stitch, the back
 * (wide) one for later blocks, the final norm and the head. */
static const lg_model *source_of(const lg_genepool *p, const lg_genepool_cfg *c, const char *name)
{
    int blk = -1;
    sscanf(name, "blocks.%d.", &blk);
    int tail = !strncmp(name, "head.", 5) || !strncmp(name, "norm.", 5) || !strncmp(name, "fc_norm.", 8);
    return (blk >= 0 && c->at && blk >= c->at) || (tail && c->at) ? p->inst[c->to] : p->inst[c->from];
}

/* Moves values between a configuration's model m and the pool: params
 * pool → m (to_model), or m's grads added into the instances' grads and
 * the stitch gradient buffer sgrad (w then b) (from model). */
static void route(lg_model *m, const lg_genepool *p, const lg_genepool_cfg *c, int to_model, float *sgrad)
{
    for (int i = 0; i < m->ntensors; i++) {
        const lg_tensor_info *t = &m->tensors[i];
        if (!strncmp(t->name, "stitch.", 7)) continue;
        lg_model *src = (lg_model *)source_of(p, c, t->name);
        const lg_tensor_info *s = lg_model_find(src, t->name);
        if (to_model) {
            memcpy(m->params + t->offset, src->params + s->offset, t->numel * sizeof(float));
            lg_model_touch(m);
        } else {
            float *g = src->grads + s->offset;
            const float *d = m->grads + t->offset;
            for (size_t j = 0; j < t->numel; j++) g[j] += d[j];
        }
    }
    if (!c->at) return;
    const lg_stitch *st = find_stitch(p, c->from, c->to, c->at);
    size_t nw = (size_t)m->cfg.dim2 * (size_t)m->cfg.dim, nb = (size_t)m->cfg.dim2;
    if (to_model) {
        memcpy(m->pv.stitch_w, st->w, nw * sizeof(float));
        memcpy(m->pv.stitch_b, st->b, nb * sizeof(float));
    } else {
        memcpy(sgrad, m->gv.stitch_w, nw * sizeof(float));
        memcpy(sgrad + nw, m->gv.stitch_b, nb * sizeof(float));
    }
}

lg_status lg_genepool_build(lg_model **out, const lg_genepool *p, const lg_genepool_cfg *c, char *err, size_t errlen)
{
    *out = NULL;
    lg_config cfg;
    lg_status st = lg_genepool_config(&cfg, p, c, err, errlen);
    if (st != LG_OK) return st;
    if ((st = lg_model_new(out, &cfg, err, errlen)) != LG_OK) return st;
    route(*out, p, c, 1, NULL);
    return LG_OK;
}

/* A configuration's model and training context, built on first use. */
typedef struct {
    lg_model *m;
    lg_ctx *x;
} config_run;

lg_status lg_genepool_train(lg_genepool *p, const lg_dataset *ds, const lg_train_opts *o, char *err, size_t errlen)
{
    lg_status st = lg_check_dataset(p->inst[0], ds, err, errlen);
    if (st != LG_OK) return st;
    if (o->batch < 1 || o->steps < 1)
        return lg_fail(err, errlen, LG_ERR_INVALID, "batch (%d) and steps (%ld) must be at least 1", o->batch,
                       o->steps);
    int ncfg = lg_genepool_configs(p, NULL, 0), B = o->batch, K = p->inst[0]->cfg.classes;
    size_t img = (size_t)ds->c * ds->h * ds->w, smax = 0;
    for (int i = 0; i < p->nstitch; i++) {
        size_t n = (size_t)p->inst[p->stitches[i].to]->cfg.dim * ((size_t)p->inst[p->stitches[i].from]->cfg.dim + 1);
        smax = n > smax ? n : smax;
    }
    lg_genepool_cfg *cfgs = calloc((size_t)ncfg, sizeof *cfgs);
    config_run *runs = calloc((size_t)ncfg, sizeof *runs);
    long *inst_t = calloc((size_t)p->n, sizeof *inst_t), *stitch_t = calloc((size_t)p->nstitch + 1, sizeof *stitch_t);
    float **moments = calloc((size_t)p->nstitch + 1, sizeof *moments); /* per stitch: m | v, (w then b) */
    float *sgrad = malloc((smax + 1) * sizeof *sgrad), *images = malloc((size_t)B * img * sizeof *images);
    float *teacher_logits = o->teacher ? malloc((size_t)B * K * sizeof(float)) : NULL;
    int *labels = malloc((size_t)B * sizeof *labels);
    lg_ctx *tx = NULL;
    lg_batcher bt;
    lg_status bst = lg_batcher_init(&bt, ds, o->seed, o->hflip);
    if (!cfgs || !runs || !inst_t || !stitch_t || !moments || !sgrad || !images || !labels || bst != LG_OK ||
        (o->teacher && !teacher_logits)) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for pool training");
        goto out;
    }
    lg_genepool_configs(p, cfgs, ncfg);
    for (int i = 0; i < p->n; i++)
        if (lg_model_enable_training(p->inst[i]) != LG_OK) {
            st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for optimizer state");
            goto out;
        }
    if (o->teacher && (st = lg_ctx_new(&tx, (lg_model *)o->teacher, B, o->threads, 0, err, errlen)) != LG_OK) goto out;
    lg_adamw_config opt = o->opt;
    opt.total_steps = o->steps;
    lg_loss_spec ls = {teacher_logits, o->alpha, o->tau};
    lg_rng pick;
    lg_rng_seed(&pick, o->seed ^ 0x5eed);
    lg_progress_clock clock;
    lg_progress_start(&clock);
    for (long step = 0; step < o->steps; step++) {
        lg_batcher_next(&bt, images, labels, B);
        if (tx) lg_forward(tx, teacher_logits, images, B);
        int ci = (int)lg_rng_below(&pick, (uint32_t)ncfg);
        const lg_genepool_cfg *c = &cfgs[ci];
        config_run *r = &runs[ci];
        if (!r->m) {
            if ((st = lg_genepool_build(&r->m, p, c, err, errlen)) != LG_OK) goto out;
            if ((st = lg_ctx_new(&r->x, r->m, B, o->threads, 1, err, errlen)) != LG_OK) goto out;
        } else {
            route(r->m, p, c, 1, NULL); /* the instances moved since this configuration last ran */
        }
        float loss, lr = lg_lr_at(&opt, step);
        lg_model_zero_grad(r->m);
        lg_forward_backward(r->x, &loss, NULL, images, labels, B, o->teacher ? &ls : NULL);
        lg_model_zero_grad(p->inst[c->from]);
        if (c->at) lg_model_zero_grad(p->inst[c->to]);
        route(r->m, p, c, 0, sgrad);
        lg_adamw_model(p->inst[c->from], &opt, lr, 1.0f, inst_t[c->from]++);
        if (c->at) {
            lg_adamw_model(p->inst[c->to], &opt, lr, 1.0f, inst_t[c->to]++);
            lg_stitch *sp = find_stitch(p, c->from, c->to, c->at);
            int si = (int)(sp - p->stitches);
            size_t nw = (size_t)r->m->cfg.dim2 * (size_t)r->m->cfg.dim, nb = (size_t)r->m->cfg.dim2;
            if (!moments[si] && !(moments[si] = calloc(2 * (nw + nb), sizeof(float)))) {
                st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for optimizer state");
                goto out;
            }
            float *mw = moments[si], *vw = mw + nw + nb;
            lg_adamw_update(sp->w, sgrad, mw, vw, nw, lr, opt.weight_decay, 1.0f, stitch_t[si], &opt);
            lg_adamw_update(sp->b, sgrad + nw, mw + nw, vw + nw, nb, lr, 0.0f, 1.0f, stitch_t[si], &opt);
            stitch_t[si]++;
        }
        if (lg_progress_step(&clock, o, step, bt.epoch, loss, lr)) break;
    }
out:
    for (int i = 0; runs && i < ncfg; i++) {
        lg_ctx_free(runs[i].x);
        lg_model_free(runs[i].m);
    }
    for (int i = 0; moments && i < p->nstitch; i++) free(moments[i]);
    lg_batcher_free(&bt);
    lg_ctx_free(tx);
    free(cfgs), free(runs), free(inst_t), free(stitch_t), free(moments), free(sgrad), free(images), free(labels);
    free(teacher_logits);
    return st;
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
        if ((s = lg_st_fits(st, &c, err, errlen)) != LG_OK) goto fail;
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
            float *dst = wb ? sp->b : sp->w;
            lg_st_to_f32(f, dst);
            for (size_t j = 0; j < (size_t)db * (wb ? 1 : (size_t)da); j++)
                if (!isfinite(dst[j])) {
                    s = lg_fail(err, errlen, LG_ERR_RANGE, "tensor '%s' holds a NaN or infinite value at index %zu",
                                tname, j);
                    goto fail_pool;
                }
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
