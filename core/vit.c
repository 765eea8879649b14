/* vit.c - the whole ViT: a context of activation arenas, the forward pass
 * from images to logits and the backward pass into the model's gradients.
 *
 * A context splits a batch into shards, one per thread, each with its own
 * arena (sized from the model shape up front, no malloc in the hot loop) and,
 * for training, its own gradient buffer (shard 0 writes the model's grads,
 * the others are summed into it).
 *
 * An inference context also keeps the model's weight matrices packed for
 * gemm.c (repacked when the model's version moves) and runs every linear
 * layer and attention through them. A batch of one image on a context with
 * more threads runs as a team that splits the image's tokens (block_forward
 * says how it synchronizes). A token-pool model asked for logits skips the
 * last block's work on every token but the class token (block_forward_cls).
 * Training contexts use cblas_sgemm.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gemm.h"
#include "internal.h"
#include "layers.h"

/* One block's saved activations inside a shard arena. */
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd; /* (N,D) (N) (N) */
    float *qkv;                       /* (N,3D) */
    float *att;                       /* (B,H,T,T) */
    float *atto;                      /* (N,D) attention output before proj */
    float *xmid;                      /* (N,D) residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd; /* (N,D) (N) (N) */
    float *fc1, *gelu;                /* (N,M) (N,M) */
} block_acts;

typedef struct {
    int B; /* images this shard can hold */
    float *arena;
    size_t floats;
    float *cols;     /* (B·Np, C·p·p) patches */
    float *ptok;     /* (B·Np, D) patch tokens (and their grads) */
    float **x;       /* residual stream entering block l; x[depth] leaves the last */
    float *xs;       /* stitched models: tokens leaving block stitch_at-1, before the stitch */
    float *qkv_alt;  /* inference: odd blocks' q, k, v (block_forward says why) */
    float *att_pack; /* inference: packed keys and values, one slice per team member */
    int members;     /* team members that may run this shard (slices of att_pack) */
    size_t att_slice;
    block_acts *blk;                           /* depth entries when training, 1 otherwise */
    float *pooled, *lnf, *lnf_mean, *lnf_rstd; /* (B,D) (B,D) (B) (B) */
    float *logits, *dlogits;                   /* (B,K) */
    /* backward scratch (training only) */
    float *dres, *dtmp, *dqkv, *dh, *dscratch, *dpooled, *dlnf;
    float *grads; /* shard > 0: own gradient buffer */
    lg_param_view gv;
    lg_block_view *gblocks;
    double loss;
} shard;

/* An inference context's packed weights (gemm.h layout), one buffer. */
typedef struct {
    const float *qkv, *proj, *fc1, *fc2;
} packed_block;

typedef struct {
    float *buf;
    size_t floats;
    const float *patch, *stitch, *head;
    packed_block *blk; /* depth entries */
    unsigned long version;
    int valid;
} packed_weights;

struct lg_ctx {
    lg_model *m;
    int max_batch, threads, training, nshards;
    shard *sh;
    packed_weights pk; /* inference contexts only */
};

/* The threads running one shard together (n = 1: a shard on its own). */
typedef struct {
    int id, n;
} team;

static const team solo = {0, 1};

static void team_sync(const team *t)
{
    if (t->n > 1) {
#pragma omp barrier
    }
}

/* This member's share [*lo, *hi) of total items. */
static void team_split(const team *t, int total, int *lo, int *hi)
{
    *lo = (int)((long)total * t->id / t->n);
    *hi = (int)((long)total * (t->id + 1) / t->n);
}

void lg_blas_threads(int n) { openblas_set_num_threads(n); }

/* Hands out 64-byte aligned slices of an arena (or just counts them). */
typedef struct {
    float *base;
    size_t used;
} carve;

static float *take(carve *c, size_t n)
{
    float *p = c->base ? c->base + c->used : NULL;
    c->used += (n + 15) & ~(size_t)15;
    return p;
}

