/* h_jobs.c - fine-tune jobs: list, describe, cancel, and progress as
 * Server-Sent Events (the job object whenever it changes, then "done"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"

enum MHD_Result lga_h_job_list(lga_req *r)
{
    lgs_job_row *rows = NULL;
    int n = 0;
    lgs_status s = lgs_job_list(r->srv->store, &rows, &n);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "job", NULL);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, lga_job_json(&rows[i]));
        lgs_job_row_free(&rows[i]);
    }
    free(rows);
    return lga_reply_json(r, 200, json_pack("{s:o}", "jobs", arr));
}

enum MHD_Result lga_h_job_get(lga_req *r)
{
    lgs_job_row j;
    lgs_status s = lga_resolve_job(r->srv, r->id, &j);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "job", NULL);
    json_t *o = lga_job_json(&j);
    lgs_job_row_free(&j);
    return lga_reply_json(r, 200, o);
}

enum MHD_Result lga_h_job_cancel(lga_req *r)
{
    lgs_job_row j;
    lgs_status s = lga_resolve_job(r->srv, r->id, &j);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "job", NULL);
    char id[65];
    snprintf(id, sizeof id, "%s", j.id);
    lgs_job_row_free(&j);
    s = lgs_job_cancel(r->srv->store, id);
    if (s == LGS_ERR_CONFLICT) return lga_reply_error(r, 409, "conflict", NULL, "job %s has already finished", id);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "job", NULL);
    if (r->srv->opt.hooks.jobs_changed) r->srv->opt.hooks.jobs_changed(r->srv->opt.hooks.ctx);
    if (lgs_job_get(r->srv->store, id, &j) != LGS_OK)
        return lga_reply_error(r, 500, "internal", NULL, "the job vanished");
    json_t *o = lga_job_json(&j);
    lgs_job_row_free(&j);
    return lga_reply_json(r, 202, o);
}

/* --------------------------------------------------------------- SSE */

typedef struct {
    lga_server *srv;
    char id[65];
    char *pending; /* event text not yet handed to MHD */
    size_t len, off;
    char last[1024]; /* the last job object sent, to send only changes */
    int done;
} sse;

static void sse_free(void *cls)
{
    sse *e = cls;
    free(e->pending);
    free(e);
}

/* Makes the next event: waits (this connection's own thread) until the
 * job changes, the job finishes, or 15 s pass (a comment keeps proxies
 * from timing the stream out). */
static int sse_next(sse *e)
{
    for (int waited = 0; waited < 150 && !atomic_load(&e->srv->draining); waited++) {
        lgs_job_row j;
        if (lgs_job_get(e->srv->store, e->id, &j) != LGS_OK) return -1;
        json_t *o = lga_job_json(&j);
        int finished = j.state >= LGS_JOB_SUCCEEDED;
        lgs_job_row_free(&j);
        char *text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!text) return -1;
        if (strncmp(text, e->last, sizeof e->last - 1) || finished) {
            snprintf(e->last, sizeof e->last, "%s", text);
            free(e->pending);
            e->pending = NULL;
            int n = asprintf(&e->pending, "event: progress\ndata: %s\n\n%s", text,
                             finished ? "event: done\ndata: {}\n\n" : "");
            free(text);
            if (n < 0) return -1;
            e->len = (size_t)n, e->off = 0, e->done = finished;
            return 0;
        }
        free(text);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(e->pending);
    e->pending = strdup(": keep-alive\n\n");
    e->len = e->pending ? strlen(e->pending) : 0, e->off = 0;
    return e->pending ? 0 : -1;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse *e = cls;
    if (e->off == e->len) {
        if (e->done || atomic_load(&e->srv->draining)) return MHD_CONTENT_READER_END_OF_STREAM;
        if (sse_next(e) != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = e->len - e->off < max ? e->len - e->off : max;
    memcpy(buf, e->pending + e->off, n);
    e->off += n;
    return (ssize_t)n;
}

enum MHD_Result lga_h_job_events(lga_req *r)
{
    lgs_job_row j;
    lgs_status s = lga_resolve_job(r->srv, r->id, &j);
    if (s != LGS_OK) return lga_reply_store_error(r, s, "job", NULL);
    sse *e = calloc(1, sizeof *e);
    if (!e) {
        lgs_job_row_free(&j);
        return lga_reply_error(r, 500, "internal", NULL, "out of memory");
    }
    e->srv = r->srv;
    snprintf(e->id, sizeof e->id, "%s", j.id);
    lgs_job_row_free(&j);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, e, sse_free);
    if (!resp) {
        sse_free(e);
        return lga_reply_error(r, 500, "internal", NULL, "out of memory");
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    return lga_reply(r, 200, resp);
}
