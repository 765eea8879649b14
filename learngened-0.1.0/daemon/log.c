/* log.c - the logger declared in log.h: formats one event into a line
 * buffer (text or JSON, journald priority prefix when stderr is the journal)
 * and writes it with a single fwrite under a mutex.
 *
 * The logger's settings are process-wide (daemon/ may keep globals): the
 * level and format are atomics read without the lock, the output stream is
 * guarded by the lock. Calls only libc and pthreads.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_level = LGD_LOG_INFO;
static atomic_int log_json = 0;
static atomic_int log_journal = 0; /* 1 = the output is journald's stream */
static FILE *log_out = NULL;       /* NULL = stderr; guarded by log_lock */

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_priority[] = {3, 4, 6, 7};

int lgd_log_level_parse(const char *s, lgd_log_level *out)
{
    for (int i = LGD_LOG_ERROR; i <= LGD_LOG_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            if (out) *out = (lgd_log_level)i;
            return 0;
        }
    }
    return -1;
}

static int clamp_level(int level)
{
    return level < LGD_LOG_ERROR ? LGD_LOG_ERROR : level > LGD_LOG_DEBUG ? LGD_LOG_DEBUG : level;
}

const char *lgd_log_level_name(lgd_log_level level) { return level_names[clamp_level((int)level)]; }

/* Whether f is the stream systemd passed to journald: JOURNAL_STREAM holds
 * "device:inode" of that stream (sd-daemon(3), systemd.exec(5)). */
static int is_journal(FILE *f)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2) return 0;
    int fd = fileno(f);
    if (fd < 0 || fstat(fd, &st) != 0) return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void lgd_log_setup(lgd_log_level level, int json, FILE *out)
{
    pthread_mutex_lock(&log_lock);
    log_out = out;
    atomic_store(&log_journal, is_journal(out ? out : stderr));
    atomic_store(&log_json, json != 0);
    atomic_store(&log_level, clamp_level((int)level));
    pthread_mutex_unlock(&log_lock);
}

void lgd_log_set_level(lgd_log_level level) { atomic_store(&log_level, clamp_level((int)level)); }

int lgd_log_enabled(lgd_log_level level) { return (int)level <= atomic_load(&log_level); }

/* ------------------------------------------------------------ line buffer */

/* A string that starts on the stack and moves to the heap when it grows;
 * when memory runs out it stops growing and the line is cut short. */
typedef struct {
    char *p;
    size_t len, cap;
    char local[1024];
} line_buf;

static void lb_init(line_buf *b)
{
    b->p = b->local;
    b->len = 0;
    b->cap = sizeof b->local;
}

static void lb_free(line_buf *b)
{
    if (b->p != b->local) free(b->p);
}

/* Room for n more bytes; 0 when there is none to be had. */
static int lb_reserve(line_buf *b, size_t n)
{
    if (b->len + n <= b->cap) return 1;
    size_t cap = b->cap;
    while (cap < b->len + n) cap *= 2;
    char *q = b->p == b->local ? malloc(cap) : realloc(b->p, cap);
    if (!q) return 0;
    if (b->p == b->local) memcpy(q, b->local, b->len);
    b->p = q;
    b->cap = cap;
    return 1;
}

static void lb_add(line_buf *b, const char *s, size_t n)
{
    if (!lb_reserve(b, n)) n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void lb_str(line_buf *b, const char *s) { lb_add(b, s, strlen(s)); }

static const char hex[] = "0123456789abcdef";

/* Text: control characters as \n, \t, \r or \xNN, so the event stays one line. */
static void lb_text(line_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != 0x7f) {
            lb_add(b, s, 1);
            continue;
        }
        char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
        if (ch == '\n')
            lb_add(b, "\\n", 2);
        else if (ch == '\t')
            lb_add(b, "\\t", 2);
        else if (ch == '\r')
            lb_add(b, "\\r", 2);
        else
            lb_add(b, e, 4);
    }
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0. */
static int utf8_len(const unsigned char *s)
{
    int n;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* A JSON string's contents: quotes, backslashes and control characters
 * escaped, bytes that are not UTF-8 replaced by U+FFFD. */
static void lb_json(line_buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        unsigned char ch = *u;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            lb_add(b, e, 2);
            u++;
        } else if (ch < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            if (ch == '\n')
                lb_add(b, "\\n", 2);
            else if (ch == '\t')
                lb_add(b, "\\t", 2);
            else if (ch == '\r')
                lb_add(b, "\\r", 2);
            else
                lb_add(b, e, 6);
            u++;
        } else if (ch < 0x80) {
            lb_add(b, (const char *)u, 1);
            u++;
        } else {
            int n = utf8_len(u);
            if (n)
                lb_add(b, (const char *)u, (size_t)n);
            else
                lb_str(b, "\\ufffd");
            u += n ? n : 1;
        }
    }
}

/* ------------------------------------------------------------------- log */

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

void lgd_log(lgd_log_level level, const char *event, const char *fmt, ...)
{
    int lv = clamp_level((int)level);
    if (lv > atomic_load(&log_level)) return;
    int json = atomic_load(&log_json), journal = atomic_load(&log_journal);

    /* The caller's details, on the stack when they fit. */
    char small[512], *msg = small;
    int n = 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(small, sizeof small, fmt, ap);
        va_end(ap);
        if (n < 0) {
            n = 0;
            small[0] = '\0';
        } else if ((size_t)n >= sizeof small) {
            char *big = malloc((size_t)n + 1);
            if (big) {
                va_start(ap, fmt);
                vsnprintf(big, (size_t)n + 1, fmt, ap);
                va_end(ap);
                msg = big;
            } else {
                n = (int)sizeof small - 1; /* cut short */
            }
        }
    } else {
        small[0] = '\0';
    }

    line_buf b;
    lb_init(&b);
    char ts[40];
    if (journal) {
        char prio[8];
        snprintf(prio, sizeof prio, "<%d>", syslog_priority[lv]);
        lb_str(&b, prio);
    } else {
        timestamp(ts, sizeof ts);
    }
    if (json) {
        lb_str(&b, "{");
        if (!journal) {
            lb_str(&b, "\"ts\":\"");
            lb_str(&b, ts);
            lb_str(&b, "\",");
        }
        lb_str(&b, "\"level\":\"");
        lb_str(&b, level_names[lv]);
        lb_str(&b, "\",\"event\":\"");
        lb_json(&b, event ? event : "");
        lb_str(&b, "\",\"msg\":\"");
        lb_json(&b, msg);
        lb_str(&b, "\"}\n");
    } else {
        if (!journal) {
            lb_str(&b, ts);
            lb_str(&b, " ");
        }
        lb_str(&b, level_names[lv]);
        lb_str(&b, " event=");
        lb_text(&b, event ? event : "");
        if (n > 0) {
            lb_str(&b, " ");
            lb_text(&b, msg);
        }
        lb_str(&b, "\n");
    }
    if (b.len && b.p[b.len - 1] != '\n') b.p[b.len - 1] = '\n'; /* cut short: still one line */

    pthread_mutex_lock(&log_lock);
    FILE *out = log_out ? log_out : stderr;
    fwrite(b.p, 1, b.len, out);
    fflush(out);
    pthread_mutex_unlock(&log_lock);

    lb_free(&b);
    if (msg != small) free(msg);
}
