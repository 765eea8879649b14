/* h_datasets.c - IDX dataset uploads (image file then label file, each gz
 * or raw, in one body split by X-Images-Length), list and describe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

enum MHD_Result lga_h_dataset_upload(lga_req *r)
{
    const char *hl = lga_header(r, "X-Images-Length");
    if (!hl)
        return lga_reply_error(r, 400, "bad_request", "X-Images-Length",
                               "send the image IDX then the label IDX in one body, with X-Images-Length giving the "
                               "bytes of the first");
    char *end;
    errno = 0;
    unsigned long long n = strtoull(hl, &end, 10);
    if (errno || *end || hl[0] == '-' || n == 0 || n >= r->body_len)
        return lga_reply_error(r, 400, "bad_request", "X-Images-Length",
                               "X-Images-Length must be a byte count between 1 and the body size minus 1, not '%s'",
                               hl);
    const char *name = lga_query(r, "name");
    if (name && strlen(name) > 120) return lga_reply_error(r, 400, "bad_request", "name", "name is over 120 bytes");
    char err[512] = "";
    lgs_dataset_row d;
    lgs_status s = lgs_dataset_put(r->srv->store, r->body, (size_t)n, r->body + n, r->body_len - (size_t)n,
                                   name ? name : "dataset", &d, err, sizeof err);
    if (s == LGS_ERR_INVALID) return lga_reply_error(r, 400, "bad_request", "body", "%s", err);
    if (s != LGS_OK && s != LGS_ERR_EXISTS) return lga_reply_store_error(r, s, "dataset", err);
    lga_log(r->srv, 2, "event=dataset_%s id=%s n=%d", s == LGS_OK ? "stored" : "dedup", d.id, d.n);
    return lga_reply_json(r, s == LGS_OK ? 201 : 200, lga_dataset_json(&d));
}

enum MHD_Result lga_h_dataset_list(lga_req *r)
{
    lgs_dataset_row *rows = NULL;
    int n = 0;
    lgs_status s = lgs_dataset_list(r->srv->store, &rows, &n);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "dataset", NULL);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(arr, lga_dataset_json(&rows[i]));
    free(rows);
    return lga_reply_json(r, 200, json_pack("{s:o}", "datasets", arr));
}

enum MHD_Result lga_h_dataset_get(lga_req *r)
{
    lgs_dataset_row d;
    lgs_status s = lga_resolve_dataset(r->srv, r->id, &d);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "dataset", NULL);
    return lga_reply_json(r, 200, lga_dataset_json(&d));
}
