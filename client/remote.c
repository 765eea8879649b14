/* remote.c - the plumbing every daemon subcommand shares (remote.h): the
 * --url/--token/--json options, the connection, calls with a JSON answer,
 * names resolved to ids, the exit status of a failure with its message on
 * stderr, usage errors, JSON member access and reading an upload whole.
 * Calls http.h, jansson and the core (model configs) only. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

/* 1 when code was one of the shared options. */
int remote_option(remote *r, int code, const char *arg)
{
    switch (code) {
    case R_URL: r->url = arg; return 1;
    case R_TOKEN: r->token = arg; return 1;
    case R_JSON: r->json = 1; return 1;
    }
    return 0;
}

/* The exit status for a failed call, after printing its message. */
int remote_fail(remote *r, lgc_status s, long status)
{
    fprintf(stderr, "%s: %s\n", r->who, r->err);
    if (s == LGC_ERR_CONFIG) return CLI_USAGE;
    if (s == LGC_ERR_HTTP && status == 404) return CLI_NOTFOUND;
    if (s == LGC_ERR_HTTP && (status == 401 || status == 403)) return CLI_DENIED;
    return CLI_FAIL;
}

int remote_connect(remote *r)
{
    lgc_status s = lgc_conn_init(&r->conn, r->url, r->token, r->err, sizeof r->err);
    return s == LGC_OK ? CLI_OK : remote_fail(r, s, 0);
}

int remote_call_json(remote *r, const char *method, const json_t *body, json_t **out, long *status, const char *fmt,
                     ...)
{
    char path[1024];
    long st = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    lgc_status s = lgc_json(&r->conn, method, path, body, out, &st, r->err, sizeof r->err);
    if (status) *status = st;
    if (s == LGC_OK && out && !*out) {
        snprintf(r->err, sizeof r->err, "%s %s%s: the answer is empty", method, r->conn.url, path);
        s = LGC_ERR_PROTO;
    }
    return s == LGC_OK ? CLI_OK : remote_fail(r, s, st);
}

/* A raw body (safetensors, images) with a JSON answer. */
int remote_call_raw(remote *r, const char *path, const char *ctype, const void *body, size_t len, json_t **out,
                    long *status)
{
    lgc_resp resp;
    json_error_t je;
    lgc_status s = lgc_request(&r->conn, "POST", path, ctype, body, len, &resp, r->err, sizeof r->err);
    *status = resp.status;
    *out = NULL;
    if (s == LGC_OK && !(*out = json_loadb(resp.body ? resp.body : "", resp.len, JSON_REJECT_DUPLICATES, &je))) {
        snprintf(r->err, sizeof r->err, "POST %s%s: the answer is not JSON (%s)", r->conn.url, path, je.text);
        s = LGC_ERR_PROTO;
    }
    lgc_resp_free(&resp);
    return s == LGC_OK ? CLI_OK : remote_fail(r, s, *status);
}

/* The id of what arg names in the listed collections: arg itself when it
 * is an id (8 or more hex digits), else the one object whose name it is. */
int remote_resolve(remote *r, const char *arg, const char *const *colls, const char *what, char *id, size_t n)
{
    int rc, found = 0;
    if (remote_is_hex(arg, 8)) {
        snprintf(id, n, "%s", arg);
        return CLI_OK;
    }
    for (int k = 0; colls[k]; k++) {
        json_t *j = NULL, *o;
        size_t i;
        if ((rc = remote_call_json(r, "GET", NULL, &j, NULL, "/v1/%s", colls[k]))) return rc;
        json_array_foreach(json_object_get(j, colls[k]), i, o)
        {
            if (!strcmp(jstr(o, "name"), arg) && !found++) snprintf(id, n, "%s", jstr(o, "id"));
        }
        json_decref(j);
    }
    if (found == 1) return CLI_OK;
    fprintf(stderr, "%s: %s %s '%s' on %s\n", r->who, found ? "several of the" : "no", what, arg, r->conn.url);
    return found ? CLI_FAIL : CLI_NOTFOUND;
}

void remote_print_json(const json_t *j, int compact)
{
    json_dumpf(j, stdout, compact ? JSON_COMPACT : JSON_INDENT(2));
    fputc('\n', stdout);
    fflush(stdout);
}

/* Prints the help for code 'h' (exit 0) or a bad option (exit 2). */
int remote_help_or_usage(int code, const char *help)
{
    fputs(help, code == 'h' ? stdout : stderr);
    return code == 'h' ? CLI_OK : CLI_USAGE;
}

int remote_usage_error(const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", who);
    va_end(ap);
    return CLI_USAGE;
}

const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* A number, or NAN for null / absent. */
double jnum(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int remote_is_hex(const char *s, size_t min)
{
    size_t n = strlen(s);
    if (n < min || n > 64) return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s)) return 0;
    return 1;
}

/* The model config of a JSON object's "config", with depth overridden
 * when depth > 0; -1 when it is not one. */
int remote_json_config(lg_config *c, const json_t *obj, int depth)
{
    char err[256], *text = json_dumps(json_object_get(obj, "config"), JSON_COMPACT);
    int bad = !text || lg_config_from_json(c, text, strlen(text), err, sizeof err) != LG_OK;
    free(text);
    if (!bad && depth > 0) c->depth = depth;
    return bad ? -1 : 0;
}

int remote_read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    long n = -1;
    *buf = NULL;
    if (f && !fseek(f, 0, SEEK_END)) n = ftell(f);
    if (n < 0 || (size_t)n > REMOTE_MAX_READ || fseek(f, 0, SEEK_SET) || !(*buf = malloc(n ? (size_t)n : 1)) ||
        fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 n > 0 && (size_t)n > REMOTE_MAX_READ ? "larger than 1 GB" : strerror(errno ? errno : EIO));
        free(*buf);
        *buf = NULL;
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    *len = (size_t)n;
    return 0;
}
