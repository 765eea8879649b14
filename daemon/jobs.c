/* jobs.c - the fine-tune job runner (jobs.h). A job's params say which
 * dataset, classes and steps; the runner grows the starting model
 * (lga_grow_build), resumes from the job's checkpoint when there is one
 * (parameters, AdamW moments and the step - so a restart loses at most
 * checkpoint_every steps), trains with lg_train, evaluates, and stores the
 * fine-tuned model with its lineage in the same transaction that marks the
 * job succeeded.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "jobs.h"

struct lgd_jobs {
    lgd_jobs_options opt;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int kicked, stopping, running;
    pthread_t *threads;
    int nthreads;
};

static void jlog(lgd_jobs *j, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (j->opt.log) j->opt.log(level, msg);
}

/* One job being run. */
typedef struct {
    lgd_jobs *jobs;
    lgs_job_row *row;
    lg_model *model;
    long last_checkpoint;
    int cancelled, stopped;
} run;

static int save_checkpoint(run *r, long step)
{
    float *m1, *m2;
    if (lg_model_adam_state(r->model, &m1, &m2) != LG_OK) return -1;
    int64_t n = (int64_t)lg_model_nparams(r->model);
    lg_st_in t[] = {{"params", 1, &n, lg_model_weights(r->model)}, {"adam_m", 1, &n, m1}, {"adam_v", 1, &n, m2}};
    uint8_t *bytes = NULL;
    size_t len = 0;
    char err[256];
    if (lg_st_serialize(&bytes, &len, t, 3, NULL, 0, LG_F32, err, sizeof err) != LG_OK) return -1;
    lgs_status s = lgs_job_checkpoint(r->jobs->opt.store, r->row->id, step, bytes, len);
    free(bytes);
    if (s == LGS_OK) r->last_checkpoint = step;
    return s == LGS_OK ? 0 : -1;
}

static int load_checkpoint(run *r, long *step, char *err, size_t errlen)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int64_t at = 0;
    lg_st *st = NULL;
    int rc = -1;
    float *m1, *m2;
    if (lgs_job_checkpoint_get(r->jobs->opt.store, r->row->id, &bytes, &len, &at) != LGS_OK || at <= 0) {
        snprintf(err, errlen, "the checkpoint cannot be read");
        goto out;
    }
    if (lg_st_parse(&st, bytes, len, 0, err, errlen) != LG_OK) goto out;
    if (lg_model_enable_training(r->model) != LG_OK || lg_model_adam_state(r->model, &m1, &m2) != LG_OK) goto out;
    float *dst[3] = {lg_model_params(r->model), m1, m2};
    const char *names[3] = {"params", "adam_m", "adam_v"};
    for (int i = 0; i < 3; i++) {
        const lg_st_tensor *t = lg_st_find(st, names[i]);
        if (!t || t->dtype != LG_F32 || t->ndim != 1 || t->shape[0] != (int64_t)lg_model_nparams(r->model)) {
            snprintf(err, errlen, "the checkpoint's %s does not fit the model", names[i]);
            goto out;
        }
        lg_st_to_f32(t, dst[i]);
    }
    *step = (long)at;
    rc = 0;
out:
    lg_st_free(st);
    free(bytes);
    return rc;
}

static int on_progress(void *user, const lg_train_progress *p)
{
    run *r = user;
    lgd_jobs *j = r->jobs;
    lgs_job_progress(j->opt.store, r->row->id, p->step, p->loss);
    lgs_job_row now;
    if (lgs_job_get(j->opt.store, r->row->id, &now) == LGS_OK) {
        r->cancelled = now.cancel_requested;
        lgs_job_row_free(&now);
    }
    pthread_mutex_lock(&j->lock);
    r->stopped = j->stopping;
    pthread_mutex_unlock(&j->lock);
    if (r->cancelled) return 1;
    if (p->step < p->total_steps && (r->stopped || p->step - r->last_checkpoint >= j->opt.checkpoint_every))
        save_checkpoint(r, p->step);
    return r->stopped;
}

/* The dataset for training or evaluation, filtered to the job's classes. */
static int load_dataset(lgs_store *st, const char *id, json_t *classes, int per_class, int nclasses, uint64_t seed,
                        lg_dataset *ds, char *err, size_t errlen)
{
    if (lgs_dataset_load(st, id, LG_FMNIST_MEAN, LG_FMNIST_STD, ds, err, errlen) != LGS_OK) return -1;
    if (json_array_size(classes)) {
        int cls[1000], n = 0;
        size_t i;
        json_t *v;
        json_array_foreach(classes, i, v) if (n < 1000) cls[n++] = (int)json_integer_value(v);
        if (lg_dataset_filter(ds, cls, n, 1, err, errlen) != LG_OK) goto fail;
    }
    if (per_class > 0 && lg_dataset_per_class(ds, per_class, nclasses, seed, err, errlen) != LG_OK) goto fail;
    return 0;
fail:
    lg_dataset_free(ds);
    return -1;
}

