/* cmd_predict.c - learngene predict: classifies image files (images.c) with
 * a model on the daemon, in batches of up to 64, and prints the top
 * classes of each as a table or JSON. Calls remote.h and jansson only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

enum { P_TOPK = R_OWN, P_LOGITS };

/* Sends images [first, first+n) of the flat list (all of one kind) and
 * appends one prediction per image to preds. */
static int predict_batch(remote *r, const char *model, const image_file *files, const size_t *file_of,
                         const size_t *index_of, size_t first, size_t n, size_t one, long top_k, int logits,
                         json_t *preds)
{
    int f32 = files[file_of[first]].f32, rc;
    size_t per = one * (f32 ? 4 : 1);
    unsigned char *body = malloc(n * per);
    char path[256];
    json_t *ans = NULL;
    long status;
    if (!body) {
        fprintf(stderr, "%s: out of memory\n", r->who);
        return CLI_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(body + i * per, files[file_of[first + i]].data + index_of[first + i] * per, per);
    snprintf(path, sizeof path, "/v1/models/%.64s/predict?top_k=%ld%s", model, top_k, logits ? "&logits=1" : "");
    rc = remote_call_raw(r, path, f32 ? "application/octet-stream" : "application/x-u8", body, n * per, &ans, &status);
    free(body);
    const json_t *got = json_object_get(ans, "predictions"), *lg = json_object_get(ans, "logits");
    if (rc == CLI_OK && json_array_size(got) != n) {
        fprintf(stderr, "%s: the daemon answered %zu predictions for %zu images\n", r->who, json_array_size(got), n);
        rc = CLI_FAIL;
    }
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        const image_file *f = &files[file_of[first + i]];
        json_t *top = json_object_get(json_array_get(got, i), "top"), *p;
        if (!json_is_array(top)) {
            fprintf(stderr, "%s: prediction %zu of the daemon's answer has no \"top\" list\n", r->who, i);
            rc = CLI_FAIL;
            break;
        }
        p = json_pack("{s:s,s:I,s:O}", "image", f->name, "index", (json_int_t)index_of[first + i], "top", top);
        if (lg) json_object_set(p, "logits", json_array_get(lg, i));
        json_array_append_new(preds, p);
    }
    json_decref(ans);
    return rc;
}

static void print_predictions(const json_t *preds, const image_file *files, const size_t *file_of)
{
    table t = {.ncol = 4};
    table_row(&t, "IMAGE", "CLASS", "PROB", "NEXT");
    size_t i, k;
    json_t *p, *e;
    json_array_foreach(preds, i, p)
    {
        char name[1100], cls[16] = "-", prob[16] = "-", next[512] = "";
        const json_t *top = json_object_get(p, "top");
        snprintf(name, sizeof name, files[file_of[i]].count > 1 ? "%s#%.0f" : "%s", jstr(p, "image"), jnum(p, "index"));
        json_array_foreach(top, k, e)
        {
            if (!k) {
                snprintf(cls, sizeof cls, "%.0f", jnum(e, "class"));
                snprintf(prob, sizeof prob, "%.4f", jnum(e, "prob"));
            } else {
                size_t len = strlen(next);
                snprintf(next + len, sizeof next - len, "%s%.0f %.4f", k > 1 ? ", " : "", jnum(e, "class"),
                         jnum(e, "prob"));
            }
        }
        table_row(&t, name, cls, prob, next);
    }
    table_print(&t);
    table_free(&t);
}

static const char predict_help[] = "usage: learngene predict MODEL IMAGE... [--top-k N] [--logits] [--json]\n"
                                   "Classifies images with model MODEL on the daemon. IMAGE: a binary PGM (P5, for\n"
                                   "1-channel models) or PPM (P6, 3 channels) of the model's size, or raw files named\n"
                                   ".u8 (C·H·W bytes 0-255 per image) or .f32 (C·H·W normalized little-endian float32\n"
                                   "per image); a raw file may hold several images. Prints the top classes of each.\n"
                                   "  --top-k N          classes shown per image (default 3)\n"
                                   "  --logits           add the raw logits to the JSON output\n" REMOTE_HELP;

