/* safetensors.c - reading, validating and writing safetensors files.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
 * tensor names to {"dtype","shape","data_offsets"} (plus an optional
 * "__metadata__" object of strings), then the data section. The reader trusts
 * nothing: every length, offset, dtype and shape is checked against overflow
 * and the buffer before a tensor points into it, and tensors may not overlap.
 * The writer emits contiguous data in the given order with the header padded
 * to a multiple of 8, and lg_st_write_file replaces files atomically.
 * int8 files (LG_I8, layout in learngene.h) are quantized per output channel
 * here; the reader checks their scales and folds each "<name>:scale"
 * companion into its I8 tensor, which lg_st_to_f32 dequantizes.
 * Calls json.c, dtype.c, libc, libm and POSIX file calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "internal.h"

#define LG_ST_MAX_HEADER 100000000u /* 100 MB, as the reference implementation */
#define LG_ST_MAX_NAME 255          /* bytes in a tensor name */
#define LG_ST_MAX_NDIM 8
#define LG_ST_MAX_FILE ((uint64_t)4 << 30)   /* lg_st_read_file refuses more */
#define LG_ST_MAX_OFFSET ((uint64_t)1 << 53) /* largest integer a JSON reader keeps exactly */

struct lg_st {
    uint8_t *owned;        /* the file's bytes when held (copy, read_file), else NULL */
    lg_st_tensor *tensors; /* in header order */
    int n;
    const char **meta_key; /* __metadata__ in header order */
    const char **meta_val;
    int nmeta;
    char *strings; /* names, metadata keys and values, one block */
    int *slot;     /* hash index of names: tensor index, or -1 */
    size_t nslot;  /* power of two */
};

/* A name for an error message: at most 64 bytes of it (n >= 8), control
 * characters as '?', cut at a UTF-8 character boundary with "...". */
static const char *printable_(char *buf, size_t n, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    size_t lim = n - 4 < 64 ? n - 4 : 64, o = 0;
    for (; o < lim && c[o]; o++) buf[o] = (char)(c[o] < 0x20 || c[o] == 0x7f ? '?' : c[o]);
    if (c[o]) {
        while (o > 0 && (c[o] & 0xc0) == 0x80) o--; /* c[o] continues a character: cut before it */
        memcpy(buf + o, "...", 4);
    } else {
        buf[o] = '\0';
    }
    return buf;
}

/* "a number", "an object", ... for messages. */
static const char *type_name_(const lgj_value *v)
{
    switch (lgj_typeof(v)) {
    case LGJ_NULL: return "null";
    case LGJ_BOOL: return "a boolean";
    case LGJ_NUM: return "a number";
    case LGJ_STR: return "a string";
    case LGJ_ARR: return "an array";
    case LGJ_OBJ: return "an object";
    }
    return "a value";
}

