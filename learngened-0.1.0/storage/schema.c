/* schema.c - the database schema and its migrations. PRAGMA user_version
 * says which migrations have run; each entry of the table below takes the
 * schema from version - 1 to version in one transaction. Add-only: a new
 * version appends a migration, never edits an old one.
 */
#include <stdio.h>

#include "internal.h"

typedef struct {
    int version;
    const char *sql;
} migration;

static const migration migrations[] = {
    {1, "CREATE TABLE learngenes ("
        " id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 64),"
        " kind TEXT NOT NULL CHECK (kind IN ('tleg', 'inherit', 'pool')),"
        " name TEXT NOT NULL,"
        " config TEXT NOT NULL,"
        " meta TEXT NOT NULL,"
        " params INTEGER NOT NULL,"
        " size INTEGER NOT NULL,"
        " created INTEGER NOT NULL,"
        " bytes BLOB NOT NULL);"
        "CREATE TABLE evaluations ("
        " source TEXT NOT NULL REFERENCES learngenes(id) ON DELETE CASCADE,"
        " variant TEXT NOT NULL,"
        " dataset TEXT NOT NULL,"
        " accuracy REAL NOT NULL,"
        " created INTEGER NOT NULL,"
        " UNIQUE (source, variant, dataset));"
        "CREATE TABLE datasets ("
        " id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 64),"
        " name TEXT NOT NULL,"
        " n INTEGER NOT NULL, c INTEGER NOT NULL, h INTEGER NOT NULL, w INTEGER NOT NULL,"
        " classes INTEGER NOT NULL,"
        " size INTEGER NOT NULL,"
        " created INTEGER NOT NULL,"
        " images BLOB NOT NULL,"
        " labels BLOB NOT NULL);"
        "CREATE TABLE models ("
        " id TEXT PRIMARY KEY NOT NULL,"
        " source TEXT REFERENCES learngenes(id)," /* NULL: scratch */
        " parent TEXT,"
        " method TEXT NOT NULL,"
        " spec TEXT,"
        " config TEXT,"
        " flops REAL NOT NULL,"
        " params INTEGER NOT NULL,"
        " dataset TEXT,"
        " job TEXT,"
        " steps INTEGER NOT NULL,"
        " accuracy REAL," /* NULL: not measured */
        " has_weights INTEGER NOT NULL CHECK (has_weights = (bytes IS NOT NULL)),"
        " sha256 TEXT,"
        " size INTEGER NOT NULL,"
        " created INTEGER NOT NULL,"
        " bytes BLOB);" /* NULL: weightless (grown on demand) */
        "CREATE INDEX models_source ON models(source);"
        "CREATE TABLE jobs ("
        " id TEXT PRIMARY KEY NOT NULL,"
        " kind TEXT NOT NULL,"
        " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
        " params TEXT,"
        " model TEXT,"
        " result TEXT,"
        " step INTEGER NOT NULL,"
        " total_steps INTEGER NOT NULL,"
        " loss REAL,"
        " accuracy REAL,"
        " error TEXT,"
        " cancel_requested INTEGER NOT NULL DEFAULT 0,"
        " checkpoint_step INTEGER NOT NULL DEFAULT 0,"
        " checkpoint BLOB,"
        " created INTEGER NOT NULL,"
        " updated INTEGER NOT NULL);"
        "CREATE INDEX jobs_state_created ON jobs(state, created);"},
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* Runs one migration unless another connection already did. */
static lgs_status migrate_one(lgs_store *s, const migration *m, const char *path, char *err, size_t errlen)
{
    char sql[64];
    lgs_status r = lgs_begin(s, err, errlen);
    if (r != LGS_OK) return r;
    int v = lgs_user_version(s);
    if (v < 0) {
        r = lgs_db_fail(s, err, errlen, "cannot read PRAGMA user_version");
        goto out;
    }
    if (v >= m->version) goto out;
    if (sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
        r = lgs_fail(err, errlen, LGS_ERR_DB, "migrating %s to schema version %d failed: %s", path, m->version,
                     sqlite3_errmsg(s->db));
        goto out;
    }
    /* PRAGMA takes no bound parameters; the version is our own constant. */
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
    r = lgs_exec(s, sql, err, errlen);
out:
    if (r == LGS_OK) return lgs_commit(s, err, errlen);
    lgs_rollback(s);
    return r;
}

lgs_status lgs_schema_migrate(lgs_store *s, const char *path, char *err, size_t errlen)
{
    int v = lgs_user_version(s);
    if (v < 0) return lgs_db_fail(s, err, errlen, "cannot read PRAGMA user_version");
    for (int i = 0; i < N_MIGRATIONS; i++) {
        if (migrations[i].version <= v) continue;
        lgs_status r = migrate_one(s, &migrations[i], path, err, errlen);
        if (r != LGS_OK) return r;
    }
    return LGS_OK;
}
