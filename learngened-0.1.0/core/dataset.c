/* dataset.c - labelled image sets in memory (lg_dataset): built from parsed
 * IDX, loaded from IDX files (raw or gzipped) and Fashion-MNIST, filtered to
 * some classes and subsampled to n images per class.
 *
 * Calls libc, idx.c (lg_idx_parse), file.c (lg_file_read) and rng.c
 * (lg_rng_seed, lg_rng_below). Rows are kept in their original order by
 * every operation; a failing operation leaves the dataset unchanged.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* Largest file lg_dataset_load reads (after decompression). */
#define LG_DATASET_CAP ((size_t)1 << 30)
#define LG_PATH_MAX 4096

/* Floats per image. */
static size_t ds_row(const lg_dataset *ds) { return (size_t)ds->c * (size_t)ds->h * (size_t)ds->w; }

/* A dataset the editing functions may work on. */
static int ds_valid(const lg_dataset *ds)
{
    if (!ds || ds->n < 0 || ds->c <= 0 || ds->h <= 0 || ds->w <= 0) return 0;
    return ds->n == 0 || (ds->images && ds->labels);
}

/* Product of an IDX's dimensions equals its count and data is present. */
static int idx_consistent(const lg_idx *x)
{
    if (x->ndim < 1 || x->ndim > 4) return 0;
    size_t p = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] == 0) return x->count == 0;
        if (p > SIZE_MAX / x->dims[i]) return 0;
        p *= x->dims[i];
    }
    return p == x->count && (x->data || p == 0);
}

lg_status lg_dataset_from_idx(lg_dataset *ds, const lg_idx *images, const lg_idx *labels, float mean, float std,
                              char *err, size_t errlen)
{
    lg_status s;
    float *img = NULL;
    int *lab = NULL;

    if (!ds) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_dataset_from_idx: ds must not be NULL");
    memset(ds, 0, sizeof *ds);
    if (!images || !labels)
        return lg_fail(err, errlen, LG_ERR_INVALID, "lg_dataset_from_idx: images and labels must not be NULL");
    if (!isfinite(mean) || !isfinite(std) || !(std > 0))
        return lg_fail(err, errlen, LG_ERR_INVALID, "normalization mean %g and std %g must be finite, with std > 0",
                       (double)mean, (double)std);
    if (!idx_consistent(images) || !idx_consistent(labels))
        return lg_fail(err, errlen, LG_ERR_INVALID,
                       "lg_dataset_from_idx: an lg_idx's dims, count and data disagree (not from lg_idx_parse?)");
    if (images->ndim != 3 && images->ndim != 4)
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "image IDX has %d dimensions; expected 3 (n x h x w) or 4 (n x c x h x w)", images->ndim);
    if (labels->ndim != 1)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "label IDX has %d dimensions; expected 1 (n)", labels->ndim);

    int nd = images->ndim;
    uint32_t n = images->dims[0], c = nd == 4 ? images->dims[1] : 1, h = images->dims[nd - 2], w = images->dims[nd - 1];
    if (n == 0) return lg_fail(err, errlen, LG_ERR_FORMAT, "image IDX holds no images (its count is 0)");
    if (c == 0 || h == 0 || w == 0)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "image IDX has an empty image shape %lu x %lu x %lu (c x h x w)",
                       (unsigned long)c, (unsigned long)h, (unsigned long)w);
    if (labels->dims[0] != n)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "image/label count mismatch: %lu images but %lu labels",
                       (unsigned long)n, (unsigned long)labels->dims[0]);
    if (n > INT_MAX || c > INT_MAX || h > INT_MAX || w > INT_MAX)
        return lg_fail(err, errlen, LG_ERR_RANGE, "image IDX shape %lu x %lu x %lu x %lu has a dimension above %d",
                       (unsigned long)n, (unsigned long)c, (unsigned long)h, (unsigned long)w, INT_MAX);
    size_t total = images->count; /* n·c·h·w, validated above */
    if (total > SIZE_MAX / sizeof(float))
        return lg_fail(err, errlen, LG_ERR_RANGE, "%zu pixels do not fit in memory as float32", total);

    img = malloc(total * sizeof *img);
    lab = malloc((size_t)n * sizeof *lab);
    if (!img || !lab) {
        s = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for %lu images of %lu x %lu x %lu", (unsigned long)n,
                    (unsigned long)c, (unsigned long)h, (unsigned long)w);
        goto fail;
    }

    /* Same arithmetic as x/255 then (x - mean)/std in float32, once per
     * byte value. */
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - mean) / std;
    for (size_t i = 0; i < total; i++) img[i] = lut[images->data[i]];
    for (uint32_t i = 0; i < n; i++) lab[i] = labels->data[i];

    ds->n = (int)n;
    ds->c = (int)c;
    ds->h = (int)h;
    ds->w = (int)w;
    ds->images = img;
    ds->labels = lab;
    return LG_OK;

fail:
    free(img);
    free(lab);
    return s;
}

