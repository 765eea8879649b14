/* test_safetensors.c - tests of the safetensors reader/writer (safetensors.c),
 * the float16/bfloat16 conversions (dtype.c) and the strict JSON reader
 * (json.c): round trips, known bit patterns, exhaustive rounding boundaries,
 * a table of malformed files that must each be refused with a message, and
 * the int8 layout (error bounds, strict scales, every loader).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "testutil.h"

static uint32_t bits_(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return x;
}

static float flt_(uint32_t x)
{
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* A safetensors file: 8-byte length of hdr, hdr, then dlen zero bytes. */
static uint8_t *mkfile_(const char *hdr, size_t hlen, size_t dlen, size_t *len)
{
    *len = 8 + hlen + dlen;
    uint8_t *b = calloc(1, *len);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, hdr, hlen);
    return b;
}

/* ============================================================ conversions */

START_TEST(test_dtype_names)
{
    lg_dtype d;
    ck_assert_str_eq(lg_dtype_name(LG_F32), "F32");
    ck_assert_str_eq(lg_dtype_name(LG_F16), "F16");
    ck_assert_str_eq(lg_dtype_name(LG_BF16), "BF16");
    ck_assert_str_eq(lg_dtype_name(LG_I8), "I8");
    ck_assert_int_eq(lg_dtype_parse("F32", &d), 0);
    ck_assert_int_eq(d, LG_F32);
    ck_assert_int_eq(lg_dtype_parse("F16", &d), 0);
    ck_assert_int_eq(d, LG_F16);
    ck_assert_int_eq(lg_dtype_parse("BF16", &d), 0);
    ck_assert_int_eq(d, LG_BF16);
    ck_assert_int_eq(lg_dtype_parse("I8", &d), 0);
    ck_assert_int_eq(d, LG_I8);
    ck_assert_msg(lg_dtype_parse("F64", &d) != 0, "F64 must not parse");
    ck_assert_msg(lg_dtype_parse("f32", &d) != 0, "dtype names are case-sensitive");
    ck_assert_msg(lg_dtype_parse("", &d) != 0, "empty dtype must not parse");
    ck_assert_uint_eq(lg_dtype_size(LG_F32), 4);
    ck_assert_uint_eq(lg_dtype_size(LG_F16), 2);
    ck_assert_uint_eq(lg_dtype_size(LG_BF16), 2);
    ck_assert_uint_eq(lg_dtype_size(LG_I8), 1);
}
END_TEST

START_TEST(test_f16_known)
{
    static const struct {
        uint32_t f; /* float32 bits */
        uint16_t h;
    } to16[] = {
        {0x3f800000, 0x3c00}, /* 1.0 */
        {0xc0200000, 0xc100}, /* -2.5 */
        {0x00000000, 0x0000}, /* +0 */
        {0x80000000, 0x8000}, /* -0 */
        {0x477fe000, 0x7bff}, /* 65504, largest half */
        {0x477fefff, 0x7bff}, /* just under 65520 */
        {0x477ff000, 0x7c00}, /* 65520: tie rounds to even = inf */
        {0xc77ff000, 0xfc00}, /* -65520 */
        {0x7f7fffff, 0x7c00}, /* FLT_MAX overflows to inf */
        {0x7f800000, 0x7c00}, /* inf */
        {0xff800000, 0xfc00}, /* -inf */
        {0x33800000, 0x0001}, /* 2^-24, smallest subnormal */
        {0x33000000, 0x0000}, /* 2^-25: tie rounds to even = 0 */
        {0x33000001, 0x0001}, /* just above 2^-25 */
        {0x33c00000, 0x0002}, /* 1.5·2^-24: tie rounds to even = 2 */
        {0x34200000, 0x0002}, /* 2.5·2^-24: tie rounds to even = 2 */
        {0x387fc000, 0x03ff}, /* largest subnormal */
        {0x387fe000, 0x0400}, /* rounds up into the smallest normal */
        {0x38800000, 0x0400}, /* 2^-14, smallest normal */
        {0x3f801000, 0x3c00}, /* 1 + 2^-11: tie to even (down) */
        {0x3f803000, 0x3c02}, /* 1 + 3·2^-11: tie to even (up) */
        {0x3f801001, 0x3c01}, /* just above the tie */
        {0x00000001, 0x0000}, /* float subnormal underflows */
        {0x80000001, 0x8000},
    };
    for (size_t i = 0; i < sizeof to16 / sizeof *to16; i++) {
        uint16_t h = lg_f32_to_f16(flt_(to16[i].f));
        ck_assert_msg(h == to16[i].h, "f32 0x%08x -> f16 0x%04x, expected 0x%04x", to16[i].f, h, to16[i].h);
    }
    ck_assert_float_eq(lg_f16_to_f32(0x3c00), 1.0f);
    ck_assert_float_eq(lg_f16_to_f32(0xc100), -2.5f);
    ck_assert_float_eq(lg_f16_to_f32(0x7bff), 65504.0f);
    ck_assert_float_eq(lg_f16_to_f32(0x0001), ldexpf(1, -24));
    ck_assert_float_eq(lg_f16_to_f32(0x03ff), ldexpf(1023, -24));
    ck_assert_float_eq(lg_f16_to_f32(0x0400), ldexpf(1, -14));
    ck_assert_uint_eq(bits_(lg_f16_to_f32(0x8000)), 0x80000000u);
    ck_assert_msg(isinf(lg_f16_to_f32(0x7c00)) && lg_f16_to_f32(0x7c00) > 0, "0x7c00 is +inf");
    ck_assert_msg(isinf(lg_f16_to_f32(0xfc00)) && lg_f16_to_f32(0xfc00) < 0, "0xfc00 is -inf");

    /* NaN stays NaN (and quiet), whatever its payload. */
    const uint32_t nans[] = {0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x7fffffff};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        uint16_t h = lg_f32_to_f16(flt_(nans[i]));
        ck_assert_msg((h & 0x7c00) == 0x7c00 && (h & 0x3ff) && (h & 0x200), "NaN 0x%08x -> 0x%04x, not a quiet NaN",
                      nans[i], h);
        ck_assert_msg((h & 0x8000) == ((nans[i] >> 16) & 0x8000), "NaN sign kept");
    }
    const uint16_t hnans[] = {0x7e00, 0x7c01, 0xfd00, 0x7fff};
    for (size_t i = 0; i < sizeof hnans / sizeof *hnans; i++) {
        uint32_t x = bits_(lg_f16_to_f32(hnans[i]));
        ck_assert_msg((x & 0x7f800000) == 0x7f800000 && (x & 0x400000), "f16 NaN 0x%04x -> 0x%08x, not a quiet NaN",
                      hnans[i], x);
    }
}
END_TEST

START_TEST(test_bf16_known)
{
    static const struct {
        uint32_t f;
        uint16_t h;
    } tob[] = {
        {0x3f800000, 0x3f80}, /* 1.0 */
        {0xc0200000, 0xc020}, /* -2.5 */
        {0x477fe000, 0x4780}, /* 65504 rounds up to 65536 */
        {0x3f808000, 0x3f80}, /* 1 + 2^-8: tie to even (down) */
        {0x3f818000, 0x3f82}, /* 1 + 3·2^-8: tie to even (up) */
        {0x3f808001, 0x3f81}, /* just above the tie */
        {0x3f807fff, 0x3f80}, /* just below the tie */
        {0xbf818000, 0xbf82}, /* negative tie */
        {0x7f7fffff, 0x7f80}, /* FLT_MAX rounds to inf */
        {0x7f7f7fff, 0x7f7f}, /* stays finite */
        {0x7f800000, 0x7f80}, /* inf */
        {0xff800000, 0xff80}, {0x00000000, 0x0000},
        {0x80000000, 0x8000}, {0x00008000, 0x0000}, /* float subnormal tie to even = 0 */
        {0x00018000, 0x0002},                       /* subnormal tie to even (up) */
        {0x00000001, 0x0000},
    };
    for (size_t i = 0; i < sizeof tob / sizeof *tob; i++) {
        uint16_t h = lg_f32_to_bf16(flt_(tob[i].f));
        ck_assert_msg(h == tob[i].h, "f32 0x%08x -> bf16 0x%04x, expected 0x%04x", tob[i].f, h, tob[i].h);
    }
    ck_assert_float_eq(lg_bf16_to_f32(0x3f80), 1.0f);
    ck_assert_float_eq(lg_bf16_to_f32(0xc020), -2.5f);
    ck_assert_uint_eq(bits_(lg_bf16_to_f32(0x0001)), 0x00010000u);
    const uint32_t nans[] = {0x7fc00000, 0xffc00000, 0x7f800001, 0x7f80ffff, 0x7fffffff};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        uint16_t h = lg_f32_to_bf16(flt_(nans[i]));
        ck_assert_msg((h & 0x7f80) == 0x7f80 && (h & 0x7f) && (h & 0x40), "NaN 0x%08x -> bf16 0x%04x, not a quiet NaN",
                      nans[i], h);
    }
    ck_assert_msg(isnan(lg_bf16_to_f32(0x7f81)), "bf16 0x7f81 is NaN");
    ck_assert_uint_eq(bits_(lg_bf16_to_f32(0x7f81)) & 0x400000, 0x400000);
}
END_TEST

