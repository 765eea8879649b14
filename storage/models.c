/* models.c - the models table: how a model is grown (source, method, spec,
 * config) and, for fine-tuned models, its f32 safetensors weights, read
 * whole or in chunks. lgs_model_insert is shared with jobs.c, which stores
 * a job's result in the same transaction as its state change.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MODEL_COLS                                                                                                     \
    "id, source, parent, method, spec, config, flops, params, dataset, job, steps, accuracy, has_weights, sha256,"     \
    " size, created"

void lgs_model_row_free(lgs_model_row *r)
{
    if (!r) return;
    free(r->spec);
    free(r->config);
    r->spec = r->config = NULL;
}

static lgs_status model_fill(void *row, sqlite3_stmt *st)
{
    lgs_model_row *r = row;
    lgs_col_copy(r->id, sizeof r->id, st, 0);
    lgs_col_copy(r->source, sizeof r->source, st, 1);
    lgs_col_copy(r->parent, sizeof r->parent, st, 2);
    lgs_col_copy(r->method, sizeof r->method, st, 3);
    r->flops = sqlite3_column_double(st, 6);
    r->params = sqlite3_column_int64(st, 7);
    lgs_col_copy(r->dataset, sizeof r->dataset, st, 8);
    lgs_col_copy(r->job, sizeof r->job, st, 9);
    r->steps = sqlite3_column_int64(st, 10);
    r->accuracy = lgs_col_double(st, 11);
    r->has_weights = sqlite3_column_int(st, 12);
    lgs_col_copy(r->sha256, sizeof r->sha256, st, 13);
    r->size = sqlite3_column_int64(st, 14);
    r->created = sqlite3_column_int64(st, 15);
    if (lgs_col_dup(&r->spec, st, 4) || lgs_col_dup(&r->config, st, 5)) return LGS_ERR_NOMEM;
    return LGS_OK;
}

static void model_free_row(void *row) { lgs_model_row_free(row); }

/* ---------------------------------------------------------- insert */

lgs_status lgs_model_prepare(lgs_model_row *r, const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
    if (!r->id[0] || !r->method[0]) return lgs_fail(err, errlen, LGS_ERR_INVALID, "a model needs an id and a method");
    if (bytes && !len) return lgs_fail(err, errlen, LGS_ERR_INVALID, "model %s: the weights are empty", r->id);
    r->has_weights = bytes != NULL;
    r->size = (int64_t)len * r->has_weights;
    /* without weights the caller may give the sha256 of the model's f32
     * download (a grown model is deterministic); with them it is computed */
    if (bytes) r->sha256[0] = '\0';
    if (bytes && lgs_sha256_hex2(r->sha256, bytes, len, NULL, 0))
        return lgs_fail(err, errlen, LGS_ERR_NOMEM, "cannot compute sha256 (libcrypto failed)");
    r->created = lgs_now();
    return LGS_OK;
}

static void model_bind(sqlite3_stmt *st, const lgs_model_row *r)
{
    lgs_bind_text(st, 1, r->id);
    lgs_bind_opt_text(st, 2, r->source);
    lgs_bind_opt_text(st, 3, r->parent);
    lgs_bind_text(st, 4, r->method);
    lgs_bind_text(st, 5, r->spec);
    lgs_bind_text(st, 6, r->config);
    sqlite3_bind_double(st, 7, r->flops);
    sqlite3_bind_int64(st, 8, r->params);
    lgs_bind_opt_text(st, 9, r->dataset);
    lgs_bind_opt_text(st, 10, r->job);
    sqlite3_bind_int64(st, 11, r->steps);
    lgs_bind_opt_double(st, 12, r->accuracy);
    sqlite3_bind_int(st, 13, r->has_weights);
    lgs_bind_opt_text(st, 14, r->sha256);
    sqlite3_bind_int64(st, 15, r->size);
    sqlite3_bind_int64(st, 16, r->created);
}

