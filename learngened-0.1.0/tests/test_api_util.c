/* test_api_util.c - the API's MHD-free helpers: Range / Content-Range /
 * If-None-Match (api/range.c) on a table of headers and sizes, the
 * Prometheus registry (api/metrics.c) under concurrent updates, its
 * histogram and escaping, and strict JSON bodies (api/jsonbody.c): parse
 * errors, unknown keys, each getter's messages, depth cap, numeric arrays
 * and the error body.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "jsonbody.h"
#include "metrics.h"
#include "range.h"

/* ------------------------------------------------------------ range */

typedef struct {
    const char *header;
    int64_t size;
    lga_range_result want;
    int64_t first, last;
} range_case;

#define R_OK LGA_RANGE_OK
#define R_NONE LGA_RANGE_NONE
#define R_UNSAT LGA_RANGE_UNSATISFIABLE
#define R_INVALID LGA_RANGE_INVALID
#define R_IGNORED LGA_RANGE_IGNORED

static const range_case range_cases[] = {
    /* size 1000 */
    {NULL, 1000, R_NONE, -1, -1},
    {"bytes=0-0", 1000, R_OK, 0, 0},
    {"bytes=0-999", 1000, R_OK, 0, 999},
    {"bytes=10-20", 1000, R_OK, 10, 20},
    {"bytes=0-5000", 1000, R_OK, 0, 999},
    {"bytes=999-", 1000, R_OK, 999, 999},
    {"bytes=0-", 1000, R_OK, 0, 999},
    {"bytes=-1", 1000, R_OK, 999, 999},
    {"bytes=-1000", 1000, R_OK, 0, 999},
    {"bytes=-2000", 1000, R_OK, 0, 999},
    {"bytes=-9223372036854775807", 1000, R_OK, 0, 999},
    {"BYTES=0-1", 1000, R_OK, 0, 1},
    {"bytes=0-1,", 1000, R_OK, 0, 1},
    {"bytes=,0-1", 1000, R_OK, 0, 1},
    {"bytes=0-1 ", 1000, R_OK, 0, 1},
    {"bytes=-0", 1000, R_UNSAT, -1, -1},
    {"bytes=1000-", 1000, R_UNSAT, -1, -1},
    {"bytes=1000-2000", 1000, R_UNSAT, -1, -1},
    {"bytes=9223372036854775807-", 1000, R_UNSAT, -1, -1},
    {"bytes=0-1,3-4", 1000, R_IGNORED, -1, -1},
    {"bytes=0-1, 3-4", 1000, R_IGNORED, -1, -1},
    {"bytes=0-1 ,\t3-4", 1000, R_IGNORED, -1, -1},
    {"bytes=-5,0-1", 1000, R_IGNORED, -1, -1},
    {"bytes=5-2", 1000, R_INVALID, -1, -1},
    {"bytes=abc", 1000, R_INVALID, -1, -1},
    {"bytes=0-1,abc", 1000, R_INVALID, -1, -1},
    {"bytes=0-1,5-2", 1000, R_INVALID, -1, -1},
    {"items=0-1", 1000, R_INVALID, -1, -1},
    {"bytes= 0-1", 1000, R_INVALID, -1, -1},
    {"bytes =0-1", 1000, R_INVALID, -1, -1},
    {" bytes=0-1", 1000, R_INVALID, -1, -1},
    {"bytes=0 -1", 1000, R_INVALID, -1, -1},
    {"bytes=0- 1", 1000, R_INVALID, -1, -1},
    {"bytes=- 1", 1000, R_INVALID, -1, -1},
    {"bytes=99999999999999999999-", 1000, R_INVALID, -1, -1},
    {"bytes=9223372036854775808-", 1000, R_INVALID, -1, -1},
    {"bytes=0-99999999999999999999", 1000, R_INVALID, -1, -1},
    {"bytes=-99999999999999999999", 1000, R_INVALID, -1, -1},
    {"", 1000, R_INVALID, -1, -1},
    {"bytes", 1000, R_INVALID, -1, -1},
    {"bytes=", 1000, R_INVALID, -1, -1},
    {"bytes=,", 1000, R_INVALID, -1, -1},
    {"bytes=-", 1000, R_INVALID, -1, -1},
    {"bytes=--1", 1000, R_INVALID, -1, -1},
    {"bytes=+1-2", 1000, R_INVALID, -1, -1},
    {"bytes=-1-2", 1000, R_INVALID, -1, -1},
    {"bytes=1-2-3", 1000, R_INVALID, -1, -1},
    {"bytes=0x10-20", 1000, R_INVALID, -1, -1},
    {"bytes=1.5-2", 1000, R_INVALID, -1, -1},
    {"bytes=0-1;x", 1000, R_INVALID, -1, -1},
    /* size 1 */
    {"bytes=0-0", 1, R_OK, 0, 0},
    {"bytes=0-", 1, R_OK, 0, 0},
    {"bytes=0-1", 1, R_OK, 0, 0},
    {"bytes=-1", 1, R_OK, 0, 0},
    {"bytes=-2000", 1, R_OK, 0, 0},
    {"bytes=1-", 1, R_UNSAT, -1, -1},
    {"bytes=999-", 1, R_UNSAT, -1, -1},
    {"bytes=-0", 1, R_UNSAT, -1, -1},
    {NULL, 1, R_NONE, -1, -1},
    /* size 0: no int-range fits; a suffix of an empty body sends it whole */
    {NULL, 0, R_NONE, -1, -1},
    {"bytes=0-0", 0, R_UNSAT, -1, -1},
    {"bytes=0-", 0, R_UNSAT, -1, -1},
    {"bytes=-1", 0, R_IGNORED, -1, -1},
    {"bytes=-0", 0, R_UNSAT, -1, -1},
    {"bytes=abc", 0, R_INVALID, -1, -1},
    {"", 0, R_INVALID, -1, -1},
    /* a negative size is a caller's bug */
    {"bytes=0-0", -1, R_INVALID, -1, -1},
};
#define N_RANGE_CASES ((int)(sizeof range_cases / sizeof range_cases[0]))

