/* http.h - the learngene client's HTTP side (libcurl, jansson, OpenSSL):
 * where the daemon is and which token to send (flags, environment, the
 * config file: remote_config.c), one request with the answer in memory and
 * a JSON request (http.c), a resumable sha256-verified download
 * (download.c), and a server-sent-event stream (events.c); what those
 * files share among themselves is in http_internal.h. Nothing here prints
 * on stdout; lgc_download draws its progress bar and says when it resumes
 * on stderr when asked to. */
#ifndef LG_CLIENT_HTTP_H
#define LG_CLIENT_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Add-only, like every error enum of the project. */
typedef enum {
    LGC_OK = 0,
    LGC_ERR_CONFIG, /* the URL or the config file is unusable */
    LGC_ERR_NET,    /* the daemon could not be reached or the transfer broke */
    LGC_ERR_HTTP,   /* the daemon answered with an error status */
    LGC_ERR_PROTO,  /* the answer is not what the API promises (not JSON, …) */
    LGC_ERR_IO,     /* a local file could not be read or written */
    LGC_ERR_VERIFY, /* a download's sha256 is not the one the daemon announced */
    LGC_ERR_NOMEM
} lgc_status;

const char *lgc_strerror(lgc_status s);

/* Where the daemon is. url has no trailing slash; token "" sends none. */
typedef struct {
    char url[1024];
    char token[1024];
    char config_path[1024]; /* the config file consulted ("" when none was) */
    int curl_ready;         /* libcurl's global state is set up (lgc_conn_free undoes it) */
} lgc_conn;

#define LGC_DEFAULT_URL "http://127.0.0.1:8080"

/* Resolves the URL and the token, each from the first of: the flag (NULL
 * when not given), LEARNGENE_URL / LEARNGENE_TOKEN, the `url = …` /
 * `token = …` lines of $XDG_CONFIG_HOME/learngene/config (default
 * ~/.config/learngene/config), and for the URL LGC_DEFAULT_URL. Unknown
 * keys in the config file are warned about on stderr. Pair with
 * lgc_conn_free. */
lgc_status lgc_conn_init(lgc_conn *c, const char *url_flag, const char *token_flag, char *err, size_t errlen);
void lgc_conn_free(lgc_conn *c);

/* One answer, whole, in memory (bodies over LGC_MAX_BODY are refused). */
typedef struct {
    long status; /* 0 when no answer came */
    char *body;  /* NUL-terminated, not counted in len */
    size_t len;
    char error_code[64]; /* "code" of a JSON error body, e.g. "not_found" */
} lgc_resp;

#define LGC_MAX_BODY ((size_t)256 << 20)

void lgc_resp_free(lgc_resp *r);

/* method path (starting with "/", query included) with the body (len bytes,
 * may be NULL) sent as ctype. Fills *r (free it with lgc_resp_free whatever
 * the outcome). LGC_OK for 2xx; LGC_ERR_HTTP otherwise, err then holding a
 * one-line message naming the URL with the daemon's error message, code and
 * field; LGC_ERR_NET when there was no answer. */
lgc_status lgc_request(const lgc_conn *c, const char *method, const char *path, const char *ctype, const void *body,
                       size_t len, lgc_resp *r, char *err, size_t errlen);

/* The same with a JSON body (NULL: none) and a JSON answer in *out (the
 * caller json_decref's it). *status gets the HTTP status (may be NULL). */
lgc_status lgc_json(const lgc_conn *c, const char *method, const char *path, const json_t *body, json_t **out,
                    long *status, char *err, size_t errlen);

/* Download options and what happened. */
typedef struct {
    FILE *notices;        /* "resuming …", "starting over …" go here; NULL: quiet */
    int progress;         /* draw a progress bar on stderr */
    long long rate_limit; /* bytes per second, 0: unlimited */
    const char *who;      /* prefix of the notices, e.g. "learngene get" */
} lgc_dl_opts;

typedef struct {
    long status;            /* HTTP status of the last answer (0: none) */
    long long size;         /* bytes of the whole file */
    long long resumed_from; /* bytes that were already in FILE.part (0: a fresh start) */
    int restarted;          /* FILE.part was of other bytes (ETag changed) and was dropped */
    char sha256[65];        /* hex of the whole file, checked against X-Content-SHA256 */
} lgc_dl_result;

/* GET path into file through file.part (and file.part.etag, the ETag the
 * part belongs to): an existing part is resumed with a Range request when
 * its ETag still matches, and restarted otherwise. The whole file's sha256
 * must equal the daemon's X-Content-SHA256, else the part is removed and
 * LGC_ERR_VERIFY returned. On success file.part is renamed to file. An
 * interrupted transfer leaves the part for the next call to resume. */
lgc_status lgc_download(const lgc_conn *c, const char *path, const char *file, const lgc_dl_opts *o, lgc_dl_result *res,
                        char *err, size_t errlen);

/* Reads the text/event-stream at path and calls fn for each event (name
 * "message" when the stream gave none; data lines joined by "\n"). A
 * nonzero return from fn stops the stream. Returns LGC_OK when the stream
 * ended or was stopped; *status (may be NULL) gets the HTTP status. */
typedef int (*lgc_event_fn)(void *user, const char *event, const char *data);
lgc_status lgc_events(const lgc_conn *c, const char *path, lgc_event_fn fn, void *user, long *status, char *err,
                      size_t errlen);

#endif