/* The evaluation set: eval_dataset, else Fashion-MNIST's test split when
 * the training set is Fashion-MNIST-shaped, else the training set. */
static int eval_dataset_id(lgs_store *st, const char *eval_ds, const lgs_dataset_row *train, char out[65])
{
    if (eval_ds) {
        snprintf(out, 65, "%s", eval_ds);
        return 0;
    }
    lgs_dataset_row *rows = NULL;
    int n = 0, found = 0;
    lgs_dataset_list(st, &rows, &n);
    for (int i = 0; i < n && !found; i++)
        if (!strcmp(rows[i].name, "fashion-mnist-test") && rows[i].h == train->h && rows[i].w == train->w &&
            rows[i].c == train->c) {
            snprintf(out, 65, "%s", rows[i].id);
            found = 1;
        }
    free(rows);
    if (!found) snprintf(out, 65, "%s", train->id);
    return 0;
}

/* Stores the trained model as a new model row with its lineage. */
static int store_result(run *r, const lgs_model_row *base, json_t *params, double acc, char *err, size_t errlen)
{
    char cfg[1024], steps[32], accs[32];
    lg_config_to_json(lg_model_config(r->model), cfg, sizeof cfg);
    snprintf(steps, sizeof steps, "%lld", (long long)r->row->total_steps);
    snprintf(accs, sizeof accs, "%.4f", acc);
    const char *dataset = json_string_value(json_object_get(params, "dataset"));
    lg_st_kv meta[] = {{"config", cfg},      {"method", "finetune"}, {"parent", base->id}, {"source", base->source},
                       {"dataset", dataset}, {"steps", steps},       {"accuracy", accs},   {"job", r->row->id}};
    int n;
    const lg_tensor_info *t = lg_model_tensors(r->model, &n);
    lg_st_in *in = calloc((size_t)n, sizeof *in);
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = -1;
    if (!in) goto out;
    for (int i = 0; i < n; i++)
        in[i] = (lg_st_in){t[i].name, t[i].ndim, t[i].shape, lg_model_weights(r->model) + t[i].offset};
    if (lg_st_serialize(&bytes, &len, in, n, meta, 8, LG_F32, err, errlen) != LG_OK) goto out;
    lgs_model_row res;
    memset(&res, 0, sizeof res);
    lgs_sha256_hex(res.id, bytes, len);
    snprintf(res.source, sizeof res.source, "%s", base->source);
    snprintf(res.parent, sizeof res.parent, "%s", base->id);
    snprintf(res.method, sizeof res.method, "finetune");
    res.spec = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    res.config = cfg;
    res.flops = base->flops;
    res.params = base->params;
    snprintf(res.dataset, sizeof res.dataset, "%s", dataset ? dataset : "");
    snprintf(res.job, sizeof res.job, "%s", r->row->id);
    res.steps = r->row->total_steps;
    res.accuracy = acc;
    lgs_status s = lgs_job_succeed(r->jobs->opt.store, r->row->id, &res, bytes, len, acc, err, errlen);
    free(res.spec);
    rc = s == LGS_OK ? 0 : -1;
out:
    free(in);
    free(bytes);
    return rc;
}