START_TEST(test_range_parse)
{
    const range_case *c = &range_cases[_i];
    int64_t first = 12345, last = 12345;
    lga_range_result r = lga_range_parse(c->header, c->size, &first, &last);
    ck_assert_msg(r == c->want && first == c->first && last == c->last,
                  "Range \"%s\" on %lld bytes: expected result %d [%lld, %lld], got %d [%lld, %lld]",
                  c->header ? c->header : "(null)", (long long)c->size, (int)c->want, (long long)c->first,
                  (long long)c->last, (int)r, (long long)first, (long long)last);
}
END_TEST

START_TEST(test_content_range)
{
    char buf[96];
    int k;

    k = lga_range_content_range(buf, sizeof buf, 0, 0, 1);
    ck_assert_msg(k == 11 && strcmp(buf, "bytes 0-0/1") == 0, "expected \"bytes 0-0/1\" (11), got \"%s\" (%d)", buf, k);
    k = lga_range_content_range(buf, sizeof buf, 0, 999, 1000);
    ck_assert_msg(k > 0 && strcmp(buf, "bytes 0-999/1000") == 0, "expected \"bytes 0-999/1000\", got \"%s\"", buf);
    k = lga_range_content_range(buf, sizeof buf, 10, 20, 1000);
    ck_assert_msg(k > 0 && strcmp(buf, "bytes 10-20/1000") == 0, "expected \"bytes 10-20/1000\", got \"%s\"", buf);
    k = lga_range_content_range(buf, sizeof buf, -1, -1, 1000);
    ck_assert_msg(k > 0 && strcmp(buf, "bytes */1000") == 0, "expected \"bytes */1000\" for 416, got \"%s\"", buf);
    k = lga_range_content_range(buf, sizeof buf, -1, -1, 0);
    ck_assert_msg(k > 0 && strcmp(buf, "bytes */0") == 0, "expected \"bytes */0\", got \"%s\"", buf);
    k = lga_range_content_range(buf, sizeof buf, INT64_MAX - 1, INT64_MAX - 1, INT64_MAX);
    ck_assert_msg(k > 0 && strcmp(buf, "bytes 9223372036854775806-9223372036854775806/9223372036854775807") == 0,
                  "expected the int64 extremes to print in full, got \"%s\"", buf);

    ck_assert_msg(lga_range_content_range(buf, 12, 0, 999, 1000) == -1, "a too small buffer must give -1");
    ck_assert_msg(lga_range_content_range(buf, sizeof buf, 0, 1000, 1000) == -1, "last >= size must give -1");
    ck_assert_msg(lga_range_content_range(buf, sizeof buf, 5, 4, 1000) == -1, "last < first must give -1");
    ck_assert_msg(lga_range_content_range(NULL, 0, 0, 0, 1) == -1, "a NULL buffer must give -1");

    /* What the handler does: parse, then format. */
    int64_t f, l;
    ck_assert(lga_range_parse("bytes=-100", 1000, &f, &l) == LGA_RANGE_OK);
    lga_range_content_range(buf, sizeof buf, f, l, 1000);
    ck_assert_msg(strcmp(buf, "bytes 900-999/1000") == 0, "bytes=-100 of 1000: expected 900-999, got \"%s\"", buf);
}
END_TEST

typedef struct {
    const char *inm, *etag;
    int want;
} etag_case;

static const etag_case etag_cases[] = {
    {NULL, "\"abc\"", 0},
    {"\"abc\"", NULL, 0},
    {"*", "\"abc\"", 1},
    {" * ", "\"abc\"", 1},
    {"\"abc\"", "\"abc\"", 1},
    {"W/\"abc\"", "\"abc\"", 1},
    {"\"abc\"", "W/\"abc\"", 1},
    {"\"abc\"", "abc", 1},
    {"\"x\", \"abc\"", "\"abc\"", 1},
    {"\"x\",W/\"abc\"", "\"abc\"", 1},
    {"\"x\" ,\t\"abc\" ", "\"abc\"", 1},
    {", \"abc\" ,", "\"abc\"", 1},
    {"\"x\"", "\"abc\"", 0},
    {"\"ab\"", "\"abc\"", 0},
    {"\"abcd\"", "\"abc\"", 0},
    {"\"\"", "\"abc\"", 0},
    {"abc", "\"abc\"", 0},
    {"\"abc", "\"abc\"", 0},
    {"w/\"abc\"", "\"abc\"", 0},
    {"\"abc\" junk", "\"abc\"", 0},
    {"\"x\", *", "\"abc\"", 0},
    {"*, \"abc\"", "\"abc\"", 0},
    {"\"a bc\"", "\"a bc\"", 0},
    {"", "\"abc\"", 0},
    {"\"abc\"", "", 0},
};
#define N_ETAG_CASES ((int)(sizeof etag_cases / sizeof etag_cases[0]))

START_TEST(test_etag_match)
{
    const etag_case *c = &etag_cases[_i];
    int got = lga_etag_match(c->inm, c->etag);
    ck_assert_msg(got == c->want, "If-None-Match [%s] against ETag [%s]: expected %d, got %d",
                  c->inm ? c->inm : "(null)", c->etag ? c->etag : "(null)", c->want, got);
}
END_TEST

/* ------------------------------------------------------------ metrics */

/* The value of the sample line that starts with `sample ` (name and
 * labels exactly); -1 when absent. */
static double metric_value(const char *text, const char *sample)
{
    size_t n = strlen(sample);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, sample, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    }
    return -1;
}

/* Every line is a comment or `name{labels} value`, every sample follows
 * its family's # TYPE, and the text ends with a newline. */
