/* learngene.h - public interface of liblearngene, the numerics core.
 *
 * liblearngene forward-passes, back-propagates and trains Vision Transformers
 * on the CPU (timm parameter names, pre-LN, erf GELU, pool "token" or "avg"),
 * reads and writes safetensors and IDX, and counts FLOPs and parameters.
 * It depends on libc, libm, a CBLAS, zlib (gzip'd IDX files) and the
 * compiler's OpenMP runtime only: no HTTP, SQL or event loop, and no global
 * state (tests/test_edge_example.sh checks the shared library's NEEDED
 * list). Every function that can fail returns an lg_status and, when err is
 * not NULL, writes a sentence for a person into err[0..errlen).
 */
#ifndef LEARNGENE_H
#define LEARNGENE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

typedef enum {
    LG_OK = 0,
    LG_ERR_NOMEM = 1,    /* allocation failed */
    LG_ERR_INVALID = 2,  /* an argument or model description is invalid */
    LG_ERR_IO = 3,       /* a file could not be read or written */
    LG_ERR_FORMAT = 4,   /* bytes are not a valid safetensors / IDX / JSON */
    LG_ERR_MISMATCH = 5, /* tensors do not match the model they are loaded into */
    LG_ERR_RANGE = 6,    /* a size or value is outside what is supported */
} lg_status;

const char *lg_strerror(lg_status s);

/* ---------------------------------------------------------- model shapes */

typedef enum { LG_POOL_TOKEN = 0, LG_POOL_AVG = 1 } lg_pool;

/* The model description (SPEC §2). Serialized as JSON in safetensors
 * __metadata__["config"]:
 * {"arch":"vit","img":28,"in_chans":1,"patch":4,"dim":192,"depth":6,
 *  "heads":3,"mlp":768,"classes":10,"pool":"avg"}
 * A stitched model (Learngene Pool, SN-Net style) changes width once:
 * blocks [0, stitch_at) have dim/heads/mlp, a Linear "stitch" (dim2, dim)
 * maps the tokens, blocks [stitch_at, depth) and the final norm and head
 * have dim2/heads2/mlp2. stitch_at = 0 means a plain ViT; the JSON then
 * carries "stitch_at","dim2","heads2","mlp2" too. */
typedef struct {
    int img, in_chans, patch;
    int dim, depth, heads, mlp;
    int classes;
    lg_pool pool;
    int stitch_at, dim2, heads2, mlp2;
} lg_config;

/* Width, heads and MLP size of block l. */
void lg_config_block(const lg_config *c, int l, int *dim, int *heads, int *mlp);
/* Width of the tokens leaving the last block (dim2 when stitched). */
int lg_config_out_dim(const lg_config *c);

/* Upper bounds a config must respect (so no request can exhaust memory by
 * asking for a huge model); lg_config_validate checks them. */
#define LG_MAX_IMG 1024
#define LG_MAX_CHANS 16
#define LG_MAX_DIM 4096
#define LG_MAX_DEPTH 256
#define LG_MAX_HEADS 64
#define LG_MAX_MLP 16384
#define LG_MAX_CLASSES 100000
#define LG_MAX_TOKENS 4097

lg_status lg_config_validate(const lg_config *c, char *err, size_t errlen);
/* Parses the JSON description; unknown keys other than "name"/"arch" are an
 * error naming the key. Missing "pool" means "token"; missing "mlp" 4·dim. */
lg_status lg_config_from_json(lg_config *c, const char *json, size_t len, char *err, size_t errlen);
/* Writes the canonical JSON description; returns the length that the full
 * string needs (like snprintf). */
int lg_config_to_json(const lg_config *c, char *buf, size_t buflen);

int lg_config_tokens(const lg_config *c);  /* T = patches (+1 with cls) */
int lg_config_patches(const lg_config *c); /* (img/patch)^2 */

/* FLOPs (fvcore convention: one multiply-add = 1 FLOP, all matmuls incl.
 * QKᵀ and A·V, plus 5·numel per affine LayerNorm) and parameter count. */