/* Largest width and MLP size over the blocks (a stitched model has two). */
static void max_dims(const lg_config *c, size_t *D, size_t *M)
{
    *D = (size_t)(c->stitch_at && c->dim2 > c->dim ? c->dim2 : c->dim);
    *M = (size_t)(c->stitch_at && c->mlp2 > c->mlp ? c->mlp2 : c->mlp);
}

/* Lays out a shard's arena; with c->base NULL only counts floats. Training
 * keeps every block's activations (sized by that block's widths); inference
 * reuses one slot sized by the widest block. */
static void layout(shard *s, const lg_config *cfg, int training, carve *c)
{
    size_t B = (size_t)s->B, T = (size_t)lg_config_tokens(cfg), Np = (size_t)lg_config_patches(cfg);
    size_t Dmax, Mmax, K = (size_t)cfg->classes;
    max_dims(cfg, &Dmax, &Mmax);
    size_t N = B * T, kp = (size_t)cfg->in_chans * (size_t)cfg->patch * (size_t)cfg->patch;
    int L = cfg->depth, nx = training ? L + 1 : 2, nblk = training ? L : 1;
    s->cols = take(c, B * Np * kp);
    s->ptok = take(c, B * Np * (size_t)cfg->dim);
    for (int l = 0; l < nx; l++) {
        float *p = take(c, N * Dmax);
        if (c->base) s->x[l] = p;
    }
    s->xs = cfg->stitch_at ? take(c, N * (size_t)cfg->dim) : NULL;
    s->qkv_alt = training ? NULL : take(c, N * 3 * Dmax);
    if (!training) {
        size_t a1 = lg_attention_scratch_floats((int)T, cfg->dim / cfg->heads), a2 = a1;
        if (cfg->stitch_at) a2 = lg_attention_scratch_floats((int)T, cfg->dim2 / cfg->heads2);
        s->att_slice = ((a1 > a2 ? a1 : a2) + 15) & ~(size_t)15;
        s->att_pack = take(c, (size_t)s->members * s->att_slice);
    }
    for (int l = 0; l < nblk; l++) {
        int d, h, m;
        lg_config_block(cfg, l, &d, &h, &m);
        size_t D = training ? (size_t)d : Dmax, M = training ? (size_t)m : Mmax;
        size_t H = (size_t)(cfg->heads > cfg->heads2 ? cfg->heads : cfg->heads2);
        block_acts a;
        a.ln1 = take(c, N * D);
        a.ln1_mean = take(c, N);
        a.ln1_rstd = take(c, N);
        a.qkv = take(c, N * 3 * D);
        a.att = take(c, B * H * T * T);
        a.atto = take(c, N * D);
        a.xmid = take(c, N * D);
        a.ln2 = take(c, N * D);
        a.ln2_mean = take(c, N);
        a.ln2_rstd = take(c, N);
        a.fc1 = take(c, N * M);
        a.gelu = take(c, N * M);
        if (c->base) s->blk[l] = a;
    }
    s->pooled = take(c, B * Dmax);
    s->lnf = take(c, B * Dmax);
    s->lnf_mean = take(c, B);
    s->lnf_rstd = take(c, B);
    s->logits = take(c, B * K);
    s->dlogits = take(c, B * K);
    if (!training) return;
    s->dres = take(c, N * Dmax);
    s->dtmp = take(c, N * Dmax);
    s->dqkv = take(c, N * 3 * Dmax);
    s->dh = take(c, N * Mmax);
    s->dscratch = take(c, T * T);
    s->dpooled = take(c, B * Dmax);
    s->dlnf = take(c, B * Dmax);
}

static void shard_free(shard *s)
{
    free(s->arena);
    free(s->x);
    free(s->blk);
    free(s->grads);
    free(s->gblocks);
}

void lg_ctx_free(lg_ctx *x)
{
    if (!x) return;
    for (int i = 0; x->sh && i < x->nshards; i++) shard_free(&x->sh[i]);
    free(x->sh);
    free(x->pk.buf);
    free(x->pk.blk);
    free(x);
}

