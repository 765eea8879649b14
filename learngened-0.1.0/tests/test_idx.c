/* test_idx.c - IDX and datasets: lg_file_read (raw and gzip, caps),
 * lg_idx_parse, lg_dataset_* and lg_fmnist_load, on the real Fashion-MNIST
 * files and on a table of malformed inputs (each must be refused with a
 * message, which is printed).
 *
 * The gzip inputs for the bomb and concatenation cases are written by a tiny
 * deflate encoder below (fixed Huffman codes), so the test needs no zlib.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define GIB ((size_t)1 << 30)

/* ------------------------------------------------------------ helpers */

/* A fresh directory under $TMPDIR (or /tmp); removed by tmpdir_remove. */
static void tmpdir_make(char *dir, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, len, "%s/lg_test_idx_XXXXXX", t && *t ? t : "/tmp");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp(%s) failed: %s", dir, strerror(errno));
}

static void tmpdir_remove(const char *dir, const char *const *names, int n)
{
    char p[8192];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_msg(fwrite(buf, 1, len, f) == len, "cannot write %zu bytes to %s", len, path);
    ck_assert_msg(fclose(f) == 0, "cannot close %s", path);
}

/* The bytes of a file as stored (no decompression). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s (install the Debian package dataset-fashion-mnist)", path,
                  strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    ck_assert_msg(n > 0, "%s is empty", path);
    uint8_t *b = malloc((size_t)n);
    ck_assert_msg(b != NULL, "out of memory");
    ck_assert_msg(fread(b, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void fmnist_path(char *p, size_t len, const char *split, const char *kind, const char *ext)
{
    snprintf(p, len, "%s/%s-%s-ubyte%s", lg_test_fmnist_dir(), split, kind, ext);
}

static void load_fmnist(lg_dataset *ds, int train)
{
    char err[512] = "";
    lg_status s = lg_fmnist_load(ds, lg_test_fmnist_dir(), train, err, sizeof err);
    ck_assert_msg(s == LG_OK, "lg_fmnist_load(%s, %s) failed (%s): %s", lg_test_fmnist_dir(), train ? "train" : "test",
                  lg_strerror(s), err);
}

static void count_labels(const lg_dataset *ds, int *counts, int k)
{
    memset(counts, 0, (size_t)k * sizeof *counts);
    for (int i = 0; i < ds->n; i++) {
        ck_assert_msg(ds->labels[i] >= 0 && ds->labels[i] < k, "row %d has label %d, expected 0..%d", i, ds->labels[i],
                      k - 1);
        counts[ds->labels[i]]++;
    }
}

static int datasets_equal(const lg_dataset *a, const lg_dataset *b)
{
    if (a->n != b->n || a->c != b->c || a->h != b->h || a->w != b->w) return 0;
    size_t row = (size_t)a->c * (size_t)a->h * (size_t)a->w;
    return memcmp(a->images, b->images, (size_t)a->n * row * sizeof(float)) == 0 &&
           memcmp(a->labels, b->labels, (size_t)a->n * sizeof(int)) == 0;
}

/* Every row of sub is a row of full (image and label), in full's order. */
static void assert_ordered_subset(const lg_dataset *sub, const lg_dataset *full)
{
    size_t row = (size_t)full->c * (size_t)full->h * (size_t)full->w;
    int j = 0;
    for (int i = 0; i < sub->n; i++) {
        while (j < full->n &&
               memcmp(sub->images + (size_t)i * row, full->images + (size_t)j * row, row * sizeof(float)) != 0)
            j++;
        ck_assert_msg(j < full->n, "kept row %d is not a later row of the original (order lost?)", i);
        j++;
    }
}

/* -------------------------------------------------- a tiny gzip writer */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    uint32_t acc;
    int nbits;
} bitw;

static void bw_byte(bitw *b, uint8_t v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = realloc(b->p, b->cap);
        ck_assert_msg(b->p != NULL, "out of memory");
    }
    b->p[b->n++] = v;
}

static void bw_bits(bitw *b, uint32_t v, int n) /* LSB first, as deflate packs fields */
{
    b->acc |= v << b->nbits;
    b->nbits += n;
    while (b->nbits >= 8) {
        bw_byte(b, (uint8_t)b->acc);
        b->acc >>= 8;
        b->nbits -= 8;
    }
}

static void bw_huff(bitw *b, uint32_t code, int n) /* Huffman codes go MSB first */
{
    uint32_t r = 0;
    for (int i = 0; i < n; i++) r = r << 1 | ((code >> i) & 1);
    bw_bits(b, r, n);
}

static void bw_le32(bitw *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) bw_byte(b, (uint8_t)(v >> (8 * i)));
}

