/* h_onnx.c - GET /v1/models/{id}/onnx: the model as ONNX (opset 17,
 * lg_model_to_onnx), grown or loaded through the model cache like a
 * weights download, with the model id, source and method (and a fine-tuned
 * model's parent and dataset) as ONNX metadata_props next to "config".
 * The bytes are made per request (a model's ONNX file is its weights plus
 * a few kilobytes of graph) and go out through lga_send_bytes:
 * Content-Length, ETag / X-Content-SHA256 of these bytes, Range,
 * If-None-Match.
 */
#include <stdio.h>
#include <stdlib.h>

#include "handlers.h"

enum MHD_Result lga_h_model_onnx(lga_req *r)
{
    lgs_model_row row;
    lgs_status s = lga_resolve_model(r->srv, r->id, &row);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", NULL);
    char err[512] = "", filename[96];
    snprintf(filename, sizeof filename, "%.12s.onnx", row.id);
    /* lineage: what the model is and where it comes from (a fine-tuned
     * model also names its parent and dataset) */
    lg_st_kv meta[5] = {{"model", row.id}, {"source", row.source}, {"method", row.method}};
    int nmeta = 3;
    if (row.parent[0]) meta[nmeta++] = (lg_st_kv){"parent", row.parent};
    if (row.dataset[0]) meta[nmeta++] = (lg_st_kv){"dataset", row.dataset};
    int busy = 0;
    lga_model_entry *e = NULL;
    s = lga_cache_get(r->srv, &row, &e, &busy, err, sizeof err);
    if (busy) {
        lgs_model_row_free(&row);
        return lga_reply_busy(r);
    }
    if (s != LGS_OK) {
        lgs_model_row_free(&row);
        return lga_reply_error(r, 500, "internal", NULL, "cannot grow the model: %s", err);
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    lg_status st = lg_model_to_onnx(e->model, meta, nmeta, &bytes, &len, err, sizeof err);
    lga_cache_release(r->srv->cache, e);
    lgs_model_row_free(&row);
    if (st == LG_ERR_RANGE) return lga_reply_error(r, 422, "unprocessable", NULL, "%s", err);
    if (st != LG_OK) return lga_reply_error(r, 500, "internal", NULL, "cannot export the model: %s", err);
    char sha[65];
    lgs_sha256_hex(sha, bytes, len);
    return lga_send_bytes(r, bytes, (int64_t)len, NULL, bytes, free, sha, filename);
}