/* Walks the model's weight matrices in packing order: with pk->buf NULL it
 * only counts floats; otherwise it packs them and sets the pointers. */
static size_t pack_walk(packed_weights *pk, const lg_model *m)
{
    const lg_config *c = &m->cfg;
    const lg_param_view *p = &m->pv;
    size_t used = 0;
#define PACK(dst, w, kin, kout)                                                                                        \
    do {                                                                                                               \
        if (pk->buf) {                                                                                                 \
            lg_gemm_pack(pk->buf + used, (w), (kin), (kout));                                                          \
            (dst) = pk->buf + used;                                                                                    \
        }                                                                                                              \
        used += lg_gemm_packed_floats((kin), (kout));                                                                  \
    } while (0)
    PACK(pk->patch, p->patch_w, c->in_chans * c->patch * c->patch, c->dim);
    for (int l = 0; l < c->depth; l++) {
        int D, H, M;
        lg_config_block(c, l, &D, &H, &M);
        const lg_block_view *b = &p->blocks[l];
        packed_block *q = pk->buf ? &pk->blk[l] : NULL, none;
        if (!q) q = &none;
        PACK(q->qkv, b->qkv_w, D, 3 * D);
        PACK(q->proj, b->proj_w, D, D);
        PACK(q->fc1, b->fc1_w, D, M);
        PACK(q->fc2, b->fc2_w, M, D);
    }
    if (c->stitch_at) PACK(pk->stitch, p->stitch_w, c->dim, c->dim2);
    PACK(pk->head, p->head_w, lg_config_out_dim(c), c->classes);
#undef PACK
    return used;
}

/* Repacks an inference context's weights if the model changed since. */
static void pack_refresh(lg_ctx *x)
{
    unsigned long v = __atomic_load_n(&x->m->version, __ATOMIC_ACQUIRE);
    if (x->pk.valid && x->pk.version == v) return;
    pack_walk(&x->pk, x->m);
    x->pk.version = v;
    x->pk.valid = 1;
}

lg_status lg_ctx_new(lg_ctx **out, lg_model *m, int max_batch, int threads, int training, char *err, size_t errlen)
{
    *out = NULL;
    if (max_batch < 1 || max_batch > 1 << 20)
        return lg_fail(err, errlen, LG_ERR_RANGE, "batch size %d is outside [1, 1048576]", max_batch);
    if (threads < 1 || threads > 256)
        return lg_fail(err, errlen, LG_ERR_RANGE, "thread count %d is outside [1, 256]", threads);
    if (training && lg_model_enable_training(m) != LG_OK)
        return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for gradients and optimizer state");
    lg_ctx *x = calloc(1, sizeof *x);
    if (!x) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for the context");
    x->m = m;
    x->max_batch = max_batch;
    x->threads = threads;
    x->training = training;
    x->nshards = threads < max_batch ? threads : max_batch;
    x->sh = calloc((size_t)x->nshards, sizeof *x->sh);
    lg_status st = LG_OK;
    if (!x->sh) goto nomem;
    const lg_config *cfg = &m->cfg;
    int L = cfg->depth;
    for (int i = 0; i < x->nshards; i++) {
        shard *s = &x->sh[i];
        s->B = (max_batch + x->nshards - 1) / x->nshards;
        s->members = i == 0 ? threads : 1; /* a team runs shard 0 only */
        carve count = {NULL, 0};
        layout(s, cfg, training, &count);
        s->floats = count.used;
        s->arena = aligned_alloc(64, s->floats * sizeof(float));
        s->x = calloc((size_t)L + 1, sizeof *s->x);
        s->blk = calloc((size_t)L, sizeof *s->blk);
        if (!s->arena || !s->x || !s->blk) goto nomem;
        carve c = {s->arena, 0};
        layout(s, cfg, training, &c);
        if (!training) continue;
        if (i == 0) {
            s->gv = m->gv;
            continue;
        }
        s->grads = aligned_alloc(64, ((m->n + 15) & ~(size_t)15) * sizeof(float));
        s->gblocks = calloc((size_t)L, sizeof *s->gblocks);
        if (!s->grads || !s->gblocks) goto nomem;
        lg_view_bind(&s->gv, s->gblocks, m, s->grads);
    }
    if (!training) {
        packed_weights none = {0};
        x->pk.floats = pack_walk(&none, m);
        x->pk.buf = aligned_alloc(64, x->pk.floats * sizeof(float));
        x->pk.blk = calloc((size_t)L, sizeof *x->pk.blk);
        if (!x->pk.buf || !x->pk.blk) goto nomem;
    }
    *out = x;
    return LG_OK;
nomem:
    st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for activations of batch %d", max_batch);
    lg_ctx_free(x);
    return st;
}