static uint32_t crc32_bytes(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = crc >> 1 ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* Appends one gzip member holding `total` (≥ 1) copies of byte v: a literal,
 * then 258-byte matches at distance 1 (13 bits each), then literals. */
static void gzip_repeat(bitw *b, uint8_t v, size_t total)
{
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 0; i < 10; i++) bw_byte(b, header[i]);
    bw_bits(b, 1, 1); /* BFINAL */
    bw_bits(b, 1, 2); /* BTYPE 01: fixed Huffman */
    bw_huff(b, 0x30u + v, 8);
    size_t left = total - 1;
    for (; left >= 258; left -= 258) {
        bw_huff(b, 0xC5, 8); /* length symbol 285 = 258 */
        bw_huff(b, 0, 5);    /* distance symbol 0 = 1 */
    }
    for (; left > 0; left--) bw_huff(b, 0x30u + v, 8);
    bw_huff(b, 0, 7); /* end of block (256) */
    if (b->nbits) bw_bits(b, 0, 8 - b->nbits);
    uint8_t chunk[4096];
    memset(chunk, v, sizeof chunk);
    uint32_t crc = 0;
    for (size_t done = 0; done < total;) {
        size_t k = total - done < sizeof chunk ? total - done : sizeof chunk;
        crc = crc32_bytes(crc, chunk, k);
        done += k;
    }
    bw_le32(b, crc);
    bw_le32(b, (uint32_t)total);
}

/* -------------------------------------------- Fashion-MNIST, the real one */

START_TEST(test_fmnist_train)
{
    lg_dataset ds;
    int counts[10];
    load_fmnist(&ds, 1);
    ck_assert_msg(ds.n == 60000 && ds.c == 1 && ds.h == 28 && ds.w == 28,
                  "train split is %d x %d x %d x %d, expected 60000 x 1 x 28 x 28", ds.n, ds.c, ds.h, ds.w);
    count_labels(&ds, counts, 10);
    for (int k = 0; k < 10; k++)
        ck_assert_msg(counts[k] == 6000, "train class %d has %d rows, expected 6000", k, counts[k]);
    /* Known: the first training labels are 9 0 0 3 0 2 7 2 5 5. */
    static const int first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    for (int i = 0; i < 10; i++)
        ck_assert_msg(ds.labels[i] == first[i], "train label %d is %d, expected %d", i, ds.labels[i], first[i]);

    /* Normalized with the training-set mean/std: mean ≈ 0, std ≈ 1. */
    size_t total = (size_t)ds.n * 784;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < total; i++) {
        sum += ds.images[i];
        sq += (double)ds.images[i] * ds.images[i];
    }
    double mean = sum / (double)total, sd = sqrt(sq / (double)total - mean * mean);
    printf("fmnist train: normalized pixel mean %.5f std %.5f\n", mean, sd);
    ck_assert_msg(fabs(mean) < 0.01, "normalized train pixel mean is %.5f, expected 0 ± 0.01", mean);
    ck_assert_msg(fabs(sd - 1) < 0.01, "normalized train pixel std is %.5f, expected 1 ± 0.01", sd);

    /* Known: the first training image's bytes sum to 76247, and pixel 0 is 0. */
    double s0 = 0;
    for (int i = 0; i < 784; i++) s0 += ds.images[i];
    double want = (76247.0 / 255.0 - 784.0 * (double)LG_FMNIST_MEAN) / (double)LG_FMNIST_STD;
    ck_assert_msg(fabs(s0 - want) < 1e-2, "image 0 sums to %.4f normalized, expected %.4f", s0, want);
    float z = (0.0f - LG_FMNIST_MEAN) / LG_FMNIST_STD;
    ck_assert_msg(ds.images[0] == z, "pixel 0 is %g, expected a black pixel %g", (double)ds.images[0], (double)z);
    lg_dataset_free(&ds);
    ck_assert_msg(ds.n == 0 && ds.images == NULL && ds.labels == NULL, "lg_dataset_free must zero the struct");
    lg_dataset_free(&ds);
    lg_dataset_free(NULL);
}
END_TEST

START_TEST(test_fmnist_test)
{
    lg_dataset ds;
    int counts[10];
    load_fmnist(&ds, 0);
    ck_assert_msg(ds.n == 10000 && ds.c == 1 && ds.h == 28 && ds.w == 28,
                  "test split is %d x %d x %d x %d, expected 10000 x 1 x 28 x 28", ds.n, ds.c, ds.h, ds.w);
    count_labels(&ds, counts, 10);
    for (int k = 0; k < 10; k++)
        ck_assert_msg(counts[k] == 1000, "test class %d has %d rows, expected 1000", k, counts[k]);
    static const int first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int i = 0; i < 10; i++)
        ck_assert_msg(ds.labels[i] == first[i], "test label %d is %d, expected %d", i, ds.labels[i], first[i]);
    lg_dataset_free(&ds);
}
END_TEST

