/* make_seeds.c - writes the binary seed files of fuzz/corpus/ (the text
 * seeds - JSON, Range, paths, config - are written by hand): tiny
 * safetensors models, learngenes and a pool made by the core itself, IDX
 * files raw and gzipped in the idx harness's input layout, and raw tensor
 * bodies. The outputs are checked in; rebuild them with
 * `fuzz/run.sh . . seeds` after a format change.
 *
 * Usage: make_seeds CORPUSDIR (which holds safetensors/, idx/, raw/).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "learngene.h"

static const char *corpus;

static void seeds_die(const char *what, const char *err)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, err);
    exit(1);
}

static void seeds_path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s/%s", corpus, dir, name);
}

static void seeds_write(const char *dir, const char *name, const void *a, size_t na, const void *b, size_t nb)
{
    char path[4096];
    seeds_path(path, sizeof path, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, 1, na, f) != na || (nb && fwrite(b, 1, nb, f) != nb) || fclose(f) != 0)
        seeds_die(path, "cannot write");
}

/* gzip of in[0..n) into a malloc'd buffer. */
static uint8_t *seeds_gzip(const uint8_t *in, size_t n, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) seeds_die("gzip", "deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *out = malloc(cap);
    if (!out) seeds_die("gzip", "out of memory");
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) seeds_die("gzip", "deflate");
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* ------------------------------------------------------------ safetensors */

static lg_config seeds_tiny(int dim, int heads)
{
    lg_config c;
    memset(&c, 0, sizeof c);
    c.img = 4, c.in_chans = 1, c.patch = 2;
    c.dim = dim, c.depth = 2, c.heads = heads, c.mlp = 2 * dim;
    c.classes = 2, c.pool = LG_POOL_AVG;
    return c;
}

static lg_model *seeds_model(const lg_config *c, uint64_t seed)
{
    lg_model *m;
    char err[256];
    if (lg_model_new(&m, c, err, sizeof err) != LG_OK) seeds_die("model", err);
    lg_model_init(m, seed);
    return m;
}

