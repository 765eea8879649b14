/* store.c - opening and closing a store (pragmas, integrity check, schema),
 * online backup, sha256 (OpenSSL EVP), error strings and the helpers every
 * storage file shares (internal.h): locking, transactions, statements,
 * bind/column conversions, the JSON string builder and chunked BLOB reads.
 * Calls SQLite, libcrypto and libc only.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "internal.h"

const char *lgs_strerror(lgs_status s)
{
    switch (s) {
    case LGS_OK: return "success";
    case LGS_ERR_NOMEM: return "out of memory";
    case LGS_ERR_DB: return "database error";
    case LGS_ERR_NOTFOUND: return "not found";
    case LGS_ERR_EXISTS: return "already exists";
    case LGS_ERR_CORRUPT: return "database corrupt or too new";
    case LGS_ERR_INVALID: return "invalid argument or bytes";
    case LGS_ERR_CONFLICT: return "conflict with a reference";
    }
    return "unknown storage error";
}

/* ------------------------------------------------------------ errors */

lgs_status lgs_fail(char *err, size_t errlen, lgs_status s, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return s;
}

static lgs_status status_of_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return LGS_ERR_CORRUPT;
    case SQLITE_NOMEM: return LGS_ERR_NOMEM;
    default: return LGS_ERR_DB;
    }
}

lgs_status lgs_db_fail(lgs_store *s, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_extended_errcode(s->db);
    return lgs_fail(err, errlen, status_of_sqlite(rc), "%s: %s", what, sqlite3_errmsg(s->db));
}

lgs_status lgs_from_lg(lg_status s) { return s == LG_ERR_NOMEM ? LGS_ERR_NOMEM : LGS_ERR_INVALID; }

/* ------------------------------------------------------------ SQL */

void lgs_lock(lgs_store *s) { pthread_mutex_lock(&s->mu); }
void lgs_unlock(lgs_store *s) { pthread_mutex_unlock(&s->mu); }

lgs_status lgs_exec(lgs_store *s, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return lgs_db_fail(s, err, errlen, sql);
    return LGS_OK;
}

lgs_status lgs_prepare(lgs_store *s, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
    int slot = -1;
    for (int i = 0; i < LGS_STMT_CACHE; i++) {
        if (!s->stmts[i].st) {
            if (slot < 0) slot = i;
            continue;
        }
        /* the same text (callers pass literals; compare the text too, so a
         * reused buffer can never pick the wrong statement) */
        if (!s->stmts[i].in_use && s->stmts[i].sql == sql && !strcmp(sqlite3_sql(s->stmts[i].st), sql)) {
            s->stmts[i].in_use = 1;
            *st = s->stmts[i].st;
            return LGS_OK;
        }
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return lgs_db_fail(s, err, errlen, "cannot prepare a statement");
    }
    if (slot >= 0) {
        s->stmts[slot].sql = sql;
        s->stmts[slot].st = *st;
        s->stmts[slot].in_use = 1;
    }
    return LGS_OK;
}