/* lg_file_read gunzips to exactly the IDX bytes: header and sizes. */
START_TEST(test_file_read_gzip)
{
    char path[4096], err[512] = "";
    uint8_t *buf = NULL;
    size_t len = 0;
    lg_idx x;
    fmnist_path(path, sizeof path, "train", "images-idx3", ".gz");
    lg_status s = lg_file_read(&buf, &len, path, GIB, err, sizeof err);
    ck_assert_msg(s == LG_OK, "lg_file_read(%s): %s", path, err);
    ck_assert_msg(len == 16 + 60000u * 784u, "train images decompress to %zu bytes, expected %u", len,
                  16 + 60000u * 784u);
    s = lg_idx_parse(&x, buf, len, err, sizeof err);
    ck_assert_msg(s == LG_OK, "lg_idx_parse: %s", err);
    ck_assert_msg(x.ndim == 3 && x.dims[0] == 60000 && x.dims[1] == 28 && x.dims[2] == 28 && x.count == 47040000,
                  "parsed %d dims %u x %u x %u", x.ndim, x.dims[0], x.dims[1], x.dims[2]);
    ck_assert_msg(x.data == buf + 16, "data must point just past the 16-byte header");
    long sum = 0;
    for (int i = 0; i < 784; i++) sum += x.data[i];
    ck_assert_msg(sum == 76247, "first image's bytes sum to %ld, expected 76247", sum);
    free(buf);

    /* The exact size as cap is accepted, one byte less is refused. */
    fmnist_path(path, sizeof path, "t10k", "labels-idx1", ".gz");
    s = lg_file_read(&buf, &len, path, 10008, err, sizeof err);
    ck_assert_msg(s == LG_OK && len == 10008, "t10k labels with cap 10008: %s, %zu bytes", lg_strerror(s), len);
    free(buf);
    s = lg_file_read(&buf, &len, path, 10007, err, sizeof err);
    printf("cap one byte short: %s\n", err);
    ck_assert_msg(s == LG_ERR_RANGE && buf == NULL && len == 0, "cap 10007 must be refused, got %s", lg_strerror(s));
    ck_assert_msg(strstr(err, "10007") != NULL, "the message must name the cap: %s", err);
}
END_TEST

/* Raw (uncompressed) copies in another directory load identically. */
START_TEST(test_fmnist_raw_copy)
{
    static const char *const names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                        "t10k-labels-idx1-ubyte"};
    char dir[4096], src[4096], dst[4200], err[512] = "";
    tmpdir_make(dir, sizeof dir);
    for (int i = 0; i < 4; i++) {
        uint8_t *buf;
        size_t len;
        snprintf(src, sizeof src, "%s/%s.gz", lg_test_fmnist_dir(), names[i]);
        lg_status s = lg_file_read(&buf, &len, src, GIB, err, sizeof err);
        ck_assert_msg(s == LG_OK, "lg_file_read(%s): %s", src, err);
        snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
        write_file(dst, buf, len);
        free(buf);
    }
    for (int train = 0; train <= 1; train++) {
        lg_dataset gz, raw;
        load_fmnist(&gz, train);
        lg_status s = lg_fmnist_load(&raw, dir, train, err, sizeof err);
        ck_assert_msg(s == LG_OK, "lg_fmnist_load(%s) from raw files: %s", dir, err);
        ck_assert_msg(datasets_equal(&gz, &raw), "%s split: raw and gzipped files load differently",
                      train ? "train" : "test");
        lg_dataset_free(&gz);
        lg_dataset_free(&raw);
    }
    tmpdir_remove(dir, names, 4);

    /* A directory with neither name. */
    lg_dataset ds;
    lg_status s = lg_fmnist_load(&ds, dir, 1, err, sizeof err);
    printf("missing Fashion-MNIST: %s\n", err);
    ck_assert_msg(s == LG_ERR_IO && strstr(err, "train-images-idx3-ubyte") != NULL,
                  "a missing directory must be an I/O error naming the file, got %s: %s", lg_strerror(s), err);
    ck_assert_msg(ds.n == 0 && ds.images == NULL, "a failed load must leave an empty dataset");
}
END_TEST