double lg_config_flops(const lg_config *c);
size_t lg_config_params(const lg_config *c);

/* --------------------------------------------------------- random numbers */

typedef struct {
    uint64_t s[4];
} lg_rng; /* xoshiro256** */

void lg_rng_seed(lg_rng *r, uint64_t seed);
uint64_t lg_rng_next(lg_rng *r);
float lg_rng_uniform(lg_rng *r);                 /* [0,1) */
float lg_rng_normal(lg_rng *r);                  /* N(0,1) */
float lg_rng_trunc_normal(lg_rng *r, float std); /* N(0,std²) cut at ±2 (timm: absolute a=-2,b=2) */
uint32_t lg_rng_below(lg_rng *r, uint32_t n);    /* uniform in [0,n) */

/* ------------------------------------------------------------ parameters */

#define LG_MAX_NAME 96

/* One named tensor inside a model's contiguous parameter buffer. */
typedef struct {
    char name[LG_MAX_NAME];
    int ndim;
    int64_t shape[4];
    size_t offset; /* in floats from the start of the buffer */
    size_t numel;
    int decay; /* 1 when AdamW weight decay applies (matrix weights only) */
} lg_tensor_info;

/* Pointers into one parameter-shaped buffer (params, grads, AdamW m or v). */
typedef struct {
    float *norm1_w, *norm1_b;
    float *qkv_w, *qkv_b;   /* (3D, D), (3D) */
    float *proj_w, *proj_b; /* (D, D), (D) */
    float *norm2_w, *norm2_b;
    float *fc1_w, *fc1_b; /* (M, D), (M) */
    float *fc2_w, *fc2_b; /* (D, M), (D) */
} lg_block_view;

typedef struct {
    float *patch_w, *patch_b;   /* (D, C, p, p), (D) */
    float *cls_token;           /* (1,1,D) or NULL with pool avg */
    float *pos_embed;           /* (1, T, D) */
    lg_block_view *blocks;      /* depth entries */
    float *stitch_w, *stitch_b; /* (dim2, dim), (dim2) or NULL when not stitched */
    float *norm_w, *norm_b;     /* final norm (token) or fc_norm (avg) */
    float *head_w, *head_b;     /* (K, D), (K) */
} lg_param_view;

/* The tensor table of a config, in timm order; *out is malloc'd. */
lg_status lg_tensor_table(const lg_config *c, lg_tensor_info **out, int *n, size_t *total, char *err, size_t errlen);

typedef struct lg_model lg_model;

/* A model: config, tensor table, parameter buffer (and, once training is
 * enabled, gradient and AdamW buffers of the same layout). */
lg_status lg_model_new(lg_model **out, const lg_config *c, char *err, size_t errlen);
void lg_model_free(lg_model *m);
const lg_config *lg_model_config(const lg_model *m);
/* The parameters, writable: an inference context notices the writes and
 * repacks its copy of the weights before its next forward pass. */
float *lg_model_params(lg_model *m);
/* The parameters, read-only (no repacking follows). */
const float *lg_model_weights(const lg_model *m);
size_t lg_model_nparams(const lg_model *m);
const lg_tensor_info *lg_model_tensors(const lg_model *m, int *n);
const lg_tensor_info *lg_model_find(const lg_model *m, const char *name);
/* Views into params / grads (grads NULL before lg_model_enable_training). */
const lg_param_view *lg_model_pview(const lg_model *m);
const lg_param_view *lg_model_gview(const lg_model *m);
float *lg_model_grads(lg_model *m);
/* AdamW's first and second moments (lg_model_nparams floats each, same
 * layout as the parameters), for checkpoints; NULL before training is
 * enabled. */
lg_status lg_model_adam_state(lg_model *m, float **first, float **second);
lg_status lg_model_enable_training(lg_model *m);
void lg_model_zero_grad(lg_model *m);