static void check_exposition(const char *text, size_t len)
{
    ck_assert_msg(len == strlen(text), "length %zu must be strlen %zu", len, strlen(text));
    ck_assert_msg(len > 0 && text[len - 1] == '\n', "the exposition must end with a newline");
    char family[128] = "";
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        ck_assert_msg(eol != NULL, "unterminated line: %s", p);
        if (strncmp(p, "# TYPE ", 7) == 0) {
            sscanf(p + 7, "%127s", family);
        } else if (*p != '#') {
            ck_assert_msg(family[0] && strncmp(p, family, strlen(family)) == 0,
                          "sample line outside its family (current %s): %.*s", family, (int)(eol - p), p);
            const char *q = p;
            while (q < eol && (*q == '_' || *q == ':' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                               (*q >= '0' && *q <= '9')))
                q++;
            if (*q == '{') {
                int in_str = 0;
                for (q++; q < eol && (in_str || *q != '}'); q++) {
                    if (in_str && *q == '\\')
                        q++;
                    else if (*q == '"')
                        in_str = !in_str;
                }
                ck_assert_msg(q < eol && *q == '}', "unterminated labels: %.*s", (int)(eol - p), p);
                q++;
            }
            ck_assert_msg(*q == ' ', "expected a space before the value: %.*s", (int)(eol - p), p);
            char *end;
            strtod(q + 1, &end);
            ck_assert_msg(end == eol, "bad value: %.*s", (int)(eol - p), p);
        }
        p = eol + 1;
    }
}

#define MT_THREADS 4
#define MT_PER_THREAD 10000

static const char *const mt_routes[4] = {"GET /healthz", "GET /v1/models/{id}", "POST /v1/models",
                                         "GET /v1/models/{id}/weights"};

static void *metrics_thread(void *arg)
{
    lga_metrics *m = arg;
    char route[64];
    for (int j = 0; j < MT_PER_THREAD; j++) {
        /* A copy: the registry must compare contents, not pointers. */
        snprintf(route, sizeof route, "%s", mt_routes[j % 4]);
        lga_metrics_request(m, route, j % 2 ? 404 : 200, 0.003);
        lga_metrics_bytes(m, 3);
    }
    return NULL;
}

START_TEST(test_metrics_concurrent)
{
    lga_metrics *m = lga_metrics_new();
    ck_assert_msg(m != NULL, "lga_metrics_new failed");
    pthread_t th[MT_THREADS];
    for (int i = 0; i < MT_THREADS; i++)
        ck_assert_msg(pthread_create(&th[i], NULL, metrics_thread, m) == 0, "pthread_create %d failed", i);
    for (int i = 0; i < MT_THREADS; i++) pthread_join(th[i], NULL);

    size_t len;
    char *text = lga_metrics_render(m, NULL, &len);
    ck_assert_msg(text != NULL, "render failed");
    check_exposition(text, len);

    double total = 0;
    char sample[256];
    for (int r = 0; r < 4; r++) {
        snprintf(sample, sizeof sample, "learngened_requests_total{route=\"%s\",status=\"%d\"}", mt_routes[r],
                 r % 2 ? 404 : 200);
        double v = metric_value(text, sample);
        ck_assert_msg(v == MT_THREADS * MT_PER_THREAD / 4, "%s: expected %d, got %g\n%s", sample,
                      MT_THREADS * MT_PER_THREAD / 4, v, text);
        total += v;
        snprintf(sample, sizeof sample, "learngened_requests_total{route=\"%s\",status=\"%d\"}", mt_routes[r],
                 r % 2 ? 200 : 404);
        ck_assert_msg(metric_value(text, sample) == -1, "%s must not appear (no such requests)", sample);

        snprintf(sample, sizeof sample, "learngened_request_seconds_count{route=\"%s\"}", mt_routes[r]);
        v = metric_value(text, sample);
        ck_assert_msg(v == MT_THREADS * MT_PER_THREAD / 4, "%s: expected %d, got %g", sample,
                      MT_THREADS * MT_PER_THREAD / 4, v);
        snprintf(sample, sizeof sample, "learngened_request_seconds_bucket{route=\"%s\",le=\"0.0025\"}", mt_routes[r]);
        ck_assert_msg(metric_value(text, sample) == 0, "%s: 3 ms latencies must not fall at or below 2.5 ms", sample);
        snprintf(sample, sizeof sample, "learngened_request_seconds_bucket{route=\"%s\",le=\"0.005\"}", mt_routes[r]);
        ck_assert_msg(metric_value(text, sample) == MT_THREADS * MT_PER_THREAD / 4,
                      "%s: every 3 ms latency is at or below 5 ms", sample);
        snprintf(sample, sizeof sample, "learngened_request_seconds_sum{route=\"%s\"}", mt_routes[r]);
        v = metric_value(text, sample);
        ck_assert_msg(fabs(v - 0.003 * MT_THREADS * MT_PER_THREAD / 4) < 1e-6, "%s: expected 30, got %g", sample, v);
    }
    ck_assert_msg(total == MT_THREADS * MT_PER_THREAD, "requests in total: expected %d, got %g",
                  MT_THREADS * MT_PER_THREAD, total);
    double bytes = metric_value(text, "learngened_bytes_streamed_total");
    ck_assert_msg(bytes == 3.0 * MT_THREADS * MT_PER_THREAD, "bytes streamed: expected %d, got %g",
                  3 * MT_THREADS * MT_PER_THREAD, bytes);
    ck_assert_msg(strstr(text, "route=\"other\"") == NULL, "no route may have overflowed into \"other\"");
    ck_assert_msg(strstr(text, "learngened_jobs") == NULL, "gauges are omitted without lga_gauges");
    free(text);
    lga_metrics_free(m);
}
END_TEST

