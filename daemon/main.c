/* main.c - learngened: reads the config, opens the store, imports the
 * bundled data on first start, starts the worker pool, the job runner and
 * the HTTP API, then runs a libuv loop for signals (SIGHUP reloads,
 * SIGTERM drains then stops, a second SIGTERM stops at once) and systemd
 * notifications (READY=1, STATUS=, WATCHDOG=1, STOPPING=1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "auth.h"
#include "autoconfig.h"
#include "daemon.h"
#include "jobs.h"
#include "workers.h"

/* Everything the running daemon holds (daemon/ may have globals; this is
 * the one). */
typedef struct {
    lgd_config cfg;
    const char *config_path;
    char **sets; /* command-line overrides (OPTION=VALUE), applied again on reload */
    int nsets;
    int ncpu, blas;
    lgs_store *store;
    lgd_workers *workers;
    lgd_jobs *jobs;
    lga_server *api;
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t tick, drain;
    int draining;
    double drain_started;
    char host[256]; /* the address served (from listen, or the passed socket) */
} daemon_state;

static daemon_state D;

static const char usage[] = "usage: learngened [-c FILE] [--check-config] [--foreground] [--listen HOST:PORT]\n"
                            "                  [--state-dir DIR] [--set OPTION=VALUE]...\n"
                            "Serves Vision Transformers grown from learngenes over HTTP (see learngened(8)).\n"
                            "  -c, --config FILE   the config file (learngened.conf(5)); defaults otherwise\n"
                            "  --check-config      check the config, print every option's value, exit 0 / 1\n"
                            "  --foreground        run in the foreground (the only mode; for systemd and shells)\n"
                            "  --listen, --state-dir, --data-dir, --fmnist-dir   override that option\n"
                            "  --set OPTION=VALUE  override any option (kept on reload)\n"
                            "  --list-options      print the option table (name, type, default, min, max, live,\n"
                            "                      values, help; tab-separated), exit 0\n"
                            "  --new-token read|write [NAME]   make a bearer token and its tokens_file line\n"
                            "  --version           print the version\n";

/* ------------------------------------------------------------- hooks */

static int hook_run_cpu(void *ctx, void (*work)(void *arg, int worker), void *arg)
{
    (void)ctx;
    return lgd_workers_run(D.workers, work, arg);
}

static void hook_jobs_changed(void *ctx)
{
    (void)ctx;
    if (D.jobs) lgd_jobs_kick(D.jobs);
}

/* The API's lines start "event=NAME "; the logger puts the event first. */
static void hook_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    char event[64] = "api";
    size_t n = strncmp(msg, "event=", 6) ? 0 : strcspn(msg + 6, " ");
    if (n && n < sizeof event) {
        memcpy(event, msg + 6, n);
        event[n] = '\0';
        msg += 6 + n + (msg[6 + n] == ' ');
    }
    if (lgd_log_enabled((lgd_log_level)level)) lgd_log((lgd_log_level)level, event, "%s", msg);
}

static void jobs_log(int level, const char *msg) { hook_log(NULL, level, msg); }

/* ------------------------------------------------------------ config */

static int api_options(lga_options *o, const lgd_config *c, char *host, size_t hostlen, char *err, size_t errlen)
{
    lga_options_defaults(o);
    int port;
    if (lgd_config_parse_listen(c->listen, host, hostlen, &port) != 0) {
        snprintf(err, errlen, "listen = %s is not HOST:PORT", c->listen);
        return -1;
    }
    o->host = host;
    o->port = port;
    o->max_connections = c->max_connections;
    o->max_connections_per_ip = c->max_connections_per_ip;
    o->request_timeout_s = c->request_timeout;
    o->max_json_body = (size_t)c->max_body;
    o->max_upload = (size_t)c->max_upload;
    o->max_batch = c->max_batch;
    o->max_header = (size_t)c->max_header;
    o->max_depth = c->max_depth;
    o->max_model_bytes = (size_t)c->max_model_mb << 20;
    o->jobs_queue_max = c->jobs_queue_max;
    o->cache_bytes = (size_t)c->cache_mb << 20;
    o->workers = c->workers;
    o->blas_threads = D.blas;
    o->store = D.store;
    o->hooks = (lga_hooks){NULL, hook_run_cpu, hook_jobs_changed, hook_log};
    return 0;
}