/* "[3,4]" for messages (truncated to n). */
static const char *shape_str_(char *buf, size_t n, const int64_t *shape, int ndim)
{
    size_t o = 0;
    o += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%" PRId64, i ? "," : "", shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

static uint64_t le64_(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static size_t hash_(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* Multiplies the dims (with the element size) into *bytes; -1 on overflow.
 * A zero dimension makes the tensor empty whatever the others are. */
static int shape_bytes_(const int64_t *shape, int ndim, size_t esize, uint64_t *bytes)
{
    uint64_t b = esize;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *bytes = 0;
            return 0;
        }
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (b > UINT64_MAX / d) return -1;
        b *= d;
    }
    *bytes = b;
    return 0;
}

/* ----------------------------------------------------------------- reader */

typedef struct {
    uint64_t begin, end;
    int idx;
} st_range;

static int range_cmp_(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Validates one header entry and fills t (but for name and data) and r. */
static lg_status parse_entry_(lg_st_tensor *t, st_range *r, const char *name, const lgj_value *v, size_t dlen,
                              char *err, size_t errlen)
{
    char nm[80], buf[160];
    const lgj_value *dt = NULL, *sh = NULL, *off = NULL;
    printable_(nm, sizeof nm, name);
    if (lgj_typeof(v) != LGJ_OBJ)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "tensor '%s': entry is %s, not an object", nm, type_name_(v));
    for (size_t i = 0; i < lgj_len(v); i++) {
        const char *k = lgj_key(v, i);
        if (strcmp(k, "dtype") == 0)
            dt = lgj_at(v, i);
        else if (strcmp(k, "shape") == 0)
            sh = lgj_at(v, i);
        else if (strcmp(k, "data_offsets") == 0)
            off = lgj_at(v, i);
        else
            return lg_fail(err, errlen, LG_ERR_FORMAT,
                           "tensor '%s': unexpected key '%s' (an entry has exactly dtype, shape and data_offsets)", nm,
                           printable_(buf, sizeof buf, k));
    }
    if (!dt || !sh || !off)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "tensor '%s': missing \"%s\"", nm,
                       !dt   ? "dtype"
                       : !sh ? "shape"
                             : "data_offsets");

    if (lgj_typeof(dt) != LGJ_STR)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "tensor '%s': dtype is %s, not a string", nm, type_name_(dt));
    if (lg_dtype_parse(lgj_str(dt), &t->dtype))
        return lg_fail(err, errlen, LG_ERR_FORMAT, "tensor '%s': unsupported dtype %s (supported: F32, F16, BF16, I8)",
                       nm, printable_(buf, sizeof buf, lgj_str(dt)));

    if (lgj_typeof(sh) != LGJ_ARR)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "tensor '%s': shape is %s, not an array", nm, type_name_(sh));
    if (lgj_len(sh) > LG_ST_MAX_NDIM)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "tensor '%s': shape has %zu dimensions (at most %d supported)", nm,
                       lgj_len(sh), LG_ST_MAX_NDIM);
    t->ndim = (int)lgj_len(sh);
    for (int i = 0; i < t->ndim; i++) {
        const lgj_value *d = lgj_at(sh, (size_t)i);
        uint64_t u;
        if (lgj_uint(d, &u)) {
            if (lgj_typeof(d) == LGJ_NUM) {
                snprintf(buf, sizeof buf, "%.15g", lgj_num(d));
                if (strtod(buf, NULL) != lgj_num(d)) snprintf(buf, sizeof buf, "%.17g", lgj_num(d));
            } else {
                snprintf(buf, sizeof buf, "%s", type_name_(d));
            }
            return lg_fail(err, errlen, LG_ERR_FORMAT,
                           "tensor '%s': shape[%d] is %s, not a non-negative integer (at most 2^53)", nm, i, buf);
        }
        t->shape[i] = (int64_t)u;
    }
    const char *dname = lg_dtype_name(t->dtype);
    uint64_t need;
    if (shape_bytes_(t->shape, t->ndim, lg_dtype_size(t->dtype), &need))
        return lg_fail(err, errlen, LG_ERR_FORMAT, "tensor '%s': shape %s of %s has more bytes than fit in 64 bits", nm,
                       shape_str_(buf, sizeof buf, t->shape, t->ndim), dname);

    uint64_t o[2];
    if (lgj_typeof(off) != LGJ_ARR || lgj_len(off) != 2 || lgj_uint(lgj_at(off, 0), &o[0]) ||
        lgj_uint(lgj_at(off, 1), &o[1]))
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "tensor '%s': data_offsets must be an array of two non-negative integers [begin, end]", nm);
    if (o[1] < o[0])
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin", nm, o[0], o[1]);
    if (o[1] - o[0] != need)
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes but shape %s of %s "
                       "needs %" PRIu64,
                       nm, o[0], o[1], o[1] - o[0], shape_str_(buf, sizeof buf, t->shape, t->ndim), dname, need);
    if (o[1] > dlen)
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run past the end of the data section (%zu "
                       "bytes)",
                       nm, o[0], o[1], dlen);
    t->nbytes = (size_t)need;
    r->begin = o[0];
    r->end = o[1];
    return LG_OK;
}