START_TEST(test_metrics_histogram)
{
    static const char *const les[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                                      "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};
    const char *route = "POST /v1/models/{id}/predict";
    lga_metrics *m = lga_metrics_new();
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        lga_metrics_request(m, route, 200, i * 0.011);
        sum += i * 0.011;
    }
    lga_metrics_request(m, "GET /v1/jobs", 200, -1.0);
    lga_metrics_request(m, "GET /v1/jobs", 200, NAN);
    lga_metrics_request(m, "GET /v1/jobs", 200, 1e9);

    size_t len;
    char *text = lga_metrics_render(m, NULL, &len);
    check_exposition(text, len);
    char sample[256];
    double prev = -1, v = 0;
    const char *prev_line = text;
    for (int k = 0; k < 15; k++) {
        snprintf(sample, sizeof sample, "learngened_request_seconds_bucket{route=\"%s\",le=\"%s\"}", route, les[k]);
        const char *line = strstr(text, sample);
        ck_assert_msg(line != NULL, "missing %s\n%s", sample, text);
        ck_assert_msg(line >= prev_line, "buckets must come in increasing le order (%s)", les[k]);
        prev_line = line;
        v = metric_value(text, sample);
        ck_assert_msg(v >= prev, "bucket le=%s (%g) is below the previous one (%g)", les[k], v, prev);
        prev = v;
    }
    snprintf(sample, sizeof sample, "learngened_request_seconds_count{route=\"%s\"}", route);
    ck_assert_msg(v == 1000 && metric_value(text, sample) == 1000, "+Inf (%g) and _count must both be 1000", v);
    snprintf(sample, sizeof sample, "learngened_request_seconds_bucket{route=\"%s\",le=\"0.01\"}", route);
    ck_assert_msg(metric_value(text, sample) == 1, "le=0.01 holds only the 0 s request, got %g",
                  metric_value(text, sample));
    snprintf(sample, sizeof sample, "learngened_request_seconds_bucket{route=\"%s\",le=\"1\"}", route);
    ck_assert_msg(metric_value(text, sample) == 91, "le=1 holds i*0.011 <= 1 (91), got %g", metric_value(text, sample));
    snprintf(sample, sizeof sample, "learngened_request_seconds_bucket{route=\"%s\",le=\"10\"}", route);
    ck_assert_msg(metric_value(text, sample) == 910, "le=10 holds 910, got %g", metric_value(text, sample));
    snprintf(sample, sizeof sample, "learngened_request_seconds_sum{route=\"%s\"}", route);
    ck_assert_msg(fabs(metric_value(text, sample) - sum) < 1e-6 * sum, "_sum: expected %g, got %g", sum,
                  metric_value(text, sample));

    /* Negative and NaN latencies count as 0; 1e9 s only in +Inf. */
    ck_assert_msg(metric_value(text, "learngened_request_seconds_bucket{route=\"GET /v1/jobs\",le=\"0.0005\"}") == 2,
                  "negative and NaN latencies must land in the first bucket");
    ck_assert_msg(metric_value(text, "learngened_request_seconds_bucket{route=\"GET /v1/jobs\",le=\"10\"}") == 2,
                  "1e9 s must not be in le=10");
    ck_assert_msg(metric_value(text, "learngened_request_seconds_bucket{route=\"GET /v1/jobs\",le=\"+Inf\"}") == 3,
                  "+Inf holds all three");
    ck_assert_msg(strstr(text, "nan") == NULL && strstr(text, "NaN") == NULL, "no NaN may reach the output");
    free(text);
    lga_metrics_free(m);
}
END_TEST

START_TEST(test_metrics_labels_and_gauges)
{
    lga_metrics *m = lga_metrics_new();
    lga_metrics_request(m, "GET /we\"ird\\path\nx", 200, 0.1);
    lga_metrics_request(m, NULL, 404, 0.1);
    lga_metrics_request(m, "GET /healthz", 42, 0.1);
    lga_metrics_bytes(m, 5);
    lga_gauges g = {{1, 2, 3, 4, 5}, 7, 123456789, 3};
    size_t len;
    char *text = lga_metrics_render(m, &g, &len);
    check_exposition(text, len);

    ck_assert_msg(
        metric_value(text, "learngened_requests_total{route=\"GET /we\\\"ird\\\\path\\nx\",status=\"200\"}") == 1,
        "label values must escape quote, backslash and newline:\n%s", text);
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"unmatched\",status=\"404\"}") == 1,
                  "a NULL route counts as \"unmatched\"");
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"GET /healthz\",status=\"other\"}") == 1,
                  "a status outside 100..599 counts as \"other\"");
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    char sample[128];
    for (int i = 0; i < 5; i++) {
        snprintf(sample, sizeof sample, "learngened_jobs{state=\"%s\"}", states[i]);
        ck_assert_msg(metric_value(text, sample) == i + 1, "%s: expected %d", sample, i + 1);
    }
    ck_assert_msg(metric_value(text, "learngened_models_cached") == 7, "models_cached: expected 7");
    ck_assert_msg(metric_value(text, "learngened_cache_bytes") == 123456789, "cache_bytes: expected 123456789");
    ck_assert_msg(metric_value(text, "learngened_inflight_requests") == 3, "inflight: expected 3");
    ck_assert_msg(metric_value(text, "learngened_bytes_streamed_total") == 5, "bytes streamed: expected 5");

    static const char *const families[][2] = {
        {"learngened_requests_total", "counter"},
        {"learngened_request_seconds", "histogram"},
        {"learngened_jobs", "gauge"},
        {"learngened_models_cached", "gauge"},
        {"learngened_cache_bytes", "gauge"},
        {"learngened_inflight_requests", "gauge"},
        {"learngened_bytes_streamed_total", "counter"},
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char line[160];
        snprintf(line, sizeof line, "# TYPE %s %s\n", families[i][0], families[i][1]);
        const char *t = strstr(text, line);
        ck_assert_msg(t != NULL && strstr(t + 1, line) == NULL, "expected exactly one \"%.*s\"", (int)strlen(line) - 1,
                      line);
        snprintf(line, sizeof line, "# HELP %s ", families[i][0]);
        ck_assert_msg(strstr(text, line) != NULL, "expected a # HELP line for %s", families[i][0]);
    }
    free(text);
    lga_metrics_free(m);
    lga_metrics_free(NULL);
}
END_TEST

