/* h_weights.c - downloads: a model's weights as safetensors in f32, f16,
 * bf16 or int8 (per-channel scales, learngene.h LG_I8), and the shared
 * streaming answer (Content-Length, ETag, X-Content-SHA256, Range →
 * 206/416, If-None-Match → 304) that learngene and pool downloads use too.
 * Bytes come from memory (a cached model) or in chunks straight out of
 * SQLite (stored files), never a whole copy.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "range.h"

typedef struct {
    lga_server *srv;
    int64_t first; /* offset of the response's first byte in the file */
    lga_reader_fn read;
    void *ctx;
    void (*ctx_free)(void *ctx);
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    int n = max > (1 << 20) ? 1 << 20 : (int)max;
    if (s->read(s->ctx, s->first + (int64_t)pos, buf, n) != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    lga_metrics_bytes(s->srv->metrics, (uint64_t)n);
    return n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    if (s->ctx_free) s->ctx_free(s->ctx);
    free(s);
}

/* Memory-backed release (the cache entry behind the bytes). */
typedef struct {
    void (*ctx_free)(void *ctx);
    void *ctx;
    lga_server *srv;
    size_t len;
} mem_release;

static void mem_free(void *cls)
{
    mem_release *m = cls;
    lga_metrics_bytes(m->srv->metrics, m->len);
    if (m->ctx_free) m->ctx_free(m->ctx);
    free(m);
}

enum MHD_Result lga_send_bytes(lga_req *r, const uint8_t *data, int64_t size, lga_reader_fn read, void *ctx,
                               void (*ctx_free)(void *ctx), const char *sha256, const char *filename)
{
    char etag[80], crange[96], disp[160];
    snprintf(etag, sizeof etag, "\"%s\"", sha256);
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", filename);
    int64_t first = 0, last = size - 1;
    unsigned status = 200;
    const char *inm = lga_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    struct MHD_Response *resp = NULL;
    if (inm && lga_etag_match(inm, etag)) {
        if (ctx_free) ctx_free(ctx);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        return lga_reply(r, 304, resp);
    }
    /* If-Range with another ETag: the file changed, so the whole of it */
    const char *if_range = lga_header(r, MHD_HTTP_HEADER_IF_RANGE);
    const char *range = if_range && !lga_etag_match(if_range, etag) ? NULL : lga_header(r, MHD_HTTP_HEADER_RANGE);
    lga_range_result rr = lga_range_parse(range, size, &first, &last);
    if (rr == LGA_RANGE_UNSATISFIABLE) {
        if (ctx_free) ctx_free(ctx);
        lga_range_content_range(crange, sizeof crange, -1, -1, size);
        json_t *body = lga_json_error_body("range_not_satisfiable", "the range starts past the end", "Range");
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        resp = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
        if (resp) {
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
            MHD_add_response_header(resp, "Content-Type", "application/json");
        }
        return lga_reply(r, 416, resp);
    }
    if (rr == LGA_RANGE_OK) {
        status = 206;
        lga_range_content_range(crange, sizeof crange, first, last, size);
    } else {
        first = 0, last = size - 1;
    }
    uint64_t len = (uint64_t)(last - first + 1);
    if (size == 0) len = 0;
    if (data) {
        mem_release *m = calloc(1, sizeof *m);
        if (!m) {
            if (ctx_free) ctx_free(ctx);
            return lga_reply_error(r, 500, "internal", NULL, "out of memory");
        }
        *m = (mem_release){ctx_free, ctx, r->srv, (size_t)len};
        resp = MHD_create_response_from_buffer_with_free_callback_cls((size_t)len, (void *)(uintptr_t)(data + first),
                                                                      mem_free, m);
        if (!resp) mem_free(m);
    } else {
        stream *s = calloc(1, sizeof *s);
        if (!s) {
            if (ctx_free) ctx_free(ctx);
            return lga_reply_error(r, 500, "internal", NULL, "out of memory");
        }
        *s = (stream){r->srv, first, read, ctx, ctx_free};
        resp = MHD_create_response_from_callback(len, 256 * 1024, stream_read, s, stream_free);
        if (!resp) stream_free(s);
    }
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        MHD_add_response_header(resp, "X-Content-SHA256", sha256);
        MHD_add_response_header(resp, "Content-Disposition", disp);
        if (status == 206) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
    }
    return lga_reply(r, status, resp);
}

