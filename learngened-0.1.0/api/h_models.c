/* h_models.c - POST /v1/models (grow a model by depth or budget, and
 * optionally queue its fine-tuning as a job), list, describe, delete. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "handlers.h"

static const char *const model_keys[] = {"from",    "depth", "budget",   "classes", "init",
                                         "variant", "seed",  "finetune", NULL};
static const char *const budget_keys[] = {"flops", "params", NULL};
static const char *const finetune_keys[] = {"dataset",   "epochs", "steps", "lr",           "batch", "classes",
                                            "per_class", "seed",   "hflip", "eval_dataset", NULL};

/* The finetune object, checked; it goes into the job's params as given
 * plus the derived step count. */
typedef struct {
    lgs_dataset_row train;
    int nclasses;
    long epochs, steps, batch, per_class;
} finetune_req;

static int check_finetune(lga_req *r, json_t *ft, int *classes, finetune_req *f, lga_json_error *e,
                          enum MHD_Result *replied)
{
    const char *dataset = NULL, *eval_ds = NULL;
    json_t *cls = NULL;
    double lr;
    long seed;
    int present, hflip;
    memset(f, 0, sizeof *f);
    f->epochs = 1, f->batch = 64;
    if (lga_json_only_keys(ft, finetune_keys, "finetune", e) ||
        lga_json_get_string(ft, "dataset", 64, &dataset, &present, "finetune", e))
        return -1;
    if (!present) {
        snprintf(e->message, sizeof e->message, "finetune needs a dataset id");
        snprintf(e->field, sizeof e->field, "finetune.dataset");
        return -1;
    }
    if (lga_json_get_int(ft, "epochs", 1, 1000, &f->epochs, &present, "finetune", e) ||
        lga_json_get_int(ft, "steps", 1, 10000000, &f->steps, &present, "finetune", e) ||
        lga_json_get_number(ft, "lr", 1e-8, 1, &lr, &present, "finetune", e) ||
        lga_json_get_int(ft, "batch", 1, 1024, &f->batch, &present, "finetune", e) ||
        lga_json_get_int(ft, "per_class", 0, 1000000, &f->per_class, &present, "finetune", e) ||
        lga_json_get_int(ft, "seed", 0, 0x7fffffff, &seed, &present, "finetune", e) ||
        lga_json_get_bool(ft, "hflip", &hflip, &present, "finetune", e) ||
        lga_json_get_string(ft, "eval_dataset", 64, &eval_ds, &present, "finetune", e) ||
        lga_json_get_array(ft, "classes", 1000, &cls, &present, "finetune", e))
        return -1;
    lgs_status s = lga_resolve_dataset(r->srv, dataset, &f->train);
    if (s != LGS_OK) {
        *replied =
            lga_reply_error(r, s == LGS_ERR_NOTFOUND ? 404 : 400, s == LGS_ERR_NOTFOUND ? "not_found" : "bad_request",
                            "finetune.dataset", "no dataset '%s'", dataset);
        return -2;
    }
    lgs_dataset_row ev;
    if (eval_ds && lga_resolve_dataset(r->srv, eval_ds, &ev) != LGS_OK) {
        *replied = lga_reply_error(r, 404, "not_found", "finetune.eval_dataset", "no dataset '%s'", eval_ds);
        return -2;
    }
    f->nclasses = f->train.classes;
    if (cls) {
        size_t i;
        json_t *v;
        json_array_foreach(cls, i, v)
        {
            json_int_t c = json_integer_value(v);
            if (!json_is_integer(v) || c < 0 || c >= f->train.classes) {
                snprintf(e->message, sizeof e->message, "finetune.classes must list labels from 0 to %d",
                         f->train.classes - 1);
                snprintf(e->field, sizeof e->field, "finetune.classes");
                return -1;
            }
        }
        f->nclasses = (int)json_array_size(cls);
        if (f->nclasses == 0) {
            snprintf(e->message, sizeof e->message, "finetune.classes must not be empty");
            snprintf(e->field, sizeof e->field, "finetune.classes");
            return -1;
        }
    }
    if (!*classes) *classes = f->nclasses;
    if (*classes < f->nclasses) {
        snprintf(e->message, sizeof e->message, "classes (%d) is fewer than the %d classes fine-tuned on", *classes,
                 f->nclasses);
        snprintf(e->field, sizeof e->field, "classes");
        return -1;
    }
    if (!f->steps) {
        /* rows seen per epoch: per_class of each class, or the classes' share */
        double rows = f->per_class ? (double)f->per_class * f->nclasses
                                   : (double)f->train.n * f->nclasses / (f->train.classes ? f->train.classes : 1);
        f->steps = f->epochs * (long)ceil(rows / (double)f->batch);
        if (f->steps < 1) f->steps = 1;
    }
    return 0;
}