void lgs_finish(lgs_store *s, sqlite3_stmt *st)
{
    for (int i = 0; st && i < LGS_STMT_CACHE; i++)
        if (s->stmts[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            s->stmts[i].in_use = 0;
            return;
        }
    sqlite3_finalize(st);
}

lgs_status lgs_begin(lgs_store *s, char *err, size_t errlen) { return lgs_exec(s, "BEGIN IMMEDIATE", err, errlen); }

lgs_status lgs_commit(lgs_store *s, char *err, size_t errlen)
{
    lgs_status st = lgs_exec(s, "COMMIT", err, errlen);
    if (st != LGS_OK) lgs_rollback(s);
    return st;
}

void lgs_rollback(lgs_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int lgs_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

int lgs_bind_opt_text(sqlite3_stmt *st, int i, const char *v) { return lgs_bind_text(st, i, v && *v ? v : NULL); }

int lgs_bind_opt_double(sqlite3_stmt *st, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

void lgs_col_copy(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    lgs_copy_str(dst, cap, v ? v : "");
}

int lgs_col_dup(char **dst, sqlite3_stmt *st, int col)
{
    *dst = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return 0;
    const char *v = (const char *)sqlite3_column_text(st, col);
    if (!v) return -1; /* out of memory converting the value */
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!(*dst = malloc(n + 1))) return -1;
    memcpy(*dst, v, n + 1);
    return 0;
}

double lgs_col_double(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

void lgs_copy_str(char *dst, size_t cap, const char *src)
{
    if (!cap) return;
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--; /* src[n] starts the cut character */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int lgs_key(char key[65], const char *id)
{
    size_t n = strlen(id);
    if (n > 64) return -1;
    memcpy(key, id, n + 1);
    return 0;
}

int64_t lgs_now(void) { return (int64_t)time(NULL); }

int lgs_row_exists(lgs_store *s, const char *sql, const char *id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    lgs_finish(s, st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

lgs_status lgs_list(lgs_store *s, const char *sql, const char *bind1, size_t size, lgs_fill_fn fill,
                    void (*free_row)(void *), void **rows, int *n)
{
    sqlite3_stmt *st;
    if (rows) *rows = NULL;
    if (n) *n = 0;
    if (!s || !rows || !n) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_prepare(s, &st, sql, NULL, 0);
    if (r == LGS_OK) {
        if (bind1) lgs_bind_text(st, 1, bind1);
        r = lgs_collect(s, st, size, fill, free_row, rows, n);
        lgs_finish(s, st);
    }
    lgs_unlock(s);
    return r;
}

lgs_status lgs_collect(lgs_store *s, sqlite3_stmt *st, size_t size, lgs_fill_fn fill, void (*free_row)(void *),
                       void **rows, int *n)
{
    char *a = NULL;
    int count = 0, cap = 0, rc;
    lgs_status r = LGS_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            int ncap = cap > INT_MAX / 2 ? 0 : cap ? 2 * cap : 16;
            char *p = !ncap || (size_t)ncap > SIZE_MAX / size ? NULL : realloc(a, (size_t)ncap * size);
            if (!p) {
                r = LGS_ERR_NOMEM;
                goto fail;
            }
            a = p;
            cap = ncap;
        }
        memset(a + (size_t)count * size, 0, size);
        if ((r = fill(a + (size_t)count * size, st)) != LGS_OK) {
            count++; /* released below with the others */
            goto fail;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        r = lgs_db_fail(s, NULL, 0, "list");
        goto fail;
    }
    *rows = a;
    *n = count;
    return LGS_OK;
fail:
    for (int i = 0; free_row && i < count; i++) free_row(a + (size_t)i * size);
    free(a);
    return r;
}

/* -------------------------------------------------------- BLOB reads */

lgs_status lgs_blob_read(lgs_store *s, const char *lookup_sql, const char *table, const char *id, int64_t offset,
                         void *buf, int n)
{
    sqlite3_stmt *st = NULL;
    sqlite3_blob *b = NULL;
    lgs_status r;
    if (!id || offset < 0 || n < 0 || (n > 0 && !buf)) return LGS_ERR_INVALID;
    if ((r = lgs_prepare(s, &st, lookup_sql, NULL, 0)) != LGS_OK) return r;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "lookup");
        goto out;
    }
    if (!sqlite3_column_int(st, 1)) { /* no bytes stored (a weightless model) */
        r = LGS_ERR_NOTFOUND;
        goto out;
    }
    if (sqlite3_blob_open(s->db, "main", table, "bytes", sqlite3_column_int64(st, 0), 0, &b) != SQLITE_OK) {
        r = lgs_db_fail(s, NULL, 0, "sqlite3_blob_open");
        goto out;
    }
    if (offset > sqlite3_blob_bytes(b) || n > sqlite3_blob_bytes(b) - offset) {
        r = LGS_ERR_INVALID;
        goto out;
    }
    r = LGS_OK;
    if (n > 0 && sqlite3_blob_read(b, buf, n, (int)offset) != SQLITE_OK) r = lgs_db_fail(s, NULL, 0, "blob read");
out:
    sqlite3_blob_close(b);
    lgs_finish(s, st);
    return r;
}

lgs_status lgs_blob_copy(lgs_store *s, const char *sql, const char *id, uint8_t **bytes, size_t *len)
{
    sqlite3_stmt *st = NULL;
    lgs_status r;
    *bytes = NULL;
    *len = 0;
    if (!id) return LGS_ERR_INVALID;
    if ((r = lgs_prepare(s, &st, sql, NULL, 0)) != LGS_OK) return r;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL) {
        r = rc == SQLITE_DONE || rc == SQLITE_ROW ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "read");
        goto out;
    }
    const void *p = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    if (!(*bytes = malloc(n ? n : 1))) {
        r = LGS_ERR_NOMEM;
        goto out;
    }
    if (n) memcpy(*bytes, p, n);
    *len = n;
    r = LGS_OK;
out:
    lgs_finish(s, st);
    return r;
}

/* ------------------------------------------------------------ JSON */

static int buf_grow(lgs_buf *b, size_t more)
{
    if (b->oom) return -1;
    if (b->n + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1) {
        if (cap > SIZE_MAX / 2) goto fail;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) goto fail;
    b->p = p;
    b->cap = cap;
    return 0;
fail:
    b->oom = 1;
    return -1;
}

void lgs_buf_put(lgs_buf *b, const char *s, size_t n)
{
    if (buf_grow(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void lgs_buf_puts(lgs_buf *b, const char *s) { lgs_buf_put(b, s, strlen(s)); }

void lgs_buf_json_str(lgs_buf *b, const char *s)
{
    lgs_buf_put(b, "\"", 1);
    for (const char *run = s;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c && c != '"' && c != '\\' && c >= 0x20) continue;
        lgs_buf_put(b, run, (size_t)(s - run));
        if (!c) break;
        char esc[8];
        switch (c) {
        case '"': lgs_buf_puts(b, "\\\""); break;
        case '\\': lgs_buf_puts(b, "\\\\"); break;
        case '\n': lgs_buf_puts(b, "\\n"); break;
        case '\r': lgs_buf_puts(b, "\\r"); break;
        case '\t': lgs_buf_puts(b, "\\t"); break;
        default: snprintf(esc, sizeof esc, "\\u%04x", c); lgs_buf_puts(b, esc);
        }
        run = s + 1;
    }
    lgs_buf_put(b, "\"", 1);
}

void lgs_buf_free(lgs_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ------------------------------------------------------------ sha256 */

int lgs_sha256_hex2(char out[65], const void *a, size_t alen, const void *b, size_t blen)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    out[0] = '\0';
    if (!ctx) return -1;
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && (!alen || EVP_DigestUpdate(ctx, a, alen) == 1) &&
         (!blen || EVP_DigestUpdate(ctx, b, blen) == 1) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

void lgs_sha256_hex(char out[65], const void *data, size_t len) { lgs_sha256_hex2(out, data, len, NULL, 0); }

/* ------------------------------------------------------- open / close */

/* PRAGMA integrity_check: LGS_OK on "ok", else LGS_ERR_CORRUPT quoting the
 * first problems it lists. */
static lgs_status integrity_check(lgs_store *s, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    lgs_status r = LGS_OK;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check(5)", -1, &st, NULL) != SQLITE_OK)
        return lgs_fail(err, errlen, status_of_sqlite(sqlite3_extended_errcode(s->db)), "cannot check database %s: %s",
                        path, sqlite3_errmsg(s->db));
    lgs_buf msg = {0};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && !strcmp(line, "ok")) continue;
        if (msg.n) lgs_buf_puts(&msg, "; ");
        for (const char *c = line ? line : "(null)"; *c; c++)
            lgs_buf_put(&msg, *c == '\n' ? "; " : c, *c == '\n' ? 2 : 1);
    }
    if (rc != SQLITE_DONE) {
        r = lgs_fail(err, errlen, status_of_sqlite(sqlite3_extended_errcode(s->db)),
                     "PRAGMA integrity_check of %s failed: %s", path, sqlite3_errmsg(s->db));
    } else if (msg.n || msg.oom) {
        r = lgs_fail(err, errlen, LGS_ERR_CORRUPT,
                     "database %s is corrupt (PRAGMA integrity_check: %s); restore it from a backup", path,
                     msg.oom ? "out of memory" : msg.p);
    }
    lgs_buf_free(&msg);
    lgs_finish(s, st);
    return r;
}

int lgs_user_version(lgs_store *s)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    lgs_finish(s, st);
    return v;
}

/* journal_mode=WAL (a database that cannot use WAL, like :memory:, keeps
 * its mode), synchronous=FULL, foreign keys on. Per connection, so after
 * every open. */
static lgs_status set_pragmas(lgs_store *s, char *err, size_t errlen)
{
    lgs_status r = lgs_exec(s, "PRAGMA journal_mode=WAL", err, errlen);
    if (r == LGS_OK) r = lgs_exec(s, "PRAGMA synchronous=FULL", err, errlen);
    if (r == LGS_OK) r = lgs_exec(s, "PRAGMA foreign_keys=ON", err, errlen);
    return r;
}

static lgs_status open_checked(lgs_store *s, const char *path, char *err, size_t errlen)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        if (!s->db) return lgs_fail(err, errlen, LGS_ERR_NOMEM, "cannot open %s: out of memory", path);
        return lgs_fail(err, errlen, status_of_sqlite(sqlite3_extended_errcode(s->db)), "cannot open %s: %s", path,
                        sqlite3_errmsg(s->db));
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    lgs_status r = integrity_check(s, path, err, errlen);
    if (r != LGS_OK) return r;
    int v = lgs_user_version(s);
    if (v < 0) return lgs_db_fail(s, err, errlen, "cannot read PRAGMA user_version");
    if (v > LGS_SCHEMA_VERSION)
        return lgs_fail(err, errlen, LGS_ERR_CORRUPT,
                        "database %s has schema version %d, written by a newer learngened (this one knows up to %d)",
                        path, v, LGS_SCHEMA_VERSION);
    if ((r = set_pragmas(s, err, errlen)) != LGS_OK) return r;
    return lgs_schema_migrate(s, path, err, errlen);
}

