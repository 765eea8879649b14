/* bench_http.c - learngened over HTTP next to liblearngene alone, in one
 * run against a running daemon (bench/http.sh starts it):
 *   predict throughput at batch 1 and 64 over HTTP (raw float32 bodies,
 *     keep-alive) vs lg_forward in-process on the same model and threads,
 *   weights streaming throughput (f32, cached model) on loopback,
 *   time from POST /v1/models to the first weight byte for a freshly grown
 *     depth-12 model (a new seed each time: a cache miss, expansion included).
 * Prints lines "JSON {...}" for bench/http.sh.
 *   bench_http URL LEARNGENE_ID [seconds per case] [threads]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learngene.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    char *data;
    size_t len, cap;
    double first_byte; /* time of the first body byte */
} buf;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    buf *b = user;
    size_t add = size * n;
    if (!b->first_byte) b->first_byte = now_s();
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + add + 1) cap *= 2;
        char *q = realloc(b->data, cap);
        if (!q) return 0;
        b->data = q, b->cap = cap;
    }
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* One request on handle h (reused: keep-alive). Returns the status. */
static long request(CURL *h, const char *method, const char *url, const void *body, size_t len, const char *ctype,
                    buf *out)
{
    struct curl_slist *hdr = NULL;
    char ct[128];
    out->len = 0;
    out->first_byte = 0;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (body) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        hdr = curl_slist_append(hdr, ct);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return status;
}

static const char *json_str(const char *json, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < n) out[i] = p[i], i++;
    out[i] = '\0';
    return out;
}

static void die(const char *what, long status, const buf *b)
{
    fprintf(stderr, "bench_http: %s failed (HTTP %ld): %s\n", what, status, b->data ? b->data : "");
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_http URL LEARNGENE_ID [seconds] [threads]\n");
        return 2;
    }
    const char *base = argv[1], *gene = argv[2];
    double secs = argc > 3 ? atof(argv[3]) : 3;
    int threads = argc > 4 ? atoi(argv[4]) : 1;
    char url[512], body[512], id[80];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    buf b = {0};

    /* the model every case uses: the learngene grown to depth 12 */
    snprintf(url, sizeof url, "%s/v1/models", base);
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":12}", gene);
    long st = request(h, "POST", url, body, strlen(body), "application/json", &b);
    if ((st != 200 && st != 201) || !json_str(b.data, "id", id, sizeof id)) die("POST /v1/models", st, &b);
    snprintf(url, sizeof url, "%s/v1/models/%s/weights", base, id);
    st = request(h, "GET", url, NULL, 0, NULL, &b);
    if (st != 200) die("GET weights", st, &b);
    lg_st *sf = NULL;
    lg_model *m = NULL;
    char err[512];
    if (lg_st_parse(&sf, (uint8_t *)b.data, b.len, 1, err, sizeof err) != LG_OK ||
        lg_model_from_st(&m, sf, err, sizeof err) != LG_OK) {
        fprintf(stderr, "bench_http: %s\n", err);
        return 1;
    }
    const lg_config *c = lg_model_config(m);
    size_t per = (size_t)c->in_chans * c->img * c->img;
    printf("# model %.12s: depth %d dim %d, %.1f MFLOPs, %zu params; weights %zu bytes\n", id, c->depth, c->dim,
           lg_config_flops(c) / 1e6, lg_config_params(c), b.len);

    /* predict: HTTP vs in-process */
    int batches[2] = {1, 64};
    for (int bi = 0; bi < 2; bi++) {
        int B = batches[bi];
        float *x = malloc((size_t)B * per * sizeof *x), *logits = malloc((size_t)B * c->classes * sizeof(float));
        lg_rng r;
        lg_rng_seed(&r, 7);
        for (size_t i = 0; i < (size_t)B * per; i++) x[i] = lg_rng_normal(&r);
        lg_ctx *ctx = NULL;
        lg_ctx_new(&ctx, m, B, threads, 0, err, sizeof err);
        long n_core = 0;
        lg_forward(ctx, logits, x, B); /* warm */
        double t0 = now_s();
        while (now_s() - t0 < secs) lg_forward(ctx, logits, x, B), n_core++;
        double core_s = (now_s() - t0) / n_core;
        snprintf(url, sizeof url, "%s/v1/models/%s/predict", base, id);
        request(h, "POST", url, x, (size_t)B * per * sizeof(float), "application/octet-stream", &b); /* warm */
        long n_http = 0;
        t0 = now_s();
        while (now_s() - t0 < secs) {
            st = request(h, "POST", url, x, (size_t)B * per * sizeof(float), "application/octet-stream", &b);
            if (st != 200) die("predict", st, &b);
            n_http++;
        }
        double http_s = (now_s() - t0) / n_http;
        printf("predict batch %2d: core %.3f ms (%.0f img/s), HTTP %.3f ms (%.0f img/s): HTTP costs %.1f%%\n", B,
               core_s * 1e3, B / core_s, http_s * 1e3, B / http_s, (http_s / core_s - 1) * 100);
        printf("JSON {\"case\":\"predict\",\"batch\":%d,\"core_ms\":%.4f,\"http_ms\":%.4f,\"overhead\":%.4f}\n", B,
               core_s * 1e3, http_s * 1e3, http_s / core_s - 1);
        lg_ctx_free(ctx);
        free(x);
        free(logits);
    }

    /* weights streaming */
    snprintf(url, sizeof url, "%s/v1/models/%s/weights", base, id);
    size_t bytes = 0;
    long n = 0;
    double t0 = now_s();
    while (now_s() - t0 < secs) {
        st = request(h, "GET", url, NULL, 0, NULL, &b);
        if (st != 200) die("weights", st, &b);
        bytes += b.len, n++;
    }
    double dt = now_s() - t0;
    printf("weights f32: %ld downloads of %zu bytes, %.2f GB/s\n", n, b.len, (double)bytes / dt / 1e9);
    printf("JSON {\"case\":\"weights\",\"bytes\":%zu,\"gbps\":%.4f}\n", b.len, (double)bytes / dt / 1e9);

    /* request to first weight byte, cache miss each time */
    double ttfb_sum = 0, grow_sum = 0;
    int reps = 10;
    for (int i = 0; i < reps; i++) {
        snprintf(url, sizeof url, "%s/v1/models", base);
        snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":12,\"seed\":%ld}", gene,
                 (long)(time(NULL) % 1000000) * 100 + i);
        t0 = now_s();
        st = request(h, "POST", url, body, strlen(body), "application/json", &b);
        double grown = now_s();
        if ((st != 200 && st != 201) || !json_str(b.data, "id", id, sizeof id)) die("POST /v1/models", st, &b);
        snprintf(url, sizeof url, "%s/v1/models/%s/weights", base, id);
        st = request(h, "GET", url, NULL, 0, NULL, &b);
        if (st != 200) die("weights", st, &b);
        ttfb_sum += b.first_byte - t0;
        grow_sum += grown - t0;
    }
    printf("depth-12 model, request to first weight byte: %.2f ms (POST /v1/models answered after %.2f ms)\n",
           ttfb_sum / reps * 1e3, grow_sum / reps * 1e3);
    printf("JSON {\"case\":\"ttfb\",\"ms\":%.3f,\"post_ms\":%.3f}\n", ttfb_sum / reps * 1e3, grow_sum / reps * 1e3);
    lg_model_free(m);
    lg_st_free(sf);
    free(b.data);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return 0;
}
