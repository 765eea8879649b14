/* fuzz_json.c - libFuzzer harness for JSON request bodies and model
 * descriptions.
 *
 * The bytes are (1) parsed by lga_json_parse_object, the strict parser every
 * JSON body goes through, and the object is walked with the lga_json_*
 * getters the way POST /v1/models (keys, budget, finetune), POST
 * /v1/models/{id}/predict (images) and POST /v2/models/{id}/infer (inputs)
 * read it - every getter is called whatever the earlier ones answered, so
 * each sees every body; and (2) parsed by lg_config_from_json, the core's
 * own reader of a model description (safetensors "config" metadata), whose
 * result must survive lg_config_to_json and back unchanged.
 *
 * Properties checked: every failure leaves a message that
 * lga_json_error_body turns into JSON (valid UTF-8); getters return values
 * within the bounds asked for; lga_json_floats counts at most max_values
 * and a regular shape multiplies out to the count.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "../api/jsonbody.h"
#include "learngene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* After a call that answered rc: a failure must say why, in a form that
 * goes back to the client as JSON. Resets e for the next call. */
static void fuzz_json_outcome(int rc, lga_json_error *e)
{
    if (rc != 0) {
        FUZZ_CHECK(e->message[0] != '\0', "a lga_json_* call failed without a message");
        json_t *body = lga_json_error_body("bad_request", e->message, e->field);
        FUZZ_CHECK(body != NULL, "lga_json_error_body refused message \"%s\" field \"%s\"", e->message, e->field);
        char *text = json_dumps(body, JSON_COMPACT);
        FUZZ_CHECK(text != NULL, "the error body does not serialize");
        free(text);
        json_decref(body);
    }
    e->message[0] = e->field[0] = '\0';
}

static void fuzz_json_int(const json_t *o, const char *key, long min, long max, const char *prefix, lga_json_error *e)
{
    long v = 0;
    int present = 0;
    int rc = lga_json_get_int(o, key, min, max, &v, &present, prefix, e);
    FUZZ_CHECK(rc != 0 || !present || (v >= min && v <= max), "%s = %ld outside [%ld, %ld]", key, v, min, max);
    fuzz_json_outcome(rc, e);
}

static void fuzz_json_number(const json_t *o, const char *key, double min, double max, const char *prefix,
                             lga_json_error *e)
{
    double v = 0;
    int present = 0;
    int rc = lga_json_get_number(o, key, min, max, &v, &present, prefix, e);
    FUZZ_CHECK(rc != 0 || !present || (isfinite(v) && v >= min && v <= max), "%s = %g outside [%g, %g]", key, v, min,
               max);
    fuzz_json_outcome(rc, e);
}

static const char *fuzz_json_string(const json_t *o, const char *key, size_t maxlen, const char *prefix,
                                    lga_json_error *e)
{
    const char *v = NULL;
    int present = 0;
    int rc = lga_json_get_string(o, key, maxlen, &v, &present, prefix, e);
    FUZZ_CHECK(rc != 0 || !present || (v && (!maxlen || strlen(v) <= maxlen)), "%s: string over %zu bytes", key,
               maxlen);
    fuzz_json_outcome(rc, e);
    return rc == 0 && present ? v : NULL;
}

static void fuzz_json_bool(const json_t *o, const char *key, const char *prefix, lga_json_error *e)
{
    int v = -1, present = 0;
    int rc = lga_json_get_bool(o, key, &v, &present, prefix, e);
    FUZZ_CHECK(rc != 0 || !present || v == 0 || v == 1, "%s = %d is not a boolean", key, v);
    fuzz_json_outcome(rc, e);
}

static json_t *fuzz_json_object(const json_t *o, const char *key, const char *prefix, lga_json_error *e)
{
    json_t *v = NULL;
    int present = 0;
    int rc = lga_json_get_object(o, key, &v, &present, prefix, e);
    FUZZ_CHECK(rc != 0 || !present || json_is_object(v), "%s is not an object", key);
    fuzz_json_outcome(rc, e);
    return rc == 0 && present ? v : NULL;
}

