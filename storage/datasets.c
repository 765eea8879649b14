/* datasets.c - the datasets table: labelled image sets uploaded as IDX
 * (raw or gzip), validated by the core (lg_bytes_read, lg_idx_parse) and
 * stored raw under the sha256 of images followed by labels; loaded back as
 * normalized lg_datasets (lg_dataset_from_idx).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DATASET_COLS "id, name, n, c, h, w, classes, size, created"

static lgs_status dataset_fill(void *row, sqlite3_stmt *st)
{
    lgs_dataset_row *r = row;
    lgs_col_copy(r->id, sizeof r->id, st, 0);
    lgs_col_copy(r->name, sizeof r->name, st, 1);
    r->n = sqlite3_column_int(st, 2);
    r->c = sqlite3_column_int(st, 3);
    r->h = sqlite3_column_int(st, 4);
    r->w = sqlite3_column_int(st, 5);
    r->classes = sqlite3_column_int(st, 6);
    r->size = sqlite3_column_int64(st, 7);
    r->created = sqlite3_column_int64(st, 8);
    return LGS_OK;
}

/* ---------------------------------------------------------- validation */

/* Raw images and labels (gunzipped copies, malloc'd) and the row they
 * describe; everything but created. */
typedef struct {
    uint8_t *img, *lab;
    size_t img_len, lab_len;
    lgs_dataset_row row;
} upload;

static lgs_status check_shape(lgs_dataset_row *row, const lg_idx *ix, const lg_idx *lx, char *err, size_t errlen)
{
    if (ix->ndim != 3 && ix->ndim != 4)
        return lgs_fail(err, errlen, LGS_ERR_INVALID,
                        "the image IDX has %d dimensions, expected 3 (n,h,w) or 4 (n,c,h,w)", ix->ndim);
    if (lx->ndim != 1)
        return lgs_fail(err, errlen, LGS_ERR_INVALID, "the label IDX has %d dimensions, expected 1", lx->ndim);
    if (ix->dims[0] != lx->dims[0])
        return lgs_fail(err, errlen, LGS_ERR_INVALID, "%u images but %u labels", (unsigned)ix->dims[0],
                        (unsigned)lx->dims[0]);
    for (int i = 0; i < ix->ndim; i++)
        if (ix->dims[i] == 0 || ix->dims[i] > INT_MAX)
            return lgs_fail(err, errlen, LGS_ERR_INVALID, "image dimension %d is %u, expected 1 to %d", i,
                            (unsigned)ix->dims[i], INT_MAX);
    int four = ix->ndim == 4;
    row->n = (int)ix->dims[0];
    row->c = four ? (int)ix->dims[1] : 1;
    row->h = (int)ix->dims[1 + four];
    row->w = (int)ix->dims[2 + four];
    int max = 0;
    for (size_t i = 0; i < lx->count; i++)
        if (lx->data[i] > max) max = lx->data[i];
    row->classes = max + 1;
    return LGS_OK;
}

/* Gunzips (when needed) and validates both files, and names the set. */
static lgs_status upload_parse(upload *u, const uint8_t *images, size_t images_len, const uint8_t *labels,
                               size_t labels_len, const char *name, char *err, size_t errlen)
{
    lg_idx ix, lx;
    lg_status ls = lg_bytes_read(&u->img, &u->img_len, images, images_len, "the images", LGS_DATASET_CAP, err, errlen);
    if (ls == LG_OK)
        ls = lg_bytes_read(&u->lab, &u->lab_len, labels, labels_len, "the labels", LGS_DATASET_CAP, err, errlen);
    if (ls == LG_OK) ls = lg_idx_parse(&ix, u->img, u->img_len, err, errlen);
    if (ls == LG_OK) ls = lg_idx_parse(&lx, u->lab, u->lab_len, err, errlen);
    if (ls != LG_OK) return lgs_from_lg(ls);
    lgs_status r = check_shape(&u->row, &ix, &lx, err, errlen);
    if (r != LGS_OK) return r;
    if (lgs_sha256_hex2(u->row.id, u->img, u->img_len, u->lab, u->lab_len))
        return lgs_fail(err, errlen, LGS_ERR_NOMEM, "cannot compute sha256 (libcrypto failed)");
    u->row.size = (int64_t)(u->img_len + u->lab_len);
    lgs_copy_str(u->row.name, sizeof u->row.name, name && *name ? name : u->row.id);
    return LGS_OK;
}

/* ---------------------------------------------------------- put / get */

static lgs_status dataset_get_locked(lgs_store *s, const char *id, lgs_dataset_row *out)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st, "SELECT " DATASET_COLS " FROM datasets WHERE id = ?1", NULL, 0);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        dataset_fill(out, st);
    else
        r = rc == SQLITE_DONE ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "dataset lookup");
    lgs_finish(s, st);
    return r;
}