size_t lg_ctx_bytes(const lg_ctx *x)
{
    size_t b = 0;
    for (int i = 0; i < x->nshards; i++) b += x->sh[i].floats * sizeof(float) + (x->sh[i].grads ? x->m->n * 4 : 0);
    return b + x->pk.floats * sizeof(float);
}

/* out (N,Kout) = in·wᵀ + b (+ res when non-NULL), GELU after when gelu:
 * through the packed copy when there is one, each team member doing its
 * own rows; cblas_sgemm otherwise (a solo caller; the residual add goes into
 * sgemm as β = 1). */
static void linear(const team *t, float *out, const float *res, const float *in, const float *w, const float *packed,
                   const float *b, int N, int Kin, int Kout, int gelu)
{
    if (packed) {
        int lo, hi;
        team_split(t, N, &lo, &hi);
        size_t o = (size_t)lo * Kout;
        lg_gemm_run(out + o, res ? res + o : NULL, in + (size_t)lo * Kin, packed, b, hi - lo, Kin, Kout, 0,
                    lg_gemm_panels(Kout), gelu);
        return;
    }
    if (!res) {
        lg_linear_forward(out, in, w, b, N, Kin, Kout);
    } else {
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * Kout;
            const float *r = res + (size_t)n * Kout;
            for (int j = 0; j < Kout; j++) o[j] = r[j] + b[j];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Kout, Kin, 1.0f, in, Kin, w, Kin, 1.0f, out, Kout);
    }
    if (gelu) lg_gelu_forward(out, out, (size_t)N * Kout);
}

static void layernorm(const team *t, float *out, float *mean, float *rstd, const float *in, const float *w,
                      const float *b, int N, int D)
{
    int lo, hi;
    team_split(t, N, &lo, &hi);
    size_t o = (size_t)lo * D;
    lg_layernorm_forward(out + o, mean + lo, rstd + lo, in + o, w, b, hi - lo, D);
}

/* One block. pk: its packed weights (inference) or NULL (training: fc1
 * keeps its pre-GELU values for backward). A team (always one image) splits
 * the tokens: every step but attention reads only the member's own rows,
 * so the one barrier is before attention, which reads every token's keys
 * and values. qkv alternates between two buffers from block to block, so a
 * member running ahead into the next block never overwrites keys another
 * member still reads. */
static void block_forward(const team *t, block_acts *a, float *qkv, float *xout, const float *xin,
                          const lg_block_view *p, const packed_block *pk, float *att_pack, const lg_config *c, int l,
                          int B)
{
    int T = lg_config_tokens(c), N = B * T, D, H, M, q0, q1;
    lg_config_block(c, l, &D, &H, &M);
    layernorm(t, a->ln1, a->ln1_mean, a->ln1_rstd, xin, p->norm1_w, p->norm1_b, N, D);
    linear(t, qkv, NULL, a->ln1, p->qkv_w, pk ? pk->qkv : NULL, p->qkv_b, N, D, 3 * D, 0);
    team_sync(t);
    team_split(t, T, &q0, &q1); /* = the member's rows: a team runs one image */
    lg_attention_forward_rows(a->atto, a->att, qkv, B, T, D, H, q0, q1, att_pack); /* att_pack NULL: cblas */
    linear(t, a->xmid, xin, a->atto, p->proj_w, pk ? pk->proj : NULL, p->proj_b, N, D, D, 0);
    layernorm(t, a->ln2, a->ln2_mean, a->ln2_rstd, a->xmid, p->norm2_w, p->norm2_b, N, D);
    if (pk) {
        linear(t, a->gelu, NULL, a->ln2, p->fc1_w, pk->fc1, p->fc1_b, N, D, M, 1);
    } else {
        lg_linear_forward(a->fc1, a->ln2, p->fc1_w, p->fc1_b, N, D, M);
        lg_gelu_forward(a->gelu, a->fc1, (size_t)N * M);
    }
    linear(t, xout, a->xmid, a->gelu, p->fc2_w, pk ? pk->fc2 : NULL, p->fc2_b, N, M, D, 0);
}

