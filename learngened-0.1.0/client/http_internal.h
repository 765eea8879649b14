/* http_internal.h - what the client's HTTP files (http.c, remote_config.c,
 * download.c, events.c) share and the callers of http.h need not see: one
 * libcurl transfer and the headers of its answer, the capped buffer a body
 * is kept in, and the message made of an error answer. */
#ifndef LG_CLIENT_HTTP_INTERNAL_H
#define LG_CLIENT_HTTP_INTERNAL_H

#include <stddef.h>

#include <curl/curl.h>

#include "http.h"

/* The headers of the answer that matter here (of the last answer when
 * there were interim ones). */
typedef struct {
    long status;
    char etag[160], sha256[80], content_range[128];
} lgc_answer;

/* One libcurl easy handle with the URL, the auth header and the answer. */
typedef struct {
    CURL *h;
    struct curl_slist *headers;
    const char *method;
    char url[2048];
    char errbuf[CURL_ERROR_SIZE];
    lgc_answer ans;
} lgc_xfer;

/* Prepares method on c->url + path with the auth header and ctype (NULL:
 * none); the caller sets the body and the write callback, then runs it
 * with lgc_xfer_perform and ends with lgc_xfer_close (also after a failed
 * open). */
lgc_status lgc_xfer_open(lgc_xfer *x, const lgc_conn *c, const char *method, const char *path, const char *ctype,
                         char *err, size_t errlen);
/* Adds a request header line (printf-style). */
lgc_status lgc_xfer_header(lgc_xfer *x, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Runs the transfer; LGC_ERR_NET when it failed, naming the URL. */
lgc_status lgc_xfer_perform(lgc_xfer *x, char *err, size_t errlen);
void lgc_xfer_close(lgc_xfer *x);
/* "GET URL: message (404 not_found, field id)" in err from the error answer
 * whose body is r, and its code in r->error_code. Returns LGC_ERR_HTTP. */
lgc_status lgc_xfer_error(const lgc_xfer *x, lgc_resp *r, char *err, size_t errlen);

/* A growing buffer with a cap, for bodies kept in memory: r->body holds
 * r->len bytes and a NUL, at most max bytes. */
typedef struct {
    lgc_resp *r;
    size_t cap, max;
    int too_big;
} lgc_sink;

/* Where the download and the event stream keep an error answer's body. */
#define LGC_MAX_ERROR_BODY ((size_t)1 << 16)

/* A libcurl write callback (user: an lgc_sink): appends the bytes, or
 * answers 0 (stop) with too_big set when they pass the cap. */
size_t lgc_sink_write(char *data, size_t size, size_t n, void *user);

/* Makes *buf hold at least need bytes, the capacity starting at first and
 * doubling; -1 (*buf untouched) when it would pass max or memory ran out. */
int lgc_grow(char **buf, size_t *cap, size_t need, size_t first, size_t max);

/* s without its leading and trailing blanks (the end is cut in place). */
char *lgc_trim(char *s);

#endif