static json_t *fuzz_json_array(const json_t *o, const char *key, size_t max_items, const char *prefix,
                               lga_json_error *e)
{
    json_t *v = NULL;
    int present = 0;
    int rc = lga_json_get_array(o, key, max_items, &v, &present, prefix, e);
    FUZZ_CHECK(rc != 0 || !present || (json_is_array(v) && (!max_items || json_array_size(v) <= max_items)),
               "%s is not an array of at most %zu items", key, max_items);
    fuzz_json_outcome(rc, e);
    return rc == 0 && present ? v : NULL;
}

/* lga_json_floats_shape into a bounded buffer. */
static void fuzz_json_floats(const json_t *arr, size_t max_values, const char *field, lga_json_error *e)
{
    enum { CAP = 4096 };
    static float buf[CAP];
    size_t count = 0, shape[4] = {0, 0, 0, 0};
    int ndim = 0;
    if (max_values > CAP) max_values = CAP;
    int rc = lga_json_floats_shape(arr, buf, max_values, &count, shape, &ndim, field, e);
    if (rc == 0) {
        FUZZ_CHECK(count <= max_values, "%s: %zu values over the limit %zu", field, count, max_values);
        FUZZ_CHECK(ndim == -1 || (ndim >= 1 && ndim <= 4), "%s: ndim %d", field, ndim);
        if (ndim >= 1) {
            size_t p = 1;
            for (int i = 0; i < ndim; i++) p *= shape[i];
            FUZZ_CHECK(p == count, "%s: regular shape multiplies to %zu, count %zu", field, p, count);
        }
        for (size_t i = 0; i < count; i++) FUZZ_CHECK(isfinite(buf[i]), "%s: value %zu is not finite", field, i);
    }
    fuzz_json_outcome(rc, e);
}

/* POST /v1/models (api/h_models.c). */
static void fuzz_json_models(const json_t *body, lga_json_error *e)
{
    static const char *const model_keys[] = {"from",    "depth", "budget",   "classes", "init",
                                             "variant", "seed",  "finetune", NULL};
    static const char *const budget_keys[] = {"flops", "params", NULL};
    static const char *const finetune_keys[] = {"dataset",   "epochs", "steps", "lr",           "batch", "classes",
                                                "per_class", "seed",   "hflip", "eval_dataset", NULL};
    fuzz_json_outcome(lga_json_only_keys(body, model_keys, NULL, e), e);
    fuzz_json_string(body, "from", 64, NULL, e);
    fuzz_json_int(body, "depth", 1, LG_MAX_DEPTH, NULL, e);
    fuzz_json_int(body, "classes", 1, LG_MAX_CLASSES, NULL, e);
    fuzz_json_string(body, "init", 16, NULL, e);
    fuzz_json_string(body, "variant", 90, NULL, e);
    fuzz_json_int(body, "seed", 0, 0x7fffffff, NULL, e);
    json_t *budget = fuzz_json_object(body, "budget", NULL, e);
    if (budget) {
        fuzz_json_outcome(lga_json_only_keys(budget, budget_keys, "budget", e), e);
        fuzz_json_number(budget, "flops", 1, 1e18, "budget", e);
        fuzz_json_number(budget, "params", 1, 1e15, "budget", e);
    }
    json_t *ft = fuzz_json_object(body, "finetune", NULL, e);
    if (ft) {
        fuzz_json_outcome(lga_json_only_keys(ft, finetune_keys, "finetune", e), e);
        fuzz_json_string(ft, "dataset", 64, "finetune", e);
        fuzz_json_int(ft, "epochs", 1, 1000, "finetune", e);
        fuzz_json_int(ft, "steps", 1, 10000000, "finetune", e);
        fuzz_json_number(ft, "lr", 1e-8, 1, "finetune", e);
        fuzz_json_int(ft, "batch", 1, 1024, "finetune", e);
        fuzz_json_int(ft, "per_class", 0, 1000000, "finetune", e);
        fuzz_json_int(ft, "seed", 0, 0x7fffffff, "finetune", e);
        fuzz_json_bool(ft, "hflip", "finetune", e);
        fuzz_json_string(ft, "eval_dataset", 64, "finetune", e);
        json_t *cls = fuzz_json_array(ft, "classes", 1000, "finetune", e);
        size_t i;
        json_t *v;
        json_array_foreach(cls, i, v)(void) json_integer_value(v);
    }
    /* Unbounded forms of the getters (no limit on either side). */
    fuzz_json_int(body, "depth", LONG_MIN, LONG_MAX, NULL, e);
    fuzz_json_number(body, "seed", -HUGE_VAL, HUGE_VAL, NULL, e);
    fuzz_json_string(body, "from", 0, NULL, e);
    fuzz_json_array(body, "finetune", 0, NULL, e);
}