/* Checks one pair of neighbours h, h+1 (same sign s) of a 16-bit format:
 * the float midpoint rounds to the even one, its float neighbours to the
 * nearer; 0 when all hold, else writes what failed to msg. */
static int check_mid_(uint16_t (*to)(float), float (*from)(uint16_t), uint32_t h, uint16_t s, char *msg, size_t n)
{
    float a = from((uint16_t)(h | s)), b = from((uint16_t)((h + 1) | s));
    float mid = (float)(((double)a + (double)b) / 2); /* exact: one more bit than the format */
    uint16_t even = (uint16_t)(((h & 1) ? h + 1 : h) | s);
    uint16_t got[3] = {to(mid), to(nextafterf(mid, a)), to(nextafterf(mid, b))};
    uint16_t want[3] = {even, (uint16_t)(h | s), (uint16_t)((h + 1) | s)};
    for (int k = 0; k < 3; k++)
        if (got[k] != want[k]) {
            snprintf(msg, n, "%s %a between 0x%04x and 0x%04x -> 0x%04x, expected 0x%04x",
                     k == 0 ? "midpoint" : "just inside",
                     (double)(k == 0   ? mid
                              : k == 1 ? nextafterf(mid, a)
                                       : nextafterf(mid, b)),
                     h | s, (h + 1) | s, got[k], want[k]);
            return 1;
        }
    return 0;
}

/* Every half / bfloat16 value converts back to itself, and every rounding
 * boundary between two neighbours (subnormals included) rounds right. */
START_TEST(test_f16_exhaustive)
{
    char msg[200] = "";
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN */
        uint16_t back = lg_f32_to_f16(lg_f16_to_f32((uint16_t)h));
        if (back != h && !bad++) snprintf(msg, sizeof msg, "f16 0x%04x -> f32 -> 0x%04x", h, back);
    }
    ck_assert_msg(bad == 0, "%d f16 values do not survive f32: %s", bad, msg);
    for (uint32_t h = 0; h < 0x7bff; h++)
        for (int sgn = 0; sgn < 2; sgn++)
            if (check_mid_(lg_f32_to_f16, lg_f16_to_f32, h, (uint16_t)(sgn ? 0x8000 : 0), msg, sizeof msg)) bad++;
    ck_assert_msg(bad == 0, "%d f16 rounding boundaries wrong, e.g. %s", bad, msg);
}
END_TEST

START_TEST(test_bf16_exhaustive)
{
    char msg[200] = "";
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue; /* NaN */
        uint16_t back = lg_f32_to_bf16(lg_bf16_to_f32((uint16_t)h));
        if (back != h && !bad++) snprintf(msg, sizeof msg, "bf16 0x%04x -> f32 -> 0x%04x", h, back);
    }
    ck_assert_msg(bad == 0, "%d bf16 values do not survive f32: %s", bad, msg);
    for (uint32_t h = 0; h < 0x7f7f; h++)
        for (int sgn = 0; sgn < 2; sgn++)
            if (check_mid_(lg_f32_to_bf16, lg_bf16_to_f32, h, (uint16_t)(sgn ? 0x8000 : 0), msg, sizeof msg)) bad++;
    ck_assert_msg(bad == 0, "%d bf16 rounding boundaries wrong, e.g. %s", bad, msg);
}
END_TEST

/* ============================================================== round trip */

#define RT_N 6

typedef struct {
    lg_st_in in[RT_N];
    int64_t shapes[RT_N][3];
    float *data[RT_N];
    size_t numel[RT_N];
    lg_st_kv meta[3];
} rt_fixture;

static void rt_make_(rt_fixture *f)
{
    static const char *names[RT_N] = {"blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "scalar", "empty", "odd.5",
                                      "we\"ird\\n\xc3\xa4me\n"};
    static const int ndims[RT_N] = {2, 1, 0, 3, 1, 2};
    static const int64_t shapes[RT_N][3] = {{9, 4, 0}, {9, 0, 0}, {0, 0, 0}, {2, 0, 3}, {5, 0, 0}, {3, 7, 0}};
    uint32_t seed = 12345;
    memset(f, 0, sizeof *f);
    for (int i = 0; i < RT_N; i++) {
        size_t n = 1;
        for (int d = 0; d < ndims[i]; d++) n *= (size_t)shapes[i][d];
        memcpy(f->shapes[i], shapes[i], sizeof shapes[i]);
        f->numel[i] = n;
        f->data[i] = n ? malloc(n * sizeof(float)) : NULL;
        for (size_t j = 0; j < n; j++) {
            seed = seed * 1664525u + 1013904223u;
            f->data[i][j] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 8.0f;
        }
        f->in[i] = (lg_st_in){names[i], ndims[i], ndims[i] ? f->shapes[i] : NULL, f->data[i]};
    }
    /* Values that exercise rounding, subnormals, overflow and NaN. */
    float *w = f->data[0];
    w[0] = 1.0f;
    w[1] = -2.5f;
    w[2] = 65504.0f;
    w[3] = 65520.0f;
    w[4] = ldexpf(1, -24);
    w[5] = NAN;
    w[6] = INFINITY;
    w[7] = -0.0f;
    w[8] = 1e-30f;
    w[9] = flt_(0x3f808000);
    w[10] = 3e38f;
    f->data[2][0] = 3.14159265f;
    f->meta[0] = (lg_st_kv){"config", "{\"arch\":\"vit\",\"img\":28,\"pool\":\"avg\"}"};
    f->meta[1] = (lg_st_kv){"method", "tleg"};
    f->meta[2] = (lg_st_kv){"note", "t\xc3\xa9st \\ \"quoted\"\n"};
}

static void rt_free_(rt_fixture *f)
{
    for (int i = 0; i < RT_N; i++) free(f->data[i]);
}

static float expect_(float x, lg_dtype d)
{
    switch (d) {
    case LG_F16: return lg_f16_to_f32(lg_f32_to_f16(x));
    case LG_BF16: return lg_bf16_to_f32(lg_f32_to_bf16(x));
    default: return x;
    }
}

static void rt_check_(const lg_st *st, const rt_fixture *f, lg_dtype dtype, int nmeta)
{
    ck_assert_int_eq(lg_st_count(st), RT_N);
    ck_assert_int_eq(lg_st_meta_count(st), nmeta);
    for (int i = 0; i < nmeta; i++) {
        const char *k, *v;
        lg_st_meta_get(st, i, &k, &v);
        ck_assert_str_eq(k, f->meta[i].key);
        ck_assert_str_eq(v, f->meta[i].value);
        ck_assert_str_eq(lg_st_meta(st, f->meta[i].key), f->meta[i].value);
    }
    ck_assert_ptr_null(lg_st_meta(st, "absent"));
    ck_assert_ptr_null(lg_st_get(st, RT_N));
    ck_assert_ptr_null(lg_st_get(st, -1));
    ck_assert_ptr_null(lg_st_find(st, "absent"));
    const uint8_t *prev_end = NULL;
    for (int i = 0; i < RT_N; i++) {
        const lg_st_tensor *t = lg_st_get(st, i);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t->name, f->in[i].name);
        ck_assert_msg(lg_st_find(st, f->in[i].name) == t, "lg_st_find('%s') finds tensor %d", f->in[i].name, i);
        ck_assert_int_eq(t->dtype, dtype);
        ck_assert_int_eq(t->ndim, f->in[i].ndim);
        for (int d = 0; d < t->ndim; d++) ck_assert_int_eq(t->shape[d], f->shapes[i][d]);
        ck_assert_uint_eq(t->nbytes, f->numel[i] * lg_dtype_size(dtype));
        if (prev_end) ck_assert_msg(t->data == prev_end, "tensor %d's data follows tensor %d's", i, i - 1);
        prev_end = t->data + t->nbytes;
        float *got = malloc((f->numel[i] ? f->numel[i] : 1) * sizeof *got);
        lg_st_to_f32(t, got);
        for (size_t j = 0; j < f->numel[i]; j++) {
            float want = expect_(f->data[i][j], dtype);
            ck_assert_msg(bits_(got[j]) == bits_(want) || (isnan(got[j]) && isnan(want)),
                          "%s tensor '%s'[%zu]: got %a (0x%08x), want %a (0x%08x)", lg_dtype_name(dtype), f->in[i].name,
                          j, (double)got[j], bits_(got[j]), (double)want, bits_(want));
            if (dtype == LG_F32)
                ck_assert_msg(bits_(got[j]) == bits_(f->data[i][j]), "F32 is bit-exact: '%s'[%zu]", f->in[i].name, j);
        }
        free(got);
    }
}

