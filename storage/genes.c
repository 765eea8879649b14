/* genes.c - the learngenes table (learngenes and Learngene Pools, stored as
 * their safetensors bytes under their sha256) and the evaluations table.
 * Putting a file validates it with the core (lg_gene_from_st /
 * lg_genepool_from_st) outside the lock, then stores the row and the
 * pool's bundled eval.* accuracies in one transaction. Calls core and
 * SQLite through internal.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define GENE_COLS "id, kind, name, config, meta, params, size, created"

/* What a put stores besides the bytes, worked out before taking the lock. */
typedef struct {
    char kind[16];
    char name[128];
    lgs_buf config, meta;
    int64_t params;
    int neval;
    lgs_eval_row *evals;
} gene_info;

static void gene_info_free(gene_info *gi)
{
    lgs_buf_free(&gi->config);
    lgs_buf_free(&gi->meta);
    free(gi->evals);
}

void lgs_gene_row_free(lgs_gene_row *r)
{
    if (!r) return;
    free(r->config);
    free(r->meta);
    r->config = r->meta = NULL;
}

/* ---------------------------------------------------------- parsing */

/* {"key":"value",…} of the whole __metadata__. */
static void meta_json(lgs_buf *b, const lg_st *st)
{
    lgs_buf_puts(b, "{");
    for (int i = 0; i < lg_st_meta_count(st); i++) {
        const char *k, *v;
        lg_st_meta_get(st, i, &k, &v);
        if (i) lgs_buf_puts(b, ",");
        lgs_buf_json_str(b, k);
        lgs_buf_puts(b, ":");
        lgs_buf_json_str(b, v);
    }
    lgs_buf_puts(b, "}");
}

static void config_json(lgs_buf *b, const lg_config *c)
{
    char cfg[512];
    int n = lg_config_to_json(c, cfg, sizeof cfg);
    if (n < 0 || (size_t)n >= sizeof cfg) {
        b->oom = 1; /* cannot happen: the canonical JSON is < 300 bytes */
        return;
    }
    lgs_buf_put(b, cfg, (size_t)n);
}

/* A pool's eval.<variant> = "<accuracy>" metadata as evaluation rows. */
static lgs_status pool_evals(gene_info *gi, const lg_st *st, char *err, size_t errlen)
{
    int nmeta = lg_st_meta_count(st);
    if (!(gi->evals = calloc((size_t)nmeta + 1, sizeof *gi->evals))) return LGS_ERR_NOMEM;
    for (int i = 0; i < nmeta; i++) {
        const char *k, *v;
        char *end;
        lg_st_meta_get(st, i, &k, &v);
        if (strncmp(k, "eval.", 5) != 0) continue;
        const char *variant = k + 5;
        double acc = strtod(v, &end);
        if (!*variant || strlen(variant) >= sizeof gi->evals->variant)
            return lgs_fail(err, errlen, LGS_ERR_INVALID, "__metadata__ key \"%s\" names no usable variant", k);
        if (end == v || *end || !isfinite(acc) || acc < 0 || acc > 1)
            return lgs_fail(err, errlen, LGS_ERR_INVALID,
                            "__metadata__ \"%s\" is \"%s\", expected an accuracy between 0 and 1", k, v);
        lgs_eval_row *e = &gi->evals[gi->neval++];
        lgs_copy_str(e->variant, sizeof e->variant, variant);
        lgs_copy_str(e->dataset, sizeof e->dataset, "bundled");
        e->accuracy = acc;
    }
    return LGS_OK;
}

/* Config: {"<instance>": <its lg_config JSON>, …} in the pool's order
 * (the "genepool" names, narrowest first), canonicalized by the core. */
static lgs_status pool_info(gene_info *gi, const lg_st *st, char *err, size_t errlen)
{
    lg_genepool p;
    lg_status ls = lg_genepool_from_st(&p, st, err, errlen);
    if (ls != LG_OK) return lgs_from_lg(ls);
    lgs_copy_str(gi->kind, sizeof gi->kind, "pool");
    lgs_buf_puts(&gi->config, "{");
    for (int i = 0; i < p.n; i++) {
        if (i) lgs_buf_puts(&gi->config, ",");
        lgs_buf_json_str(&gi->config, p.names[i]);
        lgs_buf_puts(&gi->config, ":");
        config_json(&gi->config, lg_model_config(p.inst[i]));
    }
    lgs_buf_puts(&gi->config, "}");
    gi->params = (int64_t)lg_genepool_params(&p);
    lg_genepool_free(&p);
    return pool_evals(gi, st, err, errlen);
}