/* dres: on entry ∂L/∂xout, on return ∂L/∂xin. */
static void block_backward(shard *s, const block_acts *a, const float *xin, const lg_block_view *p,
                           const lg_block_view *g, const lg_config *c, int l, int B)
{
    int T = lg_config_tokens(c), N = B * T, D, H, M;
    lg_config_block(c, l, &D, &H, &M);
    float *dres = s->dres, *dtmp = s->dtmp;
    lg_linear_backward(s->dh, g->fc2_w, g->fc2_b, dres, a->gelu, p->fc2_w, N, M, D);
    lg_gelu_backward(s->dh, s->dh, a->fc1, (size_t)N * M);
    lg_linear_backward(dtmp, g->fc1_w, g->fc1_b, s->dh, a->ln2, p->fc1_w, N, D, M);
    lg_layernorm_backward(dres, g->norm2_w, g->norm2_b, dtmp, a->xmid, a->ln2_mean, a->ln2_rstd, p->norm2_w, N, D);
    lg_linear_backward(dtmp, g->proj_w, g->proj_b, dres, a->atto, p->proj_w, N, D, D);
    lg_attention_backward(s->dqkv, s->dscratch, dtmp, a->qkv, a->att, B, T, D, H);
    lg_linear_backward(dtmp, g->qkv_w, g->qkv_b, s->dqkv, a->ln1, p->qkv_w, N, D, 3 * D);
    lg_layernorm_backward(dres, g->norm1_w, g->norm1_b, dtmp, xin, a->ln1_mean, a->ln1_rstd, p->norm1_w, N, D);
}

/* The last block of a token-pool model when only the logits are wanted:
 * every token's keys and values, then attention, projection and MLP for the
 * class token alone (row b·T of each image), as the other tokens' outputs
 * feed nothing. Inference only (packed weights); the team's first member
 * runs the class rows. */
static void block_forward_cls(const team *t, block_acts *a, float *qkv, float *xout, const float *xin,
                              const lg_block_view *p, const packed_block *pk, float *att_pack, const lg_config *c,
                              int l, int B)
{
    int T = lg_config_tokens(c), N = B * T, D, H, M;
    lg_config_block(c, l, &D, &H, &M);
    layernorm(t, a->ln1, a->ln1_mean, a->ln1_rstd, xin, p->norm1_w, p->norm1_b, N, D);
    linear(t, qkv, NULL, a->ln1, p->qkv_w, pk->qkv, p->qkv_b, N, D, 3 * D, 0);
    team_sync(t);
    if (t->id != 0) return;
    size_t sd = (size_t)T * D, sm = (size_t)T * M; /* from one image's class row to the next */
    lg_attention_forward_rows(a->atto, a->att, qkv, B, T, D, H, 0, 1, att_pack);
    lg_gemm_run_ld(a->xmid, sd, xin, a->atto, sd, pk->proj, p->proj_b, B, D, D, 0, lg_gemm_panels(D), 0);
    for (int b = 0; b < B; b++)
        lg_layernorm_forward(a->ln2 + b * sd, a->ln2_mean + b * T, a->ln2_rstd + b * T, a->xmid + b * sd, p->norm2_w,
                             p->norm2_b, 1, D);
    lg_gemm_run_ld(a->gelu, sm, NULL, a->ln2, sd, pk->fc1, p->fc1_b, B, D, M, 0, lg_gemm_panels(M), 1);
    lg_gemm_run_ld(xout, sd, a->xmid, a->gelu, sm, pk->fc2, p->fc2_b, B, M, D, 0, lg_gemm_panels(D), 0);
}

