/* remote.h - what the learngene subcommands that talk to a learngened
 * daemon (docs/api.md; cmd_ls.c, cmd_get.c, cmd_predict.c, cmd_finetune.c,
 * cmd_jobs.c, cmd_push.c) share: one invocation's options, connection and
 * exit status (remote.c), tables and number formats for people (table.c),
 * growing a model (grow.c), image files (images.c) and following a job
 * (cmd_jobs.c). Tables and reports go to stdout, messages to stderr. */
#ifndef LG_CLIENT_REMOTE_H
#define LG_CLIENT_REMOTE_H

#include <stddef.h>

#include <jansson.h>

#include "cli.h"
#include "http.h"

/* ------------------------------------------------------------ remote.c */

enum { R_URL = 256, R_TOKEN, R_JSON, R_OWN };
/* The shared options; every table adds its own and ends with {0, 0, 0, 0}. */
/* clang-format off */
#define REMOTE_OPTIONS                                                                                                 \
    {"url", required_argument, 0, R_URL}, {"token", required_argument, 0, R_TOKEN},                                    \
    {"json", no_argument, 0, R_JSON}, {"help", no_argument, 0, 'h'}
/* clang-format on */
#define REMOTE_HELP                                                                                                    \
    "  --url URL          the daemon (default: $LEARNGENE_URL, else 'url = …' in\n"                                  \
    "                     ~/.config/learngene/config, else " LGC_DEFAULT_URL ")\n"                                     \
    "  --token TOKEN      bearer token (default: $LEARNGENE_TOKEN, else 'token = …' there)\n"                        \
    "  --json             JSON for scripts instead of tables\n"                                                        \
    "  -h, --help         this help\n"                                                                                 \
    "Exit status: 0 ok; 1 failure (the daemon refused, network, a failed job); 2 usage\n"                              \
    "(or a bad URL or config file); 3 no such id or name (404); 4 not authorized (401, 403).\n"

/* One invocation of a remote subcommand: its name, the shared options, the
 * connection and the message of the last failure. */
typedef struct {
    const char *who; /* "learngene ls" */
    const char *url, *token;
    int json;
    lgc_conn conn;
    char err[1536];
} remote;

/* 1 when code was one of the shared options. */
int remote_option(remote *r, int code, const char *arg);
/* The exit status for a failed call, after printing its message. */
int remote_fail(remote *r, lgc_status s, long status);
/* Resolves the URL and the token; CLI_OK or the exit status. Pair with
 * lgc_conn_free(&r->conn). */
int remote_connect(remote *r);
/* GET/POST/DELETE of the path fmt… with a JSON answer; CLI_OK or the exit
 * status. */
int remote_call_json(remote *r, const char *method, const json_t *body, json_t **out, long *status, const char *fmt,
                     ...) __attribute__((format(printf, 6, 7)));
/* A raw body (safetensors, images) POSTed, with a JSON answer. */
int remote_call_raw(remote *r, const char *path, const char *ctype, const void *body, size_t len, json_t **out,
                    long *status);
/* The id of what arg names in the listed collections (NULL-terminated):
 * arg itself when it is an id (8 or more hex digits), else the one object
 * whose name it is. */
int remote_resolve(remote *r, const char *arg, const char *const *colls, const char *what, char *id, size_t n);

/* j on stdout, indented or on one line. */
void remote_print_json(const json_t *j, int compact);
/* Prints the help for code 'h' (exit 0) or a bad option (exit 2). */
int remote_help_or_usage(int code, const char *help);
/* "who: message (see who --help)" on stderr; returns CLI_USAGE. */
int remote_usage_error(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A string member ("" when absent), a number member (NAN for null or absent). */
const char *jstr(const json_t *o, const char *key);
double jnum(const json_t *o, const char *key);
/* 1 when s is min to 64 hex digits. */
int remote_is_hex(const char *s, size_t min);
/* The model config of a JSON object's "config", with depth overridden
 * when depth > 0; -1 when it is not one. */
int remote_json_config(lg_config *c, const json_t *obj, int depth);

/* The largest file read whole (images, uploads). */
#define REMOTE_MAX_READ ((size_t)1 << 30)
/* The whole of a file into *buf (the caller frees it); -1 with err filled. */
int remote_read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen);

