/* httpc.c - the integration test's HTTP client (see httpc.h): libcurl easy
 * handles, one per request, with the body and the header lines gathered in
 * memory. Calls libcurl and jansson only. */
#include "httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

typedef struct {
    httpc_response *r;
    size_t cap;        /* bytes allocated for r->body */
    size_t stop_after; /* 0: take everything */
    int oom;
} sink;

static void headers_clear(httpc_response *r)
{
    for (int i = 0; i < r->nheaders; i++) free(r->headers[i].name);
    free(r->headers);
    r->headers = NULL;
    r->nheaders = 0;
}

void httpc_response_free(httpc_response *r)
{
    if (!r) return;
    headers_clear(r);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    httpc_response *r = s->r;
    size_t n = size * nmemb, take = n;
    if (s->stop_after && r->len + take > s->stop_after) take = s->stop_after - r->len;
    if (r->len + take + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < r->len + take + 1) cap *= 2;
        if (cap > HTTPC_MAX_BODY + 1) {
            s->oom = 1;
            return 0;
        }
        uint8_t *b = realloc(r->body, cap);
        if (!b) {
            s->oom = 1;
            return 0;
        }
        r->body = b, s->cap = cap;
    }
    memcpy(r->body + r->len, data, take);
    r->len += take;
    r->body[r->len] = 0;
    if (take < n || (s->stop_after && r->len == s->stop_after)) {
        r->truncated = 1;
        return 0; /* abort the transfer here, like a dropped connection */
    }
    return n;
}

/* One header line ("Name: value\r\n"), or a status line that starts a new
 * answer (after a 100 Continue the headers start over). */
static size_t on_header(char *line, size_t size, size_t nitems, void *user)
{
    sink *s = user;
    httpc_response *r = s->r;
    size_t n = size * nitems, len = n;
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n')) len--;
    if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
        headers_clear(r);
        return n;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon) return n; /* the blank line ending the block */
    httpc_header *h = realloc(r->headers, (size_t)(r->nheaders + 1) * sizeof *h);
    if (!h) {
        s->oom = 1;
        return 0;
    }
    r->headers = h;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    size_t vlen = (size_t)(end - v);
    char *mem = malloc(nlen + 1 + vlen + 1); /* name and value in one block */
    if (!mem) {
        s->oom = 1;
        return 0;
    }
    memcpy(mem, line, nlen);
    mem[nlen] = 0;
    memcpy(mem + nlen + 1, v, vlen);
    mem[nlen + 1 + vlen] = 0;
    h[r->nheaders].name = mem;
    h[r->nheaders].value = mem + nlen + 1;
    r->nheaders++;
    return n;
}

static int has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; headers && headers[i]; i++)
        if (!strncasecmp(headers[i], name, n) && headers[i][n] == ':') return 1;
    return 0;
}

static long perform(httpc_response *r, const char *method, const char *url, const char *const *headers,
                    const void *body, size_t len, size_t stop_after, long timeout_ms)
{
    memset(r, 0, sizeof *r);
    sink s = {.r = r, .stop_after = stop_after};
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(r->error, sizeof r->error, "curl_easy_init failed");
        return 0;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    /* bytes exactly as sent: no transparent decoding */
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(c, CURLOPT_HTTP_TRANSFER_DECODING, 1L);

    for (int i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
    if (!has_header(headers, "Expect")) hl = curl_slist_append(hl, "Expect:");
    int is_head = !strcmp(method, "HEAD");
    if (is_head) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (body || strcmp(method, "GET")) {
        if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
            if (!has_header(headers, "Content-Type"))
                hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : (const void *)"");
        }
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r->truncated && !s.oom))
        snprintf(r->error, sizeof r->error, "%.150s%s%.300s", curl_easy_strerror(rc), cerr[0] ? ": " : "", cerr);
    if (s.oom) snprintf(r->error, sizeof r->error, "out of memory or body over %zu bytes", (size_t)HTTPC_MAX_BODY);
    if (!r->body) { /* always a valid empty string */
        r->body = calloc(1, 1);
        r->len = 0;
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r->status;
}

long httpc_request(httpc_response *r, const char *method, const char *url, const char *const *headers, const void *body,
                   size_t len)
{
    return perform(r, method, url, headers, body, len, 0, HTTPC_TIMEOUT_MS);
}

long httpc_request_timeout(httpc_response *r, const char *method, const char *url, const char *const *headers,
                           const void *body, size_t len, long timeout_ms)
{
    return perform(r, method, url, headers, body, len, 0, timeout_ms);
}

long httpc_get_partial(httpc_response *r, const char *url, const char *const *headers, size_t stop_after)
{
    return perform(r, "GET", url, headers, NULL, 0, stop_after, HTTPC_TIMEOUT_MS);
}

long httpc_get_range(httpc_response *r, const char *url, long long first, long long last)
{
    char range[96];
    if (last < 0)
        snprintf(range, sizeof range, "Range: bytes=%lld-", first);
    else
        snprintf(range, sizeof range, "Range: bytes=%lld-%lld", first, last);
    const char *h[] = {range, NULL};
    return perform(r, "GET", url, h, NULL, 0, 0, HTTPC_TIMEOUT_MS);
}

const char *httpc_header_get(const httpc_response *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

json_t *httpc_json(const httpc_response *r)
{
    if (!r->body || !r->len) return NULL;
    return json_loadb((const char *)r->body, r->len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

json_t *httpc_get_json(httpc_response *r, const char *url)
{
    httpc_request(r, "GET", url, NULL, NULL, 0);
    return httpc_json(r);
}

json_t *httpc_post_json(httpc_response *r, const char *url, const char *text)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    httpc_request(r, "POST", url, h, text, strlen(text));
    return httpc_json(r);
}
