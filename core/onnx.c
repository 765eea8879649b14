/* onnx.c - a model as ONNX: a small protobuf encoder and the ViT forward
 * pass of vit.c written as an ONNX graph (IR version 8, opset 17).
 * Calls libc only (plus lg_config_* and the model's parameter views); no
 * protobuf library: the handful of messages ONNX needs are written by hand.
 *
 * The encoder (protobuf wire format, as documented by protobuf's
 * "Encoding" page):
 *  - every field is a key varint (field_number << 3 | wire_type) and a
 *    value; wire types used: 0 VARINT (int32, int64, enums: base-128, low
 *    group first, negatives as 10-byte two's complement), 2 LEN (a varint
 *    byte count, then the bytes: strings, bytes, sub-messages) and 5 I32
 *    (a float, 4 bytes little-endian);
 *  - repeated fields are written one key per element (never packed: every
 *    parser accepts that for int64 lists);
 *  - a sub-message is opened with its key (pb_open), its fields are
 *    appended, and pb_close moves the body forward by the size of its
 *    length varint and writes the length in front (minimal varints only;
 *    each byte moves once per enclosing message, so about three times the
 *    weights in all);
 *  - tensor values go in raw_data (float32 / int64, little-endian, written
 *    byte by byte so the host's byte order does not matter).
 *
 * Field numbers used (onnx.proto, the proto2 file of onnx/onnx):
 *  ModelProto           1 ir_version, 2 producer_name, 6 doc_string,
 *                       7 graph, 8 opset_import, 14 metadata_props
 *  OperatorSetIdProto   1 domain, 2 version
 *  StringStringEntry    1 key, 2 value
 *  GraphProto           1 node, 2 name, 5 initializer, 10 doc_string,
 *                       11 input, 12 output
 *  NodeProto            1 input, 2 output, 3 name, 4 op_type, 5 attribute
 *  AttributeProto       1 name, 2 f, 3 i, 8 ints, 20 type
 *                       (type: 1 FLOAT, 2 INT, 7 INTS)
 *  TensorProto          1 dims, 2 data_type (1 FLOAT, 7 INT64), 8 name,
 *                       9 raw_data
 *  ValueInfoProto       1 name, 2 type
 *  TypeProto            1 tensor_type;  TypeProto.Tensor 1 elem_type, 2 shape
 *  TensorShapeProto     1 dim;  Dimension 1 dim_value, 2 dim_param
 *
 * The graph (docs/edge.md draws it): Conv patch embedding → Reshape /
 * Transpose to tokens → [Concat the class token expanded to the batch] →
 * Add pos_embed → per block: LayerNormalization, MatMul + Add (qkv),
 * Reshape / Transpose / Gather into q, k, v per head, MatMul q·kᵀ, Mul
 * scale, Softmax, MatMul ·v, Transpose / Reshape, MatMul + Add (proj),
 * Add residual, LayerNormalization, MatMul + Add (fc1), GELU as
 * 0.5·x·(1 + Erf(x/√2)), MatMul + Add (fc2), Add residual → [stitch
 * MatMul + Add] → Gather token 0 (pool token) or ReduceMean over tokens
 * (pool avg) → LayerNormalization (norm / fc_norm) → MatMul + Add (head).
 * Linear weights are stored transposed, (in, out), so MatMul applies them
 * to (N, T, in) tokens; every other tensor keeps its timm name and shape.
 * The batch stays dynamic ("N"): Reshape shapes use 0 (copy) and -1.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "layers.h"

#define ONNX_IR_VERSION 8
#define ONNX_OPSET 17
#define ONNX_MAX_BYTES ((size_t)INT32_MAX) /* protobuf's limit for one message */

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_I32 = 5 };
enum { MODEL_IR = 1, MODEL_PRODUCER = 2, MODEL_DOC = 6, MODEL_GRAPH = 7, MODEL_OPSET = 8, MODEL_META = 14 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INIT = 5, GRAPH_DOC = 10, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP = 4, NODE_ATTR = 5 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_INTS = 7 };
enum { TENSOR_DIMS = 1, TENSOR_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW = 9 };
enum { DTYPE_FLOAT = 1, DTYPE_INT64 = 7 };
enum { VALUE_NAME = 1, VALUE_TYPE = 2 };
enum { TYPE_TENSOR = 1, TTENSOR_ELEM = 1, TTENSOR_SHAPE = 2, SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2 };