/* ------------------------------------------------------- model weights */

typedef struct {
    lgs_store *store;
    char id[65];
} stored_file;

static int read_stored_model(void *ctx, int64_t offset, void *buf, int n)
{
    stored_file *f = ctx;
    return lgs_model_read(f->store, f->id, offset, buf, n) == LGS_OK ? 0 : -1;
}

typedef struct {
    lga_cache *cache;
    lga_model_entry *e;
} entry_ref;

static void release_entry(void *ctx)
{
    entry_ref *ref = ctx;
    lga_cache_release(ref->cache, ref->e);
    free(ref);
}

enum MHD_Result lga_h_model_weights(lga_req *r)
{
    const char *dt = lga_query(r, "dtype");
    lg_dtype dtype = LG_F32;
    if (dt && strcmp(dt, "f32") && strcmp(dt, "F32")) {
        if (!strcmp(dt, "f16") || !strcmp(dt, "F16"))
            dtype = LG_F16;
        else if (!strcmp(dt, "bf16") || !strcmp(dt, "BF16"))
            dtype = LG_BF16;
        else if (!strcmp(dt, "int8") || !strcmp(dt, "i8") || !strcmp(dt, "I8"))
            dtype = LG_I8;
        else
            return lga_reply_error(r, 400, "bad_request", "dtype", "dtype must be f32, f16, bf16 or int8, not '%s'",
                                   dt);
    }
    lgs_model_row row;
    lgs_status s = lga_resolve_model(r->srv, r->id, &row);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "model", NULL);
    char filename[96];
    snprintf(filename, sizeof filename, "%.12s.%s.safetensors", row.id, lg_dtype_name(dtype));
    enum MHD_Result ret;
    if (row.has_weights && dtype == LG_F32) {
        stored_file *f = calloc(1, sizeof *f);
        if (!f) {
            lgs_model_row_free(&row);
            return lga_reply_error(r, 500, "internal", NULL, "out of memory");
        }
        f->store = r->srv->store;
        snprintf(f->id, sizeof f->id, "%s", row.id);
        ret = lga_send_bytes(r, NULL, row.size, read_stored_model, f, free, row.sha256, filename);
        lgs_model_row_free(&row);
        return ret;
    }
    char err[512] = "";
    int busy = 0;
    lga_model_entry *e = NULL;
    s = lga_cache_get(r->srv, &row, &e, &busy, err, sizeof err);
    lgs_model_row_free(&row);
    if (busy) return lga_reply_busy(r);
    if (s != LGS_OK) return lga_reply_error(r, 500, "internal", NULL, "cannot grow the model: %s", err);
    const uint8_t *bytes;
    size_t len;
    const char *sha;
    s = lga_entry_file(r->srv->cache, e, dtype, &bytes, &len, &sha, err, sizeof err);
    if (s != LGS_OK) {
        lga_cache_release(r->srv->cache, e);
        return lga_reply_error(r, 500, "internal", NULL, "cannot serialize the model: %s", err);
    }
    entry_ref *ref = malloc(sizeof *ref);
    if (!ref) {
        lga_cache_release(r->srv->cache, e);
        return lga_reply_error(r, 500, "internal", NULL, "out of memory");
    }
    *ref = (entry_ref){r->srv->cache, e};
    return lga_send_bytes(r, bytes, (int64_t)len, NULL, ref, release_entry, sha, filename);
}
