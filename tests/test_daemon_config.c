/* test_daemon_config.c - the daemon's configuration (daemon/config.c) and
 * logger (daemon/log.c): defaults, every option of the table at its default,
 * a valid value and both bounds, sizes, enums, strings, the INI loader's
 * errors (each naming file, line and option), listen parsing, cross-option
 * checks, the reload diff, the shipped etc/learngened.conf, the dump
 * round trip, and the logger's text, JSON and journald lines.
 *
 * The daemon's headers are included by path: "config.h" alone would find
 * autoconf's config.h in the build directory first. The logger is compiled
 * into this test by including log.c, since the Makefile builds the test from
 * config.c alone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "../daemon/config.h"
#include "../daemon/log.c"

#define CONF LG_TEST_SRCDIR "/etc/learngened.conf"

/* ------------------------------------------------------------ helpers */

/* Defaults, then text loaded as "test.conf". Returns what the loader did. */
static int load(lgd_config *c, const char *text, char *err, size_t errlen)
{
    lgd_config_defaults(c);
    err[0] = '\0';
    return lgd_config_load_string(c, text, "test.conf", err, errlen);
}

static void expect_ok(lgd_config *c, const char *text)
{
    char err[1024];
    ck_assert_msg(load(c, text, err, sizeof err) == 0, "expected \"%s\" to load, got: %s", text, err);
}

/* The text must be refused with a message containing every one of the
 * NULL-terminated fragments; the message is printed for the log. */
static void expect_error(const char *text, ...)
{
    lgd_config c;
    char err[1024];
    ck_assert_msg(load(&c, text, err, sizeof err) != 0, "expected \"%s\" to be refused", text);
    printf("refused: %s\n", err);
    va_list ap;
    va_start(ap, text);
    for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;)
        ck_assert_msg(strstr(err, frag) != NULL, "error for \"%s\" should contain \"%s\", got: %s", text, frag, err);
    va_end(ap);
}

static const lgd_option_doc *option(const char *name)
{
    int n;
    const lgd_option_doc *o = lgd_config_options(&n);
    for (int i = 0; i < n; i++)
        if (strcmp(o[i].name, name) == 0) return &o[i];
    ck_abort_msg("option %s is not in the table", name);
    return NULL;
}

static int is_number_type(const lgd_option_doc *o)
{
    return strcmp(o->type, "int") == 0 || strcmp(o->type, "size") == 0;
}

/* A bound from the table ("64", "1K", "4G") as a number. */
static int64_t bound_value(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t m = *end == 'K' ? 1 << 10 : *end == 'M' ? 1 << 20 : *end == 'G' ? 1 << 30 : 1;
    ck_assert_msg(*end == '\0' || end[1] == '\0', "bound %s should be a number with an optional suffix", s);
    return (int64_t)v * m;
}

/* lgd_config_dump's text. Caller frees. */
static char *dump(const lgd_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_msg(f != NULL, "open_memstream failed");
    lgd_config_dump(c, f);
    fclose(f);
    return text;
}