/* timm default init: Linear trunc_normal(.02) + zero bias, LayerNorm (1, 0),
 * pos_embed trunc_normal(.02), cls_token normal(1e-6), patch conv like
 * PyTorch's Conv2d default (kaiming-uniform a=√5 → U(±1/√fan_in)). */
void lg_model_init(lg_model *m, uint64_t seed);
/* Re-initializes only the classifier head (new task, different classes). */
void lg_model_init_head(lg_model *m, uint64_t seed);

/* ------------------------------------------------------- forward/backward */

/* A context runs forward and backward passes of one model for batches of at
 * most max_batch images, using up to `threads` CPU threads (the batch is split
 * into shards, each with its own activation arena; BLAS runs single-threaded
 * inside a shard, or with all threads when there is one shard). */
typedef struct lg_ctx lg_ctx;

lg_status lg_ctx_new(lg_ctx **out, lg_model *m, int max_batch, int threads, int training, char *err, size_t errlen);
void lg_ctx_free(lg_ctx *x);
/* Bytes held by the context's activation arenas. */
size_t lg_ctx_bytes(const lg_ctx *x);

/* images (B, C, H, W) float32 → logits (B, K). */
lg_status lg_forward(lg_ctx *x, float *logits, const float *images, int B);
/* The tokens entering block `block` (0 … depth; depth = leaving the last),
 * (B, T, width) — features, and stitch calibration. */
lg_status lg_forward_tokens(lg_ctx *x, float *tokens, const float *images, int B, int block);

/* Training step pieces. lg_forward_backward runs forward, the loss and
 * backward, accumulating into the model's grads (call lg_model_zero_grad
 * first). Loss: (1-alpha)·CE(labels) + alpha·τ²·KL(softmax(t/τ) ‖ softmax(s/τ))
 * with teacher logits (B, K) when teacher != NULL (alpha ignored without it).
 * Returns the mean loss over the batch in *loss and logits when non-NULL. */
typedef struct {
    const float *teacher; /* (B, K) or NULL */
    float alpha;          /* weight of the distillation term */
    float tau;            /* temperature */
} lg_loss_spec;

lg_status lg_forward_backward(lg_ctx *x, float *loss, float *logits, const float *images, const int *labels, int B,
                              const lg_loss_spec *ls);

/* -------------------------------------------------------------- losses */

/* Sum over B rows of the cross-entropy of K logits; dlogits (B,K), when not
 * NULL, gets += scale · ∂sum/∂logits (scale 1/B_total gives the mean's). */
double lg_cross_entropy(float *dlogits, const float *logits, const int *labels, int B, int K, float scale);
/* Sum over rows of τ²·KL(softmax(t/τ) ‖ softmax(s/τ)); dlogits += scale · ∂/∂s. */
double lg_distill_kl(float *dlogits, const float *student, const float *teacher, int B, int K, float tau, float scale);

/* ------------------------------------------------------------ optimizer */

typedef struct {
    float lr;     /* peak learning rate */
    float min_lr; /* floor of the cosine */
    float beta1, beta2, eps;
    float weight_decay; /* decoupled; applied to tensors with decay = 1 */
    long warmup_steps;
    long total_steps;
    float clip_norm; /* global gradient norm clip; 0 = off */
} lg_adamw_config;

void lg_adamw_defaults(lg_adamw_config *o);
/* Learning rate at `step` (0-based): linear warm-up, then cosine to min_lr. */
float lg_lr_at(const lg_adamw_config *o, long step);
/* One AdamW update of all parameters with their grads; step is 0-based. */
lg_status lg_adamw_step(lg_model *m, const lg_adamw_config *o, long step, float *lr_out);

/* ------------------------------------------------------------- training */

typedef struct lg_dataset lg_dataset;

/* What a training run reports every log_every steps (and at the end). */
typedef struct {
    long step, total_steps; /* steps done so far, steps planned */
    int epoch;
    float loss; /* mean loss over the steps since the last report */
    float lr;
    double img_per_s; /* over the steps since the last report */
    double elapsed_s, eta_s;
} lg_train_progress;

