/* routes.c - the route table: every endpoint of the API (docs/api.md) as
 * (method, path pattern, handler, body kind), and matching a request
 * against it. {id} matches one path segment of id characters.
 */
#include <string.h>

#include "handlers.h"
#include "internal.h"

/* R: the usual scope - reading (GET) needs a read token, anything else a
 * write token; OPEN: no token (health, the status page); READ: a POST
 * that only reads (predict, infer). */
#define ROUTE(m, p, h, b, scope)                                                                                       \
    {                                                                                                                  \
        m, p, h, b, scope, m " " p                                                                                     \
    }
/* (the table only uses GET, POST and DELETE: GET is the one of 3 letters,
 * which a constant initializer can test) */
#define R(m, p, h, b) ROUTE(m, p, h, b, sizeof(m) == sizeof("GET") ? LGA_SCOPE_READ : LGA_SCOPE_WRITE)
#define OPEN(m, p, h, b) ROUTE(m, p, h, b, LGA_SCOPE_NONE)
#define READ(m, p, h, b) ROUTE(m, p, h, b, LGA_SCOPE_READ)

static const lga_route routes[] = {
    OPEN("GET", "/", lga_h_status_page, LGA_BODY_NONE),
    OPEN("GET", "/status.css", lga_h_status_css, LGA_BODY_NONE),
    OPEN("GET", "/status.js", lga_h_status_js, LGA_BODY_NONE),
    OPEN("GET", "/healthz", lga_h_healthz, LGA_BODY_NONE),
    OPEN("GET", "/readyz", lga_h_readyz, LGA_BODY_NONE),
    R("GET", "/metrics", lga_h_metrics, LGA_BODY_NONE),
    OPEN("GET", "/v1/version", lga_h_version, LGA_BODY_NONE),

    R("POST", "/v1/learngenes", lga_h_gene_upload, LGA_BODY_UPLOAD),
    R("GET", "/v1/learngenes", lga_h_gene_list, LGA_BODY_NONE),
    R("GET", "/v1/learngenes/{id}", lga_h_gene_get, LGA_BODY_NONE),
    R("GET", "/v1/learngenes/{id}/weights", lga_h_gene_weights, LGA_BODY_NONE),
    R("DELETE", "/v1/learngenes/{id}", lga_h_gene_delete, LGA_BODY_NONE),
    R("POST", "/v1/pools", lga_h_pool_upload, LGA_BODY_UPLOAD),
    R("GET", "/v1/pools", lga_h_pool_list, LGA_BODY_NONE),
    R("GET", "/v1/pools/{id}", lga_h_pool_get, LGA_BODY_NONE),
    R("GET", "/v1/pools/{id}/weights", lga_h_gene_weights, LGA_BODY_NONE),
    R("DELETE", "/v1/pools/{id}", lga_h_gene_delete, LGA_BODY_NONE),

    R("POST", "/v1/models", lga_h_model_create, LGA_BODY_JSON),
    R("GET", "/v1/models", lga_h_model_list, LGA_BODY_NONE),
    R("GET", "/v1/models/{id}", lga_h_model_get, LGA_BODY_NONE),
    R("DELETE", "/v1/models/{id}", lga_h_model_delete, LGA_BODY_NONE),
    R("GET", "/v1/models/{id}/weights", lga_h_model_weights, LGA_BODY_NONE),
    R("GET", "/v1/models/{id}/onnx", lga_h_model_onnx, LGA_BODY_NONE),
    READ("POST", "/v1/models/{id}/predict", lga_h_predict, LGA_BODY_UPLOAD),

    R("POST", "/v1/datasets", lga_h_dataset_upload, LGA_BODY_UPLOAD),
    R("GET", "/v1/datasets", lga_h_dataset_list, LGA_BODY_NONE),
    R("GET", "/v1/datasets/{id}", lga_h_dataset_get, LGA_BODY_NONE),

    R("GET", "/v1/jobs", lga_h_job_list, LGA_BODY_NONE),
    R("GET", "/v1/jobs/{id}", lga_h_job_get, LGA_BODY_NONE),
    R("GET", "/v1/jobs/{id}/events", lga_h_job_events, LGA_BODY_NONE),
    R("DELETE", "/v1/jobs/{id}", lga_h_job_cancel, LGA_BODY_NONE),

    OPEN("GET", "/v2", lga_h_oip_server, LGA_BODY_NONE),
    OPEN("GET", "/v2/health/live", lga_h_healthz, LGA_BODY_NONE),
    OPEN("GET", "/v2/health/ready", lga_h_readyz, LGA_BODY_NONE),
    R("GET", "/v2/models/{id}", lga_h_oip_model, LGA_BODY_NONE),
    R("GET", "/v2/models/{id}/ready", lga_h_oip_model_ready, LGA_BODY_NONE),
    READ("POST", "/v2/models/{id}/infer", lga_h_oip_infer, LGA_BODY_UPLOAD),
    READ("POST", "/v2/repository/index", lga_h_oip_index, LGA_BODY_JSON),
};

const lga_route *lga_routes(int *n)
{
    *n = (int)(sizeof routes / sizeof routes[0]);
    return routes;
}

/* An {id} segment: letters, digits, '-', '_', '.', at most idlen-1 long
 * (never "." or ".."), so nothing in it can climb a path. */
static int id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
           c == '.';
}

static int path_matches(const char *pattern, const char *path, char *id, size_t idlen)
{
    while (*pattern && *path) {
        if (!strncmp(pattern, "{id}", 4)) {
            size_t n = 0;
            while (path[n] && path[n] != '/') {
                if (!id_char(path[n])) return 0;
                n++;
            }
            if (n == 0 || n >= idlen || (n <= 2 && path[0] == '.' && path[n - 1] == '.')) return 0;
            memcpy(id, path, n);
            id[n] = '\0';
            path += n;
            pattern += 4;
            continue;
        }
        if (*pattern != *path) return 0;
        pattern++;
        path++;
    }
    /* one trailing slash is forgiven */
    if (!*pattern && path[0] == '/' && !path[1]) return 1;
    return !*pattern && !*path;
}

const lga_route *lga_route_match(const char *method, const char *path, char *id, size_t idlen, int *path_known,
                                 char *allow, size_t allowlen)
{
    char scratch[80];
    int n;
    const lga_route *t = lga_routes(&n);
    *path_known = 0;
    if (allow && allowlen) allow[0] = '\0';
    for (int i = 0; i < n; i++) {
        scratch[0] = '\0';
        if (!path_matches(t[i].pattern, path, scratch, sizeof scratch < idlen ? sizeof scratch : idlen)) continue;
        if (!strcmp(t[i].method, method) || (!strcmp(method, "HEAD") && !strcmp(t[i].method, "GET"))) {
            strcpy(id, scratch);
            return &t[i];
        }
        *path_known = 1;
        if (allow && !strstr(allow, t[i].method)) {
            size_t used = strlen(allow);
            snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", t[i].method);
        }
    }
    return NULL;
}
