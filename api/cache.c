/* cache.c - grown models kept in memory, least recently used first out,
 * bounded by bytes (cache_mb). Expanded descendants are a pure function of
 * learngene + spec, so they are rebuilt on a miss rather than stored (SPEC
 * §4). An entry also keeps, made on first use, one forward context per
 * worker and the serialized safetensors per dtype (f32, f16, bf16, int8).
 * Entries in use are reference-counted and never evicted under a reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct lga_cache {
    pthread_mutex_t lock;
    size_t max_bytes, bytes;
    int count, workers;
    lga_model_entry *head, *tail; /* head = most recently used */
};

lga_cache *lga_cache_new(size_t max_bytes, int workers)
{
    lga_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->max_bytes = max_bytes;
    c->workers = workers;
    return c;
}

static void entry_free(lga_cache *c, lga_model_entry *e)
{
    for (int w = 0; w < c->workers; w++) lg_ctx_free(e->ctx[w]);
    free(e->ctx);
    free(e->ctx_batch);
    for (size_t d = 0; d < sizeof e->file / sizeof e->file[0]; d++) free(e->file[d]);
    lg_model_free(e->model);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static void unlink_entry(lga_cache *c, lga_model_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(lga_cache *c, lga_model_entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

/* Drops unreferenced entries from the cold end until under the bound.
 * Called with the lock held. */
static void evict(lga_cache *c)
{
    lga_model_entry *e = c->tail;
    while (e && c->bytes > c->max_bytes) {
        lga_model_entry *prev = e->prev;
        if (e->refs == 0) {
            unlink_entry(c, e);
            c->bytes -= e->bytes;
            c->count--;
            entry_free(c, e);
        }
        e = prev;
    }
}

void lga_cache_free(lga_cache *c)
{
    if (!c) return;
    lga_model_entry *e = c->head;
    while (e) {
        lga_model_entry *next = e->next;
        entry_free(c, e);
        e = next;
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void lga_cache_set_max(lga_cache *c, size_t max_bytes)
{
    pthread_mutex_lock(&c->lock);
    c->max_bytes = max_bytes;
    evict(c);
    pthread_mutex_unlock(&c->lock);
}

void lga_cache_stats_get(lga_cache *c, int *models, size_t *bytes)
{
    pthread_mutex_lock(&c->lock);
    if (models) *models = c->count;
    if (bytes) *bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}

/* Adds n bytes to an entry's (and the cache's) account. */
static void charge(lga_cache *c, lga_model_entry *e, size_t n)
{
    pthread_mutex_lock(&c->lock);
    e->bytes += n;
    c->bytes += n;
    evict(c);
    pthread_mutex_unlock(&c->lock);
}

static lga_model_entry *lookup(lga_cache *c, const char *id)
{
    for (lga_model_entry *e = c->head; e; e = e->next)
        if (!strcmp(e->id, id)) return e;
    return NULL;
}

typedef struct {
    lgs_store *store;
    const lgs_model_row *row;
    lg_model *model;
    lgs_status status;
    char err[512];
} build_task;

static void build_work(void *arg, int worker)
{
    (void)worker;
    build_task *t = arg;
    t->status = lga_grow_build(t->store, t->row, &t->model, t->err, sizeof t->err);
}

lgs_status lga_cache_get(lga_server *s, const lgs_model_row *row, lga_model_entry **out, int *busy, char *err,
                         size_t errlen)
{
    lga_cache *c = s->cache;
    *out = NULL;
    *busy = 0;
    pthread_mutex_lock(&c->lock);
    lga_model_entry *e = lookup(c, row->id);
    if (e) {
        e->refs++;
        unlink_entry(c, e);
        push_front(c, e);
        pthread_mutex_unlock(&c->lock);
        *out = e;
        return LGS_OK;
    }
    pthread_mutex_unlock(&c->lock);

    build_task t = {s->store, row, NULL, LGS_OK, ""};
    if (lga_run_cpu(s, build_work, &t) != 0) {
        snprintf(err, errlen, "all workers are busy");
        *busy = 1;
        return LGS_ERR_NOMEM;
    }
    if (t.status != LGS_OK) {
        snprintf(err, errlen, "%s", t.err);
        return t.status;
    }
    e = calloc(1, sizeof *e);
    lg_ctx **ctx = calloc((size_t)c->workers, sizeof *ctx);
    int *ctx_batch = calloc((size_t)c->workers, sizeof *ctx_batch);
    if (!e || !ctx || !ctx_batch) {
        free(e);
        free(ctx);
        free(ctx_batch);
        lg_model_free(t.model);
        snprintf(err, errlen, "out of memory");
        return LGS_ERR_NOMEM;
    }
    snprintf(e->id, sizeof e->id, "%s", row->id);
    e->model = t.model;
    e->ctx = ctx;
    e->ctx_batch = ctx_batch;
    e->bytes = lg_model_nparams(t.model) * sizeof(float);
    pthread_mutex_init(&e->lock, NULL);
    e->refs = 1;

    pthread_mutex_lock(&c->lock);
    lga_model_entry *raced = lookup(c, row->id);
    if (raced) { /* another request built it meanwhile: use theirs */
        raced->refs++;
        pthread_mutex_unlock(&c->lock);
        entry_free(c, e);
        *out = raced;
        return LGS_OK;
    }
    push_front(c, e);
    c->count++;
    c->bytes += e->bytes;
    evict(c);
    pthread_mutex_unlock(&c->lock);
    *out = e;
    return LGS_OK;
}

void lga_cache_release(lga_cache *c, lga_model_entry *e)
{
    if (!e) return;
    pthread_mutex_lock(&c->lock);
    e->refs--;
    evict(c);
    pthread_mutex_unlock(&c->lock);
}

lgs_status lga_entry_file(lga_cache *c, lga_model_entry *e, lg_dtype dtype, const uint8_t **bytes, size_t *len,
                          const char **sha256, char *err, size_t errlen)
{
    lgs_status s = LGS_OK;
    size_t added = 0;
    if ((size_t)dtype >= sizeof e->file / sizeof e->file[0]) {
        snprintf(err, errlen, "no serialized file for dtype %d", (int)dtype);
        return LGS_ERR_INVALID;
    }
    pthread_mutex_lock(&e->lock);
    if (!e->file[dtype]) {
        int n;
        const lg_tensor_info *t = lg_model_tensors(e->model, &n);
        lg_st_in *in = calloc((size_t)n, sizeof *in);
        char cfg[1024];
        lg_config_to_json(lg_model_config(e->model), cfg, sizeof cfg);
        lg_st_kv meta[] = {{"config", cfg}, {"model", e->id}};
        if (!in) {
            s = LGS_ERR_NOMEM;
        } else {
            for (int i = 0; i < n; i++)
                in[i] = (lg_st_in){t[i].name, t[i].ndim, t[i].shape, lg_model_weights(e->model) + t[i].offset};
            if (lg_st_serialize(&e->file[dtype], &e->file_len[dtype], in, n, meta, 2, dtype, err, errlen) != LG_OK)
                s = LGS_ERR_INVALID;
            else {
                lgs_sha256_hex(e->sha256[dtype], e->file[dtype], e->file_len[dtype]);
                added = e->file_len[dtype];
            }
        }
        free(in);
    }
    *bytes = e->file[dtype];
    *len = e->file_len[dtype];
    *sha256 = e->sha256[dtype];
    pthread_mutex_unlock(&e->lock);
    if (added) charge(c, e, added);
    return s;
}

lg_ctx *lga_entry_ctx(lga_cache *c, lga_model_entry *e, int worker, int max_batch, int threads, char *err,
                      size_t errlen)
{
    if (worker < 0 || worker >= c->workers) worker = 0;
    size_t freed = 0, added = 0;
    pthread_mutex_lock(&e->lock);
    if (e->ctx[worker] && e->ctx_batch[worker] < max_batch) {
        freed = lg_ctx_bytes(e->ctx[worker]);
        lg_ctx_free(e->ctx[worker]);
        e->ctx[worker] = NULL;
    }
    if (!e->ctx[worker] && lg_ctx_new(&e->ctx[worker], e->model, max_batch, threads, 0, err, errlen) == LG_OK) {
        added = lg_ctx_bytes(e->ctx[worker]);
        e->ctx_batch[worker] = max_batch;
    }
    lg_ctx *x = e->ctx[worker];
    pthread_mutex_unlock(&e->lock);
    if (added || freed) {
        pthread_mutex_lock(&c->lock);
        e->bytes = e->bytes + added - freed;
        c->bytes = c->bytes + added - freed;
        evict(c);
        pthread_mutex_unlock(&c->lock);
    }
    return x;
}
