/* test_daemon.c - learngened end to end: the real daemon binary
 * ($LG_BUILDDIR/daemon/learngened) started on a loopback port with a fresh
 * state directory, driven over HTTP (tests/httpc.c) through every route of
 * docs/api.md - success paths and error paths - and checked against the core
 * library: downloaded weights load into liblearngene and give the daemon's
 * logits, a fine-tune job on a Fashion-MNIST subset improves accuracy, a job
 * survives a SIGKILL of the daemon, and SIGTERM shuts down cleanly.
 *
 * One daemon is shared by the test cases (each start on an empty state
 * directory imports the bundled data and Fashion-MNIST): the runner starts
 * it before srunner_run_all, and what the forked test processes must share
 * (its pid, which process is its parent, the port) lives in a MAP_SHARED
 * page. A test that restarts the daemon owns the new one; every daemon gets
 * PR_SET_PDEATHSIG, so none outlives the process that started it. The
 * config, the daemon's log and its state live in a mkdtemp directory; when
 * something fails the log's tail is printed and the directory is kept.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "httpc.h"
#include "testutil.h"

#define READY_TIMEOUT_S 60.0 /* first start imports Fashion-MNIST */
#define STOP_TIMEOUT_S 30.0
#define JOB_TIMEOUT_S 180.0
#define MAX_BODY (64 * 1024)         /* max_body = 64K in the config below */
#define MAX_UPLOAD (8 * 1024 * 1024) /* max_upload = 8M */
#define MAX_BATCH 64
#define ZERO_ID "0000000000000000000000000000000000000000000000000000000000000000"

/* ------------------------------------------------------------ the daemon */

typedef struct {
    char dir[PATH_MAX / 2]; /* mkdtemp: daemon.conf, daemon.log, state/ */
    char conf[PATH_MAX], log[PATH_MAX], bin[PATH_MAX], srcdir[PATH_MAX];
    char base[64]; /* http://127.0.0.1:PORT */
    int port;
    pid_t runner; /* the process running srunner */
    pid_t pid;    /* the daemon, 0 when none runs */
    pid_t owner;  /* the process that started it (only it can waitpid) */
} harness;

/* Shared (MAP_SHARED) between the runner and the forked test processes:
 * check calls test functions without arguments. */
static harness *H;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) && errno == EINTR) {
    }
}

/* A port that was free a moment ago: bind 127.0.0.1:0, read it, close. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int port = -1;
    if (!bind(fd, (struct sockaddr *)&a, sizeof a) && !getsockname(fd, (struct sockaddr *)&a, &alen))
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* The last `lines` lines of the daemon's log on stderr. */
static void log_tail(int lines)
{
    FILE *f = fopen(H->log, "r");
    if (!f) {
        fprintf(stderr, "(no daemon log at %s)\n", H->log);
        return;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f), from = size > 65536 ? size - 65536 : 0;
    char *buf = malloc((size_t)(size - from) + 1);
    if (!buf) {
        fclose(f);
        return;
    }
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, (size_t)(size - from), f);
    buf[n] = 0;
    fclose(f);
    size_t at = n;
    for (int seen = 0; at > 0; at--)
        if (buf[at - 1] == '\n' && at != n && ++seen == lines) break;
    fprintf(stderr, "---- last lines of %s ----\n%s---- end of daemon log ----\n", H->log, buf + at);
    free(buf);
}

/* 1 when the daemon H->pid has exited (its status in *status when this
 * process is its parent, else -1), 0 while it runs. */
static int daemon_gone(int *status)
{
    if (status) *status = -1;
    if (H->pid <= 0) return 1;
    if (H->owner == getpid()) {
        int st;
        pid_t w = waitpid(H->pid, &st, WNOHANG);
        if (w == 0) return 0;
        if (w == H->pid && status) *status = st;
        return 1;
    }
    /* Not our child: gone when /proc has no entry or shows a zombie. */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)H->pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

/* Sends sig and waits up to timeout seconds for the daemon to exit. Returns
 * 0 when it did (status as daemon_gone), -1 on timeout. */
static int daemon_signal(int sig, double timeout, int *status)
{
    if (status) *status = -1;
    if (H->pid <= 0) return 0;
    kill(H->pid, sig);
    for (double t0 = now_s(); now_s() - t0 < timeout; sleep_ms(20))
        if (daemon_gone(status)) {
            H->pid = 0;
            return 0;
        }
    return -1;
}

static int daemon_spawn(char *err, size_t errlen)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* never outlive the process that started us (a failed test included) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126);
        int log = open(H->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (log < 0 || null < 0) _exit(126);
        dup2(null, 0), dup2(log, 1), dup2(log, 2);
        close(null), close(log);
        char *argv[] = {H->bin, "--foreground", "-c", H->conf, NULL};
        execv(H->bin, argv);
        fprintf(stderr, "execv %s: %s\n", H->bin, strerror(errno));
        _exit(127);
    }
    H->pid = pid;
    H->owner = parent;
    return 0;
}

/* Starts the daemon on H->conf and waits for GET /readyz to answer 200. */
static int daemon_start(char *err, size_t errlen)
{
    if (access(H->bin, X_OK)) {
        snprintf(err, errlen, "no daemon binary at %.400s (%s)", H->bin, strerror(errno));
        return -1;
    }
    if (daemon_spawn(err, errlen)) return -1;
    char url[128];
    snprintf(url, sizeof url, "%s/readyz", H->base);
    long last = 0;
    for (double t0 = now_s(); now_s() - t0 < READY_TIMEOUT_S; sleep_ms(100)) {
        int st;
        if (daemon_gone(&st)) {
            snprintf(err, errlen, "the daemon exited before it was ready (wait status %d: %s %d)", st,
                     st >= 0 && WIFEXITED(st) ? "exit" : "signal",
                     st < 0          ? -1
                     : WIFEXITED(st) ? WEXITSTATUS(st)
                                     : WTERMSIG(st));
            H->pid = 0;
            return -1;
        }
        httpc_response r;
        last = httpc_request_timeout(&r, "GET", url, NULL, NULL, 0, 2000);
        httpc_response_free(&r);
        if (last == 200) return 0;
    }
    snprintf(err, errlen, "GET /readyz did not answer 200 within %.0f s (last status %ld)", READY_TIMEOUT_S, last);
    kill(H->pid, SIGKILL);
    while (!daemon_gone(NULL)) sleep_ms(20);
    H->pid = 0;
    return -1;
}

static int process_exists(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

/* Each test starts here: the shared daemon, or a new one when it died. */
static void ensure_daemon(void)
{
    int st;
    if (H->pid > 0 && H->owner != getpid() && !process_exists(H->owner)) {
        /* Started by an earlier test process (after a crash or a failed
         * restart), which has ended: PR_SET_PDEATHSIG is killing it. */
        for (double t0 = now_s(); !daemon_gone(NULL) && now_s() - t0 < STOP_TIMEOUT_S;) sleep_ms(20);
        H->pid = 0;
    }
    if (H->pid > 0 && !daemon_gone(&st)) return;
    if (H->pid > 0) {
        if (st == -1)
            fprintf(stderr, "test_daemon: the daemon (pid %d) had died; starting another\n", (int)H->pid);
        else
            fprintf(stderr, "test_daemon: the daemon (pid %d) had died (%s %d); starting another\n", (int)H->pid,
                    WIFEXITED(st) ? "exit status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        log_tail(40);
    }
    H->pid = 0;
    char err[512];
    int rc = daemon_start(err, sizeof err);
    if (rc) log_tail(60);
    ck_assert_msg(rc == 0, "starting %s -c %s: %s", H->bin, H->conf, err);
}

/* -------------------------------------------------------------- requests */

typedef struct {
    char what[384]; /* "POST /v1/models" - names the request in messages */
    httpc_response h;
    json_t *j;     /* the body as JSON, NULL when it is not */
    char ex[1400]; /* excerpt of the body for messages */
} reply;

static void reply_free(reply *r)
{
    httpc_response_free(&r->h);
    json_decref(r->j);
    r->j = NULL;
}

/* The body (or what it is) for an assertion message. */
static const char *ex(reply *r)
{
    size_t n = r->h.len < 1000 ? r->h.len : 1000;
    int text = 1;
    for (size_t i = 0; i < n && text; i++) {
        unsigned char c = r->h.body[i];
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') text = 0;
    }
    const char *ct = httpc_header_get(&r->h, "Content-Type");
    if (text)
        snprintf(r->ex, sizeof r->ex, "%s%s%s'%.*s'%s", r->h.error[0] ? "[transfer: " : "", r->h.error,
                 r->h.error[0] ? "] " : "", (int)n, r->h.len ? (const char *)r->h.body : "", r->h.len > n ? "..." : "");
    else
        snprintf(r->ex, sizeof r->ex, "<%zu bytes of %s>", r->h.len, ct ? ct : "no Content-Type");
    return r->ex;
}

static long vcall(reply *r, const char *method, const char *const *headers, const void *body, size_t len,
                  long timeout_ms, const char *fmt, va_list ap)
{
    reply_free(r);
    char path[300], url[400];
    vsnprintf(path, sizeof path, fmt, ap);
    snprintf(url, sizeof url, "%s%s", H->base, path);
    snprintf(r->what, sizeof r->what, "%s %s", method, path);
    httpc_request_timeout(&r->h, method, url, headers, body, len, timeout_ms);
    r->j = httpc_json(&r->h);
    return r->h.status;
}

__attribute__((format(printf, 6, 7))) static long call(reply *r, const char *method, const char *const *headers,
                                                       const void *body, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    long s = vcall(r, method, headers, body, len, HTTPC_TIMEOUT_MS, fmt, ap);
    va_end(ap);
    return s;
}

__attribute__((format(printf, 2, 3))) static long get(reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    long s = vcall(r, "GET", NULL, NULL, 0, HTTPC_TIMEOUT_MS, fmt, ap);
    va_end(ap);
    return s;
}

__attribute__((format(printf, 2, 3))) static long del(reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    long s = vcall(r, "DELETE", NULL, NULL, 0, HTTPC_TIMEOUT_MS, fmt, ap);
    va_end(ap);
    return s;
}

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

__attribute__((format(printf, 3, 4))) static long post_json(reply *r, const char *json, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    long s = vcall(r, "POST", json_ct, json, strlen(json), HTTPC_TIMEOUT_MS, fmt, ap);
    va_end(ap);
    return s;
}

/* POST of bytes with a Content-Type (and one more header, may be NULL). */
__attribute__((format(printf, 6, 7))) static long post_bytes(reply *r, const char *ctype, const char *extra,
                                                             const void *b, size_t n, const char *fmt, ...)
{
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    const char *h[] = {ct, extra, NULL};
    va_list ap;
    va_start(ap, fmt);
    long s = vcall(r, "POST", h, b, n, HTTPC_TIMEOUT_MS, fmt, ap);
    va_end(ap);
    return s;
}

/* GET path with "Range: bytes=first-last" (last < 0: open-ended). */
static void get_range(reply *r, const char *path, long long first, long long last)
{
    reply_free(r);
    char url[400];
    snprintf(url, sizeof url, "%s%s", H->base, path);
    if (last < 0)
        snprintf(r->what, sizeof r->what, "GET %s (Range: bytes=%lld-)", path, first);
    else
        snprintf(r->what, sizeof r->what, "GET %s (Range: bytes=%lld-%lld)", path, first, last);
    httpc_get_range(&r->h, url, first, last);
    r->j = httpc_json(&r->h);
}

/* GET path, dropping the connection after stop bytes of body. */
static void get_partial(reply *r, const char *path, size_t stop)
{
    reply_free(r);
    char url[400];
    snprintf(url, sizeof url, "%s%s", H->base, path);
    snprintf(r->what, sizeof r->what, "GET %s (cut after %zu bytes)", path, stop);
    httpc_get_partial(&r->h, url, NULL, stop);
}

/* GET path that must be answered in full within timeout_ms. */
static void get_within(reply *r, long timeout_ms, const char *path)
{
    reply_free(r);
    char url[400];
    snprintf(url, sizeof url, "%s%s", H->base, path);
    snprintf(r->what, sizeof r->what, "GET %s", path);
    httpc_request_timeout(&r->h, "GET", url, NULL, NULL, 0, timeout_ms);
    r->j = httpc_json(&r->h);
}

/* ------------------------------------------------------------ assertions */

static void expect_status(int line, reply *r, long want)
{
    ck_assert_msg(r->h.status == want, "line %d: %s: expected status %ld, got %ld: %s", line, r->what, want,
                  r->h.status, ex(r));
}
#define EXPECT_STATUS(r, st) expect_status(__LINE__, (r), (st))

/* Every error is {"error":{"code":…,"message":…[,"field":…]}}. */
static void expect_error(int line, reply *r, long status, const char *code, const char *field)
{
    expect_status(line, r, status);
    json_t *e = r->j ? json_object_get(r->j, "error") : NULL;
    ck_assert_msg(json_is_object(e), "line %d: %s: expected a JSON body {\"error\":{…}}, got %s", line, r->what, ex(r));
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));
    ck_assert_msg(c && m && m[0], "line %d: %s: expected error.code and a non-empty error.message, got %s", line,
                  r->what, ex(r));
    if (code)
        ck_assert_msg(!strcmp(c, code), "line %d: %s: expected error code '%s', got %s", line, r->what, code, ex(r));
    if (field) {
        const char *f = json_string_value(json_object_get(e, "field"));
        ck_assert_msg(f && !strcmp(f, field), "line %d: %s: expected error field '%s', got %s", line, r->what, field,
                      ex(r));
    }
}
#define EXPECT_ERROR(r, st, code, field) expect_error(__LINE__, (r), (st), (code), (field))