typedef struct {
    int batch;               /* images per step */
    long steps;              /* optimizer steps */
    int threads;             /* CPU threads for forward/backward */
    uint64_t seed;           /* shuffling and augmentation */
    int hflip;               /* random horizontal flips */
    lg_adamw_config opt;     /* total_steps is set from steps */
    const lg_model *teacher; /* distill from this model's logits when set */
    float alpha, tau;        /* distillation weight and temperature */
    int log_every;           /* steps between progress reports; 0 = only the last */
    /* Called with each report; a non-zero return stops the run early
     * (the model keeps what it has learned so far). */
    int (*progress)(void *user, const lg_train_progress *p);
    void *user;
    /* Resume: the run starts at this step of the `steps` planned (the
     * schedule and the data order continue where a run stopped; restore
     * the parameters and lg_model_adam_state first). 0 = from the start. */
    long start_step;
} lg_train_opts;

/* Sensible defaults: batch 64, 1 thread, AdamW defaults, 5% warm-up, log every 50. */
void lg_train_defaults(lg_train_opts *o);
/* Trains m on ds (labels must be < the model's classes). */
lg_status lg_train(lg_model *m, const lg_dataset *ds, const lg_train_opts *o, char *err, size_t errlen);
/* Top-1 accuracy of m on ds; loss (mean CE) too when loss != NULL. */
lg_status lg_evaluate(lg_model *m, const lg_dataset *ds, int batch, int threads, double *accuracy, double *loss,
                      char *err, size_t errlen);

/* ---------------------------------------------------------- safetensors */

/* Element types. LG_I8 is int8 with per-output-channel symmetric scales, a
 * layout for whole files (lg_st_serialize with LG_I8):
 *  - every tensor with at least 2 dimensions whose first dimension is at
 *    least 2 (a Linear or Conv weight: output channels first) is stored as
 *    "I8" q, with an "F32" companion "<name>:scale" of shape [shape[0]];
 *    for output channel o, scale[o] = max|w[o,…]| / 127 (1 when that is 0)
 *    and q = round(w / scale[o]) in [-127, 127], so w ≈ q · scale[o] within
 *    scale[o] / 2;
 *  - every other tensor (biases, norms, pos_embed (1,T,D), cls_token) stays
 *    F32;
 *  - __metadata__["quantization"] = LG_I8_QUANTIZATION names the layout.
 * The reader requires that metadata, a companion for every I8 tensor (F32,
 * shape [shape[0]], every scale finite and > 0) and an owner for every
 * companion; it then folds each companion into its I8 tensor (lg_st_tensor
 * .scale): lg_st_count, lg_st_get and lg_st_find list only the weights, and
 * lg_st_to_f32 dequantizes, so every loader reads int8 files unchanged. */
typedef enum { LG_F32 = 0, LG_F16 = 1, LG_BF16 = 2, LG_I8 = 3 } lg_dtype;

#define LG_I8_QUANTIZATION "int8-per-channel-symmetric"
#define LG_I8_SCALE_SUFFIX ":scale"

const char *lg_dtype_name(lg_dtype d);          /* "F32", "F16", "BF16", "I8" */
int lg_dtype_parse(const char *s, lg_dtype *d); /* 0 on success */
size_t lg_dtype_size(lg_dtype d);               /* bytes per element */

/* A parsed safetensors file held in memory (or a view of caller memory). */
typedef struct lg_st lg_st;

typedef struct {
    const char *name;
    lg_dtype dtype;
    int ndim;
    int64_t shape[8];
    const uint8_t *data; /* little-endian, unaligned; nbytes long */
    size_t nbytes;
    /* LG_I8: the shape[0] per-output-channel scales, little-endian float32
     * (the "<name>:scale" companion's data); NULL for other dtypes. */
    const uint8_t *scale;
} lg_st_tensor;

/* Validates and parses `len` bytes (copied when copy != 0, else borrowed and
 * the caller keeps them alive). Every header length, offset, dtype and shape is
 * checked against overflow and the buffer size. */
