/* events.c - lgc_events (http.h): reads a text/event-stream and hands each
 * event (name and joined data lines) to a callback until the stream ends
 * or the callback stops it. Calls http_internal.h and libcurl; prints
 * nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* The stream being read: the line so far, the event so far, its error
 * answer when it is one. */
typedef struct {
    lgc_event_fn fn;
    void *user;
    const lgc_answer *ans;
    char *line, *data;
    size_t len, cap, dlen, dcap;
    char event[64];
    int stopped, too_big;
    lgc_resp errbody;
    lgc_sink errsink;
} sse;

/* The longest line, and event, kept. */
#define SSE_MAX_LINE ((size_t)16 << 20)

/* One line of the stream (without its end); a blank one dispatches. */
static int sse_line(sse *s, char *l, size_t len)
{
    if (len == 0) {
        if (s->dlen || s->event[0])
            s->stopped = s->fn(s->user, s->event[0] ? s->event : "message", s->data ? s->data : "");
        s->event[0] = 0, s->dlen = 0;
        if (s->data) s->data[0] = 0;
        return s->stopped ? -1 : 0;
    }
    if (l[0] == ':') return 0;
    char *colon = memchr(l, ':', len), *val = colon ? colon + 1 : l + len;
    size_t klen = colon ? (size_t)(colon - l) : len;
    if (*val == ' ') val++;
    size_t vlen = (size_t)(l + len - val);
    if (klen == 5 && !strncmp(l, "event", 5))
        snprintf(s->event, sizeof s->event, "%.*s", (int)vlen, val);
    else if (klen == 4 && !strncmp(l, "data", 4)) {
        if (lgc_grow(&s->data, &s->dcap, s->dlen + vlen + 2, 1024, SSE_MAX_LINE)) return s->too_big = 1, -1;
        if (s->dlen) s->data[s->dlen++] = '\n';
        memcpy(s->data + s->dlen, val, vlen);
        s->dlen += vlen;
        s->data[s->dlen] = 0;
    }
    return 0;
}

static size_t on_sse_body(char *data, size_t size, size_t n, void *user)
{
    sse *s = user;
    size_t len = size * n;
    if (s->ans->status < 200 || s->ans->status > 299) return lgc_sink_write(data, 1, len, &s->errsink);
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n') {
            if (lgc_grow(&s->line, &s->cap, s->len + 2, 1024, SSE_MAX_LINE)) return s->too_big = 1, 0;
            s->line[s->len++] = data[i];
            continue;
        }
        size_t l = s->len;
        if (l && s->line[l - 1] == '\r') l--;
        if (s->line) s->line[l] = 0;
        s->len = 0;
        if (sse_line(s, s->line ? s->line : (char *)"", l)) return 0;
    }
    return len;
}

lgc_status lgc_events(const lgc_conn *c, const char *path, lgc_event_fn fn, void *user, long *status, char *err,
                      size_t errlen)
{
    lgc_xfer x;
    sse s = {.fn = fn, .user = user};
    s.errsink = (lgc_sink){&s.errbody, 0, LGC_MAX_ERROR_BODY, 0};
    lgc_status st = lgc_xfer_open(&x, c, "GET", path, NULL, err, errlen);
    if (st != LGC_OK) goto out;
    lgc_xfer_header(&x, err, errlen, "Accept: text/event-stream");
    s.ans = &x.ans;
    curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_sse_body);
    curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &s);
    st = lgc_xfer_perform(&x, err, errlen);
    if (s.stopped)
        st = LGC_OK;
    else if (s.too_big) {
        snprintf(err, errlen, "%s: an event is larger than %zu MB", x.url, SSE_MAX_LINE >> 20);
        st = LGC_ERR_PROTO;
    } else if (st == LGC_OK && (x.ans.status < 200 || x.ans.status > 299)) {
        st = lgc_xfer_error(&x, &s.errbody, err, errlen);
    }
out:
    if (status) *status = x.ans.status;
    free(s.line);
    free(s.data);
    lgc_resp_free(&s.errbody);
    lgc_xfer_close(&x);
    return st;
}