/* Runs blocks 0…upto-1 (and the head when upto is the depth) for the team t.
 * full: the arena keeps every block's activations (a training context).
 * pk: packed weights (inference), or NULL. logits_only: the caller wants the
 * logits alone, not the last block's tokens. */
static void shard_forward(const team *t, shard *s, const lg_model *m, const packed_weights *pk, const float *images,
                          int B, int full, int upto, int logits_only)
{
    const lg_config *c = &m->cfg;
    const lg_param_view *p = &m->pv;
    int T = lg_config_tokens(c), Np = lg_config_patches(c), D = c->dim, L = c->depth, lo, hi;
    int kp = c->in_chans * c->patch * c->patch, cls = c->pool == LG_POOL_TOKEN;
    if (t->id == 0) lg_patchify(s->cols, images, B, c->in_chans, c->img, c->patch);
    team_sync(t);
    linear(t, s->ptok, NULL, s->cols, p->patch_w, pk ? pk->patch : NULL, p->patch_b, B * Np, kp, D, 0);
    team_sync(t);
    float *x0 = s->x[0];
    team_split(t, B * T, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int b = r / T, tok = r % T;
        float *row = x0 + (size_t)r * D;
        const float *src = cls && tok == 0 ? p->cls_token : s->ptok + ((size_t)b * Np + tok - cls) * D;
        const float *pos = p->pos_embed + (size_t)tok * D;
        for (int d = 0; d < D; d++) row[d] = src[d] + pos[d];
    }
    for (int l = 0; l < upto; l++) {
        float *xin = full ? s->x[l] : s->x[l % 2], *xout = full ? s->x[l + 1] : s->x[(l + 1) % 2];
        block_acts *a = &s->blk[full ? l : 0];
        int stitch_next = c->stitch_at && l + 1 == c->stitch_at;
        float *qkv = !full && l % 2 ? s->qkv_alt : a->qkv;
        float *att_pack = pk ? s->att_pack + (size_t)t->id * s->att_slice : NULL;
        if (pk && logits_only && cls && l == L - 1)
            block_forward_cls(t, a, qkv, xout, xin, &p->blocks[l], &pk->blk[l], att_pack, c, l, B);
        else
            block_forward(t, a, qkv, stitch_next ? s->xs : xout, xin, &p->blocks[l], pk ? &pk->blk[l] : NULL, att_pack,
                          c, l, B);
        if (stitch_next)
            linear(t, xout, NULL, s->xs, p->stitch_w, pk ? pk->stitch : NULL, p->stitch_b, B * T, c->dim, c->dim2, 0);
    }
    team_sync(t);
    if (upto < L || t->id != 0) return;
    D = lg_config_out_dim(c);
    const float *xl = full ? s->x[L] : s->x[L % 2];
    for (int b = 0; b < B; b++) {
        float *pb = s->pooled + (size_t)b * D;
        if (cls) {
            memcpy(pb, xl + (size_t)b * T * D, (size_t)D * sizeof *pb);
            continue;
        }
        memset(pb, 0, (size_t)D * sizeof *pb);
        for (int tok = 0; tok < T; tok++)
            for (int d = 0; d < D; d++) pb[d] += xl[((size_t)b * T + tok) * D + d];
        for (int d = 0; d < D; d++) pb[d] /= (float)T;
    }
    lg_layernorm_forward(s->lnf, s->lnf_mean, s->lnf_rstd, s->pooled, p->norm_w, p->norm_b, B, D);
    linear(&solo, s->logits, NULL, s->lnf, p->head_w, pk ? pk->head : NULL, p->head_b, B, D, c->classes, 0);
}