static float le32f_(const uint8_t *p)
{
    uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static int find_index_(const lg_st *s, const char *name)
{
    for (size_t h = hash_(name) & (s->nslot - 1); s->slot[h] >= 0; h = (h + 1) & (s->nslot - 1))
        if (strcmp(s->tensors[s->slot[h]].name, name) == 0) return s->slot[h];
    return -1;
}

/* The int8 layout (learngene.h, LG_I8): checks that the metadata names it,
 * that every I8 tensor has its "<name>:scale" companion (F32, one finite
 * positive scale per output channel) and every companion its I8 tensor, then
 * folds the companions into their tensors (.scale) and drops them from the
 * list and the name index. Files without I8 tensors or that metadata pass
 * unchanged. */
static lg_status fold_scales_(lg_st *s, char *err, size_t errlen)
{
    const char *q = lg_st_meta(s, "quantization");
    int qmeta = q && strcmp(q, LG_I8_QUANTIZATION) == 0, i8 = 0;
    char nm[80], nm2[80], cname[LG_ST_MAX_NAME + sizeof LG_I8_SCALE_SUFFIX];
    for (int i = 0; i < s->n; i++) i8 |= s->tensors[i].dtype == LG_I8;
    if (!i8 && !qmeta) return LG_OK;
    for (int i = 0; !qmeta && i < s->n; i++)
        if (s->tensors[i].dtype == LG_I8)
            return lg_fail(err, errlen, LG_ERR_FORMAT,
                           "tensor '%s' is I8 but __metadata__ \"quantization\" is %s%s%s, not \"" LG_I8_QUANTIZATION
                           "\" (the only int8 layout read)",
                           printable_(nm, sizeof nm, s->tensors[i].name), q ? "\"" : "",
                           q ? printable_(nm2, sizeof nm2, q) : "missing", q ? "\"" : "");

    char *companion = calloc((size_t)s->n + 1, 1);
    if (!companion) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory checking int8 scales");
    lg_status st = LG_OK;
    for (int i = 0; i < s->n; i++) {
        lg_st_tensor *t = &s->tensors[i];
        if (t->dtype != LG_I8) continue;
        printable_(nm, sizeof nm, t->name);
        if (t->ndim < 1) {
            st = lg_fail(err, errlen, LG_ERR_FORMAT,
                         "I8 tensor '%s' is a scalar; int8 tensors have output channels first", nm);
            goto out;
        }
        snprintf(cname, sizeof cname, "%s%s", t->name, LG_I8_SCALE_SUFFIX);
        int c = find_index_(s, cname);
        if (c < 0) {
            st = lg_fail(err, errlen, LG_ERR_FORMAT, "I8 tensor '%s' has no scale tensor '%s%s'", nm, nm,
                         LG_I8_SCALE_SUFFIX);
            goto out;
        }
        const lg_st_tensor *sc = &s->tensors[c];
        if (sc->dtype != LG_F32 || sc->ndim != 1 || sc->shape[0] != t->shape[0]) {
            st = lg_fail(err, errlen, LG_ERR_FORMAT,
                         "scale tensor '%s%s' must be F32 of shape [%" PRId64 "] (one per output channel of '%s')", nm,
                         LG_I8_SCALE_SUFFIX, t->shape[0], nm);
            goto out;
        }
        for (int64_t r = 0; r < sc->shape[0]; r++) {
            float v = le32f_(sc->data + 4 * r);
            if (!isfinite(v) || !(v > 0)) {
                st = lg_fail(err, errlen, LG_ERR_FORMAT,
                             "scale tensor '%s%s'[%" PRId64 "] is %g; int8 scales must be finite and positive", nm,
                             LG_I8_SCALE_SUFFIX, r, (double)v);
                goto out;
            }
        }
        t->scale = sc->data;
        companion[c] = 1;
    }
    size_t sl = strlen(LG_I8_SCALE_SUFFIX);
    for (int i = 0; i < s->n; i++) {
        const char *name = s->tensors[i].name;
        size_t l = strlen(name);
        if (!companion[i] && s->tensors[i].dtype != LG_I8 && l > sl && strcmp(name + l - sl, LG_I8_SCALE_SUFFIX) == 0) {
            st = lg_fail(err, errlen, LG_ERR_FORMAT, "scale tensor '%s' belongs to no I8 tensor",
                         printable_(nm, sizeof nm, name));
            goto out;
        }
    }

    int k = 0;
    for (int i = 0; i < s->n; i++)
        if (!companion[i]) s->tensors[k++] = s->tensors[i];
    s->n = k;
    for (size_t h = 0; h < s->nslot; h++) s->slot[h] = -1;
    for (int i = 0; i < s->n; i++) {
        size_t h = hash_(s->tensors[i].name) & (s->nslot - 1);
        while (s->slot[h] >= 0) h = (h + 1) & (s->nslot - 1);
        s->slot[h] = i;
    }
out:
    free(companion);
    return st;
}

/* Parses buf[0..len); owned (may be NULL) is freed on failure or kept by the
 * result. */
static lg_status st_parse_(lg_st **out, uint8_t *owned, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    lg_status st = LG_OK;
    lgj_value *hdr = NULL;
    lg_st *s = NULL;
    st_range *ranges = NULL;
    char jerr[200], nm[80], nm2[80];

    if (len < 8) {
        st = lg_fail(err, errlen, LG_ERR_FORMAT,
                     "file is %zu bytes, too short for the 8-byte header length a safetensors file starts with", len);
        goto fail;
    }
    uint64_t hlen = le64_(buf);
    if (hlen > len - 8) {
        st = lg_fail(err, errlen, LG_ERR_FORMAT,
                     "header length %" PRIu64 " is larger than the %zu bytes that follow it (truncated or not "
                     "safetensors)",
                     hlen, len - 8);
        goto fail;
    }
    if (hlen > LG_ST_MAX_HEADER) {
        st = lg_fail(err, errlen, LG_ERR_RANGE, "header length %" PRIu64 " exceeds the limit of %u bytes", hlen,
                     LG_ST_MAX_HEADER);
        goto fail;
    }
    const uint8_t *data = buf + 8 + hlen;
    size_t dlen = len - 8 - (size_t)hlen;
    st = lgj_parse(&hdr, (const char *)buf + 8, (size_t)hlen, jerr, sizeof jerr);
    if (st != LG_OK) {
        st = lg_fail(err, errlen, st == LG_ERR_NOMEM ? st : LG_ERR_FORMAT, "header: %s", jerr);
        goto fail;
    }
    if (lgj_typeof(hdr) != LGJ_OBJ) {
        st = lg_fail(err, errlen, LG_ERR_FORMAT, "header is %s in JSON, not an object", type_name_(hdr));
        goto fail;
    }

    /* Count tensors and string bytes; check names and metadata. */
    const lgj_value *meta = NULL;
    size_t ntens = 0, sbytes = 0;
    for (size_t i = 0; i < lgj_len(hdr); i++) {
        const char *k = lgj_key(hdr, i);
        if (strcmp(k, "__metadata__") == 0) {
            meta = lgj_at(hdr, i);
            continue;
        }
        size_t kl = strlen(k);
        if (kl > LG_ST_MAX_NAME) {
            st = lg_fail(err, errlen, LG_ERR_FORMAT, "tensor name '%s' is %zu bytes (at most %d)",
                         printable_(nm, sizeof nm, k), kl, LG_ST_MAX_NAME);
            goto fail;
        }
        ntens++;
        sbytes += kl + 1;
    }
    size_t nmeta = lgj_len(meta);
    if (meta && lgj_typeof(meta) != LGJ_OBJ) {
        st = lg_fail(err, errlen, LG_ERR_FORMAT, "__metadata__ is %s, not an object of strings", type_name_(meta));
        goto fail;
    }
    for (size_t i = 0; i < nmeta; i++) {
        const lgj_value *v = lgj_at(meta, i);
        if (lgj_typeof(v) != LGJ_STR) {
            st = lg_fail(err, errlen, LG_ERR_FORMAT, "__metadata__ value of '%s' is %s, not a string",
                         printable_(nm, sizeof nm, lgj_key(meta, i)), type_name_(v));
            goto fail;
        }
        sbytes += strlen(lgj_key(meta, i)) + 1 + lgj_strlen(v) + 1;
    }
    if (ntens > INT_MAX || nmeta > INT_MAX) {
        st = lg_fail(err, errlen, LG_ERR_RANGE, "header lists %zu tensors and %zu metadata entries, too many", ntens,
                     nmeta);
        goto fail;
    }

    s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->owned = owned;
    owned = NULL;
    s->nslot = 8;
    while (s->nslot < 2 * ntens) s->nslot *= 2;
    s->tensors = calloc(ntens ? ntens : 1, sizeof *s->tensors);
    s->meta_key = calloc(nmeta ? nmeta : 1, sizeof *s->meta_key);
    s->meta_val = calloc(nmeta ? nmeta : 1, sizeof *s->meta_val);
    s->strings = malloc(sbytes ? sbytes : 1);
    s->slot = malloc(s->nslot * sizeof *s->slot);
    ranges = calloc(ntens ? ntens : 1, sizeof *ranges);
    if (!s->tensors || !s->meta_key || !s->meta_val || !s->strings || !s->slot || !ranges) goto nomem;
    for (size_t i = 0; i < s->nslot; i++) s->slot[i] = -1;

    char *sp = s->strings;
    for (size_t i = 0; i < nmeta; i++) {
        const char *k = lgj_key(meta, i);
        const lgj_value *v = lgj_at(meta, i);
        size_t kl = strlen(k) + 1, vl = lgj_strlen(v);
        memcpy(sp, k, kl);
        s->meta_key[i] = sp;
        sp += kl;
        memcpy(sp, lgj_str(v), vl);
        sp[vl] = '\0';
        s->meta_val[i] = sp;
        sp += vl + 1;
    }
    s->nmeta = (int)nmeta;

    for (size_t i = 0; i < lgj_len(hdr); i++) {
        const char *k = lgj_key(hdr, i);
        if (strcmp(k, "__metadata__") == 0) continue;
        lg_st_tensor *t = &s->tensors[s->n];
        st_range *r = &ranges[s->n];
        st = parse_entry_(t, r, k, lgj_at(hdr, i), dlen, err, errlen);
        if (st != LG_OK) goto fail;
        size_t kl = strlen(k) + 1;
        memcpy(sp, k, kl);
        t->name = sp;
        sp += kl;
        t->data = data + r->begin;
        r->idx = s->n++;
        size_t h = hash_(t->name) & (s->nslot - 1);
        while (s->slot[h] >= 0) h = (h + 1) & (s->nslot - 1);
        s->slot[h] = r->idx; /* names are unique: the JSON reader rejects duplicate keys */
    }

    /* Overlaps: sorted by begin, each non-empty region must start at or after
     * the furthest end seen so far. */
    qsort(ranges, ntens, sizeof *ranges, range_cmp_);
    int far = -1;
    for (size_t i = 0; i < ntens; i++) {
        const st_range *r = &ranges[i];
        if (r->begin == r->end) continue;
        if (far >= 0 && r->begin < ranges[far].end) {
            const st_range *q = &ranges[far];
            st = lg_fail(err, errlen, LG_ERR_FORMAT,
                         "tensors '%s' [%" PRIu64 ", %" PRIu64 "] and '%s' [%" PRIu64 ", %" PRIu64 "] overlap",
                         printable_(nm, sizeof nm, s->tensors[q->idx].name), q->begin, q->end,
                         printable_(nm2, sizeof nm2, s->tensors[r->idx].name), r->begin, r->end);
            goto fail;
        }
        if (far < 0 || r->end > ranges[far].end) far = (int)i;
    }

    if ((st = fold_scales_(s, err, errlen)) != LG_OK) goto fail;

    free(ranges);
    lgj_free(hdr);
    *out = s;
    return LG_OK;
nomem:
    st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory while parsing a safetensors header");
fail:
    free(owned);
    free(ranges);
    lgj_free(hdr);
    lg_st_free(s);
    return st;
}

lg_status lg_st_parse(lg_st **out, const uint8_t *buf, size_t len, int copy, char *err, size_t errlen)
{
    if (!out || (!buf && len)) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_st_parse: NULL argument");
    *out = NULL;
    uint8_t *owned = NULL;
    if (copy) {
        owned = malloc(len ? len : 1);
        if (!owned) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory copying %zu bytes of safetensors", len);
        if (len) memcpy(owned, buf, len);
        buf = owned;
    }
    return st_parse_(out, owned, buf, len, err, errlen);
}

lg_status lg_st_read_file(lg_st **out, const char *path, char *err, size_t errlen)
{
    if (!out || !path) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_st_read_file: NULL argument");
    *out = NULL;
    lg_status st;
    uint8_t *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return lg_fail(err, errlen, LG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        st = lg_fail(err, errlen, LG_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = lg_fail(err, errlen, LG_ERR_IO, "'%s' is not a regular file", path);
        goto fail;
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > LG_ST_MAX_FILE || (uint64_t)sb.st_size > SIZE_MAX - 1) {
        st = lg_fail(err, errlen, LG_ERR_RANGE, "'%s' is %lld bytes; safetensors files over 4 GiB are not supported",
                     path, (long long)sb.st_size);
        goto fail;
    }
    size_t len = (size_t)sb.st_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory reading %zu bytes of '%s'", len, path);
        goto fail;
    }
    size_t got = fread(buf, 1, len, f);
    if (got != len) {
        if (ferror(f))
            st = lg_fail(err, errlen, LG_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        else
            st = lg_fail(err, errlen, LG_ERR_IO, "'%s' shrank while being read (%zu of %zu bytes)", path, got, len);
        goto fail;
    }
    if (fgetc(f) != EOF) {
        st = lg_fail(err, errlen, LG_ERR_IO, "'%s' grew while being read", path);
        goto fail;
    }
    fclose(f);
    f = NULL;
    char perr[400];
    st = st_parse_(out, buf, buf, len, perr, sizeof perr);
    buf = NULL; /* st_parse_ owns it now */
    if (st != LG_OK) lg_fail(err, errlen, st, "%s: %s", path, perr);
    return st;
fail:
    if (f) fclose(f);
    free(buf);
    return st;
}

void lg_st_free(lg_st *st)
{
    if (!st) return;
    free(st->owned);
    free(st->tensors);
    free(st->meta_key);
    free(st->meta_val);
    free(st->strings);
    free(st->slot);
    free(st);
}

int lg_st_count(const lg_st *st) { return st ? st->n : 0; }

const lg_st_tensor *lg_st_get(const lg_st *st, int i) { return st && i >= 0 && i < st->n ? &st->tensors[i] : NULL; }

const lg_st_tensor *lg_st_find(const lg_st *st, const char *name)
{
    if (!st || !name) return NULL;
    for (size_t h = hash_(name) & (st->nslot - 1); st->slot[h] >= 0; h = (h + 1) & (st->nslot - 1))
        if (strcmp(st->tensors[st->slot[h]].name, name) == 0) return &st->tensors[st->slot[h]];
    return NULL;
}

const char *lg_st_meta(const lg_st *st, const char *key)
{
    if (!st || !key) return NULL;
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta_key[i], key) == 0) return st->meta_val[i];
    return NULL;
}

