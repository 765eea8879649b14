/* fuzz_safetensors.c - libFuzzer harness for safetensors uploads: the bytes
 * go through lg_st_parse as a borrowed view (what POST /v1/learngenes, POST
 * /v1/pools and the model cache do), every tensor is converted to float32,
 * and the parsed file is then loaded as a model, a learngene and a pool,
 * which check tensor names and shapes against the __metadata__ configs.
 *
 * Properties checked: a failure leaves a message; every tensor lies inside
 * the input with nbytes = numel × dtype size (an int8 tensor's scales
 * too, when the core has LG_I8); names are found again by
 * lg_st_find; a loaded model, learngene or pool has the tensor count its
 * config describes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "learngene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks every tensor and metadata entry of a parsed file. */
static void fuzz_safetensors_walk(const lg_st *st, const uint8_t *data, size_t size)
{
    int n = lg_st_count(st);
    for (int i = 0; i < n; i++) {
        const lg_st_tensor *t = lg_st_get(st, i);
        FUZZ_CHECK(t && t->name, "tensor %d of %d is missing", i, n);
        FUZZ_CHECK(lg_st_find(st, t->name) == t, "lg_st_find(\"%s\") does not return tensor %d", t->name, i);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= 8, "tensor %d has %d dimensions", i, t->ndim);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
        FUZZ_CHECK(numel * lg_dtype_size(t->dtype) == t->nbytes, "tensor '%s': %zu elements of %s in %zu bytes",
                   t->name, numel, lg_dtype_name(t->dtype), t->nbytes);
        FUZZ_CHECK(t->nbytes == 0 || (t->data >= data && t->data + t->nbytes <= data + size),
                   "tensor '%s' points outside the input", t->name);
#ifdef LG_I8_QUANTIZATION
        if (t->dtype == LG_I8)
            FUZZ_CHECK(t->ndim >= 1 && t->scale && t->scale >= data &&
                           t->scale + (size_t)t->shape[0] * sizeof(float) <= data + size,
                       "I8 tensor '%s' has no scales inside the input", t->name);
        else
            FUZZ_CHECK(t->scale == NULL, "%s tensor '%s' has scales", lg_dtype_name(t->dtype), t->name);
#endif
        float *f = malloc(numel ? numel * sizeof *f : 1);
        if (!f) continue;
        lg_st_to_f32(t, f);
        free(f);
    }
    for (int i = 0; i < lg_st_meta_count(st); i++) {
        const char *k = NULL, *v = NULL;
        lg_st_meta_get(st, i, &k, &v);
        FUZZ_CHECK(k && v, "metadata entry %d is missing", i);
        FUZZ_CHECK(lg_st_meta(st, k) != NULL, "lg_st_meta(\"%s\") finds nothing", k);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    lg_st *st = NULL;
    if (lg_st_parse(&st, data, size, 0, err, sizeof err) != LG_OK) {
        FUZZ_CHECK(err[0] != '\0', "lg_st_parse failed without a message");
        return 0;
    }
    fuzz_safetensors_walk(st, data, size);

    lg_model *m = NULL;
    err[0] = '\0';
    if (lg_model_from_st(&m, st, err, sizeof err) == LG_OK) {
        int nt = 0;
        lg_model_tensors(m, &nt);
        FUZZ_CHECK(nt == lg_st_count(st), "model has %d tensors, file %d", nt, lg_st_count(st));
        lg_model_free(m);
    } else {
        FUZZ_CHECK(m == NULL && err[0] != '\0', "lg_model_from_st failed without a message or left a model");
    }

    lg_gene g;
    err[0] = '\0';
    if (lg_gene_from_st(&g, st, err, sizeof err) == LG_OK) {
        int lo = 0, hi = 0;
        lg_gene_depths(&g, &lo, &hi);
        FUZZ_CHECK(lo >= 1 && hi <= LG_MAX_DEPTH, "learngene depths %d..%d", lo, hi);
        FUZZ_CHECK(lg_gene_params(&g) > 0, "learngene has no parameters");
        lg_gene_free(&g);
    } else {
        FUZZ_CHECK(g.m == NULL && err[0] != '\0', "lg_gene_from_st failed without a message or left a model");
    }

    lg_genepool p;
    err[0] = '\0';
    if (lg_genepool_from_st(&p, st, err, sizeof err) == LG_OK) {
        int nc = lg_genepool_configs(&p, NULL, 0);
        FUZZ_CHECK(p.n >= 1 && nc >= p.n, "pool of %d instances has %d configurations", p.n, nc);
        lg_genepool_free(&p);
    } else {
        FUZZ_CHECK(err[0] != '\0', "lg_genepool_from_st failed without a message");
    }

    lg_st_free(st);
    return 0;
}
