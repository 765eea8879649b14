/* expand_on_device.c - grow a model on the device from a downloaded learngene.
 *
 * A device fetches only the learngene (for TLEG: θ_A, θ_B and the shared
 * embedding, norm and head tensors), e.g.
 *
 *     curl -o gene.safetensors http://HOST:8080/v1/learngenes/ID/weights
 *
 * and this program, which uses nothing but liblearngene's public header and
 * the C library (no HTTP: it takes a path), picks the deepest descendant
 * whose FLOPs and parameters fit the device's budget, expands it locally
 * (lg_gene_expand), optionally measures it on an IDX test set or classifies
 * one raw image, and prints the bytes of the learngene against the bytes of
 * the expanded model as F32 safetensors - what downloading the grown model
 * instead would have cost.
 *
 *     expand_on_device GENE.safetensors --max-flops 2.5e7 [--max-params N]
 *         [--max-depth L] [--fmnist DIR | --images IDX --labels IDX]
 *         [--image RAW] [--threads N] [-o MODEL.safetensors]
 *
 * --max-depth caps the depth too: a TLEG learngene is trained through an
 * auxiliary network of one depth, and descendants far deeper than that
 * score lower without fine-tuning (docs/edge.md), so the deepest that fits
 * is not always the best.
 *
 * --image takes C·H·W raw bytes (0-255, like POST /v1/models/{id}/predict
 * with application/x-u8), normalized with the Fashion-MNIST mean and std.
 * Build: cc expand_on_device.c $(pkg-config --cflags --libs learngene)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learngene.h"

typedef struct {
    const char *gene, *fmnist, *images, *labels, *image, *out;
    double max_flops, max_params;
    int max_depth, threads;
} options;

static int usage(void)
{
    fputs("usage: expand_on_device GENE.safetensors (--max-flops F | --max-params P)... [--max-depth L]\n"
          "       [--fmnist DIR | --images IDX --labels IDX] [--image RAW] [--threads N] [-o MODEL]\n",
          stderr);
    return 2;
}

static int parse_args(options *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (a[0] != '-') {
            if (o->gene) return -1;
            o->gene = a;
            continue;
        }
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--max-flops"))
            o->max_flops = strtod(v, &end);
        else if (!strcmp(a, "--max-params"))
            o->max_params = strtod(v, &end);
        else if (!strcmp(a, "--max-depth"))
            o->max_depth = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--threads"))
            o->threads = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--fmnist"))
            o->fmnist = v;
        else if (!strcmp(a, "--images"))
            o->images = v;
        else if (!strcmp(a, "--labels"))
            o->labels = v;
        else if (!strcmp(a, "--image"))
            o->image = v;
        else if (!strcmp(a, "-o"))
            o->out = v;
        else
            return -1;
        if (end && (*end || end == v)) return -1;
    }
    if (!o->gene || (o->max_flops <= 0 && o->max_params <= 0) || o->threads < 1 || o->max_depth < 0) return -1;
    if (!o->images != !o->labels) return -1;
    return 0;
}

/* Bytes of a file as stored (what was transferred), or -1. */
static long file_bytes(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (f) fclose(f);
    return n;
}

/* Bytes of the model as a safetensors file in dtype (serialized in memory,
 * with its config as the server's downloads carry it), or 0. */
static size_t model_bytes(const lg_model *m, lg_dtype dtype)
{
    int n;
    const lg_tensor_info *t = lg_model_tensors(m, &n);
    lg_st_in *in = calloc((size_t)n, sizeof *in);
    char cfg[512];
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!in) return 0;
    lg_config_to_json(lg_model_config(m), cfg, sizeof cfg);
    lg_st_kv meta[1] = {{"config", cfg}};
    const float *p = lg_model_weights(m);
    for (int i = 0; i < n; i++) in[i] = (lg_st_in){t[i].name, t[i].ndim, t[i].shape, p + t[i].offset};
    if (lg_st_serialize(&buf, &len, in, n, meta, 1, dtype, NULL, 0) != LG_OK) len = 0;
    free(buf);
    free(in);
    return len;
}

static int fits(const lg_config *c, const options *o)
{
    return (o->max_flops <= 0 || lg_config_flops(c) <= o->max_flops) &&
           (o->max_params <= 0 || (double)lg_config_params(c) <= o->max_params);
}