static void random_id(char out[65])
{
    unsigned char b[32];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(out, 65, "%016llx%016llx", (unsigned long long)ts.tv_sec, (unsigned long long)ts.tv_nsec);
        lgs_sha256_hex(out, out, strlen(out));
        return;
    }
    lgs_sha256_hex(out, b, sizeof b);
}

/* Grows the model once (it lands in the cache) to learn its f32 sha256. */
static int grow_now(lga_req *r, lgs_model_row *row, enum MHD_Result *replied)
{
    char err[512] = "";
    int busy = 0;
    lga_model_entry *e = NULL;
    lgs_status s = lga_cache_get(r->srv, row, &e, &busy, err, sizeof err);
    if (busy) {
        *replied = lga_reply_busy(r);
        return -1;
    }
    if (s != LGS_OK) {
        *replied = lga_reply_error(r, 500, "internal", NULL, "cannot grow the model: %s", err);
        return -1;
    }
    const uint8_t *bytes;
    size_t len;
    const char *sha;
    s = lga_entry_file(r->srv->cache, e, LG_F32, &bytes, &len, &sha, err, sizeof err);
    if (s == LGS_OK) snprintf(row->sha256, sizeof row->sha256, "%s", sha);
    lga_cache_release(r->srv->cache, e);
    if (s != LGS_OK) {
        *replied = lga_reply_error(r, 500, "internal", NULL, "cannot serialize the model: %s", err);
        return -1;
    }
    return 0;
}

static enum MHD_Result create_job(lga_req *r, lgs_model_row *row, json_t *ft, const finetune_req *f, json_t *model)
{
    lgs_job_row j;
    memset(&j, 0, sizeof j);
    random_id(j.id);
    snprintf(j.kind, sizeof j.kind, "finetune");
    snprintf(j.model, sizeof j.model, "%s", row->id);
    json_object_set_new(ft, "dataset", json_string(f->train.id));
    json_object_set_new(ft, "total_steps", json_integer(f->steps));
    j.params = json_dumps(ft, JSON_COMPACT | JSON_SORT_KEYS);
    j.total_steps = f->steps;
    j.loss = j.accuracy = NAN;
    lgs_status s = j.params ? lgs_job_put(r->srv->store, &j) : LGS_ERR_NOMEM;
    free(j.params);
    if (s != LGS_OK) {
        json_decref(model);
        return lga_reply_store_error(r, s, "job", NULL);
    }
    lgs_job_row stored;
    if (lgs_job_get(r->srv->store, j.id, &stored) != LGS_OK) {
        json_decref(model);
        return lga_reply_error(r, 500, "internal", NULL, "the job vanished after being stored");
    }
    if (r->srv->opt.hooks.jobs_changed) r->srv->opt.hooks.jobs_changed(r->srv->opt.hooks.ctx);
    lga_log(r->srv, 2, "event=job_queued job=%s model=%s steps=%ld", j.id, row->id, f->steps);
    json_t *job = lga_job_json(&stored);
    lgs_job_row_free(&stored);
    return lga_reply_json(r, 202, json_pack("{s:o,s:o}", "job", job, "model", model));
}

