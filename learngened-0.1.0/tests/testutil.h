/* testutil.h - shared helpers for the check-based unit tests. */
#ifndef LG_TESTUTIL_H
#define LG_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "learngene.h"

/* Runs one suite; the test binary's exit status is what automake reads. */
static inline int lg_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Largest |a-b| / max(|b|, floor) over n values; index of the worst in *at. */
static inline double lg_test_max_relerr(const float *a, const float *b, size_t n, double floor_, size_t *at)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fabs((double)b[i]);
        double r = d / (s > floor_ ? s : floor_);
        if (r > worst || r != r) {
            worst = r;
            if (at) *at = i;
        }
    }
    return worst;
}

/* Path of the Fashion-MNIST directory: $LG_FMNIST_DIR or Debian's. */
static inline const char *lg_test_fmnist_dir(void)
{
    const char *d = getenv("LG_FMNIST_DIR");
    return d ? d : LG_FMNIST_DIR;
}

#endif

/* Finite differences: for each of n entries of x (every `stride`-th), the
 * central difference of loss() against analytic[i]. Returns the worst
 * |num - ana| / (atol + rtol·|num|); ≤ 1 means every entry agrees. */
typedef double (*lg_test_loss_fn)(void *ctx);

static inline double lg_test_fd(lg_test_loss_fn loss, void *ctx, float *x, const float *analytic, size_t n,
                                size_t stride, float h, double atol, double rtol, const char *what)
{
    double worst = 0;
    for (size_t i = 0; i < n; i += stride) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = loss(ctx);
        x[i] = keep - h;
        double lm = loss(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * (double)h);
        double r = fabs(num - analytic[i]) / (atol + rtol * fabs(num));
        if (r > worst) {
            worst = r;
            if (r > 1) fprintf(stderr, "%s[%zu]: numeric %.6g analytic %.6g\n", what, i, num, (double)analytic[i]);
        }
    }
    return worst;
}

static inline void lg_test_fill(float *p, size_t n, lg_rng *r, float scale)
{
    for (size_t i = 0; i < n; i++) p[i] = scale * lg_rng_normal(r);
}
