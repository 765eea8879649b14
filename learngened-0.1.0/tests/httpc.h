/* httpc.h - a small blocking HTTP client (libcurl) for the daemon's
 * integration test: one request at a time, the whole answer in memory -
 * status, response headers (looked up case-insensitively) and body - plus
 * JSON helpers (jansson), a GET that stops after N body bytes (an
 * interrupted download) and a GET with a Range header. No proxies are used,
 * whatever the environment says: the test talks to loopback only.
 */
#ifndef LG_TEST_HTTPC_H
#define LG_TEST_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct {
    char *name, *value; /* value without leading blanks or the trailing CRLF */
} httpc_header;

typedef struct {
    long status;           /* HTTP status of the final answer; 0 when there was none */
    httpc_header *headers; /* of the final answer (interim 1xx ones are dropped) */
    int nheaders;
    uint8_t *body; /* malloc'd and NUL-terminated (the NUL is not counted in len) */
    size_t len;
    int truncated;   /* the body was cut at stop_after (httpc_get_partial) */
    char error[512]; /* libcurl's reason when the transfer failed, else "" */
} httpc_response;

/* Requests never take longer than this unless the caller says otherwise. */
#define HTTPC_TIMEOUT_MS 120000L
/* Bodies larger than this are refused (the transfer fails). */
#define HTTPC_MAX_BODY ((size_t)256 << 20)

/* Performs method (GET, POST, PUT, DELETE, HEAD …) on url with the extra
 * headers (NULL-terminated list of "Name: value", may be NULL) and body
 * (len bytes, may be NULL). A body without a Content-Type header is sent as
 * application/octet-stream; "Expect: 100-continue" is only sent when the
 * caller lists it. *r is overwritten (not freed first) and must be released
 * with httpc_response_free. Returns r->status. */
long httpc_request(httpc_response *r, const char *method, const char *url, const char *const *headers, const void *body,
                   size_t len);
/* A GET whose body is cut after stop_after bytes (the transfer is then
 * aborted, as a client that loses its connection would); r->truncated says
 * whether that happened. The status and headers are those received. */
long httpc_get_partial(httpc_response *r, const char *url, const char *const *headers, size_t stop_after);
/* A GET with "Range: bytes=first-last" (last < 0: "bytes=first-"). */
long httpc_get_range(httpc_response *r, const char *url, long long first, long long last);
/* The same with a bounded wait (milliseconds) - for streams that should end. */
long httpc_request_timeout(httpc_response *r, const char *method, const char *url, const char *const *headers,
                           const void *body, size_t len, long timeout_ms);

void httpc_response_free(httpc_response *r);
/* The first header called name (case-insensitive), or NULL. */
const char *httpc_header_get(const httpc_response *r, const char *name);
/* The body parsed as JSON (duplicate keys rejected), or NULL when it is not. */
json_t *httpc_json(const httpc_response *r);
/* GET url, and the body as JSON (NULL when it is not JSON). */
json_t *httpc_get_json(httpc_response *r, const char *url);
/* POST the NUL-terminated text as application/json, and the answer as JSON. */
json_t *httpc_post_json(httpc_response *r, const char *url, const char *text);

#endif
