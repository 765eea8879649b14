/* h_predict.c - POST /v1/models/{id}/predict: images as JSON, raw float32
 * or raw bytes in, top-k classes with probabilities (and logits on
 * request) out; the forward pass runs on the worker pool with the cached
 * model's per-worker context. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodies.h"
#include "handlers.h"

typedef struct {
    lga_server *srv;
    lga_model_entry *e;
    const float *images;
    int B, max_batch;
    float *logits;
    int ok;
    char err[256];
} forward_task;

static void forward_work(void *arg, int worker)
{
    forward_task *t = arg;
    lg_ctx *x =
        lga_entry_ctx(t->srv->cache, t->e, worker, t->max_batch, t->srv->opt.blas_threads, t->err, sizeof t->err);
    if (!x) return;
    const lg_config *c = lg_model_config(t->e->model);
    size_t per = (size_t)c->in_chans * (size_t)c->img * (size_t)c->img;
    for (int b = 0; b < t->B; b += t->max_batch) {
        int n = t->B - b < t->max_batch ? t->B - b : t->max_batch;
        if (lg_forward(x, t->logits + (size_t)b * (size_t)c->classes, t->images + (size_t)b * per, n) != LG_OK) {
            snprintf(t->err, sizeof t->err, "the forward pass failed");
            return;
        }
    }
    t->ok = 1;
}

int lga_predict_run(lga_req *r, const lgs_model_row *row, const float *images, int B, float **logits, int *K,
                    enum MHD_Result *replied)
{
    char err[512] = "";
    int busy = 0, max_batch;
    lga_model_entry *e = NULL;
    lga_limits(r->srv, NULL, NULL, &max_batch);
    lgs_status s = lga_cache_get(r->srv, row, &e, &busy, err, sizeof err);
    if (busy) {
        *replied = lga_reply_busy(r);
        return -1;
    }
    if (s != LGS_OK) {
        *replied = lga_reply_error(r, 500, "internal", NULL, "cannot grow the model: %s", err);
        return -1;
    }
    *K = lg_model_config(e->model)->classes;
    forward_task t = {r->srv, e, images, B, B < max_batch ? B : max_batch, NULL, 0, ""};
    t.logits = malloc((size_t)B * (size_t)*K * sizeof(float));
    int rc = -1;
    if (!t.logits)
        *replied = lga_reply_error(r, 500, "internal", NULL, "out of memory");
    else if (lga_run_cpu(r->srv, forward_work, &t) != 0)
        *replied = lga_reply_busy(r);
    else if (!t.ok)
        *replied = lga_reply_error(r, 500, "internal", NULL, "prediction failed: %s", t.err);
    else
        rc = 0;
    lga_cache_release(r->srv->cache, e);
    if (rc)
        free(t.logits);
    else
        *logits = t.logits;
    return rc;
}

/* The images of a JSON predict body (normalizing unless told they are). */
static float *json_images(json_t *body, size_t per, int max_batch, int *B, int *top_k, int *want_logits,
                          lga_json_error *e)
{
    static const char *const keys[] = {"images", "top_k", "normalized", "logits", NULL};
    json_t *arr;
    long k = 1;
    int present, normalized = 0, lg = 0;
    if (lga_json_only_keys(body, keys, NULL, e) ||
        lga_json_get_array(body, "images", (size_t)max_batch, &arr, &present, NULL, e) ||
        lga_json_get_int(body, "top_k", 1, 1000, &k, &present, NULL, e) ||
        lga_json_get_bool(body, "normalized", &normalized, &present, NULL, e) ||
        lga_json_get_bool(body, "logits", &lg, &present, NULL, e))
        return NULL;
    if (!arr || json_array_size(arr) == 0) {
        snprintf(e->message, sizeof e->message, "images must be a non-empty array of images");
        snprintf(e->field, sizeof e->field, "images");
        return NULL;
    }
    size_t n = json_array_size(arr);
    float *x = malloc(n * per * sizeof(float));
    if (!x) return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        char field[32];
        snprintf(field, sizeof field, "images[%zu]", i);
        if (lga_json_floats(json_array_get(arr, i), x + i * per, per, &count, field, e) != 0 || count != per) {
            if (count != per && !e->message[0])
                snprintf(e->message, sizeof e->message, "%s has %zu values; the model takes %zu (C·H·W)", field, count,
                         per);
            if (!e->field[0]) snprintf(e->field, sizeof e->field, "%s", field);
            free(x);
            return NULL;
        }
    }
    if (!normalized)
        for (size_t i = 0; i < n * per; i++) x[i] = (x[i] - LG_FMNIST_MEAN) / LG_FMNIST_STD;
    *B = (int)n;
    *top_k = (int)k;
    *want_logits = lg;
    return x;
}

