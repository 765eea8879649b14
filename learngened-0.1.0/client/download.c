/* download.c - lgc_download (http.h): a GET into FILE.part that resumes
 * with Range/If-Range where an interrupted one stopped (FILE.part.etag
 * records which bytes the part holds), checks the whole file's sha256
 * against the daemon's X-Content-SHA256 and renames the part to FILE.
 * Draws the progress bar and says when it resumes or starts over, on
 * stderr when asked to. Calls http_internal.h, libcurl and OpenSSL's EVP. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "http_internal.h"

/* One attempt at the download: the part file, its hash so far, the bar. */
typedef struct {
    FILE *f;
    EVP_MD_CTX *md;
    long long offset;      /* where this request's body starts in the file */
    long long got;         /* body bytes written by this request */
    char saved_etag[160];  /* the ETag the part belongs to ("" when unknown) */
    const char *etag_path; /* FILE.part.etag */
    const lgc_answer *ans; /* the answer's headers, as they arrive */
    long long dropped;     /* bytes of a part that could not be resumed */
    int started, etag_changed, io_error, restarted_whole;
    lgc_resp errbody; /* the body of an error answer */
    lgc_sink errsink;
    int progress;
    struct timespec t0, drawn;
} dl;

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void fmt_bytes(char *buf, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(buf, n, "%.2f GB", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.1f MB", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%.0f kB", v / 1e3);
    else
        snprintf(buf, n, "%.0f B", v);
}

/* "\r 45% [#########          ] 1.6 MB / 3.6 MB  2.3 MB/s" on stderr. */
static void draw_bar(long long now, long long total, double rate, int final)
{
    char a[32], b[32], r[32], bar[31];
    int pct = total > 0 ? (int)(100.0 * (double)now / (double)total) : 0, fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : ' ';
    bar[30] = 0;
    fmt_bytes(a, sizeof a, (double)now);
    fmt_bytes(b, sizeof b, (double)total);
    fmt_bytes(r, sizeof r, rate);
    if (total > 0)
        fprintf(stderr, "\r%3d%% [%s] %s / %s  %s/s   %s", pct, bar, a, b, r, final ? "\n" : "");
    else
        fprintf(stderr, "\r%s  %s/s   %s", a, r, final ? "\n" : "");
    fflush(stderr);
}

static int on_dl_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    dl *d = user;
    (void)ultotal, (void)ulnow;
    if (!d->progress || !d->started || d->errbody.status || seconds_since(&d->drawn) < 0.1) return 0;
    clock_gettime(CLOCK_MONOTONIC, &d->drawn);
    double t = seconds_since(&d->t0);
    draw_bar(d->offset + dlnow, dltotal ? d->offset + dltotal : 0, t > 0 ? (double)dlnow / t : 0, 0);
    return 0;
}

static int write_etag(const char *path, const char *etag)
{
    if (!etag[0]) return unlink(path) && errno != ENOENT ? -1 : 0;
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int bad = fprintf(f, "%s\n", etag) < 0;
    return fclose(f) || bad ? -1 : 0;
}

/* Empties the part: the answer is the whole file after all. */
static int part_reset(dl *d)
{
    d->offset = 0;
    return fflush(d->f) || ftruncate(fileno(d->f), 0) || fseeko(d->f, 0, SEEK_SET) ||
                   !EVP_DigestInit_ex(d->md, EVP_sha256(), NULL)
               ? -1
               : 0;
}

/* The first body bytes decide: a 206 must continue the part's own bytes
 * (the ETag the part was written under) where the part ends; a 200 is the
 * whole file; anything else is an error answer kept for its message. */
static int dl_accept(dl *d)
{
    long st = d->ans->status;
    long long first = -1;
    if (st == 206) {
        if (sscanf(d->ans->content_range, "bytes %lld-", &first) != 1 || first != d->offset ||
            strcmp(d->ans->etag, d->saved_etag)) {
            d->etag_changed = 1;
            return -1;
        }
    } else if (st == 200) {
        if (d->offset > 0) d->restarted_whole = 1;
        if ((d->offset > 0 && part_reset(d)) || write_etag(d->etag_path, d->ans->etag)) {
            d->io_error = errno ? errno : EIO;
            return -1;
        }
    } else
        d->errbody.status = st ? st : -1;
    d->started = 1;
    return 0;
}

static size_t on_dl_body(char *data, size_t size, size_t n, void *user)
{
    dl *d = user;
    size_t len = size * n;
    if (!d->started && dl_accept(d)) return 0;
    if (d->errbody.status) return lgc_sink_write(data, 1, len, &d->errsink);
    if (fwrite(data, 1, len, d->f) != len) {
        d->io_error = errno ? errno : EIO;
        return 0;
    }
    EVP_DigestUpdate(d->md, data, len);
    d->got += (long long)len;
    return len;
}