START_TEST(test_filter)
{
    lg_dataset full, ds;
    int counts[10];
    static const int upper[5] = {5, 6, 7, 8, 9};
    load_fmnist(&full, 1);
    load_fmnist(&ds, 1);

    lg_status s = lg_dataset_filter(&ds, upper, 5, 1, NULL, 0);
    ck_assert_msg(s == LG_OK, "filter to 5..9: %s", lg_strerror(s));
    ck_assert_msg(ds.n == 30000, "filter to 5..9 kept %d rows, expected 30000", ds.n);
    count_labels(&ds, counts, 5);
    for (int k = 0; k < 5; k++)
        ck_assert_msg(counts[k] == 6000, "relabelled class %d has %d rows, expected 6000", k, counts[k]);
    assert_ordered_subset(&ds, &full);
    /* Labels start 9 0 0 3 0 2 7 2 5 5: kept rows 0..3 are original rows
     * 0, 6, 8, 9, relabelled 4, 2, 0, 0. */
    static const int orig[4] = {0, 6, 8, 9}, relab[4] = {4, 2, 0, 0};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(
            memcmp(ds.images + (size_t)i * 784, full.images + (size_t)orig[i] * 784, 784 * sizeof(float)) == 0 &&
                ds.labels[i] == relab[i],
            "kept row %d must be original row %d relabelled %d (label %d)", i, orig[i], relab[i], ds.labels[i]);
    lg_dataset_free(&ds);

    /* Without relabelling, in another order: labels stay 7 and 5. */
    static const int two[2] = {7, 5};
    load_fmnist(&ds, 1);
    s = lg_dataset_filter(&ds, two, 2, 0, NULL, 0);
    ck_assert_msg(s == LG_OK && ds.n == 12000, "filter {7,5}: %s, %d rows, expected 12000", lg_strerror(s), ds.n);
    for (int i = 0; i < ds.n; i++)
        ck_assert_msg(ds.labels[i] == 5 || ds.labels[i] == 7, "row %d label %d", i, ds.labels[i]);
    /* Relabelled by position in classes[]: 7 → 0, 5 → 1. */
    s = lg_dataset_filter(&ds, two, 2, 1, NULL, 0);
    ck_assert_msg(s == LG_OK && ds.n == 12000 && ds.labels[0] == 0 && ds.labels[1] == 1,
                  "relabel {7,5}: first labels %d %d, expected 0 1 (were 7 5)", ds.labels[0], ds.labels[1]);

    /* Refused, and the dataset is left as it was. */
    static const int dup[3] = {0, 1, 0};
    static const int none[1] = {42};
    ck_assert_msg(lg_dataset_filter(&ds, two, 0, 1, NULL, 0) == LG_ERR_INVALID, "nclasses 0 must be refused");
    ck_assert_msg(lg_dataset_filter(&ds, two, -1, 1, NULL, 0) == LG_ERR_INVALID, "nclasses -1 must be refused");
    ck_assert_msg(lg_dataset_filter(&ds, NULL, 2, 1, NULL, 0) == LG_ERR_INVALID, "classes NULL must be refused");
    char why[256] = "";
    ck_assert_msg(lg_dataset_filter(&ds, dup, 3, 1, why, sizeof why) == LG_ERR_INVALID && strstr(why, "listed twice"),
                  "duplicate classes must be refused with a message: %s", why);
    ck_assert_msg(lg_dataset_filter(&ds, none, 1, 1, NULL, 0) == LG_ERR_INVALID,
                  "a filter keeping no rows must be refused");
    ck_assert_msg(lg_dataset_filter(NULL, two, 2, 1, NULL, 0) == LG_ERR_INVALID, "ds NULL must be refused");
    ck_assert_msg(ds.n == 12000 && ds.labels[0] == 0 && ds.labels[1] == 1,
                  "refused filters must leave the dataset unchanged");
    lg_dataset_free(&ds);
    lg_dataset_free(&full);
}
END_TEST