static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static json_t *jget(int line, reply *r, json_t *o, const char *key, json_type type)
{
    json_t *v = json_object_get(o ? o : r->j, key);
    char *dump = NULL;
    ck_assert_msg(v && json_typeof(v) == type, "line %d: %s: expected \"%s\" to be %s in %s (body %s)", line, r->what,
                  key, type_name(type), o ? (dump = json_dumps(o, JSON_COMPACT)) : "the body", ex(r));
    free(dump);
    return v;
}

static const char *jget_str(int line, reply *r, json_t *o, const char *key)
{
    return json_string_value(jget(line, r, o, key, JSON_STRING));
}

static double jget_num(int line, reply *r, json_t *o, const char *key)
{
    json_t *v = json_object_get(o ? o : r->j, key);
    ck_assert_msg(json_is_number(v), "line %d: %s: expected a number \"%s\" in %s", line, r->what, key, ex(r));
    return json_number_value(v);
}

#define JOBJ(r, o, k) jget(__LINE__, (r), (o), (k), JSON_OBJECT)
#define JARR(r, o, k) jget(__LINE__, (r), (o), (k), JSON_ARRAY)
#define JSTR(r, o, k) jget_str(__LINE__, (r), (o), (k))
#define JNUM(r, o, k) jget_num(__LINE__, (r), (o), (k))

/* The element of array a whose key is value (borrowed), or NULL. */
static json_t *find_by(json_t *a, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && !strcmp(v, value)) return e;
    }
    return NULL;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", s[i])) return 0;
    return 1;
}

static void copy_id(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

/* ---------------------------------------------------------------- data */

static void sha256_hex2(char out[65], const void *a, size_t na, const void *b, size_t nb)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    ck_assert(c != NULL);
    ck_assert(EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1);
    ck_assert(EVP_DigestUpdate(c, a, na) == 1);
    if (nb) ck_assert(EVP_DigestUpdate(c, b, nb) == 1);
    ck_assert(EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void sha256_hex(char out[65], const void *p, size_t n) { sha256_hex2(out, p, n, NULL, 0); }

/* A bundled file from $LG_SRCDIR/data (malloc'd). */
static uint8_t *read_data(const char *name, size_t *len)
{
    char path[PATH_MAX + 64], err[512];
    snprintf(path, sizeof path, "%s/data/%s", H->srcdir, name);
    uint8_t *buf = NULL;
    lg_status s = lg_file_read(&buf, len, path, (size_t)64 << 20, err, sizeof err);
    ck_assert_msg(s == LG_OK, "reading %s: %s", path, err);
    return buf;
}

/* The ids of the bundled learngene and pool: the sha256 of their files. */
static void bundled_ids(char tleg[65], char pool[65])
{
    size_t n;
    uint8_t *b = read_data("tleg-fmnist.safetensors", &n);
    sha256_hex(tleg, b, n);
    free(b);
    if (pool) {
        b = read_data("pool-fmnist.safetensors", &n);
        sha256_hex(pool, b, n);
        free(b);
    }
}

/* Id of the dataset called name (from GET /v1/datasets). */
static void dataset_id(char out[65], const char *name)
{
    reply r = {0};
    get(&r, "/v1/datasets");
    EXPECT_STATUS(&r, 200);
    json_t *d = find_by(JARR(&r, NULL, "datasets"), "name", name);
    ck_assert_msg(d != NULL, "GET /v1/datasets: expected a dataset named '%s', got %s", name, ex(&r));
    copy_id(out, 65, JSTR(&r, d, "id"));
    reply_free(&r);
}

/* POST /v1/models with body, expecting 200 or 201; the model id in out. */
static void grow(char out[65], const char *body)
{
    reply r = {0};
    post_json(&r, body, "/v1/models");
    ck_assert_msg(r.h.status == 200 || r.h.status == 201, "POST /v1/models %s: expected 200 or 201, got %ld: %s", body,
                  r.h.status, ex(&r));
    const char *id = JSTR(&r, NULL, "id");
    ck_assert_msg(is_hex64(id), "POST /v1/models %s: expected a 64-hex id, got %s", body, ex(&r));
    copy_id(out, 65, id);
    reply_free(&r);
}

static void grow_tleg(char out[65], int depth)
{
    char tleg[65], body[200];
    bundled_ids(tleg, NULL);
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":%d}", tleg, depth);
    grow(out, body);
}

/* GET /v1/models/{id}/weights into a core model (the sha256 of the bytes
 * in sha_out when not NULL). */
static lg_model *download_model(const char *id, char sha_out[65])
{
    reply r = {0};
    get(&r, "/v1/models/%s/weights", id);
    EXPECT_STATUS(&r, 200);
    char sha[65], err[512];
    sha256_hex(sha, r.h.body, r.h.len);
    const char *hdr = httpc_header_get(&r.h, "X-Content-SHA256");
    ck_assert_msg(hdr && !strcmp(hdr, sha), "%s: expected X-Content-SHA256 %s (sha256 of the %zu bytes), got %s",
                  r.what, sha, r.h.len, hdr ? hdr : "none");
    if (sha_out) memcpy(sha_out, sha, 65);
    lg_st *st = NULL;
    lg_status s = lg_st_parse(&st, r.h.body, r.h.len, 0, err, sizeof err);
    ck_assert_msg(s == LG_OK, "%s: the download does not parse as safetensors: %s", r.what, err);
    lg_model *m = NULL;
    s = lg_model_from_st(&m, st, err, sizeof err);
    ck_assert_msg(s == LG_OK, "%s: the download does not load as a model: %s", r.what, err);
    lg_st_free(st);
    reply_free(&r);
    return m;
}

/* A tiny image/label IDX pair (n images 28×28, labels i % 10; nlabels
 * labels) as an upload body: the images gzipped, then the labels raw.
 * *img_len is the length of the first part; id is what the daemon should
 * call it (sha256 of the raw image bytes followed by the raw label bytes). */
static uint8_t *small_idx(size_t *len, size_t *img_len, char id[65], int n, int nlabels)
{
    size_t ni = 16 + (size_t)n * 784, nl = 8 + (size_t)nlabels;
    uint8_t *img = calloc(ni, 1), *lab = calloc(nl, 1);
    ck_assert(img && lab);
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, (uint8_t)n, 0, 0, 0, 28, 0, 0, 0, 28};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)nlabels};
    memcpy(img, ih, 16);
    memcpy(lab, lh, 8);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 784; p++) img[16 + (size_t)i * 784 + (size_t)p] = (uint8_t)((p * (i + 3) + i * 7) & 0xff);
    for (int i = 0; i < nlabels; i++) lab[8 + i] = (uint8_t)(i % 10);
    sha256_hex2(id, img, ni, lab, nl);

    z_stream z = {0};
    ck_assert(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK); /* gzip wrapper */
    uLong bound = deflateBound(&z, (uLong)ni) + 32;
    uint8_t *out = malloc(bound + nl);
    ck_assert(out != NULL);
    z.next_in = img, z.avail_in = (uInt)ni, z.next_out = out, z.avail_out = (uInt)bound;
    ck_assert(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *img_len = z.total_out;
    deflateEnd(&z);
    memcpy(out + *img_len, lab, nl);
    *len = *img_len + nl;
    free(img);
    free(lab);
    return out;
}

/* POST /v1/datasets?name=small of the 20-image set; returns the status. */
static long upload_small(reply *r, char id[65])
{
    size_t len, img_len;
    uint8_t *body = small_idx(&len, &img_len, id, 20, 20);
    char xl[64];
    snprintf(xl, sizeof xl, "X-Images-Length: %zu", img_len);
    long s = post_bytes(r, "application/octet-stream", xl, body, len, "/v1/datasets?name=small");
    free(body);
    return s;
}

/* The ids (key "id") of the objects listed under key by GET path, as a
 * JSON array of strings (new reference). */
static json_t *list_ids(const char *path, const char *key)
{
    reply r = {0};
    get(&r, "%s", path);
    EXPECT_STATUS(&r, 200);
    json_t *out = json_array(), *a = JARR(&r, NULL, key), *e;
    size_t i;
    json_array_foreach(a, i, e) json_array_append_new(out, json_string(JSTR(&r, e, "id")));
    reply_free(&r);
    return out;
}

