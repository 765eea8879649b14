/* api.h - learngened's HTTP API (SPEC §5, docs/api.md) as a library the
 * daemon starts and stops: libmicrohttpd serving the route table, handlers
 * answering from the store (storage/), the in-memory cache of grown models,
 * and CPU work handed to the daemon's worker pool through lga_hooks.
 * Layering: api calls storage and core; it knows the daemon only through
 * the hooks below.
 */
#ifndef LG_API_H
#define LG_API_H

#include <stddef.h>
#include <stdint.h>

#include "learngene.h"
#include "store.h"

typedef struct lga_server lga_server;
struct lga_tokens;

/* What the daemon lends the API. */
typedef struct {
    void *ctx;
    /* Runs work(arg, worker) on the bounded worker pool and waits for it
     * (worker is the pool thread's index, < lga_options.workers). Returns 0
     * when it ran, -1 when the pool's queue is full (the caller answers 503). */
    int (*run_cpu)(void *ctx, void (*work)(void *arg, int worker), void *arg);
    /* A job was queued or a cancel requested: the runner should look. */
    void (*jobs_changed)(void *ctx);
    /* One log line: level 0 error, 1 warn, 2 info, 3 debug; key=value text. */
    void (*log)(void *ctx, int level, const char *msg);
} lga_hooks;

typedef struct {
    const char *host; /* "127.0.0.1", "::1", "0.0.0.0" … */
    int port;         /* 0: an ephemeral port (lga_port tells which) */
    int listen_fd;    /* >= 0: serve this already bound socket instead */
    int max_connections;
    int max_connections_per_ip;
    int request_timeout_s;
    size_t max_json_body;   /* bytes, JSON request bodies */
    size_t max_upload;      /* bytes, safetensors / IDX uploads */
    int max_batch;          /* images per predict request */
    size_t max_header;      /* memory per connection for request line + headers */
    int max_depth;          /* deepest model a request may grow */
    size_t max_model_bytes; /* largest model (float32 weights) a request may grow */
    int jobs_queue_max;     /* queued fine-tune jobs before 429 */
    size_t cache_bytes;     /* LRU bound for grown models */
    int workers;            /* worker pool threads (for per-worker contexts) */
    int blas_threads;       /* threads per CPU task */
    lgs_store *store;
    lga_hooks hooks;
} lga_options;

void lga_options_defaults(lga_options *o);
/* Binds and starts serving (MHD thread per connection). */
int lga_start(lga_server **out, const lga_options *o, char *err, size_t errlen);
int lga_port(const lga_server *s);
/* Stops accepting new connections, /readyz answers 503; in-flight requests
 * go on. */
void lga_quiesce(lga_server *s);
/* Requests still being answered (for draining). */
int lga_inflight(const lga_server *s);
/* Replaces the bearer tokens (ownership passes; NULL or an empty set turns
 * authentication off). Requests in flight keep the set they started with. */
void lga_set_tokens(lga_server *s, struct lga_tokens *t);
/* Changes the limits that can change live (bodies, batch, cache bound,
 * model bounds, job queue). */
void lga_reconfigure(lga_server *s, const lga_options *o);
/* Models in the cache and their bytes (for sd_notify STATUS=). */
void lga_cache_stats(lga_server *s, int *models, size_t *bytes);
/* Stops the HTTP server and frees everything; connections are closed. */
void lga_stop(lga_server *s);

/* ---------------------------------------------------- growing models
 * Shared with the daemon's job runner. */

/* Materializes the model of a stored row: expands / stitches / inherits /
 * initializes from its source, or loads its stored weights. */
lgs_status lga_grow_build(lgs_store *st, const lgs_model_row *row, lg_model **out, char *err, size_t errlen);

#endif