static void seeds_safetensors(void)
{
    char path[4096], err[256];
    const lg_st_kv meta[] = {{"name", "tiny"}};
    lg_config c = seeds_tiny(4, 1);
    lg_model *m = seeds_model(&c, 1);
    seeds_path(path, sizeof path, "safetensors", "model-f32.safetensors");
    if (lg_model_save(m, path, LG_F32, meta, 1, err, sizeof err) != LG_OK) seeds_die(path, err);
    seeds_path(path, sizeof path, "safetensors", "model-f16.safetensors");
    if (lg_model_save(m, path, LG_F16, NULL, 0, err, sizeof err) != LG_OK) seeds_die(path, err);
    seeds_path(path, sizeof path, "safetensors", "model-bf16.safetensors");
    if (lg_model_save(m, path, LG_BF16, NULL, 0, err, sizeof err) != LG_OK) seeds_die(path, err);
#ifdef LG_I8_QUANTIZATION
    seeds_path(path, sizeof path, "safetensors", "model-i8.safetensors");
    if (lg_model_save(m, path, LG_I8, NULL, 0, err, sizeof err) != LG_OK) seeds_die(path, err);
#endif

    /* pool token with a cls token; stitched (width 4 then 8) */
    lg_config t = c;
    t.pool = LG_POOL_TOKEN;
    lg_model *mt = seeds_model(&t, 2);
    seeds_path(path, sizeof path, "safetensors", "model-token.safetensors");
    if (lg_model_save(mt, path, LG_F32, NULL, 0, err, sizeof err) != LG_OK) seeds_die(path, err);
    lg_model_free(mt);
    lg_config s = c;
    s.stitch_at = 1, s.dim2 = 8, s.heads2 = 2, s.mlp2 = 16;
    lg_model *ms = seeds_model(&s, 3);
    seeds_path(path, sizeof path, "safetensors", "model-stitched.safetensors");
    if (lg_model_save(ms, path, LG_F32, NULL, 0, err, sizeof err) != LG_OK) seeds_die(path, err);
    lg_model_free(ms);

    lg_gene g;
    if (lg_gene_tleg_new(&g, &c, 4, err, sizeof err) != LG_OK) seeds_die("tleg", err);
    seeds_path(path, sizeof path, "safetensors", "gene-tleg.safetensors");
    if (lg_gene_save(&g, path, LG_F32, meta, 1, err, sizeof err) != LG_OK) seeds_die(path, err);
    lg_gene_free(&g);
    if (lg_gene_inherit(&g, m, 1, err, sizeof err) != LG_OK) seeds_die("inherit", err);
    seeds_path(path, sizeof path, "safetensors", "gene-inherit.safetensors");
    if (lg_gene_save(&g, path, LG_F16, NULL, 0, err, sizeof err) != LG_OK) seeds_die(path, err);
    lg_gene_free(&g);
    lg_model_free(m);

    lg_config wide = seeds_tiny(8, 2);
    lg_model *inst[2] = {seeds_model(&c, 5), seeds_model(&wide, 6)};
    const char *names[2] = {"d4", "d8"};
    lg_genepool p;
    if (lg_genepool_new(&p, inst, names, 2, err, sizeof err) != LG_OK) seeds_die("pool", err);
    const lg_st_kv pmeta[] = {{"accuracy.d4", "0.5"}};
    seeds_path(path, sizeof path, "safetensors", "pool.safetensors");
    if (lg_genepool_save(&p, path, LG_F32, pmeta, 1, err, sizeof err) != LG_OK) seeds_die(path, err);
    lg_genepool_free(&p);

    /* Small hand-made files: one tensor of each dtype, metadata only, an
     * empty header, an empty tensor. */
    static const struct {
        const char *name, *header;
        size_t data;
    } hand[] = {
        {"one-f32.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8},
        {"one-f16.safetensors", "{\"x\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[0,4]}}", 4},
        {"one-bf16.safetensors", "{\"x\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]}}", 2},
        {"meta-only.safetensors", "{\"__metadata__\":{\"learngene\":\"tleg\",\"aux_depth\":\"2\"}}", 0},
        {"empty-header.safetensors", "{}", 0},
        {"empty-tensor.safetensors",
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         4},
    };
    for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++) {
        size_t hl = strlen(hand[i].header);
        uint8_t buf[512];
        for (int b = 0; b < 8; b++) buf[b] = (uint8_t)((uint64_t)hl >> (8 * b));
        memcpy(buf + 8, hand[i].header, hl);
        memset(buf + 8 + hl, 0x3c, hand[i].data);
        seeds_write("safetensors", hand[i].name, buf, 8 + hl + hand[i].data, NULL, 0);
    }
}

/* --------------------------------------------------------------------- IDX */

/* An IDX file of unsigned bytes with the given dims; values from a pattern
 * (labels below `classes` when classes > 0). */
static uint8_t *seeds_idx(const uint32_t *dims, int ndim, int classes, size_t *len)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= dims[i];
    size_t n = 4 + 4 * (size_t)ndim + count;
    uint8_t *b = malloc(n);
    if (!b) seeds_die("idx", "out of memory");
    b[0] = 0, b[1] = 0, b[2] = 0x08, b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        uint8_t *p = b + 4 + 4 * i;
        p[0] = (uint8_t)(dims[i] >> 24), p[1] = (uint8_t)(dims[i] >> 16);
        p[2] = (uint8_t)(dims[i] >> 8), p[3] = (uint8_t)dims[i];
    }
    for (size_t i = 0; i < count; i++)
        b[4 + 4 * (size_t)ndim + i] = (uint8_t)(classes > 0 ? i % (size_t)classes : (i * 37) & 0xff);
    *len = n;
    return b;
}

/* Writes [k][images][labels] with k = the label part's length. */
static void seeds_pair(const char *name, const uint8_t *img, size_t ni, const uint8_t *lab, size_t nl)
{
    uint8_t *buf = malloc(1 + ni + nl);
    if (!buf || nl == 0 || nl > 255) seeds_die(name, "labels must be 1 to 255 bytes");
    buf[0] = (uint8_t)nl;
    memcpy(buf + 1, img, ni);
    memcpy(buf + 1 + ni, lab, nl);
    seeds_write("idx", name, buf, 1 + ni + nl, NULL, 0);
    free(buf);
}

