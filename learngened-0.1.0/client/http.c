/* http.c - one request to the daemon with the answer in memory (lgc_request,
 * lgc_json), and the plumbing the download and the event stream share
 * (http_internal.h): the libcurl handle with the auth header, the answer's
 * headers, capped bodies and one-line messages from error answers. Calls
 * libcurl and jansson only; prints nothing. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "autoconfig.h"
#include "http_internal.h"

const char *lgc_strerror(lgc_status s)
{
    switch (s) {
    case LGC_OK: return "ok";
    case LGC_ERR_CONFIG: return "bad client configuration";
    case LGC_ERR_NET: return "network error";
    case LGC_ERR_HTTP: return "the daemon refused the request";
    case LGC_ERR_PROTO: return "unexpected answer from the daemon";
    case LGC_ERR_IO: return "local file error";
    case LGC_ERR_VERIFY: return "checksum mismatch";
    case LGC_ERR_NOMEM: return "out of memory";
    }
    return "unknown error";
}

/* ------------------------------------------------------------ transfers */

/* Copies the value of header `name` from line into out; 1 when it was it. */
static int header_value(const char *line, size_t len, const char *name, char *out, size_t outn)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':') return 0;
    const char *v = line + nl + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && isspace((unsigned char)v[vl - 1])) vl--;
    if (vl >= outn) vl = outn - 1;
    memcpy(out, v, vl);
    out[vl] = 0;
    return 1;
}

static size_t on_header(char *line, size_t size, size_t n, void *user)
{
    lgc_answer *a = user;
    size_t len = size * n;
    if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
        memset(a, 0, sizeof *a);
        const char *sp = memchr(line, ' ', len);
        if (sp) a->status = strtol(sp + 1, NULL, 10);
    } else if (!header_value(line, len, "ETag", a->etag, sizeof a->etag) &&
               !header_value(line, len, "X-Content-SHA256", a->sha256, sizeof a->sha256))
        header_value(line, len, "Content-Range", a->content_range, sizeof a->content_range);
    return len;
}

lgc_status lgc_xfer_header(lgc_xfer *x, char *err, size_t errlen, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct curl_slist *l = curl_slist_append(x->headers, line);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return LGC_ERR_NOMEM;
    }
    x->headers = l;
    return LGC_OK;
}

void lgc_xfer_close(lgc_xfer *x)
{
    curl_slist_free_all(x->headers);
    if (x->h) curl_easy_cleanup(x->h);
    x->headers = NULL, x->h = NULL;
}