/* Classifies one raw image: prints the arg-max class and the logits. */
static int classify(lg_model *m, const char *path, int threads)
{
    const lg_config *c = lg_model_config(m);
    size_t n = (size_t)c->in_chans * (size_t)c->img * (size_t)c->img;
    unsigned char *raw = malloc(n + 1);
    float *img = malloc(n * sizeof *img), *logits = malloc((size_t)c->classes * sizeof *logits);
    FILE *f = fopen(path, "rb");
    lg_ctx *x = NULL;
    char err[512] = "";
    int rc = 1;
    if (!raw || !img || !logits) goto out;
    if (!f || fread(raw, 1, n + 1, f) != n) {
        fprintf(stderr, "expand_on_device: %s must hold exactly %zu bytes (%d×%d×%d pixels)\n", path, n, c->in_chans,
                c->img, c->img);
        goto out;
    }
    for (size_t i = 0; i < n; i++) img[i] = ((float)raw[i] / 255.0f - LG_FMNIST_MEAN) / LG_FMNIST_STD;
    if (lg_ctx_new(&x, m, 1, threads, 0, err, sizeof err) != LG_OK || lg_forward(x, logits, img, 1) != LG_OK) {
        fprintf(stderr, "expand_on_device: %s\n", err[0] ? err : "forward pass failed");
        goto out;
    }
    int best = 0;
    for (int k = 1; k < c->classes; k++)
        if (logits[k] > logits[best]) best = k;
    printf("image        %s: class %d (logits", path, best);
    for (int k = 0; k < c->classes; k++) printf(" %.3f", (double)logits[k]);
    printf(")\n");
    rc = 0;
out:
    if (f) fclose(f);
    lg_ctx_free(x);
    free(raw);
    free(img);
    free(logits);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(&o, argc, argv)) return usage();
    char err[512] = "";
    lg_gene g = {0};
    lg_model *m = NULL;
    lg_dataset ds = {0};
    int rc = 1;

    long gene_bytes = file_bytes(o.gene);
    if (lg_gene_load(&g, o.gene, err, sizeof err) != LG_OK) {
        fprintf(stderr, "expand_on_device: %s\n", err);
        return 1;
    }
    int lo, hi, classes = lg_model_config(g.m)->classes;
    lg_gene_depths(&g, &lo, &hi);
    printf("learngene    %s: %s, %zu params, %ld bytes, grows depths %d..%d\n", o.gene, lg_gene_kind_name(g.kind),
           lg_gene_params(&g), gene_bytes, lo, hi);

    /* The deepest descendant within the budget. */
    int depth = 0;
    lg_config c;
    if (o.max_depth && o.max_depth < lo) {
        fprintf(stderr, "expand_on_device: --max-depth %d is below the learngene's smallest depth %d\n", o.max_depth,
                lo);
        goto out;
    }
    if (o.max_depth && o.max_depth < hi) hi = o.max_depth;
    for (int d = hi; d >= lo && !depth; d--) {
        if (lg_gene_config(&c, &g, d, classes, err, sizeof err) != LG_OK) {
            fprintf(stderr, "expand_on_device: depth %d: %s\n", d, err);
            goto out;
        }
        if (fits(&c, &o)) depth = d;
    }
    if (!depth) {
        lg_gene_config(&c, &g, lo, classes, NULL, 0);
        fprintf(stderr, "expand_on_device: no depth fits; the shallowest (%d) needs %.0f FLOPs and %zu params\n", lo,
                lg_config_flops(&c), lg_config_params(&c));
        goto out;
    }
    lg_gene_config(&c, &g, depth, classes, NULL, 0);
    printf("budget      ");
    if (o.max_flops > 0) printf(" FLOPs <= %.4g", o.max_flops);
    if (o.max_params > 0) printf(" params <= %.4g", o.max_params);
    if (o.max_depth) printf(" depth <= %d", o.max_depth);
    printf("\n");
    printf("depth        %d (%.0f FLOPs, %zu params)\n", depth, lg_config_flops(&c), lg_config_params(&c));

    if (lg_gene_expand(&m, &g, depth, classes, 0, err, sizeof err) != LG_OK) {
        fprintf(stderr, "expand_on_device: %s\n", err);
        goto out;
    }
    size_t f32 = model_bytes(m, LG_F32), i8 = model_bytes(m, LG_I8);
    printf("expanded     %zu bytes as F32 safetensors, %zu as I8\n", f32, i8);
    printf("transfer     learngene %ld bytes vs expanded model %zu bytes (F32)\n", gene_bytes, f32);
    printf("ratio        %.2f\n", gene_bytes > 0 ? (double)f32 / (double)gene_bytes : 0.0);

    if (o.out && lg_model_save(m, o.out, LG_F32, NULL, 0, err, sizeof err) != LG_OK) {
        fprintf(stderr, "expand_on_device: %s\n", err);
        goto out;
    }
    if (o.fmnist || o.images) {
        lg_status s = o.images
                          ? lg_dataset_load(&ds, o.images, o.labels, LG_FMNIST_MEAN, LG_FMNIST_STD, err, sizeof err)
                          : lg_fmnist_load(&ds, o.fmnist, 0, err, sizeof err);
        double acc = 0, loss = 0;
        if (s == LG_OK) s = lg_evaluate(m, &ds, 256, o.threads, &acc, &loss, err, sizeof err);
        if (s != LG_OK) {
            fprintf(stderr, "expand_on_device: %s\n", err);
            goto out;
        }
        printf("accuracy     %.4f (%d images)\n", acc, ds.n);
    }
    if (o.image && classify(m, o.image, o.threads)) goto out;
    rc = 0;
out:
    lg_dataset_free(&ds);
    lg_model_free(m);
    lg_gene_free(&g);
    return rc;
}