START_TEST(test_per_class)
{
    lg_dataset full, a, b, c;
    int counts[10];
    load_fmnist(&full, 1);
    load_fmnist(&a, 1);
    load_fmnist(&b, 1);
    load_fmnist(&c, 1);

    ck_assert_msg(lg_dataset_per_class(&a, 10, 10, 1234, NULL, 0) == LG_OK, "per_class(10) seed 1234");
    ck_assert_msg(lg_dataset_per_class(&b, 10, 10, 1234, NULL, 0) == LG_OK, "per_class(10) seed 1234 again");
    ck_assert_msg(lg_dataset_per_class(&c, 10, 10, 99, NULL, 0) == LG_OK, "per_class(10) seed 99");
    ck_assert_msg(a.n == 100, "per_class(10) kept %d rows, expected 100", a.n);
    count_labels(&a, counts, 10);
    for (int k = 0; k < 10; k++) ck_assert_msg(counts[k] == 10, "class %d has %d rows, expected 10", k, counts[k]);
    ck_assert_msg(datasets_equal(&a, &b), "the same seed must pick the same rows");
    ck_assert_msg(!datasets_equal(&a, &c), "another seed must pick other rows");
    assert_ordered_subset(&a, &full);
    assert_ordered_subset(&c, &full);

    /* Asking for more than a class has keeps all of it. */
    ck_assert_msg(lg_dataset_per_class(&b, 50, 10, 7, NULL, 0) == LG_OK && datasets_equal(&a, &b),
                  "per_class(50) of 10 per class must keep everything, in order");

    /* After filtering to 5..9 (relabelled), 100 per class of 5 classes. */
    static const int upper[5] = {5, 6, 7, 8, 9};
    lg_dataset_free(&c);
    load_fmnist(&c, 1);
    ck_assert_msg(lg_dataset_filter(&c, upper, 5, 1, NULL, 0) == LG_OK, "filter 5..9");
    ck_assert_msg(lg_dataset_per_class(&c, 100, 5, 0, NULL, 0) == LG_OK && c.n == 500,
                  "per_class(100) of 5 classes: %d rows", c.n);
    count_labels(&c, counts, 5);
    for (int k = 0; k < 5; k++) ck_assert_msg(counts[k] == 100, "class %d has %d rows, expected 100", k, counts[k]);

    /* Refused, dataset unchanged: labels outside [0, nclasses), bad n. */
    char why2[256] = "";
    ck_assert_msg(lg_dataset_per_class(&a, 10, 9, 1, why2, sizeof why2) == LG_ERR_INVALID && strstr(why2, "label 9"),
                  "label 9 with nclasses 9 must be refused with a message: %s", why2);
    ck_assert_msg(lg_dataset_per_class(&a, 0, 10, 1, NULL, 0) == LG_ERR_INVALID, "n 0 must be refused");
    ck_assert_msg(lg_dataset_per_class(&a, 10, 0, 1, NULL, 0) == LG_ERR_INVALID, "nclasses 0 must be refused");
    ck_assert_msg(lg_dataset_per_class(NULL, 10, 10, 1, NULL, 0) == LG_ERR_INVALID, "ds NULL must be refused");
    ck_assert_msg(datasets_equal(&a, &b), "refused per_class calls must leave the dataset unchanged");
    lg_dataset_free(&a);
    lg_dataset_free(&b);
    lg_dataset_free(&c);
    lg_dataset_free(&full);
}
END_TEST

/* 4-dim images (n×c×h×w) and the normalization arithmetic. */
START_TEST(test_from_idx_4d)
{
    static const uint8_t img[] = {0, 0, 8, 4, 0, 0,   0, 2, 0, 0, 0, 3, 0, 0, 0, 1,
                                  0, 0, 0, 2, 0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static const uint8_t lab[] = {0, 0, 8, 1, 0, 0, 0, 2, 255, 3};
    char err[256] = "";
    lg_idx ix, lx;
    lg_dataset ds;
    ck_assert_msg(lg_idx_parse(&ix, img, sizeof img, err, sizeof err) == LG_OK, "parse 4-dim: %s", err);
    ck_assert_msg(lg_idx_parse(&lx, lab, sizeof lab, err, sizeof err) == LG_OK, "parse labels: %s", err);
    ck_assert_msg(lg_dataset_from_idx(&ds, &ix, &lx, 0.5f, 0.25f, err, sizeof err) == LG_OK, "from_idx: %s", err);
    ck_assert_msg(ds.n == 2 && ds.c == 3 && ds.h == 1 && ds.w == 2, "shape %d %d %d %d, expected 2 3 1 2", ds.n, ds.c,
                  ds.h, ds.w);
    ck_assert_msg(ds.labels[0] == 255 && ds.labels[1] == 3, "labels %d %d, expected 255 3", ds.labels[0], ds.labels[1]);
    ck_assert_msg(ds.images[0] == -2.0f && ds.images[1] == 2.0f, "pixels 0 and 255 → %g %g, expected -2 2",
                  (double)ds.images[0], (double)ds.images[1]);
    float want = (3.0f / 255.0f - 0.5f) / 0.25f;
    ck_assert_msg(ds.images[4] == want, "pixel 3 → %g, expected %g", (double)ds.images[4], (double)want);
    lg_dataset_free(&ds);

    ck_assert_msg(lg_dataset_from_idx(&ds, &ix, &lx, 0.5f, 0.0f, err, sizeof err) == LG_ERR_INVALID,
                  "std 0 must be refused");
    printf("std 0: %s\n", err);
}
END_TEST

/* -------------------------------------------------- malformed IDX table */

static const uint8_t m_empty[1] = {0};
static const uint8_t m_short[] = {0, 0, 8};
static const uint8_t m_short_dims[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0};
static const uint8_t m_magic[] = {1, 0, 8, 1, 0, 0, 0, 1, 7};
static const uint8_t m_gzmagic[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
static const uint8_t m_type0d[] = {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0x80, 0x3f};
static const uint8_t m_ndim0[] = {0, 0, 8, 0, 0, 0, 0, 0};
static const uint8_t m_ndim5[] = {0, 0, 8, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9};
static const uint8_t m_lying[] = {0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3};
static const uint8_t m_lying3[] = {0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3, 4};
static const uint8_t m_trailing[] = {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3};
static const uint8_t m_overflow[] = {0,    0,    8,    3,    0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0};
static const uint8_t m_huge2[] = {0, 0, 8, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0};
/* Parse fine, but are no dataset. */
static const uint8_t d_img3[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 10, 20, 30};
static const uint8_t d_lab2[] = {0, 0, 8, 1, 0, 0, 0, 2, 0, 1};
static const uint8_t d_lab3[] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2};
static const uint8_t d_img2d[] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 1, 10, 20, 30};
static const uint8_t d_lab2d[] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 1, 2};
static const uint8_t d_img0[] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
static const uint8_t d_lab0[] = {0, 0, 8, 1, 0, 0, 0, 0};
static const uint8_t d_imgw0[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0};