static int has_string(json_t *a, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) if (!strcmp(json_string_value(e), s)) return 1;
    return 0;
}

/* ---------------------------------------------------------------- jobs */

static int terminal(const char *state)
{
    return !strcmp(state, "succeeded") || !strcmp(state, "failed") || !strcmp(state, "cancelled");
}

typedef struct {
    long first_step, last_step, min_step;
    int distinct;  /* different step values seen */
    int monotonic; /* never went down */
    int polls;
} job_trace;

/* Polls GET /v1/jobs/{id} every 50 ms until its state is want (then the
 * last answer is in r), failing when it ends in another state or takes
 * longer than timeout seconds. */
static void wait_job(reply *r, const char *id, const char *want, double timeout, job_trace *t)
{
    job_trace tr = {.first_step = -1, .last_step = -1, .min_step = -1, .monotonic = 1};
    double t0 = now_s();
    for (;;) {
        get(r, "/v1/jobs/%s", id);
        EXPECT_STATUS(r, 200);
        const char *state = JSTR(r, NULL, "state");
        long step = (long)JNUM(r, NULL, "step");
        if (tr.first_step < 0) tr.first_step = step;
        if (tr.min_step < 0 || step < tr.min_step) tr.min_step = step;
        if (step != tr.last_step) tr.distinct++;
        if (step < tr.last_step) tr.monotonic = 0;
        tr.last_step = step;
        tr.polls++;
        if (!strcmp(state, want)) break;
        if (terminal(state)) log_tail(40);
        ck_assert_msg(!terminal(state), "job %s: expected it to end %s, it ended %s: %s", id, want, state, ex(r));
        if (now_s() - t0 > timeout) log_tail(40);
        ck_assert_msg(now_s() - t0 <= timeout, "job %s: not %s after %.0f s: %s", id, want, timeout, ex(r));
        sleep_ms(50);
    }
    if (t) *t = tr;
}

/* Top-1 accuracy of a model on the Fashion-MNIST test images of classes
 * 5-9, relabelled 0-4 (what the fine-tune jobs learn). */
static double accuracy_5_9(lg_model *m)
{
    static const int cls[] = {5, 6, 7, 8, 9};
    lg_dataset ds = {0};
    char err[512];
    lg_status s = lg_fmnist_load(&ds, lg_test_fmnist_dir(), 0, err, sizeof err);
    ck_assert_msg(s == LG_OK, "loading the Fashion-MNIST test set: %s", err);
    ck_assert(lg_dataset_filter(&ds, cls, 5, 1, err, sizeof err) == LG_OK);
    double acc = -1;
    s = lg_evaluate(m, &ds, 250, 2, &acc, NULL, err, sizeof err);
    ck_assert_msg(s == LG_OK, "lg_evaluate: %s", err);
    lg_dataset_free(&ds);
    return acc;
}

/* A fine-tune request on 100 train images per class of classes 5-9. */
static void finetune_body(char *out, size_t n, int seed, int epochs, const char *dataset)
{
    char tleg[65];
    bundled_ids(tleg, NULL);
    snprintf(out, n,
             "{\"from\":\"%s\",\"depth\":2,\"classes\":5,\"seed\":%d,\"finetune\":{\"dataset\":\"%s\","
             "\"classes\":[5,6,7,8,9],\"per_class\":100,\"epochs\":%d,\"lr\":1e-3,\"batch\":32}}",
             tleg, seed, dataset, epochs);
}

/* POST the fine-tune request: 202 {"job":…,"model":…}; ids out. */
static void submit_job(const char *body, char job[128], char model[65])
{
    reply r = {0};
    post_json(&r, body, "/v1/models");
    EXPECT_STATUS(&r, 202);
    json_t *j = JOBJ(&r, NULL, "job"), *m = JOBJ(&r, NULL, "model");
    const char *state = JSTR(&r, j, "state");
    ck_assert_msg(!strcmp(state, "queued") || !strcmp(state, "running"),
                  "POST /v1/models with finetune: expected the job queued or running, got %s", ex(&r));
    ck_assert_msg(!strcmp(JSTR(&r, j, "kind"), "finetune"), "expected job kind finetune: %s", ex(&r));
    ck_assert_msg(!strcmp(JSTR(&r, j, "model"), JSTR(&r, m, "id")),
                  "expected job.model to be the starting model's id: %s", ex(&r));
    ck_assert_msg(JNUM(&r, m, "classes") == 5 && JNUM(&r, m, "depth") == 2,
                  "expected the starting model to have 5 classes and depth 2: %s", ex(&r));
    copy_id(job, 128, JSTR(&r, j, "id"));
    copy_id(model, 65, JSTR(&r, m, "id"));
    ck_assert_msg(job[0], "expected a job id: %s", ex(&r));
    reply_free(&r);
}

/* The value of the first metrics line starting with `prefix` and holding
 * every one of the `need` substrings (NULL-terminated); -1 when none. */
static double metric(reply *r, const char *prefix, const char *const *need)
{
    const char *p = (const char *)r->h.body;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        if (n < sizeof line && !strncmp(p, prefix, strlen(prefix))) {
            memcpy(line, p, n);
            line[n] = 0;
            int ok = 1;
            for (int i = 0; need && need[i]; i++)
                if (!strstr(line, need[i])) ok = 0;
            const char *v = strrchr(line, ' ');
            if (ok && v) return strtod(v + 1, NULL);
        }
        p = eol ? eol + 1 : NULL;
    }
    return -1;
}

/* ================================================================ tests */

START_TEST(service_routes)
{
    ensure_daemon();
    reply r = {0};
    get(&r, "/healthz");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "status"), "ok"), "GET /healthz: expected {\"status\":\"ok\"}, got %s",
                  ex(&r));
    get(&r, "/readyz");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "status"), "ready"), "GET /readyz: expected {\"status\":\"ready\"}, got %s",
                  ex(&r));
    get(&r, "/v1/version");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "name"), "learngened") && JSTR(&r, NULL, "version")[0] &&
                      JNUM(&r, NULL, "schema") >= 1,
                  "GET /v1/version: expected name learngened, a version and schema >= 1, got %s", ex(&r));
    const char *ct = httpc_header_get(&r.h, "Content-Type");
    ck_assert_msg(ct && !strncmp(ct, "application/json", 16), "GET /v1/version: expected application/json, got %s",
                  ct ? ct : "no Content-Type");

    get(&r, "/v2/health/live");
    EXPECT_STATUS(&r, 200);
    get(&r, "/v2/health/ready");
    EXPECT_STATUS(&r, 200);
    get(&r, "/v2");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(JSTR(&r, NULL, "name")[0] && JSTR(&r, NULL, "version")[0],
                  "GET /v2: expected OIP server metadata with name and version, got %s", ex(&r));

    /* The request counter of a route just called (it may be counted when
     * the answer completes, so look a few times). */
    static const char *const need[] = {"/v1/version", "status=\"200\"", NULL};
    double v = -1;
    for (int i = 0; i < 20 && v < 1; i++, sleep_ms(100)) {
        get(&r, "/metrics");
        EXPECT_STATUS(&r, 200);
        v = metric(&r, "learngened_requests_total{", need);
    }
    ct = httpc_header_get(&r.h, "Content-Type");
    ck_assert_msg(ct && !strncmp(ct, "text/plain", 10), "GET /metrics: expected text/plain, got %s",
                  ct ? ct : "no Content-Type");
    ck_assert_msg(strstr((const char *)r.h.body, "learngened_requests_total"),
                  "GET /metrics: expected learngened_requests_total, got %s", ex(&r));
    ck_assert_msg(v >= 1,
                  "GET /metrics: expected a learngened_requests_total line with /v1/version and status=\"200\" "
                  "counting >= 1, got %s",
                  ex(&r));
    ck_assert_msg(strstr((const char *)r.h.body, "learngened_request_seconds_bucket"),
                  "GET /metrics: expected learngened_request_seconds_bucket, got %s", ex(&r));
    reply_free(&r);
}
END_TEST

