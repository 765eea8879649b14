/* h_genes.c - learngenes and Learngene Pools: upload (content-addressed,
 * deduplicated), list, describe, download the stored file, delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

static int is_pool(const lgs_gene_row *g) { return !strcmp(g->kind, "pool"); }

static enum MHD_Result upload(lga_req *r, int want_pool)
{
    if (r->body_len == 0)
        return lga_reply_error(r, 400, "bad_request", "body", "the body must be a %s safetensors file",
                               want_pool ? "Learngene Pool" : "learngene");
    const char *name = lga_query(r, "name");
    if (name && strlen(name) > 120) return lga_reply_error(r, 400, "bad_request", "name", "name is over 120 bytes");
    char err[512] = "";
    lg_st *st = NULL;
    if (lg_st_parse(&st, r->body, r->body_len, 0, err, sizeof err) != LG_OK)
        return lga_reply_error(r, 400, "bad_request", "body", "not a safetensors file: %s", err);
    int pool = lg_st_meta(st, "genepool") != NULL;
    lg_st_free(st);
    if (pool != want_pool)
        return lga_reply_error(r, 400, "bad_request", "body", "this is a %s: upload it to %s",
                               pool ? "Learngene Pool" : "learngene", pool ? "/v1/pools" : "/v1/learngenes");
    lgs_gene_row g;
    lgs_status s = lgs_gene_put(r->srv->store, r->body, r->body_len, name, &g, err, sizeof err);
    if (s == LGS_ERR_INVALID) return lga_reply_error(r, 400, "bad_request", "body", "%s", err);
    if (s != LGS_OK && s != LGS_ERR_EXISTS) return lga_reply_store_error(r, s, "learngene", err);
    lga_log(r->srv, 2, "event=%s id=%s kind=%s bytes=%zu", s == LGS_OK ? "stored" : "dedup", g.id, g.kind, r->body_len);
    json_t *o = lga_gene_json(r->srv->store, &g);
    lgs_gene_row_free(&g);
    return lga_reply_json(r, s == LGS_OK ? 201 : 200, o);
}

enum MHD_Result lga_h_gene_upload(lga_req *r) { return upload(r, 0); }
enum MHD_Result lga_h_pool_upload(lga_req *r) { return upload(r, 1); }

static enum MHD_Result list(lga_req *r, int pools)
{
    lgs_gene_row *rows = NULL;
    int n = 0;
    lgs_status s = lgs_gene_list(r->srv->store, pools ? "pool" : "!pool", &rows, &n);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "learngene", NULL);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, lga_gene_json(r->srv->store, &rows[i]));
        lgs_gene_row_free(&rows[i]);
    }
    free(rows);
    return lga_reply_json(r, 200, json_pack("{s:o}", pools ? "pools" : "learngenes", arr));
}

enum MHD_Result lga_h_gene_list(lga_req *r) { return list(r, 0); }
enum MHD_Result lga_h_pool_list(lga_req *r) { return list(r, 1); }

/* Looks the {id} up; replies 404 itself when it is not of the wanted kind
 * (want: 0 learngene, 1 pool, -1 either). */
static int find(lga_req *r, int want, lgs_gene_row *g, enum MHD_Result *replied)
{
    lgs_status s = lga_resolve_gene(r->srv, r->id, g);
    if (s == LGS_OK && want >= 0 && is_pool(g) != want) {
        lgs_gene_row_free(g);
        s = LGS_ERR_NOTFOUND;
    }
    if (s != LGS_OK) {
        *replied = lga_reply_store_error(r, s, want == 1 ? "pool" : "learngene",
                                         s == LGS_ERR_INVALID ? "the id prefix matches several" : NULL);
        return -1;
    }
    return 0;
}

static enum MHD_Result describe(lga_req *r, int pool)
{
    lgs_gene_row g;
    enum MHD_Result ret;
    if (find(r, pool, &g, &ret) != 0) return ret;
    json_t *o = lga_gene_json(r->srv->store, &g);
    lgs_gene_row_free(&g);
    return lga_reply_json(r, 200, o);
}

enum MHD_Result lga_h_gene_get(lga_req *r) { return describe(r, 0); }
enum MHD_Result lga_h_pool_get(lga_req *r) { return describe(r, 1); }

typedef struct {
    lgs_store *store;
    char id[65];
} gene_file;

static int read_gene(void *ctx, int64_t offset, void *buf, int n)
{
    gene_file *f = ctx;
    return lgs_gene_read(f->store, f->id, offset, buf, n) == LGS_OK ? 0 : -1;
}

enum MHD_Result lga_h_gene_weights(lga_req *r)
{
    lgs_gene_row g;
    enum MHD_Result ret;
    if (find(r, !strncmp(r->url, "/v1/pools", 9), &g, &ret) != 0) return ret;
    gene_file *f = calloc(1, sizeof *f);
    if (!f) {
        lgs_gene_row_free(&g);
        return lga_reply_error(r, 500, "internal", NULL, "out of memory");
    }
    f->store = r->srv->store;
    snprintf(f->id, sizeof f->id, "%s", g.id);
    char filename[96];
    snprintf(filename, sizeof filename, "%.12s.%s.safetensors", g.id, g.kind);
    int64_t size = g.size;
    char sha[65];
    snprintf(sha, sizeof sha, "%s", g.id); /* content-addressed: the id is the sha256 */
    lgs_gene_row_free(&g);
    return lga_send_bytes(r, NULL, size, read_gene, f, free, sha, filename);
}

enum MHD_Result lga_h_gene_delete(lga_req *r)
{
    lgs_gene_row g;
    enum MHD_Result ret;
    if (find(r, !strncmp(r->url, "/v1/pools", 9), &g, &ret) != 0) return ret;
    char err[512] = "";
    lgs_status s = lgs_gene_delete(r->srv->store, g.id, err, sizeof err);
    if (s == LGS_OK) lga_log(r->srv, 2, "event=deleted id=%s kind=%s", g.id, g.kind);
    lgs_gene_row_free(&g);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "learngene", err);
    return lga_reply(r, 204, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}
