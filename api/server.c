/* server.c - the HTTP server: libmicrohttpd set-up, request bodies
 * accumulated under a cap, dispatch through the route table, replies
 * (JSON, errors) and the per-request metrics.
 *
 * MHD runs a thread per connection (bounded by max_connections): a thread
 * may wait - for a CPU task on the daemon's worker pool, for the next
 * progress event of a job - without stalling any other connection, while
 * the CPU work itself runs only on the bounded pool.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autoconfig.h"
#include "internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void lga_options_defaults(lga_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->listen_fd = -1;
    o->max_connections = 256;
    o->max_connections_per_ip = 64;
    o->request_timeout_s = 60;
    o->max_json_body = 1 << 20;
    o->max_upload = (size_t)256 << 20;
    o->max_batch = 256;
    o->max_header = 32768;
    o->max_depth = 64;
    o->max_model_bytes = (size_t)1 << 30;
    o->jobs_queue_max = 100;
    o->cache_bytes = (size_t)512 << 20;
    o->workers = 1;
    o->blas_threads = 1;
}

void lga_log(lga_server *s, int level, const char *fmt, ...)
{
    if (!s->opt.hooks.log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->opt.hooks.log(s->opt.hooks.ctx, level, msg);
}

void lga_limits(lga_server *s, size_t *max_json, size_t *max_upload, int *max_batch)
{
    pthread_mutex_lock(&s->cfg_lock);
    if (max_json) *max_json = s->opt.max_json_body;
    if (max_upload) *max_upload = s->opt.max_upload;
    if (max_batch) *max_batch = s->opt.max_batch;
    pthread_mutex_unlock(&s->cfg_lock);
}

void lga_model_limits(lga_server *s, int *max_depth, size_t *max_model_bytes, int *jobs_queue_max)
{
    pthread_mutex_lock(&s->cfg_lock);
    *max_depth = s->opt.max_depth;
    *max_model_bytes = s->opt.max_model_bytes;
    *jobs_queue_max = s->opt.jobs_queue_max;
    pthread_mutex_unlock(&s->cfg_lock);
}

int lga_run_cpu(lga_server *s, void (*work)(void *arg, int worker), void *arg)
{
    if (!s->opt.hooks.run_cpu) {
        work(arg, 0);
        return 0;
    }
    return s->opt.hooks.run_cpu(s->opt.hooks.ctx, work, arg);
}

/* ------------------------------------------------------------- replies */

enum MHD_Result lga_reply(lga_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp) {
        r->status = 500;
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Server", "learngened/" PACKAGE_VERSION);
    r->status = (int)status;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result lga_reply_json(lga_req *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) return lga_reply_error(r, 500, "internal", NULL, "out of memory rendering the answer");
    size_t len = strlen(text);
    text[len] = '\0';
    /* one more byte for the newline curl users like */
    char *out = realloc(text, len + 2);
    if (!out) {
        free(text);
        return MHD_NO;
    }
    out[len] = '\n';
    struct MHD_Response *resp = MHD_create_response_from_buffer(len + 1, out, MHD_RESPMEM_MUST_FREE);
    if (resp) MHD_add_response_header(resp, "Content-Type", "application/json");
    return lga_reply(r, status, resp);
}

enum MHD_Result lga_reply_error(lga_req *r, unsigned status, const char *code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *body = lga_json_error_body(code, msg, field);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) return MHD_NO;
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", "application/json");
        if (status == 429 || status == 503) MHD_add_response_header(resp, "Retry-After", "1");
    }
    if (status >= 500) lga_log(r->srv, 1, "event=error status=%u route=\"%s\" msg=\"%s\"", status, r->url, msg);
    return lga_reply(r, status, resp);
}

enum MHD_Result lga_reply_json_error(lga_req *r, const lga_json_error *e)
{
    return lga_reply_error(r, 400, "bad_request", e->field[0] ? e->field : NULL, "%s", e->message);
}

enum MHD_Result lga_reply_store_error(lga_req *r, lgs_status s, const char *what, const char *detail)
{
    switch (s) {
    case LGS_ERR_NOTFOUND: return lga_reply_error(r, 404, "not_found", "id", "no %s '%s'", what, r->id);
    case LGS_ERR_CONFLICT:
        return lga_reply_error(r, 409, "conflict", NULL, "%s",
                               detail && *detail ? detail : "conflicts with stored data");
    case LGS_ERR_INVALID:
        return lga_reply_error(r, 400, "bad_request", "id", "%s", detail && *detail ? detail : "invalid id");
    default:
        return lga_reply_error(r, 500, "internal", NULL, "store: %s%s%s", lgs_strerror(s), detail ? ": " : "",
                               detail ? detail : "");
    }
}

