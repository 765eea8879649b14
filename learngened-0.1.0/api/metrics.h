/* metrics.h - learngened's Prometheus registry: request counters and
 * latency histograms per route pattern and status, bytes streamed, and the
 * text exposition (format 0.0.4) of those plus gauges the caller supplies.
 * Thread-safe; pure C (libc + pthreads), no libmicrohttpd.
 */
#ifndef LGA_METRICS_H
#define LGA_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Capacities: distinct route labels (one of them is "other", which takes
 * every route beyond the rest), statuses per route (beyond: status="other"),
 * and the longest route label kept (longer ones count as "other"). */
#define LGA_METRICS_MAX_ROUTES 64
#define LGA_METRICS_MAX_STATUSES 16
#define LGA_METRICS_MAX_ROUTE_LEN 127

/* Job states, in the order of lga_gauges.jobs. */
enum {
    LGA_METRICS_JOB_QUEUED,
    LGA_METRICS_JOB_RUNNING,
    LGA_METRICS_JOB_SUCCEEDED,
    LGA_METRICS_JOB_FAILED,
    LGA_METRICS_JOB_CANCELLED,
    LGA_METRICS_JOB_STATES /* 5 */
};

typedef struct lga_metrics lga_metrics;

/* Gauges read by the caller at scrape time. */
typedef struct {
    int64_t jobs[LGA_METRICS_JOB_STATES]; /* queued running succeeded failed cancelled */
    int models_cached;
    uint64_t cache_bytes;
    int inflight;
} lga_gauges;

/* NULL when out of memory. lga_metrics_free accepts NULL. */
lga_metrics *lga_metrics_new(void);
void lga_metrics_free(lga_metrics *m);

/* One answered request. route is a route pattern such as
 * "GET /v1/models/{id}" (a bounded set: the route table plus "unmatched";
 * NULL counts as "unmatched"); status the HTTP status (outside 100..599:
 * "other"); seconds the latency (negative or NaN: 0). No allocation once
 * the route has been seen; one short mutex hold. */
void lga_metrics_request(lga_metrics *m, const char *route, int status, double seconds);

/* Bytes of a streamed body (weights downloads); lock-free. */
void lga_metrics_bytes(lga_metrics *m, uint64_t bytes);

/* The text exposition as a malloc'd NUL-terminated string (its length in
 * *len when len is not NULL); gauges are omitted when g is NULL. NULL when
 * out of memory. */
char *lga_metrics_render(lga_metrics *m, const lga_gauges *g, size_t *len);

#endif
