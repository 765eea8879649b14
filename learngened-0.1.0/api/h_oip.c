/* h_oip.c - the Open Inference Protocol v2 (KServe / Triton): server
 * metadata, model metadata and readiness, infer with JSON tensors, and the
 * repository index. A model's name is its id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "handlers.h"

enum MHD_Result lga_h_oip_server(lga_req *r)
{
    return lga_reply_json(r, 200,
                          json_pack("{s:s,s:s,s:[]}", "name", PACKAGE_NAME, "version", PACKAGE_VERSION, "extensions"));
}

static int model_row(lga_req *r, lgs_model_row *row, lg_config *c, enum MHD_Result *replied)
{
    lgs_status s = lga_resolve_model(r->srv, r->id, row);
    if (s != LGS_OK) {
        *replied = lga_reply_store_error(r, s, "model", NULL);
        return -1;
    }
    if (lg_config_from_json(c, row->config, strlen(row->config), NULL, 0) != LG_OK) {
        lgs_model_row_free(row);
        *replied = lga_reply_error(r, 500, "internal", NULL, "model %s has an unreadable config", r->id);
        return -1;
    }
    return 0;
}

enum MHD_Result lga_h_oip_model(lga_req *r)
{
    lgs_model_row row;
    lg_config c;
    enum MHD_Result ret;
    if (model_row(r, &row, &c, &ret) != 0) return ret;
    json_t *o =
        json_pack("{s:s,s:[s],s:s,s:[{s:s,s:s,s:[i,i,i,i]}],s:[{s:s,s:s,s:[i,i]}]}", "name", row.id, "versions", "1",
                  "platform", "learngened", "inputs", "name", "images", "datatype", "FP32", "shape", -1, c.in_chans,
                  c.img, c.img, "outputs", "name", "logits", "datatype", "FP32", "shape", -1, c.classes);
    lgs_model_row_free(&row);
    return lga_reply_json(r, 200, o);
}

enum MHD_Result lga_h_oip_model_ready(lga_req *r)
{
    lgs_model_row row;
    lg_config c;
    enum MHD_Result ret;
    if (model_row(r, &row, &c, &ret) != 0) return ret;
    lgs_model_row_free(&row);
    return lga_reply_json(r, 200, json_pack("{s:s,s:b}", "name", r->id, "ready", 1));
}

/* The "images" input of an infer request as B normalized images. */
static float *infer_input(json_t *body, const lg_config *c, int *B, lga_json_error *e)
{
    static const char *const keys[] = {"id", "inputs", "outputs", "parameters", NULL};
    static const char *const input_keys[] = {"name", "shape", "datatype", "data", "parameters", NULL};
    json_t *inputs, *in, *shape, *data;
    const char *dtype;
    int present;
    if (lga_json_only_keys(body, keys, NULL, e) || lga_json_get_array(body, "inputs", 16, &inputs, &present, NULL, e))
        return NULL;
    if (!inputs || json_array_size(inputs) != 1 || !json_is_object(in = json_array_get(inputs, 0))) {
        snprintf(e->message, sizeof e->message, "inputs must hold one tensor, \"images\"");
        snprintf(e->field, sizeof e->field, "inputs");
        return NULL;
    }
    if (lga_json_only_keys(in, input_keys, "inputs[0]", e) ||
        lga_json_get_string(in, "datatype", 16, &dtype, &present, "inputs[0]", e) ||
        lga_json_get_array(in, "shape", 4, &shape, &present, "inputs[0]", e) ||
        lga_json_get_array(in, "data", (size_t)1 << 26, &data, &present, "inputs[0]", e))
        return NULL;
    if (!dtype || strcmp(dtype, "FP32")) {
        snprintf(e->message, sizeof e->message, "datatype must be FP32");
        snprintf(e->field, sizeof e->field, "inputs[0].datatype");
        return NULL;
    }
    json_int_t dims[4] = {0};
    if (!shape || json_array_size(shape) != 4) goto bad_shape;
    for (int i = 0; i < 4; i++) dims[i] = json_integer_value(json_array_get(shape, (size_t)i));
    if (dims[0] < 1 || dims[0] > 1 << 20 || dims[1] != c->in_chans || dims[2] != c->img || dims[3] != c->img)
        goto bad_shape;
    size_t per = (size_t)c->in_chans * (size_t)c->img * (size_t)c->img, count = 0;
    float *x = malloc((size_t)dims[0] * per * sizeof(float));
    if (!x) return NULL;
    if (!data || lga_json_floats(data, x, (size_t)dims[0] * per, &count, "inputs[0].data", e) != 0 ||
        count != (size_t)dims[0] * per) {
        if (!e->message[0])
            snprintf(e->message, sizeof e->message, "data has %zu values; shape says %zu", count,
                     (size_t)dims[0] * per);
        snprintf(e->field, sizeof e->field, "inputs[0].data");
        free(x);
        return NULL;
    }
    *B = (int)dims[0];
    return x;
bad_shape:
    snprintf(e->message, sizeof e->message, "shape must be [N, %d, %d, %d]", c->in_chans, c->img, c->img);
    snprintf(e->field, sizeof e->field, "inputs[0].shape");
    return NULL;
}

enum MHD_Result lga_h_oip_infer(lga_req *r)
{
    lgs_model_row row;
    lg_config c;
    enum MHD_Result ret;
    if (model_row(r, &row, &c, &ret) != 0) return ret;
    lga_json_error e = {"", ""};
    float *images = NULL, *logits = NULL;
    int B = 0, K = 0, max_batch;
    lga_limits(r->srv, NULL, NULL, &max_batch);
    json_t *body = lga_body_json(r, &ret);
    if (!body) goto out;
    if (!(images = infer_input(body, &c, &B, &e))) {
        ret = e.message[0] ? lga_reply_json_error(r, &e) : lga_reply_error(r, 500, "internal", NULL, "out of memory");
        goto out;
    }
    if (B > max_batch) {
        ret =
            lga_reply_error(r, 413, "too_large", "inputs[0].shape", "%d images is over the limit of %d", B, max_batch);
        goto out;
    }
    if (lga_predict_run(r, &row, images, B, &logits, &K, &ret) != 0) goto out;
    json_t *data = json_array();
    for (size_t i = 0; i < (size_t)B * (size_t)K; i++) json_array_append_new(data, json_real(logits[i]));
    json_t *o = json_pack("{s:s,s:s,s:[{s:s,s:s,s:[i,i],s:o}]}", "model_name", row.id, "model_version", "1", "outputs",
                          "name", "logits", "datatype", "FP32", "shape", B, K, "data", data);
    json_t *id = json_object_get(body, "id");
    if (json_is_string(id)) json_object_set(o, "id", id);
    ret = lga_reply_json(r, 200, o);
out:
    free(images);
    free(logits);
    json_decref(body);
    lgs_model_row_free(&row);
    return ret;
}

enum MHD_Result lga_h_oip_index(lga_req *r)
{
    if (r->body_len) {
        enum MHD_Result ret;
        json_t *body = lga_body_json(r, &ret);
        if (!body) return ret;
        json_decref(body); /* "ready" filter: every listed model is ready */
    }
    lgs_model_row *rows = NULL;
    int n = 0;
    lgs_status s = lgs_model_list(r->srv->store, &rows, &n);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", NULL);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name", rows[i].id, "version", "1", "state", "READY"));
        lgs_model_row_free(&rows[i]);
    }
    free(rows);
    return lga_reply_json(r, 200, arr);
}
