/* config.c - the option table and everything read from it: defaults,
 * validation of one value, the INI loader (inih, fed line by line so each
 * error names its line), --check-config's dump, cross-option checks and the
 * reload diff.
 *
 * Calls only libc and inih; the daemon's logger is not used here, errors go
 * back to the caller as text.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"

#ifdef LG_DATADIR
#define DEFAULT_DATA_DIR LG_DATADIR
#else
#define DEFAULT_DATA_DIR "/usr/share/learngened"
#endif

/* What a value is and how it is parsed. */
typedef enum {
    K_ADDR,    /* string that lgd_config_parse_listen accepts */
    K_PATH,    /* non-empty string */
    K_OPTPATH, /* string, "" meaning "none" */
    K_INT,     /* int, decimal */
    K_I64,     /* int64_t, decimal */
    K_SIZE,    /* int64_t bytes, decimal with an optional K, M or G suffix */
    K_ENUM,    /* string, one of the '|'-separated values */
} kind;

/* Type names for the documentation, by kind. */
#define TYPE_K_ADDR "address"
#define TYPE_K_PATH "path"
#define TYPE_K_OPTPATH "path"
#define TYPE_K_INT "int"
#define TYPE_K_I64 "int"
#define TYPE_K_SIZE "size"
#define TYPE_K_ENUM "enum"

/* The options, in the order the sample file lists them. One row each:
 * name (also the lgd_config field), kind, default, min, max, enum values,
 * live (a reload applies it), help (one line, for the sample file and the
 * man page). Bounds are text in the option's own syntax and are parsed like
 * a value. */
// clang-format off
#define LGD_OPTIONS(X) \
    X(listen,                 K_ADDR,    "127.0.0.1:8080",    NULL, NULL,      NULL, 0, \
      "Address to serve HTTP on: host:port or [IPv6]:port; port 0 picks a free port.") \
    X(state_dir,              K_PATH,    "/var/lib/learngened", NULL, NULL,    NULL, 0, \
      "Directory of the daemon's database, models and job checkpoints.") \
    X(data_dir,               K_OPTPATH, DEFAULT_DATA_DIR,    NULL, NULL,      NULL, 0, \
      "Bundled learngenes and gene pool, imported on first start; \"\" skips the import.") \
    X(fmnist_dir,             K_OPTPATH, "/usr/share/datasets/fashion-mnist", NULL, NULL, NULL, 0, \
      "Fashion-MNIST IDX files imported on first start; \"\" skips the import.") \
    X(tokens_file,            K_OPTPATH, "",                  NULL, NULL,      NULL, 1, \
      "File of API bearer tokens; \"\" turns authentication off.") \
    X(allow_open_network,     K_ENUM,    "no",                NULL, NULL,      "no|yes", 0, \
      "yes lets the daemon listen on a non-loopback address without tokens_file (unsafe).") \
    X(workers,                K_INT,     "1",                 "1",  "64",      NULL, 0, \
      "Worker threads for CPU work (expand, fine-tune, predict).") \
    X(blas_threads,           K_INT,     "0",                 "0",  "64",      NULL, 0, \
      "Threads per worker and per job (BLAS, one-image teams); 0 = CPU cores / (workers + jobs_max).") \
    X(max_connections,        K_INT,     "256",               "1",  "65536",   NULL, 0, \
      "Open HTTP connections at most; more are refused.") \
    X(max_connections_per_ip, K_INT,     "64",                "0",  "65536",   NULL, 0, \
      "Open HTTP connections per client address; 0 = no limit.") \
    X(request_timeout,        K_INT,     "60",                "1",  "3600",    NULL, 1, \
      "Seconds before an idle or slow connection is closed.") \
    X(max_body,               K_SIZE,    "1M",                "1K", "64M",     NULL, 1, \
      "Largest JSON request body, in bytes (K, M, G suffixes).") \
    X(max_upload,             K_SIZE,    "256M",              "1K", "4G",      NULL, 1, \
      "Largest upload (safetensors model, IDX dataset), in bytes.") \
    X(max_header,             K_SIZE,    "32K",               "4K", "1M",      NULL, 0, \
      "Memory per connection for the request line and headers; larger requests get 431.") \
    X(max_batch,              K_INT,     "256",               "1",  "65536",   NULL, 1, \
      "Most images in one predict request.") \
    X(cache_mb,               K_I64,     "512",               "0",  "1048576", NULL, 1, \
      "MiB of loaded models kept in memory; 0 disables the cache.") \
    X(queue_max,              K_INT,     "64",                "1",  "100000",  NULL, 1, \
      "CPU tasks that may wait for a worker; beyond that requests get 503.") \
    X(max_depth,              K_INT,     "64",                "1",  "256",     NULL, 1, \
      "Deepest model a request may grow.") \
    X(max_model_mb,           K_I64,     "1024",              "1",  "65536",   NULL, 1, \
      "Largest model a request may grow, in MiB of float32 weights.") \
    X(jobs_max,               K_INT,     "1",                 "1",  "64",      NULL, 0, \
      "Fine-tune jobs that run at once.") \
    X(jobs_queue_max,         K_INT,     "100",               "1",  "100000",  NULL, 1, \
      "Fine-tune jobs that may wait in the queue; beyond that requests get 429.") \
    X(checkpoint_every,       K_INT,     "50",                "1",  "1000000", NULL, 0, \
      "Fine-tune steps between checkpoints.") \
    X(drain_timeout,          K_INT,     "30",                "0",  "3600",    NULL, 0, \
      "Seconds SIGTERM waits for in-flight requests before exiting.") \
    X(log_level,              K_ENUM,    "info",              NULL, NULL,      "error|warn|info|debug", 1, \
      "Least severe messages that are logged.") \
    X(log_format,             K_ENUM,    "text",              NULL, NULL,      "text|json", 1, \
      "Log lines as key=value text or as JSON objects.")