START_TEST(test_round_trip)
{
    const lg_dtype dts[3] = {LG_F32, LG_F16, LG_BF16};
    lg_dtype dtype = dts[_i];
    rt_fixture f;
    rt_make_(&f);
    char err[512] = "";
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    lg_status s = lg_st_serialize(&buf, &len, f.in, RT_N, f.meta, 3, dtype, err, sizeof err);
    ck_assert_msg(s == LG_OK, "serialize %s: %s", lg_dtype_name(dtype), err);

    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    ck_assert_msg(hlen % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long)hlen);
    ck_assert_msg(memcmp(buf + 8, "{\"__metadata__\":", 16) == 0, "metadata comes first: %.40s", buf + 8);
    ck_assert_msg(buf[8 + hlen - 1] == ' ' || buf[8 + hlen - 1] == '}', "header padded with spaces");

    /* Deterministic bytes (a model's id is the hash of its file). */
    s = lg_st_serialize(&buf2, &len2, f.in, RT_N, f.meta, 3, dtype, err, sizeof err);
    ck_assert_int_eq(s, LG_OK);
    ck_assert_uint_eq(len, len2);
    ck_assert_msg(memcmp(buf, buf2, len) == 0, "serializing twice gives the same bytes");
    free(buf2);

    lg_st *st = NULL;
    s = lg_st_parse(&st, buf, len, 0, err, sizeof err);
    ck_assert_msg(s == LG_OK, "parse %s: %s", lg_dtype_name(dtype), err);
    rt_check_(st, &f, dtype, 3);
    ck_assert_msg(lg_st_get(st, 0)->data >= buf && lg_st_get(st, 0)->data < buf + len, "copy=0 borrows the buffer");
    lg_st_free(st);

    /* copy=1: the caller's buffer may go away. */
    uint8_t *dup = malloc(len);
    memcpy(dup, buf, len);
    s = lg_st_parse(&st, dup, len, 1, err, sizeof err);
    ck_assert_msg(s == LG_OK, "parse copy %s: %s", lg_dtype_name(dtype), err);
    memset(dup, 0xa5, len);
    free(dup);
    rt_check_(st, &f, dtype, 3);
    lg_st_free(st);
    free(buf);

    /* No metadata: no __metadata__ key at all. */
    s = lg_st_serialize(&buf, &len, f.in, RT_N, NULL, 0, dtype, err, sizeof err);
    ck_assert_msg(s == LG_OK, "serialize without metadata: %s", err);
    ck_assert_msg(memmem(buf, len, "__metadata__", 12) == NULL, "no __metadata__ without metadata");
    s = lg_st_parse(&st, buf, len, 0, err, sizeof err);
    ck_assert_msg(s == LG_OK, "parse without metadata: %s", err);
    rt_check_(st, &f, dtype, 0);
    lg_st_free(st);
    free(buf);
    rt_free_(&f);
}
END_TEST

START_TEST(test_empty_file_round_trip)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    ck_assert_int_eq(lg_st_serialize(&buf, &len, NULL, 0, NULL, 0, LG_F32, err, sizeof err), LG_OK);
    ck_assert_uint_eq(len, 16);
    ck_assert_msg(memcmp(buf + 8, "{}      ", 8) == 0, "empty header is {} padded");
    lg_st *st = NULL;
    ck_assert_msg(lg_st_parse(&st, buf, len, 0, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_int_eq(lg_st_count(st), 0);
    ck_assert_int_eq(lg_st_meta_count(st), 0);
    lg_st_free(st);
    free(buf);
    lg_st_free(NULL);
}
END_TEST

/* Files written by other tools: unsorted offsets, gaps, unaligned data,
 * zero-size tensors anywhere, whitespace, metadata last. */
START_TEST(test_parse_foreign)
{
    const char *hdr = " { \"b\" : {\"shape\":[2],\"dtype\":\"F16\",\"data_offsets\":[10,14]},\n"
                      "\"a\":{\"data_offsets\":[1,9],\"dtype\":\"F32\",\"shape\":[1,2]},"
                      "\"e\":{\"dtype\":\"BF16\",\"shape\":[0,100000000000],\"data_offsets\":[4,4]},"
                      "\"__metadata__\":{\"k\":\"v\"}}  ";
    size_t len;
    uint8_t *buf = mkfile_(hdr, strlen(hdr), 16, &len);
    uint8_t *d = buf + 8 + strlen(hdr);
    float one = 1.0f, two = -2.0f;
    memcpy(d + 1, &one, 4); /* unaligned */
    memcpy(d + 5, &two, 4);
    d[10] = 0x00, d[11] = 0x3c; /* 1.0 in F16 */
    d[12] = 0x00, d[13] = 0xc1; /* -2.5 */
    lg_st *st = NULL;
    char err[256] = "";
    ck_assert_msg(lg_st_parse(&st, buf, len, 0, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_int_eq(lg_st_count(st), 3);
    ck_assert_str_eq(lg_st_get(st, 0)->name, "b");
    ck_assert_str_eq(lg_st_get(st, 1)->name, "a");
    ck_assert_str_eq(lg_st_meta(st, "k"), "v");
    float out[2];
    lg_st_to_f32(lg_st_find(st, "a"), out);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[1], -2.0f);
    lg_st_to_f32(lg_st_find(st, "b"), out);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[1], -2.5f);
    const lg_st_tensor *e = lg_st_find(st, "e");
    ck_assert_uint_eq(e->nbytes, 0);
    ck_assert_int_eq(e->shape[1], 100000000000LL);
    lg_st_free(st);
    free(buf);
}
END_TEST

START_TEST(test_many_tensors)
{
    /* Enough tensors for the hash indexes to matter. */
    enum { N = 3000 };
    lg_st_in *in = calloc(N, sizeof *in);
    char(*names)[32] = calloc(N, sizeof *names);
    int64_t shape[1] = {1};
    float v[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "blocks.%d.w", i);
        v[i] = (float)i;
        in[i] = (lg_st_in){names[i], 1, shape, &v[i]};
    }
    uint8_t *buf;
    size_t len;
    char err[256] = "";
    ck_assert_msg(lg_st_serialize(&buf, &len, in, N, NULL, 0, LG_F32, err, sizeof err) == LG_OK, "%s", err);
    lg_st *st;
    ck_assert_msg(lg_st_parse(&st, buf, len, 0, err, sizeof err) == LG_OK, "%s", err);
    for (int i = 0; i < N; i++) {
        const lg_st_tensor *t = lg_st_find(st, names[i]);
        ck_assert_msg(t && t == lg_st_get(st, i), "find %s", names[i]);
        float x;
        lg_st_to_f32(t, &x);
        ck_assert_float_eq(x, (float)i);
    }
    lg_st_free(st);
    free(buf);
    /* Duplicate names are refused by the writer. */
    snprintf(names[N - 1], sizeof names[N - 1], "blocks.17.w");
    ck_assert_int_eq(lg_st_serialize(&buf, &len, in, N, NULL, 0, LG_F32, err, sizeof err), LG_ERR_INVALID);
    ck_assert_msg(strstr(err, "blocks.17.w") != NULL, "message names the duplicate: %s", err);
    free(names);
    free(in);
}
END_TEST