static int load_config(lgd_config *c, const char *path, char **sets, int nsets, char *err, size_t errlen)
{
    lgd_config_defaults(c);
    if (path && lgd_config_load_file(c, path, err, errlen) != 0) return -1;
    for (int i = 0; i < nsets; i++) {
        char *eq = strchr(sets[i], '=');
        if (!eq) {
            snprintf(err, errlen, "--set %s: expected OPTION=VALUE", sets[i]);
            return -1;
        }
        *eq = '\0';
        int rc = lgd_config_set(c, sets[i], eq + 1, err, errlen);
        *eq = '=';
        if (rc != 0) return -1;
    }
    return lgd_config_check(c, D.ncpu, err, errlen);
}

/* Copies into c the value running has for every option a reload cannot
 * apply (live = 0 in the option table), so D.cfg keeps saying what runs and
 * a pending change is reported again on every reload until a restart. Goes
 * through the options' text form, so no list of fields is kept here. */
static void keep_restart_options(lgd_config *c, const lgd_config *running)
{
    char *text = NULL, *save = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    lgd_config_dump(running, f);
    if (fclose(f) != 0) {
        free(text);
        return;
    }
    int n;
    const lgd_option_doc *o = lgd_config_options(&n);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");
        if (!eq) continue;
        *eq = '\0';
        char *v = eq + 3;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') v[vl - 1] = '\0', v++; /* dump quotes "" and the like */
        for (int i = 0; i < n; i++)
            if (!o[i].live && !strcmp(o[i].name, line)) lgd_config_set(c, line, v, NULL, 0);
    }
    free(text);
}

/* --list-options: the option table, one option a line, tab-separated: name,
 * type, default ("" when empty), min, max, live|restart, values (enums),
 * help; "-" where a column does not apply. tests/test_units.sh checks
 * learngened.conf(5) and etc/learngened.conf against it. */
static void list_options(FILE *f)
{
    int n;
    const lgd_option_doc *o = lgd_config_options(&n);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o[i].name, o[i].type, o[i].def[0] ? o[i].def : "\"\"",
                o[i].min ? o[i].min : "-", o[i].max ? o[i].max : "-", o[i].live ? "live" : "restart",
                o[i].values ? o[i].values : "-", o[i].help);
}

/* The tokens of c->tokens_file (NULL when authentication is off). */
static int load_tokens(const lgd_config *c, lga_tokens **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!c->tokens_file[0]) return 0;
    if (lga_tokens_load(out, c->tokens_file, err, errlen) != 0) return -1;
    if (lga_tokens_count(*out) == 0) {
        snprintf(err, errlen, "tokens_file %.900s has no tokens (use tokens_file = \"\" to turn authentication off)",
                 c->tokens_file);
        lga_tokens_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* The address a passed socket is bound to ("unix" for a Unix socket). */
static void socket_host(int fd, char *host, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    snprintf(host, len, "unknown");
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, (socklen_t)len);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, (socklen_t)len);
    else if (ss.ss_family == AF_UNIX)
        snprintf(host, len, "unix");
}

/* Serving beyond this host without tokens needs allow_open_network = yes. */
static int check_exposure(const lgd_config *c, const char *host, const lga_tokens *t, char *err, size_t errlen)
{
    int loopback =
        !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost") || !strcmp(host, "unix");
    if (loopback || lga_tokens_count(t) > 0 || !strcmp(c->allow_open_network, "yes")) return 0;
    snprintf(err, errlen,
             "refusing to listen on %s without authentication: set tokens_file (learngened --new-token makes one), "
             "or allow_open_network = yes to serve everyone who can reach this address",
             host);
    return -1;
}

/* --new-token SCOPE [NAME]: a random secret, and its line for tokens_file. */
static int new_token(const char *scope, const char *name)
{
    if (strcmp(scope, "read") && strcmp(scope, "write")) {
        fprintf(stderr, "learngened: --new-token takes read or write, not '%s'\n", scope);
        return 2;
    }
    unsigned char raw[24];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) {
        fprintf(stderr, "learngened: cannot read /dev/urandom\n");
        if (f) fclose(f);
        return 1;
    }
    fclose(f);
    char secret[64] = "lg_", hash[65];
    for (size_t i = 0; i < sizeof raw; i++) sprintf(secret + 3 + 2 * i, "%02x", raw[i]);
    lgs_sha256_hex(hash, secret, strlen(secret));
    printf("token: %s\n", secret);
    printf("tokens_file line: %s %s %s\n", scope, hash, name ? name : "unnamed");
    fflush(stdout);
    fprintf(stderr, "learngened: the token is shown once; the file keeps only its sha256\n");
    return 0;
}