/* Backward from s->dlogits into s->gv. */
static void shard_backward(shard *s, const lg_model *m, int B)
{
    const lg_config *c = &m->cfg;
    const lg_param_view *p = &m->pv, *g = &s->gv;
    int T = lg_config_tokens(c), Np = lg_config_patches(c), D = c->dim, L = c->depth;
    int kp = c->in_chans * c->patch * c->patch, cls = c->pool == LG_POOL_TOKEN;
    int Dout = lg_config_out_dim(c);
    lg_linear_backward(s->dlnf, g->head_w, g->head_b, s->dlogits, s->lnf, p->head_w, B, Dout, c->classes);
    memset(s->dpooled, 0, (size_t)B * Dout * sizeof(float));
    lg_layernorm_backward(s->dpooled, g->norm_w, g->norm_b, s->dlnf, s->pooled, s->lnf_mean, s->lnf_rstd, p->norm_w, B,
                          Dout);
    memset(s->dres, 0, (size_t)B * T * Dout * sizeof(float));
    for (int b = 0; b < B; b++) {
        const float *dp = s->dpooled + (size_t)b * Dout;
        for (int t = 0; t < (cls ? 1 : T); t++) {
            float *row = s->dres + ((size_t)b * T + t) * Dout;
            for (int d = 0; d < Dout; d++) row[d] = cls ? dp[d] : dp[d] / (float)T;
        }
    }
    for (int l = L - 1; l >= 0; l--) {
        int stitched_in = c->stitch_at && l + 1 == c->stitch_at; /* block l feeds the stitch */
        if (stitched_in) {
            /* dres: ∂L/∂(stitch output) (N,dim2) → ∂L/∂xs (N,dim) */
            lg_linear_backward(s->dtmp, g->stitch_w, g->stitch_b, s->dres, s->xs, p->stitch_w, B * T, c->dim, c->dim2);
            memcpy(s->dres, s->dtmp, (size_t)B * T * c->dim * sizeof(float));
        }
        block_backward(s, &s->blk[l], s->x[l], &p->blocks[l], &g->blocks[l], c, l, B);
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *dr = s->dres + ((size_t)b * T + t) * D;
            float *gp = g->pos_embed + (size_t)t * D;
            float *dst = cls && t == 0 ? g->cls_token : s->ptok + ((size_t)b * Np + t - cls) * D;
            for (int d = 0; d < D; d++) gp[d] += dr[d];
            if (cls && t == 0)
                for (int d = 0; d < D; d++) dst[d] += dr[d];
            else
                memcpy(dst, dr, (size_t)D * sizeof *dst);
        }
    lg_linear_backward(NULL, g->patch_w, g->patch_b, s->ptok, s->cols, p->patch_w, B * Np, kp, D);
}

/* Shard i's first image and image count for a batch of B. */
static void shard_range(const lg_ctx *x, int i, int B, int *first, int *count)
{
    int per = (B + x->nshards - 1) / x->nshards;
    *first = i * per < B ? i * per : B;
    int end = *first + per < B ? *first + per : B;
    *count = end - *first;
}

static int active_shards(const lg_ctx *x, int B)
{
    int per = (B + x->nshards - 1) / x->nshards;
    return (B + per - 1) / per;
}

/* Runs the first `block` blocks on every shard (all of them and the head
 * when logits), then gathers the logits (B,K) or the tokens entering
 * `block` (B,T,width) into out. */