typedef struct {
    const char *name;
    const uint8_t *img;
    size_t img_len;
    const uint8_t *lab; /* NULL: img itself must fail lg_idx_parse */
    size_t lab_len;
    lg_status want;
    const char *say; /* the message must contain this */
} bad_idx;

#define B(a) a, sizeof a
static const bad_idx bad_idx_table[] = {
    {"empty", m_empty, 0, NULL, 0, LG_ERR_FORMAT, "0 bytes"},
    {"too short for the magic", B(m_short), NULL, 0, LG_ERR_FORMAT, "3 bytes"},
    {"too short for its dims", B(m_short_dims), NULL, 0, LG_ERR_FORMAT, "16-byte header"},
    {"wrong magic bytes", B(m_magic), NULL, 0, LG_ERR_FORMAT, "0x01 0x00"},
    {"gzip bytes given to the IDX parser", B(m_gzmagic), NULL, 0, LG_ERR_FORMAT, "0x1F 0x8B"},
    {"unsupported type 0x0D", B(m_type0d), NULL, 0, LG_ERR_FORMAT, "unsupported IDX element type 0x0D"},
    {"ndim 0", B(m_ndim0), NULL, 0, LG_ERR_FORMAT, "0 dimensions"},
    {"ndim 5", B(m_ndim5), NULL, 0, LG_ERR_FORMAT, "5 dimensions"},
    {"lying dims (10 claimed, 3 present)", B(m_lying), NULL, 0, LG_ERR_FORMAT, "need 10 data bytes but 3"},
    {"lying dims (60000x28x28, 4 present)", B(m_lying3), NULL, 0, LG_ERR_FORMAT, "47040000"},
    {"trailing bytes", B(m_trailing), NULL, 0, LG_ERR_FORMAT, "need 2 data bytes but 3"},
    {"product overflow 0xFFFFFFFF^3", B(m_overflow), NULL, 0, LG_ERR_FORMAT, "overflow"},
    {"huge dims 0xFFFFFFFF^2", B(m_huge2), NULL, 0, LG_ERR_FORMAT, "18446744065119617025"},
    {"image/label count mismatch", B(d_img3), B(d_lab2), LG_ERR_FORMAT, "3 images but 2 labels"},
    {"images with 2 dims", B(d_img2d), B(d_lab3), LG_ERR_FORMAT, "image IDX has 2 dimensions"},
    {"labels with 2 dims", B(d_img3), B(d_lab2d), LG_ERR_FORMAT, "label IDX has 2 dimensions"},
    {"zero images", B(d_img0), B(d_lab0), LG_ERR_FORMAT, "no images"},
    {"zero-width images", B(d_imgw0), B(d_lab3), LG_ERR_FORMAT, "empty image shape"},
};
#define N_BAD_IDX ((int)(sizeof bad_idx_table / sizeof bad_idx_table[0]))

START_TEST(test_bad_idx)
{
    const bad_idx *t = &bad_idx_table[_i];
    char err[512] = "";
    lg_idx ix, lx;
    lg_dataset ds;
    lg_status s;
    if (!t->lab) {
        s = lg_idx_parse(&ix, t->img, t->img_len, err, sizeof err);
        ck_assert_msg(ix.ndim == 0 && ix.data == NULL, "%s: a refused parse must leave out zeroed", t->name);
    } else {
        ck_assert_msg(lg_idx_parse(&ix, t->img, t->img_len, err, sizeof err) == LG_OK, "%s: images: %s", t->name, err);
        ck_assert_msg(lg_idx_parse(&lx, t->lab, t->lab_len, err, sizeof err) == LG_OK, "%s: labels: %s", t->name, err);
        s = lg_dataset_from_idx(&ds, &ix, &lx, 0.5f, 0.5f, err, sizeof err);
        ck_assert_msg(ds.images == NULL && ds.n == 0, "%s: a refused dataset must stay empty", t->name);
    }
    printf("bad IDX %-38s -> %s: %s\n", t->name, lg_strerror(s), err);
    ck_assert_msg(s == t->want, "%s: got %s, expected %s", t->name, lg_strerror(s), lg_strerror(t->want));
    ck_assert_msg(strstr(err, t->say) != NULL, "%s: message \"%s\" should mention \"%s\"", t->name, err, t->say);
}
END_TEST