static json_t *predictions_json(const float *logits, int B, int K, int top_k, int with_logits)
{
    json_t *preds = json_array(), *all = with_logits ? json_array() : NULL;
    int *idx = malloc((size_t)K * sizeof *idx);
    double *p = malloc((size_t)K * sizeof *p);
    if (top_k > K) top_k = K;
    for (int b = 0; idx && p && b < B; b++) {
        const float *l = logits + (size_t)b * (size_t)K;
        double mx = l[0], sum = 0;
        for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < K; k++) sum += p[k] = exp(l[k] - mx);
        for (int k = 0; k < K; k++) p[k] /= sum, idx[k] = k;
        json_t *top = json_array();
        for (int t = 0; t < top_k; t++) { /* partial selection sort: k is small */
            int best = t;
            for (int k = t + 1; k < K; k++)
                if (p[idx[k]] > p[idx[best]]) best = k;
            int tmp = idx[t];
            idx[t] = idx[best], idx[best] = tmp;
            json_array_append_new(top, json_pack("{s:i,s:f}", "class", idx[t], "prob", p[idx[t]]));
        }
        json_array_append_new(preds, json_pack("{s:o}", "top", top));
        if (all) {
            json_t *row = json_array();
            for (int k = 0; k < K; k++) json_array_append_new(row, json_real(l[k]));
            json_array_append_new(all, row);
        }
    }
    free(idx);
    free(p);
    json_t *o = json_pack("{s:o}", "predictions", preds);
    if (all) json_object_set_new(o, "logits", all);
    return o;
}

static long query_int(lga_req *r, const char *key, long def)
{
    const char *v = lga_query(r, key);
    return v ? strtol(v, NULL, 10) : def;
}

enum MHD_Result lga_h_predict(lga_req *r)
{
    lgs_model_row row;
    lgs_status s = lga_resolve_model(r->srv, r->id, &row);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", NULL);
    lg_config c;
    enum MHD_Result ret;
    lga_json_error e = {"", ""};
    float *images = NULL, *logits = NULL;
    json_t *body = NULL;
    int B = 0, K = 0, max_batch, top_k = (int)query_int(r, "top_k", 1), want_logits = (int)query_int(r, "logits", 0);
    lga_limits(r->srv, NULL, NULL, &max_batch);
    if (lg_config_from_json(&c, row.config, strlen(row.config), NULL, 0) != LG_OK) {
        ret = lga_reply_error(r, 500, "internal", NULL, "model %s has an unreadable config", row.id);
        goto out;
    }
    size_t per = (size_t)c.in_chans * (size_t)c.img * (size_t)c.img;
    const char *ct = lga_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || !strncmp(ct, "application/json", 16)) {
        if (!(body = lga_body_json(r, &ret))) goto out;
        images = json_images(body, per, 1 << 20, &B, &top_k, &want_logits, &e);
    } else if (!strncmp(ct, "application/octet-stream", 24) || !strncmp(ct, "application/x-u8", 16)) {
        images = lga_images_raw(r->body, r->body_len, per, !strncmp(ct, "application/x-u8", 16), &B, &e);
    } else {
        ret = lga_reply_error(r, 415, "unsupported_media_type", "Content-Type",
                              "send application/json, application/octet-stream (float32) or application/x-u8");
        goto out;
    }
    if (!images) {
        ret = e.message[0] ? lga_reply_json_error(r, &e) : lga_reply_error(r, 500, "internal", NULL, "out of memory");
        goto out;
    }
    if (B > max_batch) {
        ret = lga_reply_error(r, 413, "too_large", "images", "%d images is over the limit of %d per request", B,
                              max_batch);
        goto out;
    }
    if (top_k < 1) top_k = 1;
    if (lga_predict_run(r, &row, images, B, &logits, &K, &ret) != 0) goto out;
    ret = lga_reply_json(r, 200, predictions_json(logits, B, K, top_k, want_logits));
out:
    free(images);
    free(logits);
    json_decref(body);
    lgs_model_row_free(&row);
    return ret;
}