/* POST /v1/models/{id}/predict with a JSON body (api/h_predict.c), for a
 * model of 784 inputs. */
static void fuzz_json_predict(const json_t *body, lga_json_error *e)
{
    static const char *const keys[] = {"images", "top_k", "normalized", "logits", NULL};
    fuzz_json_outcome(lga_json_only_keys(body, keys, NULL, e), e);
    json_t *arr = fuzz_json_array(body, "images", 256, NULL, e);
    fuzz_json_int(body, "top_k", 1, 1000, NULL, e);
    fuzz_json_bool(body, "normalized", NULL, e);
    fuzz_json_bool(body, "logits", NULL, e);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char field[32];
        snprintf(field, sizeof field, "images[%zu]", i);
        fuzz_json_floats(json_array_get(arr, i), 784, field, e);
    }
}

/* POST /v2/models/{id}/infer (api/h_oip.c). */
static void fuzz_json_infer(const json_t *body, lga_json_error *e)
{
    static const char *const keys[] = {"id", "inputs", "outputs", "parameters", NULL};
    static const char *const input_keys[] = {"name", "shape", "datatype", "data", "parameters", NULL};
    fuzz_json_outcome(lga_json_only_keys(body, keys, NULL, e), e);
    json_t *inputs = fuzz_json_array(body, "inputs", 16, NULL, e);
    json_t *in = json_array_get(inputs, 0);
    fuzz_json_outcome(lga_json_only_keys(in, input_keys, "inputs[0]", e), e);
    fuzz_json_string(in, "datatype", 16, "inputs[0]", e);
    fuzz_json_array(in, "shape", 4, "inputs[0]", e);
    json_t *d = fuzz_json_array(in, "data", (size_t)1 << 26, "inputs[0]", e);
    if (d) fuzz_json_floats(d, 4096, "inputs[0].data", e);
}

/* The core's reader of model descriptions, and its round trip. */
static void fuzz_json_config(const uint8_t *data, size_t size)
{
    lg_config c, back;
    char err[512] = "", text[512];
    if (lg_config_from_json(&c, (const char *)data, size, err, sizeof err) != LG_OK) {
        FUZZ_CHECK(err[0] != '\0', "lg_config_from_json failed without a message");
        return;
    }
    FUZZ_CHECK(lg_config_validate(&c, err, sizeof err) == LG_OK, "a parsed config does not validate: %s", err);
    (void)lg_config_flops(&c);
    (void)lg_config_params(&c);
    int n = lg_config_to_json(&c, text, sizeof text);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof text, "lg_config_to_json needs %d bytes", n);
    FUZZ_CHECK(lg_config_from_json(&back, text, (size_t)n, err, sizeof err) == LG_OK, "%s does not parse back: %s",
               text, err);
    FUZZ_CHECK(memcmp(&c, &back, sizeof c) == 0, "%s parses back to a different config", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lga_json_error e = {"", ""};
    json_t *body = lga_json_parse_object(data, size, &e);
    if (!body) {
        fuzz_json_outcome(-1, &e);
    } else {
        fuzz_json_models(body, &e);
        fuzz_json_predict(body, &e);
        fuzz_json_infer(body, &e);
        json_decref(body);
    }
    fuzz_json_config(data, size);
    return 0;
}