/* The "name = value" line of name in c's dump, into line. */
static void dump_line(const lgd_config *c, const char *name, char *line, size_t len)
{
    char *text = dump(c), *p = text;
    size_t n = strlen(name);
    line[0] = '\0';
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            snprintf(line, len, "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    char *text = malloc(1 << 20);
    ck_assert_msg(text != NULL, "out of memory");
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* ------------------------------------------------------------ defaults */

START_TEST(test_defaults)
{
    lgd_config c;
    lgd_config_defaults(&c);
    ck_assert_str_eq(c.listen, "127.0.0.1:8080");
    ck_assert_str_eq(c.state_dir, "/var/lib/learngened");
#ifdef LG_DATADIR
    ck_assert_str_eq(c.data_dir, LG_DATADIR);
#else
    ck_assert_str_eq(c.data_dir, "/usr/share/learngened");
#endif
    ck_assert_str_eq(c.fmnist_dir, "/usr/share/datasets/fashion-mnist");
    ck_assert_str_eq(c.tokens_file, "");
    ck_assert_int_eq(c.workers, 1);
    ck_assert_int_eq(c.blas_threads, 0);
    ck_assert_int_eq(c.max_connections, 256);
    ck_assert_int_eq(c.max_connections_per_ip, 64);
    ck_assert_int_eq(c.request_timeout, 60);
    ck_assert_int_eq(c.max_body, 1 << 20);
    ck_assert_int_eq(c.max_upload, 256 << 20);
    ck_assert_int_eq(c.max_batch, 256);
    ck_assert_int_eq(c.cache_mb, 512);
    ck_assert_int_eq(c.queue_max, 64);
    ck_assert_int_eq(c.jobs_max, 1);
    ck_assert_int_eq(c.checkpoint_every, 50);
    ck_assert_int_eq(c.drain_timeout, 30);
    ck_assert_str_eq(c.log_level, "info");
    ck_assert_str_eq(c.log_format, "text");

    char err[256];
    ck_assert_msg(lgd_config_check(&c, 1, err, sizeof err) == 0, "defaults must pass the check on 1 CPU: %s", err);

    /* defaults zero the padding, so equal configs compare equal */
    lgd_config d;
    memset(&d, 0xab, sizeof d);
    lgd_config_defaults(&d);
    ck_assert_msg(memcmp(&c, &d, sizeof c) == 0, "two default configs should be byte-identical");
}
END_TEST

START_TEST(test_table)
{
    int n;
    const lgd_option_doc *o = lgd_config_options(&n);
    ck_assert_msg(n == 25, "expected 25 options, the table has %d", n);
    static const char *const live[] = {"max_body",  "max_upload",      "max_batch", "cache_mb",     "log_level",
                                       "log_format", "tokens_file",    "request_timeout", "queue_max", "max_depth",
                                       "max_model_mb", "jobs_queue_max"};
    static const char *const restart[] = {"listen",   "state_dir",        "data_dir",        "fmnist_dir",
                                          "workers",  "blas_threads",     "max_connections", "max_connections_per_ip",
                                          "jobs_max", "checkpoint_every", "drain_timeout",   "allow_open_network",
                                          "max_header"};
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        ck_assert_msg(option(live[i])->live == 1, "%s should be live (applied on reload)", live[i]);
    for (size_t i = 0; i < sizeof restart / sizeof restart[0]; i++)
        ck_assert_msg(option(restart[i])->live == 0, "%s should need a restart", restart[i]);
    ck_assert_msg(sizeof live / sizeof live[0] + sizeof restart / sizeof restart[0] == (size_t)n,
                  "every option should be classified live or restart");
    for (int i = 0; i < n; i++) {
        ck_assert_msg(o[i].name && o[i].type && o[i].def && o[i].help && o[i].help[0], "option %d lacks a doc", i);
        ck_assert_msg(!o[i].min == !o[i].max, "%s: min and max go together", o[i].name);
        ck_assert_msg(is_number_type(&o[i]) == (o[i].min != NULL), "%s: numbers and only numbers have bounds",
                      o[i].name);
        ck_assert_msg((strcmp(o[i].type, "enum") == 0) == (o[i].values != NULL), "%s: enums and only enums list values",
                      o[i].name);
        ck_assert_msg(strlen(o[i].help) < 100, "%s: the help is one line for the sample file", o[i].name);
        for (int j = 0; j < i; j++) ck_assert_msg(strcmp(o[i].name, o[j].name) != 0, "%s is listed twice", o[i].name);
    }
}
END_TEST

/* Each option loads its default (leaving the defaults as they are) and a
 * valid value of its type, which then shows in the dump. */
START_TEST(test_option_values)
{
    int n;
    const lgd_option_doc *o = &lgd_config_options(&n)[_i];
    lgd_config c, d;
    char text[256], line[512], want[512];
    lgd_config_defaults(&d);

    snprintf(text, sizeof text, "%s = \"%s\"\n", o->name, o->def);
    expect_ok(&c, text);
    ck_assert_msg(memcmp(&c, &d, sizeof c) == 0, "%s: loading its default should leave the defaults", o->name);

    const char *values[8] = {NULL};
    if (is_number_type(o)) {
        values[0] = o->min;
        values[1] = o->max;
    } else if (strcmp(o->type, "enum") == 0) {
        static char buf[128];
        snprintf(buf, sizeof buf, "%s", o->values);
        int k = 0;
        for (char *save, *tok = strtok_r(buf, "|", &save); tok && k < 7; tok = strtok_r(NULL, "|", &save))
            values[k++] = tok;
    } else if (strcmp(o->type, "address") == 0) {
        values[0] = "[::1]:9000";
        values[1] = "localhost:0";
        values[2] = "0.0.0.0:65535";
    } else {
        values[0] = "/srv/learn gene/x";
        values[1] = "relative/dir";
    }
    for (int k = 0; values[k]; k++) {
        snprintf(text, sizeof text, "# a comment\n%s = %s\n", o->name, values[k]);
        expect_ok(&c, text);
        snprintf(want, sizeof want, "%s = %s", o->name, values[k]);
        dump_line(&c, o->name, line, sizeof line);
        ck_assert_msg(strcmp(line, want) == 0, "%s: after loading \"%s\" the dump should say \"%s\", got \"%s\"",
                      o->name, values[k], want, line);
        char err[512];
        lgd_config e;
        lgd_config_defaults(&e);
        ck_assert_msg(lgd_config_set(&e, o->name, values[k], err, sizeof err) == 0, "lgd_config_set(%s, %s): %s",
                      o->name, values[k], err);
        ck_assert_msg(memcmp(&c, &e, sizeof c) == 0, "%s: lgd_config_set and the file should agree", o->name);
    }
}
END_TEST

/* min-1 and max+1 are refused naming the line and the option. */
START_TEST(test_option_bounds)
{
    int n;
    const lgd_option_doc *o = &lgd_config_options(&n)[_i];
    if (!is_number_type(o)) return;
    char text[256], want[128];
    int64_t lo = bound_value(o->min), hi = bound_value(o->max);
    snprintf(text, sizeof text, "# line 1\n; line 2\n%s = %lld\n", o->name, (long long)(lo - 1));
    snprintf(want, sizeof want, "test.conf:3: %s = %lld is below the minimum %s", o->name, (long long)(lo - 1), o->min);
    expect_error(text, want, NULL);
    snprintf(text, sizeof text, "\n\n\n%s = %lld\n", o->name, (long long)(hi + 1));
    snprintf(want, sizeof want, "test.conf:4: %s = %lld is above the maximum %s", o->name, (long long)(hi + 1), o->max);
    expect_error(text, want, NULL);

    lgd_config c;
    snprintf(text, sizeof text, "%s = %lld\n", o->name, (long long)lo);
    expect_ok(&c, text);
    snprintf(text, sizeof text, "%s = %lld\n", o->name, (long long)hi);
    expect_ok(&c, text);

    snprintf(text, sizeof text, "# x\n%s = 4x\n", o->name);
    snprintf(want, sizeof want, "test.conf:2: %s = 4x is not", o->name);
    expect_error(text, want, NULL);
}
END_TEST

/* ------------------------------------------------------------- values */

START_TEST(test_sizes)
{
    lgd_config c;
    expect_ok(&c, "max_body = 512K\nmax_upload = 2g\n");
    ck_assert_int_eq(c.max_body, 512 * 1024);
    ck_assert_int_eq(c.max_upload, (int64_t)2 << 30);
    expect_ok(&c, "max_body = 1M\nmax_upload = 4G\n");
    ck_assert_int_eq(c.max_body, 1 << 20);
    ck_assert_int_eq(c.max_upload, (int64_t)4 << 30);
    expect_ok(&c, "max_body = 1500\nmax_upload = 3k\n");
    ck_assert_int_eq(c.max_body, 1500);
    ck_assert_int_eq(c.max_upload, 3072);

    expect_error("\n\n\n\n\n\n\n\nmax_body = 12Q\n",
                 "test.conf:9: max_body = 12Q is not a size (use a number with an optional K, M or G suffix)", NULL);
    expect_error("max_body = 1.5M\n", "test.conf:1: max_body = 1.5M is not a size", NULL);
    expect_error("max_body = M\n", "max_body = M is not a size", NULL);
    expect_error("max_body = 1MB\n", "max_body = 1MB is not a size", NULL);
    expect_error("max_body = 0x10\n", "is not a size", NULL);
    expect_error("max_body =\n", "max_body =  is not a size", NULL);
    expect_error("max_body = -1K\n", "max_body = -1K is below the minimum 1K", NULL);
    expect_error("max_body = 1023\n", "max_body = 1023 is below the minimum 1K", NULL);
    expect_error("max_body = 65M\n", "max_body = 65M is above the maximum 64M", NULL);
    expect_error("max_upload = 99999999999999G\n", "is above the maximum 4G", NULL);
    expect_error("max_upload = 99999999999999999999\n", "is above the maximum 4G", NULL);
}
END_TEST

START_TEST(test_integers)
{
    lgd_config c;
    expect_ok(&c, "workers = +4\n");
    ck_assert_int_eq(c.workers, 4);
    expect_ok(&c, "workers = 3 ; inline comment\n");
    ck_assert_int_eq(c.workers, 3);
    expect_ok(&c, "cache_mb = 1048576\n");
    ck_assert_int_eq(c.cache_mb, 1048576);
    expect_error("workers = 4x\n", "test.conf:1: workers = 4x is not an integer", NULL);
    expect_error("workers = 4 # four\n", "workers = 4 # four is not an integer", NULL);
    expect_error("workers =\n", "workers =  is not an integer", NULL);
    expect_error("workers = 0x4\n", "is not an integer", NULL);
    expect_error("workers = 4K\n", "workers = 4K is not an integer", NULL);
    expect_error("workers = 99999999999999999999\n", "workers = 99999999999999999999 is above the maximum 64", NULL);
    expect_error("workers = -99999999999999999999\n", "is below the minimum 1", NULL);
    expect_error("workers = 4294967297\n", "is above the maximum 64", NULL);
    expect_error("cache_mb = 1M\n", "cache_mb = 1M is not an integer", NULL);
}
END_TEST

START_TEST(test_enums)
{
    lgd_config c;
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    char text[64];
    for (int i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "log_level = %s\n", levels[i]);
        expect_ok(&c, text);
        ck_assert_str_eq(c.log_level, levels[i]);
        lgd_log_level lv;
        ck_assert_msg(lgd_log_level_parse(c.log_level, &lv) == 0 && (int)lv == i,
                      "the logger should read log_level %s as level %d", levels[i], i);
    }
    expect_ok(&c, "log_format = json\n");
    ck_assert_str_eq(c.log_format, "json");
    expect_error("log_level = verbose\n", "test.conf:1: log_level = verbose is not one of error|warn|info|debug", NULL);
    expect_error("log_level = INFO\n", "log_level = INFO is not one of", NULL);
    expect_error("log_level = inf\n", "is not one of", NULL);
    expect_error("log_level = info|debug\n", "is not one of", NULL);
    expect_error("log_format =\n", "log_format =  is not one of text|json", NULL);
    expect_error("log_format = xml\n", "log_format = xml is not one of text|json", NULL);
}
END_TEST

START_TEST(test_strings)
{
    lgd_config c, keep;
    char err[512];
    lgd_config_defaults(&c);

    char *s = malloc(5000);
    ck_assert_msg(s != NULL, "out of memory");
    memset(s, 'a', 5000);
    s[0] = '/';
    /* a value must fit a config line, quoted: 9 + 185 + 4 = 198 for state_dir */
    s[185] = '\0';
    ck_assert_msg(lgd_config_set(&c, "state_dir", s, err, sizeof err) == 0, "a 185-character path fits: %s", err);
    ck_assert_int_eq(strlen(c.state_dir), 185);
    s[185] = 'a';
    s[186] = '\0';
    memcpy(&keep, &c, sizeof c);
    ck_assert_msg(lgd_config_set(&c, "state_dir", s, err, sizeof err) != 0, "a 186-character path does not fit a line");
    ck_assert_msg(strstr(err, "state_dir is 186 characters long; a config line holds at most 185") != NULL, "got: %s",
                  err);
    ck_assert_msg(memcmp(&c, &keep, sizeof c) == 0, "a refused value should leave the config as it was");
    s[186] = 'a';
    s[4096] = '\0';
    ck_assert_msg(lgd_config_set(&c, "state_dir", s, err, sizeof err) != 0, "a 4096-character path does not fit");
    ck_assert_msg(strstr(err, "state_dir is 4096 characters long; the limit is 4095") != NULL, "got: %s", err);

    /* "a ;b" would be cut at the comment when loaded back */
    ck_assert_msg(lgd_config_set(&c, "state_dir", "/a ;b", err, sizeof err) != 0, "a blank then ';' is refused");
    ck_assert_msg(strstr(err, "starts a comment") != NULL, "got: %s", err);
    ck_assert_msg(lgd_config_set(&c, "fmnist_dir", ";abc", err, sizeof err) == 0, "a leading ';' is kept: %s", err);

    s[0] = 'a';
    memcpy(s + 183, ":8080", 5);
    s[188] = '\0';
    ck_assert_msg(lgd_config_set(&c, "listen", s, err, sizeof err) == 0, "a 188-character host:port fits: %s", err);
    memcpy(s + 184, ":8080", 5);
    s[189] = '\0';
    ck_assert_msg(lgd_config_set(&c, "listen", s, err, sizeof err) != 0, "a 189-character address does not fit a line");
    ck_assert_msg(strstr(err, "listen is 189 characters long; a config line holds at most 188") != NULL, "got: %s",
                  err);
    free(s);

    /* Lines longer than inih's buffer are refused, not split. */
    char text[400];
    memset(text, 0, sizeof text);
    strcpy(text, "workers = 2\nstate_dir = /");
    memset(text + strlen(text), 'x', 250);
    strcat(text, "\n");
    expect_error(text, "test.conf:2: line is longer than 198 characters", NULL);

    ck_assert_msg(lgd_config_set(&c, "state_dir", "/a\tb", err, sizeof err) != 0, "a tab is refused in a path");
    ck_assert_msg(strstr(err, "state_dir contains a control character") != NULL, "got: %s", err);
    expect_error("state_dir =\n", "test.conf:1: state_dir must not be empty", NULL);
    expect_error("state_dir = \"\"\n", "state_dir must not be empty", NULL);

    expect_ok(&c, "tokens_file = \"\"\nfmnist_dir =\nstate_dir = \" /with spaces \"\ndata_dir = \"x\n");
    ck_assert_str_eq(c.tokens_file, "");
    ck_assert_str_eq(c.fmnist_dir, "");
    ck_assert_str_eq(c.state_dir, " /with spaces ");
    ck_assert_str_eq(c.data_dir, "\"x");
    expect_ok(&c, "tokens_file = /etc/learngened/tokens\n");
    ck_assert_str_eq(c.tokens_file, "/etc/learngened/tokens");
}
END_TEST

START_TEST(test_set)
{
    lgd_config c, keep;
    char err[512];
    lgd_config_defaults(&c);
    ck_assert_msg(lgd_config_set(&c, "state-dir", "/tmp/lg", err, sizeof err) == 0, "--state-dir style key: %s", err);
    ck_assert_str_eq(c.state_dir, "/tmp/lg");
    ck_assert_msg(lgd_config_set(&c, "listen", "[::1]:0", err, sizeof err) == 0, "listen: %s", err);
    ck_assert_str_eq(c.listen, "[::1]:0");
    ck_assert_msg(lgd_config_set(&c, "max_body", "2M", err, sizeof err) == 0, "max_body: %s", err);
    ck_assert_int_eq(c.max_body, 2 << 20);

    memcpy(&keep, &c, sizeof c);
    ck_assert_msg(lgd_config_set(&c, "wrokers", "2", err, sizeof err) != 0, "unknown key refused");
    ck_assert_msg(strcmp(err, "unknown option 'wrokers'") == 0, "got: %s", err);
    ck_assert_msg(lgd_config_set(&c, "workers", "0", err, sizeof err) != 0, "workers 0 refused");
    ck_assert_msg(strcmp(err, "workers = 0 is below the minimum 1") == 0, "got: %s", err);
    ck_assert_msg(lgd_config_set(&c, "listen", "nowhere", err, sizeof err) != 0, "listen without port refused");
    ck_assert_msg(memcmp(&c, &keep, sizeof c) == 0, "refused values should leave the config as it was");
}
END_TEST

/* ------------------------------------------------------------- syntax */

START_TEST(test_unknown_option)
{
    expect_error("workers = 2\n\nwrokers = 2\n", "test.conf:3: unknown option 'wrokers'", "did you mean 'workers'?",
                 NULL);
    expect_error("state-dir = /x\n", "test.conf:1: unknown option 'state-dir' (did you mean 'state_dir'?)", NULL);
    lgd_config c;
    char err[512];
    ck_assert_msg(load(&c, "zzzzzz = 1\n", err, sizeof err) != 0, "unknown option refused");
    ck_assert_msg(strcmp(err, "test.conf:1: unknown option 'zzzzzz'") == 0, "no suggestion when nothing is close: %s",
                  err);
}
END_TEST

START_TEST(test_duplicate)
{
    expect_error("workers = 2\nlisten = 127.0.0.1:1\n# x\nworkers = 3\n",
                 "test.conf:4: workers is set twice, on line 1 and on line 4", NULL);
    expect_error("[learngened]\nlog_level = info\n[learngened]\nlog_level = info\n", "test.conf:4:", "line 2",
                 "log_level", NULL);
}
END_TEST

START_TEST(test_sections)
{
    lgd_config c;
    expect_ok(&c, "[learngened]\nworkers = 2\n");
    ck_assert_int_eq(c.workers, 2);
    expect_ok(&c, "workers = 2\n  [learngened]  ; the daemon\nqueue_max = 9\n");
    ck_assert_int_eq(c.workers, 2);
    ck_assert_int_eq(c.queue_max, 9);
    expect_error("workers = 2\n[server]\nqueue_max = 9\n", "test.conf:2: section [server] is not allowed", NULL);
    expect_error("[server]\n", "test.conf:1: section [server] is not allowed", NULL);
    expect_error("# a\n[learngened\nworkers = 2\n", "test.conf:2: '[' without a closing ']'", NULL);
    expect_error("[]\n", "section [] is not allowed", NULL);
}
END_TEST

START_TEST(test_syntax)
{
    lgd_config c;
    expect_ok(&c, "");
    expect_ok(&c, "# only\n; comments\n\n   \n");
    expect_ok(&c, "\xEF\xBB\xBFworkers = 2\r\nqueue_max=7\r\n   max_batch   =   8   \n");
    ck_assert_int_eq(c.workers, 2);
    ck_assert_int_eq(c.queue_max, 7);
    ck_assert_int_eq(c.max_batch, 8);
    expect_ok(&c, "workers = 5");
    ck_assert_int_eq(c.workers, 5);
    expect_error("workers = 2\njust words\n", "test.conf:2: expected 'name = value'", NULL);
    /* an indented line is not a continuation of the one before */
    expect_error("workers = 2\n    3\n", "test.conf:2: expected 'name = value'", NULL);
    /* the first error wins */
    expect_error("nonsense\nwrokers = 1\n", "test.conf:1: expected 'name = value'", NULL);
    expect_error("wrokers = 1\nnonsense\n", "test.conf:1: unknown option", NULL);
}
END_TEST

START_TEST(test_failed_load_keeps_config)
{
    lgd_config c, keep;
    char err[512];
    lgd_config_defaults(&c);
    ck_assert_msg(lgd_config_set(&c, "workers", "3", err, sizeof err) == 0, "%s", err);
    memcpy(&keep, &c, sizeof c);
    ck_assert_msg(lgd_config_load_string(&c, "workers = 5\nqueue_max = 2\nbogus = 1\n", "r.conf", err, sizeof err) != 0,
                  "bogus option refused");
    ck_assert_msg(memcmp(&c, &keep, sizeof c) == 0, "a refused file should leave the config as it was");
    /* a good file applies on top of what is there */
    ck_assert_msg(lgd_config_load_string(&c, "queue_max = 2\n", "r.conf", err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.workers, 3);
    ck_assert_int_eq(c.queue_max, 2);
}
END_TEST

START_TEST(test_load_file)
{
    lgd_config c;
    char err[512], dir[256], path[300];
    lgd_config_defaults(&c);
    ck_assert_msg(lgd_config_load_file(&c, "/nonexistent/learngened.conf", err, sizeof err) != 0, "missing file");
    ck_assert_msg(strstr(err, "cannot open /nonexistent/learngened.conf") != NULL, "got: %s", err);

    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lg_test_conf_XXXXXX", t && *t ? t : "/tmp");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    ck_assert_msg(lgd_config_load_file(&c, dir, err, sizeof err) != 0, "a directory is refused");
    printf("directory: %s\n", err);

    snprintf(path, sizeof path, "%s/learngened.conf", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    fwrite("workers = 2\nqueue_max = 1\0\n", 1, 27, f);
    fclose(f);
    ck_assert_msg(lgd_config_load_file(&c, path, err, sizeof err) != 0, "a NUL byte is refused");
    ck_assert_msg(strstr(err, ":2: NUL byte") != NULL, "got: %s", err);

    f = fopen(path, "wb");
    fputs("workers = 2\nworkers = 3\n", f);
    fclose(f);
    ck_assert_msg(lgd_config_load_file(&c, path, err, sizeof err) != 0, "duplicate refused");
    char want[400];
    snprintf(want, sizeof want, "%s:2: workers is set twice", path);
    ck_assert_msg(strstr(err, want) != NULL, "the message names the path, got: %s", err);

    f = fopen(path, "wb");
    fputs("workers = 2\n", f);
    fclose(f);
    ck_assert_msg(lgd_config_load_file(&c, path, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.workers, 2);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------- listen, check, diff */

START_TEST(test_listen)
{
    static const struct {
        const char *in, *host;
        int port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},     {"[::1]:8080", "::1", 8080},
        {"localhost:0", "localhost", 0},           {"0.0.0.0:65535", "0.0.0.0", 65535},
        {"[fe80::1%eth0]:80", "fe80::1%eth0", 80}, {"[::]:1", "::", 1},
    };
    static const char *const bad[] = {"127.0.0.1:70000", "127.0.0.1:65536", "127.0.0.1", "127.0.0.1:",  ":8080",
                                      "::1:8080",        "[::1]8080",       "[::1]",     "[::1:8080",   "host:80x",
                                      "host:-1",         "ho st:80",        "[]:80",     "host:000080", "",
                                      "host:+80",        "a/b:80"};
    char host[64];
    int port;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(lgd_config_parse_listen(good[i].in, host, sizeof host, &port) == 0, "%s should parse",
                      good[i].in);
        ck_assert_msg(strcmp(host, good[i].host) == 0 && port == good[i].port, "%s: expected %s port %d, got %s %d",
                      good[i].in, good[i].host, good[i].port, host, port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(lgd_config_parse_listen(bad[i], host, sizeof host, &port) != 0, "\"%s\" should be refused",
                      bad[i]);
    ck_assert_msg(lgd_config_parse_listen("127.0.0.1:80", host, 9, &port) != 0, "host too long for its buffer");
    ck_assert_msg(lgd_config_parse_listen("127.0.0.1:80", host, 10, &port) == 0, "host just fits");

    expect_error("listen = 127.0.0.1:70000\n", "test.conf:1: listen = 127.0.0.1:70000 is not host:port", NULL);
    expect_error("listen = 127.0.0.1\n", "test.conf:1: listen = 127.0.0.1 is not host:port", NULL);
    expect_error("listen = ::1:8080\n", "listen = ::1:8080 is not", NULL);
}
END_TEST

START_TEST(test_check)
{
    lgd_config c;
    char err[512];
    expect_ok(&c, "workers = 4\nblas_threads = 8\n");
    ck_assert_msg(lgd_config_check(&c, 16, err, sizeof err) != 0, "4 workers x 8 BLAS threads > 16 CPUs");
    printf("check: %s\n", err);
    ck_assert_msg(strstr(err, "(workers + jobs_max) * blas_threads = (4 + 1) * 8 = 40 is more than the 16 CPUs") != NULL,
                  "got: %s", err);
    ck_assert_msg(lgd_config_check(&c, 40, err, sizeof err) == 0, "40 = 40 CPUs is fine: %s", err);
    ck_assert_msg(lgd_config_check(&c, 0, err, sizeof err) == 0, "unknown CPU count skips the check: %s", err);
    expect_ok(&c, "workers = 64\nblas_threads = 0\n");
    ck_assert_msg(lgd_config_check(&c, 2, err, sizeof err) == 0, "blas_threads 0 adapts: %s", err);

    /* values written into the struct directly are checked too */
    lgd_config_defaults(&c);
    strcpy(c.listen, "nowhere");
    ck_assert_msg(lgd_config_check(&c, 4, err, sizeof err) != 0, "bad listen refused");
    ck_assert_msg(strstr(err, "listen = nowhere") != NULL, "got: %s", err);
    lgd_config_defaults(&c);
    c.workers = 0;
    ck_assert_msg(lgd_config_check(&c, 4, err, sizeof err) != 0, "workers 0 refused");
    ck_assert_msg(strstr(err, "workers = 0 is below the minimum 1") != NULL, "got: %s", err);
    lgd_config_defaults(&c);
    c.max_upload = 5LL << 30;
    ck_assert_msg(lgd_config_check(&c, 4, err, sizeof err) != 0, "max_upload 5G refused");
    ck_assert_msg(strstr(err, "max_upload = 5G is above the maximum 4G") != NULL, "got: %s", err);
    lgd_config_defaults(&c);
    memset(c.log_level, 'x', sizeof c.log_level);
    ck_assert_msg(lgd_config_check(&c, 4, err, sizeof err) != 0, "unterminated string refused");

    lgd_config_defaults(&c);
    ck_assert_int_eq(lgd_config_effective_blas(&c, 8), 4);
    c.workers = 2;
    ck_assert_int_eq(lgd_config_effective_blas(&c, 8), 2);
    ck_assert_int_eq(lgd_config_effective_blas(&c, 3), 1);
    c.workers = 4;
    ck_assert_int_eq(lgd_config_effective_blas(&c, 2), 1);
    ck_assert_int_eq(lgd_config_effective_blas(&c, 0), 1);
    c.blas_threads = 3;
    ck_assert_int_eq(lgd_config_effective_blas(&c, 2), 3);
}
END_TEST

START_TEST(test_diff_restart)
{
    lgd_config a, b;
    char names[256];
    lgd_config_defaults(&a);
    lgd_config_defaults(&b);
    ck_assert_int_eq(lgd_config_diff_restart(&a, &b, names, sizeof names), 0);
    ck_assert_str_eq(names, "");

    expect_ok(&b, "log_level = debug\nmax_body = 2M\ntokens_file = /t\n");
    ck_assert_msg(lgd_config_diff_restart(&a, &b, names, sizeof names) == 0 && names[0] == '\0',
                  "live options need no restart, got \"%s\"", names);

    expect_ok(&b, "listen = 127.0.0.1:9090\nlog_level = debug\nworkers = 2\n");
    ck_assert_int_eq(lgd_config_diff_restart(&a, &b, names, sizeof names), 2);
    ck_assert_msg(strcmp(names, "listen, workers") == 0, "expected \"listen, workers\", got \"%s\"", names);
    ck_assert_msg(strstr(names, "log_level") == NULL, "log_level is live");

    char small[8];
    ck_assert_int_eq(lgd_config_diff_restart(&a, &b, small, sizeof small), 2);
    ck_assert_msg(strlen(small) < sizeof small, "names are truncated to the buffer");
    ck_assert_int_eq(lgd_config_diff_restart(&a, &b, NULL, 0), 2);
}
END_TEST

/* ---------------------------------------------- shipped file, dump */

START_TEST(test_shipped_conf)
{
    lgd_config c, d;
    char err[1024];
    lgd_config_defaults(&d);
    lgd_config_defaults(&c);
    ck_assert_msg(lgd_config_load_file(&c, CONF, err, sizeof err) == 0, "%s should load: %s", CONF, err);
    ck_assert_msg(memcmp(&c, &d, sizeof c) == 0, "the shipped file sets nothing");

    /* Every option appears commented out at its default, in table order;
     * uncommented, the file still loads and still means the defaults. */
    char *text = read_text(CONF);
    int n;
    const lgd_option_doc *o = lgd_config_options(&n);
    const char *at = text;
    for (int i = 0; i < n; i++) {
        char want[256];
        snprintf(want, sizeof want, "\n#%s = %s\n", o[i].name, o[i].def[0] ? o[i].def : "\"\"");
        const char *hit = strstr(at, want);
        ck_assert_msg(hit != NULL, "%s should contain \"%.*s\" after the previous option", CONF, (int)strlen(want) - 2,
                      want + 1);
        memmove((char *)hit + 1, hit + 2, strlen(hit + 2) + 1); /* uncomment */
        at = hit + 1;
    }
    lgd_config_defaults(&c);
    ck_assert_msg(lgd_config_load_string(&c, text, "uncommented.conf", err, sizeof err) == 0,
                  "the uncommented sample should load: %s", err);
    ck_assert_msg(memcmp(&c, &d, sizeof c) == 0, "the uncommented sample should give the defaults");
    free(text);
}
END_TEST

START_TEST(test_dump_round_trip)
{
    lgd_config c, d;
    char err[1024];
    lgd_config_defaults(&c);
    static const char *const set[][2] = {
        {"listen", "[::1]:9000"},
        {"state_dir", "/srv/state dir"},
        {"data_dir", ""},
        {"fmnist_dir", " lead and trail "},
        {"tokens_file", "\"quoted\""},
        {"workers", "3"},
        {"blas_threads", "2"},
        {"max_body", "1500"},
        {"max_upload", "3G"},
        {"max_connections_per_ip", "0"},
        {"cache_mb", "0"},
        {"log_level", "debug"},
        {"log_format", "json"},
        {"drain_timeout", "0"},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        ck_assert_msg(lgd_config_set(&c, set[i][0], set[i][1], err, sizeof err) == 0, "%s", err);
    char *text = dump(&c);
    printf("%s", text);
    int n, lines = 0;
    lgd_config_options(&n);
    for (const char *p = text; *p; p++) lines += *p == '\n';
    ck_assert_msg(lines == n, "the dump has one line per option: %d lines for %d options", lines, n);
    ck_assert_msg(strstr(text, "max_upload = 3G\n") && strstr(text, "max_body = 1500\n") &&
                      strstr(text, "data_dir = \"\"\n") && strstr(text, "state_dir = /srv/state dir\n"),
                  "dump shows values as written");

    lgd_config_defaults(&d);
    ck_assert_msg(lgd_config_load_string(&d, text, "dump", err, sizeof err) == 0, "the dump should load: %s", err);
    ck_assert_msg(memcmp(&c, &d, sizeof c) == 0, "the dump should load back to the same config");
    free(text);

    lgd_config_defaults(&c);
    text = dump(&c);
    memset(&d, 0, sizeof d);
    lgd_config_defaults(&d);
    ck_assert_msg(lgd_config_set(&d, "workers", "7", err, sizeof err) == 0, "%s", err);
    ck_assert_msg(lgd_config_load_string(&d, text, "dump", err, sizeof err) == 0, "%s", err);
    ck_assert_msg(memcmp(&c, &d, sizeof c) == 0, "the dump of the defaults sets every option");
    free(text);
}
END_TEST

/* ------------------------------------------------------------------ log */

/* What was written to f since it was opened. Caller frees. */
static char *slurp_log(FILE *f)
{
    long n = ftell(f);
    ck_assert_msg(n >= 0, "ftell failed");
    char *s = malloc((size_t)n + 1);
    ck_assert_msg(s != NULL, "out of memory");
    rewind(f);
    ck_assert_msg(fread(s, 1, (size_t)n, f) == (size_t)n, "short read of the log");
    s[n] = '\0';
    return s;
}

static void expect_match(const char *s, const char *pattern)
{
    regex_t re;
    ck_assert_msg(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0, "bad pattern %s", pattern);
    int r = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    ck_assert_msg(r == 0, "log text\n%s\nshould match /%s/", s, pattern);
}

static FILE *log_to_tmpfile(lgd_log_level level, int json)
{
    unsetenv("JOURNAL_STREAM");
    FILE *f = tmpfile();
    ck_assert_msg(f != NULL, "tmpfile: %s", strerror(errno));
    lgd_log_setup(level, json, f);
    return f;
}

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

START_TEST(test_log_text)
{
    FILE *f = log_to_tmpfile(LGD_LOG_INFO, 0);
    lgd_log(LGD_LOG_INFO, "listen", "addr=%s", "127.0.0.1:8080");
    lgd_log(LGD_LOG_DEBUG, "hidden", "x=1");
    lgd_log(LGD_LOG_ERROR, "job_failed", "id=%d reason=\"%s\"", 7, "two\nlines\ttab\x01");
    lgd_log(LGD_LOG_WARN, "bare", NULL);
    ck_assert_msg(!lgd_log_enabled(LGD_LOG_DEBUG) && lgd_log_enabled(LGD_LOG_INFO), "enabled follows the level");
    lgd_log_set_level(LGD_LOG_DEBUG);
    lgd_log(LGD_LOG_DEBUG, "shown", "x=2");
    lgd_log_set_level(LGD_LOG_ERROR);
    lgd_log(LGD_LOG_WARN, "hidden", "x=3");
    char *s = slurp_log(f);
    expect_match(s, "^" TS " info event=listen addr=127\\.0\\.0\\.1:8080\n" TS
                    " error event=job_failed id=7 reason=\"two\\\\nlines\\\\ttab\\\\x01\"\n" TS " warn event=bare\n" TS
                    " debug event=shown x=2\n$");
    free(s);
    fclose(f);
}
END_TEST

START_TEST(test_log_json)
{
    FILE *f = log_to_tmpfile(LGD_LOG_DEBUG, 1);
    lgd_log(LGD_LOG_INFO, "listen", "addr=%s", "127.0.0.1:8080");
    lgd_log(LGD_LOG_WARN, "up\"load", "name=\"%s\"\nnext\\%s", "a", "\x01\xc3\xa9\xff");
    lgd_log(LGD_LOG_DEBUG, "empty", NULL);
    char *s = slurp_log(f);
    expect_match(s, "^\\{\"ts\":\"" TS
                    "\",\"level\":\"info\",\"event\":\"listen\",\"msg\":\"addr=127\\.0\\.0\\.1:8080\"\\}\n"
                    "\\{\"ts\":\"" TS "\",\"level\":\"warn\",\"event\":\"up\\\\\"load\",\"msg\":");
    const char *want = "\"msg\":\"name=\\\"a\\\"\\nnext\\\\\\u0001\xc3\xa9\\ufffd\"}\n";
    ck_assert_msg(strstr(s, want) != NULL, "JSON escaping: expected %s in\n%s", want, s);
    ck_assert_msg(strstr(s, "\"level\":\"debug\",\"event\":\"empty\",\"msg\":\"\"}\n") != NULL, "empty msg in\n%s", s);
    free(s);
    fclose(f);
}
END_TEST

START_TEST(test_log_journald)
{
    FILE *f = tmpfile();
    ck_assert_msg(f != NULL, "tmpfile failed");
    struct stat st;
    ck_assert_msg(fstat(fileno(f), &st) == 0, "fstat failed");
    char js[64];
    snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    lgd_log_setup(LGD_LOG_DEBUG, 0, f);
    lgd_log(LGD_LOG_ERROR, "e", "a=1");
    lgd_log(LGD_LOG_WARN, "w", "a=2");
    lgd_log(LGD_LOG_INFO, "listen", "addr=127.0.0.1:8080");
    lgd_log(LGD_LOG_DEBUG, "d", "a=4");
    lgd_log_setup(LGD_LOG_DEBUG, 1, f);
    lgd_log(LGD_LOG_WARN, "w", "a=5");
    char *s = slurp_log(f);
    const char *want = "<3>error event=e a=1\n<4>warn event=w a=2\n<6>info event=listen addr=127.0.0.1:8080\n"
                       "<7>debug event=d a=4\n<4>{\"level\":\"warn\",\"event\":\"w\",\"msg\":\"a=5\"}\n";
    ck_assert_msg(strcmp(s, want) == 0, "journald lines: expected\n%sgot\n%s", want, s);
    free(s);

    /* another stream's JOURNAL_STREAM does not count */
    setenv("JOURNAL_STREAM", "1:1", 1);
    FILE *g = tmpfile();
    lgd_log_setup(LGD_LOG_INFO, 0, g);
    lgd_log(LGD_LOG_INFO, "x", NULL);
    s = slurp_log(g);
    expect_match(s, "^" TS " info event=x\n$");
    free(s);
    fclose(g);
    fclose(f);
    unsetenv("JOURNAL_STREAM");
}
END_TEST

START_TEST(test_log_long_and_levels)
{
    FILE *f = log_to_tmpfile(LGD_LOG_INFO, 0);
    char *big = malloc(20001);
    ck_assert_msg(big != NULL, "out of memory");
    memset(big, 'y', 20000);
    big[20000] = '\0';
    lgd_log(LGD_LOG_INFO, "big", "v=%s", big);
    char *s = slurp_log(f);
    ck_assert_msg(strstr(s, big) != NULL && strchr(s, '\n') == s + strlen(s) - 1,
                  "a 20000-character message is written whole, on one line");
    free(s);
    free(big);
    fclose(f);

    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        lgd_log_level lv;
        ck_assert_msg(lgd_log_level_parse(names[i], &lv) == 0 && (int)lv == i, "%s parses", names[i]);
        ck_assert_str_eq(lgd_log_level_name(lv), names[i]);
    }
    lgd_log_level lv = LGD_LOG_INFO;
    ck_assert_msg(lgd_log_level_parse("verbose", &lv) != 0 && lv == LGD_LOG_INFO, "verbose is not a level");
    ck_assert_msg(lgd_log_level_parse("warning", &lv) != 0, "warning is not a level (warn is)");
}
END_TEST

enum { LOG_THREADS = 8, LOG_LINES = 500 };

static void *log_many(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LOG_LINES; i++) lgd_log(LGD_LOG_INFO, "tick", "thread=%d i=%d pad=%0100d", id, i, 0);
    return NULL;
}

START_TEST(test_log_threads)
{
    FILE *f = log_to_tmpfile(LGD_LOG_INFO, 1);
    pthread_t t[LOG_THREADS];
    for (int i = 0; i < LOG_THREADS; i++)
        ck_assert_msg(pthread_create(&t[i], NULL, log_many, (void *)(intptr_t)i) == 0, "pthread_create");
    for (int i = 0; i < LOG_THREADS; i++) pthread_join(t[i], NULL);
    char *s = slurp_log(f);
    int lines = 0;
    regex_t re;
    ck_assert_msg(regcomp(&re,
                          "^\\{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"tick\",\"msg\":\"thread=[0-7] "
                          "i=[0-9]+ pad=0{100}\"\\}$",
                          REG_EXTENDED | REG_NOSUB) == 0,
                  "regcomp");
    for (char *save, *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "interleaved line: %s", line);
        lines++;
    }
    regfree(&re);
    ck_assert_msg(lines == LOG_THREADS * LOG_LINES, "expected %d lines, got %d", LOG_THREADS * LOG_LINES, lines);
    free(s);
    fclose(f);
}
END_TEST

static Suite *daemon_config_suite(void)
{
    Suite *s = suite_create("daemon_config");
    int n;
    lgd_config_options(&n);

    TCase *opt = tcase_create("options");
    tcase_add_test(opt, test_defaults);
    tcase_add_test(opt, test_table);
    tcase_add_loop_test(opt, test_option_values, 0, n);
    tcase_add_loop_test(opt, test_option_bounds, 0, n);
    tcase_add_test(opt, test_sizes);
    tcase_add_test(opt, test_integers);
    tcase_add_test(opt, test_enums);
    tcase_add_test(opt, test_strings);
    tcase_add_test(opt, test_set);
    suite_add_tcase(s, opt);

    TCase *file = tcase_create("file");
    tcase_add_test(file, test_unknown_option);
    tcase_add_test(file, test_duplicate);
    tcase_add_test(file, test_sections);
    tcase_add_test(file, test_syntax);
    tcase_add_test(file, test_failed_load_keeps_config);
    tcase_add_test(file, test_load_file);
    tcase_add_test(file, test_shipped_conf);
    tcase_add_test(file, test_dump_round_trip);
    suite_add_tcase(s, file);

    TCase *chk = tcase_create("check");
    tcase_add_test(chk, test_listen);
    tcase_add_test(chk, test_check);
    tcase_add_test(chk, test_diff_restart);
    suite_add_tcase(s, chk);

    TCase *logs = tcase_create("log");
    tcase_add_test(logs, test_log_text);
    tcase_add_test(logs, test_log_json);
    tcase_add_test(logs, test_log_journald);
    tcase_add_test(logs, test_log_long_and_levels);
    tcase_add_test(logs, test_log_threads);
    suite_add_tcase(s, logs);
    return s;
}

int main(void) { return lg_test_run(daemon_config_suite()); }