START_TEST(learngenes_and_pools)
{
    ensure_daemon();
    char err[512], tleg[65], pool[65];
    size_t tlen, plen;
    uint8_t *tbytes = read_data("tleg-fmnist.safetensors", &tlen);
    uint8_t *pbytes = read_data("pool-fmnist.safetensors", &plen);
    sha256_hex(tleg, tbytes, tlen);
    sha256_hex(pool, pbytes, plen);
    reply r = {0};

    /* the bundled TLEG learngene, as the core reads it */
    lg_st *st;
    ck_assert(lg_st_parse(&st, tbytes, tlen, 0, err, sizeof err) == LG_OK);
    lg_gene g;
    ck_assert_msg(lg_gene_from_st(&g, st, err, sizeof err) == LG_OK, "%s", err);
    int dmin, dmax;
    lg_gene_depths(&g, &dmin, &dmax);

    get(&r, "/v1/learngenes");
    EXPECT_STATUS(&r, 200);
    json_t *l = find_by(JARR(&r, NULL, "learngenes"), "id", tleg);
    ck_assert_msg(l, "GET /v1/learngenes: expected the bundled learngene %s, got %s", tleg, ex(&r));
    ck_assert_msg(!strcmp(JSTR(&r, l, "kind"), "tleg"), "expected kind tleg: %s", ex(&r));
    ck_assert_msg(JNUM(&r, l, "size") == (double)tlen, "expected size %zu: %s", tlen, ex(&r));
    ck_assert_msg(JNUM(&r, l, "params") == (double)lg_gene_params(&g), "expected params %zu: %s", lg_gene_params(&g),
                  ex(&r));
    json_t *depths = JARR(&r, l, "depths");
    ck_assert_msg(json_array_size(depths) == 2 && json_number_value(json_array_get(depths, 0)) == dmin &&
                      json_number_value(json_array_get(depths, 1)) == dmax,
                  "expected depths [%d,%d]: %s", dmin, dmax, ex(&r));
    ck_assert_msg(JNUM(&r, JOBJ(&r, l, "config"), "dim") == 96, "expected config.dim 96: %s", ex(&r));
    JOBJ(&r, l, "meta");
    ck_assert_msg(!find_by(JARR(&r, NULL, "learngenes"), "kind", "pool"), "GET /v1/learngenes lists a pool: %s",
                  ex(&r));
    lg_gene_free(&g);
    lg_st_free(st);

    /* the bundled pool: 2 instances + 5 stitches, FLOPs and params as the
     * core counts them, the bundled accuracies */
    lg_genepool gp;
    ck_assert(lg_st_parse(&st, pbytes, plen, 0, err, sizeof err) == LG_OK);
    ck_assert_msg(lg_genepool_from_st(&gp, st, err, sizeof err) == LG_OK, "%s", err);
    lg_st_free(st);
    get(&r, "/v1/pools");
    EXPECT_STATUS(&r, 200);
    json_t *p = find_by(JARR(&r, NULL, "pools"), "id", pool);
    ck_assert_msg(p, "GET /v1/pools: expected the bundled pool %s, got %s", pool, ex(&r));
    ck_assert_msg(!strcmp(JSTR(&r, p, "kind"), "pool"), "expected kind pool: %s", ex(&r));
    json_t *inst = JOBJ(&r, p, "instances");
    ck_assert_msg(json_is_object(json_object_get(inst, "d48")) && json_is_object(json_object_get(inst, "d96")),
                  "expected instances d48 and d96: %s", ex(&r));
    json_t *confs = JARR(&r, p, "configurations");
    lg_genepool_cfg cf[64];
    int ncf = lg_genepool_configs(&gp, cf, 64);
    ck_assert_msg(ncf == 7 && json_array_size(confs) == 7, "expected 7 configurations (core counts %d): %s", ncf,
                  ex(&r));
    for (int i = 0; i < ncf; i++) {
        char key[96];
        if (cf[i].at)
            snprintf(key, sizeof key, "%s.%d.%s", gp.names[cf[i].from], cf[i].at, gp.names[cf[i].to]);
        else
            snprintf(key, sizeof key, "%s", gp.names[cf[i].from]);
        lg_config c;
        ck_assert(lg_genepool_config(&c, &gp, &cf[i], err, sizeof err) == LG_OK);
        json_t *e = find_by(confs, "variant", key);
        ck_assert_msg(e, "expected configuration %s: %s", key, ex(&r));
        double flops = JNUM(&r, e, "flops"), acc = JNUM(&r, e, "accuracy");
        ck_assert_msg(fabs(flops - lg_config_flops(&c)) <= 1e-9 * lg_config_flops(&c) &&
                          JNUM(&r, e, "params") == (double)lg_config_params(&c) && JNUM(&r, e, "depth") == c.depth,
                      "configuration %s: expected depth %d, flops %.0f, params %zu: %s", key, c.depth,
                      lg_config_flops(&c), lg_config_params(&c), ex(&r));
        ck_assert_msg(acc > 0 && acc < 1, "configuration %s: expected its bundled accuracy: %s", key, ex(&r));
        if (!strcmp(key, "d48.3.d96"))
            ck_assert_msg(fabs(acc - 0.7289) < 1e-4, "d48.3.d96: expected accuracy 0.7289 (eval.d48.3.d96): %s",
                          ex(&r));
    }
    lg_genepool_free(&gp);

    /* describe by id and by an 8-digit prefix */
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", tleg);
    get(&r, "/v1/learngenes/%s", tleg);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), tleg) && !strcmp(JSTR(&r, NULL, "kind"), "tleg"),
                  "expected learngene %s: %s", tleg, ex(&r));
    get(&r, "/v1/learngenes/%s", prefix);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), tleg), "expected learngene %s by prefix: %s", tleg, ex(&r));
    snprintf(prefix, sizeof prefix, "%.8s", pool);
    get(&r, "/v1/pools/%s", pool);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), pool), "expected pool %s: %s", pool, ex(&r));
    get(&r, "/v1/pools/%s", prefix);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), pool), "expected pool %s by prefix: %s", pool, ex(&r));

    /* the stored bytes, with their sha256 */
    get(&r, "/v1/learngenes/%s/weights", tleg);
    EXPECT_STATUS(&r, 200);
    const char *sha = httpc_header_get(&r.h, "X-Content-SHA256");
    ck_assert_msg(r.h.len == tlen && !memcmp(r.h.body, tbytes, tlen),
                  "%s: expected the %zu bytes of data/tleg-fmnist.safetensors, got %s", r.what, tlen, ex(&r));
    ck_assert_msg(sha && !strcmp(sha, tleg), "%s: expected X-Content-SHA256 %s, got %s", r.what, tleg,
                  sha ? sha : "none");
    get(&r, "/v1/pools/%s/weights", pool);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(r.h.len == plen && !memcmp(r.h.body, pbytes, plen),
                  "%s: expected the %zu bytes of data/pool-fmnist.safetensors, got %s", r.what, plen, ex(&r));

    /* uploads: the same bytes again are deduplicated */
    post_bytes(&r, "application/octet-stream", NULL, tbytes, tlen, "/v1/learngenes");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), tleg), "re-upload: expected the same id %s: %s", tleg, ex(&r));
    post_bytes(&r, "application/octet-stream", NULL, pbytes, plen, "/v1/pools");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), pool), "re-upload: expected the same id %s: %s", pool, ex(&r));

    static const char garbage[] = "this is not a safetensors file, nor a learngene";
    post_bytes(&r, "application/octet-stream", NULL, garbage, sizeof garbage - 1, "/v1/learngenes");
    EXPECT_ERROR(&r, 400, "bad_request", "body");
    uint8_t *big = calloc((size_t)MAX_UPLOAD + 1, 1);
    ck_assert(big != NULL);
    post_bytes(&r, "application/octet-stream", "Expect: 100-continue", big, (size_t)MAX_UPLOAD + 1, "/v1/learngenes");
    EXPECT_ERROR(&r, 413, "too_large", NULL);
    free(big);

    get(&r, "/v1/learngenes/" ZERO_ID);
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    get(&r, "/v1/learngenes/00000000");
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    get(&r, "/v1/pools/" ZERO_ID);
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    get(&r, "/v1/learngenes/" ZERO_ID "/weights");
    EXPECT_ERROR(&r, 404, "not_found", NULL);

    /* a distinct learngene - the same one re-serialized in F16 - is
     * stored (201) and can be deleted */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/data/tleg-fmnist.safetensors", H->srcdir);
    ck_assert_msg(lg_st_read_file(&st, path, err, sizeof err) == LG_OK, "%s: %s", path, err);
    int nt = lg_st_count(st), nm = lg_st_meta_count(st);
    lg_st_in *in = calloc((size_t)nt, sizeof *in);
    lg_st_kv *kv = calloc((size_t)nm + 1, sizeof *kv);
    float **data = calloc((size_t)nt, sizeof *data);
    ck_assert(in && kv && data);
    for (int i = 0; i < nt; i++) {
        const lg_st_tensor *t = lg_st_get(st, i);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
        data[i] = malloc((numel ? numel : 1) * sizeof(float));
        ck_assert(data[i] != NULL);
        lg_st_to_f32(t, data[i]);
        in[i] = (lg_st_in){.name = t->name, .ndim = t->ndim, .shape = t->shape, .data = data[i]};
    }
    for (int i = 0; i < nm; i++) lg_st_meta_get(st, i, &kv[i].key, &kv[i].value);
    uint8_t *f16;
    size_t f16len;
    ck_assert_msg(lg_st_serialize(&f16, &f16len, in, nt, kv, nm, LG_F16, err, sizeof err) == LG_OK, "%s", err);
    char f16id[65];
    sha256_hex(f16id, f16, f16len);
    post_bytes(&r, "application/octet-stream", NULL, f16, f16len, "/v1/learngenes?name=f16-copy");
    EXPECT_STATUS(&r, 201);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), f16id) && !strcmp(JSTR(&r, NULL, "kind"), "tleg") &&
                      !strcmp(JSTR(&r, NULL, "name"), "f16-copy"),
                  "upload of the F16 copy: expected id %s, kind tleg, name f16-copy: %s", f16id, ex(&r));
    get(&r, "/v1/learngenes");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(find_by(JARR(&r, NULL, "learngenes"), "id", f16id), "expected %s listed: %s", f16id, ex(&r));
    del(&r, "/v1/learngenes/%s", f16id);
    EXPECT_STATUS(&r, 204);
    ck_assert_msg(r.h.len == 0, "%s: expected an empty 204 body, got %s", r.what, ex(&r));
    get(&r, "/v1/learngenes/%s", f16id);
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    del(&r, "/v1/learngenes/%s", f16id);
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    get(&r, "/v1/learngenes/%s", tleg);
    EXPECT_STATUS(&r, 200);

    for (int i = 0; i < nt; i++) free(data[i]);
    free(data);
    free(in);
    free(kv);
    free(f16);
    lg_st_free(st);
    free(tbytes);
    free(pbytes);
    reply_free(&r);
}
END_TEST

/* The model object's config parsed by the core, its flops and params
 * checked against the core's counts. */
static lg_config model_config(reply *r, json_t *m)
{
    char err[512];
    char *cj = json_dumps(JOBJ(r, m, "config"), JSON_COMPACT);
    lg_config c;
    lg_status s = lg_config_from_json(&c, cj, strlen(cj), err, sizeof err);
    ck_assert_msg(s == LG_OK, "%s: the model's config does not parse (%s): %s", r->what, err, cj);
    free(cj);
    double flops = JNUM(r, m, "flops");
    ck_assert_msg(fabs(flops - lg_config_flops(&c)) <= 1e-9 * lg_config_flops(&c) &&
                      JNUM(r, m, "params") == (double)lg_config_params(&c),
                  "%s: expected flops %.0f and params %zu for its config, got %s", r->what, lg_config_flops(&c),
                  lg_config_params(&c), ex(r));
    return c;
}