// clang-format on

#define FIELD_SIZE(name) sizeof(((lgd_config *)0)->name)

/* Each field has the C type its kind writes. */
#define FITS_K_ADDR(s) ((s) > 1)
#define FITS_K_PATH(s) ((s) > 1)
#define FITS_K_OPTPATH(s) ((s) > 1)
#define FITS_K_INT(s) ((s) == sizeof(int))
#define FITS_K_I64(s) ((s) == sizeof(int64_t))
#define FITS_K_SIZE(s) ((s) == sizeof(int64_t))
#define FITS_K_ENUM(s) ((s) > 1)
#define X(name, k, def, min, max, values, live, help)                                                                  \
    _Static_assert(FITS_##k(FIELD_SIZE(name)), "lgd_config." #name " does not have the C type of a " #k);
LGD_OPTIONS(X)
#undef X

static const lgd_option_doc docs[] = {
#define X(name, k, def, min, max, values, live, help) {#name, TYPE_##k, def, min, max, help, live, values},
    LGD_OPTIONS(X)
#undef X
};

/* Where each option lives in lgd_config; same order as docs. */
static const struct slot {
    kind k;
    size_t off, size;
} slots[] = {
#define X(name, k, def, min, max, values, live, help) {k, offsetof(lgd_config, name), FIELD_SIZE(name)},
    LGD_OPTIONS(X)
#undef X
};

enum { N_OPTIONS = (int)(sizeof docs / sizeof docs[0]) };

const lgd_option_doc *lgd_config_options(int *n)
{
    if (n) *n = N_OPTIONS;
    return docs;
}

static int find_option(const char *name)
{
    for (int i = 0; i < N_OPTIONS; i++)
        if (strcmp(docs[i].name, name) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------ one value */

static int is_size_suffix(char ch, int64_t *mult)
{
    switch (ch) {
    case 'k':
    case 'K': *mult = (int64_t)1 << 10; return 1;
    case 'm':
    case 'M': *mult = (int64_t)1 << 20; return 1;
    case 'g':
    case 'G': *mult = (int64_t)1 << 30; return 1;
    default: return 0;
    }
}

/* Parses a decimal integer, times 1024^n when a K, M or G suffix is allowed
 * and present, with nothing else around it. Returns 0; 1 when it is a number
 * but outside int64_t (*out is then INT64_MAX or INT64_MIN, so the bound
 * checks still report the right side); -1 when it is not a number. */
static int parse_number(const char *s, int suffixes, int64_t *out)
{
    const char *d = s + (*s == '-' || *s == '+');
    if (*d < '0' || *d > '9') return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int range = errno == ERANGE;
    int64_t mult = 1;
    if (suffixes && is_size_suffix(*end, &mult)) end++;
    if (*end != '\0') return -1;
    if (range || v > INT64_MAX / mult || v < INT64_MIN / mult) {
        *out = v < 0 ? INT64_MIN : INT64_MAX;
        return 1;
    }
    *out = (int64_t)v * mult;
    return 0;
}

/* Sizes print in the largest unit that divides them, so 1048576 is "1M". */
static void format_size(char *buf, size_t len, int64_t v)
{
    static const char units[] = "GMK";
    for (int u = 0; u < 3; u++) {
        int64_t m = (int64_t)1 << (10 * (3 - u));
        if (v != 0 && v % m == 0) {
            snprintf(buf, len, "%lld%c", (long long)(v / m), units[u]);
            return;
        }
    }
    snprintf(buf, len, "%lld", (long long)v);
}

static int is_enum_value(const char *values, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = values; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (n > 0 && len == n && memcmp(p, v, n) == 0) return 1;
        p += len + (bar != NULL);
    }
    return 0;
}

static int has_control_char(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* Validates v as the value of option i and, when c is not NULL, stores it.
 * Returns 0, or -1 with msg set ("workers = 0 is below the minimum 1"). */
static int option_parse(lgd_config *c, int i, const char *v, char *msg, size_t msglen)
{
    const lgd_option_doc *o = &docs[i];
    const struct slot *s = &slots[i];
    switch (s->k) {
    case K_ADDR:
    case K_PATH:
    case K_OPTPATH:
    case K_ENUM: {
        size_t n = strlen(v);
        if (n >= s->size) {
            snprintf(msg, msglen, "%s is %zu characters long; the limit is %zu", o->name, n, s->size - 1);
            return -1;
        }
        if (has_control_char(v)) {
            snprintf(msg, msglen, "%s contains a control character", o->name);
            return -1;
        }
        /* every value must fit a config line, quoted ("name=\"v\"\n"), so
         * --check-config's dump loads back as it is */
        if (strlen(o->name) + n + 4 > LGD_CONFIG_LINE_MAX) {
            snprintf(msg, msglen, "%s is %zu characters long; a config line holds at most %zu", o->name, n,
                     LGD_CONFIG_LINE_MAX - strlen(o->name) - 4);
            return -1;
        }
        /* inih ends a value at " ;" (a comment), so no value may hold one */
        for (size_t k = 1; k < n; k++)
            if (v[k] == ';' && (v[k - 1] == ' ' || v[k - 1] == '\t')) {
                snprintf(msg, msglen, "%s may not contain a blank followed by ';' (it starts a comment)", o->name);
                return -1;
            }
        if (s->k == K_PATH && n == 0) {
            snprintf(msg, msglen, "%s must not be empty", o->name);
            return -1;
        }
        if (s->k == K_ADDR && lgd_config_parse_listen(v, NULL, 0, NULL) != 0) {
            snprintf(msg, msglen, "%s = %s is not host:port or [IPv6]:port with a port in 0..65535", o->name, v);
            return -1;
        }
        if (s->k == K_ENUM && !is_enum_value(o->values, v)) {
            snprintf(msg, msglen, "%s = %s is not one of %s", o->name, v, o->values);
            return -1;
        }
        if (c) {
            char *dst = (char *)c + s->off;
            memset(dst, 0, s->size);
            memcpy(dst, v, n);
        }
        return 0;
    }
    case K_INT:
    case K_I64:
    case K_SIZE: {
        int suffixes = s->k == K_SIZE;
        int64_t x, lo, hi;
        int r = parse_number(v, suffixes, &x);
        if (r < 0) {
            if (suffixes)
                snprintf(msg, msglen, "%s = %s is not a size (use a number with an optional K, M or G suffix)", o->name,
                         v);
            else
                snprintf(msg, msglen, "%s = %s is not an integer", o->name, v);
            return -1;
        }
        /* The table's own bounds always parse (tested). */
        if (parse_number(o->min, suffixes, &lo) != 0 || parse_number(o->max, suffixes, &hi) != 0) {
            snprintf(msg, msglen, "%s: the option table has bad bounds", o->name);
            return -1;
        }
        if (x < lo) {
            snprintf(msg, msglen, "%s = %s is below the minimum %s", o->name, v, o->min);
            return -1;
        }
        if (x > hi) {
            snprintf(msg, msglen, "%s = %s is above the maximum %s", o->name, v, o->max);
            return -1;
        }
        if (c) {
            char *dst = (char *)c + s->off;
            if (s->k == K_INT) {
                int iv = (int)x;
                memcpy(dst, &iv, sizeof iv);
            } else {
                memcpy(dst, &x, sizeof x);
            }
        }
        return 0;
    }
    }
    snprintf(msg, msglen, "%s: unknown kind", o->name);
    return -1;
}

/* The text form of option i's value in c: what option_parse reads back.
 * Returns a pointer into c for strings, else into buf; NULL for a string
 * field without its NUL (only possible when the struct was written directly). */
static const char *option_format(const lgd_config *c, int i, char *buf, size_t len)
{
    const struct slot *s = &slots[i];
    const char *src = (const char *)c + s->off;
    switch (s->k) {
    case K_INT: {
        int v;
        memcpy(&v, src, sizeof v);
        snprintf(buf, len, "%d", v);
        return buf;
    }
    case K_I64:
    case K_SIZE: {
        int64_t v;
        memcpy(&v, src, sizeof v);
        if (s->k == K_SIZE)
            format_size(buf, len, v);
        else
            snprintf(buf, len, "%lld", (long long)v);
        return buf;
    }
    default: return memchr(src, '\0', s->size) ? src : NULL;
    }
}

static int option_equal(const lgd_config *a, const lgd_config *b, int i)
{
    const struct slot *s = &slots[i];
    const char *x = (const char *)a + s->off, *y = (const char *)b + s->off;
    if (s->k == K_INT || s->k == K_I64 || s->k == K_SIZE) return memcmp(x, y, s->size) == 0;
    return strncmp(x, y, s->size) == 0;
}

/* --------------------------------------------------------------- public */

void lgd_config_defaults(lgd_config *c)
{
    char msg[256];
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_OPTIONS; i++) {
        int rc = option_parse(c, i, docs[i].def, msg, sizeof msg);
        assert(rc == 0 && "every default is valid");
        (void)rc;
    }
}

int lgd_config_set(lgd_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    char name[64], msg[512];
    size_t n = strlen(key);
    int i = -1;
    if (n < sizeof name) {
        for (size_t k = 0; k <= n; k++) name[k] = key[k] == '-' ? '_' : key[k];
        i = find_option(name);
    }
    if (i < 0) {
        if (err) snprintf(err, errlen, "unknown option '%s'", key);
        return -1;
    }
    if (option_parse(c, i, value, msg, sizeof msg) != 0) {
        if (err) snprintf(err, errlen, "%s", msg);
        return -1;
    }
    return 0;
}

int lgd_config_parse_listen(const char *listen, char *host, size_t hostlen, int *port)
{
    const char *h, *hend, *p;
    if (listen[0] == '[') {
        h = listen + 1;
        hend = strchr(h, ']');
        if (!hend || hend[1] != ':') return -1;
        p = hend + 2;
    } else {
        h = listen;
        hend = strrchr(listen, ':');
        if (!hend) return -1;
        if (memchr(h, ':', (size_t)(hend - h))) return -1; /* a bare IPv6 address needs brackets */
        p = hend + 1;
    }
    size_t n = (size_t)(hend - h);
    if (n == 0) return -1;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)h[k] <= ' ' || h[k] == 0x7f || strchr("[]/", h[k])) return -1;
    long v = 0;
    size_t digits = 0;
    for (; p[digits]; digits++) {
        if (p[digits] < '0' || p[digits] > '9' || digits == 5) return -1;
        v = v * 10 + (p[digits] - '0');
    }
    if (digits == 0 || v > 65535) return -1;
    if (host) {
        if (n >= hostlen) return -1;
        memcpy(host, h, n);
        host[n] = '\0';
    }
    if (port) *port = (int)v;
    return 0;
}

