/* metrics.c - the Prometheus registry behind GET /metrics.
 *
 * A fixed table of routes (LGA_METRICS_MAX_ROUTES, slot 0 is "other"),
 * found through a small open-addressing index on an FNV-1a hash of the
 * route string; each route holds its status counters and a latency
 * histogram. lga_metrics_request hashes outside the lock and holds one
 * mutex for a lookup and a few increments; nothing is allocated (the table
 * is part of the registry). Rendering copies the table under the
 * lock and formats outside it. Calls libc and pthreads only.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define MET_NBOUNDS 14             /* finite histogram bounds; +Inf is one more bucket */
#define MET_INDEX 128              /* index slots, a power of two > 2 × routes */
#define MET_STATUS_OTHER 0         /* status label "other" */
#define MET_ROUTE_OTHER "other"    /* slot 0 */
#define MET_ROUTE_NULL "unmatched" /* a NULL route */

static const double met_bounds[MET_NBOUNDS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const char *const met_bound_labels[MET_NBOUNDS + 1] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"};
static const char *const met_job_states[LGA_METRICS_JOB_STATES] = {"queued", "running", "succeeded", "failed",
                                                                   "cancelled"};

typedef struct {
    int status;
    uint64_t count;
} met_status;

typedef struct {
    char name[LGA_METRICS_MAX_ROUTE_LEN + 1];
    uint32_t hash;
    int nstatus;
    met_status statuses[LGA_METRICS_MAX_STATUSES];
    uint64_t buckets[MET_NBOUNDS + 1]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
} met_route;

typedef struct {
    int nroutes;
    met_route routes[LGA_METRICS_MAX_ROUTES];
} met_table;

struct lga_metrics {
    pthread_mutex_t lock;
    int16_t index[MET_INDEX]; /* route slot, -1 when empty */
    met_table t;
    _Atomic uint64_t bytes_streamed;
};

static uint32_t met_hash(const char *s, size_t *len)
{
    uint32_t h = 2166136261u;
    const char *p = s;
    for (; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    *len = (size_t)(p - s);
    return h;
}

/* Slot of a route (inserting it when there is room); lock held. */
static met_route *met_route_find(lga_metrics *m, const char *name, size_t len, uint32_t h)
{
    unsigned i = h & (MET_INDEX - 1);
    for (; m->index[i] >= 0; i = (i + 1) & (MET_INDEX - 1)) {
        met_route *r = &m->t.routes[m->index[i]];
        if (r->hash == h && strcmp(r->name, name) == 0) return r;
    }
    if (m->t.nroutes == LGA_METRICS_MAX_ROUTES) return &m->t.routes[0];
    met_route *r = &m->t.routes[m->t.nroutes];
    memcpy(r->name, name, len + 1);
    r->hash = h;
    m->index[i] = (int16_t)m->t.nroutes++;
    return r;
}

/* The counter of a status in r, adding it (or "other" when full). */
static uint64_t *met_status_counter(met_route *r, int status)
{
    if (status < 100 || status > 599) status = MET_STATUS_OTHER;
    for (int i = 0; i < r->nstatus; i++)
        if (r->statuses[i].status == status) return &r->statuses[i].count;
    if (r->nstatus >= LGA_METRICS_MAX_STATUSES - 1 && status != MET_STATUS_OTHER)
        return met_status_counter(r, MET_STATUS_OTHER);
    r->statuses[r->nstatus].status = status;
    r->statuses[r->nstatus].count = 0;
    return &r->statuses[r->nstatus++].count;
}

lga_metrics *lga_metrics_new(void)
{
    lga_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    memset(m->index, 0xff, sizeof m->index);
    atomic_init(&m->bytes_streamed, 0);
    size_t len;
    uint32_t h = met_hash(MET_ROUTE_OTHER, &len);
    met_route_find(m, MET_ROUTE_OTHER, len, h);
    return m;
}

void lga_metrics_free(lga_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void lga_metrics_request(lga_metrics *m, const char *route, int status, double seconds)
{
    size_t len;
    if (!m) return;
    if (!route) route = MET_ROUTE_NULL;
    uint32_t h = met_hash(route, &len);
    if (len > LGA_METRICS_MAX_ROUTE_LEN) {
        route = MET_ROUTE_OTHER;
        h = met_hash(route, &len);
    }
    if (!(seconds >= 0)) seconds = 0; /* negative or NaN */
    int b = 0;
    while (b < MET_NBOUNDS && seconds > met_bounds[b]) b++;

    pthread_mutex_lock(&m->lock);
    met_route *r = met_route_find(m, route, len, h);
    (*met_status_counter(r, status))++;
    r->buckets[b]++;
    r->count++;
    r->sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void lga_metrics_bytes(lga_metrics *m, uint64_t bytes)
{
    if (m) atomic_fetch_add_explicit(&m->bytes_streamed, bytes, memory_order_relaxed);
}

/* ------------------------------------------------------------ rendering */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} met_buf;

static void met_grow(met_buf *b, size_t need)
{
    if (b->failed || b->len + need < b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + need) cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) {
        b->failed = 1;
        return;
    }
    b->buf = p;
    b->cap = cap;
}

static void met_printf(met_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void met_printf(met_buf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->failed) return;
    va_start(ap, fmt);
    int k = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->failed = 1;
        return;
    }
    if (!b->buf || b->len + (size_t)k >= b->cap) {
        met_grow(b, (size_t)k + 1);
        if (b->failed) return;
        va_start(ap, fmt);
        vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)k;
}

/* A label value escaped per the exposition format: \\, \", \n. */
static void met_escape(char *out, size_t outlen, const char *s)
{
    size_t o = 0;
    for (; *s && o + 2 < outlen; s++) {
        char c = *s;
        if (c == '\\' || c == '"' || c == '\n') {
            out[o++] = '\\';
            c = c == '\n' ? 'n' : c;
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

static void met_family(met_buf *b, const char *name, const char *type, const char *help)
{
    met_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void met_render_requests(met_buf *b, const met_table *t)
{
    char route[2 * LGA_METRICS_MAX_ROUTE_LEN + 3];

    met_family(b, "learngened_requests_total", "counter", "HTTP requests answered, by route pattern and status.");
    for (int i = 0; i < t->nroutes; i++) {
        const met_route *r = &t->routes[i];
        met_escape(route, sizeof route, r->name);
        for (int j = 0; j < r->nstatus; j++) {
            if (r->statuses[j].status == MET_STATUS_OTHER)
                met_printf(b, "learngened_requests_total{route=\"%s\",status=\"other\"} %" PRIu64 "\n", route,
                           r->statuses[j].count);
            else
                met_printf(b, "learngened_requests_total{route=\"%s\",status=\"%d\"} %" PRIu64 "\n", route,
                           r->statuses[j].status, r->statuses[j].count);
        }
    }

    met_family(b, "learngened_request_seconds", "histogram", "Time to answer a request, by route pattern.");
    for (int i = 0; i < t->nroutes; i++) {
        const met_route *r = &t->routes[i];
        if (r->count == 0) continue;
        met_escape(route, sizeof route, r->name);
        uint64_t cum = 0;
        for (int k = 0; k <= MET_NBOUNDS; k++) {
            cum += r->buckets[k];
            met_printf(b, "learngened_request_seconds_bucket{route=\"%s\",le=\"%s\"} %" PRIu64 "\n", route,
                       met_bound_labels[k], cum);
        }
        met_printf(b, "learngened_request_seconds_sum{route=\"%s\"} %.9g\n", route, r->sum);
        met_printf(b, "learngened_request_seconds_count{route=\"%s\"} %" PRIu64 "\n", route, r->count);
    }
}

static void met_render_gauges(met_buf *b, const lga_gauges *g)
{
    met_family(b, "learngened_jobs", "gauge", "Jobs by state.");
    for (int i = 0; i < LGA_METRICS_JOB_STATES; i++)
        met_printf(b, "learngened_jobs{state=\"%s\"} %" PRId64 "\n", met_job_states[i], g->jobs[i]);
    met_family(b, "learngened_models_cached", "gauge", "Grown models held in the in-memory cache.");
    met_printf(b, "learngened_models_cached %d\n", g->models_cached);
    met_family(b, "learngened_cache_bytes", "gauge", "Bytes of the grown models held in the cache.");
    met_printf(b, "learngened_cache_bytes %" PRIu64 "\n", g->cache_bytes);
    met_family(b, "learngened_inflight_requests", "gauge", "Requests being answered.");
    met_printf(b, "learngened_inflight_requests %d\n", g->inflight);
}

char *lga_metrics_render(lga_metrics *m, const lga_gauges *g, size_t *len)
{
    met_buf b = {NULL, 0, 0, 0};
    met_table *t = NULL;

    if (len) *len = 0;
    if (!m) return NULL;
    if (!(t = malloc(sizeof *t))) return NULL;
    pthread_mutex_lock(&m->lock);
    t->nroutes = m->t.nroutes;
    memcpy(t->routes, m->t.routes, (size_t)m->t.nroutes * sizeof t->routes[0]);
    pthread_mutex_unlock(&m->lock);
    uint64_t streamed = atomic_load_explicit(&m->bytes_streamed, memory_order_relaxed);

    met_grow(&b, 4096 + (size_t)t->nroutes * 2048);
    met_render_requests(&b, t);
    if (g) met_render_gauges(&b, g);
    met_family(&b, "learngened_bytes_streamed_total", "counter", "Bytes of streamed response bodies (downloads).");
    met_printf(&b, "learngened_bytes_streamed_total %" PRIu64 "\n", streamed);

    free(t);
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    if (len) *len = b.len;
    return b.buf;
}
