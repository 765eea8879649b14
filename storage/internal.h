/* internal.h - what the storage files share and nobody else sees: the store
 * struct (one SQLite connection and the mutex guarding it), error helpers,
 * transaction and statement helpers, column/bind conversions, a small JSON
 * string builder, sha256 and the pieces one table's file lends another
 * (model insertion for jobs, chunked BLOB reads for genes and models).
 *
 * Convention: public lgs_* functions lock s->mu and call helpers that assume
 * the lock is held; helpers never lock.
 */
#ifndef LG_STORE_INTERNAL_H
#define LG_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>

#include "store.h"

/* The schema version this code writes (PRAGMA user_version). */
#define LGS_SCHEMA_VERSION 1

/* Largest raw IDX payload (each of images / labels) a dataset may have. */
#define LGS_DATASET_CAP ((size_t)1 << 30)

/* Prepared statements are kept for reuse (parsing SQL costs more than
 * running most of ours); lgs_finish hands one back. */
#define LGS_STMT_CACHE 64

struct lgs_store {
    sqlite3 *db;
    pthread_mutex_t mu;
    struct {
        const char *sql;
        sqlite3_stmt *st;
        int in_use;
    } stmts[LGS_STMT_CACHE];
};

/* ------------------------------------------------------------ errors */

/* Writes the formatted sentence into err (when not NULL) and returns s. */
lgs_status lgs_fail(char *err, size_t errlen, lgs_status s, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A failed SQLite call: "what: sqlite3_errmsg". Corruption maps to
 * LGS_ERR_CORRUPT, out of memory to LGS_ERR_NOMEM, the rest to LGS_ERR_DB. */
lgs_status lgs_db_fail(lgs_store *s, char *err, size_t errlen, const char *what);
/* An lg_status from the core as a storage status (NOMEM stays, the rest is
 * LGS_ERR_INVALID: the bytes were rejected). */
lgs_status lgs_from_lg(lg_status s);

/* ------------------------------------------------------------ SQL */

void lgs_lock(lgs_store *s);
void lgs_unlock(lgs_store *s);

/* Runs constant SQL (no values: schema, pragmas, BEGIN/COMMIT). */
lgs_status lgs_exec(lgs_store *s, const char *sql, char *err, size_t errlen);
lgs_status lgs_prepare(lgs_store *s, sqlite3_stmt **st, const char *sql, char *err, size_t errlen);
/* Done with a statement: a cached one is reset for the next lgs_prepare of
 * the same SQL, any other finalized. */
void lgs_finish(lgs_store *s, sqlite3_stmt *st);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback only when one is open). */
lgs_status lgs_begin(lgs_store *s, char *err, size_t errlen);
lgs_status lgs_commit(lgs_store *s, char *err, size_t errlen);
void lgs_rollback(lgs_store *s);

/* Binds: "" and NULL as SQL NULL; NaN as SQL NULL. */
int lgs_bind_text(sqlite3_stmt *st, int i, const char *v);
int lgs_bind_opt_text(sqlite3_stmt *st, int i, const char *v);
int lgs_bind_opt_double(sqlite3_stmt *st, int i, double v);
/* Columns: text copied into dst[cap] (NULL → ""), a malloc'd copy (NULL
 * stays NULL; returns -1 when out of memory), a REAL or NaN for NULL. */
void lgs_col_copy(char *dst, size_t cap, sqlite3_stmt *st, int col);
int lgs_col_dup(char **dst, sqlite3_stmt *st, int col);
double lgs_col_double(sqlite3_stmt *st, int col);

/* Copies an id into key (so a caller may pass row.id and &row to a get);
 * -1 when it is longer than any stored id can be. */
int lgs_key(char key[65], const char *id);
/* Copies src into dst[cap] cutting at a UTF-8 character boundary. */
void lgs_copy_str(char *dst, size_t cap, const char *src);
int64_t lgs_now(void);

/* Does a row with this id exist? (1 yes, 0 no, <0 error: sql must select
 * one row by one bound id.) */
int lgs_row_exists(lgs_store *s, const char *sql, const char *id);

/* Steps st to the end, filling one malloc'd array of size-byte rows with
 * fill (which may fail with LGS_ERR_NOMEM); on failure the rows filled so
 * far are released with free_row (when not NULL). No rows: *rows NULL and
 * *n 0. */
typedef lgs_status (*lgs_fill_fn)(void *row, sqlite3_stmt *st);
lgs_status lgs_collect(lgs_store *s, sqlite3_stmt *st, size_t size, lgs_fill_fn fill, void (*free_row)(void *),
                       void **rows, int *n);
/* A whole list: locks, runs sql (with ?1 bound to bind1 when not NULL) and
 * collects its rows as lgs_collect does; *rows NULL and *n 0 first. */
lgs_status lgs_list(lgs_store *s, const char *sql, const char *bind1, size_t size, lgs_fill_fn fill,
                    void (*free_row)(void *), void **rows, int *n);

/* -------------------------------------------------------- BLOB reads */

/* lookup_sql selects (rowid, bytes IS NOT NULL) by id; table names the
 * table for sqlite3_blob_open. n bytes at offset into buf, bounds-checked. */
lgs_status lgs_blob_read(lgs_store *s, const char *lookup_sql, const char *table, const char *id, int64_t offset,
                         void *buf, int n);
/* The whole column selected by sql (one bound id) as a malloc'd copy;
 * NOTFOUND when there is no row or the value is NULL. */
lgs_status lgs_blob_copy(lgs_store *s, const char *sql, const char *id, uint8_t **bytes, size_t *len);

/* ------------------------------------------------------------ JSON */

/* A growable string; oom is set (and the content dropped) on failure. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} lgs_buf;

void lgs_buf_put(lgs_buf *b, const char *s, size_t n);
void lgs_buf_puts(lgs_buf *b, const char *s);
/* s as a quoted JSON string (", \ and control characters escaped; the
 * input is UTF-8, which passes through). */
void lgs_buf_json_str(lgs_buf *b, const char *s);
void lgs_buf_free(lgs_buf *b);

/* ------------------------------------------------------------ sha256 */

/* sha256 of a[0..alen) followed by b[0..blen) as hex; 0 on success. */
int lgs_sha256_hex2(char out[65], const void *a, size_t alen, const void *b, size_t blen);

/* ------------------------------------------------------------ schema */

/* Creates or migrates the schema up to LGS_SCHEMA_VERSION. */
lgs_status lgs_schema_migrate(lgs_store *s, const char *path, char *err, size_t errlen);
/* PRAGMA user_version, or -1 on error. */
int lgs_user_version(lgs_store *s);

/* ------------------------------------------------------------ models */

/* Inserts a model row (lock held, inside the caller's transaction when it
 * has one); r's has_weights/sha256/size/created are already final. */
lgs_status lgs_model_insert(lgs_store *s, const lgs_model_row *r, const uint8_t *bytes, size_t len, char *err,
                            size_t errlen);
/* Fills the computed fields of a copy of r (weights hash, size, created). */
lgs_status lgs_model_prepare(lgs_model_row *r, const uint8_t *bytes, size_t len, char *err, size_t errlen);

#endif