START_TEST(test_metrics_capacity)
{
    lga_metrics *m = lga_metrics_new();
    char route[300];
    /* Slot 0 is "other": 63 routes fit, the remaining 37 of 100 overflow. */
    for (int i = 0; i < 100; i++) {
        snprintf(route, sizeof route, "GET /r%d", i);
        lga_metrics_request(m, route, 200, 0.001);
    }
    memset(route, 'x', 200);
    route[200] = '\0';
    lga_metrics_request(m, route, 200, 0.001); /* too long: other */
    for (int s = 0; s < 20; s++) lga_metrics_request(m, "GET /r0", 200 + s, 0.001);

    size_t len;
    char *text = lga_metrics_render(m, NULL, &len);
    check_exposition(text, len);
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"GET /r62\",status=\"200\"}") == 1,
                  "the 63rd route must have its own label");
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"GET /r63\",status=\"200\"}") == -1,
                  "the 64th route must not have its own label");
    double other = metric_value(text, "learngened_requests_total{route=\"other\",status=\"200\"}");
    ck_assert_msg(other == 38, "route=\"other\": expected 37 overflowing + 1 too long = 38, got %g", other);
    /* GET /r0: 200 twice, then 201..219; 15 distinct statuses then "other". */
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"GET /r0\",status=\"200\"}") == 2,
                  "GET /r0 200: expected 2");
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"GET /r0\",status=\"214\"}") == 1,
                  "GET /r0 214 (15th status) keeps its label");
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"GET /r0\",status=\"215\"}") == -1,
                  "GET /r0 215 (16th status) must go to \"other\"");
    ck_assert_msg(metric_value(text, "learngened_requests_total{route=\"GET /r0\",status=\"other\"}") == 5,
                  "GET /r0 status=\"other\": expected 5 (215..219)");
    ck_assert_msg(metric_value(text, "learngened_request_seconds_count{route=\"GET /r0\"}") == 21,
                  "GET /r0 _count: expected 21");
    free(text);
    lga_metrics_free(m);
}
END_TEST

/* ------------------------------------------------------------ jsonbody */

static json_t *parse(const char *s, lga_json_error *e)
{
    memset(e, 0, sizeof *e);
    json_t *j = lga_json_parse_object(s, strlen(s), e);
    if (!j) printf("parse [%.60s]: %s (field %s)\n", s, e->message, e->field);
    return j;
}

/* A message must be valid UTF-8 to go back in a JSON error body. */
static void check_message_utf8(const lga_json_error *e)
{
    json_t *j = json_string(e->message);
    ck_assert_msg(j != NULL, "message is not valid UTF-8: %s", e->message);
    json_decref(j);
}

START_TEST(test_json_parse_errors)
{
    lga_json_error e;
    json_t *j;

    ck_assert_msg(lga_json_parse_object("", 0, &e) == NULL && strcmp(e.message, "body is empty") == 0 &&
                      strcmp(e.field, "body") == 0,
                  "empty body: got \"%s\" field %s", e.message, e.field);
    ck_assert_msg(lga_json_parse_object(NULL, 0, &e) == NULL && strcmp(e.message, "body is empty") == 0,
                  "NULL body must be empty");
    ck_assert_msg(parse(" \r\n\t", &e) == NULL && strcmp(e.message, "body is empty") == 0,
                  "whitespace body: got \"%s\"", e.message);
    j = lga_json_parse_object("{}", 2, NULL);
    ck_assert_msg(j != NULL, "e may be NULL");
    json_decref(j);
    ck_assert_msg(lga_json_parse_object("[1]", 3, NULL) == NULL, "e may be NULL on failure");

    static const char *const not_objects[][2] = {
        {"[1,2]", "an array"}, {"\"x\"", "a string"}, {"3", "an integer"}, {"null", "null"}, {"true", "a boolean"}};
    for (int i = 0; i < 5; i++) {
        char want[96];
        snprintf(want, sizeof want, "body must be a JSON object, not %s", not_objects[i][1]);
        ck_assert_msg(parse(not_objects[i][0], &e) == NULL && strcmp(e.message, want) == 0 &&
                          strcmp(e.field, "body") == 0,
                      "%s: expected \"%s\", got \"%s\" field %s", not_objects[i][0], want, e.message, e.field);
    }

    ck_assert_msg(parse("{\"a\":1,\"a\":2}", &e) == NULL && strcmp(e.field, "a") == 0 &&
                      strstr(e.message, "duplicate key \"a\"") != NULL && strstr(e.message, "line 1") != NULL,
                  "duplicate key: expected field a, got \"%s\" field %s", e.message, e.field);
    ck_assert_msg(parse("{\"a\\u0062\":1,\n \"ab\":2}", &e) == NULL && strcmp(e.field, "ab") == 0 &&
                      strstr(e.message, "line 2") != NULL,
                  "duplicate key written two ways: expected field ab on line 2, got \"%s\" field %s", e.message,
                  e.field);
    ck_assert_msg(parse("{\"b\":{\"x\":1,\"x\":2}}", &e) == NULL && strcmp(e.field, "body") == 0 &&
                      strstr(e.message, "duplicate key \"x\"") != NULL,
                  "nested duplicate key: got \"%s\" field %s", e.message, e.field);

    static const char *const bad[] = {"{\"x\":NaN}",
                                      "{\"x\":Infinity}",
                                      "{\"x\":-Infinity}",
                                      "{\"x\":1e400}",
                                      "{\"x\":99999999999999999999}",
                                      "{\"a\":1,}",
                                      "{} x",
                                      "{\"a\":\"\\u0000\"}",
                                      "{\"a\" 1}",
                                      "{'a':1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = parse(bad[i], &e);
        ck_assert_msg(j == NULL && strcmp(e.field, "body") == 0 && strstr(e.message, "line 1, column") != NULL,
                      "%s must be refused with a line and column, got \"%s\" field %s", bad[i], e.message, e.field);
        check_message_utf8(&e);
    }

    /* Bytes quoted from a bad body come back as valid UTF-8. */
    ck_assert_msg(parse("{\"a\":\"\xff\xfe\"}", &e) == NULL, "invalid UTF-8 must be refused");
    check_message_utf8(&e);
    ck_assert_msg(parse("{\"a\":1, \xc3}", &e) == NULL, "junk must be refused");
    check_message_utf8(&e);
}
END_TEST