void lg_dataset_free(lg_dataset *ds)
{
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

/* Moves the rows with keep[i] != 0 (kept of them) to the front, in order,
 * and shrinks the buffers. */
static void ds_compact(lg_dataset *ds, const unsigned char *keep, int kept)
{
    size_t row = ds_row(ds);
    int j = 0;
    for (int i = 0; i < ds->n; i++) {
        if (!keep[i]) continue;
        if (j != i) {
            memcpy(ds->images + (size_t)j * row, ds->images + (size_t)i * row, row * sizeof *ds->images);
            ds->labels[j] = ds->labels[i];
        }
        j++;
    }
    ds->n = kept;
    /* Shrinking cannot lose data; if realloc refuses, keep the larger block. */
    float *img = realloc(ds->images, (size_t)kept * row * sizeof *img);
    if (img) ds->images = img;
    int *lab = realloc(ds->labels, (size_t)kept * sizeof *lab);
    if (lab) ds->labels = lab;
}

typedef struct {
    int label; /* class label as stored in the dataset */
    int index; /* its position in the caller's classes[] */
} ds_class;

static int ds_class_cmp(const void *a, const void *b)
{
    int x = ((const ds_class *)a)->label, y = ((const ds_class *)b)->label;
    return (x > y) - (x < y);
}

static const ds_class *ds_class_find(const ds_class *sorted, int nclasses, int label)
{
    ds_class key = {label, 0};
    return bsearch(&key, sorted, (size_t)nclasses, sizeof key, ds_class_cmp);
}

lg_status lg_dataset_filter(lg_dataset *ds, const int *classes, int nclasses, int relabel, char *err, size_t errlen)
{
    lg_status s = LG_OK;
    ds_class *sorted = NULL;
    unsigned char *keep = NULL;

    if (!ds_valid(ds) || !classes || nclasses <= 0)
        return lg_fail(err, errlen, LG_ERR_INVALID, "a class filter needs a dataset and at least one class");
    sorted = malloc((size_t)nclasses * sizeof *sorted);
    keep = malloc(ds->n > 0 ? (size_t)ds->n : 1);
    if (!sorted || !keep) {
        s = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory filtering %d rows", ds->n);
        goto out;
    }
    for (int k = 0; k < nclasses; k++) sorted[k] = (ds_class){classes[k], k};
    qsort(sorted, (size_t)nclasses, sizeof *sorted, ds_class_cmp);
    for (int k = 1; k < nclasses; k++) {
        if (sorted[k].label == sorted[k - 1].label) {
            s = lg_fail(err, errlen, LG_ERR_INVALID, "class %d is listed twice", sorted[k].label);
            goto out;
        }
    }

    int kept = 0;
    for (int i = 0; i < ds->n; i++) {
        keep[i] = ds_class_find(sorted, nclasses, ds->labels[i]) != NULL;
        kept += keep[i];
    }
    if (kept == 0) {
        s = lg_fail(err, errlen, LG_ERR_INVALID, "no row has any of the %d classes asked for", nclasses);
        goto out;
    }
    ds_compact(ds, keep, kept);
    if (relabel) {
        for (int i = 0; i < ds->n; i++) ds->labels[i] = ds_class_find(sorted, nclasses, ds->labels[i])->index;
    }

out:
    free(sorted);
    free(keep);
    return s;
}

lg_status lg_dataset_per_class(lg_dataset *ds, int n, int nclasses, uint64_t seed, char *err, size_t errlen)
{
    lg_status s = LG_OK;
    int *start = NULL, *order = NULL, *fill = NULL;
    unsigned char *keep = NULL;

    if (!ds_valid(ds) || n <= 0 || nclasses <= 0)
        return lg_fail(err, errlen, LG_ERR_INVALID, "per-class sampling needs a dataset, n ≥ 1 and classes ≥ 1");
    if (nclasses > LG_MAX_CLASSES)
        return lg_fail(err, errlen, LG_ERR_RANGE, "%d classes; at most %d are supported", nclasses, LG_MAX_CLASSES);
    for (int i = 0; i < ds->n; i++) {
        if (ds->labels[i] < 0 || ds->labels[i] >= nclasses)
            return lg_fail(err, errlen, LG_ERR_INVALID, "label %d at row %d is outside the %d classes", ds->labels[i],
                           i, nclasses);
    }
    if (ds->n == 0) return LG_OK;

    start = calloc((size_t)nclasses + 1, sizeof *start);
    fill = malloc((size_t)nclasses * sizeof *fill);
    order = malloc((size_t)ds->n * sizeof *order);
    keep = calloc((size_t)ds->n, 1);
    if (!start || !fill || !order || !keep) {
        s = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory sampling %d rows", ds->n);
        goto out;
    }

    /* Counting sort: order[start[k] .. start[k+1]) are the rows of class k,
     * ascending. */
    for (int i = 0; i < ds->n; i++) start[ds->labels[i] + 1]++;
    for (int k = 0; k < nclasses; k++) start[k + 1] += start[k];
    memcpy(fill, start, (size_t)nclasses * sizeof *fill);
    for (int i = 0; i < ds->n; i++) order[fill[ds->labels[i]]++] = i;

    /* Per class, in class order, one generator: Fisher-Yates shuffle of the
     * class's rows, then keep the first n (all of them when fewer). */
    lg_rng rng;
    lg_rng_seed(&rng, seed);
    int kept = 0;
    for (int k = 0; k < nclasses; k++) {
        int *seg = order + start[k];
        int m = start[k + 1] - start[k];
        for (int i = m - 1; i > 0; i--) {
            int j = (int)lg_rng_below(&rng, (uint32_t)i + 1);
            int t = seg[i];
            seg[i] = seg[j];
            seg[j] = t;
        }
        int take = m < n ? m : n;
        for (int i = 0; i < take; i++) keep[seg[i]] = 1;
        kept += take;
    }
    ds_compact(ds, keep, kept);

out:
    free(start);
    free(fill);
    free(order);
    free(keep);
    return s;
}

/* Reads and parses one IDX file; *raw holds the bytes x points into. */
static lg_status ds_read_idx(lg_idx *x, uint8_t **raw, const char *path, char *err, size_t errlen)
{
    char why[256];
    size_t len = 0;
    lg_status s = lg_file_read(raw, &len, path, LG_DATASET_CAP, err, errlen);
    if (s != LG_OK) return s;
    s = lg_idx_parse(x, *raw, len, why, sizeof why);
    if (s != LG_OK) lg_fail(err, errlen, s, "%s: %s", path, why);
    return s;
}

lg_status lg_dataset_load(lg_dataset *ds, const char *images_path, const char *labels_path, float mean, float std,
                          char *err, size_t errlen)
{
    lg_status s;
    uint8_t *iraw = NULL, *lraw = NULL;
    lg_idx ix, lx;
    char why[256];

    if (!ds) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_dataset_load: ds must not be NULL");
    memset(ds, 0, sizeof *ds);
    if (!images_path || !labels_path)
        return lg_fail(err, errlen, LG_ERR_INVALID, "lg_dataset_load: the image and label paths must not be NULL");

    s = ds_read_idx(&ix, &iraw, images_path, err, errlen);
    if (s != LG_OK) goto out;
    s = ds_read_idx(&lx, &lraw, labels_path, err, errlen);
    if (s != LG_OK) goto out;
    s = lg_dataset_from_idx(ds, &ix, &lx, mean, std, why, sizeof why);
    if (s != LG_OK) lg_fail(err, errlen, s, "%s and %s: %s", images_path, labels_path, why);

out:
    free(iraw);
    free(lraw);
    return s;
}

/* dir/name.gz when it exists, else dir/name. */
static lg_status ds_fmnist_path(char *path, size_t pathlen, const char *dir, const char *name, char *err, size_t errlen)
{
    struct stat st;
    int k = snprintf(path, pathlen, "%s/%s.gz", dir, name);
    if (k < 0 || (size_t)k >= pathlen)
        return lg_fail(err, errlen, LG_ERR_RANGE, "Fashion-MNIST directory path is too long: %s", dir);
    if (stat(path, &st) == 0 || errno != ENOENT) return LG_OK; /* exists, or lg_file_read will say why not */
    path[k - 3] = '\0';
    if (stat(path, &st) != 0 && errno == ENOENT)
        return lg_fail(err, errlen, LG_ERR_IO, "Fashion-MNIST file %s(.gz) not found in %s", name, dir);
    return LG_OK;
}

lg_status lg_fmnist_load(lg_dataset *ds, const char *dir, int train, char *err, size_t errlen)
{
    char ipath[LG_PATH_MAX], lpath[LG_PATH_MAX];
    const char *split = train ? "train" : "t10k";
    char iname[64], lname[64];
    lg_status s;

    if (!ds) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_fmnist_load: ds must not be NULL");
    memset(ds, 0, sizeof *ds);
    if (!dir) dir = LG_FMNIST_DIR;
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", split);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", split);

    s = ds_fmnist_path(ipath, sizeof ipath, dir, iname, err, errlen);
    if (s != LG_OK) return s;
    s = ds_fmnist_path(lpath, sizeof lpath, dir, lname, err, errlen);
    if (s != LG_OK) return s;
    s = lg_dataset_load(ds, ipath, lpath, LG_FMNIST_MEAN, LG_FMNIST_STD, err, errlen);
    if (s != LG_OK) return s;

    /* Fashion-MNIST (like MNIST) is 28×28 grey images with labels 0..9. */
    if (ds->c != 1 || ds->h != 28 || ds->w != 28) {
        s = lg_fail(err, errlen, LG_ERR_FORMAT, "%s: images are %d x %d x %d, Fashion-MNIST's are 1 x 28 x 28", ipath,
                    ds->c, ds->h, ds->w);
        lg_dataset_free(ds);
        return s;
    }
    for (int i = 0; i < ds->n; i++) {
        if (ds->labels[i] > 9) {
            s = lg_fail(err, errlen, LG_ERR_FORMAT, "%s: label %d of row %d is outside Fashion-MNIST's 0..9", lpath,
                        ds->labels[i], i);
            lg_dataset_free(ds);
            return s;
        }
    }
    return LG_OK;
}
