/* file.c - lg_file_read: a whole file into memory, gunzipped when it starts
 * with the gzip magic (1f 8b), never holding more than `cap` bytes of it;
 * and lg_file_write_atomic, the other direction: a temporary file, fsync,
 * rename, so a reader never sees half a file.
 *
 * Calls libc, and zlib when built with it (LG_HAVE_ZLIB; configure
 * --without-zlib leaves it out and gzip data is refused). Raw files are read
 * in growing chunks; gzip files are streamed through inflate (64 KiB of
 * compressed input at a time), so a decompression bomb is refused as soon as
 * its output passes the cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef LG_HAVE_ZLIB
#include <zlib.h>
#endif

#include "internal.h"

#define LG_FILE_CHUNK ((size_t)64 << 10)
/* deflate never expands by more than 1032:1 (258-byte matches in ~2 bits). */
#define LG_INFLATE_MAX_RATIO 1032u

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Grows *buf (capacity *size) to twice its size, at least LG_FILE_CHUNK, but
 * never past cap. The caller ensures *size < cap. */
static lg_status file_grow(uint8_t **buf, size_t *size, size_t cap)
{
    size_t want = *size < cap / 2 ? *size * 2 : cap;
    if (want < LG_FILE_CHUNK) want = min_size(LG_FILE_CHUNK, cap);
    uint8_t *p = realloc(*buf, want ? want : 1);
    if (!p) return LG_ERR_NOMEM;
    *buf = p;
    *size = want;
    return LG_OK;
}

/* Size of a regular file, or 0 when unknown (pipe, device). */
static size_t file_size_hint(FILE *f)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return 0;
    if ((unsigned long long)st.st_size > SIZE_MAX) return SIZE_MAX;
    return (size_t)st.st_size;
}

