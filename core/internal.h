/* internal.h - liblearngene's private structures, shared by its own files.
 * Nothing outside core/ includes this. */
#ifndef LG_INTERNAL_H
#define LG_INTERNAL_H

#include <stdarg.h>

#include "learngene.h"

struct lg_model {
    lg_config cfg;
    int ntensors;
    lg_tensor_info *tensors;
    size_t n;      /* floats in each of params / grads / m / v */
    float *params; /* one buffer: params | grads | m | v when training */
    float *grads, *adam_m, *adam_v;
    lg_param_view pv, gv;
    lg_block_view *pblocks, *gblocks;
};

/* Points view's members into buf according to the tensor table. */
void lg_view_bind(lg_param_view *view, lg_block_view *blocks, const lg_model *m, float *buf);

/* snprintf into err (when non-NULL) and return s. */
lg_status lg_fail(char *err, size_t errlen, lg_status s, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Sets OpenBLAS's thread count (process-wide; liblearngene calls it only
 * from lg_forward / lg_forward_backward with the context's own setting). */
void lg_blas_threads(int n);

#endif