int lg_st_meta_count(const lg_st *st) { return st ? st->nmeta : 0; }

void lg_st_meta_get(const lg_st *st, int i, const char **key, const char **value)
{
    int ok = st && i >= 0 && i < st->nmeta;
    if (key) *key = ok ? st->meta_key[i] : NULL;
    if (value) *value = ok ? st->meta_val[i] : NULL;
}

static int host_little_endian_(void)
{
    uint32_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void lg_st_to_f32(const lg_st_tensor *t, float *out)
{
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case LG_F32:
        if (host_little_endian_()) {
            if (t->nbytes) memcpy(out, p, t->nbytes);
        } else {
            for (size_t i = 0; i < t->nbytes / 4; i++, p += 4) {
                uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
                memcpy(&out[i], &x, 4);
            }
        }
        break;
    case LG_F16:
        for (size_t i = 0; i < t->nbytes / 2; i++, p += 2) out[i] = lg_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
        break;
    case LG_BF16:
        for (size_t i = 0; i < t->nbytes / 2; i++, p += 2) out[i] = lg_bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
        break;
    case LG_I8: {
        size_t rows = t->ndim ? (size_t)t->shape[0] : 1, per = rows ? t->nbytes / rows : 0;
        for (size_t r = 0; r < rows; r++) {
            float sc = t->scale ? le32f_(t->scale + 4 * r) : 1.0f;
            for (size_t j = 0; j < per; j++, p++) out[r * per + j] = (float)(*p < 128 ? *p : *p - 256) * sc;
        }
        break;
    }
    }
}