lgc_status lgc_xfer_open(lgc_xfer *x, const lgc_conn *c, const char *method, const char *path, const char *ctype,
                         char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    x->method = method;
    int n = snprintf(x->url, sizeof x->url, "%s%s", c->url, path);
    if (n < 0 || (size_t)n >= sizeof x->url) {
        snprintf(err, errlen, "the URL %s%s is too long", c->url, path);
        return LGC_ERR_CONFIG;
    }
    if (!(x->h = curl_easy_init())) {
        snprintf(err, errlen, "libcurl could not make a handle");
        return LGC_ERR_NOMEM;
    }
    lgc_status s = lgc_xfer_header(x, err, errlen, "Expect:");
    if (s == LGC_OK && c->token[0]) s = lgc_xfer_header(x, err, errlen, "Authorization: Bearer %s", c->token);
    if (s == LGC_OK && ctype) s = lgc_xfer_header(x, err, errlen, "Content-Type: %s", ctype);
    if (s != LGC_OK) return s;
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "learngene/" PACKAGE_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x->ans);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else if (strcmp(method, "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    return LGC_OK;
}

static void xfer_body(lgc_xfer *x, const void *body, size_t len)
{
    curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
}

/* Copies s into out as one line: control characters become blanks. */
static void one_line(char *out, size_t n, const char *s, size_t len)
{
    size_t i = 0;
    for (; i + 1 < n && i < len && s[i]; i++) out[i] = iscntrl((unsigned char)s[i]) ? ' ' : s[i];
    if (n) out[i] = 0;
}

lgc_status lgc_xfer_error(const lgc_xfer *x, lgc_resp *r, char *err, size_t errlen)
{
    json_t *j = r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    const char *ecode = NULL, *msg = NULL, *field = NULL;
    if (j) json_unpack(j, "{s:{s?s,s?s,s?s}}", "error", "code", &ecode, "message", &msg, "field", &field);
    char m[600];
    if (msg)
        one_line(m, sizeof m, msg, strlen(msg));
    else
        one_line(m, sizeof m, r->body ? r->body : "", r->len < 200 ? r->len : 200);
    snprintf(r->error_code, sizeof r->error_code, "%s", ecode ? ecode : "");
    const char *hint = x->ans.status == 401 || x->ans.status == 403
                           ? "; set a token with --token, LEARNGENE_TOKEN or 'token = …' in the config file"
                           : "";
    if (msg)
        snprintf(err, errlen, "%s %s: %s (%ld %s%s%s)%s", x->method, x->url, m, x->ans.status, ecode ? ecode : "error",
                 field ? ", field " : "", field ? field : "", hint);
    else
        snprintf(err, errlen, "%s %s: HTTP %ld%s%s%s", x->method, x->url, x->ans.status, m[0] ? ": " : "", m, hint);
    json_decref(j);
    return LGC_ERR_HTTP;
}

lgc_status lgc_xfer_perform(lgc_xfer *x, char *err, size_t errlen)
{
    CURLcode rc = curl_easy_perform(x->h);
    if (rc == CURLE_OK) return LGC_OK;
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    if (x->ans.status)
        snprintf(err, errlen, "%s %s: the transfer broke off: %s", x->method, x->url, why);
    else
        snprintf(err, errlen, "cannot reach %s: %s", x->url, why);
    return LGC_ERR_NET;
}

int lgc_grow(char **buf, size_t *cap, size_t need, size_t first, size_t max)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : first;
    while (c < need) c *= 2;
    char *b = c <= max ? realloc(*buf, c) : NULL;
    if (!b) return -1;
    *buf = b, *cap = c;
    return 0;
}

size_t lgc_sink_write(char *data, size_t size, size_t n, void *user)
{
    lgc_sink *s = user;
    lgc_resp *r = s->r;
    size_t len = size * n;
    if (lgc_grow(&r->body, &s->cap, r->len + len + 1, 4096, s->max + 1)) {
        s->too_big = 1;
        return 0;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = 0;
    return len;
}

void lgc_resp_free(lgc_resp *r)
{
    if (!r) return;
    free(r->body);
    memset(r, 0, sizeof *r);
}

lgc_status lgc_request(const lgc_conn *c, const char *method, const char *path, const char *ctype, const void *body,
                       size_t len, lgc_resp *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    lgc_xfer x;
    lgc_sink s = {r, 0, LGC_MAX_BODY, 0};
    lgc_status st = lgc_xfer_open(&x, c, method, path, ctype, err, errlen);
    if (st != LGC_OK) goto out;
    if (body || !strcmp(method, "POST")) xfer_body(&x, body, len);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(x.h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, lgc_sink_write);
    curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &s);
    st = lgc_xfer_perform(&x, err, errlen);
    r->status = x.ans.status;
    if (s.too_big) {
        snprintf(err, errlen, "%s %s: the answer is larger than %zu MB", method, x.url, LGC_MAX_BODY >> 20);
        st = LGC_ERR_PROTO;
    } else if (st == LGC_OK && (r->status < 200 || r->status > 299)) {
        st = lgc_xfer_error(&x, r, err, errlen);
    }
out:
    lgc_xfer_close(&x);
    return st;
}

lgc_status lgc_json(const lgc_conn *c, const char *method, const char *path, const json_t *body, json_t **out,
                    long *status, char *err, size_t errlen)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    lgc_resp r;
    if (out) *out = NULL;
    if (body && !text) {
        snprintf(err, errlen, "out of memory");
        return LGC_ERR_NOMEM;
    }
    lgc_status s =
        lgc_request(c, method, path, body ? "application/json" : NULL, text, text ? strlen(text) : 0, &r, err, errlen);
    free(text);
    if (status) *status = r.status;
    if (s == LGC_OK && out && r.len) {
        json_error_t je;
        if (!(*out = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &je))) {
            snprintf(err, errlen, "%s %s%s: the answer is not JSON (%s)", method, c->url, path, je.text);
            s = LGC_ERR_PROTO;
        }
    }
    lgc_resp_free(&r);
    return s;
}