enum MHD_Result lga_reply_busy(lga_req *r)
{
    return lga_reply_error(r, 503, "unavailable", NULL, "all workers are busy and the queue is full; retry shortly");
}

const char *lga_query(lga_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *lga_header(lga_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

json_t *lga_body_json(lga_req *r, enum MHD_Result *replied)
{
    lga_json_error e;
    json_t *obj = lga_json_parse_object(r->body, r->body_len, &e);
    if (!obj) *replied = lga_reply_json_error(r, &e);
    return obj;
}

/* ------------------------------------------------------------ requests */

static size_t body_cap(lga_server *s, lga_body_kind k)
{
    size_t json, upload;
    lga_limits(s, &json, &upload, NULL);
    return k == LGA_BODY_UPLOAD ? upload : k == LGA_BODY_JSON ? json : 0;
}

/* 401 without a known token (when tokens are configured), 403 when the
 * token's scope is too small. The secret is never logged. */
static int check_auth(lga_req *r, enum MHD_Result *replied)
{
    lga_server *s = r->srv;
    int rc = 0;
    pthread_rwlock_rdlock(&s->tokens_lock);
    if (lga_tokens_count(s->tokens) > 0) {
        size_t len = 0;
        const char *who = NULL;
        const char *secret = lga_bearer(lga_header(r, MHD_HTTP_HEADER_AUTHORIZATION), &len);
        lga_scope have = lga_tokens_check(s->tokens, secret, len, &who);
        if (have == LGA_SCOPE_NONE) {
            rc = -1;
            json_t *body = lga_json_error_body("unauthorized",
                                               secret ? "the bearer token is not valid"
                                                      : "this route needs an Authorization: Bearer token",
                                               "Authorization");
            char *text = json_dumps(body, JSON_COMPACT);
            json_decref(body);
            struct MHD_Response *resp =
                text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
            if (resp) {
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"learngened\"");
                MHD_add_response_header(resp, "Content-Type", "application/json");
            }
            *replied = lga_reply(r, 401, resp);
        } else if (have < r->route->scope) {
            rc = -1;
            *replied = lga_reply_error(r, 403, "forbidden", "Authorization", "token '%s' has the %s scope; %s needs %s",
                                       who, lga_scope_name(have), r->route->name, lga_scope_name(r->route->scope));
        }
    }
    pthread_rwlock_unlock(&s->tokens_lock);
    return rc;
}

void lga_set_tokens(lga_server *s, struct lga_tokens *t)
{
    pthread_rwlock_wrlock(&s->tokens_lock);
    lga_tokens *old = s->tokens;
    s->tokens = t;
    pthread_rwlock_unlock(&s->tokens_lock);
    lga_tokens_free(old);
}

static enum MHD_Result dispatch(lga_req *r)
{
    if (r->too_large)
        return lga_reply_error(r, 413, "too_large", "body", "the request body is larger than the limit of %zu bytes",
                               r->body_max);
    if (!r->route) {
        char allow[128] = "";
        int known = 0;
        char id[80];
        lga_route_match(r->method, r->url, id, sizeof id, &known, allow, sizeof allow);
        if (!known) return lga_reply_error(r, 404, "not_found", NULL, "no route %s %s", r->method, r->url);
        json_t *body = lga_json_error_body("method_not_allowed", "method not allowed here", NULL);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text) return MHD_NO;
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (resp) {
            MHD_add_response_header(resp, "Allow", allow);
            MHD_add_response_header(resp, "Content-Type", "application/json");
        }
        return lga_reply(r, 405, resp);
    }
    if (r->route->scope != LGA_SCOPE_NONE) {
        enum MHD_Result denied;
        if (check_auth(r, &denied) != 0) return denied;
    }
    if (r->route->body == LGA_BODY_NONE && r->body_len > 0)
        return lga_reply_error(r, 400, "bad_request", "body", "%s takes no request body", r->route->name);
    return r->route->handler(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    lga_server *s = cls;
    lga_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->srv = s;
        r->conn = conn;
        r->url = url;
        r->method = method;
        r->started = now_s();
        pthread_mutex_lock(&s->cfg_lock);
        unsigned timeout = (unsigned)s->opt.request_timeout_s;
        pthread_mutex_unlock(&s->cfg_lock);
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, timeout); /* live on reload */
        int known = 0;
        r->route = lga_route_match(method, url, r->id, sizeof r->id, &known, NULL, 0);
        r->body_max = r->route ? body_cap(s, r->route->body) : 0;
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        /* A declared length over the cap is refused before reading it. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && r->route && r->route->body != LGA_BODY_NONE) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > r->body_max) {
                r->too_large = 1;
                return dispatch(r);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large || !r->route) return MHD_YES; /* unrouted: 404/405 ignores the body */
        if (r->route->body == LGA_BODY_NONE) {         /* counted only: the answer is 400 */
            r->body_len += n;
            return MHD_YES;
        }
        if (n > r->body_max - r->body_len) {
            r->too_large = 1;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            return MHD_YES;
        }
        if (r->body_len + n > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 4096;
            while (cap < r->body_len + n) cap *= 2;
            if (cap > r->body_max) cap = r->body_max;
            uint8_t *p = realloc(r->body, cap);
            if (!p) return MHD_NO;
            r->body = p;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        return MHD_YES;
    }
    if (r->status) return MHD_YES; /* already answered (early 413) */
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    lga_server *s = cls;
    lga_req *r = *con_cls;
    if (!r) return;
    double dt = now_s() - r->started;
    const char *name = r->route ? r->route->name : "unmatched";
    lga_metrics_request(s->metrics, name, r->status ? r->status : 499, dt);
    lga_log(s, r->status >= 500 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? 1 : 3,
            "event=request method=%s path=\"%s\" status=%d ms=%.2f%s", r->method, r->url, r->status, dt * 1e3,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---------------------------------------------------------- lifecycle */

static int resolve_addr(const char *host, int port, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "listen address '%s' is not a numeric IPv4 or IPv6 address: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int lga_start(lga_server **out, const lga_options *o, char *err, size_t errlen)
{
    *out = NULL;
    lga_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->opt = *o;
    s->store = o->store;
    pthread_mutex_init(&s->cfg_lock, NULL);
    pthread_rwlock_init(&s->tokens_lock, NULL);
    s->metrics = lga_metrics_new();
    s->cache = lga_cache_new(o->cache_bytes, o->workers > 0 ? o->workers : 1);
    if (!s->metrics || !s->cache) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (o->listen_fd < 0) {
        if (resolve_addr(o->host, o->port, &ss, err, errlen) != 0) goto fail;
        if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    }
    struct MHD_OptionItem opts[] = {
        {o->listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
         o->listen_fd >= 0 ? (intptr_t)o->listen_fd : 0, o->listen_fd >= 0 ? NULL : (void *)&ss},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)o->max_connections_per_ip, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->request_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(o->max_header ? o->max_header : 32768), NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address of this host)", o->host, o->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    *out = s;
    return 0;
fail:
    lga_stop(s);
    return -1;
}

int lga_port(const lga_server *s) { return s->port; }

void lga_quiesce(lga_server *s)
{
    atomic_store(&s->draining, 1);
    if (!s->mhd) return;
    /* MHD hands the listening socket over; closing it refuses new
     * connections at once (with socket activation systemd keeps its copy) */
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

int lga_inflight(const lga_server *s) { return atomic_load(&((lga_server *)s)->inflight); }

void lga_reconfigure(lga_server *s, const lga_options *o)
{
    pthread_mutex_lock(&s->cfg_lock);
    s->opt.max_json_body = o->max_json_body;
    s->opt.max_upload = o->max_upload;
    s->opt.max_batch = o->max_batch;
    s->opt.cache_bytes = o->cache_bytes;
    s->opt.request_timeout_s = o->request_timeout_s;
    s->opt.max_depth = o->max_depth;
    s->opt.max_model_bytes = o->max_model_bytes;
    s->opt.jobs_queue_max = o->jobs_queue_max;
    pthread_mutex_unlock(&s->cfg_lock);
    lga_cache_set_max(s->cache, o->cache_bytes);
}

void lga_cache_stats(lga_server *s, int *models, size_t *bytes) { lga_cache_stats_get(s->cache, models, bytes); }

void lga_stop(lga_server *s)
{
    if (!s) return;
    if (s->mhd) MHD_stop_daemon(s->mhd);
    lga_cache_free(s->cache);
    lga_metrics_free(s->metrics);
    lga_tokens_free(s->tokens);
    pthread_rwlock_destroy(&s->tokens_lock);
    pthread_mutex_destroy(&s->cfg_lock);
    free(s);
}