lg_status lg_st_parse(lg_st **out, const uint8_t *buf, size_t len, int copy, char *err, size_t errlen);
lg_status lg_st_read_file(lg_st **out, const char *path, char *err, size_t errlen);
void lg_st_free(lg_st *st);
int lg_st_count(const lg_st *st);
const lg_st_tensor *lg_st_get(const lg_st *st, int i);
const lg_st_tensor *lg_st_find(const lg_st *st, const char *name);
/* __metadata__ value for key, or NULL. */
const char *lg_st_meta(const lg_st *st, const char *key);
int lg_st_meta_count(const lg_st *st);
void lg_st_meta_get(const lg_st *st, int i, const char **key, const char **value);
/* Converts a tensor to float32 (out holds numel floats); I8 tensors are
 * dequantized with their scales. */
void lg_st_to_f32(const lg_st_tensor *t, float *out);

/* Writer: tensors from float32 memory converted to dtype. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data;
} lg_st_in;

typedef struct {
    const char *key, *value;
} lg_st_kv;

/* Serializes to a malloc'd buffer (*out, *outlen). With LG_I8 the file has
 * the int8 layout above (the writer adds the "quantization" metadata, so
 * meta may not hold that key, and refuses NaN or infinite weights). */
lg_status lg_st_serialize(uint8_t **out, size_t *outlen, const lg_st_in *t, int n, const lg_st_kv *meta, int nmeta,
                          lg_dtype dtype, char *err, size_t errlen);
lg_status lg_st_write_file(const char *path, const lg_st_in *t, int n, const lg_st_kv *meta, int nmeta, lg_dtype dtype,
                           char *err, size_t errlen);

/* float32 <-> half / bfloat16 (round to nearest even; NaN stays NaN). */
uint16_t lg_f32_to_f16(float f);
float lg_f16_to_f32(uint16_t h);
uint16_t lg_f32_to_bf16(float f);
float lg_bf16_to_f32(uint16_t h);

/* Model <-> safetensors: config in __metadata__["config"], plus extra
 * metadata pairs (lineage). Loading checks every tensor name and shape. */
lg_status lg_model_save(const lg_model *m, const char *path, lg_dtype dtype, const lg_st_kv *meta, int nmeta, char *err,
                        size_t errlen);
lg_status lg_model_from_st(lg_model **out, const lg_st *st, char *err, size_t errlen);
lg_status lg_model_load(lg_model **out, const char *path, char *err, size_t errlen);

/* Model -> ONNX (IR version 8, opset 17; docs/edge.md): input "images"
 * float32 (N, C, H, W), normalized like the training data, output "logits"
 * (N, K), the batch N dynamic; the same forward pass as lg_forward
 * (LayerNormalization, GELU through Erf). metadata_props: "config" (the JSON
 * description) and the meta pairs (lineage; a "config" among them is
 * skipped). *out is malloc'd, *len bytes. A model past protobuf's 2 GiB
 * limit is LG_ERR_RANGE. The save variant replaces path atomically. */
lg_status lg_model_to_onnx(const lg_model *m, const lg_st_kv *meta, int nmeta, uint8_t **out, size_t *len, char *err,
                           size_t errlen);
lg_status lg_model_save_onnx(const lg_model *m, const char *path, const lg_st_kv *meta, int nmeta, char *err,
                             size_t errlen);

/* ------------------------------------------------------------ learngenes */

/* A learngene: the compact, inheritable part of a trained ViT from which
 * descendants of any depth are grown (SPEC §1).
 *  - LG_GENE_TLEG: θ_A and θ_B for every block tensor; a descendant of depth
 *    L gets block i = θ_A + (i/L)·θ_B. Stored as a depth-2 model whose block 0
 *    is θ_A and block 1 θ_B (so training, saving and optimizer state reuse the
 *    model code), plus the copied non-block tensors. File names:
 *    learngene.A.<block tensor>, learngene.B.<block tensor>, patch_embed.*, …
 *  - LG_GENE_INHERIT: the last k blocks of an ancestry model (the original
 *    Learngene's "integral layers"); a descendant of depth L ≥ k stacks L-k
 *    freshly initialized blocks (and fresh embedding, norm and head) under
 *    them. Stored as a depth-k model. */