/* ------------------------------------------------------- protobuf writer */

/* An output buffer; after a failed allocation every write is a no-op and
 * oom stays set, so callers check once at the end. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
} pb;

/* n more bytes at the end of the buffer (len grows by n), or NULL. */
static uint8_t *pb_take(pb *b, size_t n)
{
    if (b->oom) return NULL;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

static int varint_encode(uint8_t out[10], uint64_t v)
{
    int n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static void pb_varint(pb *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = varint_encode(tmp, v);
    uint8_t *at = pb_take(b, (size_t)n);
    if (at) memcpy(at, tmp, (size_t)n);
}

static void pb_key(pb *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void pb_int(pb *b, int field, int64_t v)
{
    pb_key(b, field, WIRE_VARINT);
    pb_varint(b, (uint64_t)v);
}

static void put_u32le(uint8_t *d, uint32_t u)
{
    d[0] = (uint8_t)u;
    d[1] = (uint8_t)(u >> 8);
    d[2] = (uint8_t)(u >> 16);
    d[3] = (uint8_t)(u >> 24);
}

static void put_f32le(uint8_t *d, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_u32le(d, u);
}

static void pb_float(pb *b, int field, float f)
{
    pb_key(b, field, WIRE_I32);
    uint8_t *at = pb_take(b, 4);
    if (at) put_f32le(at, f);
}

static void pb_bytes(pb *b, int field, const void *data, size_t n)
{
    pb_key(b, field, WIRE_LEN);
    pb_varint(b, n);
    uint8_t *at = pb_take(b, n);
    if (at && n) memcpy(at, data, n);
}

static void pb_string(pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Opens a sub-message: returns where its body starts. */
static size_t pb_open(pb *b, int field)
{
    pb_key(b, field, WIRE_LEN);
    return b->len;
}

/* Closes the sub-message whose body starts at `start`: puts its length in
 * front of it. */
static void pb_close(pb *b, size_t start)
{
    if (b->oom) return;
    size_t body = b->len - start;
    uint8_t tmp[10];
    int n = varint_encode(tmp, body);
    if (!pb_take(b, (size_t)n)) return;
    memmove(b->p + start + n, b->p + start, body);
    memcpy(b->p + start, tmp, (size_t)n);
}

/* ------------------------------------------------------------ ONNX pieces */

/* A float32 initializer of ndim dims. With transpose, data is a (rows,
 * cols) = (dims[1], dims[0]) matrix written as its (dims[0], dims[1])
 * transpose. */
static void init_f32(pb *b, const char *name, const int64_t *dims, int ndim, const float *data, int transpose)
{
    size_t t = pb_open(b, GRAPH_INIT), n = 1;
    for (int d = 0; d < ndim; d++) {
        pb_int(b, TENSOR_DIMS, dims[d]);
        n *= (size_t)dims[d];
    }
    pb_int(b, TENSOR_TYPE, DTYPE_FLOAT);
    pb_string(b, TENSOR_NAME, name);
    pb_key(b, TENSOR_RAW, WIRE_LEN);
    pb_varint(b, n * 4);
    uint8_t *at = pb_take(b, n * 4);
    if (at) {
        if (transpose) {
            size_t rows = (size_t)dims[1], cols = (size_t)dims[0]; /* of data */
            for (size_t i = 0; i < cols; i++)
                for (size_t o = 0; o < rows; o++) put_f32le(at + 4 * (i * rows + o), data[o * cols + i]);
        } else {
            for (size_t i = 0; i < n; i++) put_f32le(at + 4 * i, data[i]);
        }
    }
    pb_close(b, t);
}

static void init_scalar(pb *b, const char *name, float v) { init_f32(b, name, NULL, 0, &v, 0); }

/* An int64 initializer: a vector of n values, or with vector 0 the scalar v[0]. */
static void init_int64(pb *b, const char *name, const int64_t *v, int n, int vector)
{
    size_t t = pb_open(b, GRAPH_INIT);
    if (vector) pb_int(b, TENSOR_DIMS, n);
    pb_int(b, TENSOR_TYPE, DTYPE_INT64);
    pb_string(b, TENSOR_NAME, name);
    pb_key(b, TENSOR_RAW, WIRE_LEN);
    pb_varint(b, (uint64_t)n * 8);
    uint8_t *at = pb_take(b, (size_t)n * 8);
    for (int i = 0; at && i < n; i++) {
        put_u32le(at + 8 * i, (uint32_t)((uint64_t)v[i] & 0xffffffffu));
        put_u32le(at + 8 * i + 4, (uint32_t)((uint64_t)v[i] >> 32));
    }
    pb_close(b, t);
}

static void init_i64(pb *b, const char *name, const int64_t *v, int n) { init_int64(b, name, v, n, 1); }
static void init_index(pb *b, const char *name, int64_t v) { init_int64(b, name, &v, 1, 0); }

/* A graph input or output: float32 tensor, dims[0] < 0 is the batch "N". */
static void value_info(pb *b, int field, const char *name, const int64_t *dims, int ndim)
{
    size_t v = pb_open(b, field);
    pb_string(b, VALUE_NAME, name);
    size_t ty = pb_open(b, VALUE_TYPE);
    size_t tt = pb_open(b, TYPE_TENSOR);
    pb_int(b, TTENSOR_ELEM, DTYPE_FLOAT);
    size_t sh = pb_open(b, TTENSOR_SHAPE);
    for (int d = 0; d < ndim; d++) {
        size_t dim = pb_open(b, SHAPE_DIM);
        if (dims[d] < 0)
            pb_string(b, DIM_PARAM, "N");
        else
            pb_int(b, DIM_VALUE, dims[d]);
        pb_close(b, dim);
    }
    pb_close(b, sh);
    pb_close(b, tt);
    pb_close(b, ty);
    pb_close(b, v);
}

/* Opens a NodeProto named after its output: op_type, nin inputs, one
 * output. Attributes follow (attr_*), then node_close. */
static size_t node_open(pb *b, const char *op, const char *out, int nin, const char *const *in)
{
    size_t n = pb_open(b, GRAPH_NODE);
    for (int i = 0; i < nin; i++) pb_string(b, NODE_INPUT, in[i]);
    pb_string(b, NODE_OUTPUT, out);
    pb_string(b, NODE_NAME, out);
    pb_string(b, NODE_OP, op);
    return n;
}

static void node_close(pb *b, size_t n) { pb_close(b, n); }

static void attr_int(pb *b, const char *name, int64_t v)
{
    size_t a = pb_open(b, NODE_ATTR);
    pb_string(b, ATTR_NAME, name);
    pb_int(b, ATTR_TYPE, ATTR_TYPE_INT);
    pb_int(b, ATTR_I, v);
    pb_close(b, a);
}

static void attr_ints(pb *b, const char *name, const int64_t *v, int n)
{
    size_t a = pb_open(b, NODE_ATTR);
    pb_string(b, ATTR_NAME, name);
    pb_int(b, ATTR_TYPE, ATTR_TYPE_INTS);
    for (int i = 0; i < n; i++) pb_int(b, ATTR_INTS, v[i]);
    pb_close(b, a);
}

static void attr_float(pb *b, const char *name, float v)
{
    size_t a = pb_open(b, NODE_ATTR);
    pb_string(b, ATTR_NAME, name);
    pb_int(b, ATTR_TYPE, ATTR_TYPE_FLOAT);
    pb_float(b, ATTR_F, v);
    pb_close(b, a);
}

/* A node without attributes. */
static void node(pb *b, const char *op, const char *out, int nin, const char *const *in)
{
    node_close(b, node_open(b, op, out, nin, in));
}

#define IN(...)                                                                                                        \
    (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), (const char *[]) { __VA_ARGS__ }
#define I64(...) (const int64_t[]){__VA_ARGS__}, (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* ------------------------------------------------------------ the graph */

typedef char vname[LG_MAX_NAME + 32];

static const char *name2(vname buf, const char *prefix, const char *suffix)
{
    snprintf(buf, sizeof(vname), "%s%s", prefix, suffix);
    return buf;
}

/* out = in·Wᵀ + bias for tokens (…, Kin): W (Kout, Kin) is stored as the
 * initializer "<prefix>.weight.T" (Kin, Kout), the bias as "<prefix>.bias". */
static void linear(pb *b, const char *out, const char *in, const char *prefix, const float *w, const float *bias,
                   int Kin, int Kout)
{
    vname wn, bn, mm;
    init_f32(b, name2(wn, prefix, ".weight.T"), I64(Kin, Kout), w, 1);
    init_f32(b, name2(bn, prefix, ".bias"), I64(Kout), bias, 0);
    node(b, "MatMul", name2(mm, out, "/matmul"), IN(in, wn));
    node(b, "Add", out, IN(mm, bn));
}

/* LayerNormalization over the last axis with eps 1e-6 (vit.c's LG_LN_EPS). */
static void layernorm(pb *b, const char *out, const char *in, const char *prefix, const float *w, const float *bias,
                      int D)
{
    vname wn, bn;
    init_f32(b, name2(wn, prefix, ".weight"), I64(D), w, 0);
    init_f32(b, name2(bn, prefix, ".bias"), I64(D), bias, 0);
    size_t n = node_open(b, "LayerNormalization", out, IN(in, wn, bn));
    attr_int(b, "axis", -1);
    attr_float(b, "epsilon", LG_LN_EPS);
    node_close(b, n);
}

static void transpose(pb *b, const char *out, const char *in, const int64_t *perm, int n)
{
    size_t t = node_open(b, "Transpose", out, IN(in));
    attr_ints(b, "perm", perm, n);
    node_close(b, t);
}

/* Block l: x (N,T,D) → out (N,T,D). */
static void block(pb *b, const char *out, const char *x, const lg_model *m, int l)
{
    const lg_config *c = &m->cfg;
    const lg_block_view *p = &m->pv.blocks[l];
    int D, H, M;
    lg_config_block(c, l, &D, &H, &M);
    int hd = D / H;
    char pre[48];
    snprintf(pre, sizeof pre, "blocks.%d.", l);
    vname n1, qkv, shp, heads, qkvt, q, k, v, kt, sc, scale, scs, att, ctx, ctxt, shp2, ao, proj, mid, n2, fc1, s2, erf,
        e1, gx, gelu, fc2, pfx;

    layernorm(b, name2(n1, pre, "norm1"), x, name2(pfx, pre, "norm1"), p->norm1_w, p->norm1_b, D);
    linear(b, name2(qkv, pre, "attn.qkv"), n1, name2(pfx, pre, "attn.qkv"), p->qkv_w, p->qkv_b, D, 3 * D);
    /* (N,T,3D) → (N,T,3,H,hd) → (3,N,H,T,hd): rows [0,D) q, [D,2D) k, [2D,3D) v; head h = h·hd… */
    init_i64(b, name2(shp, pre, "attn.heads_shape"), I64(0, 0, 3, H, hd));
    node(b, "Reshape", name2(heads, pre, "attn.qkv_heads"), IN(qkv, shp));
    transpose(b, name2(qkvt, pre, "attn.qkv_t"), heads, I64(2, 0, 3, 1, 4));
    const char *which[3] = {"attn.q", "attn.k", "attn.v"}, *idx[3] = {"const.i0", "const.i1", "const.i2"};
    char *dst[3] = {q, k, v};
    for (int i = 0; i < 3; i++) {
        size_t g = node_open(b, "Gather", name2(dst[i], pre, which[i]), IN(qkvt, idx[i]));
        attr_int(b, "axis", 0);
        node_close(b, g);
    }
    transpose(b, name2(kt, pre, "attn.k_t"), k, I64(0, 1, 3, 2));
    node(b, "MatMul", name2(sc, pre, "attn.scores"), IN(q, kt));
    init_scalar(b, name2(scale, pre, "attn.scale"), 1.0f / sqrtf((float)hd));
    node(b, "Mul", name2(scs, pre, "attn.scores_scaled"), IN(sc, scale));
    size_t sm = node_open(b, "Softmax", name2(att, pre, "attn.softmax"), IN(scs));
    attr_int(b, "axis", -1);
    node_close(b, sm);
    node(b, "MatMul", name2(ctx, pre, "attn.context"), IN(att, v));
    transpose(b, name2(ctxt, pre, "attn.context_t"), ctx, I64(0, 2, 1, 3));
    init_i64(b, name2(shp2, pre, "attn.merge_shape"), I64(0, 0, D));
    node(b, "Reshape", name2(ao, pre, "attn.merged"), IN(ctxt, shp2));
    linear(b, name2(proj, pre, "attn.proj"), ao, name2(pfx, pre, "attn.proj"), p->proj_w, p->proj_b, D, D);
    node(b, "Add", name2(mid, pre, "residual1"), IN(x, proj));

    layernorm(b, name2(n2, pre, "norm2"), mid, name2(pfx, pre, "norm2"), p->norm2_w, p->norm2_b, D);
    linear(b, name2(fc1, pre, "mlp.fc1"), n2, name2(pfx, pre, "mlp.fc1"), p->fc1_w, p->fc1_b, D, M);
    /* exact GELU: 0.5·x·(1 + erf(x/√2)) */
    node(b, "Div", name2(s2, pre, "mlp.gelu_div"), IN(fc1, "const.sqrt2"));
    node(b, "Erf", name2(erf, pre, "mlp.gelu_erf"), IN(s2));
    node(b, "Add", name2(e1, pre, "mlp.gelu_add"), IN(erf, "const.one"));
    node(b, "Mul", name2(gx, pre, "mlp.gelu_mul"), IN(fc1, e1));
    node(b, "Mul", name2(gelu, pre, "mlp.gelu"), IN(gx, "const.half"));
    linear(b, name2(fc2, pre, "mlp.fc2"), gelu, name2(pfx, pre, "mlp.fc2"), p->fc2_w, p->fc2_b, M, D);
    node(b, "Add", out, IN(mid, fc2));
}

static void graph(pb *b, const lg_model *m)
{
    const lg_config *c = &m->cfg;
    const lg_param_view *p = &m->pv;
    int D = c->dim, T = lg_config_tokens(c), L = c->depth, K = c->classes, cls = c->pool == LG_POOL_TOKEN;
    int Dout = lg_config_out_dim(c);
    size_t g = pb_open(b, MODEL_GRAPH);
    pb_string(b, GRAPH_NAME, "learngene_vit");
    pb_string(b, GRAPH_DOC,
              "Vision Transformer (timm names, pre-LN, exact GELU) exported by liblearngene: images (N,C,H,W) "
              "float32, normalized as in training, to logits (N,K).");
    value_info(b, GRAPH_INPUT, "images", I64(-1, c->in_chans, c->img, c->img));
    value_info(b, GRAPH_OUTPUT, "logits", I64(-1, K));
    init_index(b, "const.i0", 0);
    init_index(b, "const.i1", 1);
    init_index(b, "const.i2", 2);
    init_scalar(b, "const.sqrt2", sqrtf(2.0f));
    init_scalar(b, "const.one", 1.0f);
    init_scalar(b, "const.half", 0.5f);

    /* patch embedding: conv p×p stride p → (N,D,g,g) → (N,D,Np) → (N,Np,D) */
    init_f32(b, "patch_embed.proj.weight", I64(D, c->in_chans, c->patch, c->patch), p->patch_w, 0);
    init_f32(b, "patch_embed.proj.bias", I64(D), p->patch_b, 0);
    size_t conv =
        node_open(b, "Conv", "patch_embed.conv", IN("images", "patch_embed.proj.weight", "patch_embed.proj.bias"));
    attr_ints(b, "kernel_shape", I64(c->patch, c->patch));
    attr_ints(b, "strides", I64(c->patch, c->patch));
    node_close(b, conv);
    init_i64(b, "patch_embed.flat_shape", I64(0, D, -1));
    node(b, "Reshape", "patch_embed.flat", IN("patch_embed.conv", "patch_embed.flat_shape"));
    transpose(b, "patch_embed.tokens", "patch_embed.flat", I64(0, 2, 1));
    const char *tokens = "patch_embed.tokens";
    if (cls) {
        /* the class token expanded to (N,1,D), in front of the patches */
        init_f32(b, "cls_token", I64(1, 1, D), p->cls_token, 0);
        size_t sh = node_open(b, "Shape", "batch", IN("images"));
        attr_int(b, "start", 0);
        attr_int(b, "end", 1);
        node_close(b, sh);
        init_i64(b, "cls_token.tail_shape", I64(1, D));
        size_t cat = node_open(b, "Concat", "cls_token.shape", IN("batch", "cls_token.tail_shape"));
        attr_int(b, "axis", 0);
        node_close(b, cat);
        node(b, "Expand", "cls_token.batch", IN("cls_token", "cls_token.shape"));
        cat = node_open(b, "Concat", "tokens", IN("cls_token.batch", "patch_embed.tokens"));
        attr_int(b, "axis", 1);
        node_close(b, cat);
        tokens = "tokens";
    }
    init_f32(b, "pos_embed", I64(1, T, D), p->pos_embed, 0);
    node(b, "Add", "blocks.0.in", IN(tokens, "pos_embed"));

    vname x, y;
    snprintf(x, sizeof x, "blocks.0.in");
    for (int l = 0; l < L; l++) {
        snprintf(y, sizeof y, "blocks.%d.out", l);
        block(b, y, x, m, l);
        memcpy(x, y, sizeof x);
        if (c->stitch_at && l + 1 == c->stitch_at) {
            linear(b, "stitch.out", x, "stitch", p->stitch_w, p->stitch_b, c->dim, c->dim2);
            snprintf(x, sizeof x, "stitch.out");
        }
    }

    /* pooling, final norm, head (vit.c: pool first, then norm / fc_norm) */
    if (cls) {
        size_t ga = node_open(b, "Gather", "pooled", IN(x, "const.i0"));
        attr_int(b, "axis", 1);
        node_close(b, ga);
    } else {
        size_t rm = node_open(b, "ReduceMean", "pooled", IN(x));
        attr_ints(b, "axes", I64(1));
        attr_int(b, "keepdims", 0);
        node_close(b, rm);
    }
    const char *norm = cls ? "norm" : "fc_norm";
    layernorm(b, norm, "pooled", norm, p->norm_w, p->norm_b, Dout);
    linear(b, "logits", norm, "head", p->head_w, p->head_b, Dout, K);
    pb_close(b, g);
}

lg_status lg_model_to_onnx(const lg_model *m, const lg_st_kv *meta, int nmeta, uint8_t **out, size_t *len, char *err,
                           size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (!m || nmeta < 0 || (nmeta && !meta))
        return lg_fail(err, errlen, LG_ERR_INVALID, "lg_model_to_onnx: bad arguments");
    const lg_config *c = &m->cfg;
    /* weights plus a generous allowance for nodes, names and constants */
    size_t need = m->n * 4 + (size_t)c->depth * 8192 + 65536;
    for (int i = 0; i < nmeta; i++) need += strlen(meta[i].key) + strlen(meta[i].value) + 16;
    if (need > ONNX_MAX_BYTES)
        return lg_fail(err, errlen, LG_ERR_RANGE,
                       "the model's %zu MB of weights do not fit protobuf's 2 GiB limit for one ONNX file",
                       m->n * 4 >> 20);
    pb b = {malloc(need), 0, need, 0};
    if (!b.p) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for the ONNX file (%zu bytes)", need);

    pb_int(&b, MODEL_IR, ONNX_IR_VERSION);
    pb_string(&b, MODEL_PRODUCER, "learngened");
    pb_string(&b, MODEL_DOC,
              "A Vision Transformer grown by learngened (liblearngene); metadata \"config\" describes it.");
    size_t op = pb_open(&b, MODEL_OPSET);
    pb_string(&b, OPSET_DOMAIN, "");
    pb_int(&b, OPSET_VERSION, ONNX_OPSET);
    pb_close(&b, op);
    graph(&b, m);
    char cfg[512];
    lg_config_to_json(c, cfg, sizeof cfg);
    size_t e = pb_open(&b, MODEL_META);
    pb_string(&b, ENTRY_KEY, "config");
    pb_string(&b, ENTRY_VALUE, cfg);
    pb_close(&b, e);
    for (int i = 0; i < nmeta; i++) {
        if (!meta[i].key || !meta[i].value || !strcmp(meta[i].key, "config")) continue;
        e = pb_open(&b, MODEL_META);
        pb_string(&b, ENTRY_KEY, meta[i].key);
        pb_string(&b, ENTRY_VALUE, meta[i].value);
        pb_close(&b, e);
    }
    if (b.oom) {
        free(b.p);
        return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory writing the ONNX file");
    }
    if (b.len > ONNX_MAX_BYTES) {
        free(b.p);
        return lg_fail(err, errlen, LG_ERR_RANGE, "the ONNX file (%zu bytes) passes protobuf's 2 GiB limit", b.len);
    }
    *out = b.p;
    *len = b.len;
    return LG_OK;
}

lg_status lg_model_save_onnx(const lg_model *m, const char *path, const lg_st_kv *meta, int nmeta, char *err,
                             size_t errlen)
{
    if (!path) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_model_save_onnx: NULL path");
    uint8_t *buf = NULL;
    size_t len = 0;
    lg_status st = lg_model_to_onnx(m, meta, nmeta, &buf, &len, err, errlen);
    if (st == LG_OK) st = lg_file_write_atomic(path, buf, len, err, errlen);
    free(buf);
    return st;
}