/* ----------------------------------------------------------------- writer */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} st_sb;

static char *sb_room_(st_sb *b, size_t extra)
{
    if (b->oom) return NULL;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return NULL;
    }
    if (b->len + extra + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + extra + 1) cap = cap > SIZE_MAX / 2 ? b->len + extra + 1 : 2 * cap;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void sb_puts_(st_sb *b, const char *s)
{
    size_t n = strlen(s);
    char *o = sb_room_(b, n);
    if (!o) return;
    memcpy(o, s, n + 1);
    b->len += n;
}

static void sb_quote_(st_sb *b, const char *s)
{
    size_t n = lgj_quote(NULL, 0, s);
    char *o = sb_room_(b, n);
    if (!o) return;
    lgj_quote(o, n + 1, s);
    b->len += n;
}

static void sb_u64_(st_sb *b, uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    sb_puts_(b, tmp);
}

static int strp_cmp_(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The first name occurring twice among names[0..n) (sorted in place), or NULL. */
static const char *first_dup_(const char **names, size_t n)
{
    qsort(names, n, sizeof *names, strp_cmp_);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

static void put_le16_(uint8_t *o, uint16_t v)
{
    o[0] = (uint8_t)v;
    o[1] = (uint8_t)(v >> 8);
}

static void put_f32_(uint8_t *o, float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    o[0] = (uint8_t)x;
    o[1] = (uint8_t)(x >> 8);
    o[2] = (uint8_t)(x >> 16);
    o[3] = (uint8_t)(x >> 24);
}

/* With LG_I8: whether a tensor is stored int8 (a weight with output
 * channels first) rather than F32. */
static int quantized_(const lg_st_in *x) { return x->ndim >= 2 && x->shape[0] >= 2; }

/* One entry of the file being written: a caller's tensor in its file dtype,
 * or the "<name>:scale" companion of the int8 weight before it. */
typedef struct {
    const lg_st_in *in;
    lg_dtype dtype;
    char *name;       /* the companion's (malloc'd), else NULL: in->name */
    int ndim;         /* the companion: 1 */
    int64_t shape[1]; /* the companion: [rows] */
    uint64_t nbytes;
    float *scale; /* I8 weight: its rows' scales (owned); companion: the same */
} st_entry;

static const char *entry_name_(const st_entry *e) { return e->name ? e->name : e->in->name; }

/* Per-output-channel symmetric scales of rows × per values: max|w| / 127,
 * 1 for a row of zeros. -1 (and the index in *bad) for a NaN or infinity. */
static int i8_scales_(float *scale, const float *w, size_t rows, size_t per, size_t *bad)
{
    for (size_t r = 0; r < rows; r++) {
        float m = 0;
        for (size_t j = 0; j < per; j++) {
            float a = fabsf(w[r * per + j]);
            if (!isfinite(a)) {
                *bad = r * per + j;
                return -1;
            }
            if (a > m) m = a;
        }
        scale[r] = m / 127.0f;
        if (scale[r] == 0) scale[r] = 1;
    }
    return 0;
}

static void i8_quantize_(uint8_t *o, const float *w, const float *scale, size_t rows, size_t per)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < per; j++) {
            long q = lrintf(w[r * per + j] / scale[r]);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            o[r * per + j] = (uint8_t)(q < 0 ? q + 256 : q);
        }
}

