/* fuzz_idx.c - libFuzzer harness for IDX dataset uploads (POST /v1/datasets):
 * lg_bytes_read (gunzips gzip members, capped) then lg_idx_parse, and for an
 * image/label pair lg_dataset_from_idx.
 *
 * Input: byte 0 is k; k = 0 sends the rest through as one file (any number
 * of dimensions), else the last k bytes are the label file and the bytes
 * between are the image file, like the body split by X-Images-Length.
 *
 * Properties checked: a failure leaves a message; lg_bytes_read never
 * returns more than the cap; a parsed IDX's data is exactly the product of
 * its dimensions and lies inside the decoded bytes; a dataset has the
 * image count of both files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "learngene.h"

#define FUZZ_IDX_CAP ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One file: decoded into *buf (freed by the caller) and parsed into *x;
 * 0 when both succeeded. */
static int fuzz_idx_file(const uint8_t *in, size_t n, const char *what, uint8_t **buf, lg_idx *x)
{
    char err[512] = "";
    size_t len = 0;
    *buf = NULL;
    if (lg_bytes_read(buf, &len, in, n, what, FUZZ_IDX_CAP, err, sizeof err) != LG_OK) {
        FUZZ_CHECK(*buf == NULL && len == 0 && err[0] != '\0', "lg_bytes_read failed without a message");
        return -1;
    }
    FUZZ_CHECK(len <= FUZZ_IDX_CAP, "lg_bytes_read returned %zu bytes over the cap", len);
    err[0] = '\0';
    if (lg_idx_parse(x, *buf, len, err, sizeof err) != LG_OK) {
        FUZZ_CHECK(err[0] != '\0', "lg_idx_parse failed without a message");
        return -1;
    }
    size_t count = 1;
    for (int i = 0; i < x->ndim; i++) count *= x->dims[i];
    FUZZ_CHECK(x->ndim >= 1 && x->ndim <= 4 && count == x->count, "IDX of %d dims claims %zu elements", x->ndim,
               x->count);
    FUZZ_CHECK(x->data >= *buf && x->data + x->count == *buf + len, "IDX data is not the tail of the decoded bytes");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t k = data[0];
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    uint8_t *ib = NULL, *lb = NULL;
    lg_idx ix, lx;

    if (k == 0 || k > n) {
        fuzz_idx_file(body, n, "the file", &ib, &ix);
        free(ib);
        return 0;
    }
    int ok = fuzz_idx_file(body, n - k, "the images", &ib, &ix) == 0;
    ok &= fuzz_idx_file(body + (n - k), k, "the labels", &lb, &lx) == 0;
    if (ok) {
        lg_dataset ds;
        char err[512] = "";
        if (lg_dataset_from_idx(&ds, &ix, &lx, LG_FMNIST_MEAN, LG_FMNIST_STD, err, sizeof err) == LG_OK) {
            FUZZ_CHECK((uint32_t)ds.n == ix.dims[0] && (uint32_t)ds.n == lx.dims[0], "dataset of %d rows", ds.n);
            FUZZ_CHECK((size_t)ds.n * (size_t)ds.c * (size_t)ds.h * (size_t)ds.w == ix.count,
                       "dataset shape %d x %d x %d x %d from %zu pixels", ds.n, ds.c, ds.h, ds.w, ix.count);
            lg_dataset_free(&ds);
        } else {
            FUZZ_CHECK(err[0] != '\0', "lg_dataset_from_idx failed without a message");
        }
    }
    free(ib);
    free(lb);
    return 0;
}