/* ------------------------------------------------------------ table.c */

/* 24.8M, 456K, 1.2G: three significant digits ("-" for NAN). */
void fmt_human(char *buf, size_t n, double v);
/* 0.7289 ("-" for NAN). */
void fmt_acc(char *buf, size_t n, double a);
/* The first 12 digits of an id ("-" for none). */
void fmt_id(char *buf, size_t n, const char *id);

/* A table: rows of strings, printed with aligned columns. */
typedef struct {
    int ncol;
    size_t nrow, cap;
    char **cell;
} table;

/* Adds a row of ncol strings (NULL prints as ""). */
int table_row(table *t, ...);
void table_print(const table *t);
void table_free(table *t);

/* ------------------------------------------------------------ grow.c */

/* Option codes of the growing options (get and finetune), after the shared
 * ones; those subcommands' own codes start at G_OWN. */
enum { G_BUDGET = R_OWN, G_FLOPS, G_PARAMS, G_DEPTH, G_VARIANT, G_INIT, G_SEED, G_OWN };
/* clang-format off */
#define GROW_OPTIONS                                                                                                   \
    {"budget", required_argument, 0, G_BUDGET}, {"flops", required_argument, 0, G_FLOPS},                              \
    {"params", required_argument, 0, G_PARAMS}, {"depth", required_argument, 0, G_DEPTH},                              \
    {"variant", required_argument, 0, G_VARIANT}, {"init", required_argument, 0, G_INIT},                              \
    {"seed", required_argument, 0, G_SEED}
/* clang-format on */
#define GROW_HELP                                                                                                      \
    "  --depth N          grow this depth from SOURCE (a learngene), or\n"                                             \
    "  --budget N         the best model under N FLOPs per image (K/M/G suffixes: 1.2G),\n"                            \
    "                     across every learngene and pool unless SOURCE is given;\n"                                   \
    "  --flops N --params N   the budget as FLOPs and/or parameters, or\n"                                             \
    "  --variant NAME     a pool configuration, e.g. d48.3.d96 (SOURCE: a pool)\n"                                     \
    "  --init METHOD      tleg | inherit | stitch | scratch (default: the source's method)\n"                          \
    "  --seed N           seed for fresh weights (default 0)\n"

/* What a POST /v1/models asks for (get and finetune share it). */
typedef struct {
    const char *variant, *init;
    double flops, params;
    long depth, classes, seed;
    int has_seed;
} grow_req;

/* 1 when code was a growing option, 0 when not, -1 on a bad value. */
int grow_option(grow_req *g, int code, const char *arg);
/* 1 when a growing option was given. */
int grow_wanted(const grow_req *g);
/* Exactly one way of choosing the model; SOURCE needed except for a budget. */
int grow_check(const grow_req *g, const char *who, const char *source);
/* The body of the POST /v1/models; from is the source's id (NULL: none). */
json_t *grow_body(const grow_req *g, const char *from);
/* Where a SOURCE is looked up by name (for remote_resolve). */
extern const char *const grow_sources[];
/* What the daemon grew, and why the solver chose it. */
void grow_print_model(const json_t *m);

/* ------------------------------------------------------------ images.c */

/* An image file: PGM/PPM and .u8 hold bytes (0-255), .f32 normalized
 * float32; raw files may hold several images. */
typedef struct {
    const char *name;
    int f32;
    unsigned char *data; /* count images of C·H·W values, CHW order */
    size_t count;
} image_file;

/* Loads one IMAGE argument for a model taking c×hw×hw images; -1 with err
 * filled. The caller frees im->data. */
int image_load(image_file *im, const char *path, int c, int hw, char *err, size_t errlen);

/* ------------------------------------------------------------ cmd_jobs.c */

/* The jobs of a GET /v1/jobs as a table. */
void jobs_print_table(const json_t *arr);
/* Streams the job's events (a line each) until it finishes; the exit
 * status says how it ended. */
int jobs_follow(remote *r, const char *id);

#endif