/* Opens FILE.part and hashes the bytes it keeps. The request starts at its
 * last byte rather than past it, so that a complete part still gets a 206
 * with the checksum headers (not a 416). A part without a recorded ETag
 * cannot be trusted and starts over. */
static lgc_status dl_open_part(dl *d, const char *part, char *err, size_t errlen)
{
    FILE *e = fopen(d->etag_path, "r");
    d->saved_etag[0] = 0;
    if (e) {
        char line[sizeof d->saved_etag];
        if (fgets(line, sizeof line, e)) snprintf(d->saved_etag, sizeof d->saved_etag, "%s", lgc_trim(line));
        fclose(e);
    }
    int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !(d->f = fdopen(fd, "r+b"))) {
        snprintf(err, errlen, "cannot open %s: %s", part, strerror(errno));
        if (fd >= 0) close(fd);
        return LGC_ERR_IO;
    }
    long long keep = d->saved_etag[0] && sb.st_size > 1 ? (long long)sb.st_size - 1 : 0;
    d->dropped = d->saved_etag[0] ? 0 : (long long)sb.st_size;
    char buf[1 << 16];
    for (long long left = keep; left > 0;) {
        size_t want = left < (long long)sizeof buf ? (size_t)left : sizeof buf, n = fread(buf, 1, want, d->f);
        if (n != want) {
            snprintf(err, errlen, "cannot read %s: %s", part, ferror(d->f) ? strerror(errno) : "it shrank");
            return LGC_ERR_IO;
        }
        EVP_DigestUpdate(d->md, buf, n);
        left -= (long long)n;
    }
    if (fseeko(d->f, keep, SEEK_SET) || (!keep && ftruncate(fd, 0))) {
        snprintf(err, errlen, "cannot rewrite %s: %s", part, strerror(errno));
        return LGC_ERR_IO;
    }
    d->offset = keep;
    return LGC_OK;
}

static void hex(char *out, const unsigned char *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

/* Closes the finished part, checks its sha256 and renames it to file. */
static lgc_status dl_finish(dl *d, const lgc_xfer *x, const char *part, const char *file, lgc_dl_result *res, char *err,
                            size_t errlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int bad = fflush(d->f) || fsync(fileno(d->f));
    bad |= fclose(d->f);
    d->f = NULL;
    if (bad) {
        snprintf(err, errlen, "cannot write %s: %s", part, strerror(errno));
        return LGC_ERR_IO;
    }
    EVP_DigestFinal_ex(d->md, md, &mdlen);
    hex(res->sha256, md, mdlen);
    res->size = d->offset + d->got;
    if (!x->ans.sha256[0]) {
        snprintf(err, errlen, "%s: the daemon sent no X-Content-SHA256, so %s cannot be verified (kept as %s)", x->url,
                 file, part);
        return LGC_ERR_PROTO;
    }
    if (strcasecmp(res->sha256, x->ans.sha256)) {
        unlink(part);
        unlink(d->etag_path);
        snprintf(err, errlen,
                 "%s: the sha256 of the download is %s, not %s as the daemon announced; removed %s, run again", x->url,
                 res->sha256, x->ans.sha256, part);
        return LGC_ERR_VERIFY;
    }
    if (rename(part, file)) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", part, file, strerror(errno));
        return LGC_ERR_IO;
    }
    unlink(d->etag_path);
    return LGC_OK;
}

static void notice(const lgc_dl_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void notice(const lgc_dl_opts *o, const char *fmt, ...)
{
    if (!o->notices) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(o->notices, "%s: ", o->who ? o->who : "learngene");
    vfprintf(o->notices, fmt, ap);
    fputc('\n', o->notices);
    va_end(ap);
    fflush(o->notices);
}

enum { DL_DONE, DL_AGAIN, DL_FAILED };

/* The request for the rest of the part: Range and If-Range when there is
 * something to resume, the callbacks, the rate limit. */
static lgc_status dl_prepare(dl *d, lgc_xfer *x, const lgc_conn *c, const char *path, const char *part,
                             const lgc_dl_opts *o, char *err, size_t errlen)
{
    lgc_status st = dl_open_part(d, part, err, errlen);
    if (st == LGC_OK) st = lgc_xfer_open(x, c, "GET", path, NULL, err, errlen);
    if (st != LGC_OK) return st;
    if (d->dropped) notice(o, "%s has no ETag record to resume against; starting over", part);
    if (d->offset > 0) {
        notice(o, "resuming %s at byte %lld", part, d->offset);
        if ((st = lgc_xfer_header(x, err, errlen, "Range: bytes=%lld-", d->offset)) ||
            (st = lgc_xfer_header(x, err, errlen, "If-Range: %s", d->saved_etag)))
            return st;
    }
    d->ans = &x->ans;
    clock_gettime(CLOCK_MONOTONIC, &d->t0);
    d->drawn = d->t0;
    d->drawn.tv_sec -= 1;
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_dl_body);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(x->h, CURLOPT_XFERINFOFUNCTION, on_dl_progress);
    curl_easy_setopt(x->h, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(x->h, CURLOPT_NOPROGRESS, 0L);
    if (o->rate_limit > 0) {
        /* libcurl reads up to 100 buffers before it checks the rate: keep
         * that first burst near a second's worth */
        curl_off_t buf = o->rate_limit / 100 < 1024 ? 1024 : o->rate_limit / 100 > 16384 ? 16384 : o->rate_limit / 100;
        curl_easy_setopt(x->h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)o->rate_limit);
        curl_easy_setopt(x->h, CURLOPT_BUFFERSIZE, (long)buf);
    }
    return LGC_OK;
}

