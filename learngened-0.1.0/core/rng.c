/* rng.c - seeded random numbers (xoshiro256**, seeded by splitmix64) and the
 * distributions model initialization needs. */
#include <math.h>

#include "learngene.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void lg_rng_seed(lg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lg_rng_next(lg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float lg_rng_uniform(lg_rng *r) { return (float)(lg_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

uint32_t lg_rng_below(lg_rng *r, uint32_t n) { return (uint32_t)(((lg_rng_next(r) >> 32) * (uint64_t)n) >> 32); }

float lg_rng_normal(lg_rng *r)
{
    /* Box-Muller on doubles; u1 in (0,1] so log never sees 0. */
    double u1 = ((double)(lg_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(lg_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float lg_rng_trunc_normal(lg_rng *r, float std)
{
    for (;;) {
        float x = lg_rng_normal(r) * std;
        if (x >= -2.0f && x <= 2.0f) return x;
    }
}
