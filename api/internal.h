/* internal.h - what the API's files share: the server, a request, the route
 * table's shape, reply helpers, the model cache and model growing.
 * Only the api files include it.
 */
#ifndef LG_API_INTERNAL_H
#define LG_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "api.h"
#include "auth.h"
#include "jsonbody.h"
#include "metrics.h"

typedef struct lga_cache lga_cache;

struct lga_server {
    lga_options opt; /* live-changeable members are read under cfg_lock */
    pthread_mutex_t cfg_lock;
    struct MHD_Daemon *mhd;
    lgs_store *store;
    lga_cache *cache;
    lga_metrics *metrics;
    pthread_rwlock_t tokens_lock;
    lga_tokens *tokens; /* NULL or empty: no authentication */
    atomic_int draining;
    atomic_int inflight;
    int port;
};

/* One request, from its first byte to its answer. */
typedef struct lga_req {
    lga_server *srv;
    struct MHD_Connection *conn;
    const struct lga_route *route;
    const char *method, *url;
    char id[80];   /* the {id} path segment */
    uint8_t *body; /* the whole request body (capped) */
    size_t body_len, body_cap, body_max;
    int too_large;  /* the body went over body_max: answer 413 */
    int status;     /* status of the queued response (metrics, log) */
    double started; /* monotonic seconds */
} lga_req;

typedef enum MHD_Result (*lga_handler)(lga_req *r);

/* One route: method, path pattern ("/v1/models/{id}/weights": {id} matches
 * one segment), handler, body cap kind, and the token scope it needs. */
typedef enum { LGA_BODY_NONE = 0, LGA_BODY_JSON = 1, LGA_BODY_UPLOAD = 2 } lga_body_kind;

typedef struct lga_route {
    const char *method;
    const char *pattern;
    lga_handler handler;
    lga_body_kind body;
    lga_scope scope;  /* NONE: open; READ / WRITE: the token scope needed */
    const char *name; /* "GET /v1/models/{id}": the metrics label */
} lga_route;

/* routes.c: the table and matching. Returns the route for method + path;
 * NULL with *path_known = 1 when only the method is wrong (405; allow gets
 * the methods that would match). */
const lga_route *lga_route_match(const char *method, const char *path, char *id, size_t idlen, int *path_known,
                                 char *allow, size_t allowlen);
const lga_route *lga_routes(int *n);