static lgs_status learngene_info(gene_info *gi, const lg_st *st, char *err, size_t errlen)
{
    lg_gene g;
    lg_status ls = lg_gene_from_st(&g, st, err, errlen);
    if (ls != LG_OK) return lgs_from_lg(ls);
    lgs_copy_str(gi->kind, sizeof gi->kind, lg_gene_kind_name(g.kind));
    /* the descendants' widths; depth = the network the learngene was made
     * in (TLEG: its auxiliary network, inherit: its ancestry) */
    lg_config c = *lg_model_config(g.m);
    if (g.kind == LG_GENE_TLEG) c.depth = g.aux_depth;
    config_json(&gi->config, &c);
    gi->params = (int64_t)lg_gene_params(&g);
    lg_gene_free(&g);
    return LGS_OK;
}

/* Validates the bytes and works out every column but id/size/created. */
static lgs_status gene_info_parse(gene_info *gi, const uint8_t *bytes, size_t len, const char *name, char *err,
                                  size_t errlen)
{
    lg_st *st = NULL;
    lg_status ls = lg_st_parse(&st, bytes, len, 0, err, errlen);
    if (ls != LG_OK) return lgs_from_lg(ls);
    lgs_status r = lg_st_meta(st, "genepool") ? pool_info(gi, st, err, errlen) : learngene_info(gi, st, err, errlen);
    if (r != LGS_OK) goto out;
    meta_json(&gi->meta, st);
    if (gi->config.oom || gi->meta.oom) {
        r = lgs_fail(err, errlen, LGS_ERR_NOMEM, "out of memory describing the learngene");
        goto out;
    }
    const char *meta_name = lg_st_meta(st, "name");
    lgs_copy_str(gi->name, sizeof gi->name, name && *name ? name : meta_name && *meta_name ? meta_name : gi->kind);
out:
    lg_st_free(st);
    return r;
}

/* ---------------------------------------------------------- rows */

static lgs_status gene_fill(void *row, sqlite3_stmt *st)
{
    lgs_gene_row *r = row;
    lgs_col_copy(r->id, sizeof r->id, st, 0);
    lgs_col_copy(r->kind, sizeof r->kind, st, 1);
    lgs_col_copy(r->name, sizeof r->name, st, 2);
    r->params = sqlite3_column_int64(st, 5);
    r->size = sqlite3_column_int64(st, 6);
    r->created = sqlite3_column_int64(st, 7);
    if (lgs_col_dup(&r->config, st, 3) || lgs_col_dup(&r->meta, st, 4)) return LGS_ERR_NOMEM;
    return LGS_OK;
}

static void gene_free_row(void *row) { lgs_gene_row_free(row); }

/* The row (lock held); out may be NULL to test existence. */
static lgs_status gene_get_locked(lgs_store *s, const char *id, lgs_gene_row *out)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st, "SELECT " GENE_COLS " FROM learngenes WHERE id = ?1", NULL, 0);
    if (r != LGS_OK) return r;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r = out ? gene_fill(out, st) : LGS_OK;
        if (r != LGS_OK) lgs_gene_row_free(out);
    } else {
        r = rc == SQLITE_DONE ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "learngene lookup");
    }
    lgs_finish(s, st);
    return r;
}

lgs_status lgs_gene_get(lgs_store *s, const char *id, lgs_gene_row *out)
{
    char key[65];
    if (!s || !id) return LGS_ERR_INVALID;
    int toolong = lgs_key(key, id);
    if (out) memset(out, 0, sizeof *out);
    if (toolong) return LGS_ERR_NOTFOUND;
    lgs_lock(s);
    lgs_status r = gene_get_locked(s, key, out);
    lgs_unlock(s);
    return r;
}

/* kind_filter: NULL all, "!kind" every other kind, "kind" that kind.
 * No rows: *rows NULL, *n 0. */
lgs_status lgs_gene_list(lgs_store *s, const char *kind_filter, lgs_gene_row **rows, int *n)
{
    const char *sql = !kind_filter ? "SELECT " GENE_COLS " FROM learngenes ORDER BY created, rowid"
                      : kind_filter[0] == '!'
                          ? "SELECT " GENE_COLS " FROM learngenes WHERE kind <> ?1 ORDER BY created, rowid"
                          : "SELECT " GENE_COLS " FROM learngenes WHERE kind = ?1 ORDER BY created, rowid";
    return lgs_list(s, sql, kind_filter ? kind_filter + (kind_filter[0] == '!') : NULL, sizeof **rows, gene_fill,
                    gene_free_row, (void **)rows, n);
}

/* ---------------------------------------------------------- put */