static lg_status forward_to(lg_ctx *x, float *out, const float *images, int B, int block, int logits)
{
    const lg_config *c = &x->m->cfg;
    if (B < 1 || B > x->max_batch || block < 0 || block > c->depth) return LG_ERR_RANGE;
    size_t img = (size_t)c->in_chans * c->img * c->img, T = (size_t)lg_config_tokens(c);
    int d, h, mm;
    lg_config_block(c, block < c->depth ? block : c->depth - 1, &d, &h, &mm);
    if (block == c->depth) d = lg_config_out_dim(c);
    size_t row = logits ? (size_t)c->classes : T * (size_t)d; /* floats per image in out */
    int S = active_shards(x, B);
    const packed_weights *pk = NULL;
    if (!x->training) {
        pack_refresh(x);
        pk = &x->pk;
    }
    if (B == 1 && x->threads > 1 && pk) { /* one image, the whole team on it */
        lg_blas_threads(1);
#pragma omp parallel num_threads(x->threads)
        {
            team t = solo;
#ifdef _OPENMP
            t = (team){omp_get_thread_num(), omp_get_num_threads()};
#endif
            shard_forward(&t, &x->sh[0], x->m, pk, images, B, 0, block, logits);
        }
    } else {
        lg_blas_threads(S > 1 ? 1 : x->threads);
#pragma omp parallel for num_threads(S) schedule(static, 1) if (S > 1)
        for (int i = 0; i < S; i++) {
            int first, n;
            shard_range(x, i, B, &first, &n);
            shard_forward(&solo, &x->sh[i], x->m, pk, images + (size_t)first * img, n, x->training, block, logits);
        }
    }
    for (int i = 0; i < S; i++) {
        int first, n;
        shard_range(x, i, B, &first, &n);
        const shard *s = &x->sh[i];
        const float *src = logits ? s->logits : x->training ? s->x[block] : s->x[block % 2];
        memcpy(out + (size_t)first * row, src, (size_t)n * row * sizeof *out);
    }
    return LG_OK;
}

lg_status lg_forward(lg_ctx *x, float *logits, const float *images, int B)
{
    return forward_to(x, logits, images, B, x->m->cfg.depth, 1);
}

lg_status lg_forward_tokens(lg_ctx *x, float *tokens, const float *images, int B, int block)
{
    return forward_to(x, tokens, images, B, block, 0);
}

lg_status lg_forward_backward(lg_ctx *x, float *loss, float *logits, const float *images, const int *labels, int B,
                              const lg_loss_spec *ls)
{
    if (!x->training) return LG_ERR_INVALID;
    if (B < 1 || B > x->max_batch) return LG_ERR_RANGE;
    const lg_config *c = &x->m->cfg;
    int K = c->classes;
    for (int b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= K) return LG_ERR_RANGE;
    size_t img = (size_t)c->in_chans * c->img * c->img;
    int S = active_shards(x, B);
    const float *teacher = ls ? ls->teacher : NULL;
    float alpha = teacher ? ls->alpha : 0.0f, tau = teacher ? ls->tau : 1.0f;
    lg_blas_threads(S > 1 ? 1 : x->threads);
#pragma omp parallel for num_threads(S) schedule(static, 1) if (S > 1)
    for (int i = 0; i < S; i++) {
        int first, n;
        shard_range(x, i, B, &first, &n);
        shard *s = &x->sh[i];
        if (i > 0) memset(s->grads, 0, x->m->n * sizeof(float));
        shard_forward(&solo, s, x->m, NULL, images + (size_t)first * img, n, 1, c->depth, 0);
        memset(s->dlogits, 0, (size_t)n * K * sizeof(float));
        s->loss = 0.0;
        if (alpha < 1.0f)
            s->loss += (1.0f - alpha) *
                       lg_cross_entropy(s->dlogits, s->logits, labels + first, n, K, (1.0f - alpha) / (float)B);
        if (teacher)
            s->loss +=
                alpha * lg_distill_kl(s->dlogits, s->logits, teacher + (size_t)first * K, n, K, tau, alpha / (float)B);
        shard_backward(s, x->m, n);
        if (logits) memcpy(logits + (size_t)first * K, s->logits, (size_t)n * K * sizeof *logits);
    }
    /* sum the other shards' gradients into the model's */
    float *g = x->m->grads;
    size_t n = x->m->n;
    if (S > 1) {
#pragma omp parallel for num_threads(S) schedule(static)
        for (size_t j = 0; j < n; j++)
            for (int i = 1; i < S; i++) g[j] += x->sh[i].grads[j];
    }
    double total = 0.0;
    for (int i = 0; i < S; i++) total += x->sh[i].loss;
    if (loss) *loss = (float)(total / B);
    return LG_OK;
}