START_TEST(models)
{
    ensure_daemon();
    char tleg[65], pool[65], body[MAX_BODY + 64], id[65], sid[65], bid[65];
    bundled_ids(tleg, pool);
    reply r = {0};

    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":4}", tleg);
    post_json(&r, body, "/v1/models");
    EXPECT_STATUS(&r, 201);
    copy_id(id, sizeof id, JSTR(&r, NULL, "id"));
    ck_assert_msg(is_hex64(id), "expected a 64-hex model id: %s", ex(&r));
    ck_assert_msg(JNUM(&r, NULL, "depth") == 4 && JNUM(&r, NULL, "classes") == 10 &&
                      !strcmp(JSTR(&r, NULL, "method"), "tleg") && !strcmp(JSTR(&r, NULL, "source"), tleg),
                  "expected depth 4, classes 10, method tleg, source %s: %s", tleg, ex(&r));
    lg_config c = model_config(&r, NULL);
    ck_assert_msg(c.depth == 4 && c.dim == 96 && c.classes == 10, "expected a depth-4 dim-96 config: %s", ex(&r));

    post_json(&r, body, "/v1/models");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), id), "the same request again: expected id %s, got %s", id, ex(&r));

    post_json(&r, "{\"budget\":{\"flops\":1e8}}", "/v1/models");
    ck_assert_msg(r.h.status == 201 || r.h.status == 200, "%s budget 1e8: expected 201 (or 200), got %ld: %s", r.what,
                  r.h.status, ex(&r));
    copy_id(bid, sizeof bid, JSTR(&r, NULL, "id"));
    ck_assert_msg(JNUM(&r, NULL, "flops") <= 1e8, "budget 1e8: expected flops <= 1e8: %s", ex(&r));
    model_config(&r, NULL);
    json_t *solver = JOBJ(&r, NULL, "solver");
    ck_assert_msg(JNUM(&r, solver, "considered") >= 1 && JSTR(&r, solver, "reason")[0],
                  "budget: expected solver.considered >= 1 and a reason: %s", ex(&r));

    post_json(&r, "{\"budget\":{\"flops\":1}}", "/v1/models");
    EXPECT_ERROR(&r, 422, "unprocessable", NULL);
    post_json(&r, "{", "/v1/models");
    EXPECT_ERROR(&r, 400, "bad_request", NULL);
    snprintf(body, sizeof body, "{\"depth\":\"six\",\"from\":\"%s\"}", tleg);
    post_json(&r, body, "/v1/models");
    EXPECT_ERROR(&r, 400, "bad_request", "depth");
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":4,\"colour\":1}", tleg);
    post_json(&r, body, "/v1/models");
    EXPECT_ERROR(&r, 400, "bad_request", "colour");
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":4,\"depth\":5}", tleg);
    post_json(&r, body, "/v1/models");
    EXPECT_ERROR(&r, 400, "bad_request", NULL);
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":0}", tleg);
    post_json(&r, body, "/v1/models");
    EXPECT_ERROR(&r, 400, "bad_request", "depth");
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":4,\"budget\":{\"flops\":1e8}}", tleg);
    post_json(&r, body, "/v1/models");
    EXPECT_ERROR(&r, 400, "bad_request", NULL);
    post_json(&r, "{\"depth\":4}", "/v1/models");
    EXPECT_ERROR(&r, 400, "bad_request", "from");
    post_json(&r, "{\"from\":\"" ZERO_ID "\",\"depth\":4}", "/v1/models");
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    /* a valid request padded with blanks to one byte over max_body */
    int n = snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":4}", tleg);
    memset(body + n, ' ', (size_t)(MAX_BODY + 1 - n));
    body[MAX_BODY + 1] = 0;
    {
        const char *h[] = {"Content-Type: application/json", "Expect: 100-continue", NULL};
        call(&r, "POST", h, body, MAX_BODY + 1, "/v1/models");
    }
    EXPECT_ERROR(&r, 413, "too_large", NULL);

    /* a stitched configuration of the pool */
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"init\":\"stitch\",\"variant\":\"d48.3.d96\"}", pool);
    post_json(&r, body, "/v1/models");
    EXPECT_STATUS(&r, 201);
    copy_id(sid, sizeof sid, JSTR(&r, NULL, "id"));
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "method"), "stitch") && !strcmp(JSTR(&r, NULL, "source"), pool),
                  "expected method stitch from the pool: %s", ex(&r));
    c = model_config(&r, NULL);
    ck_assert_msg(c.stitch_at == 3 && c.dim == 48 && c.dim2 == 96 && c.depth == 6,
                  "expected a d48 -> d96 model stitched at block 3, depth 6: %s", ex(&r));

    /* list, describe, prefix, unknown */
    get(&r, "/v1/models");
    EXPECT_STATUS(&r, 200);
    json_t *ms = JARR(&r, NULL, "models");
    ck_assert_msg(find_by(ms, "id", id) && find_by(ms, "id", sid) && find_by(ms, "id", bid),
                  "GET /v1/models: expected %s, %s and %s listed: %s", id, sid, bid, ex(&r));
    get(&r, "/v1/models/%s", id);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), id) && JNUM(&r, NULL, "depth") == 4, "expected model %s: %s", id,
                  ex(&r));
    get(&r, "/v1/models/%.8s", sid);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), sid), "expected model %s by prefix: %s", sid, ex(&r));
    get(&r, "/v1/models/" ZERO_ID);
    EXPECT_ERROR(&r, 404, "not_found", NULL);

    /* delete */
    char did[65];
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"depth\":3,\"seed\":7}", tleg);
    post_json(&r, body, "/v1/models");
    EXPECT_STATUS(&r, 201);
    copy_id(did, sizeof did, JSTR(&r, NULL, "id"));
    del(&r, "/v1/models/%s", did);
    EXPECT_STATUS(&r, 204);
    get(&r, "/v1/models/%s", did);
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    reply_free(&r);
}
END_TEST

START_TEST(weights)
{
    ensure_daemon();
    char id[65], sha[65], err[512];
    grow_tleg(id, 4);
    reply r = {0}, part = {0};

    get(&r, "/v1/models/%s/weights", id);
    EXPECT_STATUS(&r, 200);
    size_t N = r.h.len;
    uint8_t *full = malloc(N);
    ck_assert(full != NULL);
    memcpy(full, r.h.body, N);
    sha256_hex(sha, full, N);
    const char *cl = httpc_header_get(&r.h, "Content-Length"), *xs = httpc_header_get(&r.h, "X-Content-SHA256");
    const char *etag = httpc_header_get(&r.h, "ETag"), *ar = httpc_header_get(&r.h, "Accept-Ranges");
    const char *ct = httpc_header_get(&r.h, "Content-Type");
    ck_assert_msg(cl && strtoull(cl, NULL, 10) == N, "%s: expected Content-Length %zu, got %s", r.what, N,
                  cl ? cl : "none");
    ck_assert_msg(xs && !strcmp(xs, sha), "%s: expected X-Content-SHA256 %s, got %s", r.what, sha, xs ? xs : "none");
    ck_assert_msg(etag && strstr(etag, sha), "%s: expected an ETag \"%s\", got %s", r.what, sha, etag ? etag : "none");
    ck_assert_msg(ar && !strcmp(ar, "bytes"), "%s: expected Accept-Ranges: bytes, got %s", r.what, ar ? ar : "none");
    ck_assert_msg(ct && !strncmp(ct, "application/octet-stream", 24), "%s: expected application/octet-stream, got %s",
                  r.what, ct ? ct : "none");
    char etag_copy[160];
    snprintf(etag_copy, sizeof etag_copy, "%s", etag);

    get(&r, "/v1/models/%s", id);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "sha256"), sha), "GET /v1/models/%s: expected sha256 %s (the download's): %s",
                  id, sha, ex(&r));

    /* the file loads into the core as the model described */
    char file[PATH_MAX + 64];
    snprintf(file, sizeof file, "%s/model-%d.safetensors", H->dir, (int)getpid());
    FILE *f = fopen(file, "wb");
    ck_assert_msg(f && fwrite(full, 1, N, f) == N && !fclose(f), "writing %s", file);
    lg_model *m = NULL;
    ck_assert_msg(lg_model_load(&m, file, err, sizeof err) == LG_OK, "lg_model_load of the download: %s", err);
    const lg_config *mc = lg_model_config(m);
    ck_assert_msg(mc->depth == 4 && mc->classes == 10 && mc->dim == 96, "expected a depth-4 10-class dim-96 model");
    unlink(file);

    /* f16 and bf16: the same tensors in that dtype */
    static const char *const dts[] = {"f16", "bf16"};
    for (int k = 0; k < 2; k++) {
        lg_dtype want = k ? LG_BF16 : LG_F16;
        get(&r, "/v1/models/%s/weights?dtype=%s", id, dts[k]);
        EXPECT_STATUS(&r, 200);
        char s2[65];
        sha256_hex(s2, r.h.body, r.h.len);
        xs = httpc_header_get(&r.h, "X-Content-SHA256");
        ck_assert_msg(xs && !strcmp(xs, s2), "%s: expected X-Content-SHA256 %s, got %s", r.what, s2, xs ? xs : "none");
        lg_st *st;
        ck_assert_msg(lg_st_parse(&st, r.h.body, r.h.len, 0, err, sizeof err) == LG_OK, "%s: %s", r.what, err);
        int nt;
        lg_model_tensors(m, &nt);
        ck_assert_msg(lg_st_count(st) == nt, "%s: expected %d tensors, got %d", r.what, nt, lg_st_count(st));
        for (int i = 0; i < lg_st_count(st); i++)
            ck_assert_msg(lg_st_get(st, i)->dtype == want, "%s: tensor %s is %s, expected %s", r.what,
                          lg_st_get(st, i)->name, lg_dtype_name(lg_st_get(st, i)->dtype), lg_dtype_name(want));
        lg_model *h = NULL;
        ck_assert_msg(lg_model_from_st(&h, st, err, sizeof err) == LG_OK, "%s: %s", r.what, err);
        size_t at = 0;
        double e = lg_test_max_relerr(lg_model_params(h), lg_model_params(m), lg_model_nparams(m), 1e-2, &at);
        ck_assert_msg(e < (k ? 1e-2 : 2e-3), "%s: parameter %zu differs from f32 by %g (relative)", r.what, at, e);
        lg_model_free(h);
        lg_st_free(st);
    }
    get(&r, "/v1/models/%s/weights?dtype=f64", id);
    EXPECT_ERROR(&r, 400, "bad_request", "dtype");

    /* ranges */
    char path[128 + 64], want[128];
    snprintf(path, sizeof path, "/v1/models/%s/weights", id);
    get_range(&r, path, 0, 99);
    EXPECT_STATUS(&r, 206);
    const char *cr = httpc_header_get(&r.h, "Content-Range");
    snprintf(want, sizeof want, "bytes 0-99/%zu", N);
    ck_assert_msg(r.h.len == 100 && !memcmp(r.h.body, full, 100), "%s: expected the first 100 bytes, got %s", r.what,
                  ex(&r));
    ck_assert_msg(cr && !strcmp(cr, want), "%s: expected Content-Range %s, got %s", r.what, want, cr ? cr : "none");

    get_range(&r, path, (long long)N, -1);
    EXPECT_ERROR(&r, 416, "range_not_satisfiable", NULL);
    cr = httpc_header_get(&r.h, "Content-Range");
    snprintf(want, sizeof want, "bytes */%zu", N);
    ck_assert_msg(cr && !strcmp(cr, want), "%s: expected Content-Range %s, got %s", r.what, want, cr ? cr : "none");

    /* an interrupted download resumed with a Range */
    size_t K = N / 3;
    get_partial(&part, path, K);
    EXPECT_STATUS(&part, 200);
    ck_assert_msg(part.h.truncated && part.h.len == K && !memcmp(part.h.body, full, K),
                  "%s: expected the first %zu bytes, got %zu", part.what, K, part.h.len);
    xs = httpc_header_get(&part.h, "X-Content-SHA256");
    ck_assert_msg(xs && !strcmp(xs, sha), "%s: expected X-Content-SHA256 %s, got %s", part.what, sha, xs ? xs : "none");
    get_range(&r, path, (long long)K, -1);
    EXPECT_STATUS(&r, 206);
    cr = httpc_header_get(&r.h, "Content-Range");
    snprintf(want, sizeof want, "bytes %zu-%zu/%zu", K, N - 1, N);
    ck_assert_msg(cr && !strcmp(cr, want), "%s: expected Content-Range %s, got %s", r.what, want, cr ? cr : "none");
    char joined[65];
    sha256_hex2(joined, part.h.body, part.h.len, r.h.body, r.h.len);
    ck_assert_msg(r.h.len == N - K && !strcmp(joined, xs),
                  "%s: the %zu + %zu resumed bytes hash to %s, expected X-Content-SHA256 %s", r.what, part.h.len,
                  r.h.len, joined, xs);

    /* a conditional GET */
    char inm[200];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag_copy);
    const char *h[] = {inm, NULL};
    call(&r, "GET", h, NULL, 0, "/v1/models/%s/weights", id);
    EXPECT_STATUS(&r, 304);
    ck_assert_msg(r.h.len == 0, "%s: expected no body with 304, got %s", r.what, ex(&r));

    get(&r, "/v1/models/" ZERO_ID "/weights");
    EXPECT_ERROR(&r, 404, "not_found", NULL);

    lg_model_free(m);
    free(full);
    reply_free(&part);
    reply_free(&r);
}
END_TEST