typedef enum { LG_GENE_TLEG = 1, LG_GENE_INHERIT = 2 } lg_gene_kind;

typedef struct {
    lg_gene_kind kind;
    lg_model *m;
    int aux_depth; /* TLEG: depth of the auxiliary network it was trained in;
                      inherit: depth of the ancestry model */
} lg_gene;

const char *lg_gene_kind_name(lg_gene_kind k); /* "tleg", "inherit" */
/* A fresh TLEG learngene for descendants shaped like c (c->depth = L_aux):
 * θ_A initialized like a normal block, θ_B zero. */
lg_status lg_gene_tleg_new(lg_gene *g, const lg_config *c, uint64_t seed, char *err, size_t errlen);
/* The last k blocks of ancestry as an inherit learngene. */
lg_status lg_gene_inherit(lg_gene *g, const lg_model *ancestry, int k, char *err, size_t errlen);
void lg_gene_free(lg_gene *g);
/* The config of the descendant of depth `depth` and `classes` classes. */
lg_status lg_gene_config(lg_config *out, const lg_gene *g, int depth, int classes, char *err, size_t errlen);
/* Smallest and largest depth the learngene grows: TLEG 1…2·L_aux (the
 * formula interpolates for any depth, but depths far beyond the auxiliary
 * network are untested, so they are not offered), inherit k…2·L_ancestry. */
void lg_gene_depths(const lg_gene *g, int *min_depth, int *max_depth);
/* Grows a descendant: depth ≥ the minimum, classes ≥ 1 (the head is copied
 * when classes equal the learngene's, else freshly initialized from seed;
 * for a new task with as many classes, call lg_model_init_head after). */
lg_status lg_gene_expand(lg_model **out, const lg_gene *g, int depth, int classes, uint64_t seed, char *err,
                         size_t errlen);
/* TLEG only: writes θ_A + (i/L)·θ_B into an existing model of any depth L
 * with the learngene's widths, and the copied tensors (head too when the
 * classes match). */
lg_status lg_tleg_expand_into(lg_model *dst, const lg_gene *g, char *err, size_t errlen);
/* TLEG only: the tied-weight gradients from an expanded model's grads:
 * dθ_A = Σ_i dθ_i, dθ_B = Σ_i (i/L)·dθ_i, shared tensors' grads copied
 * (overwrites the learngene's grads; enables them if needed). */
void lg_tleg_fold_grads(lg_gene *g, const lg_model *aux);
/* Trains a TLEG learngene through its auxiliary network of depth
 * g->aux_depth by soft distillation from teacher (o->teacher, o->alpha,
 * o->tau; alpha 1 = KL only, as in the paper). Gradients of the tied
 * weights: dθ_A = Σ_i dθ_i, dθ_B = Σ_i (i/L_aux)·dθ_i. */
lg_status lg_tleg_train(lg_gene *g, const lg_dataset *ds, const lg_train_opts *o, char *err, size_t errlen);
/* Parameters stored by the learngene (what must be kept to grow any size). */
size_t lg_gene_params(const lg_gene *g);

lg_status lg_gene_save(const lg_gene *g, const char *path, lg_dtype dtype, const lg_st_kv *meta, int nmeta, char *err,
                       size_t errlen);
lg_status lg_gene_from_st(lg_gene *g, const lg_st *st, char *err, size_t errlen);
lg_status lg_gene_load(lg_gene *g, const char *path, char *err, size_t errlen);

/* ------------------------------------------------------- learngene pool */

/* A Learngene Pool (Shi et al., AAAI 2024): a few learngene instances - ViTs
 * of one depth and input shape but different widths, each distilled from the
 * same ancestry - and stitch layers joining the first k blocks of a narrower
 * instance to blocks k… of a wider one (SN-Net style). Every (instance) and
 * every (narrow, k, wide) is a configuration with its own FLOPs and params. */