static void seeds_idx_all(void)
{
    const uint32_t d3[] = {3, 4, 4}, d4[] = {2, 3, 2, 2}, d1[] = {3}, d1b[] = {2}, d2[] = {2, 5};
    size_t ni, ni4, nl, nl2, n2, ngi, ngl;
    uint8_t *img = seeds_idx(d3, 3, 0, &ni), *img4 = seeds_idx(d4, 4, 0, &ni4);
    uint8_t *lab = seeds_idx(d1, 1, 2, &nl), *lab2 = seeds_idx(d1b, 1, 3, &nl2), *two = seeds_idx(d2, 2, 0, &n2);
    uint8_t *gimg = seeds_gzip(img, ni, &ngi), *glab = seeds_gzip(lab, nl, &ngl);
    const uint8_t zero = 0;

    /* k = 0: one file alone */
    seeds_write("idx", "single-images", &zero, 1, img, ni);
    seeds_write("idx", "single-labels", &zero, 1, lab, nl);
    seeds_write("idx", "single-2d", &zero, 1, two, n2);
    seeds_write("idx", "single-images.gz", &zero, 1, gimg, ngi);
    /* two gzip members joined: one file */
    size_t nh = nl / 2, ng1, ng2;
    uint8_t *g1 = seeds_gzip(lab, nh, &ng1), *g2 = seeds_gzip(lab + nh, nl - nh, &ng2);
    seeds_write("idx", "single-labels.multimember.gz", &zero, 1, g1, ng1);
    {
        char path[4096];
        seeds_path(path, sizeof path, "idx", "single-labels.multimember.gz");
        FILE *f = fopen(path, "ab");
        if (!f || fwrite(g2, 1, ng2, f) != ng2 || fclose(f) != 0) seeds_die(path, "cannot append");
    }
    free(g1);
    free(g2);

    /* pairs as uploaded */
    seeds_pair("pair-raw", img, ni, lab, nl);
    seeds_pair("pair-4d", img4, ni4, lab2, nl2);
    seeds_pair("pair-gz-images", gimg, ngi, lab, nl);
    seeds_pair("pair-gz-both", gimg, ngi, glab, ngl);
    /* near-valid: count mismatch, truncated gzip */
    seeds_pair("pair-mismatch", img, ni, lab2, nl2);
    seeds_pair("pair-truncated-gz", gimg, ngi - 5, lab, nl);

    free(img), free(img4), free(lab), free(lab2), free(two), free(gimg), free(glab);
}

/* ------------------------------------------------------------ raw bodies */

static void seeds_raw(void)
{
    /* byte 0: bit 0 = u8, bits 1-7 index fuzz_raw.c's table
     * {1, 2, 3, 4, 7, 16, 64, 784, 3072, 150528, 0} */
    uint8_t b[1 + 2 * 16];
    b[0] = (uint8_t)(5 << 1 | 1); /* u8, 16 per image, 2 images */
    for (int i = 0; i < 32; i++) b[1 + i] = (uint8_t)(i * 8);
    seeds_write("raw", "u8-2x16", b, sizeof b, NULL, 0);

    float f[8] = {0.5f, -1.0f, 2.0f, 0.0f, 1e-3f, -3.5f, 100.0f, 0.25f};
    uint8_t h = (uint8_t)(3 << 1); /* float32, 4 per image, 2 images */
    seeds_write("raw", "f32-2x4", &h, 1, f, sizeof f);
    float bad[4] = {0.0f, 1.0f, 0.0f, 0.0f};
    uint32_t nan = 0x7fc00000u;
    memcpy(&bad[2], &nan, 4);
    seeds_write("raw", "f32-nan", &h, 1, bad, sizeof bad);
    uint8_t odd[1 + 10] = {(uint8_t)(3 << 1)};
    seeds_write("raw", "f32-ragged", odd, sizeof odd, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUSDIR\n");
        return 2;
    }
    corpus = argv[1];
    seeds_safetensors();
    seeds_idx_all();
    seeds_raw();
    return 0;
}