lgs_status lgs_model_insert(lgs_store *s, const lgs_model_row *r, const uint8_t *bytes, size_t len, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st;
    lgs_status ret = lgs_prepare(s, &st,
                                 "INSERT INTO models (" MODEL_COLS ", bytes) VALUES"
                                 " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                                 err, errlen);
    if (ret != LGS_OK) return ret;
    model_bind(st, r);
    int rc = bytes ? sqlite3_bind_blob64(st, 17, bytes, len, SQLITE_STATIC) : sqlite3_bind_null(st, 17);
    if (rc != SQLITE_OK) {
        ret = lgs_fail(err, errlen, LGS_ERR_INVALID, "model %s: %zu bytes of weights are too many for the database",
                       r->id, len);
    } else if (sqlite3_step(st) != SQLITE_DONE) {
        switch (sqlite3_extended_errcode(s->db)) {
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            ret = lgs_fail(err, errlen, LGS_ERR_EXISTS, "model %s is already stored", r->id);
            break;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            ret = lgs_fail(err, errlen, LGS_ERR_NOTFOUND, "model %s: no learngene or pool %s", r->id, r->source);
            break;
        default: ret = lgs_db_fail(s, err, errlen, "cannot store the model");
        }
    }
    lgs_finish(s, st);
    return ret;
}

/* On success r gets has_weights, sha256, size and created; on failure it
 * is left as given. */
lgs_status lgs_model_put(lgs_store *s, lgs_model_row *r, const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
    if (!s || !r) return lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_model_put: store and row are required");
    lgs_model_row m = *r;
    lgs_status ret = lgs_model_prepare(&m, bytes, len, err, errlen);
    if (ret != LGS_OK) return ret;
    lgs_lock(s);
    ret = lgs_model_insert(s, &m, bytes, len, err, errlen);
    lgs_unlock(s);
    if (ret == LGS_OK) *r = m;
    return ret;
}

/* ---------------------------------------------------------- reads */

lgs_status lgs_model_get(lgs_store *s, const char *id, lgs_model_row *out)
{
    sqlite3_stmt *st;
    char key[65];
    if (!s || !id || !out) return LGS_ERR_INVALID;
    int toolong = lgs_key(key, id);
    memset(out, 0, sizeof *out);
    if (toolong) return LGS_ERR_NOTFOUND;
    lgs_lock(s);
    lgs_status r = lgs_prepare(s, &st, "SELECT " MODEL_COLS " FROM models WHERE id = ?1", NULL, 0);
    if (r == LGS_OK) {
        lgs_bind_text(st, 1, key);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if ((r = model_fill(out, st)) != LGS_OK) lgs_model_row_free(out);
        } else {
            r = rc == SQLITE_DONE ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "model lookup");
        }
        lgs_finish(s, st);
    }
    lgs_unlock(s);
    return r;
}

/* Oldest first. No rows: *rows NULL, *n 0. */
lgs_status lgs_model_list(lgs_store *s, lgs_model_row **rows, int *n)
{
    return lgs_list(s, "SELECT " MODEL_COLS " FROM models ORDER BY created, rowid", NULL, sizeof **rows, model_fill,
                    model_free_row, (void **)rows, n);
}

/* Weightless models have no bytes: LGS_ERR_NOTFOUND. */
lgs_status lgs_model_bytes(lgs_store *s, const char *id, uint8_t **bytes, size_t *len)
{
    if (!s || !bytes || !len) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_blob_copy(s, "SELECT bytes FROM models WHERE id = ?1", id, bytes, len);
    lgs_unlock(s);
    return r;
}

lgs_status lgs_model_read(lgs_store *s, const char *id, int64_t offset, void *buf, int n)
{
    if (!s) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_blob_read(s, "SELECT rowid, typeof(bytes) = 'blob' FROM models WHERE id = ?1", "models", id,
                                 offset, buf, n);
    lgs_unlock(s);
    return r;
}

/* ---------------------------------------------------------- delete */

/* CONFLICT while a queued or running job starts from the model. */
static lgs_status model_delete_locked(lgs_store *s, const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    lgs_status r = lgs_begin(s, err, errlen);
    if (r != LGS_OK) return r;
    int there = lgs_row_exists(s, "SELECT 1 FROM models WHERE id = ?1", id);
    if (there <= 0) {
        r = there ? lgs_db_fail(s, err, errlen, "model lookup")
                  : lgs_fail(err, errlen, LGS_ERR_NOTFOUND, "no model %s", id);
        goto out;
    }
    if ((r = lgs_prepare(s, &st, "SELECT id FROM jobs WHERE model = ?1 AND state IN (0, 1) LIMIT 1", err, errlen)))
        goto out;
    lgs_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        r = rc == SQLITE_ROW ? lgs_fail(err, errlen, LGS_ERR_CONFLICT, "model %s is used by unfinished job %s", id,
                                        (const char *)sqlite3_column_text(st, 0))
                             : lgs_db_fail(s, err, errlen, "job lookup");
        goto out;
    }
    lgs_finish(s, st);
    st = NULL;
    if ((r = lgs_prepare(s, &st, "DELETE FROM models WHERE id = ?1", err, errlen))) goto out;
    lgs_bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        r = lgs_db_fail(s, err, errlen, "cannot delete the model");
        goto out;
    }
    lgs_finish(s, st);
    return lgs_commit(s, err, errlen);
out:
    lgs_finish(s, st);
    lgs_rollback(s);
    return r;
}

lgs_status lgs_model_delete(lgs_store *s, const char *id, char *err, size_t errlen)
{
    if (!s || !id) return lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_model_delete: store and id are required");
    lgs_lock(s);
    lgs_status r = model_delete_locked(s, id, err, errlen);
    lgs_unlock(s);
    return r;
}