static void run_job(lgd_jobs *j, lgs_job_row *row)
{
    char err[512] = "";
    run r = {j, row, NULL, 0, 0, 0};
    lgs_model_row base;
    lg_dataset train = {0}, test = {0};
    int have_base = 0, have_train = 0, have_test = 0;
    json_t *params = json_loads(row->params ? row->params : "", 0, NULL);
    const char *dataset = json_string_value(json_object_get(params, "dataset"));
    json_t *classes = json_object_get(params, "classes");
    int per_class = (int)json_integer_value(json_object_get(params, "per_class"));
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(params, "seed"));
    lgs_dataset_row train_row;
    char eval_id[65];
    if (!params || !dataset) {
        snprintf(err, sizeof err, "the job's params are unreadable");
        goto fail;
    }
    if (lgs_model_get(j->opt.store, row->model, &base) != LGS_OK) {
        snprintf(err, sizeof err, "the starting model %.12s is gone", row->model);
        goto fail;
    }
    have_base = 1;
    if (lga_grow_build(j->opt.store, &base, &r.model, err, sizeof err) != LGS_OK) goto fail;
    int nclasses = lg_model_config(r.model)->classes;
    if (lgs_dataset_get(j->opt.store, dataset, &train_row) != LGS_OK) {
        snprintf(err, sizeof err, "dataset %.12s is gone", dataset);
        goto fail;
    }
    if (load_dataset(j->opt.store, dataset, classes, per_class, nclasses, seed, &train, err, sizeof err)) goto fail;
    have_train = 1;
    eval_dataset_id(j->opt.store, json_string_value(json_object_get(params, "eval_dataset")), &train_row, eval_id);
    if (load_dataset(j->opt.store, eval_id, classes, 0, nclasses, seed, &test, err, sizeof err)) goto fail;
    have_test = 1;

    lg_train_opts o;
    lg_train_defaults(&o);
    o.batch = json_object_get(params, "batch") ? (int)json_integer_value(json_object_get(params, "batch")) : 64;
    o.steps = (long)row->total_steps;
    o.threads = j->opt.blas_threads;
    o.seed = seed + 1;
    o.hflip = json_is_true(json_object_get(params, "hflip"));
    if (json_is_number(json_object_get(params, "lr")))
        o.opt.lr = (float)json_number_value(json_object_get(params, "lr"));
    o.opt.warmup_steps = o.steps / 20;
    o.log_every = j->opt.checkpoint_every < 10 ? j->opt.checkpoint_every : 10;
    o.progress = on_progress;
    o.user = &r;
    if (row->checkpoint_step > 0) {
        long at = 0;
        if (load_checkpoint(&r, &at, err, sizeof err) != 0) goto fail;
        o.start_step = at;
        r.last_checkpoint = at;
        jlog(j, 2, "event=job_resumed job=%s step=%ld", row->id, at);
    }
    if (lg_train(r.model, &train, &o, err, sizeof err) != LG_OK) goto fail;
    if (r.cancelled) {
        lgs_job_fail(j->opt.store, row->id, LGS_JOB_CANCELLED, "cancelled by request");
        jlog(j, 2, "event=job_cancelled job=%s", row->id);
        goto out;
    }
    if (r.stopped) {
        jlog(j, 2, "event=job_paused job=%s step=%ld (resumes on the next start)", row->id, r.last_checkpoint);
        goto out;
    }
    const float *w = lg_model_weights(r.model);
    for (size_t i = 0; i < lg_model_nparams(r.model); i++)
        if (!isfinite(w[i])) {
            snprintf(err, sizeof err, "training diverged: a weight became NaN or infinite (lower the learning rate)");
            goto fail;
        }
    double acc = NAN;
    if (lg_evaluate(r.model, &test, 256, j->opt.blas_threads, &acc, NULL, err, sizeof err) != LG_OK) goto fail;
    if (store_result(&r, &base, params, acc, err, sizeof err) != 0) goto fail;
    jlog(j, 2, "event=job_succeeded job=%s steps=%lld accuracy=%.4f", row->id, (long long)row->total_steps, acc);
    goto out;
fail:
    jlog(j, 0, "event=job_failed job=%s reason=\"%s\"", row->id, err);
    lgs_job_fail(j->opt.store, row->id, LGS_JOB_FAILED, err);
out:
    if (have_base) lgs_model_row_free(&base);
    if (have_train) lg_dataset_free(&train);
    if (have_test) lg_dataset_free(&test);
    lg_model_free(r.model);
    json_decref(params);
}

static void *runner_main(void *p)
{
    lgd_jobs *j = p;
    pthread_mutex_lock(&j->lock);
    while (!j->stopping) {
        pthread_mutex_unlock(&j->lock);
        lgs_job_row row;
        lgs_status s = lgs_job_claim(j->opt.store, &row);
        pthread_mutex_lock(&j->lock);
        if (s == LGS_OK) {
            j->running++;
            pthread_mutex_unlock(&j->lock);
            jlog(j, 2, "event=job_started job=%s steps=%lld", row.id, (long long)row.total_steps);
            run_job(j, &row);
            lgs_job_row_free(&row);
            pthread_mutex_lock(&j->lock);
            j->running--;
            continue;
        }
        if (!j->kicked && !j->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 2;
            pthread_cond_timedwait(&j->wake, &j->lock, &ts);
        }
        j->kicked = 0;
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int lgd_jobs_start(lgd_jobs **out, const lgd_jobs_options *o)
{
    lgd_jobs *j = calloc(1, sizeof *j);
    if (!j) return -1;
    j->opt = *o;
    j->threads = calloc((size_t)o->threads, sizeof *j->threads);
    if (!j->threads) {
        free(j);
        return -1;
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    for (int i = 0; i < o->threads; i++) {
        if (pthread_create(&j->threads[i], NULL, runner_main, j) != 0) {
            lgd_jobs_stop(j);
            return -1;
        }
        j->nthreads++;
    }
    *out = j;
    return 0;
}

void lgd_jobs_kick(lgd_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    j->kicked = 1;
    pthread_cond_broadcast(&j->wake);
    pthread_mutex_unlock(&j->lock);
}

int lgd_jobs_running(lgd_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    int n = j->running;
    pthread_mutex_unlock(&j->lock);
    return n;
}

void lgd_jobs_stop(lgd_jobs *j)
{
    if (!j) return;
    pthread_mutex_lock(&j->lock);
    j->stopping = 1;
    pthread_cond_broadcast(&j->wake);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->nthreads; i++) pthread_join(j->threads[i], NULL);
    int n = 0;
    lgs_job_requeue_running(j->opt.store, &n); /* the paused ones */
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    free(j->threads);
    free(j);
}