enum MHD_Result lga_h_model_create(lga_req *r)
{
    enum MHD_Result ret;
    json_t *body = lga_body_json(r, &ret);
    if (!body) return ret;
    lga_json_error e = {"", ""};
    lga_grow_request q;
    memset(&q, 0, sizeof q);
    json_t *budget = NULL, *ft = NULL;
    long depth = 0, classes = 0, seed = 0;
    int has_depth, has_budget, has_ft, present;
    const char *from = NULL, *init = NULL, *variant = NULL;
    lgs_model_row row;
    memset(&row, 0, sizeof row);
    finetune_req f;
    memset(&f, 0, sizeof f);
    if (lga_json_only_keys(body, model_keys, NULL, &e) ||
        lga_json_get_string(body, "from", 64, &from, &present, NULL, &e) ||
        lga_json_get_int(body, "depth", 1, LG_MAX_DEPTH, &depth, &has_depth, NULL, &e) ||
        lga_json_get_object(body, "budget", &budget, &has_budget, NULL, &e) ||
        lga_json_get_int(body, "classes", 1, LG_MAX_CLASSES, &classes, &present, NULL, &e) ||
        lga_json_get_string(body, "init", 16, &init, &present, NULL, &e) ||
        lga_json_get_string(body, "variant", 90, &variant, &present, NULL, &e) ||
        lga_json_get_int(body, "seed", 0, 0x7fffffff, &seed, &present, NULL, &e) ||
        lga_json_get_object(body, "finetune", &ft, &has_ft, NULL, &e))
        goto bad;
    if (has_budget && (lga_json_only_keys(budget, budget_keys, "budget", &e) ||
                       lga_json_get_number(budget, "flops", 1, 1e18, &q.budget.max_flops, &present, "budget", &e) ||
                       lga_json_get_number(budget, "params", 1, 1e15, &q.budget.max_params, &present, "budget", &e)))
        goto bad;
    if (has_budget && q.budget.max_flops <= 0 && q.budget.max_params <= 0) {
        snprintf(e.message, sizeof e.message, "budget needs flops and/or params");
        snprintf(e.field, sizeof e.field, "budget");
        goto bad;
    }
    if (has_depth + has_budget + (variant != NULL) != 1) {
        snprintf(e.message, sizeof e.message, "give exactly one of depth, budget and variant");
        snprintf(e.field, sizeof e.field, has_depth ? "depth" : "budget");
        goto bad;
    }
    if (init && strcmp(init, "tleg") && strcmp(init, "inherit") && strcmp(init, "stitch") && strcmp(init, "scratch")) {
        snprintf(e.message, sizeof e.message, "init must be tleg, inherit, stitch or scratch");
        snprintf(e.field, sizeof e.field, "init");
        goto bad;
    }
    int nclasses = (int)classes;
    if (has_ft) {
        int rc = check_finetune(r, ft, &nclasses, &f, &e, &ret);
        if (rc == -2) goto out;
        if (rc) goto bad;
    }
    lgs_gene_row src;
    char from_id[65] = "";
    if (from) {
        lgs_status s = lga_resolve_gene(r->srv, from, &src);
        if (s != LGS_OK) {
            ret =
                lga_reply_error(r, s == LGS_ERR_INVALID ? 400 : 404, s == LGS_ERR_INVALID ? "bad_request" : "not_found",
                                "from", "no single learngene or pool matches '%s'", from);
            goto out;
        }
        snprintf(from_id, sizeof from_id, "%s", src.id);
        lgs_gene_row_free(&src);
    }
    q.from = from ? from_id : NULL;
    q.depth = (int)depth;
    q.has_budget = has_budget;
    q.classes = nclasses;
    q.init = init;
    q.variant = variant;
    q.seed = (uint64_t)seed;
    lga_grow_info info;
    const char *field = NULL;
    char err[512] = "";
    lgs_status s = lga_grow_resolve(r->srv->store, &q, &row, &info, &field, err, sizeof err);
    if (s == LGS_ERR_CONFLICT) {
        ret = lga_reply_error(r, 422, "unprocessable", "budget", "%s", err);
        goto out;
    }
    if (s == LGS_ERR_INVALID) {
        ret = lga_reply_error(r, 400, "bad_request", field, "%s", err);
        goto out;
    }
    if (s != LGS_OK) {
        ret = lga_reply_store_error(r, s, "learngene", err);
        goto out;
    }
    int max_depth, queue_max;
    size_t max_bytes;
    lga_model_limits(r->srv, &max_depth, &max_bytes, &queue_max);
    lg_config grown;
    if (lg_config_from_json(&grown, row.config, strlen(row.config), NULL, 0) == LG_OK && grown.depth > max_depth) {
        ret = lga_reply_error(r, 400, "bad_request", has_depth ? "depth" : "budget",
                              "depth %d is over this server's limit of %d (max_depth)", grown.depth, max_depth);
        goto out;
    }
    if ((double)row.params * sizeof(float) > (double)max_bytes) {
        ret = lga_reply_error(r, 400, "bad_request", has_depth ? "depth" : "budget",
                              "the model would have %lld parameters (%.0f MiB), over this server's limit of %.0f MiB "
                              "(max_model_mb)",
                              (long long)row.params, (double)row.params * 4 / 1048576, (double)max_bytes / 1048576);
        goto out;
    }
    if (has_ft) {
        int64_t counts[LGS_JOB_STATES] = {0};
        if (lgs_job_counts(r->srv->store, counts) == LGS_OK && counts[LGS_JOB_QUEUED] >= queue_max) {
            ret = lga_reply_error(r, 429, "too_many_requests", NULL,
                                  "%lld fine-tune jobs are already queued (jobs_queue_max); retry later",
                                  (long long)counts[LGS_JOB_QUEUED]);
            goto out;
        }
    }
    if (grow_now(r, &row, &ret) != 0) goto out;
    s = lgs_model_put(r->srv->store, &row, NULL, 0, err, sizeof err);
    unsigned status = s == LGS_OK ? 201 : 200;
    if (s != LGS_OK && s != LGS_ERR_EXISTS) {
        ret = lga_reply_store_error(r, s, "model", err);
        goto out;
    }
    lgs_model_row stored;
    if (lgs_model_get(r->srv->store, row.id, &stored) != LGS_OK) {
        ret = lga_reply_error(r, 500, "internal", NULL, "the model vanished after being stored");
        goto out;
    }
    json_t *model = lga_model_json(&stored);
    lgs_model_row_free(&stored);
    if (has_budget)
        json_object_set_new(model, "solver",
                            json_pack("{s:i,s:s,s:o}", "considered", info.considered, "reason", info.reason,
                                      "expected_accuracy",
                                      isnan(info.expected_accuracy) ? json_null() : json_real(info.expected_accuracy)));
    if (status == 201)
        lga_log(r->srv, 2, "event=model_grown id=%s method=%s flops=%.0f", row.id, row.method, row.flops);
    ret = has_ft ? create_job(r, &row, ft, &f, model) : lga_reply_json(r, status, model);
    goto out;
bad:
    ret = lga_reply_json_error(r, &e);
out:
    lgs_model_row_free(&row);
    json_decref(body);
    return ret;
}

enum MHD_Result lga_h_model_list(lga_req *r)
{
    lgs_model_row *rows = NULL;
    int n = 0;
    lgs_status s = lgs_model_list(r->srv->store, &rows, &n);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", NULL);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, lga_model_json(&rows[i]));
        lgs_model_row_free(&rows[i]);
    }
    free(rows);
    return lga_reply_json(r, 200, json_pack("{s:o}", "models", arr));
}

enum MHD_Result lga_h_model_get(lga_req *r)
{
    lgs_model_row row;
    lgs_status s = lga_resolve_model(r->srv, r->id, &row);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", NULL);
    json_t *o = lga_model_json(&row);
    lgs_model_row_free(&row);
    return lga_reply_json(r, 200, o);
}

enum MHD_Result lga_h_model_delete(lga_req *r)
{
    lgs_model_row row;
    lgs_status s = lga_resolve_model(r->srv, r->id, &row);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", NULL);
    char err[512] = "";
    s = lgs_model_delete(r->srv->store, row.id, err, sizeof err);
    lgs_model_row_free(&row);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", err);
    return lga_reply(r, 204, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}