static lgs_status evals_insert(lgs_store *s, const char *id, const gene_info *gi, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st,
                               "INSERT OR REPLACE INTO evaluations (source, variant, dataset, accuracy, created)"
                               " VALUES (?1, ?2, ?3, ?4, ?5)",
                               err, errlen);
    for (int i = 0; r == LGS_OK && i < gi->neval; i++) {
        sqlite3_reset(st);
        lgs_bind_text(st, 1, id);
        lgs_bind_text(st, 2, gi->evals[i].variant);
        lgs_bind_text(st, 3, gi->evals[i].dataset);
        sqlite3_bind_double(st, 4, gi->evals[i].accuracy);
        sqlite3_bind_int64(st, 5, now);
        if (sqlite3_step(st) != SQLITE_DONE) r = lgs_db_fail(s, err, errlen, "cannot store an evaluation");
    }
    lgs_finish(s, st);
    return r;
}

static lgs_status gene_row_insert(lgs_store *s, const char *id, const gene_info *gi, const uint8_t *bytes, size_t len,
                                  int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st,
                               "INSERT INTO learngenes (id, kind, name, config, meta, params, size, created, bytes)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                               err, errlen);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    lgs_bind_text(st, 2, gi->kind);
    lgs_bind_text(st, 3, gi->name);
    lgs_bind_text(st, 4, gi->config.p);
    lgs_bind_text(st, 5, gi->meta.p);
    sqlite3_bind_int64(st, 6, gi->params);
    sqlite3_bind_int64(st, 7, (int64_t)len);
    sqlite3_bind_int64(st, 8, now);
    if (sqlite3_bind_blob64(st, 9, bytes, len, SQLITE_STATIC) != SQLITE_OK)
        r = lgs_fail(err, errlen, LGS_ERR_INVALID, "a %zu-byte file is too large for the database", len);
    else if (sqlite3_step(st) != SQLITE_DONE)
        r = lgs_db_fail(s, err, errlen, "cannot store the learngene");
    lgs_finish(s, st);
    return r;
}

/* Lock held: EXISTS with *out filled when the id is there, else inserts
 * the row and its evaluations in one transaction. */
static lgs_status gene_store(lgs_store *s, const char *id, const gene_info *gi, const uint8_t *bytes, size_t len,
                             lgs_gene_row *out, char *err, size_t errlen)
{
    int64_t now = lgs_now();
    lgs_status r = lgs_begin(s, err, errlen);
    if (r != LGS_OK) return r;
    r = gene_get_locked(s, id, out);
    if (r == LGS_OK) {
        r = lgs_fail(err, errlen, LGS_ERR_EXISTS, "this %s is already stored as %s", gi->kind, id);
        goto out;
    }
    if (r != LGS_ERR_NOTFOUND) goto out;
    if ((r = gene_row_insert(s, id, gi, bytes, len, now, err, errlen)) != LGS_OK) goto out;
    if ((r = evals_insert(s, id, gi, now, err, errlen)) != LGS_OK) goto out;
    if ((r = lgs_commit(s, err, errlen)) != LGS_OK) return r;
    return out ? gene_get_locked(s, id, out) : LGS_OK;
out:
    lgs_rollback(s);
    return r;
}

lgs_status lgs_gene_put(lgs_store *s, const uint8_t *bytes, size_t len, const char *name, lgs_gene_row *out, char *err,
                        size_t errlen)
{
    gene_info gi = {0};
    char id[65];
    lgs_status r;
    if (!s || !bytes || !len)
        r = lgs_fail(err, errlen, LGS_ERR_INVALID, "no learngene bytes given");
    else if (name && strlen(name) >= sizeof gi.name)
        r = lgs_fail(err, errlen, LGS_ERR_INVALID, "the name is longer than %zu bytes", sizeof gi.name - 1);
    else
        r = gene_info_parse(&gi, bytes, len, name, err, errlen);
    if (out) memset(out, 0, sizeof *out); /* after the parse: name may point into *out */
    if (r != LGS_OK) goto out;
    if (lgs_sha256_hex2(id, bytes, len, NULL, 0)) {
        r = lgs_fail(err, errlen, LGS_ERR_NOMEM, "cannot compute sha256 (libcrypto failed)");
        goto out;
    }
    lgs_lock(s);
    r = gene_store(s, id, &gi, bytes, len, out, err, errlen);
    lgs_unlock(s);
out:
    gene_info_free(&gi);
    return r;
}

/* ---------------------------------------------------------- delete */

/* 1 (and the id in model) when a model with weights or a job still to run
 * depends on the learngene; 0 when none; <0 on error. */
static int gene_dependent(lgs_store *s, const char *id, char *what, size_t whatlen)
{
    static const char *const sql[] = {
        "SELECT 'fine-tuned model ' || id FROM models WHERE source = ?1 AND has_weights LIMIT 1",
        "SELECT 'job ' || j.id || ' (' || CASE j.state WHEN 0 THEN 'queued' ELSE 'running' END || ')'"
        " FROM jobs j JOIN models m ON m.id = j.model WHERE m.source = ?1 AND j.state IN (0, 1) LIMIT 1",
    };
    int found = 0;
    for (size_t i = 0; !found && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) lgs_col_copy(what, whatlen, st, 0);
        found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
        lgs_finish(s, st);
    }
    return found;
}