/* --------------------------------------------------- malformed gzip table */

typedef struct {
    const char *name;
    size_t cap;
    lg_status want;
    const char *say;
} bad_file;

/* Writes case i's file to path. */
static void bad_file_make(int i, const char *path)
{
    char src[4096];
    size_t len;
    uint8_t *gz;
    bitw b = {0};
    fmnist_path(src, sizeof src, "t10k", "labels-idx1", ".gz");
    switch (i) {
    case 0: /* truncated in the middle of the deflate data */
        gz = slurp(src, &len);
        write_file(path, gz, len / 2);
        free(gz);
        break;
    case 1: /* truncated inside the 8-byte trailer */
        gz = slurp(src, &len);
        write_file(path, gz, len - 3);
        free(gz);
        break;
    case 2: /* header only */
        gz = slurp(src, &len);
        write_file(path, gz, 10);
        free(gz);
        break;
    case 3: /* bytes flipped in the middle: bad codes or a CRC mismatch */
        gz = slurp(src, &len);
        for (size_t k = len / 2; k < len / 2 + 16; k++) gz[k] ^= 0x5A;
        write_file(path, gz, len);
        free(gz);
        break;
    case 4: /* CRC-32 in the trailer wrong, data intact */
        gz = slurp(src, &len);
        gz[len - 8] ^= 1;
        write_file(path, gz, len);
        free(gz);
        break;
    case 5: /* reserved deflate block type 11 */
    {
        static const uint8_t bad[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        write_file(path, bad, sizeof bad);
        break;
    }
    case 6: /* unknown compression method in the gzip header */
    {
        static const uint8_t bad[] = {0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        write_file(path, bad, sizeof bad);
        break;
    }
    case 7: /* garbage after the member */
        gzip_repeat(&b, 0, 1000);
        bw_byte(&b, 'x');
        bw_byte(&b, 'y');
        write_file(path, b.p, b.n);
        break;
    case 8: /* bomb: 64 MiB of zeros in ~400 KB, read with a 1 MiB cap */
        gzip_repeat(&b, 0, (size_t)64 << 20);
        write_file(path, b.p, b.n);
        break;
    case 9: /* two members, 1 MiB each: the sum passes a 1.5 MiB cap */
        gzip_repeat(&b, 1, (size_t)1 << 20);
        gzip_repeat(&b, 2, (size_t)1 << 20);
        write_file(path, b.p, b.n);
        break;
    case 10: /* a raw file one byte over the cap */
    {
        uint8_t *raw = calloc(4097, 1);
        ck_assert_msg(raw != NULL, "out of memory");
        write_file(path, raw, 4097);
        free(raw);
        break;
    }
    case 11: /* no file at all */ break;
    }
    free(b.p);
}

static const bad_file bad_file_table[] = {
    {"gzip truncated in the middle", GIB, LG_ERR_FORMAT, "truncated gzip"},
    {"gzip truncated in the trailer", GIB, LG_ERR_FORMAT, "truncated gzip"},
    {"gzip header only", GIB, LG_ERR_FORMAT, "truncated gzip"},
    {"gzip with flipped bytes", GIB, LG_ERR_FORMAT, "corrupt gzip"},
    {"gzip with a wrong CRC", GIB, LG_ERR_FORMAT, "incorrect data check"},
    {"gzip with a reserved block type", GIB, LG_ERR_FORMAT, "invalid block type"},
    {"gzip with compression method 7", GIB, LG_ERR_FORMAT, "corrupt gzip"},
    {"gzip with trailing garbage", GIB, LG_ERR_FORMAT, "after the gzip data"},
    {"gzip bomb, 64 MiB past a 1 MiB cap", (size_t)1 << 20, LG_ERR_RANGE, "cap of 1048576 bytes"},
    {"two gzip members past a 1.5 MiB cap", (size_t)3 << 19, LG_ERR_RANGE, "cap of 1572864 bytes"},
    {"raw file past a 4096-byte cap", 4096, LG_ERR_RANGE, "cap of 4096 bytes"},
    {"missing file", GIB, LG_ERR_IO, "No such file"},
};
#define N_BAD_FILE ((int)(sizeof bad_file_table / sizeof bad_file_table[0]))

START_TEST(test_bad_file)
{
    const bad_file *t = &bad_file_table[_i];
    static const char *const names[] = {"bad"};
    char dir[4096], path[4200], err[512] = "";
    uint8_t *buf = (uint8_t *)&err; /* must come back NULL */
    size_t len = 12345;
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad", dir);
    bad_file_make(_i, path);
    lg_status s = lg_file_read(&buf, &len, path, t->cap, err, sizeof err);
    tmpdir_remove(dir, names, 1);
    printf("bad file %-38s -> %s: %s\n", t->name, lg_strerror(s), err);
    ck_assert_msg(s == t->want, "%s: got %s, expected %s", t->name, lg_strerror(s), lg_strerror(t->want));
    ck_assert_msg(buf == NULL && len == 0, "%s: a refused read must return no buffer", t->name);
    ck_assert_msg(strstr(err, t->say) != NULL, "%s: message \"%s\" should mention \"%s\"", t->name, err, t->say);
    ck_assert_msg(strstr(err, path) != NULL, "%s: message should name the file %s", t->name, path);
}
END_TEST

/* The gzip writer's output decodes (so the refusals above are about what
 * they say), multi-member files join, and the cap boundary is exact. */
START_TEST(test_gzip_members_and_cap)
{
    static const char *const names[] = {"ok.gz"};
    char dir[4096], path[4200], err[512] = "";
    bitw b = {0};
    uint8_t *buf;
    size_t len, one = (size_t)1 << 20;
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/ok.gz", dir);
    gzip_repeat(&b, 1, one);
    gzip_repeat(&b, 2, 300);
    write_file(path, b.p, b.n);
    free(b.p);

    lg_status s = lg_file_read(&buf, &len, path, one + 300, err, sizeof err);
    ck_assert_msg(s == LG_OK, "two members with an exact cap: %s", err);
    ck_assert_msg(len == one + 300, "decompressed %zu bytes, expected %zu", len, one + 300);
    size_t bad = 0;
    for (size_t i = 0; i < len; i++) bad += buf[i] != (i < one ? 1 : 2);
    ck_assert_msg(bad == 0, "%zu decompressed bytes are wrong", bad);
    free(buf);
    s = lg_file_read(&buf, &len, path, one + 299, err, sizeof err);
    ck_assert_msg(s == LG_ERR_RANGE, "cap one byte short must be refused, got %s", lg_strerror(s));

    /* Raw: empty file and exact cap. */
    write_file(path, "", 0);
    s = lg_file_read(&buf, &len, path, 0, err, sizeof err);
    ck_assert_msg(s == LG_OK && len == 0 && buf != NULL, "empty raw file with cap 0: %s", lg_strerror(s));
    free(buf);
    write_file(path, "\x1f", 1); /* half a gzip magic is just a byte */
    s = lg_file_read(&buf, &len, path, 1, err, sizeof err);
    ck_assert_msg(s == LG_OK && len == 1 && buf[0] == 0x1f, "1-byte raw file with cap 1: %s", lg_strerror(s));
    free(buf);
    tmpdir_remove(dir, names, 1);

    ck_assert_msg(lg_file_read(NULL, &len, path, 1, err, sizeof err) == LG_ERR_INVALID, "buf NULL must be refused");

    /* Files of unknown size (devices, pipes) are read up to the cap. */
    s = lg_file_read(&buf, &len, "/dev/zero", 100000, err, sizeof err);
    printf("endless device: %s\n", err);
    ck_assert_msg(s == LG_ERR_RANGE && strstr(err, "cap of 100000 bytes") != NULL,
                  "/dev/zero with cap 100000 must be refused naming the cap, got %s: %s", lg_strerror(s), err);
    s = lg_file_read(&buf, &len, "/dev/null", 100, err, sizeof err);
    ck_assert_msg(s == LG_OK && len == 0, "/dev/null reads as 0 bytes, got %s: %s", lg_strerror(s), err);
    free(buf);
}
END_TEST

static Suite *idx_suite(void)
{
    Suite *s = suite_create("idx");
    TCase *fm = tcase_create("fmnist");
    tcase_set_timeout(fm, 600);
    tcase_add_test(fm, test_fmnist_train);
    tcase_add_test(fm, test_fmnist_test);
    tcase_add_test(fm, test_file_read_gzip);
    tcase_add_test(fm, test_fmnist_raw_copy);
    tcase_add_test(fm, test_filter);
    tcase_add_test(fm, test_per_class);
    suite_add_tcase(s, fm);

    TCase *bad = tcase_create("malformed");
    tcase_set_timeout(bad, 120);
    tcase_add_test(bad, test_from_idx_4d);
    tcase_add_loop_test(bad, test_bad_idx, 0, N_BAD_IDX);
    tcase_add_loop_test(bad, test_bad_file, 0, N_BAD_FILE);
    tcase_add_test(bad, test_gzip_members_and_cap);
    suite_add_tcase(s, bad);
    return s;
}

int main(void) { return lg_test_run(idx_suite()); }