int lgd_config_check(const lgd_config *c, int ncpu, char *err, size_t errlen)
{
    char buf[64], msg[512];
    for (int i = 0; i < N_OPTIONS; i++) {
        const char *v = option_format(c, i, buf, sizeof buf);
        if (!v) snprintf(msg, sizeof msg, "%s is not NUL-terminated", docs[i].name);
        if (!v || option_parse(NULL, i, v, msg, sizeof msg) != 0) {
            if (err) snprintf(err, errlen, "%s", msg);
            return -1;
        }
    }
    /* request workers and fine-tune jobs run at once, each with its BLAS threads */
    long busy = (long)c->workers + c->jobs_max;
    if (c->blas_threads > 0 && ncpu > 0 && busy * c->blas_threads > ncpu) {
        if (err)
            snprintf(err, errlen,
                     "(workers + jobs_max) * blas_threads = (%d + %d) * %d = %ld is more than the %d CPUs; lower one "
                     "of them, or set blas_threads = 0 (CPUs / (workers + jobs_max))",
                     c->workers, c->jobs_max, c->blas_threads, busy * c->blas_threads, ncpu);
        return -1;
    }
    return 0;
}

int lgd_config_effective_blas(const lgd_config *c, int ncpu)
{
    if (c->blas_threads > 0) return c->blas_threads;
    int n = c->workers > 0 && ncpu > 0 ? ncpu / (c->workers + c->jobs_max) : 1;
    return n > 0 ? n : 1;
}