static void softmax(double *p, const float *z, int k)
{
    double mx = z[0], s = 0;
    for (int i = 1; i < k; i++) mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < k; i++) s += p[i] = exp(z[i] - mx);
    for (int i = 0; i < k; i++) p[i] /= s;
}

static int argmax(const float *z, int k)
{
    int b = 0;
    for (int i = 1; i < k; i++)
        if (z[i] > z[b]) b = i;
    return b;
}

/* The n×k "logits" of a predict answer into out. */
static void reply_logits(reply *r, float *out, int n, int k)
{
    json_t *l = JARR(r, NULL, "logits");
    ck_assert_msg((int)json_array_size(l) == n, "%s: expected %d rows of logits: %s", r->what, n, ex(r));
    for (int i = 0; i < n; i++) {
        json_t *row = json_array_get(l, (size_t)i);
        ck_assert_msg(json_is_array(row) && (int)json_array_size(row) == k, "%s: expected logits rows of %d: %s",
                      r->what, k, ex(r));
        for (int j = 0; j < k; j++) out[i * k + j] = (float)json_number_value(json_array_get(row, (size_t)j));
    }
}

/* The top classes of a predict answer: n predictions of k entries each,
 * probabilities in [0,1] and descending; classes into cls[n*k]. */
static void reply_top(reply *r, int *cls, double *prob, int n, int k)
{
    json_t *p = JARR(r, NULL, "predictions");
    ck_assert_msg((int)json_array_size(p) == n, "%s: expected %d predictions: %s", r->what, n, ex(r));
    for (int i = 0; i < n; i++) {
        json_t *top = JARR(r, json_array_get(p, (size_t)i), "top");
        ck_assert_msg((int)json_array_size(top) == k, "%s: expected %d entries in top: %s", r->what, k, ex(r));
        for (int j = 0; j < k; j++) {
            json_t *e = json_array_get(top, (size_t)j);
            double c = JNUM(r, e, "class"), pr = JNUM(r, e, "prob");
            ck_assert_msg(c >= 0 && c < 10 && c == (int)c && pr >= 0 && pr <= 1,
                          "%s: expected an integer class in [0,10) and a prob in [0,1]: %s", r->what, ex(r));
            if (j) ck_assert_msg(pr <= prob[i * k + j - 1], "%s: expected probs descending: %s", r->what, ex(r));
            cls[i * k + j] = (int)c;
            prob[i * k + j] = pr;
        }
    }
}

START_TEST(predict)
{
    ensure_daemon();
    enum { B = 8, D = 784, K = 10 };
    char id[65], err[512];
    grow_tleg(id, 4);
    lg_dataset ds = {0};
    ck_assert_msg(lg_fmnist_load(&ds, lg_test_fmnist_dir(), 0, err, sizeof err) == LG_OK, "%s", err);
    ck_assert(ds.n >= MAX_BATCH + 1 && ds.c * ds.h * ds.w == D);

    /* what the core computes with the downloaded weights */
    lg_model *m = download_model(id, NULL);
    lg_ctx *x;
    ck_assert_msg(lg_ctx_new(&x, m, B, 1, 0, err, sizeof err) == LG_OK, "%s", err);
    float ref[B * K], got[B * K];
    ck_assert(lg_forward(x, ref, ds.images, B) == LG_OK);
    double p[K];
    reply r = {0};

    /* raw float32 body */
    post_bytes(&r, "application/octet-stream", NULL, ds.images, (size_t)B * D * sizeof(float),
               "/v1/models/%s/predict?logits=1&top_k=3", id);
    EXPECT_STATUS(&r, 200);
    int cls[B * 3], raw_top[B];
    double prob[B * 3];
    reply_top(&r, cls, prob, B, 3);
    reply_logits(&r, got, B, K);
    size_t at = 0;
    double e = lg_test_max_relerr(got, ref, B * K, 1.0, &at);
    ck_assert_msg(e <= 1e-5, "%s: logit %zu is %.8g, lg_forward gives %.8g (relative error %g): %s", r.what, at,
                  (double)got[at], (double)ref[at], e, ex(&r));
    for (int i = 0; i < B; i++) {
        softmax(p, ref + i * K, K);
        raw_top[i] = cls[i * 3];
        ck_assert_msg(cls[i * 3] == argmax(ref + i * K, K), "%s: image %d: expected top class %d, got %d", r.what, i,
                      argmax(ref + i * K, K), cls[i * 3]);
        for (int j = 0; j < 3; j++)
            ck_assert_msg(fabs(prob[i * 3 + j] - p[cls[i * 3 + j]]) < 1e-4,
                          "%s: image %d: class %d prob %g, softmax of lg_forward's logits %g", r.what, i,
                          cls[i * 3 + j], prob[i * 3 + j], p[cls[i * 3 + j]]);
    }

    /* JSON, pixels in [0,1] (un-normalized); as many images as fit under
     * max_body */
    int nj = 4;
    char *js = NULL;
    for (; nj >= 1; nj /= 2) {
        json_t *imgs = json_array();
        for (int i = 0; i < nj; i++) {
            json_t *row = json_array();
            for (int q = 0; q < D; q++)
                json_array_append_new(row, json_real(ds.images[i * D + q] * LG_FMNIST_STD + LG_FMNIST_MEAN));
            json_array_append_new(imgs, row);
        }
        json_t *req = json_pack("{s:o,s:i}", "images", imgs, "top_k", 1);
        js = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(9));
        json_decref(req);
        if (strlen(js) < MAX_BODY - 1024) break;
        free(js);
        js = NULL;
    }
    ck_assert(js != NULL);
    post_json(&r, js, "/v1/models/%s/predict", id);
    free(js);
    EXPECT_STATUS(&r, 200);
    reply_top(&r, cls, prob, nj, 1);
    for (int i = 0; i < nj; i++)
        ck_assert_msg(cls[i] == raw_top[i], "%s: image %d: expected top class %d (as the raw body), got %d", r.what, i,
                      raw_top[i], cls[i]);

    /* JSON, normalized, with logits */
    {
        json_t *imgs = json_array();
        for (int i = 0; i < 2; i++) {
            json_t *row = json_array();
            for (int q = 0; q < D; q++) json_array_append_new(row, json_real(ds.images[i * D + q]));
            json_array_append_new(imgs, row);
        }
        json_t *req = json_pack("{s:o,s:b,s:b,s:i}", "images", imgs, "normalized", 1, "logits", 1, "top_k", 2);
        js = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(9));
        json_decref(req);
        post_json(&r, js, "/v1/models/%s/predict", id);
        free(js);
        EXPECT_STATUS(&r, 200);
        reply_logits(&r, got, 2, K);
        e = lg_test_max_relerr(got, ref, 2 * K, 1.0, &at);
        ck_assert_msg(e <= 1e-5, "%s: logit %zu is %.8g, lg_forward gives %.8g: %s", r.what, at, (double)got[at],
                      (double)ref[at], ex(&r));
    }

    /* application/x-u8: the original bytes */
    {
        uint8_t u8[B * D];
        for (int q = 0; q < B * D; q++) {
            double v = ((double)ds.images[q] * LG_FMNIST_STD + LG_FMNIST_MEAN) * 255.0;
            u8[q] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
        post_bytes(&r, "application/x-u8", NULL, u8, sizeof u8, "/v1/models/%s/predict?top_k=1", id);
        EXPECT_STATUS(&r, 200);
        reply_top(&r, cls, prob, B, 1);
        for (int i = 0; i < B; i++)
            ck_assert_msg(cls[i] == raw_top[i], "%s: image %d: expected top class %d, got %d", r.what, i, raw_top[i],
                          cls[i]);
    }

    /* errors */
    post_bytes(&r, "application/octet-stream", NULL, ds.images, (size_t)B * D * sizeof(float) - 4,
               "/v1/models/%s/predict", id);
    EXPECT_ERROR(&r, 400, "bad_request", NULL);
    post_bytes(&r, "application/octet-stream", "Expect: 100-continue", ds.images,
               (size_t)(MAX_BATCH + 1) * D * sizeof(float), "/v1/models/%s/predict", id);
    EXPECT_ERROR(&r, 413, "too_large", NULL);
    post_bytes(&r, "application/octet-stream", NULL, ds.images, (size_t)D * sizeof(float),
               "/v1/models/" ZERO_ID "/predict");
    EXPECT_ERROR(&r, 404, "not_found", NULL);

    /* Open Inference Protocol */
    get(&r, "/v2/models/%s", id);
    EXPECT_STATUS(&r, 200);
    {
        json_t *in0 = json_array_get(JARR(&r, NULL, "inputs"), 0), *out0 = json_array_get(JARR(&r, NULL, "outputs"), 0);
        char *si = json_dumps(json_object_get(in0, "shape"), JSON_COMPACT);
        char *so = json_dumps(json_object_get(out0, "shape"), JSON_COMPACT);
        ck_assert_msg(!strcmp(JSTR(&r, NULL, "name"), id) && si && !strcmp(si, "[-1,1,28,28]") && so &&
                          !strcmp(so, "[-1,10]") && !strcmp(JSTR(&r, in0, "datatype"), "FP32") &&
                          !strcmp(JSTR(&r, out0, "name"), "logits"),
                      "%s: expected name %s, inputs FP32 [-1,1,28,28], outputs logits [-1,10]: %s", r.what, id, ex(&r));
        free(si);
        free(so);
    }
    get(&r, "/v2/models/%s/ready", id);
    EXPECT_STATUS(&r, 200);
    get(&r, "/v2/models/" ZERO_ID "/ready");
    EXPECT_STATUS(&r, 404);
    {
        json_t *data = json_array();
        for (int q = 0; q < 2 * D; q++) json_array_append_new(data, json_real(ds.images[q]));
        json_t *req = json_pack("{s:[{s:s,s:[i,i,i,i],s:s,s:o}]}", "inputs", "name", "images", "shape", 2, 1, 28, 28,
                                "datatype", "FP32", "data", data);
        js = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(9));
        json_decref(req);
        post_json(&r, js, "/v2/models/%s/infer", id);
        free(js);
        EXPECT_STATUS(&r, 200);
        json_t *o0 = json_array_get(JARR(&r, NULL, "outputs"), 0);
        char *so = json_dumps(json_object_get(o0, "shape"), JSON_COMPACT);
        json_t *od = json_object_get(o0, "data");
        ck_assert_msg(!strcmp(JSTR(&r, NULL, "model_name"), id) && o0 && !strcmp(JSTR(&r, o0, "name"), "logits") &&
                          so && !strcmp(so, "[2,10]") && json_is_array(od),
                      "%s: expected model_name %s and outputs [{name logits, shape [2,10], data}]: %s", r.what, id,
                      ex(&r));
        free(so);
        /* flat, or nested [[…],[…]] */
        int flat = json_array_size(od) == 2 * K;
        ck_assert_msg(flat || json_array_size(od) == 2, "%s: expected 20 logits: %s", r.what, ex(&r));
        for (int i = 0; i < 2 * K; i++)
            got[i] =
                (float)json_number_value(flat ? json_array_get(od, (size_t)i)
                                              : json_array_get(json_array_get(od, (size_t)(i / K)), (size_t)(i % K)));
        e = lg_test_max_relerr(got, ref, 2 * K, 1.0, &at);
        ck_assert_msg(e <= 1e-5, "%s: logit %zu is %.8g, lg_forward gives %.8g: %s", r.what, at, (double)got[at],
                      (double)ref[at], ex(&r));
    }
    post_json(&r, "{}", "/v2/repository/index");
    EXPECT_STATUS(&r, 200);
    {
        json_t *me = find_by(r.j, "name", id);
        ck_assert_msg(json_is_array(r.j) && me && !strcmp(JSTR(&r, me, "state"), "READY"),
                      "%s: expected [{\"name\":\"%s\",\"state\":\"READY\"},…]: %s", r.what, id, ex(&r));
    }

    lg_ctx_free(x);
    lg_model_free(m);
    lg_dataset_free(&ds);
    reply_free(&r);
}
END_TEST