/* ----------------------------------------------------------- signals */

static void status_update(void)
{
    int models = 0;
    size_t bytes = 0;
    if (D.api) lga_cache_stats(D.api, &models, &bytes);
    sd_notifyf(0, "STATUS=%s: %d models cached (%.1f MiB), %d jobs running, %d requests in flight",
               D.draining ? "draining" : "serving", models, (double)bytes / 1048576.0,
               D.jobs ? lgd_jobs_running(D.jobs) : 0, D.api ? lga_inflight(D.api) : 0);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    status_update();
    sd_notify(0, "WATCHDOG=1");
}

static void on_drain_tick(uv_timer_t *t)
{
    int inflight = lga_inflight(D.api);
    if (inflight == 0 || uv_now(D.loop) / 1e3 - D.drain_started >= D.cfg.drain_timeout) {
        if (inflight) lgd_log(LGD_LOG_WARN, "drain", "abandoned=%d msg=\"drain timeout reached\"", inflight);
        uv_timer_stop(t);
        uv_stop(D.loop);
    }
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    (void)s;
    if (D.draining) {
        lgd_log(LGD_LOG_WARN, "stop", "signal=%d msg=\"second signal: stopping now\"", signum);
        uv_stop(D.loop);
        return;
    }
    D.draining = 1;
    D.drain_started = (double)uv_now(D.loop) / 1e3;
    sd_notify(0, "STOPPING=1");
    lgd_log(LGD_LOG_INFO, "stop", "signal=%d inflight=%d drain_timeout=%d", signum, lga_inflight(D.api),
            D.cfg.drain_timeout);
    lga_quiesce(D.api);
    uv_timer_start(&D.drain, on_drain_tick, 0, 100);
}

static void on_reload(uv_signal_t *s, int signum)
{
    (void)s, (void)signum;
    lgd_config c;
    char err[1024], restart[1024] = "";
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)uv_hrtime() / 1000ULL);
    if (load_config(&c, D.config_path, D.sets, D.nsets, err, sizeof err) != 0) {
        lgd_log(LGD_LOG_ERROR, "reload", "msg=\"%s; keeping the running config\"", err);
        sd_notify(0, "READY=1");
        return;
    }
    /* options given on the command line kept their override (load_config);
     * those a reload cannot apply keep the value they run with */
    if (lgd_config_diff_restart(&D.cfg, &c, restart, sizeof restart) > 0)
        lgd_log(LGD_LOG_WARN, "reload", "changed=\"%s\" msg=\"these need a restart to apply\"", restart);
    keep_restart_options(&c, &D.cfg);
    lgd_log_level lvl;
    if (lgd_log_level_parse(c.log_level, &lvl) == 0) lgd_log_setup(lvl, !strcmp(c.log_format, "json"), stderr);
    char host[256];
    lga_options o;
    if (api_options(&o, &c, host, sizeof host, err, sizeof err) == 0) lga_reconfigure(D.api, &o);
    lgd_workers_set_queue_max(D.workers, c.queue_max);
    lga_tokens *tokens = NULL;
    if (load_tokens(&c, &tokens, err, sizeof err) != 0)
        lgd_log(LGD_LOG_ERROR, "reload", "msg=\"%s; keeping the running tokens\"", err);
    else if (check_exposure(&D.cfg, D.host, tokens, err, sizeof err) != 0) {
        lgd_log(LGD_LOG_ERROR, "reload", "msg=\"%s; keeping the running tokens\"", err);
        lga_tokens_free(tokens);
    } else {
        lga_set_tokens(D.api, tokens);
        lgd_log(LGD_LOG_INFO, "reload", "tokens=%d", lga_tokens_count(tokens));
    }
    D.cfg = c;
    lgd_log(LGD_LOG_INFO, "reload", "log_level=%s max_body=%lld max_upload=%lld cache_mb=%lld", c.log_level,
            (long long)c.max_body, (long long)c.max_upload, (long long)c.cache_mb);
    sd_notify(0, "READY=1");
    status_update();
}

/* -------------------------------------------------------------- main */

