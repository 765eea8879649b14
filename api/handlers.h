/* handlers.h - every route handler (the route table in routes.c names
 * them); one file per resource: h_service.c, h_genes.c, h_models.c,
 * h_weights.c, h_predict.c, h_datasets.c, h_jobs.c, h_oip.c. */
#ifndef LG_API_HANDLERS_H
#define LG_API_HANDLERS_H

#include "internal.h"

enum MHD_Result lga_h_status_page(lga_req *r);
enum MHD_Result lga_h_status_css(lga_req *r);
enum MHD_Result lga_h_status_js(lga_req *r);
enum MHD_Result lga_h_healthz(lga_req *r);
enum MHD_Result lga_h_readyz(lga_req *r);
enum MHD_Result lga_h_metrics(lga_req *r);
enum MHD_Result lga_h_version(lga_req *r);

enum MHD_Result lga_h_gene_upload(lga_req *r);
enum MHD_Result lga_h_pool_upload(lga_req *r);
enum MHD_Result lga_h_gene_list(lga_req *r);
enum MHD_Result lga_h_pool_list(lga_req *r);
enum MHD_Result lga_h_gene_get(lga_req *r);
enum MHD_Result lga_h_pool_get(lga_req *r);
enum MHD_Result lga_h_gene_weights(lga_req *r);
enum MHD_Result lga_h_gene_delete(lga_req *r);

enum MHD_Result lga_h_model_create(lga_req *r);
enum MHD_Result lga_h_model_list(lga_req *r);
enum MHD_Result lga_h_model_get(lga_req *r);
enum MHD_Result lga_h_model_delete(lga_req *r);
enum MHD_Result lga_h_model_weights(lga_req *r);
enum MHD_Result lga_h_model_onnx(lga_req *r);
enum MHD_Result lga_h_predict(lga_req *r);

enum MHD_Result lga_h_dataset_upload(lga_req *r);
enum MHD_Result lga_h_dataset_list(lga_req *r);
enum MHD_Result lga_h_dataset_get(lga_req *r);

enum MHD_Result lga_h_job_list(lga_req *r);
enum MHD_Result lga_h_job_get(lga_req *r);
enum MHD_Result lga_h_job_events(lga_req *r);
enum MHD_Result lga_h_job_cancel(lga_req *r);

enum MHD_Result lga_h_oip_server(lga_req *r);
enum MHD_Result lga_h_oip_model(lga_req *r);
enum MHD_Result lga_h_oip_model_ready(lga_req *r);
enum MHD_Result lga_h_oip_infer(lga_req *r);
enum MHD_Result lga_h_oip_index(lga_req *r);

/* Shared by h_predict.c and h_oip.c: logits (B, K) of B images (B, C, H, W)
 * (normalized) through the model of row, on the worker pool. Replies with
 * an error itself and returns -1 when it cannot (*replied set). */
int lga_predict_run(lga_req *r, const lgs_model_row *row, const float *images, int B, float **logits, int *K,
                    enum MHD_Result *replied);

/* Shared by h_genes.c and h_weights.c: streams `size` bytes - a range of
 * them when the request asks - with ETag, X-Content-SHA256 and
 * Accept-Ranges, reading through read(ctx, offset, buf, n) or straight
 * from memory when data is not NULL. */
typedef int (*lga_reader_fn)(void *ctx, int64_t offset, void *buf, int n);
enum MHD_Result lga_send_bytes(lga_req *r, const uint8_t *data, int64_t size, lga_reader_fn read, void *ctx,
                               void (*ctx_free)(void *ctx), const char *sha256, const char *filename);

#endif