/* server.c: replies. Each queues the response and records the status. */
enum MHD_Result lga_reply(lga_req *r, unsigned status, struct MHD_Response *resp);
enum MHD_Result lga_reply_json(lga_req *r, unsigned status, json_t *body); /* steals body */
enum MHD_Result lga_reply_error(lga_req *r, unsigned status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum MHD_Result lga_reply_json_error(lga_req *r, const lga_json_error *e); /* 400 from a parse error */
/* The store's status as an HTTP error (404 not found, 409 conflict, …). */
enum MHD_Result lga_reply_store_error(lga_req *r, lgs_status s, const char *what, const char *detail);
enum MHD_Result lga_reply_busy(lga_req *r); /* 503 + Retry-After: the worker queue is full */
const char *lga_query(lga_req *r, const char *key);
const char *lga_header(lga_req *r, const char *key);
/* Runs work on the worker pool and waits; -1 when the queue is full. */
int lga_run_cpu(lga_server *s, void (*work)(void *arg, int worker), void *arg);
void lga_log(lga_server *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parses the body as a strict JSON object; on failure replies 400 / 413 and
 * returns NULL with *replied set to the MHD result. */
json_t *lga_body_json(lga_req *r, enum MHD_Result *replied);
/* Options that can change live, read consistently. */
void lga_limits(lga_server *s, size_t *max_json, size_t *max_upload, int *max_batch);
void lga_model_limits(lga_server *s, int *max_depth, size_t *max_model_bytes, int *jobs_queue_max);

/* render.c: rows as JSON objects. */
json_t *lga_gene_json(lgs_store *st, const lgs_gene_row *g);
json_t *lga_model_json(const lgs_model_row *m);
json_t *lga_dataset_json(const lgs_dataset_row *d);
json_t *lga_job_json(const lgs_job_row *j);
/* A JSON text column (config, meta, spec) as a json_t (null when empty). */
json_t *lga_json_column(const char *text);

/* An id from the path: the full 64 hex digits, or a unique prefix of at
 * least 8 resolved by the store lookups (lga_resolve_*). */
int lga_id_valid(const char *id);
lgs_status lga_resolve_gene(lga_server *s, const char *id, lgs_gene_row *out);
lgs_status lga_resolve_model(lga_server *s, const char *id, lgs_model_row *out);
lgs_status lga_resolve_dataset(lga_server *s, const char *id, lgs_dataset_row *out);
lgs_status lga_resolve_job(lga_server *s, const char *id, lgs_job_row *out);

/* cache.c: grown models by id, LRU-bounded by bytes. An entry holds the
 * model, one forward context per worker (made on first use) and the
 * serialized safetensors per dtype (made on first download). */
typedef struct lga_model_entry {
    char id[65];
    lg_model *model;
    size_t bytes; /* model + contexts + serialized files */
    pthread_mutex_t lock;
    lg_ctx **ctx;     /* [workers] */
    int *ctx_batch;   /* [workers]: the batch each context holds */
    uint8_t *file[4]; /* safetensors per lg_dtype */
    size_t file_len[4];
    char sha256[4][65];
    int refs; /* guarded by the cache lock */
    struct lga_model_entry *prev, *next;
} lga_model_entry;

lga_cache *lga_cache_new(size_t max_bytes, int workers);
void lga_cache_free(lga_cache *c);
void lga_cache_set_max(lga_cache *c, size_t max_bytes);
/* The entry for the model row (grown on a miss, on the calling thread);
 * release it when done. *busy is set when the worker queue was full. */
lgs_status lga_cache_get(lga_server *s, const lgs_model_row *row, lga_model_entry **out, int *busy, char *err,
                         size_t errlen);
void lga_cache_release(lga_cache *c, lga_model_entry *e);
/* The serialized safetensors of the entry in dtype (made once, on first
 * use; the entry's bytes grow). */
lgs_status lga_entry_file(lga_cache *c, lga_model_entry *e, lg_dtype dtype, const uint8_t **bytes, size_t *len,
                          const char **sha256, char *err, size_t errlen);
/* The forward context of `worker` for batches up to max_batch. */
lg_ctx *lga_entry_ctx(lga_cache *c, lga_model_entry *e, int worker, int max_batch, int threads, char *err,
                      size_t errlen);
void lga_cache_stats_get(lga_cache *c, int *models, size_t *bytes);

/* grow.c: turning a POST /v1/models request into a model row. */
typedef struct {
    const char *from; /* NULL: every source (budget only) */
    int depth;        /* 0 with a budget */
    lg_budget budget;
    int has_budget;
    int classes;         /* 0: the source's */
    const char *init;    /* NULL: the source's method */
    const char *variant; /* pool configuration */
    uint64_t seed;
} lga_grow_request;

typedef struct {
    int considered;
    char reason[256];
    double expected_accuracy; /* NaN when not measured */
} lga_grow_info;

/* A pool's configurations from its instances' configs (the "config"
 * column: {"d48":{…},"d96":{…}} in width order): every instance alone and
 * every narrow→wide stitch at 1 … depth-1, named "d48" / "d48.3.d96". */
typedef struct {
    char name[96];
    lg_config cfg;
} lga_variant;
int lga_pool_variants(const char *config_json, lga_variant *out, int max);
/* The same as JSON with flops, params and the stored accuracies. */
json_t *lga_pool_variants_json(lgs_store *st, const lgs_gene_row *g);

/* A learngene's descendant widths (base) and the depths it grows
 * (lg_gene_depths, from its kind and aux_depth metadata); -1 if unreadable. */
int lga_gene_depths(const lgs_gene_row *g, lg_config *base, int *lo, int *hi);

/* Resolves the request to a model row (not stored). 400-class problems
 * are LGS_ERR_INVALID with *field set; nothing fits → LGS_ERR_CONFLICT
 * (the handler answers 422). */
lgs_status lga_grow_resolve(lgs_store *st, const lga_grow_request *q, lgs_model_row *out, lga_grow_info *info,
                            const char **field, char *err, size_t errlen);

#endif