/* Strings that inih would trim or read as a comment, or that look quoted,
 * are written quoted. */
static int needs_quotes(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || v[0] == ';' || v[0] == '#') return 1;
    if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t') return 1;
    return n >= 2 && v[0] == '"' && v[n - 1] == '"';
}

void lgd_config_dump(const lgd_config *c, FILE *f)
{
    char buf[64];
    for (int i = 0; i < N_OPTIONS; i++) {
        const char *v = option_format(c, i, buf, sizeof buf);
        int is_string = slots[i].k != K_INT && slots[i].k != K_I64 && slots[i].k != K_SIZE;
        if (!v) v = "";
        const char *q = is_string && needs_quotes(v) ? "\"" : "";
        /* "name = value" when it fits a config line, else "name=value" */
        int tight = strlen(docs[i].name) + strlen(v) + 2 * strlen(q) + 4 > LGD_CONFIG_LINE_MAX;
        fprintf(f, "%s%s%s%s%s\n", docs[i].name, tight ? "=" : " = ", q, v, q);
    }
}

int lgd_config_diff_restart(const lgd_config *old, const lgd_config *new, char *names, size_t len)
{
    int n = 0;
    size_t used = 0;
    if (names && len) names[0] = '\0';
    for (int i = 0; i < N_OPTIONS; i++) {
        if (docs[i].live || option_equal(old, new, i)) continue;
        if (names && used < len) {
            int w = snprintf(names + used, len - used, "%s%s", n ? ", " : "", docs[i].name);
            used += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    return n;
}

/* ---------------------------------------------------------- INI loading */

/* State of one load: inih pulls lines through next_line and hands pairs to
 * on_pair; both stop at the first error, which keeps its line number. */
typedef struct {
    lgd_config cfg;        /* the config being built; copied out on success */
    const char *name;      /* the file's name, for messages */
    const char *p;         /* next unread byte of the text */
    int line;              /* number of the line last handed to inih */
    int set_on[N_OPTIONS]; /* line each option was set on; 0 = not set */
    int err_line;          /* line of the first error found here; 0 = none */
    char err[1024];
} loader;

/* Records the first error as "NAME:LINE: message"; returns 0 for inih. */
#if defined(__GNUC__)
static int fail(loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static int fail(loader *ld, const char *fmt, ...)
{
    int k = snprintf(ld->err, sizeof ld->err, "%s:%d: ", ld->name, ld->line);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < sizeof ld->err) vsnprintf(ld->err + k, sizeof ld->err - (size_t)k, fmt, ap);
    va_end(ap);
    ld->err_line = ld->line;
    return 0;
}

/* An fgets for inih over the text. It counts lines, strips leading blanks
 * (so inih never sees a continuation line), refuses lines that do not fit
 * inih's buffer instead of letting it split them, and refuses any section
 * header but [learngened] (inih does not report empty sections). */
static char *next_line(char *buf, int size, void *stream)
{
    loader *ld = stream;
    if (ld->err_line || *ld->p == '\0') return NULL;
    const char *start = ld->p, *nl = strchr(start, '\n');
    const char *end = nl ? nl + 1 : start + strlen(start);
    ld->p = end;
    ld->line++;
    if (ld->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0) start += 3; /* UTF-8 BOM */
    while (start < end && (*start == ' ' || *start == '\t')) start++;
    size_t n = (size_t)(end - start);
    if (size < 3 || n + 1 > (size_t)size) {
        fail(ld, "line is longer than %d characters", size - 2);
        return NULL;
    }
    if (*start == '[') {
        const char *close = memchr(start, ']', n);
        if (!close) {
            fail(ld, "'[' without a closing ']'");
            return NULL;
        }
        size_t k = (size_t)(close - start - 1);
        if (k != strlen("learngened") || memcmp(start + 1, "learngened", k) != 0) {
            fail(ld, "section [%.*s] is not allowed; write options at the top or under [learngened]", (int)k,
                 start + 1);
            return NULL;
        }
    }
    memcpy(buf, start, n);
    buf[n] = '\0';
    return buf;
}

/* Edit distance of two short strings, or INT_MAX when one is too long. */
static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int row[65];
    if (na > 64 || nb > 64) return INT_MAX;
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static int on_pair(void *user, const char *section, const char *key, const char *value)
{
    loader *ld = user;
    (void)section; /* next_line lets only [learngened] through */
    if (ld->err_line) return 0;
    int i = find_option(key);
    if (i < 0) {
        int best = -1, bestd = 3;
        for (int j = 0; j < N_OPTIONS; j++) {
            int d = edit_distance(key, docs[j].name);
            if (d < bestd) best = j, bestd = d;
        }
        if (best >= 0) return fail(ld, "unknown option '%s' (did you mean '%s'?)", key, docs[best].name);
        return fail(ld, "unknown option '%s'", key);
    }
    if (ld->set_on[i]) return fail(ld, "%s is set twice, on line %d and on line %d", key, ld->set_on[i], ld->line);
    ld->set_on[i] = ld->line;

    /* One pair of double quotes around the value is taken off. */
    size_t n = strlen(value);
    char *v = n >= 2 && value[0] == '"' && value[n - 1] == '"' ? strndup(value + 1, n - 2) : strdup(value);
    if (!v) return fail(ld, "out of memory");
    char msg[768];
    int rc = option_parse(&ld->cfg, i, v, msg, sizeof msg);
    free(v);
    if (rc != 0) return fail(ld, "%s", msg);
    return 1;
}

int lgd_config_load_string(lgd_config *c, const char *text, const char *name, char *err, size_t errlen)
{
    loader *ld = calloc(1, sizeof *ld);
    if (!ld) {
        if (err) snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    memcpy(&ld->cfg, c, sizeof *c);
    ld->name = name;
    ld->p = text;
    int rc = -1;
    int r = ini_parse_stream(next_line, ld, on_pair, ld);
    if (r == -2) {
        if (err) snprintf(err, errlen, "%s: out of memory", name);
    } else if (r > 0 && (ld->err_line == 0 || r < ld->err_line)) {
        /* inih's own complaint: a line with no '=' */
        if (err) snprintf(err, errlen, "%s:%d: expected 'name = value'", name, r);
    } else if (ld->err_line || r != 0) {
        if (err) snprintf(err, errlen, "%s", ld->err);
    } else {
        memcpy(c, &ld->cfg, sizeof *c);
        rc = 0;
    }
    free(ld);
    return rc;
}

#define MAX_FILE (1 << 20)

int lgd_config_load_file(lgd_config *c, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err) snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    text = malloc(MAX_FILE + 1);
    if (!text) {
        if (err) snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    size_t n = fread(text, 1, MAX_FILE + 1, f);
    if (ferror(f)) {
        if (err) snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (n > MAX_FILE) {
        if (err) snprintf(err, errlen, "%s is larger than %d bytes", path, MAX_FILE);
        goto out;
    }
    text[n] = '\0';
    const char *nul = memchr(text, '\0', n);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++) line += *q == '\n';
        if (err) snprintf(err, errlen, "%s:%d: NUL byte in the file", path, line);
        goto out;
    }
    rc = lgd_config_load_string(c, text, path, err, errlen);
out:
    free(text);
    fclose(f);
    return rc;
}