/* Reads the rest of f as is; `head` (hlen bytes) were already read from it. */
static lg_status file_read_raw(uint8_t **out, size_t *outlen, FILE *f, const uint8_t *head, size_t hlen,
                               const char *path, size_t cap, char *err, size_t errlen)
{
    lg_status s = LG_OK;
    uint8_t *buf = NULL;
    size_t used = hlen, size = 0;

    /* A regular file's size is known: refuse before allocating anything. */
    size_t hint = file_size_hint(f);
    if (hlen > cap || hint > cap) {
        s = lg_fail(err, errlen, LG_ERR_RANGE, "%s is larger than the cap of %zu bytes", path, cap);
        goto fail;
    }
    /* One byte more than the file's size, so its end is seen without a
     * reallocation (a file that grew meanwhile still just grows the buffer). */
    size = hint ? (hint < cap ? hint + 1 : cap) : min_size(LG_FILE_CHUNK, cap);
    if (size < hlen) size = hlen;
    buf = malloc(size ? size : 1);
    if (!buf) goto nomem;
    memcpy(buf, head, hlen);

    for (;;) {
        if (used == size) {
            if (size == cap) {
                /* Full at the cap: one more byte means the file is too big. */
                uint8_t extra;
                if (fread(&extra, 1, 1, f) == 1) {
                    s = lg_fail(err, errlen, LG_ERR_RANGE, "%s is larger than the cap of %zu bytes", path, cap);
                    goto fail;
                }
                if (ferror(f)) goto ioerr;
                break;
            }
            if (file_grow(&buf, &size, cap) != LG_OK) goto nomem;
        }
        size_t got = fread(buf + used, 1, size - used, f);
        used += got;
        if (got == 0) {
            if (ferror(f)) goto ioerr;
            break;
        }
    }
    *out = buf;
    *outlen = used;
    return LG_OK;

nomem:
    s = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory reading %s", path);
    goto fail;
ioerr:
    s = lg_fail(err, errlen, LG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
fail:
    free(buf);
    return s;
}

#ifdef LG_HAVE_ZLIB
/* Streams f (a gzip file; `head` already read from it) through inflate.
 * Concatenated gzip members are joined, as gzip -d does; anything else after
 * the last member is an error. */
static lg_status file_read_gzip(uint8_t **out, size_t *outlen, FILE *f, const uint8_t *head, size_t hlen,
                                const char *path, size_t cap, char *err, size_t errlen)
{
    lg_status s = LG_OK;
    uint8_t *in = NULL, *buf = NULL;
    size_t used = 0, size = 0, consumed = 0;
    z_stream zs;
    int zinit = 0, eof = 0, done = 0;

    memset(&zs, 0, sizeof zs);
    in = malloc(LG_FILE_CHUNK);
    if (!in) goto nomem;
    memcpy(in, head, hlen);
    zs.next_in = in;
    zs.avail_in = (uInt)hlen;

    /* First guess at the output size: the compressed size times the largest
     * possible deflate ratio, so a lying or truncated file cannot make us
     * allocate more than its contents could ever produce. */
    size_t csize = file_size_hint(f);
    size = csize ? (csize > SIZE_MAX / LG_INFLATE_MAX_RATIO ? SIZE_MAX : csize * LG_INFLATE_MAX_RATIO) : LG_FILE_CHUNK;
    size = min_size(min_size(size, cap), (size_t)64 << 20);
    buf = malloc(size ? size : 1);
    if (!buf) goto nomem;

    int zr = inflateInit2(&zs, 15 + 16); /* gzip wrapper only */
    if (zr != Z_OK) {
        if (zr == Z_MEM_ERROR) goto nomem;
        s = lg_fail(err, errlen, LG_ERR_IO, "cannot start gzip decompression of %s: %s", path,
                    zs.msg ? zs.msg : zError(zr));
        goto fail;
    }
    zinit = 1;

    while (!done) {
        if (zs.avail_in == 0 && !eof) {
            size_t got = fread(in, 1, LG_FILE_CHUNK, f);
            if (got == 0) {
                if (ferror(f)) goto ioerr;
                eof = 1;
            }
            zs.next_in = in;
            zs.avail_in = (uInt)got;
        }
        if (used == size && size < cap && file_grow(&buf, &size, cap) != LG_OK) goto nomem;

        uint8_t spare;
        int at_cap = used == size;
        /* At the cap, offer inflate a single spare byte: if it fills it, the
         * file decompresses to more than cap bytes. */
        zs.next_out = at_cap ? &spare : buf + used;
        zs.avail_out = at_cap ? 1u : (uInt)min_size(size - used, UINT_MAX);
        uInt before_out = zs.avail_out, before_in = zs.avail_in;

        zr = inflate(&zs, Z_NO_FLUSH);
        size_t produced = before_out - zs.avail_out;
        consumed += before_in - zs.avail_in;
        if (at_cap && produced > 0) {
            s = lg_fail(err, errlen, LG_ERR_RANGE, "%s decompresses to more than the cap of %zu bytes", path, cap);
            goto fail;
        }
        used += at_cap ? 0 : produced;

        switch (zr) {
        case Z_OK: break;
        case Z_STREAM_END:
            /* Another member follows? Refill first so we can look. */
            if (zs.avail_in == 0 && !eof) {
                size_t got = fread(in, 1, LG_FILE_CHUNK, f);
                if (got == 0) {
                    if (ferror(f)) goto ioerr;
                    eof = 1;
                }
                zs.next_in = in;
                zs.avail_in = (uInt)got;
            }
            if (zs.avail_in == 0) {
                done = 1;
            } else if (zs.next_in[0] == 0x1f && (zs.avail_in < 2 || zs.next_in[1] == 0x8b)) {
                if (inflateReset(&zs) != Z_OK) goto corrupt;
            } else {
                s = lg_fail(err, errlen, LG_ERR_FORMAT,
                            "%s: unexpected bytes after the gzip data (at compressed offset %zu)", path, consumed);
                goto fail;
            }
            break;
        case Z_BUF_ERROR:
            /* No progress was possible (inflate says so instead of Z_OK):
             * either the input ran out at the end of the file before the
             * stream did (truncated), or we refill / grow and try again. */
            if (zs.avail_in == 0 && eof) goto truncated;
            break;
        case Z_MEM_ERROR: goto nomem;
        case Z_NEED_DICT:
        case Z_DATA_ERROR:
        case Z_STREAM_ERROR:
        default: goto corrupt;
        }
    }

    inflateEnd(&zs);
    free(in);
    if (used < size) {
        uint8_t *p = realloc(buf, used ? used : 1);
        if (p) buf = p;
    }
    *out = buf;
    *outlen = used;
    return LG_OK;

truncated:
    s = lg_fail(err, errlen, LG_ERR_FORMAT,
                "%s: truncated gzip data (the file ends after %zu compressed bytes, %zu decompressed, before the "
                "end of the stream)",
                path, consumed, used);
    goto fail;
corrupt:
    s = lg_fail(err, errlen, LG_ERR_FORMAT, "%s: corrupt gzip data at compressed offset %zu: %s", path, consumed,
                zs.msg ? zs.msg : "invalid stream");
    goto fail;
nomem:
    s = lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory decompressing %s", path);
    goto fail;
ioerr:
    s = lg_fail(err, errlen, LG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
fail:
    if (zinit) inflateEnd(&zs);
    free(in);
    free(buf);
    return s;
}

#else
/* Built --without-zlib: gzip data is refused with the way out. */
static lg_status file_read_gzip(uint8_t **out, size_t *outlen, FILE *f, const uint8_t *head, size_t hlen,
                                const char *path, size_t cap, char *err, size_t errlen)
{
    (void)out, (void)outlen, (void)f, (void)head, (void)hlen, (void)cap;
    return lg_fail(err, errlen, LG_ERR_FORMAT,
                   "%s is gzip data, and this liblearngene was built without zlib: "
                   "gunzip it first",
                   path);
}
#endif

/* Reads all of f (named `what` in messages), gunzipping gzip data. */
static lg_status stream_read(uint8_t **buf, size_t *len, FILE *f, const char *what, size_t cap, char *err,
                             size_t errlen)
{
    uint8_t head[2];
    size_t hlen = fread(head, 1, sizeof head, f);
    if (hlen < sizeof head && ferror(f))
        return lg_fail(err, errlen, LG_ERR_IO, "cannot read %s: %s", what, strerror(errno));
    if (hlen == 2 && head[0] == 0x1f && head[1] == 0x8b)
        return file_read_gzip(buf, len, f, head, hlen, what, cap, err, errlen);
    return file_read_raw(buf, len, f, head, hlen, what, cap, err, errlen);
}

lg_status lg_file_read(uint8_t **buf, size_t *len, const char *path, size_t cap, char *err, size_t errlen)
{
    if (buf) *buf = NULL;
    if (len) *len = 0;
    if (!buf || !len || !path)
        return lg_fail(err, errlen, LG_ERR_INVALID, "lg_file_read: buf, len and path must not be NULL");

    FILE *f = fopen(path, "rb");
    if (!f) return lg_fail(err, errlen, LG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    lg_status s = stream_read(buf, len, f, path, cap, err, errlen);
    fclose(f);
    return s;
}

lg_status lg_bytes_read(uint8_t **buf, size_t *len, const uint8_t *in, size_t inlen, const char *what, size_t cap,
                        char *err, size_t errlen)
{
    if (buf) *buf = NULL;
    if (len) *len = 0;
    if (!buf || !len || (!in && inlen) || !what)
        return lg_fail(err, errlen, LG_ERR_INVALID, "lg_bytes_read: buf, len, in and what must not be NULL");
    if (inlen == 0) return lg_fail(err, errlen, LG_ERR_FORMAT, "%s is empty", what);
    FILE *f = fmemopen((void *)in, inlen, "rb");
    if (!f) return lg_fail(err, errlen, LG_ERR_NOMEM, "cannot read %s: %s", what, strerror(errno));
    lg_status s = stream_read(buf, len, f, what, cap, err, errlen);
    fclose(f);
    return s;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding path so the rename itself is durable (best
 * effort: some file systems refuse to sync directories). */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

lg_status lg_file_write_atomic(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    lg_status st = LG_OK;
    int fd = -1, rc;
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) return lg_fail(err, errlen, LG_ERR_NOMEM, "out of memory writing '%s'", path);
    /* a unique name, so concurrent writers of one path never share it */
    snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd >= 0 && fchmod(fd, 0644) != 0) {
        st = lg_fail(err, errlen, LG_ERR_IO, "cannot set the mode of '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (fd < 0) {
        st = lg_fail(err, errlen, LG_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        tmp = NULL; /* nothing to remove */
        goto out;
    }
    if (write_all(fd, buf, len) != 0) {
        st = lg_fail(err, errlen, LG_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (fsync(fd) != 0) {
        st = lg_fail(err, errlen, LG_ERR_IO, "cannot sync '%s': %s", tmp, strerror(errno));
        goto out;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0) {
        st = lg_fail(err, errlen, LG_ERR_IO, "cannot close '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        st = lg_fail(err, errlen, LG_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
    sync_dir(path);
out:
    if (fd >= 0) close(fd);
    if (tmp) unlink(tmp);
    free(tmp);
    return st;
}
