/* dtype.c - safetensors element types (F32, F16, BF16, I8): names, sizes, and
 * float32 <-> IEEE half / bfloat16 conversion by bit manipulation (round to
 * nearest even, overflow to infinity, subnormals exact, NaN kept as a quiet
 * NaN). Calls libc only; needs no compiler support for _Float16.
 */
#include <string.h>

#include "learngene.h"

const char *lg_dtype_name(lg_dtype d)
{
    switch (d) {
    case LG_F32: return "F32";
    case LG_F16: return "F16";
    case LG_BF16: return "BF16";
    case LG_I8: return "I8";
    }
    return "unknown";
}

int lg_dtype_parse(const char *s, lg_dtype *d)
{
    lg_dtype r;
    if (!s) return -1;
    if (strcmp(s, "F32") == 0)
        r = LG_F32;
    else if (strcmp(s, "F16") == 0)
        r = LG_F16;
    else if (strcmp(s, "BF16") == 0)
        r = LG_BF16;
    else if (strcmp(s, "I8") == 0)
        r = LG_I8;
    else
        return -1;
    if (d) *d = r;
    return 0;
}

size_t lg_dtype_size(lg_dtype d)
{
    switch (d) {
    case LG_F32: return 4;
    case LG_F16: return 2;
    case LG_BF16: return 2;
    case LG_I8: return 1;
    }
    return 0;
}

static uint32_t bits_(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return x;
}

static float float_(uint32_t x)
{
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

uint16_t lg_f32_to_f16(float f)
{
    uint32_t x = bits_(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) /* NaN: quiet bit plus the payload's high bits */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000) /* ≥ 65520 = 65504 + half an ulp: ties to even = inf */
        return (uint16_t)(sign | 0x7c00);
    if (ax >= 0x38800000) { /* normal in half: rebias 127 → 15, round 13 bits away */
        uint32_t r = ax - ((uint32_t)(127 - 15) << 23);
        r += 0x0fff + ((r >> 13) & 1);
        return (uint16_t)(sign | (r >> 13));
    }
    if (ax <= 0x33000000) /* ≤ 2^-25, half the smallest subnormal: ties to even = 0 */
        return sign;
    /* Subnormal in half: value = m·2^(e-150), in units of 2^-24 that is
     * m >> (126 - e); the shift is 14..24. A carry into bit 10 correctly
     * yields the smallest normal. */
    uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float lg_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    uint32_t x;
    if (e == 0x1f) {
        x = sign | 0x7f800000 | (m << 13);
        if (m) x |= 0x00400000; /* NaN stays NaN, quiet */
    } else if (e) {
        x = sign | ((e + 112) << 23) | (m << 13);
    } else if (m) { /* subnormal: normalize */
        int ee = 1;
        while (!(m & 0x400)) {
            m <<= 1;
            ee--;
        }
        x = sign | ((uint32_t)(ee + 112) << 23) | ((m & 0x3ff) << 13);
    } else {
        x = sign;
    }
    return float_(x);
}

uint16_t lg_f32_to_bf16(float f)
{
    uint32_t x = bits_(f);
    if ((x & 0x7fffffff) > 0x7f800000) /* NaN: keep it one, quiet */
        return (uint16_t)((x >> 16) | 0x0040);
    /* Round to nearest even on the low 16 bits; a carry out of the largest
     * finite value gives inf, as it should. */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

float lg_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    if ((x & 0x7fffffff) > 0x7f800000) x |= 0x00400000;
    return float_(x);
}