static int open_store(char *err, size_t errlen)
{
    if (mkdir(D.cfg.state_dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create state_dir %.900s: %s", D.cfg.state_dir, strerror(errno));
        return -1;
    }
    char path[4200];
    /* one daemon per state dir: a second one would requeue the first's
     * running jobs under it */
    snprintf(path, sizeof path, "%s/learngened.lock", D.cfg.state_dir);
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640), held = lock < 0 ? -1 : flock(lock, LOCK_EX | LOCK_NB);
    /* a process killed a moment ago lets go once its last thread is gone */
    for (int tries = 0; held != 0 && lock >= 0 && errno == EWOULDBLOCK && tries < 50; tries++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        held = flock(lock, LOCK_EX | LOCK_NB);
    }
    if (lock < 0 || held != 0) {
        snprintf(err, errlen, "state_dir %.900s is in use by another learngened (%s)", D.cfg.state_dir,
                 lock < 0 ? strerror(errno) : "its lock is held");
        if (lock >= 0) close(lock);
        return -1;
    }
    snprintf(path, sizeof path, "%s/learngened.db", D.cfg.state_dir);
    if (lgs_open(&D.store, path, err, errlen) != LGS_OK) return -1;
    int requeued = 0;
    lgs_job_requeue_running(D.store, &requeued);
    if (requeued)
        lgd_log(LGD_LOG_WARN, "jobs",
                "requeued=%d msg=\"jobs left running by the last process resume from their checkpoints\"", requeued);
    return lgd_seed(D.store, &D.cfg);
}