#define LG_GENEPOOL_MAX 8
#define LG_GENEPOOL_NAME 32

typedef struct {
    int from, to, at; /* instance indexes; at = 0: instance `from` alone */
} lg_genepool_cfg;

typedef struct {
    int from, to, at;
    float *w, *b; /* (dim_to, dim_from), (dim_to) */
} lg_stitch;

typedef struct {
    int n;
    char names[LG_GENEPOOL_MAX][LG_GENEPOOL_NAME];
    lg_model *inst[LG_GENEPOOL_MAX]; /* ordered by width, narrowest first */
    int nstitch;
    lg_stitch *stitches; /* every (a < b, 1 ≤ k < depth) */
} lg_genepool;

/* Takes ownership of the n instances (freed on failure too); they must share
 * img, in_chans, patch, depth, classes and pool and differ in width. All
 * stitches start at zero; lg_genepool_init_stitches fits them. */
lg_status lg_genepool_new(lg_genepool *p, lg_model **inst, const char *const *names, int n, char *err, size_t errlen);
void lg_genepool_free(lg_genepool *p);
/* All configurations: instances alone, then every stitch. Returns the count
 * (out may be NULL to count). */
int lg_genepool_configs(const lg_genepool *p, lg_genepool_cfg *out, int max);
lg_status lg_genepool_config(lg_config *out, const lg_genepool *p, const lg_genepool_cfg *c, char *err, size_t errlen);
/* The configuration as one (possibly stitched) model with its weights. */
lg_status lg_genepool_build(lg_model **out, const lg_genepool *p, const lg_genepool_cfg *c, char *err, size_t errlen);
/* Fits every stitch by least squares on calibration images (N, C, H, W):
 * W = argmin ‖[X 1]·W − Y‖ with X the tokens leaving block k-1 of the
 * narrow instance and Y the tokens entering block k of the wide one
 * (LAPACK sgels). */
lg_status lg_genepool_init_stitches(lg_genepool *p, const float *images, int n, int threads, char *err, size_t errlen);
/* One least-squares fit: X (rows, din), Y (rows, dout) → w (dout, din), b (dout). */
lg_status lg_stitch_lstsq(float *w, float *b, const float *X, const float *Y, size_t rows, int din, int dout, char *err,
                          size_t errlen);
/* Fine-tunes the whole pool (the paper's last stage): each step trains one
 * configuration drawn uniformly at random with loss (1-alpha)·CE +
 * alpha·KD from o->teacher (the paper uses 0.5 / 0.5), its gradients flowing
 * into the instances and the stitch it uses; AdamW updates only those. */
lg_status lg_genepool_train(lg_genepool *p, const lg_dataset *ds, const lg_train_opts *o, char *err, size_t errlen);
/* Parameters stored by the pool (instances and stitches). */
size_t lg_genepool_params(const lg_genepool *p);
/* Files: instances.{name}.<tensor>, stitches.{from}.{k}.{to}.{k}.weight/bias,
 * __metadata__ "genepool" = names in width order, "config.{name}" = JSON. */
lg_status lg_genepool_save(const lg_genepool *p, const char *path, lg_dtype dtype, const lg_st_kv *meta, int nmeta,
                           char *err, size_t errlen);
lg_status lg_genepool_from_st(lg_genepool *p, const lg_st *st, char *err, size_t errlen);
lg_status lg_genepool_load(lg_genepool *p, const char *path, char *err, size_t errlen);

/* --------------------------------------------------------- budget solver */

/* Something that grows models: a learngene (later: a pool configuration
 * set) with its widths (base.depth ignored) and the depths it offers. */
typedef struct {
    const char *id;
    lg_config base;
    int min_depth, max_depth;
} lg_solver_source;

/* A measured accuracy of source `source` grown to `depth`. */
typedef struct {
    int source;
    int depth;
    double accuracy;
} lg_solver_eval;