static lgs_status exec_id(lgs_store *s, const char *sql, const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st, sql, err, errlen);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) r = lgs_db_fail(s, err, errlen, "cannot delete");
    lgs_finish(s, st);
    return r;
}

static lgs_status gene_delete_locked(lgs_store *s, const char *id, char *err, size_t errlen)
{
    char what[200];
    lgs_status r = lgs_begin(s, err, errlen);
    if (r != LGS_OK) return r;
    if ((r = gene_get_locked(s, id, NULL)) != LGS_OK) {
        if (r == LGS_ERR_NOTFOUND) lgs_fail(err, errlen, r, "no learngene or pool %s", id);
        goto out;
    }
    int dep = gene_dependent(s, id, what, sizeof what);
    if (dep) {
        r = dep < 0
                ? lgs_db_fail(s, err, errlen, "cannot look for dependent models")
                : lgs_fail(err, errlen, LGS_ERR_CONFLICT, "learngene %s is used by %s; delete that first", id, what);
        goto out;
    }
    if ((r = exec_id(s, "DELETE FROM models WHERE source = ?1 AND NOT has_weights", id, err, errlen)) != LGS_OK)
        goto out;
    if ((r = exec_id(s, "DELETE FROM learngenes WHERE id = ?1", id, err, errlen)) != LGS_OK) goto out;
    return lgs_commit(s, err, errlen);
out:
    lgs_rollback(s);
    return r;
}

lgs_status lgs_gene_delete(lgs_store *s, const char *id, char *err, size_t errlen)
{
    if (!s || !id) return lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_gene_delete: store and id are required");
    lgs_lock(s);
    lgs_status r = gene_delete_locked(s, id, err, errlen);
    lgs_unlock(s);
    return r;
}

/* ---------------------------------------------------------- bytes */

lgs_status lgs_gene_bytes(lgs_store *s, const char *id, uint8_t **bytes, size_t *len)
{
    if (!s || !bytes || !len) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_blob_copy(s, "SELECT bytes FROM learngenes WHERE id = ?1", id, bytes, len);
    lgs_unlock(s);
    return r;
}

lgs_status lgs_gene_read(lgs_store *s, const char *id, int64_t offset, void *buf, int n)
{
    if (!s) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_blob_read(s, "SELECT rowid, typeof(bytes) = 'blob' FROM learngenes WHERE id = ?1", "learngenes",
                                 id, offset, buf, n);
    lgs_unlock(s);
    return r;
}

/* ---------------------------------------------------------- evaluations */

lgs_status lgs_eval_put(lgs_store *s, const lgs_eval_row *e)
{
    sqlite3_stmt *st;
    if (!s || !e || !e->source[0] || !e->variant[0] || !e->dataset[0] || !isfinite(e->accuracy)) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_prepare(s, &st,
                               "INSERT OR REPLACE INTO evaluations (source, variant, dataset, accuracy, created)"
                               " VALUES (?1, ?2, ?3, ?4, ?5)",
                               NULL, 0);
    if (r == LGS_OK) {
        lgs_bind_text(st, 1, e->source);
        lgs_bind_text(st, 2, e->variant);
        lgs_bind_text(st, 3, e->dataset);
        sqlite3_bind_double(st, 4, e->accuracy);
        sqlite3_bind_int64(st, 5, e->created ? e->created : lgs_now());
        if (sqlite3_step(st) != SQLITE_DONE)
            r = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY ? LGS_ERR_NOTFOUND
                                                                                : lgs_db_fail(s, NULL, 0, "eval");
        lgs_finish(s, st);
    }
    lgs_unlock(s);
    return r;
}

static lgs_status eval_fill(void *row, sqlite3_stmt *st)
{
    lgs_eval_row *e = row;
    lgs_col_copy(e->source, sizeof e->source, st, 0);
    lgs_col_copy(e->variant, sizeof e->variant, st, 1);
    lgs_col_copy(e->dataset, sizeof e->dataset, st, 2);
    e->accuracy = sqlite3_column_double(st, 3);
    e->created = sqlite3_column_int64(st, 4);
    return LGS_OK;
}

/* Ordered by source, variant, dataset. No rows: *rows NULL, *n 0. */
lgs_status lgs_eval_list(lgs_store *s, const char *source, lgs_eval_row **rows, int *n)
{
    const char *sql = source ? "SELECT source, variant, dataset, accuracy, created FROM evaluations WHERE source = ?1"
                               " ORDER BY source, variant, dataset"
                             : "SELECT source, variant, dataset, accuracy, created FROM evaluations"
                               " ORDER BY source, variant, dataset";
    return lgs_list(s, sql, source, sizeof **rows, eval_fill, NULL, (void **)rows, n);
}