static int run(void)
{
    char err[1024], host[256];
    lga_options o;
    lgd_jobs_options jo = {D.store, D.cfg.jobs_max, D.blas, D.cfg.checkpoint_every, jobs_log};
    if (lgd_workers_start(&D.workers, D.cfg.workers, D.cfg.queue_max) != 0 || lgd_jobs_start(&D.jobs, &jo) != 0) {
        lgd_log(LGD_LOG_ERROR, "start", "msg=\"cannot start the worker threads\"");
        return 1;
    }
    if (api_options(&o, &D.cfg, host, sizeof host, err, sizeof err) != 0) {
        lgd_log(LGD_LOG_ERROR, "start", "msg=\"%s\"", err);
        return 1;
    }
    if (sd_listen_fds(1) >= 1) { /* socket activation: what systemd bound */
        o.listen_fd = SD_LISTEN_FDS_START;
        socket_host(o.listen_fd, host, sizeof host);
    }
    snprintf(D.host, sizeof D.host, "%s", host);
    lga_tokens *tokens = NULL;
    if (load_tokens(&D.cfg, &tokens, err, sizeof err) != 0 ||
        check_exposure(&D.cfg, host, tokens, err, sizeof err) != 0) {
        lgd_log(LGD_LOG_ERROR, "start", "msg=\"%s\"", err);
        lga_tokens_free(tokens);
        return 1;
    }
    if (lga_start(&D.api, &o, err, sizeof err) != 0) {
        lgd_log(LGD_LOG_ERROR, "start", "msg=\"%s\"", err);
        lga_tokens_free(tokens);
        return 1;
    }
    lga_set_tokens(D.api, tokens);
    if (tokens) lgd_log(LGD_LOG_INFO, "auth", "tokens=%d", lga_tokens_count(tokens));
    lgd_log(LGD_LOG_INFO, "listen", "addr=%s port=%d workers=%d blas_threads=%d jobs_max=%d", host, lga_port(D.api),
            D.cfg.workers, D.blas, D.cfg.jobs_max);

    D.loop = uv_default_loop();
    uv_signal_init(D.loop, &D.sigterm);
    uv_signal_init(D.loop, &D.sigint);
    uv_signal_init(D.loop, &D.sighup);
    uv_timer_init(D.loop, &D.tick);
    uv_timer_init(D.loop, &D.drain);
    uv_signal_start(&D.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&D.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&D.sighup, on_reload, SIGHUP);
    uint64_t wd_usec = 0;
    uint64_t every = sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec / 2000 < 5000 ? wd_usec / 2000 : 5000;
    uv_timer_start(&D.tick, on_tick, every, every);
    sd_notify(0, "READY=1");
    status_update();
    uv_run(D.loop, UV_RUN_DEFAULT);

    lgd_log(LGD_LOG_INFO, "stop", "msg=\"checkpointing running jobs\"");
    lgd_jobs_stop(D.jobs);
    D.jobs = NULL;
    lga_stop(D.api);
    D.api = NULL;
    lgd_workers_stop(D.workers);
    uv_close((uv_handle_t *)&D.sigterm, NULL);
    uv_close((uv_handle_t *)&D.sigint, NULL);
    uv_close((uv_handle_t *)&D.sighup, NULL);
    uv_close((uv_handle_t *)&D.tick, NULL);
    uv_close((uv_handle_t *)&D.drain, NULL);
    uv_run(D.loop, UV_RUN_NOWAIT);
    uv_loop_close(D.loop);
    lgd_log(LGD_LOG_INFO, "stop", "msg=\"stopped cleanly\"");
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_CHECK = 256, O_FG, O_LISTEN, O_STATE, O_DATA, O_FMNIST, O_SET, O_VERSION, O_NEW_TOKEN, O_LIST };
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-config", no_argument, 0, O_CHECK},
                                         {"foreground", no_argument, 0, O_FG},
                                         {"listen", required_argument, 0, O_LISTEN},
                                         {"state-dir", required_argument, 0, O_STATE},
                                         {"data-dir", required_argument, 0, O_DATA},
                                         {"fmnist-dir", required_argument, 0, O_FMNIST},
                                         {"set", required_argument, 0, O_SET},
                                         {"version", no_argument, 0, O_VERSION},
                                         {"new-token", required_argument, 0, O_NEW_TOKEN},
                                         {"list-options", no_argument, 0, O_LIST},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    enum { MAX_SETS = 64 };
    char *sets[MAX_SETS], *owned[MAX_SETS];
    int nsets = 0, nowned = 0, check = 0, c;
    static const char *const names[] = {[O_LISTEN - O_LISTEN] = "listen",
                                        [O_STATE - O_LISTEN] = "state_dir",
                                        [O_DATA - O_LISTEN] = "data_dir",
                                        [O_FMNIST - O_LISTEN] = "fmnist_dir"};
    D.ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (D.ncpu < 1) D.ncpu = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (nsets == MAX_SETS) {
            fprintf(stderr, "learngened: too many overrides\n");
            return 2;
        }
        switch (c) {
        case 'c': D.config_path = optarg; break;
        case O_CHECK: check = 1; break;
        case O_FG: break;
        case O_LISTEN:
        case O_STATE:
        case O_DATA:
        case O_FMNIST:
            if (asprintf(&owned[nowned], "%s=%s", names[c - O_LISTEN], optarg) < 0) return 1;
            sets[nsets++] = owned[nowned++];
            break;
        case O_SET: sets[nsets++] = optarg; break;
        case O_VERSION: printf("learngened %s\n", PACKAGE_VERSION); return 0;
        case O_NEW_TOKEN: return new_token(optarg, optind < argc ? argv[optind] : NULL);
        case O_LIST: list_options(stdout); return 0;
        default: fputs(usage, c == 'h' ? stdout : stderr); return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "learngened: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    char err[1024];
    D.sets = sets, D.nsets = nsets; /* owned[] lives until main returns */
    int rc = load_config(&D.cfg, D.config_path, sets, nsets, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "learngened: %s\n", err);
        rc = 1;
        goto out;
    }
    if (check) {
        lgd_config_dump(&D.cfg, stdout);
        fprintf(stderr, "learngened: %s: configuration ok\n", D.config_path ? D.config_path : "(defaults)");
        goto out;
    }
    D.blas = lgd_config_effective_blas(&D.cfg, D.ncpu);
    lgd_log_level lvl = LGD_LOG_INFO;
    lgd_log_level_parse(D.cfg.log_level, &lvl);
    lgd_log_setup(lvl, !strcmp(D.cfg.log_format, "json"), stderr);
    signal(SIGPIPE, SIG_IGN);
    /* until the loop handles it, a SIGHUP (a reload sent during a long first
     * start) must not kill the daemon; uv_signal_start takes it over */
    signal(SIGHUP, SIG_IGN);
    lgd_log(LGD_LOG_INFO, "start", "version=%s config=\"%s\" state_dir=\"%s\"", PACKAGE_VERSION,
            D.config_path ? D.config_path : "(defaults)", D.cfg.state_dir);
    if (open_store(err, sizeof err) != 0) {
        lgd_log(LGD_LOG_ERROR, "start", "msg=\"%s\"", err);
        rc = 1;
    } else {
        rc = run();
    }
    lgs_close(D.store);
out:
    for (int i = 0; i < nowned; i++) free(owned[i]);
    return rc;
}
