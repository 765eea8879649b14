/* train.c - the training loop (shuffled mini-batches, optional flips and
 * distillation, AdamW with warm-up + cosine, progress reports) and top-1
 * evaluation on a dataset. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lg_train_defaults(lg_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 64;
    o->steps = 1000;
    o->threads = 1;
    o->seed = 1;
    lg_adamw_defaults(&o->opt);
    o->opt.lr = 1e-3f;
    o->alpha = 1.0f;
    o->tau = 1.0f;
    o->log_every = 50;
}

lg_status lg_check_dataset(const lg_model *m, const lg_dataset *ds, char *err, size_t errlen)
{
    const lg_config *c = &m->cfg;
    if (ds->n < 1) return lg_fail(err, errlen, LG_ERR_INVALID, "the dataset is empty");
    if (ds->c != c->in_chans || ds->h != c->img || ds->w != c->img)
        return lg_fail(err, errlen, LG_ERR_MISMATCH, "dataset images are %dx%dx%d; the model takes %dx%dx%d", ds->c,
                       ds->h, ds->w, c->in_chans, c->img, c->img);
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= c->classes)
            return lg_fail(err, errlen, LG_ERR_MISMATCH, "dataset label %d at row %d is outside the model's %d classes",
                           ds->labels[i], i, c->classes);
    return LG_OK;
}

/* Copies image src (c,h,w) to dst, mirrored left-right when flip. */
static void copy_image(float *dst, const float *src, int c, int h, int w, int flip)
{
    if (!flip) {
        memcpy(dst, src, (size_t)c * h * w * sizeof *dst);
        return;
    }
    for (int r = 0; r < c * h; r++)
        for (int x = 0; x < w; x++) dst[(size_t)r * w + x] = src[(size_t)r * w + (w - 1 - x)];
}

lg_status lg_batcher_init(lg_batcher *b, const lg_dataset *ds, uint64_t seed, int hflip)
{
    memset(b, 0, sizeof *b);
    b->ds = ds;
    b->order = malloc((size_t)ds->n * sizeof *b->order);
    b->pos = ds->n; /* forces a shuffle before the first batch */
    b->hflip = hflip;
    lg_rng_seed(&b->rng, seed);
    return b->order ? LG_OK : LG_ERR_NOMEM;
}

void lg_batcher_free(lg_batcher *b) { free(b->order); }

void lg_batcher_next(lg_batcher *b, float *images, int *labels, int n)
{
    const lg_dataset *ds = b->ds;
    size_t img = (size_t)ds->c * ds->h * ds->w;
    for (int i = 0; i < n; i++) {
        if (b->pos == ds->n) {
            for (int k = 0; k < ds->n; k++) b->order[k] = k;
            for (int k = ds->n - 1; k > 0; k--) {
                int j = (int)lg_rng_below(&b->rng, (uint32_t)k + 1), t = b->order[k];
                b->order[k] = b->order[j], b->order[j] = t;
            }
            b->pos = 0;
            b->epoch++;
        }
        int r = b->order[b->pos++];
        int flip = b->hflip && (lg_rng_next(&b->rng) >> 63);
        copy_image(images + (size_t)i * img, ds->images + (size_t)r * img, ds->c, ds->h, ds->w, flip);
        labels[i] = ds->labels[r];
    }
}

void lg_progress_start(lg_progress_clock *c)
{
    memset(c, 0, sizeof *c);
    c->t0 = c->t_last = now_s();
}

int lg_progress_step(lg_progress_clock *c, const lg_train_opts *o, long step, int epoch, float loss, float lr)
{
    c->loss_sum += loss;
    c->since++;
    int last = step + 1 == o->steps;
    if (!((o->log_every > 0 && (step + 1) % o->log_every == 0) || last)) return 0;
    double t = now_s();
    lg_train_progress p = {step + 1,  o->steps,
                           epoch,     (float)(c->loss_sum / (double)c->since),
                           lr,        (double)c->since * o->batch / (t - c->t_last),
                           t - c->t0, 0.0};
    p.eta_s = (t - c->t0) / (double)(step + 1 - o->start_step) * (double)(o->steps - step - 1);
    c->loss_sum = 0.0, c->since = 0, c->t_last = t;
    return o->progress && o->progress(o->user, &p);
}

lg_status lg_train(lg_model *m, const lg_dataset *ds, const lg_train_opts *o, char *err, size_t errlen)
{
    return lg_train_loop(m, ds, o, NULL, err, errlen);
}