/* Loads every IMAGE and flattens them into (file, index) pairs. */
static int predict_load(remote *r, image_file *files, int nfiles, char **names, const lg_config *cfg, size_t **file_of,
                        size_t **index_of, size_t *total)
{
    *total = 0;
    for (int f = 0; f < nfiles; f++) {
        if (image_load(&files[f], names[f], cfg->in_chans, cfg->img, r->err, sizeof r->err)) {
            fprintf(stderr, "%s: %s\n", r->who, r->err);
            return CLI_FAIL;
        }
        *total += files[f].count;
    }
    *file_of = malloc(*total * sizeof **file_of);
    *index_of = malloc(*total * sizeof **index_of);
    if (!*file_of || !*index_of) {
        fprintf(stderr, "%s: out of memory\n", r->who);
        return CLI_FAIL;
    }
    size_t k = 0;
    for (int f = 0; f < nfiles; f++)
        for (size_t i = 0; i < files[f].count; i++) (*file_of)[k] = (size_t)f, (*index_of)[k++] = i;
    return CLI_OK;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"top-k", required_argument, 0, P_TOPK}, {"logits", no_argument, 0, P_LOGITS}, REMOTE_OPTIONS, {0, 0, 0, 0}};
    remote r = {.who = "learngene predict"};
    long top_k = 3;
    int c, logits = 0, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (remote_option(&r, c, optarg)) continue;
        if (c == P_LOGITS)
            logits = 1;
        else if (c == P_TOPK) {
            if (cli_long("--top-k", optarg, 1, LG_MAX_CLASSES, &top_k)) return CLI_USAGE;
        } else
            return remote_help_or_usage(c, predict_help);
    }
    if (argc - optind < 2) return remote_usage_error(r.who, "give a MODEL and at least one IMAGE");
    if (!remote_is_hex(argv[optind], 1))
        return remote_usage_error(r.who, "MODEL must be a model id (hex), got '%s'", argv[optind]);
    if ((rc = remote_connect(&r))) return rc;
    int nfiles = argc - optind - 1;
    image_file *files = calloc((size_t)nfiles, sizeof *files);
    size_t *file_of = NULL, *index_of = NULL, total = 0;
    json_t *model = NULL, *preds = json_array();
    lg_config cfg = {0};
    if (!files) rc = CLI_FAIL;
    if (!rc) rc = remote_call_json(&r, "GET", NULL, &model, NULL, "/v1/models/%s", argv[optind]);
    if (!rc && remote_json_config(&cfg, model, 0)) {
        fprintf(stderr, "%s: model %s has no usable config\n", r.who, argv[optind]);
        rc = CLI_FAIL;
    }
    if (!rc) rc = predict_load(&r, files, nfiles, argv + optind + 1, &cfg, &file_of, &index_of, &total);
    size_t one = (size_t)cfg.in_chans * (size_t)cfg.img * (size_t)cfg.img;
    for (size_t i = 0, n; !rc && i < total; i += n) {
        /* batches of up to 64 consecutive images of one kind (bytes or floats) */
        for (n = 1; i + n < total && n < 64 && files[file_of[i + n]].f32 == files[file_of[i]].f32;) n++;
        rc = predict_batch(&r, jstr(model, "id"), files, file_of, index_of, i, n, one, top_k, logits, preds);
    }
    if (!rc && r.json) {
        json_t *j = json_pack("{s:s,s:O}", "model", jstr(model, "id"), "predictions", preds);
        remote_print_json(j, 0);
        json_decref(j);
    } else if (!rc)
        print_predictions(preds, files, file_of);
    for (int f = 0; files && f < nfiles; f++) free(files[f].data);
    free(files);
    free(file_of);
    free(index_of);
    json_decref(model);
    json_decref(preds);
    lgc_conn_free(&r.conn);
    return rc;
}