static lgs_status dataset_insert(lgs_store *s, const upload *u, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    const lgs_dataset_row *d = &u->row;
    lgs_status r = lgs_prepare(s, &st,
                               "INSERT INTO datasets (" DATASET_COLS ", images, labels)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                               err, errlen);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, d->id);
    lgs_bind_text(st, 2, d->name);
    sqlite3_bind_int(st, 3, d->n);
    sqlite3_bind_int(st, 4, d->c);
    sqlite3_bind_int(st, 5, d->h);
    sqlite3_bind_int(st, 6, d->w);
    sqlite3_bind_int(st, 7, d->classes);
    sqlite3_bind_int64(st, 8, d->size);
    sqlite3_bind_int64(st, 9, d->created);
    if (sqlite3_bind_blob64(st, 10, u->img, u->img_len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob64(st, 11, u->lab, u->lab_len, SQLITE_STATIC) != SQLITE_OK)
        r = lgs_fail(err, errlen, LGS_ERR_INVALID, "a %lld-byte dataset is too large for the database",
                     (long long)d->size);
    else if (sqlite3_step(st) != SQLITE_DONE)
        r = lgs_db_fail(s, err, errlen, "cannot store the dataset");
    lgs_finish(s, st);
    return r;
}

/* Lock held: EXISTS with *out filled when the id is there, else inserts. */
static lgs_status dataset_store(lgs_store *s, upload *u, lgs_dataset_row *out, char *err, size_t errlen)
{
    lgs_status r = lgs_begin(s, err, errlen);
    if (r != LGS_OK) return r;
    r = dataset_get_locked(s, u->row.id, out);
    if (r == LGS_OK) {
        r = lgs_fail(err, errlen, LGS_ERR_EXISTS, "this dataset is already stored as %s (\"%s\")", u->row.id,
                     out->name);
        goto out;
    }
    if (r != LGS_ERR_NOTFOUND) goto out;
    u->row.created = lgs_now();
    if ((r = dataset_insert(s, u, err, errlen)) != LGS_OK) goto out;
    if ((r = lgs_commit(s, err, errlen)) == LGS_OK) *out = u->row;
    return r;
out:
    lgs_rollback(s);
    return r;
}

/* images and labels may be raw IDX or gzip (they are gunzipped first);
 * name NULL or "": the id. */
lgs_status lgs_dataset_put(lgs_store *s, const uint8_t *images, size_t images_len, const uint8_t *labels,
                           size_t labels_len, const char *name, lgs_dataset_row *out, char *err, size_t errlen)
{
    upload u = {0};
    lgs_dataset_row tmp;
    lgs_status r;
    if (!out) out = &tmp;
    if (!s || !images || !labels)
        r = lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_dataset_put: store, images and labels are required");
    else if (name && strlen(name) >= sizeof out->name)
        r = lgs_fail(err, errlen, LGS_ERR_INVALID, "the name is longer than %zu bytes", sizeof out->name - 1);
    else
        r = upload_parse(&u, images, images_len, labels, labels_len, name, err, errlen);
    memset(out, 0, sizeof *out); /* after the parse: name may point into *out */
    if (r == LGS_OK) {
        lgs_lock(s);
        r = dataset_store(s, &u, out, err, errlen);
        lgs_unlock(s);
    }
    free(u.img);
    free(u.lab);
    return r;
}

lgs_status lgs_dataset_get(lgs_store *s, const char *id, lgs_dataset_row *out)
{
    char key[65];
    if (!s || !id || !out) return LGS_ERR_INVALID;
    int toolong = lgs_key(key, id);
    memset(out, 0, sizeof *out);
    if (toolong) return LGS_ERR_NOTFOUND;
    lgs_lock(s);
    lgs_status r = dataset_get_locked(s, key, out);
    lgs_unlock(s);
    return r;
}

/* Oldest first. No rows: *rows NULL, *n 0. */
lgs_status lgs_dataset_list(lgs_store *s, lgs_dataset_row **rows, int *n)
{
    return lgs_list(s, "SELECT " DATASET_COLS " FROM datasets ORDER BY created, rowid", NULL, sizeof **rows,
                    dataset_fill, NULL, (void **)rows, n);
}

/* ---------------------------------------------------------- load */

static lgs_status dataset_load_locked(lgs_store *s, const char *id, float mean, float std, lg_dataset *ds, char *err,
                                      size_t errlen)
{
    sqlite3_stmt *st;
    lg_idx ix, lx;
    lgs_status r = lgs_prepare(s, &st, "SELECT images, labels FROM datasets WHERE id = ?1", err, errlen);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? lgs_fail(err, errlen, LGS_ERR_NOTFOUND, "no dataset %s", id)
                              : lgs_db_fail(s, err, errlen, "cannot read the dataset");
        goto out;
    }
    const uint8_t *img = sqlite3_column_blob(st, 0), *lab = sqlite3_column_blob(st, 1);
    size_t img_len = (size_t)sqlite3_column_bytes(st, 0), lab_len = (size_t)sqlite3_column_bytes(st, 1);
    lg_status ls = lg_idx_parse(&ix, img, img_len, err, errlen);
    if (ls == LG_OK) ls = lg_idx_parse(&lx, lab, lab_len, err, errlen);
    if (ls == LG_OK) ls = lg_dataset_from_idx(ds, &ix, &lx, mean, std, err, errlen);
    if (ls != LG_OK) r = lgs_from_lg(ls);
out:
    lgs_finish(s, st);
    return r;
}

lgs_status lgs_dataset_load(lgs_store *s, const char *id, float mean, float std, lg_dataset *ds, char *err,
                            size_t errlen)
{
    if (ds) memset(ds, 0, sizeof *ds);
    if (!s || !id || !ds)
        return lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_dataset_load: store, id and ds are required");
    lgs_lock(s);
    lgs_status r = dataset_load_locked(s, id, mean, std, ds, err, errlen);
    lgs_unlock(s);
    return r;
}