lgs_status lgs_open(lgs_store **out, const char *path, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!out || !path || !*path) return lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_open: out and path are required");
    lgs_store *s = calloc(1, sizeof *s);
    if (!s) return lgs_fail(err, errlen, LGS_ERR_NOMEM, "cannot open %s: out of memory", path);
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return lgs_fail(err, errlen, LGS_ERR_NOMEM, "cannot open %s: no mutex", path);
    }
    lgs_status r = open_checked(s, path, err, errlen);
    if (r != LGS_OK) {
        lgs_close(s);
        return r;
    }
    *out = s;
    return LGS_OK;
}

void lgs_close(lgs_store *s)
{
    if (!s) return;
    for (int i = 0; i < LGS_STMT_CACHE; i++) sqlite3_finalize(s->stmts[i].st);
    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int lgs_schema_version(lgs_store *s)
{
    if (!s) return -1;
    lgs_lock(s);
    int v = lgs_user_version(s);
    lgs_unlock(s);
    return v;
}

/* ------------------------------------------------------------ backup */

lgs_status lgs_backup(lgs_store *s, const char *dest_path, char *err, size_t errlen)
{
    sqlite3 *dst = NULL;
    lgs_status r = LGS_OK;
    if (!s || !dest_path || !*dest_path)
        return lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_backup: a store and a destination path are required");
    lgs_lock(s);
    if (sqlite3_open_v2(dest_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        r = lgs_fail(err, errlen, LGS_ERR_DB, "cannot open backup file %s: %s", dest_path,
                     dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(dst, 5000);
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", s->db, "main");
    if (!b) {
        r = lgs_fail(err, errlen, LGS_ERR_DB, "cannot start a backup to %s: %s", dest_path, sqlite3_errmsg(dst));
        goto out;
    }
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        r = lgs_fail(err, errlen, status_of_sqlite(rc), "backup to %s failed: %s", dest_path, sqlite3_errstr(rc));
out:
    sqlite3_close_v2(dst);
    lgs_unlock(s);
    return r;
}
