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
    unsigned long version; /* moves whenever params may have changed (lg_model_touch) */
};

/* Marks m's parameters as changed, so inference contexts repack their
 * copy of the weights (vit.c) before the next forward pass. */
static inline void lg_model_touch(lg_model *m) { __atomic_add_fetch(&m->version, 1, __ATOMIC_RELEASE); }

/* Points view's members into buf according to the tensor table. */
void lg_view_bind(lg_param_view *view, lg_block_view *blocks, const lg_model *m, float *buf);

/* Writes len bytes to path through a unique temporary file in the same
 * directory (mode 0644, fsync, rename, then fsync of the directory), so
 * path is either the old file or the whole new one. */
lg_status lg_file_write_atomic(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* snprintf into err (when non-NULL) and return s. */
lg_status lg_fail(char *err, size_t errlen, lg_status s, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Sets OpenBLAS's thread count (process-wide; liblearngene calls it only
 * from lg_forward / lg_forward_backward with the context's own setting). */
void lg_blas_threads(int n);

/* Training with tied parameters: the forward/backward runs on one model
 * while AdamW updates another (the owner); before_step writes the owner's
 * parameters into the run model, after_backward folds the run model's
 * gradients into the owner's (TLEG's auxiliary network). */
typedef struct {
    lg_model *owner;
    void (*before_step)(void *user);
    void (*after_backward)(void *user);
    void *user;
} lg_train_hooks;

lg_status lg_train_loop(lg_model *run, const lg_dataset *ds, const lg_train_opts *o, const lg_train_hooks *h, char *err,
                        size_t errlen);

/* Offset (in floats) and length of block i's twelve tensors, which lie
 * contiguously in every buffer of the model's layout. */
void lg_model_block_range(const lg_model *m, int i, size_t *offset, size_t *len);

/* AdamW on n values with an explicit learning rate, weight decay, gradient
 * scale and bias-correction step t (0-based); and on every tensor of m. */
void lg_adamw_update(float *p, const float *g, float *mm, float *vv, size_t n, float lr, float wd, float gscale, long t,
                     const lg_adamw_config *o);
void lg_adamw_model(lg_model *m, const lg_adamw_config *o, float lr, float gscale, long t);

/* Mini-batches of a dataset: reshuffled every epoch, optional random
 * horizontal flips, seeded. */
typedef struct {
    const lg_dataset *ds;
    int *order;
    int pos, epoch, hflip;
    lg_rng rng;
} lg_batcher;

lg_status lg_batcher_init(lg_batcher *b, const lg_dataset *ds, uint64_t seed, int hflip);
void lg_batcher_next(lg_batcher *b, float *images, int *labels, int n);
void lg_batcher_free(lg_batcher *b);
/* Checks that ds fits model m (image shape, labels within its classes). */
lg_status lg_check_dataset(const lg_model *m, const lg_dataset *ds, char *err, size_t errlen);

/* Progress bookkeeping shared by the training loops. */
typedef struct {
    double t0, t_last, loss_sum;
    long since;
} lg_progress_clock;

void lg_progress_start(lg_progress_clock *c);
/* Adds a step's loss; every log_every steps (and at the last) reports to
 * o->progress. Returns non-zero when the callback asks to stop. */
int lg_progress_step(lg_progress_clock *c, const lg_train_opts *o, long step, int epoch, float loss, float lr);

/* Copies every non-block tensor of the same name and size from src_buf (in
 * src's layout) to dst_buf (in dst's layout). */
void lg_copy_shared(lg_model *dst, const lg_model *src, const float *src_buf, float *dst_buf);
/* Writes an inherit learngene's k blocks into the top of dst. */
void lg_inherit_into(lg_model *dst, const lg_gene *g);
/* The model description in a safetensors file's __metadata__["config"]. */
lg_status lg_st_config(lg_config *c, const lg_st *st, char *err, size_t errlen);
/* LG_ERR_MISMATCH unless the file's tensors hold at least as many values
 * as a model of config c has parameters: checked before allocating one, so
 * a small hostile file cannot make a loader ask for gigabytes. */
lg_status lg_st_fits(const lg_st *st, const lg_config *c, char *err, size_t errlen);
/* Loads file tensor f (may be NULL: missing) into model tensor t, checking
 * its shape and that every value is finite; name is used in messages. */
lg_status lg_load_tensor(lg_model *m, const lg_tensor_info *t, const lg_st_tensor *f, const char *name, char *err,
                         size_t errlen);

#endif