START_TEST(datasets)
{
    ensure_daemon();
    reply r = {0};
    get(&r, "/v1/datasets");
    EXPECT_STATUS(&r, 200);
    json_t *a = JARR(&r, NULL, "datasets");
    json_t *tr = find_by(a, "name", "fashion-mnist-train"), *te = find_by(a, "name", "fashion-mnist-test");
    ck_assert_msg(tr && te, "GET /v1/datasets: expected fashion-mnist-train and fashion-mnist-test: %s", ex(&r));
    ck_assert_msg(JNUM(&r, tr, "n") == 60000 && JNUM(&r, te, "n") == 10000 && JNUM(&r, tr, "c") == 1 &&
                      JNUM(&r, tr, "h") == 28 && JNUM(&r, tr, "w") == 28 && JNUM(&r, tr, "classes") == 10,
                  "expected 60000 and 10000 images of 1x28x28, 10 classes: %s", ex(&r));
    ck_assert_msg(is_hex64(JSTR(&r, tr, "id")), "expected a 64-hex dataset id: %s", ex(&r));

    char id[65];
    upload_small(&r, id);
    EXPECT_STATUS(&r, 201);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), id) && !strcmp(JSTR(&r, NULL, "name"), "small") &&
                      JNUM(&r, NULL, "n") == 20 && JNUM(&r, NULL, "c") == 1 && JNUM(&r, NULL, "h") == 28 &&
                      JNUM(&r, NULL, "w") == 28 && JNUM(&r, NULL, "classes") == 10,
                  "expected id %s (sha256 of the raw IDX bytes), name small, n 20, 1x28x28, 10 classes: %s", id,
                  ex(&r));
    upload_small(&r, id);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), id), "the same upload again: expected id %s: %s", id, ex(&r));
    get(&r, "/v1/datasets/%s", id);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), id) && JNUM(&r, NULL, "n") == 20, "expected dataset %s: %s", id,
                  ex(&r));
    get(&r, "/v1/datasets");
    ck_assert_msg(find_by(JARR(&r, NULL, "datasets"), "id", id), "expected %s listed: %s", id, ex(&r));

    /* 20 images, 19 labels */
    size_t len, img_len;
    char other[65], xl[64];
    uint8_t *body = small_idx(&len, &img_len, other, 20, 19);
    snprintf(xl, sizeof xl, "X-Images-Length: %zu", img_len);
    post_bytes(&r, "application/octet-stream", xl, body, len, "/v1/datasets?name=mismatched");
    EXPECT_ERROR(&r, 400, "bad_request", NULL);
    post_bytes(&r, "application/octet-stream", NULL, body, len, "/v1/datasets?name=noheader");
    EXPECT_ERROR(&r, 400, "bad_request", "X-Images-Length");
    snprintf(xl, sizeof xl, "X-Images-Length: %zu", len + 10);
    post_bytes(&r, "application/octet-stream", xl, body, len, "/v1/datasets?name=overlong");
    EXPECT_ERROR(&r, 400, "bad_request", NULL);
    free(body);
    get(&r, "/v1/datasets/" ZERO_ID);
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    reply_free(&r);
}
END_TEST

START_TEST(errors)
{
    ensure_daemon();
    reply r = {0};
    get(&r, "/v1/no-such-route");
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    get(&r, "/nothing/here");
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    call(&r, "PUT", json_ct, "{}", 2, "/v1/models");
    EXPECT_ERROR(&r, 405, "method_not_allowed", NULL);
    const char *allow = httpc_header_get(&r.h, "Allow");
    ck_assert_msg(allow && strstr(allow, "GET") && strstr(allow, "POST"),
                  "PUT /v1/models: expected Allow listing GET and POST, got %s", allow ? allow : "none");
    del(&r, "/healthz");
    EXPECT_ERROR(&r, 405, "method_not_allowed", NULL);
    allow = httpc_header_get(&r.h, "Allow");
    ck_assert_msg(allow && strstr(allow, "GET"), "DELETE /healthz: expected Allow listing GET, got %s",
                  allow ? allow : "none");
    reply_free(&r);
}
END_TEST

START_TEST(jobs)
{
    ensure_daemon();
    char train[65], body[1024], job[128], start[65], result[65], tleg[65];
    dataset_id(train, "fashion-mnist-train");
    bundled_ids(tleg, NULL);
    reply r = {0};

    finetune_body(body, sizeof body, 0, 3, train);
    submit_job(body, job, start);
    job_trace t;
    wait_job(&r, job, "succeeded", JOB_TIMEOUT_S, &t);
    double total = JNUM(&r, NULL, "total_steps"), step = JNUM(&r, NULL, "step");
    double job_acc = JNUM(&r, NULL, "accuracy");
    ck_assert_msg(total > 0 && step == total && fabs(JNUM(&r, NULL, "progress") - 1) < 1e-9,
                  "job %s: expected step == total_steps > 0 and progress 1 when done: %s", job, ex(&r));
    ck_assert_msg(t.monotonic && t.distinct >= 2,
                  "job %s: expected its step to increase (seen %d values over %d polls)", job, t.distinct, t.polls);
    ck_assert_msg(json_is_null(json_object_get(r.j, "error")), "job %s: expected error null: %s", job, ex(&r));
    copy_id(result, sizeof result, JSTR(&r, NULL, "result"));
    ck_assert_msg(is_hex64(result), "job %s: expected a result model id: %s", job, ex(&r));

    get(&r, "/v1/models/%s", result);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "method"), "finetune") && !strcmp(JSTR(&r, NULL, "parent"), start) &&
                      !strcmp(JSTR(&r, NULL, "dataset"), train) && JNUM(&r, NULL, "classes") == 5 &&
                      JNUM(&r, NULL, "steps") == total && json_is_true(json_object_get(r.j, "stored")) &&
                      fabs(JNUM(&r, NULL, "accuracy") - job_acc) < 1e-6,
                  "result %s: expected method finetune, parent %s, dataset %s, 5 classes, steps %.0f, stored, "
                  "accuracy %g: %s",
                  result, start, train, total, job_acc, ex(&r));

    /* better than where it started - by the daemon's measure and by ours */
    lg_model *m0 = download_model(start, NULL), *m1 = download_model(result, NULL);
    double acc0 = accuracy_5_9(m0), acc1 = accuracy_5_9(m1);
    lg_model_free(m0);
    lg_model_free(m1);
    fprintf(stderr, "test_daemon: fine-tune on classes 5-9: accuracy %.4f -> %.4f (daemon says %.4f)\n", acc0, acc1,
            job_acc);
    ck_assert_msg(acc1 > 0.5 && acc1 > acc0 + 0.1,
                  "fine-tuned model: expected accuracy on classes 5-9 > 0.5 and > the start's %.4f + 0.1, got %.4f",
                  acc0, acc1);
    ck_assert_msg(job_acc > acc0 && fabs(job_acc - acc1) < 0.05,
                  "job %s: expected its accuracy %.4f above the start's %.4f and near our %.4f", job, job_acc, acc0,
                  acc1);

    /* the event stream of a finished job: progress, then done, then the end */
    {
        char path[200];
        snprintf(path, sizeof path, "/v1/jobs/%s/events", job);
        get_within(&r, 30000, path);
        EXPECT_STATUS(&r, 200);
        ck_assert_msg(!r.h.error[0], "%s: expected the stream to end after done: %s", r.what, ex(&r));
        const char *ct = httpc_header_get(&r.h, "Content-Type");
        ck_assert_msg(ct && !strncmp(ct, "text/event-stream", 17), "%s: expected text/event-stream, got %s", r.what,
                      ct ? ct : "none");
        char ev[64] = "", last[64] = "";
        int progress = 0, good_data = 0;
        for (char *line = (char *)r.h.body, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            size_t n = next ? (size_t)(next - line) : strlen(line);
            if (next) next++;
            if (n && line[n - 1] == '\r') n--;
            if (n >= 6 && !strncmp(line, "event:", 6)) {
                size_t s = 6;
                while (s < n && line[s] == ' ') s++;
                snprintf(ev, sizeof ev, "%.*s", (int)(n - s), line + s);
                snprintf(last, sizeof last, "%s", ev);
                progress += !strcmp(ev, "progress");
            } else if (n >= 5 && !strncmp(line, "data:", 5) && !strcmp(ev, "progress")) {
                json_t *d = json_loadb(line + 5, n - 5, 0, NULL);
                const char *did = json_string_value(json_object_get(d, "id"));
                good_data += did && !strcmp(did, job);
                json_decref(d);
            }
        }
        ck_assert_msg(progress >= 1 && good_data >= 1 && !strcmp(last, "done"),
                      "%s: expected 'event: progress' with the job as data, then a final 'event: done': %s", r.what,
                      ex(&r));
    }

    del(&r, "/v1/jobs/%s", job);
    EXPECT_ERROR(&r, 409, "conflict", NULL);

    /* a long job cancelled while queued or running */
    char job2[128], start2[65];
    finetune_body(body, sizeof body, 1, 200, train);
    submit_job(body, job2, start2);
    del(&r, "/v1/jobs/%s", job2);
    EXPECT_STATUS(&r, 202);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "id"), job2), "%s: expected the job back: %s", r.what, ex(&r));
    wait_job(&r, job2, "cancelled", 60, NULL);
    ck_assert_msg(!JSTR(&r, NULL, "result")[0], "cancelled job %s: expected no result: %s", job2, ex(&r));
    del(&r, "/v1/jobs/%s", job2);
    EXPECT_ERROR(&r, 409, "conflict", NULL);

    get(&r, "/v1/jobs");
    EXPECT_STATUS(&r, 200);
    json_t *js = JARR(&r, NULL, "jobs"), *j1 = find_by(js, "id", job), *j2 = find_by(js, "id", job2);
    ck_assert_msg(j1 && j2 && !strcmp(JSTR(&r, j1, "state"), "succeeded") &&
                      !strcmp(JSTR(&r, j2, "state"), "cancelled"),
                  "GET /v1/jobs: expected %s succeeded and %s cancelled: %s", job, job2, ex(&r));
    get(&r, "/v1/jobs/" ZERO_ID);
    EXPECT_ERROR(&r, 404, "not_found", NULL);
    get(&r, "/v1/jobs/" ZERO_ID "/events");
    EXPECT_ERROR(&r, 404, "not_found", NULL);

    /* a fine-tune on a dataset that does not exist */
    finetune_body(body, sizeof body, 0, 1, ZERO_ID);
    post_json(&r, body, "/v1/models");
    if (r.h.status == 404)
        EXPECT_ERROR(&r, 404, "not_found", NULL);
    else
        EXPECT_ERROR(&r, 400, "bad_request", "finetune.dataset");

    static const char *const need[] = {"state=\"succeeded\"", NULL};
    get(&r, "/metrics");
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(metric(&r, "learngened_jobs{", need) >= 1,
                  "GET /metrics: expected learngened_jobs{state=\"succeeded\"} >= 1: %s", ex(&r));
    reply_free(&r);
}
END_TEST