lg_status lg_st_serialize(uint8_t **out, size_t *outlen, const lg_st_in *t, int n, const lg_st_kv *meta, int nmeta,
                          lg_dtype dtype, char *err, size_t errlen)
{
    lg_status st = LG_OK;
    st_entry *ent = NULL;
    int nent = 0;
    const char **names = NULL;
    st_sb hb = {0};
    uint8_t *buf = NULL;
    lg_st *check = NULL;
    char nm[80], shp[160], perr[256];

    if (!out || !outlen || n < 0 || nmeta < 0 || (n && !t) || (nmeta && !meta))
        return lg_fail(err, errlen, LG_ERR_INVALID, "lg_st_serialize: NULL argument or negative count");
    *out = NULL;
    *outlen = 0;
    if (!lg_dtype_size(dtype))
        return lg_fail(err, errlen, LG_ERR_INVALID, "lg_st_serialize: unknown dtype %d", (int)dtype);
    if (n > INT_MAX / 2) return lg_fail(err, errlen, LG_ERR_RANGE, "lg_st_serialize: %d tensors are too many", n);

    /* With int8 the writer adds the layout's name to the metadata. */
    int qmeta = dtype == LG_I8;
    size_t nnames = 2 * (size_t)n > (size_t)nmeta + 1 ? 2 * (size_t)n : (size_t)nmeta + 1;
    ent = calloc(n ? 2 * (size_t)n : 1, sizeof *ent);
    names = calloc(nnames, sizeof *names);
    if (!ent || !names) goto nomem;

    /* Check the tensors the way the reader will. */
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        const lg_st_in *x = &t[i];
        if (!x->name) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "tensor %d has no name", i);
            goto out;
        }
        printable_(nm, sizeof nm, x->name);
        if (strlen(x->name) > LG_ST_MAX_NAME || strcmp(x->name, "__metadata__") == 0) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "tensor name '%s' is reserved or longer than %d bytes", nm,
                         LG_ST_MAX_NAME);
            goto out;
        }
        if (x->ndim < 0 || x->ndim > LG_ST_MAX_NDIM || (x->ndim && !x->shape)) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "tensor '%s': ndim %d is not in 0..%d (with a shape)", nm,
                         x->ndim, LG_ST_MAX_NDIM);
            goto out;
        }
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] < 0 || (uint64_t)x->shape[d] > LG_ST_MAX_OFFSET) {
                st = lg_fail(err, errlen, LG_ERR_INVALID, "tensor '%s': dimension %d is %" PRId64, nm, d, x->shape[d]);
                goto out;
            }
        st_entry *e = &ent[nent++];
        e->in = x;
        e->dtype = dtype == LG_I8 ? (quantized_(x) ? LG_I8 : LG_F32) : dtype;
        e->ndim = x->ndim;
        if (shape_bytes_(x->shape, x->ndim, lg_dtype_size(e->dtype), &e->nbytes) ||
            e->nbytes > LG_ST_MAX_OFFSET - total) {
            st = lg_fail(err, errlen, LG_ERR_RANGE, "tensor '%s': shape %s of %s is too large", nm,
                         shape_str_(shp, sizeof shp, x->shape, x->ndim), lg_dtype_name(e->dtype));
            goto out;
        }
        if (e->nbytes && !x->data) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "tensor '%s' has no data", nm);
            goto out;
        }
        total += e->nbytes;
        if (e->dtype != LG_I8) continue;

        /* An int8 weight: its scales, and their companion entry. */
        size_t rows = (size_t)x->shape[0], per = rows ? (size_t)e->nbytes / rows : 0, bad = 0;
        size_t nl = strlen(x->name) + sizeof LG_I8_SCALE_SUFFIX;
        if (nl - 1 > LG_ST_MAX_NAME) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "tensor name '%s%s' of the int8 scales is longer than %d bytes",
                         nm, LG_I8_SCALE_SUFFIX, LG_ST_MAX_NAME);
            goto out;
        }
        e->scale = malloc(rows * sizeof *e->scale);
        st_entry *c = &ent[nent++];
        c->name = malloc(nl);
        if (!e->scale || !c->name) goto nomem;
        snprintf(c->name, nl, "%s%s", x->name, LG_I8_SCALE_SUFFIX);
        if (i8_scales_(e->scale, x->data, rows, per, &bad)) {
            st =
                lg_fail(err, errlen, LG_ERR_RANGE,
                        "tensor '%s' holds a NaN or infinite value at index %zu, which int8 cannot represent", nm, bad);
            goto out;
        }
        c->in = x;
        c->dtype = LG_F32;
        c->ndim = 1;
        c->shape[0] = (int64_t)rows;
        c->nbytes = 4 * (uint64_t)rows;
        c->scale = e->scale;
        if (c->nbytes > LG_ST_MAX_OFFSET - total) {
            st = lg_fail(err, errlen, LG_ERR_RANGE, "tensor '%s': %zu int8 scales are too many", nm, rows);
            goto out;
        }
        total += c->nbytes;
    }
    for (int i = 0; i < nent; i++) names[i] = entry_name_(&ent[i]);
    const char *dup = first_dup_(names, (size_t)nent);
    if (dup) {
        st = lg_fail(err, errlen, LG_ERR_INVALID, "tensor name '%s' is used twice", printable_(nm, sizeof nm, dup));
        goto out;
    }
    for (int i = 0; i < nmeta; i++) {
        if (!meta[i].key || !meta[i].value) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "metadata entry %d has a NULL key or value", i);
            goto out;
        }
        names[i] = meta[i].key;
    }
    if (qmeta) names[nmeta] = "quantization";
    dup = first_dup_(names, (size_t)nmeta + (size_t)qmeta);
    if (dup) {
        st = lg_fail(err, errlen, LG_ERR_INVALID, "metadata key '%s' is used twice%s", printable_(nm, sizeof nm, dup),
                     qmeta && !strcmp(dup, "quantization") ? " (int8 files set it themselves)" : "");
        goto out;
    }

    /* Header: metadata first, then the tensors with contiguous offsets. */
    sb_puts_(&hb, "{");
    if (nmeta + qmeta > 0) {
        sb_puts_(&hb, "\"__metadata__\":{");
        for (int i = 0; i < nmeta + qmeta; i++) {
            if (i) sb_puts_(&hb, ",");
            sb_quote_(&hb, i < nmeta ? meta[i].key : "quantization");
            sb_puts_(&hb, ":");
            sb_quote_(&hb, i < nmeta ? meta[i].value : LG_I8_QUANTIZATION);
        }
        sb_puts_(&hb, "}");
    }
    uint64_t at = 0;
    for (int i = 0; i < nent; i++) {
        const st_entry *e = &ent[i];
        const int64_t *shape = e->name ? e->shape : e->in->shape;
        if (i || nmeta + qmeta > 0) sb_puts_(&hb, ",");
        sb_quote_(&hb, entry_name_(e));
        sb_puts_(&hb, ":{\"dtype\":\"");
        sb_puts_(&hb, lg_dtype_name(e->dtype));
        sb_puts_(&hb, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            if (d) sb_puts_(&hb, ",");
            sb_u64_(&hb, (uint64_t)shape[d]);
        }
        sb_puts_(&hb, "],\"data_offsets\":[");
        sb_u64_(&hb, at);
        sb_puts_(&hb, ",");
        sb_u64_(&hb, at + e->nbytes);
        sb_puts_(&hb, "]}");
        at += e->nbytes;
    }
    sb_puts_(&hb, "}");
    while (!hb.oom && hb.len % 8) sb_puts_(&hb, " ");
    if (hb.oom) goto nomem;
    if (hb.len > LG_ST_MAX_HEADER) {
        st = lg_fail(err, errlen, LG_ERR_RANGE, "header would be %zu bytes, over the limit of %u", hb.len,
                     LG_ST_MAX_HEADER);
        goto out;
    }
    if (total > SIZE_MAX - 8 - hb.len) {
        st = lg_fail(err, errlen, LG_ERR_RANGE, "%" PRIu64 " bytes of tensor data do not fit in memory", total);
        goto out;
    }

    size_t len = 8 + hb.len + (size_t)total;
    buf = malloc(len);
    if (!buf) goto nomem;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hb.len >> (8 * i));
    memcpy(buf + 8, hb.p, hb.len);
    uint8_t *o = buf + 8 + hb.len;
    for (int i = 0; i < nent; i++) {
        const st_entry *e = &ent[i];
        size_t cnt = (size_t)e->nbytes / lg_dtype_size(e->dtype);
        const float *src = e->name ? e->scale : e->in->data;
        if (e->dtype == LG_I8) {
            size_t rows = (size_t)e->in->shape[0];
            i8_quantize_(o, src, e->scale, rows, rows ? cnt / rows : 0);
            o += cnt;
            continue;
        }
        for (size_t j = 0; j < cnt; j++) {
            switch (e->dtype) {
            case LG_F32: put_f32_(o, src[j]); break;
            case LG_F16: put_le16_(o, lg_f32_to_f16(src[j])); break;
            case LG_BF16: put_le16_(o, lg_f32_to_bf16(src[j])); break;
            case LG_I8: break; /* above */
            }
            o += lg_dtype_size(e->dtype);
        }
    }

    /* Never hand out bytes our own reader would refuse: what is left to
     * catch here is a name or metadata string that is not valid UTF-8. */
    st = lg_st_parse(&check, buf, len, 0, perr, sizeof perr);
    if (st != LG_OK) {
        st = lg_fail(err, errlen, LG_ERR_INVALID, "names and metadata must be valid UTF-8 (%s)", perr);
        goto out;
    }
    lg_st_free(check);
    *out = buf;
    *outlen = len;
    buf = NULL;
    goto out;
nomem:
    st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory serializing safetensors");
out:
    free(buf);
    free(hb.p);
    free(names);
    for (int i = 0; ent && i < nent; i++) {
        free(ent[i].name);
        if (!ent[i].name) free(ent[i].scale);
    }
    free(ent);
    return st;
}

lg_status lg_st_write_file(const char *path, const lg_st_in *t, int n, const lg_st_kv *meta, int nmeta, lg_dtype dtype,
                           char *err, size_t errlen)
{
    if (!path) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_st_write_file: NULL path");
    uint8_t *buf = NULL;
    size_t len = 0;
    lg_status st = lg_st_serialize(&buf, &len, t, n, meta, nmeta, dtype, err, errlen);
    if (st == LG_OK) st = lg_file_write_atomic(path, buf, len, err, errlen);
    free(buf);
    return st;
}