lg_status lg_train_loop(lg_model *m, const lg_dataset *ds, const lg_train_opts *o, const lg_train_hooks *h, char *err,
                        size_t errlen)
{
    lg_model *owner = h && h->owner ? h->owner : m; /* the model AdamW updates */
    if (owner != m && lg_model_enable_training(owner) != LG_OK)
        return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for gradients and optimizer state");
    lg_status st = lg_check_dataset(m, ds, err, errlen);
    if (st != LG_OK) return st;
    if (o->batch < 1 || o->steps < 1)
        return lg_fail(err, errlen, LG_ERR_INVALID, "batch (%d) and steps (%ld) must be at least 1", o->batch,
                       o->steps);
    const lg_config *c = &m->cfg;
    int K = c->classes, B = o->batch;
    if (o->teacher &&
        (o->teacher->cfg.classes != K || o->teacher->cfg.img != c->img || o->teacher->cfg.in_chans != c->in_chans))
        return lg_fail(err, errlen, LG_ERR_MISMATCH, "the teacher's input or classes differ from the student's");
    size_t img = (size_t)ds->c * ds->h * ds->w;
    lg_ctx *x = NULL, *tx = NULL;
    lg_batcher bt;
    float *images = malloc((size_t)B * img * sizeof *images);
    float *teacher_logits = o->teacher ? malloc((size_t)B * K * sizeof(float)) : NULL;
    int *labels = malloc((size_t)B * sizeof *labels);
    lg_status bst = lg_batcher_init(&bt, ds, o->seed, o->hflip);
    if (!images || !labels || bst != LG_OK || (o->teacher && !teacher_logits)) {
        st = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for a batch of %d", B);
        goto out;
    }
    if ((st = lg_ctx_new(&x, m, B, o->threads, 1, err, errlen)) != LG_OK) goto out;
    if (o->teacher && (st = lg_ctx_new(&tx, (lg_model *)o->teacher, B, o->threads, 0, err, errlen)) != LG_OK) goto out;
    lg_adamw_config opt = o->opt;
    opt.total_steps = o->steps;
    lg_loss_spec ls = {teacher_logits, o->alpha, o->tau};
    lg_progress_clock clock;
    lg_progress_start(&clock);
    if (o->start_step < 0 || o->start_step >= o->steps) {
        st = lg_fail(err, errlen, LG_ERR_INVALID, "start_step (%ld) must be in [0, steps = %ld)", o->start_step,
                     o->steps);
        goto out;
    }
    /* a resumed run draws the batches the stopped one already used */
    for (long step = 0; step < o->start_step; step++) lg_batcher_next(&bt, images, labels, B);
    for (long step = o->start_step; step < o->steps; step++) {
        lg_batcher_next(&bt, images, labels, B);
        if (tx) lg_forward(tx, teacher_logits, images, B);
        float loss, lr;
        if (h && h->before_step) h->before_step(h->user);
        lg_model_zero_grad(m);
        lg_forward_backward(x, &loss, NULL, images, labels, B, o->teacher ? &ls : NULL);
        if (h && h->after_backward) h->after_backward(h->user);
        lg_adamw_step(owner, &opt, step, &lr);
        if (lg_progress_step(&clock, o, step, bt.epoch, loss, lr)) break;
    }
out:
    lg_batcher_free(&bt);
    lg_ctx_free(x);
    lg_ctx_free(tx);
    free(images);
    free(teacher_logits);
    free(labels);
    return st;
}

lg_status lg_evaluate(lg_model *m, const lg_dataset *ds, int batch, int threads, double *accuracy, double *loss,
                      char *err, size_t errlen)
{
    lg_status st = lg_check_dataset(m, ds, err, errlen);
    if (st != LG_OK) return st;
    int K = m->cfg.classes, B = batch < ds->n ? batch : ds->n;
    size_t img = (size_t)ds->c * ds->h * ds->w;
    lg_ctx *x = NULL;
    float *logits = malloc((size_t)B * K * sizeof *logits);
    if (!logits) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory for a batch of %d", B);
    if ((st = lg_ctx_new(&x, m, B, threads, 0, err, errlen)) != LG_OK) goto out;
    long correct = 0;
    double ce = 0.0;
    for (int first = 0; first < ds->n; first += B) {
        int n = ds->n - first < B ? ds->n - first : B;
        lg_forward(x, logits, ds->images + (size_t)first * img, n);
        ce += lg_cross_entropy(NULL, logits, ds->labels + first, n, K, 0.0f);
        for (int b = 0; b < n; b++) {
            const float *z = logits + (size_t)b * K;
            int best = 0;
            for (int k = 1; k < K; k++)
                if (z[k] > z[best]) best = k;
            correct += best == ds->labels[first + b];
        }
    }
    *accuracy = (double)correct / ds->n;
    if (loss) *loss = ce / ds->n;
out:
    lg_ctx_free(x);
    free(logits);
    return st;
}