START_TEST(restart_mid_job)
{
    ensure_daemon();
    char train[65], body[1024], job[128], start[65], small[65];
    dataset_id(train, "fashion-mnist-train");
    reply r = {0};
    upload_small(&r, small);
    ck_assert_msg(r.h.status == 200 || r.h.status == 201, "%s: expected 200 or 201, got %ld: %s", r.what, r.h.status,
                  ex(&r));

    /* what is there before */
    static const char *const lists[][2] = {{"/v1/learngenes", "learngenes"},
                                           {"/v1/pools", "pools"},
                                           {"/v1/models", "models"},
                                           {"/v1/datasets", "datasets"},
                                           {"/v1/jobs", "jobs"}};
    json_t *before[5];
    for (int i = 0; i < 5; i++) before[i] = list_ids(lists[i][0], lists[i][1]);

    finetune_body(body, sizeof body, 2, 20, train);
    submit_job(body, job, start);
    long ck = 0, step = 0;
    double t0 = now_s();
    for (;;) {
        get(&r, "/v1/jobs/%s", job);
        EXPECT_STATUS(&r, 200);
        const char *state = JSTR(&r, NULL, "state");
        ck_assert_msg(!terminal(state), "job %s ended (%s) before a checkpoint was seen - make it longer: %s", job,
                      state, ex(&r));
        ck = (long)JNUM(&r, NULL, "checkpoint_step");
        step = (long)JNUM(&r, NULL, "step");
        if (ck > 0) break;
        ck_assert_msg(now_s() - t0 < JOB_TIMEOUT_S, "job %s: no checkpoint after %.0f s: %s", job, JOB_TIMEOUT_S,
                      ex(&r));
        sleep_ms(25);
    }
    fprintf(stderr, "test_daemon: SIGKILL at step %ld, checkpoint at step %ld\n", step, ck);
    int st;
    ck_assert_msg(daemon_signal(SIGKILL, STOP_TIMEOUT_S, &st) == 0, "the daemon did not die of SIGKILL");

    char err[512];
    int rc = daemon_start(err, sizeof err);
    if (rc) log_tail(60);
    ck_assert_msg(rc == 0, "restarting on the same state directory: %s", err);

    get(&r, "/v1/jobs/%s", job);
    EXPECT_STATUS(&r, 200);
    const char *state = JSTR(&r, NULL, "state");
    ck_assert_msg(!strcmp(state, "queued") || !strcmp(state, "running") || !strcmp(state, "succeeded"),
                  "after the restart: expected job %s queued, running or succeeded, got %s", job, ex(&r));
    ck_assert_msg(JNUM(&r, NULL, "step") >= ck,
                  "after the restart: expected job %s to resume from its checkpoint (step %ld), got %s", job, ck,
                  ex(&r));
    job_trace t;
    wait_job(&r, job, "succeeded", JOB_TIMEOUT_S, &t);
    ck_assert_msg(t.min_step >= ck && JNUM(&r, NULL, "step") == JNUM(&r, NULL, "total_steps"),
                  "job %s: expected its step never below the checkpoint's %ld (saw %ld) and to end at total_steps: %s",
                  job, ck, t.min_step, ex(&r));
    char result[65];
    copy_id(result, sizeof result, JSTR(&r, NULL, "result"));
    get(&r, "/v1/models/%s", result);
    EXPECT_STATUS(&r, 200);

    /* nothing lost */
    for (int i = 0; i < 5; i++) {
        json_t *after = list_ids(lists[i][0], lists[i][1]), *e;
        size_t k;
        json_array_foreach(before[i], k, e)
        {
            char *dump = NULL;
            ck_assert_msg(has_string(after, json_string_value(e)), "after the restart: %s no longer lists %s (now %s)",
                          lists[i][0], json_string_value(e), dump = json_dumps(after, JSON_COMPACT));
            free(dump);
        }
        json_decref(after);
        json_decref(before[i]);
    }
    get(&r, "/v1/datasets/%s", small);
    EXPECT_STATUS(&r, 200);
    ck_assert_msg(!strcmp(JSTR(&r, NULL, "name"), "small") && JNUM(&r, NULL, "n") == 20,
                  "after the restart: expected the uploaded dataset small (20 images): %s", ex(&r));

    /* this daemon is ours (the runner cannot wait for it): stop it cleanly */
    ck_assert_msg(daemon_signal(SIGTERM, STOP_TIMEOUT_S, &st) == 0, "SIGTERM: the daemon did not exit within %.0f s",
                  STOP_TIMEOUT_S);
    if (st != -1)
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "SIGTERM after the restart: expected exit 0, wait status %d", st);
    reply_free(&r);
}
END_TEST

START_TEST(clean_shutdown)
{
    ensure_daemon();
    if (H->owner != getpid()) {
        /* the runner's daemon (a restart test that did not run): only its
         * parent can read its exit status, so start one of our own */
        ck_assert_msg(daemon_signal(SIGTERM, STOP_TIMEOUT_S, NULL) == 0, "SIGTERM: the daemon did not exit");
        ensure_daemon();
    }
    reply r = {0};
    get(&r, "/v1/models");
    EXPECT_STATUS(&r, 200);
    int st;
    ck_assert_msg(daemon_signal(SIGTERM, STOP_TIMEOUT_S, &st) == 0, "SIGTERM: the daemon did not exit within %.0f s",
                  STOP_TIMEOUT_S);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) log_tail(40);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM: expected exit status 0, got wait status %d (%s %d)",
                  st, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    get(&r, "/healthz");
    ck_assert_msg(r.h.status == 0, "after SIGTERM: expected no answer on the port, got %ld", r.h.status);
    reply_free(&r);
}
END_TEST

/* ================================================================ runner */

static void at_exit_kill(void)
{
    /* forked test processes inherit this handler: only the runner acts */
    if (!H || getpid() != H->runner || H->pid <= 0 || daemon_gone(NULL)) return;
    kill(H->pid, SIGKILL);
    while (!daemon_gone(NULL)) sleep_ms(10);
    H->pid = 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void)
{
    const char *b = getenv("LG_BUILDDIR"), *s = getenv("LG_SRCDIR");
    snprintf(H->bin, sizeof H->bin, "%s/daemon/learngened", b && b[0] ? b : ".");
    snprintf(H->srcdir, sizeof H->srcdir, "%s", s && s[0] ? s : LG_TEST_SRCDIR);
    const char *tmp = getenv("TMPDIR");
    snprintf(H->dir, sizeof H->dir, "%s/test_daemon.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(H->dir)) {
        perror("mkdtemp");
        return -1;
    }
    char state[PATH_MAX + 16];
    snprintf(state, sizeof state, "%s/state", H->dir);
    snprintf(H->conf, sizeof H->conf, "%s/daemon.conf", H->dir);
    snprintf(H->log, sizeof H->log, "%s/daemon.log", H->dir);
    if (mkdir(state, 0700)) {
        perror(state);
        return -1;
    }
    H->port = free_port();
    if (H->port <= 0) {
        fprintf(stderr, "test_daemon: no free loopback port\n");
        return -1;
    }
    snprintf(H->base, sizeof H->base, "http://127.0.0.1:%d", H->port);
    FILE *f = fopen(H->conf, "w");
    if (!f) {
        perror(H->conf);
        return -1;
    }
    fprintf(f,
            "# written by tests/test_daemon\n"
            "listen = 127.0.0.1:%d\n"
            "state_dir = %s\n"
            "data_dir = %s/data\n"
            "fmnist_dir = %s\n"
            "workers = 1\n"
            "blas_threads = 1\n"
            "max_body = 64K\n"
            "max_upload = 8M\n"
            "max_batch = %d\n"
            "checkpoint_every = 10\n"
            "log_level = debug\n",
            H->port, state, H->srcdir, lg_test_fmnist_dir(), MAX_BATCH);
    return fclose(f) ? -1 : 0;
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) return EXIT_FAILURE;
    H = mmap(NULL, sizeof *H, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (H == MAP_FAILED) return EXIT_FAILURE;
    memset(H, 0, sizeof *H);
    H->runner = getpid();
    if (setup()) return EXIT_FAILURE;
    atexit(at_exit_kill);

    char err[512];
    double t0 = now_s();
    if (daemon_start(err, sizeof err)) {
        fprintf(stderr, "test_daemon: starting %s -c %s: %s\n", H->bin, H->conf, err);
        log_tail(80);
        fprintf(stderr, "test_daemon: kept %s\n", H->dir);
        return EXIT_FAILURE;
    }
    fprintf(stderr, "test_daemon: learngened ready on %s after %.1f s (state in %s)\n", H->base, now_s() - t0, H->dir);

    Suite *s = suite_create("daemon");
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"service", service_routes},  {"learngenes", learngenes_and_pools},
        {"models", models},           {"weights", weights},
        {"predict", predict},         {"datasets", datasets},
        {"errors", errors},           {"jobs", jobs},
        {"restart", restart_mid_job}, {"shutdown", clean_shutdown},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    /* stop what is left: ours cleanly, an orphan of a failed test hard */
    if (H->pid > 0 && !daemon_gone(NULL)) {
        if (H->owner == getpid())
            daemon_signal(SIGTERM, STOP_TIMEOUT_S, NULL);
        else
            kill(H->pid, SIGKILL);
    }
    at_exit_kill();
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (failed) {
        log_tail(80);
        fprintf(stderr, "test_daemon: kept %s (daemon.conf, daemon.log, state/)\n", H->dir);
    } else {
        nftw(H->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    curl_global_cleanup();
    fprintf(stderr, "test_daemon: %.1f s\n", now_s() - t0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