/* What the finished request means: DL_DONE (verified and renamed),
 * DL_AGAIN (the part was of other bytes and is now empty) or DL_FAILED. */
static int dl_conclude(dl *d, const lgc_xfer *x, const char *part, const char *file, const lgc_dl_opts *o,
                       lgc_dl_result *res, lgc_status *st, char *err, size_t errlen)
{
    res->status = x->ans.status;
    if (d->etag_changed || (x->ans.status == 416 && d->offset > 0)) {
        notice(o, "%s does not match what %s serves now; starting over", part, x->url);
        res->restarted = 1;
        *st = part_reset(d) || write_etag(d->etag_path, "") ? LGC_ERR_IO : LGC_OK;
        if (*st) snprintf(err, errlen, "cannot empty %s: %s", part, strerror(errno));
        return *st ? DL_FAILED : DL_AGAIN;
    }
    if (d->io_error) {
        snprintf(err, errlen, "cannot write %s: %s", part, strerror(d->io_error));
        *st = LGC_ERR_IO;
    } else if (d->errbody.status || (*st == LGC_OK && !d->started && x->ans.status != 200)) {
        *st = lgc_xfer_error(x, &d->errbody, err, errlen);
    } else if (*st == LGC_ERR_NET) {
        size_t len = strlen(err);
        snprintf(err + len, errlen - len, " (%lld bytes kept in %s: run the same command again to resume)",
                 d->offset + d->got, part);
    } else if (*st == LGC_OK) {
        if (d->restarted_whole) notice(o, "the daemon sent the whole file again; %s started over", part);
        res->resumed_from = d->restarted_whole ? 0 : d->offset;
        *st = dl_finish(d, x, part, file, res, err, errlen);
        return *st == LGC_OK ? DL_DONE : DL_FAILED;
    }
    return DL_FAILED;
}

/* One request for the rest of the part. */
static int dl_attempt(const lgc_conn *c, const char *path, const char *file, const lgc_dl_opts *o, lgc_dl_result *res,
                      lgc_status *st, char *err, size_t errlen)
{
    char part[4096], etag_path[4200];
    snprintf(part, sizeof part, "%s.part", file);
    snprintf(etag_path, sizeof etag_path, "%s.etag", part);
    dl d = {.etag_path = etag_path, .progress = o->progress};
    d.errsink = (lgc_sink){&d.errbody, 0, LGC_MAX_ERROR_BODY, 0};
    lgc_xfer x;
    int out = DL_FAILED;
    memset(&x, 0, sizeof x);
    if (!(d.md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(d.md, EVP_sha256(), NULL)) {
        snprintf(err, errlen, "OpenSSL could not start a sha256");
        *st = LGC_ERR_NOMEM;
    } else if ((*st = dl_prepare(&d, &x, c, path, part, o, err, errlen)) == LGC_OK) {
        *st = lgc_xfer_perform(&x, err, errlen);
        if (d.progress && d.started && !d.errbody.status) {
            double t = seconds_since(&d.t0);
            draw_bar(d.offset + d.got, d.offset + d.got, t > 0 ? (double)d.got / t : 0, 1);
        }
        out = dl_conclude(&d, &x, part, file, o, res, st, err, errlen);
    }
    if (d.f) fclose(d.f);
    EVP_MD_CTX_free(d.md);
    lgc_resp_free(&d.errbody);
    lgc_xfer_close(&x);
    return out;
}

lgc_status lgc_download(const lgc_conn *c, const char *path, const char *file, const lgc_dl_opts *o, lgc_dl_result *res,
                        char *err, size_t errlen)
{
    lgc_status st = LGC_OK;
    memset(res, 0, sizeof *res);
    if (strlen(file) > 4000) {
        snprintf(err, errlen, "the file name is too long");
        return LGC_ERR_IO;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        int r = dl_attempt(c, path, file, o, res, &st, err, errlen);
        if (r != DL_AGAIN) return st;
    }
    snprintf(err, errlen, "%s%s keeps changing while it downloads; giving up", c->url, path);
    return LGC_ERR_PROTO;
}