/* The request: limits ≤ 0 mean "no limit"; depth and width bounds 0 mean
 * "any". At least one of max_flops / max_params must be set. */
typedef struct {
    double max_flops, max_params;
    int min_depth, max_depth;
    int min_dim, max_dim;
} lg_budget;

typedef struct {
    int source, depth;
    double flops;
    size_t params;
    double accuracy; /* NaN when no evaluation exists */
    int considered;  /* configurations that fit the budget */
    char reason[256];
} lg_solution;

/* Picks the best configuration that fits: the highest measured accuracy
 * among fitting evaluated configurations (ties: fewer FLOPs); when none of
 * the fitting ones is evaluated, the largest by FLOPs (capacity). When none
 * fits, LG_ERR_RANGE with a message naming the smallest reachable budget. */
lg_status lg_solve(lg_solution *out, const lg_solver_source *src, int nsrc, const lg_solver_eval *ev, int nev,
                   const lg_budget *b, char *err, size_t errlen);

/* ----------------------------------------------------- IDX / datasets */

/* A labelled image set in memory: n images of c×h×w float32 (normalized)
 * and their integer labels. */
struct lg_dataset {
    int n, c, h, w;
    float *images; /* n·c·h·w */
    int *labels;   /* n */
};

/* Parses raw (uncompressed) IDX bytes: unsigned-byte element type, 1 to 4
 * dims (images n×h×w or n×c×h×w, labels n). Dims and counts are validated
 * against len with overflow checks. */
typedef struct {
    int ndim;
    uint32_t dims[4];
    const uint8_t *data; /* points into buf */
    size_t count;        /* product of dims */
} lg_idx;

lg_status lg_idx_parse(lg_idx *out, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Builds a dataset from parsed image and label IDX: pixels scaled to [0,1]
 * then (x - mean) / std. */
lg_status lg_dataset_from_idx(lg_dataset *ds, const lg_idx *images, const lg_idx *labels, float mean, float std,
                              char *err, size_t errlen);
void lg_dataset_free(lg_dataset *ds);
/* Keeps only rows whose label is in classes[0..nclasses) (distinct), relabelled
 * to the index within classes when relabel != 0. A filter that keeps no row
 * is an error; on error the dataset is unchanged. */
lg_status lg_dataset_filter(lg_dataset *ds, const int *classes, int nclasses, int relabel, char *err, size_t errlen);
/* Keeps the first-after-shuffle n rows of every class (seeded; all rows of a
 * class with fewer), in their original order. Labels must be < nclasses. */
lg_status lg_dataset_per_class(lg_dataset *ds, int n, int nclasses, uint64_t seed, char *err, size_t errlen);

/* Reads a whole file into a malloc'd *buf (the caller frees it; NULL and
 * *len 0 on failure), gunzipping it when it starts with the gzip magic
 * (multi-member streams are joined, other trailing bytes are an error);
 * refuses files whose (uncompressed) size exceeds cap bytes. */
lg_status lg_file_read(uint8_t **buf, size_t *len, const char *path, size_t cap, char *err, size_t errlen);
/* The same for bytes in memory (an upload): a copy, gunzipped when the
 * bytes are gzip; `what` names them in messages. */
lg_status lg_bytes_read(uint8_t **buf, size_t *len, const uint8_t *in, size_t inlen, const char *what, size_t cap,
                        char *err, size_t errlen);
/* Loads an image IDX file and a label IDX file (raw or .gz). */
lg_status lg_dataset_load(lg_dataset *ds, const char *images_path, const char *labels_path, float mean, float std,
                          char *err, size_t errlen);
/* Fashion-MNIST from dir (NULL: LG_FMNIST_DIR, Debian's), train or test
 * split, .gz or raw files, normalized with LG_FMNIST_MEAN/STD. */
lg_status lg_fmnist_load(lg_dataset *ds, const char *dir, int train, char *err, size_t errlen);

#define LG_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define LG_FMNIST_MEAN 0.2860f
#define LG_FMNIST_STD 0.3530f

#ifdef __cplusplus
}
#endif
#endif