START_TEST(test_writer_rejects)
{
    int64_t good[2] = {2, 2}, neg[2] = {2, -1};
    float x[4] = {0};
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = '\0';
    const struct {
        const char *what;
        lg_st_in in;
    } cases[] = {
        {"NULL name", {NULL, 2, good, x}},
        {"negative dim", {"a", 2, neg, x}},
        {"ndim 9", {"a", 9, good, x}},
        {"ndim -1", {"a", -1, good, x}},
        {"NULL shape", {"a", 2, NULL, x}},
        {"NULL data", {"a", 2, good, NULL}},
        {"name of 256 bytes", {longname, 2, good, x}},
        {"name __metadata__", {"__metadata__", 2, good, x}},
        {"invalid UTF-8 name", {"bad\xff", 2, good, x}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *buf = (uint8_t *)1;
        size_t len = 1;
        char err[256] = "";
        lg_status s = lg_st_serialize(&buf, &len, &cases[i].in, 1, NULL, 0, LG_F16, err, sizeof err);
        printf("  writer refuses %-20s %s: %s\n", cases[i].what, lg_strerror(s), err);
        ck_assert_msg(s != LG_OK && err[0], "writer must refuse %s", cases[i].what);
        ck_assert_msg(buf == NULL && len == 0, "no output on error (%s)", cases[i].what);
    }
    lg_st_in one = {"a", 2, good, x};
    lg_st_kv dupmeta[2] = {{"k", "1"}, {"k", "2"}};
    uint8_t *buf;
    size_t len;
    char err[256] = "";
    ck_assert_int_eq(lg_st_serialize(&buf, &len, &one, 1, dupmeta, 2, LG_F32, err, sizeof err), LG_ERR_INVALID);
    lg_st_kv nullmeta[1] = {{"k", NULL}};
    ck_assert_int_eq(lg_st_serialize(&buf, &len, &one, 1, nullmeta, 1, LG_F32, err, sizeof err), LG_ERR_INVALID);
    ck_assert_int_eq(lg_st_serialize(&buf, &len, &one, 1, NULL, 0, (lg_dtype)7, err, sizeof err), LG_ERR_INVALID);
    /* err may be NULL. */
    ck_assert_int_eq(lg_st_serialize(&buf, &len, &one, 1, dupmeta, 2, LG_F32, NULL, 0), LG_ERR_INVALID);
}
END_TEST

/* ========================================================= malformed files */

#define T1(dt, shape, off) "{\"t\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off "}}"

typedef struct {
    const char *what;
    const char *hdr; /* header JSON (or, with raw, the whole file) */
    size_t dlen;     /* data bytes after the header */
    int raw;         /* 1: hdr is the whole file of rawlen bytes; 2: generated */
    size_t rawlen;   /* with raw 0: header bytes when hdr holds a NUL */
} bad_case;

static const bad_case bad_cases[] = {
    {"empty file", "", 0, 1, 0},
    {"too short (3 bytes)", "\x02\x00\x00", 0, 1, 3},
    {"only a length", "\x00\x00\x00\x00\x00\x00\x00\x00", 0, 1, 8},
    {"header longer than file", "\x64\x00\x00\x00\x00\x00\x00\x00{}", 0, 1, 10},
    {"header length 2^64-1", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 0, 1, 10},
    {"header length 2^63", "\x00\x00\x00\x00\x00\x00\x00\x80{}", 0, 1, 10},
    {"header not JSON", "hello, world", 0, 0, 0},
    {"header JSON array", "[1,2]", 0, 0, 0},
    {"header JSON string", "\"x\"", 0, 0, 0},
    {"truncated JSON", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", 4, 0, 0},
    {"trailing garbage", "{}x", 0, 0, 0},
    {"NUL byte in header", "{}\0 ", 0, 0, 4},
    {"dtype F64", T1("F64", "[1]", "[0,8]"), 8, 0, 0},
    {"dtype I8 without int8 metadata", T1("I8", "[1]", "[0,1]"), 1, 0, 0},
    {"dtype lower case", T1("f32", "[1]", "[0,4]"), 4, 0, 0},
    {"dtype a number", "{\"t\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"missing dtype", "{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"missing shape", "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"missing data_offsets", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, 0, 0},
    {"extra key", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, 0, 0},
    {"entry not an object", "{\"t\":[1]}", 0, 0, 0},
    {"shape not an array", T1("F32", "4", "[0,16]"), 16, 0, 0},
    {"negative dim", T1("F32", "[-1]", "[0,4]"), 4, 0, 0},
    {"string dim", T1("F32", "[\"3\"]", "[0,12]"), 12, 0, 0},
    {"null dim", T1("F32", "[null]", "[0,4]"), 4, 0, 0},
    {"float dim 1.5", T1("F32", "[1.5]", "[0,4]"), 4, 0, 0},
    {"dim 1e300", T1("F32", "[1e300]", "[0,4]"), 4, 0, 0},
    {"dim 2^53+2", T1("F32", "[9007199254740994]", "[0,4]"), 4, 0, 0},
    {"shape x dtype != offsets", T1("F32", "[3,4]", "[0,100]"), 100, 0, 0},
    {"F16 size mismatch", T1("F16", "[3]", "[0,12]"), 12, 0, 0},
    {"end < begin", T1("F32", "[1]", "[8,4]"), 8, 0, 0},
    {"end past the file", T1("F32", "[2]", "[0,8]"), 4, 0, 0},
    {"offsets past the file", T1("F32", "[2]", "[1000,1008]"), 8, 0, 0},
    {"one offset", T1("F32", "[1]", "[4]"), 4, 0, 0},
    {"three offsets", T1("F32", "[1]", "[0,4,8]"), 8, 0, 0},
    {"negative offset", T1("F32", "[1]", "[-4,0]"), 4, 0, 0},
    {"offset 2^64", T1("F32", "[1]", "[18446744073709551616,18446744073709551620]"), 4, 0, 0},
    {"offsets an object", T1("F32", "[1]", "{}"), 4, 0, 0},
    {"overlapping tensors",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, 0, 0},
    {"same region twice",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
     8, 0, 0},
    {"region inside another",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
     "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     16, 0, 0},
    {"dims product overflows", T1("F32", "[4294967296,4294967296,16]", "[0,0]"), 0, 0, 0},
    {"bytes overflow", T1("F32", "[4294967296,2147483648]", "[0,0]"), 0, 0, 0},
    {"ndim 9", T1("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4, 0, 0},
    {"duplicate tensor names",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, 0, 0},
    {"metadata value a number", "{\"__metadata__\":{\"a\":1}}", 0, 0, 0},
    {"metadata value an object", "{\"__metadata__\":{\"a\":{}}}", 0, 0, 0},
    {"metadata a string", "{\"__metadata__\":\"x\"}", 0, 0, 0},
    {"metadata an array", "{\"__metadata__\":[\"x\"]}", 0, 0, 0},
    {"duplicate metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, 0, 0},
    {"deep nesting (1000 '[')", NULL, 0, 2, 0},
    {"name longer than 255", NULL, 0, 2, 1},
    {"invalid escape in name", "{\"a\\x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"\\u0000 in name", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"lone high surrogate", "{\"a\\ud800\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"lone low surrogate", "{\"a\\udc00\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"short \\u escape", "{\"a\\u12\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"invalid UTF-8 in name", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"overlong UTF-8 in name", "{\"a\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"UTF-8 surrogate in name", "{\"a\xed\xa0\x80\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"control char in name", "{\"a\tb\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 0, 0},
    {"leading zero offset", T1("F32", "[1]", "[00,4]"), 4, 0, 0},
    {"NaN dim", T1("F32", "[NaN]", "[0,4]"), 4, 0, 0},
};

#define N_BAD ((int)(sizeof bad_cases / sizeof *bad_cases))

static uint8_t *bad_file_(const bad_case *c, size_t *len)
{
    if (c->raw == 1) {
        *len = c->rawlen;
        uint8_t *b = malloc(*len ? *len : 1);
        memcpy(b, c->hdr, *len);
        return b;
    }
    if (c->raw == 2) {
        char *h = malloc(2100);
        size_t n = 0;
        if (c->rawlen == 0) { /* 1000 '[' */
            memset(h, '[', 1000);
            memset(h + 1000, ']', 1000);
            n = 2000;
        } else { /* a 256-byte name */
            n = (size_t)snprintf(h, 2100, "{\"%0256d\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 7);
        }
        uint8_t *b = mkfile_(h, n, 4, len);
        free(h);
        return b;
    }
    return mkfile_(c->hdr, c->rawlen ? c->rawlen : strlen(c->hdr), c->dlen, len);
}

START_TEST(test_malformed)
{
    const bad_case *c = &bad_cases[_i];
    size_t len;
    uint8_t *buf = bad_file_(c, &len);
    lg_st *st = (lg_st *)1;
    char err[512] = "";
    lg_status s = lg_st_parse(&st, buf, len, _i % 2, err, sizeof err);
    printf("  %-28s %-16s %s\n", c->what, lg_strerror(s), err);
    fflush(stdout);
    ck_assert_msg(s != LG_OK, "malformed file '%s' was accepted", c->what);
    ck_assert_msg(err[0] != '\0', "refusing '%s' gives a message", c->what);
    ck_assert_msg(st == NULL, "*out is NULL after an error (%s)", c->what);
    /* The same without an error buffer must not crash. */
    ck_assert_int_eq(lg_st_parse(&st, buf, len, 0, NULL, 0), s);
    free(buf);
}
END_TEST

START_TEST(test_malformed_messages)
{
    /* The messages name the tensor and the problem. */
    static const struct {
        const char *hdr;
        size_t dlen;
        const char *want;
    } m[] = {
        {"{\"blocks.0.attn.qkv.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,100]}}", 100,
         "tensor 'blocks.0.attn.qkv.weight': data_offsets [0, 100] hold 100 bytes but shape [3,4] of F32 needs 48"},
        {T1("F64", "[1]", "[0,8]"), 8, "tensor 't': unsupported dtype F64 (supported: F32, F16, BF16, I8)"},
        {"{\"a\":1,\"a\":2}", 0, "duplicate key \"a\""},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unexpected key 'x'"},
        {T1("F32", "[1.5]", "[0,4]"), 4, "shape[0] is 1.5"},
        {T1("F32", "[2]", "[0,8]"), 4, "past the end"},
        {"{\"__metadata__\":{\"a\":1}}", 0, "'a' is a number, not a string"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "'a' [0, 8] and 'b' [4, 12] overlap"},
        {"{\"a\":[1,]}", 0, "byte offset 8"},
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        size_t len;
        uint8_t *buf = mkfile_(m[i].hdr, strlen(m[i].hdr), m[i].dlen, &len);
        lg_st *st = NULL;
        char err[512] = "";
        ck_assert_int_ne(lg_st_parse(&st, buf, len, 0, err, sizeof err), LG_OK);
        ck_assert_msg(strstr(err, m[i].want) != NULL, "message \"%s\" should contain \"%s\"", err, m[i].want);
        free(buf);
    }
}
END_TEST

START_TEST(test_header_cap)
{
    /* A header length over the 100 MB cap is refused before any parsing. */
    size_t hlen = 100000001, len = 8 + hlen;
    uint8_t *buf = calloc(1, len);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    lg_st *st = NULL;
    char err[256] = "";
    lg_status s = lg_st_parse(&st, buf, len, 0, err, sizeof err);
    printf("  %-28s %-16s %s\n", "header over 100 MB", lg_strerror(s), err);
    ck_assert_msg(s != LG_OK && err[0], "a 100 MB + 1 header is refused");
    free(buf);
}
END_TEST

/* Every strict prefix of a valid file, and random corruptions of its header,
 * are refused or parse into tensors that lie inside the buffer. */
START_TEST(test_truncations_and_corruptions)
{
    rt_fixture f;
    rt_make_(&f);
    uint8_t *good;
    size_t len;
    char err[512];
    ck_assert_int_eq(lg_st_serialize(&good, &len, f.in, RT_N, f.meta, 3, LG_F16, err, sizeof err), LG_OK);
    lg_st *st = NULL;
    for (size_t n = 0; n < len; n++) {
        uint8_t *b = malloc(n ? n : 1); /* exact size, so ASan sees any over-read */
        memcpy(b, good, n);
        lg_status s = lg_st_parse(&st, b, n, 0, err, sizeof err);
        ck_assert_msg(s != LG_OK, "prefix of %zu of %zu bytes accepted", n, len);
        free(b);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | good[i];
    uint64_t r = 88172645463325252ull;
    int accepted = 0;
    for (int it = 0; it < 3000; it++) {
        uint8_t *b = malloc(len);
        memcpy(b, good, len);
        int nflip = 1 + it % 3;
        for (int k = 0; k < nflip; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            size_t at = (size_t)(r % (8 + hlen));
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            b[at] = (it & 4) ? (uint8_t)r : (uint8_t) "{}[]\",:0123456789-.e\\u "[r % 24];
        }
        if (lg_st_parse(&st, b, len, 0, err, sizeof err) == LG_OK) {
            accepted++;
            for (int i = 0; i < lg_st_count(st); i++) {
                const lg_st_tensor *t = lg_st_get(st, i);
                ck_assert_msg(t->data >= b + 8 && t->data + t->nbytes <= b + len, "tensor inside the buffer");
                float *tmp = malloc(t->nbytes * 2 + 4);
                lg_st_to_f32(t, tmp);
                free(tmp);
            }
            lg_st_free(st);
        } else {
            ck_assert_msg(err[0] != '\0', "corruption refused with a message");
        }
        free(b);
    }
    printf("  corruptions: %d of 3000 still valid files\n", accepted);
    free(good);
    rt_free_(&f);
}
END_TEST

/* =================================================================== files */

START_TEST(test_write_read_file)
{
    char dir[] = "/tmp/lg_test_st_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rt_fixture f;
    rt_make_(&f);
    char err[512] = "";
    for (int round = 0; round < 2; round++) { /* the second replaces the first */
        lg_dtype dt = round ? LG_BF16 : LG_F32;
        lg_status s = lg_st_write_file(path, f.in, RT_N, f.meta, 3, dt, err, sizeof err);
        ck_assert_msg(s == LG_OK, "write %s: %s", path, err);
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        int entries = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            ck_assert_msg(strcmp(e->d_name, "model.safetensors") == 0, "unexpected file %s", e->d_name);
            entries++;
        }
        closedir(d);
        ck_assert_int_eq(entries, 1);
        lg_st *st = NULL;
        s = lg_st_read_file(&st, path, err, sizeof err);
        ck_assert_msg(s == LG_OK, "read %s: %s", path, err);
        rt_check_(st, &f, dt, 3);
        lg_st_free(st);
    }

    /* Errors: a missing file, a directory, a missing directory, a truncated file. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nonexistent.safetensors", dir);
    lg_st *st = (lg_st *)1;
    lg_status s = lg_st_read_file(&st, missing, err, sizeof err);
    printf("  %-28s %-16s %s\n", "nonexistent file", lg_strerror(s), err);
    ck_assert_int_eq(s, LG_ERR_IO);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(err, missing) && strstr(err, strerror(ENOENT)), "message names path and cause: %s", err);
    s = lg_st_read_file(&st, dir, err, sizeof err);
    printf("  %-28s %-16s %s\n", "a directory", lg_strerror(s), err);
    ck_assert_int_ne(s, LG_OK);
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.safetensors", dir);
    s = lg_st_write_file(missing, f.in, RT_N, NULL, 0, LG_F32, err, sizeof err);
    printf("  %-28s %-16s %s\n", "write into missing dir", lg_strerror(s), err);
    ck_assert_int_eq(s, LG_ERR_IO);
    ck_assert_msg(strstr(err, "no/such/dir") != NULL, "message names the path: %s", err);
    ck_assert_int_eq(truncate(path, 100), 0);
    s = lg_st_read_file(&st, path, err, sizeof err);
    printf("  %-28s %-16s %s\n", "truncated file", lg_strerror(s), err);
    ck_assert_int_eq(s, LG_ERR_FORMAT);
    ck_assert_msg(strstr(err, path) != NULL, "message names the file: %s", err);

    /* A writer error leaves the existing file alone. */
    int64_t neg = -1;
    lg_st_in badt = {"x", 1, &neg, NULL};
    ck_assert_int_ne(lg_st_write_file(path, &badt, 1, NULL, 0, LG_F32, err, sizeof err), LG_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 100);

    unlink(path);
    ck_assert_msg(rmdir(dir) == 0, "no temporary file is left behind in %s", dir);
    rt_free_(&f);
}
END_TEST

/* ==================================================================== int8 */

static float le32f_(const uint8_t *p)
{
    uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return flt_(x);
}

/* The scale int8 must use for a row: max|w| / 127, 1 for a row of zeros. */
static float i8_want_scale_(const float *w, size_t per)
{
    float m = 0;
    for (size_t j = 0; j < per; j++)
        if (fabsf(w[j]) > m) m = fabsf(w[j]);
    return m / 127.0f > 0 ? m / 127.0f : 1.0f;
}

/* Checks a dequantized int8 tensor against the float32 it was made from:
 * the stored scales, every element within scale/2 (and a float32 rounding),
 * and the largest of each row landing on ±127. */
static void i8_check_(const lg_st_tensor *t, const float *want, const char *what)
{
    ck_assert_msg(t->dtype == LG_I8, "%s is stored I8, not %s", what, lg_dtype_name(t->dtype));
    ck_assert_msg(t->scale != NULL, "%s has its scales folded in", what);
    size_t rows = (size_t)t->shape[0], per = rows ? t->nbytes / rows : 0;
    float *got = malloc((t->nbytes ? t->nbytes : 1) * sizeof *got);
    lg_st_to_f32(t, got);
    for (size_t r = 0; r < rows; r++) {
        float sc = le32f_(t->scale + 4 * r), ws = i8_want_scale_(want + r * per, per);
        ck_assert_msg(sc == ws, "%s row %zu: scale %a, want max|w|/127 = %a", what, r, (double)sc, (double)ws);
        int top = 0;
        for (size_t j = 0; j < per; j++) {
            size_t k = r * per + j;
            double e = fabs((double)got[k] - (double)want[k]);
            double bound = sc / 2.0 * (1 + 1e-6) + fabs((double)want[k]) * 0x1p-23;
            ck_assert_msg(e <= bound, "%s[%zu]: %a dequantizes to %a, error %g > scale/2 = %g", what, k,
                          (double)want[k], (double)got[k], e, sc / 2.0);
            int q = t->data[k] < 128 ? t->data[k] : t->data[k] - 256;
            ck_assert_msg(q >= -127 && q <= 127, "%s[%zu]: q = %d is outside [-127, 127]", what, k, q);
            if (q == 127 || q == -127) top = 1;
        }
        ck_assert_msg(top || sc == 1.0f || per == 0, "%s row %zu: its largest |w| maps to ±127", what, r);
    }
    free(got);
}

START_TEST(test_int8_round_trip)
{
    enum { R = 6, C = 37 };
    static float w[R * C], conv[4 * 1 * 3 * 3], bias[R], pos[1 * 5 * 4], row[6], scalar = 0.25f;
    int64_t sw[2] = {R, C}, sconv[4] = {4, 1, 3, 3}, sb[1] = {R}, spos[3] = {1, 5, 4}, srow[2] = {1, 6},
            sempty[2] = {3, 0};
    lg_rng rng;
    lg_rng_seed(&rng, 7);
    for (int i = 0; i < R * C; i++) w[i] = 0.05f * lg_rng_normal(&rng);
    for (int j = 0; j < C; j++) w[1 * C + j] = 0;                /* a row of zeros: scale 1, exact */
    for (int j = 0; j < C; j++) w[2 * C + j] = 1e-3f * (float)j; /* a row with one big value */
    w[2 * C + 5] = -3.0f;
    for (int j = 0; j < C; j++) w[3 * C + j] = 1e-30f * (float)(j - 18); /* tiny values */
    for (size_t i = 0; i < sizeof conv / sizeof *conv; i++) conv[i] = lg_rng_uniform(&rng) - 0.5f;
    for (int i = 0; i < R; i++) bias[i] = lg_rng_normal(&rng);
    for (size_t i = 0; i < sizeof pos / sizeof *pos; i++) pos[i] = 0.02f * lg_rng_normal(&rng);
    for (size_t i = 0; i < sizeof row / sizeof *row; i++) row[i] = lg_rng_normal(&rng);
    const lg_st_in in[] = {
        {"blocks.0.mlp.fc1.weight", 2, sw, w},
        {"patch_embed.proj.weight", 4, sconv, conv},
        {"blocks.0.mlp.fc1.bias", 1, sb, bias},
        {"pos_embed", 3, spos, pos},
        {"cls_token", 2, srow, row},
        {"empty", 2, sempty, NULL},
        {"scalar", 0, NULL, &scalar},
    };
    enum { N = sizeof in / sizeof *in };
    const lg_dtype want_dt[N] = {LG_I8, LG_I8, LG_F32, LG_F32, LG_F32, LG_I8, LG_F32};
    lg_st_kv meta[1] = {{"config", "{\"x\":1}"}};
    uint8_t *buf = NULL, *buf2 = NULL, *f32 = NULL;
    size_t len = 0, len2 = 0, len32 = 0;
    char err[512] = "";
    ck_assert_msg(lg_st_serialize(&buf, &len, in, N, meta, 1, LG_I8, err, sizeof err) == LG_OK, "serialize I8: %s",
                  err);
    ck_assert_msg(lg_st_serialize(&buf2, &len2, in, N, meta, 1, LG_I8, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_msg(len == len2 && memcmp(buf, buf2, len) == 0, "serializing int8 twice gives the same bytes");
    free(buf2);
    ck_assert_msg(lg_st_serialize(&f32, &len32, in, N, meta, 1, LG_F32, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_msg(len < len32, "the int8 file (%zu bytes) is smaller than the F32 one (%zu)", len, len32);
    free(f32);
    const char *companion = "\"blocks.0.mlp.fc1.weight:scale\":{\"dtype\":\"F32\",\"shape\":[6],";
    ck_assert_msg(memmem(buf, len, companion, strlen(companion)) != NULL,
                  "the header lists the companion scales: %.300s", buf + 8);

    lg_st *st = NULL;
    ck_assert_msg(lg_st_parse(&st, buf, len, 0, err, sizeof err) == LG_OK, "parse I8: %s", err);
    ck_assert_msg(lg_st_meta(st, "quantization") && !strcmp(lg_st_meta(st, "quantization"), LG_I8_QUANTIZATION),
                  "the writer names the layout in __metadata__");
    ck_assert_str_eq(lg_st_meta(st, "config"), "{\"x\":1}");
    ck_assert_msg(lg_st_count(st) == N, "companions are folded: %d tensors listed, want %d", lg_st_count(st), N);
    for (int i = 0; i < N; i++) {
        const lg_st_tensor *t = lg_st_get(st, i);
        ck_assert_str_eq(t->name, in[i].name);
        ck_assert_msg(lg_st_find(st, in[i].name) == t, "lg_st_find('%s') after folding", in[i].name);
        ck_assert_msg(t->dtype == want_dt[i], "'%s' is %s, want %s", t->name, lg_dtype_name(t->dtype),
                      lg_dtype_name(want_dt[i]));
        char cname[300];
        snprintf(cname, sizeof cname, "%s" LG_I8_SCALE_SUFFIX, in[i].name);
        ck_assert_msg(lg_st_find(st, cname) == NULL, "'%s' is not listed", cname);
        if (t->dtype == LG_I8) {
            i8_check_(t, in[i].data, in[i].name);
            continue;
        }
        ck_assert_msg(t->scale == NULL, "'%s' (F32) has no scales", t->name);
        size_t nel = t->nbytes / 4;
        float *got = malloc(nel * sizeof *got);
        lg_st_to_f32(t, got);
        for (size_t j = 0; j < nel; j++)
            ck_assert_msg(bits_(got[j]) == bits_(in[i].data[j]), "F32 '%s'[%zu] is kept bit-exact", t->name, j);
        free(got);
    }
    /* The zero row and the tiny row. */
    const lg_st_tensor *t = lg_st_find(st, "blocks.0.mlp.fc1.weight");
    ck_assert_msg(le32f_(t->scale + 4) == 1.0f, "a row of zeros gets scale 1");
    ck_assert_msg(le32f_(t->scale + 12) > 0, "tiny values still get a positive scale");
    lg_st_free(st);
    free(buf);

    /* Only 1-D tensors: no I8 entry, yet the file still names the layout. */
    ck_assert_int_eq(lg_st_serialize(&buf, &len, &in[2], 1, NULL, 0, LG_I8, err, sizeof err), LG_OK);
    ck_assert_msg(lg_st_parse(&st, buf, len, 0, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_int_eq(lg_st_get(st, 0)->dtype, LG_F32);
    ck_assert_str_eq(lg_st_meta(st, "quantization"), LG_I8_QUANTIZATION);
    lg_st_free(st);
    free(buf);
}
END_TEST

/* Hand-made int8 files: I8 "w" [2,3] at [0,6], then what the case puts at
 * [8,…) (scale values from s[]). Each must be refused with a message. */
START_TEST(test_int8_rejects)
{
#define QM "\"__metadata__\":{\"quantization\":\"" LG_I8_QUANTIZATION "\"},"
#define W "\"w\":{\"dtype\":\"I8\",\"shape\":[2,3],\"data_offsets\":[0,6]}"
#define S(dt, shape, end) ",\"w:scale\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[8," end "]}"
    static const struct {
        const char *what, *hdr;
        float s[3];
        const char *want;
    } c[] = {
        {"I8 without metadata", "{" W S("F32", "[2]", "16") "}", {1, 1}, "\"quantization\" is missing"},
        {"another layout",
         "{\"__metadata__\":{\"quantization\":\"int8-per-tensor\"}," W S("F32", "[2]", "16") "}",
         {1, 1},
         "\"int8-per-tensor\""},
        {"no scale tensor", "{" QM W "}", {0}, "has no scale tensor 'w:scale'"},
        {"F16 scales", "{" QM W S("F16", "[2]", "12") "}", {1, 1}, "must be F32 of shape [2]"},
        {"3 scales for 2 rows", "{" QM W S("F32", "[3]", "20") "}", {1, 1, 1}, "must be F32 of shape [2]"},
        {"2-D scales", "{" QM W S("F32", "[2,1]", "16") "}", {1, 1}, "must be F32 of shape [2]"},
        {"zero scale", "{" QM W S("F32", "[2]", "16") "}", {1, 0}, "'w:scale'[1] is 0"},
        {"negative scale", "{" QM W S("F32", "[2]", "16") "}", {-1, 1}, "finite and positive"},
        {"NaN scale", "{" QM W S("F32", "[2]", "16") "}", {1, NAN}, "finite and positive"},
        {"infinite scale", "{" QM W S("F32", "[2]", "16") "}", {INFINITY, 1}, "finite and positive"},
        {"I8 scalar",
         "{" QM "\"w\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[0,1]}" S("F32", "[1]", "12") "}",
         {1},
         "is a scalar"},
        {"orphan scales",
         "{" QM "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}" S("F32", "[2]", "16") "}",
         {1, 1},
         "'w:scale' belongs to no I8 tensor"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        size_t len;
        uint8_t *buf = mkfile_(c[i].hdr, strlen(c[i].hdr), 20, &len);
        uint8_t *d = buf + 8 + strlen(c[i].hdr);
        for (int k = 0; k < 3; k++) memcpy(d + 8 + 4 * k, &c[i].s[k], 4);
        lg_st *st = (lg_st *)1;
        char err[512] = "";
        lg_status s = lg_st_parse(&st, buf, len, 0, err, sizeof err);
        printf("  int8: %-24s %-16s %s\n", c[i].what, lg_strerror(s), err);
        ck_assert_msg(s == LG_ERR_FORMAT, "%s must be refused as LG_ERR_FORMAT, got %s", c[i].what, lg_strerror(s));
        ck_assert_msg(st == NULL, "*out is NULL after refusing %s", c[i].what);
        ck_assert_msg(strstr(err, c[i].want) != NULL, "%s: message \"%s\" should contain \"%s\"", c[i].what, err,
                      c[i].want);
        free(buf);
    }

    /* The good file: two's complement bytes times the row's scale. */
    const char *hdr = "{" QM W S("F32", "[2]", "16") "}";
    size_t len;
    uint8_t *buf = mkfile_(hdr, strlen(hdr), 16, &len);
    uint8_t *d = buf + 8 + strlen(hdr);
    const uint8_t q[6] = {0x7f, 0x81, 0xff, 0x00, 0x01, 0x80};
    float sc[2] = {0.5f, 0.25f};
    memcpy(d, q, 6);
    memcpy(d + 8, sc, 8);
    lg_st *st = NULL;
    char err[512] = "";
    ck_assert_msg(lg_st_parse(&st, buf, len, 0, err, sizeof err) == LG_OK, "a well-formed int8 file: %s", err);
    ck_assert_int_eq(lg_st_count(st), 1);
    float got[6];
    lg_st_to_f32(lg_st_get(st, 0), got);
    const float want[6] = {63.5f, -63.5f, -0.5f, 0.0f, 0.25f, -32.0f};
    for (int k = 0; k < 6; k++)
        ck_assert_msg(got[k] == want[k], "w[%d] = q·scale = %g, got %g", k, (double)want[k], (double)got[k]);
    lg_st_free(st);
    free(buf);
#undef QM
#undef W
#undef S

    /* The writer: weights int8 cannot hold, the reserved key, names. */
    int64_t s22[2] = {2, 2}, s2[1] = {2};
    float nan4[4] = {0, 1, NAN, 2}, inf4[4] = {0, 1, 2, -INFINITY}, ok4[4] = {1, 2, 3, 4};
    char longname[300];
    memset(longname, 'n', 252);
    longname[252] = '\0';
    uint8_t *out;
    size_t olen;
    lg_st_in nanw = {"w", 2, s22, nan4}, infw = {"w", 2, s22, inf4}, okw = {"w", 2, s22, ok4};
    lg_st_in longw = {longname, 2, s22, ok4}, longb = {longname, 1, s2, ok4};
    lg_st_in clash[2] = {{"w", 2, s22, ok4}, {"w:scale", 1, s2, ok4}};
    lg_st_kv qkv[1] = {{"quantization", "mine"}};
    ck_assert_int_eq(lg_st_serialize(&out, &olen, &nanw, 1, NULL, 0, LG_I8, err, sizeof err), LG_ERR_RANGE);
    ck_assert_msg(strstr(err, "'w' holds a NaN or infinite value at index 2"), "NaN named: %s", err);
    ck_assert_int_eq(lg_st_serialize(&out, &olen, &infw, 1, NULL, 0, LG_I8, err, sizeof err), LG_ERR_RANGE);
    ck_assert_int_eq(lg_st_serialize(&out, &olen, &okw, 1, qkv, 1, LG_I8, err, sizeof err), LG_ERR_INVALID);
    ck_assert_msg(strstr(err, "quantization"), "the reserved key is named: %s", err);
    ck_assert_int_eq(lg_st_serialize(&out, &olen, &okw, 1, qkv, 1, LG_F32, err, sizeof err), LG_OK);
    free(out);
    ck_assert_int_eq(lg_st_serialize(&out, &olen, &longw, 1, NULL, 0, LG_I8, err, sizeof err), LG_ERR_INVALID);
    ck_assert_msg(strstr(err, ":scale"), "the scales' name is too long: %s", err);
    ck_assert_int_eq(lg_st_serialize(&out, &olen, &longb, 1, NULL, 0, LG_I8, err, sizeof err), LG_OK);
    free(out);
    ck_assert_int_eq(lg_st_serialize(&out, &olen, clash, 2, NULL, 0, LG_I8, err, sizeof err), LG_ERR_INVALID);
    ck_assert_msg(strstr(err, "'w:scale' is used twice"), "a caller tensor named like a companion: %s", err);
}
END_TEST

/* Every loader reads int8 files: a model, a TLEG learngene and a pool saved
 * as I8 load back within scale/2 of every weight (exact elsewhere). */
static void i8_compare_(const lg_model *a, lg_model *b_, const char *what)
{
    int n;
    const lg_tensor_info *ti = lg_model_tensors(a, &n);
    const float *pa = lg_model_params((lg_model *)a), *pb = lg_model_params(b_);
    for (int i = 0; i < n; i++) {
        const lg_tensor_info *t = &ti[i];
        int q = t->ndim >= 2 && t->shape[0] >= 2;
        size_t rows = q ? (size_t)t->shape[0] : 1, per = t->numel / rows;
        for (size_t r = 0; r < rows; r++) {
            const float *x = pa + t->offset + r * per, *y = pb + t->offset + r * per;
            float half = q ? i8_want_scale_(x, per) / 2 : 0;
            for (size_t j = 0; j < per; j++)
                ck_assert_msg(fabsf(x[j] - y[j]) <= half * (1 + 1e-6f) + fabsf(x[j]) * 0x1p-23f,
                              "%s '%s'[%zu]: %g loads as %g (allowed %g)", what, t->name, r * per + j, (double)x[j],
                              (double)y[j], (double)half);
        }
    }
}

START_TEST(test_int8_loaders)
{
    char dir[] = "/tmp/lg_test_i8_XXXXXX", path[300], err[512] = "";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    lg_config c = {.img = 8,
                   .in_chans = 1,
                   .patch = 4,
                   .dim = 8,
                   .depth = 2,
                   .heads = 2,
                   .mlp = 16,
                   .classes = 3,
                   .pool = LG_POOL_AVG};

    lg_model *m = NULL, *back = NULL;
    ck_assert_int_eq(lg_model_new(&m, &c, err, sizeof err), LG_OK);
    lg_model_init(m, 5);
    ck_assert_msg(lg_model_save(m, path, LG_I8, NULL, 0, err, sizeof err) == LG_OK, "save I8: %s", err);
    ck_assert_msg(lg_model_load(&back, path, err, sizeof err) == LG_OK, "load an I8 model: %s", err);
    i8_compare_(m, back, "model");
    lg_model_free(back);
    lg_model_free(m);

    lg_gene g, g2;
    ck_assert_int_eq(lg_gene_tleg_new(&g, &c, 9, err, sizeof err), LG_OK);
    ck_assert_msg(lg_gene_save(&g, path, LG_I8, NULL, 0, err, sizeof err) == LG_OK, "save I8 learngene: %s", err);
    ck_assert_msg(lg_gene_load(&g2, path, err, sizeof err) == LG_OK, "load an I8 learngene: %s", err);
    i8_compare_(g.m, g2.m, "learngene");
    lg_gene_free(&g2);
    lg_gene_free(&g);

    lg_model *inst[2] = {NULL, NULL};
    lg_config c2 = c;
    c2.dim = 16;
    c2.mlp = 32;
    ck_assert_int_eq(lg_model_new(&inst[0], &c, err, sizeof err), LG_OK);
    ck_assert_int_eq(lg_model_new(&inst[1], &c2, err, sizeof err), LG_OK);
    lg_model_init(inst[0], 1);
    lg_model_init(inst[1], 2);
    const char *names[2] = {"a", "b"};
    lg_genepool p, p2;
    ck_assert_msg(lg_genepool_new(&p, inst, names, 2, err, sizeof err) == LG_OK, "%s", err);
    for (int k = 0; k < p.nstitch; k++)
        for (int j = 0; j < 16 * 8; j++) p.stitches[k].w[j] = 0.01f * (float)(j % 7 - 3);
    ck_assert_msg(lg_genepool_save(&p, path, LG_I8, NULL, 0, err, sizeof err) == LG_OK, "save I8 pool: %s", err);
    ck_assert_msg(lg_genepool_load(&p2, path, err, sizeof err) == LG_OK, "load an I8 pool: %s", err);
    for (int i = 0; i < 2; i++) i8_compare_(p.inst[i], p2.inst[i], "pool instance");
    for (int j = 0; j < 16 * 8; j++)
        ck_assert_msg(fabsf(p.stitches[0].w[j] - p2.stitches[0].w[j]) <= 0.03f / 127 / 2 * (1 + 1e-6f),
                      "stitch weight %d: %g loads as %g", j, (double)p.stitches[0].w[j], (double)p2.stitches[0].w[j]);
    lg_genepool_free(&p2);
    lg_genepool_free(&p);
    unlink(path);
    ck_assert_msg(rmdir(dir) == 0, "no temporary file is left behind in %s", dir);
}
END_TEST

/* ==================================================================== JSON */

START_TEST(test_json_values)
{
    const char *doc =
        " {\"a\" : [1, 2.5, -3e2, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\\/\\\"\"],\n"
        "  \"b\":{}, \"c\":[], \"d\":\"\", \"e\":0, \"f\":-0.0, \"g\":1E+2, \"h\":\"\xe2\x82\xac\"} \r\n\t";
    lgj_value *v = NULL;
    char err[256] = "";
    ck_assert_msg(lgj_parse(&v, doc, strlen(doc), err, sizeof err) == LG_OK, "%s", err);
    ck_assert_int_eq(lgj_typeof(v), LGJ_OBJ);
    ck_assert_uint_eq(lgj_len(v), 8);
    const char *keys = "abcdefgh";
    for (size_t i = 0; i < 8; i++) {
        ck_assert_msg(lgj_key(v, i)[0] == keys[i] && lgj_key(v, i)[1] == 0, "keys keep insertion order");
        ck_assert_ptr_eq(lgj_get(v, lgj_key(v, i)), lgj_at(v, i));
    }
    ck_assert_ptr_null(lgj_at(v, 8));
    ck_assert_ptr_null(lgj_key(v, 8));
    ck_assert_ptr_null(lgj_get(v, "z"));
    const lgj_value *a = lgj_get(v, "a");
    ck_assert_int_eq(lgj_typeof(a), LGJ_ARR);
    ck_assert_uint_eq(lgj_len(a), 7);
    ck_assert_ptr_null(lgj_key(a, 0));
    ck_assert_double_eq(lgj_num(lgj_at(a, 0)), 1.0);
    ck_assert_double_eq(lgj_num(lgj_at(a, 1)), 2.5);
    ck_assert_double_eq(lgj_num(lgj_at(a, 2)), -300.0);
    ck_assert_int_eq(lgj_typeof(lgj_at(a, 3)), LGJ_BOOL);
    ck_assert_int_eq(lgj_bool(lgj_at(a, 3)), 1);
    ck_assert_int_eq(lgj_bool(lgj_at(a, 4)), 0);
    ck_assert_int_eq(lgj_typeof(lgj_at(a, 5)), LGJ_NULL);
    ck_assert_str_eq(lgj_str(lgj_at(a, 6)), "x\xc3\xa9\xf0\x9f\x98\x80\n/\"");
    ck_assert_uint_eq(lgj_strlen(lgj_at(a, 6)), 10);
    ck_assert_ptr_null(lgj_str(lgj_at(a, 0)));
    ck_assert_uint_eq(lgj_len(lgj_get(v, "b")), 0);
    ck_assert_int_eq(lgj_typeof(lgj_get(v, "b")), LGJ_OBJ);
    ck_assert_uint_eq(lgj_len(lgj_get(v, "c")), 0);
    ck_assert_str_eq(lgj_str(lgj_get(v, "d")), "");
    ck_assert_double_eq(lgj_num(lgj_get(v, "g")), 100.0);
    ck_assert_str_eq(lgj_str(lgj_get(v, "h")), "\xe2\x82\xac");

    uint64_t u = 99;
    ck_assert_int_eq(lgj_uint(lgj_get(v, "e"), &u), 0);
    ck_assert_uint_eq(u, 0);
    ck_assert_int_eq(lgj_uint(lgj_get(v, "g"), &u), 0);
    ck_assert_uint_eq(u, 100);
    ck_assert_int_ne(lgj_uint(lgj_at(a, 1), &u), 0);
    ck_assert_int_ne(lgj_uint(lgj_at(a, 2), &u), 0);
    ck_assert_int_ne(lgj_uint(lgj_at(a, 6), &u), 0);
    lgj_free(v);

    /* Scalars at the top level; a length that stops before the NUL. */
    const char *tops[] = {"3", "\"s\"", "true", "null", "[1,2]xxx"};
    const size_t tlen[] = {1, 3, 4, 4, 5};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_msg(lgj_parse(&v, tops[i], tlen[i], err, sizeof err) == LG_OK, "%s: %s", tops[i], err);
        lgj_free(v);
    }
    ck_assert_int_eq(lgj_parse(&v, "9007199254740992", 16, err, sizeof err), LG_OK);
    ck_assert_int_eq(lgj_uint(v, &u), 0);
    ck_assert_uint_eq(u, 9007199254740992ull);
    lgj_free(v);
    ck_assert_int_eq(lgj_parse(&v, "9007199254740994", 16, err, sizeof err), LG_OK);
    ck_assert_int_ne(lgj_uint(v, &u), 0);
    lgj_free(v);
    ck_assert_int_eq(lgj_parse(&v, "1e-400", 6, err, sizeof err), LG_OK);
    ck_assert_double_eq(lgj_num(v), 0.0);
    lgj_free(v);
    lgj_free(NULL);
    ck_assert_int_eq(lgj_typeof(NULL), LGJ_NULL);
    ck_assert_uint_eq(lgj_len(NULL), 0);
}
END_TEST

START_TEST(test_json_big_object)
{
    /* Many keys (hash index): order kept, lookup works, duplicates found. */
    enum { N = 500 };
    char *s = malloc(N * 24 + 64);
    size_t n = 0;
    s[n++] = '{';
    for (int i = 0; i < N; i++) n += (size_t)sprintf(s + n, "%s\"k%d\":%d", i ? "," : "", i, i);
    s[n++] = '}';
    lgj_value *v = NULL;
    char err[256] = "";
    ck_assert_msg(lgj_parse(&v, s, n, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_uint_eq(lgj_len(v), N);
    for (int i = 0; i < N; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        ck_assert_str_eq(lgj_key(v, (size_t)i), k);
        ck_assert_double_eq(lgj_num(lgj_get(v, k)), i);
    }
    ck_assert_ptr_null(lgj_get(v, "k500"));
    lgj_free(v);
    memcpy(s + n - 1, ",\"k250\":1}", 10);
    ck_assert_int_eq(lgj_parse(&v, s, n + 9, err, sizeof err), LG_ERR_FORMAT);
    ck_assert_msg(strstr(err, "duplicate key \"k250\"") != NULL, "names the key: %s", err);
    free(s);
}
END_TEST

START_TEST(test_json_depth)
{
    char s[2 * LGJ_MAX_DEPTH + 8];
    lgj_value *v = NULL;
    char err[256] = "";
    for (int extra = 0; extra < 2; extra++) {
        int d = LGJ_MAX_DEPTH + extra;
        memset(s, '[', (size_t)d);
        memset(s + d, ']', (size_t)d);
        lg_status st = lgj_parse(&v, s, 2 * (size_t)d, err, sizeof err);
        if (extra) {
            ck_assert_msg(st == LG_ERR_FORMAT, "depth %d must be refused", d);
            ck_assert_msg(strstr(err, "nesting") != NULL, "says why: %s", err);
        } else {
            ck_assert_msg(st == LG_OK, "depth %d is allowed: %s", d, err);
            lgj_free(v);
        }
    }
    /* Objects count too. */
    char o[8 * LGJ_MAX_DEPTH + 16];
    size_t n = 0;
    for (int i = 0; i <= LGJ_MAX_DEPTH; i++) n += (size_t)sprintf(o + n, "{\"a\":");
    o[n++] = '1';
    for (int i = 0; i <= LGJ_MAX_DEPTH; i++) o[n++] = '}';
    ck_assert_int_eq(lgj_parse(&v, o, n, err, sizeof err), LG_ERR_FORMAT);
}
END_TEST

START_TEST(test_json_rejects)
{
    static const char *bad[] = {
        "",
        "   ",
        "01",
        "-01",
        "00",
        "1.",
        ".5",
        "+1",
        "-",
        "1e",
        "1e+",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "-1e999",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[",
        "]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "{1:2}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1,\"a\":2}",
        "1 x",
        "[] []",
        "{}}",
        "tru",
        "nul",
        "falsey",
        "True",
        "'a'",
        "\"abc",
        "\"a\\\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"\\ud800\"",
        "\"\\ud800\\u0041\"",
        "\"\\udc00\"",
        "\"\\u0000\"",
        "\"a\x01\"",
        "\"a\nb\"",
        "\"\xff\"",
        "\"\xc3\"",
        "\"\xc0\x80\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\xef\xbb\xbf{}",
        "[1]\x00",
        "/* c */ 1",
        "[1,2]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len = strlen(bad[i]);
        if (strcmp(bad[i], "[1]") == 0) len = 4; /* with the NUL byte */
        lgj_value *v = (lgj_value *)1;
        char err[256] = "";
        lg_status st = lgj_parse(&v, bad[i], len, err, sizeof err);
        ck_assert_msg(st == LG_ERR_FORMAT, "JSON #%zu '%s' must be refused (got %d)", i, bad[i], st);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(err, "byte offset") != NULL, "message for #%zu says where: %s", i, err);
    }
    /* A long number is refused rather than cut. */
    char num[400];
    memset(num, '1', sizeof num);
    lgj_value *v = NULL;
    char err[256];
    ck_assert_int_eq(lgj_parse(&v, num, sizeof num, err, sizeof err), LG_ERR_FORMAT);
}
END_TEST

START_TEST(test_json_quote)
{
    char buf[64];
    size_t n = lgj_quote(buf, sizeof buf, "a\"b\\c\n\x01/\xc3\xa9");
    ck_assert_str_eq(buf, "\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\"");
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert_uint_eq(lgj_quote(NULL, 0, "abc"), 5);
    char small[4] = "zzz";
    ck_assert_uint_eq(lgj_quote(small, sizeof small, "abc"), 5);
    ck_assert_str_eq(small, "\"ab");
    /* Quoting then parsing gives the string back. */
    const char *s = "tab\there \x7f \xe2\x82\xac \"q\" \\";
    n = lgj_quote(buf, sizeof buf, s);
    lgj_value *v = NULL;
    char err[128];
    ck_assert_msg(lgj_parse(&v, buf, n, err, sizeof err) == LG_OK, "%s", err);
    ck_assert_str_eq(lgj_str(v), s);
    lgj_free(v);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("dtype");
    tcase_add_test(tc, test_dtype_names);
    tcase_add_test(tc, test_f16_known);
    tcase_add_test(tc, test_bf16_known);
    tcase_add_test(tc, test_f16_exhaustive);
    tcase_add_test(tc, test_bf16_exhaustive);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, test_json_values);
    tcase_add_test(tc, test_json_big_object);
    tcase_add_test(tc, test_json_depth);
    tcase_add_test(tc, test_json_rejects);
    tcase_add_test(tc, test_json_quote);
    suite_add_tcase(s, tc);

    tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_round_trip, 0, 3);
    tcase_add_test(tc, test_empty_file_round_trip);
    tcase_add_test(tc, test_parse_foreign);
    tcase_add_test(tc, test_many_tensors);
    tcase_add_test(tc, test_writer_rejects);
    tcase_add_loop_test(tc, test_malformed, 0, N_BAD);
    tcase_add_test(tc, test_malformed_messages);
    tcase_add_test(tc, test_header_cap);
    tcase_add_test(tc, test_truncations_and_corruptions);
    tcase_add_test(tc, test_write_read_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("int8");
    tcase_add_test(tc, test_int8_round_trip);
    tcase_add_test(tc, test_int8_rejects);
    tcase_add_test(tc, test_int8_loaders);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return lg_test_run(safetensors_suite()); }