/* {"a": [[[ ... ]]] } with `levels` containers in all. */
static char *nested_body(int levels)
{
    char *s = malloc((size_t)levels * 2 + 16);
    size_t n = 0;
    n += (size_t)sprintf(s, "{\"a\":");
    for (int i = 1; i < levels; i++) s[n++] = '[';
    for (int i = 1; i < levels; i++) s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

START_TEST(test_json_depth_and_size)
{
    lga_json_error e;
    char *s = nested_body(32);
    json_t *j = parse(s, &e);
    ck_assert_msg(j != NULL, "32 levels must be accepted: %s", e.message);
    json_decref(j);
    free(s);

    s = nested_body(33);
    ck_assert_msg(parse(s, &e) == NULL && strcmp(e.field, "body") == 0 && strstr(e.message, "deeper than 32") != NULL,
                  "33 levels must be refused with field body, got \"%s\" field %s", e.message, e.field);
    free(s);

    s = nested_body(1000000); /* would exhaust jansson's recursion without the pre-scan */
    ck_assert_msg(parse(s, &e) == NULL && strstr(e.message, "deeper than 32") != NULL,
                  "10^6 levels must be refused by the pre-scan, got \"%s\"", e.message);
    free(s);

    /* Brackets inside strings (and escaped quotes) do not count. */
    j = parse("{\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\"}", &e);
    ck_assert_msg(j != NULL, "brackets in strings must not count: %s", e.message);
    json_decref(j);

    /* A 10 MiB string parses (body caps are the server's business). */
    size_t big = (size_t)10 << 20;
    s = malloc(big + 16);
    memcpy(s, "{\"s\":\"", 6);
    memset(s + 6, 'a', big);
    memcpy(s + 6 + big, "\"}", 2);
    j = lga_json_parse_object(s, big + 8, &e);
    ck_assert_msg(j != NULL, "a 10 MiB string must parse: %s", e.message);
    ck_assert_msg(json_string_length(json_object_get(j, "s")) == big, "the string must keep its %zu bytes", big);
    json_decref(j);
    free(s);

    /* The length is honoured: no NUL needed, nothing read past it. */
    j = lga_json_parse_object("{\"a\":1}garbage", 7, &e);
    ck_assert_msg(j != NULL && json_integer_value(json_object_get(j, "a")) == 1, "len must bound the parse: %s",
                  e.message);
    json_decref(j);
}
END_TEST

START_TEST(test_json_only_keys)
{
    lga_json_error e;
    static const char *const top[] = {"from", "depth", "budget", NULL};
    static const char *const budget[] = {"flops", "params", NULL};
    json_t *j = parse("{\"from\":\"x\",\"budget\":{\"flops\":1,\"bogus\":2,\"more\":3},\"depth\":3}", &e);
    ck_assert(j != NULL);
    ck_assert_msg(lga_json_only_keys(j, top, NULL, &e) == 0, "known keys must pass: %s", e.message);
    json_t *b = json_object_get(j, "budget");
    ck_assert_msg(lga_json_only_keys(b, budget, "budget", &e) == -1 && strcmp(e.field, "budget.bogus") == 0 &&
                      strcmp(e.message, "unknown field \"budget.bogus\"") == 0,
                  "expected the first unknown key budget.bogus, got \"%s\" field %s", e.message, e.field);
    ck_assert_msg(lga_json_only_keys(b, top, NULL, &e) == -1 && strcmp(e.field, "flops") == 0,
                  "without prefix the field is the bare key, got %s", e.field);
    ck_assert_msg(lga_json_only_keys(json_object_get(j, "from"), top, "from", &e) == -1 &&
                      strcmp(e.message, "from must be an object, not a string") == 0,
                  "a non-object: got \"%s\"", e.message);
    json_decref(j);
}
END_TEST

/* One getter call on a one-key body: expected return, field and message. */
typedef enum { G_INT, G_NUM, G_STR, G_BOOL, G_OBJ, G_ARR } getter;

typedef struct {
    getter g;
    const char *body, *prefix;
    int want_rc;
    const char *want_field, *want_msg;
} getter_case;

static const getter_case getter_cases[] = {
    {G_INT, "{\"depth\":\"6\"}", NULL, -1, "depth", "depth must be an integer from 1 to 256, not a string"},
    {G_INT, "{\"depth\":300}", NULL, -1, "depth", "depth must be an integer from 1 to 256, not 300"},
    {G_INT, "{\"depth\":0}", NULL, -1, "depth", "depth must be an integer from 1 to 256, not 0"},
    {G_INT, "{\"depth\":6.5}", NULL, -1, "depth", "depth must be an integer from 1 to 256, not 6.5"},
    {G_INT, "{\"depth\":6.0}", NULL, -1, "depth", "depth must be an integer from 1 to 256, not 6.0"},
    {G_INT, "{\"depth\":null}", NULL, -1, "depth", "depth must be an integer from 1 to 256, not null"},
    {G_INT, "{\"depth\":[6]}", "finetune", -1, "finetune.depth",
     "finetune.depth must be an integer from 1 to 256, not an array"},
    {G_INT, "{\"depth\":-9223372036854775808}", NULL, -1, "depth",
     "depth must be an integer from 1 to 256, not -9223372036854775808"},
    {G_INT, "{\"depth\":256}", NULL, 0, "", ""},
    {G_NUM, "{\"lr\":\"x\"}", NULL, -1, "lr", "lr must be a number from 0 to 1, not a string"},
    {G_NUM, "{\"lr\":2}", NULL, -1, "lr", "lr must be a number from 0 to 1, not 2"},
    {G_NUM, "{\"lr\":-0.5}", "finetune", -1, "finetune.lr", "finetune.lr must be a number from 0 to 1, not -0.5"},
    {G_NUM, "{\"lr\":true}", NULL, -1, "lr", "lr must be a number from 0 to 1, not a boolean"},
    {G_NUM, "{\"lr\":1}", NULL, 0, "", ""},
    {G_NUM, "{\"lr\":0.001}", NULL, 0, "", ""},
    {G_STR, "{\"name\":5}", NULL, -1, "name", "name must be a string of at most 8 bytes, not an integer"},
    {G_STR, "{\"name\":\"123456789\"}", NULL, -1, "name", "name must be a string of at most 8 bytes, not one of 9"},
    {G_STR, "{\"name\":\"12345678\"}", NULL, 0, "", ""},
    {G_BOOL, "{\"normalized\":1}", NULL, -1, "normalized", "normalized must be true or false, not an integer"},
    {G_BOOL, "{\"normalized\":\"true\"}", NULL, -1, "normalized", "normalized must be true or false, not a string"},
    {G_BOOL, "{\"normalized\":true}", NULL, 0, "", ""},
    {G_OBJ, "{\"budget\":[]}", NULL, -1, "budget", "budget must be an object, not an array"},
    {G_OBJ, "{\"budget\":{}}", NULL, 0, "", ""},
    {G_ARR, "{\"images\":{}}", NULL, -1, "images", "images must be an array of at most 2 items, not an object"},
    {G_ARR, "{\"images\":[1,2,3]}", NULL, -1, "images", "images must be an array of at most 2 items, not one of 3"},
    {G_ARR, "{\"images\":[1,2]}", NULL, 0, "", ""},
};
#define N_GETTER_CASES ((int)(sizeof getter_cases / sizeof getter_cases[0]))

static int run_getter(const getter_case *c, json_t *j, const char *key, int *present, lga_json_error *e)
{
    long l;
    double d;
    const char *s;
    int b;
    json_t *o;
    switch (c->g) {
    case G_INT: return lga_json_get_int(j, key, 1, 256, &l, present, c->prefix, e);
    case G_NUM: return lga_json_get_number(j, key, 0, 1, &d, present, c->prefix, e);
    case G_STR: return lga_json_get_string(j, key, 8, &s, present, c->prefix, e);
    case G_BOOL: return lga_json_get_bool(j, key, &b, present, c->prefix, e);
    case G_OBJ: return lga_json_get_object(j, key, &o, present, c->prefix, e);
    case G_ARR: return lga_json_get_array(j, key, 2, &o, present, c->prefix, e);
    }
    return -2;
}

START_TEST(test_json_getters)
{
    const getter_case *c = &getter_cases[_i];
    lga_json_error e;
    json_t *j = parse(c->body, &e);
    ck_assert_msg(j != NULL, "%s must parse", c->body);
    const char *key = json_object_iter_key(json_object_iter(j));

    memset(&e, 0, sizeof e);
    int present = 42;
    int rc = run_getter(c, j, key, &present, &e);
    if (rc != 0) printf("%s -> %s\n", c->body, e.message);
    ck_assert_msg(rc == c->want_rc && strcmp(e.field, c->want_field) == 0 && strcmp(e.message, c->want_msg) == 0,
                  "%s: expected %d field [%s] message [%s], got %d field [%s] message [%s]", c->body, c->want_rc,
                  c->want_field, c->want_msg, rc, e.field, e.message);
    ck_assert_msg(present == (rc == 0), "%s: present must be %d, got %d", c->body, rc == 0, present);

    /* Absent key: ok, not present. */
    present = 42;
    rc = run_getter(c, j, "absent", &present, &e);
    ck_assert_msg(rc == 0 && present == 0, "%s: an absent key must give 0 and present 0, got %d, %d", c->body, rc,
                  present);
    ck_assert_msg(run_getter(c, j, "absent", NULL, NULL) == 0, "present and e may be NULL");
    json_decref(j);
}
END_TEST

START_TEST(test_json_getter_values)
{
    lga_json_error e;
    json_t *j = parse("{\"i\":-7,\"n\":3,\"r\":0.25,\"s\":\"h\\u00e9\",\"b\":false,\"o\":{\"k\":1},\"a\":[1]}", &e);
    long l = 0;
    double d = 0;
    const char *s = NULL;
    int b = 7, present = 0;
    json_t *o = NULL;

    ck_assert(lga_json_get_int(j, "i", LONG_MIN, LONG_MAX, &l, &present, NULL, &e) == 0 && l == -7 && present);
    ck_assert(lga_json_get_number(j, "n", -HUGE_VAL, HUGE_VAL, &d, &present, NULL, &e) == 0 && d == 3.0);
    ck_assert(lga_json_get_number(j, "r", 0, 1, &d, &present, NULL, &e) == 0 && d == 0.25);
    ck_assert(lga_json_get_string(j, "s", 0, &s, &present, NULL, &e) == 0 && strcmp(s, "h\xc3\xa9") == 0);
    ck_assert(lga_json_get_bool(j, "b", &b, &present, NULL, &e) == 0 && b == 0);
    ck_assert(lga_json_get_object(j, "o", &o, &present, NULL, &e) == 0 && json_is_object(o));
    ck_assert(lga_json_get_array(j, "a", 0, &o, &present, NULL, &e) == 0 && json_array_size(o) == 1);

    ck_assert_msg(lga_json_get_int(j, "i", 0, LONG_MAX, &l, NULL, NULL, &e) == -1 &&
                      strcmp(e.message, "i must be an integer of at least 0, not -7") == 0,
                  "one-sided int range: got \"%s\"", e.message);
    ck_assert_msg(lga_json_get_int(j, "n", LONG_MIN, 2, &l, NULL, NULL, &e) == -1 &&
                      strcmp(e.message, "n must be an integer of at most 2, not 3") == 0,
                  "one-sided int range: got \"%s\"", e.message);
    ck_assert_msg(lga_json_get_number(j, "r", 0.5, HUGE_VAL, &d, NULL, NULL, &e) == -1 &&
                      strcmp(e.message, "r must be a number of at least 0.5, not 0.25") == 0,
                  "one-sided number range: got \"%s\"", e.message);
    ck_assert_msg(lga_json_get_number(j, "s", -HUGE_VAL, HUGE_VAL, &d, NULL, NULL, &e) == -1 &&
                      strcmp(e.message, "s must be a finite number, not a string") == 0,
                  "unbounded number: got \"%s\"", e.message);
    ck_assert_msg(lga_json_get_int(NULL, "i", 0, 1, &l, NULL, "budget", &e) == -1 && strcmp(e.field, "budget") == 0,
                  "a NULL object must be refused naming the prefix, got %s", e.field);

    /* NaN cannot be parsed, but a json_real built in code cannot hold one
     * either: jansson refuses, so the getter's isfinite is belt and braces. */
    ck_assert_msg(json_real(NAN) == NULL, "jansson must refuse a NaN real");
    json_decref(j);
}
END_TEST

START_TEST(test_json_floats)
{
    lga_json_error e;
    float out[8];
    size_t count = 99, shape[4];
    int ndim = 99;
    json_t *j;

    j = json_loads("[[1,2],[3,4.5]]", 0, NULL);
    ck_assert(lga_json_floats_shape(j, out, 8, &count, shape, &ndim, "images", &e) == 0);
    ck_assert_msg(count == 4 && out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 4.5f,
                  "[[1,2],[3,4.5]] must flatten to 1 2 3 4.5 (count %zu)", count);
    ck_assert_msg(ndim == 2 && shape[0] == 2 && shape[1] == 2 && shape[2] == 0, "shape must be (2,2), got ndim %d",
                  ndim);
    ck_assert_msg(lga_json_floats(j, NULL, 4, &count, "images", &e) == 0 && count == 4, "out NULL counts only");
    ck_assert_msg(lga_json_floats(j, out, 3, &count, "images", &e) == -1 &&
                      strcmp(e.message, "images has more than 3 values") == 0 && strcmp(e.field, "images") == 0,
                  "max_values: got \"%s\" field %s", e.message, e.field);
    json_decref(j);

    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[\"a\"]", "images[0] must be a number, not a string"},
        {"[[1],[2,\"x\"]]", "images[1][1] must be a number, not a string"},
        {"[[1],[2,null]]", "images[1][1] must be a number, not null"},
        {"[[1],[{}]]", "images[1][0] must be a number, not an object"},
        {"[1e39]", "images[0] must be a finite number within float range, not 1e+39"},
        {"{}", "images must be an array of numbers, not an object"},
        {"3", "images must be an array of numbers, not an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);
        ck_assert(j != NULL);
        memset(&e, 0, sizeof e);
        ck_assert_msg(lga_json_floats_shape(j, out, 8, &count, shape, &ndim, "images", &e) == -1 &&
                          strcmp(e.message, bad[i].msg) == 0 && strcmp(e.field, "images") == 0,
                      "%s: expected \"%s\", got \"%s\" field %s", bad[i].json, bad[i].msg, e.message, e.field);
        json_decref(j);
    }

    static const struct {
        const char *json;
        size_t count;
        int ndim;
        size_t shape[4];
    } shapes[] = {
        {"[]", 0, 1, {0}},           {"[1,2,3]", 3, 1, {3}},
        {"[[],[]]", 0, 2, {2, 0}},   {"[[[[1,2,3]]],[[[4,5,6]]]]", 6, 4, {2, 1, 1, 3}},
        {"[[[[[1]]]]]", 1, -1, {0}}, {"[[1,2],[3]]", 3, -1, {0}},
        {"[1,[2]]", 2, -1, {0}},     {"[[1],[[2]]]", 2, -1, {0}},
        {"[[1],[[]]]", 1, -1, {0}},  {"[[[]],[1]]", 1, -1, {0}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        j = json_loads(shapes[i].json, 0, NULL);
        ck_assert(j != NULL);
        ck_assert_msg(lga_json_floats_shape(j, out, 8, &count, shape, &ndim, "data", &e) == 0, "%s: %s", shapes[i].json,
                      e.message);
        ck_assert_msg(count == shapes[i].count && ndim == shapes[i].ndim, "%s: expected %zu values ndim %d, got %zu %d",
                      shapes[i].json, shapes[i].count, shapes[i].ndim, count, ndim);
        for (int k = 0; k < ndim; k++)
            ck_assert_msg(shape[k] == shapes[i].shape[k], "%s: dim %d expected %zu got %zu", shapes[i].json, k,
                          shapes[i].shape[k], shape[k]);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_json_error_body)
{
    json_t *b = lga_json_error_body("not_found", "no model 'abc'", "id");
    char *s = json_dumps(b, JSON_COMPACT);
    ck_assert_msg(strcmp(s, "{\"error\":{\"code\":\"not_found\",\"message\":\"no model 'abc'\",\"field\":\"id\"}}") ==
                      0,
                  "got %s", s);
    free(s);
    json_decref(b);

    b = lga_json_error_body("internal", "boom", NULL);
    s = json_dumps(b, JSON_COMPACT);
    ck_assert_msg(strcmp(s, "{\"error\":{\"code\":\"internal\",\"message\":\"boom\"}}") == 0, "NULL field: got %s", s);
    free(s);
    json_decref(b);

    b = lga_json_error_body("bad_request", "bad \xff byte", "");
    s = json_dumps(b, JSON_COMPACT);
    ck_assert_msg(s && strcmp(s, "{\"error\":{\"code\":\"bad_request\",\"message\":\"bad ? byte\"}}") == 0,
                  "invalid UTF-8 and an empty field: got %s", s ? s : "(null)");
    free(s);
    json_decref(b);

    /* Straight from a parse error. */
    lga_json_error e;
    ck_assert(parse("{\"a\":\"\xe2\x82\"}", &e) == NULL);
    b = lga_json_error_body("bad_request", e.message, e.field);
    ck_assert_msg(b != NULL, "an error body must be built from any parse error");
    json_decref(b);
}
END_TEST

static Suite *api_util_suite(void)
{
    Suite *s = suite_create("api_util");
    TCase *r = tcase_create("range");
    tcase_add_loop_test(r, test_range_parse, 0, N_RANGE_CASES);
    tcase_add_test(r, test_content_range);
    tcase_add_loop_test(r, test_etag_match, 0, N_ETAG_CASES);
    suite_add_tcase(s, r);

    TCase *m = tcase_create("metrics");
    tcase_set_timeout(m, 60);
    tcase_add_test(m, test_metrics_concurrent);
    tcase_add_test(m, test_metrics_histogram);
    tcase_add_test(m, test_metrics_labels_and_gauges);
    tcase_add_test(m, test_metrics_capacity);
    suite_add_tcase(s, m);

    TCase *j = tcase_create("jsonbody");
    tcase_set_timeout(j, 60);
    tcase_add_test(j, test_json_parse_errors);
    tcase_add_test(j, test_json_depth_and_size);
    tcase_add_test(j, test_json_only_keys);
    tcase_add_loop_test(j, test_json_getters, 0, N_GETTER_CASES);
    tcase_add_test(j, test_json_getter_values);
    tcase_add_test(j, test_json_floats);
    tcase_add_test(j, test_json_error_body);
    suite_add_tcase(s, j);
    return s;
}

int main(void) { return lg_test_run(api_util_suite()); }
