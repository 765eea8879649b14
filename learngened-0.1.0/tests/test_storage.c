/* test_storage.c - the SQLite store (storage/store.h) on real database files
 * in a fresh temporary directory: schema and pragmas, learngenes and pools
 * (the bundled data/ files), chunked reads, evaluations, models, datasets
 * (the Debian Fashion-MNIST test split, uploaded as gzip bytes), the job
 * queue with a simulated crash, backup, and corrupt or too-new databases
 * refused without crashing.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"

#define TLEG_PATH LG_TEST_SRCDIR "/data/tleg-fmnist.safetensors"
#define POOL_PATH LG_TEST_SRCDIR "/data/pool-fmnist.safetensors"

/* Checks a status, naming the call and what was expected. */
#define CK_STATUS(expr, want)                                                                                          \
    do {                                                                                                               \
        lgs_status got_ = (expr);                                                                                      \
        ck_assert_msg(got_ == (want), "%s: got %s, expected %s", #expr, lgs_strerror(got_), lgs_strerror(want));       \
    } while (0)
/* The same, quoting the store's message. */
#define CK_STATUS_E(expr, want, err)                                                                                   \
    do {                                                                                                               \
        lgs_status got_ = (expr);                                                                                      \
        ck_assert_msg(got_ == (want), "%s: got %s (%s), expected %s", #expr, lgs_strerror(got_), err,                  \
                      lgs_strerror(want));                                                                             \
    } while (0)

/* ------------------------------------------------------------ helpers */

typedef struct {
    char dir[256];
    char db[320];
} tmp;

static void tmp_make(tmp *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/lg_test_storage_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(t->dir) != NULL, "mkdtemp(%s) failed: %s", t->dir, strerror(errno));
    snprintf(t->db, sizeof t->db, "%s/store.db", t->dir);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void tmp_remove(const tmp *t) { nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS); }

static lgs_store *store_open(const char *path)
{
    char err[512] = "";
    lgs_store *s = NULL;
    lgs_status st = lgs_open(&s, path, err, sizeof err);
    ck_assert_msg(st == LGS_OK && s != NULL, "lgs_open(%s): got %s (%s), expected success", path, lgs_strerror(st),
                  err);
    return s;
}

/* A file's bytes as stored (no gunzip). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s (install dataset-fashion-mnist?)", path, strerror(errno));
    ck_assert_msg(fseek(f, 0, SEEK_END) == 0, "cannot seek %s", path);
    long n = ftell(f);
    ck_assert_msg(n > 0, "%s is empty, expected bytes", path);
    rewind(f);
    uint8_t *b = malloc((size_t)n);
    ck_assert_msg(b != NULL, "out of memory reading %s", path);
    ck_assert_msg(fread(b, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A file's bytes through the core (gunzipped when gzip). */
static uint8_t *read_core(const char *path, size_t *len)
{
    char err[512] = "";
    uint8_t *b = NULL;
    lg_status s = lg_file_read(&b, len, path, (size_t)1 << 30, err, sizeof err);
    ck_assert_msg(s == LG_OK, "lg_file_read(%s): %s, expected success", path, err);
    return b;
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_msg(fwrite(buf, 1, len, f) == len, "cannot write %zu bytes to %s", len, path);
    ck_assert_msg(fclose(f) == 0, "cannot close %s", path);
}

static void fmnist_path(char *p, size_t n, const char *split, const char *kind)
{
    snprintf(p, n, "%s/%s-%s-ubyte.gz", lg_test_fmnist_dir(), split, kind);
}

/* Runs SQL on the file with a connection of our own (not the store's). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_msg(sqlite3_open(path, &db) == SQLITE_OK, "sqlite3_open(%s) failed, expected success", path);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s, expected success", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The text of the first column of the first row of a query. */
static void raw_query(const char *path, const char *sql, char *out, size_t n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_open(path, &db) == SQLITE_OK, "sqlite3_open(%s) failed, expected success", path);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s returned no row, expected one", sql);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static lgs_gene_row put_file(lgs_store *s, const char *path, const char *name)
{
    size_t len;
    char err[512] = "";
    uint8_t *b = read_core(path, &len);
    lgs_gene_row r;
    CK_STATUS_E(lgs_gene_put(s, b, len, name, &r, err, sizeof err), LGS_OK, err);
    free(b);
    return r;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n);
    ck_assert_msg(b != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 131u + seed * 7u + (i >> 9));
    return b;
}

static lgs_model_row model_row(const char *id, const char *source, const char *method)
{
    lgs_model_row m;
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "%s", id);
    snprintf(m.source, sizeof m.source, "%s", source);
    snprintf(m.method, sizeof m.method, "%s", method);
    m.spec = "{\"depth\":6,\"classes\":10,\"seed\":0}";
    m.config = "{\"arch\":\"vit\"}";
    m.flops = 1.5e7;
    m.params = 12345;
    m.accuracy = NAN;
    return m;
}

static void job_put(lgs_store *s, const char *id, const char *model, int64_t total)
{
    lgs_job_row j;
    memset(&j, 0, sizeof j);
    snprintf(j.id, sizeof j.id, "%s", id);
    snprintf(j.kind, sizeof j.kind, "finetune");
    snprintf(j.model, sizeof j.model, "%s", model);
    j.params = "{\"steps\":100}";
    j.total_steps = total;
    CK_STATUS(lgs_job_put(s, &j), LGS_OK);
}

static lgs_job_row job_get(lgs_store *s, const char *id)
{
    lgs_job_row j;
    CK_STATUS(lgs_job_get(s, id, &j), LGS_OK);
    return j;
}

/* A tiny raw 4-dim IDX dataset: 2 images of 3x1x2, labels 0 and 4. */
static const uint8_t tiny_img[] = {0, 0, 8, 4, 0, 0,   0, 2, 0, 0, 0, 3, 0, 0, 0, 1,
                                   0, 0, 0, 2, 0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t tiny_lab[] = {0, 0, 8, 1, 0, 0, 0, 2, 0, 4};

/* ------------------------------------------------------------ open */

START_TEST(test_open_schema)
{
    tmp t;
    char v[64], err[512] = "";
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    ck_assert_msg(lgs_schema_version(s) == 1, "schema version %d, expected 1", lgs_schema_version(s));
    lgs_close(s);

    raw_query(t.db, "PRAGMA journal_mode", v, sizeof v);
    ck_assert_msg(!strcmp(v, "wal"), "journal_mode %s, expected wal", v);
    raw_query(t.db, "PRAGMA user_version", v, sizeof v);
    ck_assert_msg(!strcmp(v, "1"), "user_version %s, expected 1", v);
    raw_query(t.db,
              "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
              " ('learngenes', 'evaluations', 'datasets', 'models', 'jobs')",
              v, sizeof v);
    ck_assert_msg(!strcmp(v, "5"), "%s of the 5 tables exist, expected all", v);
    raw_query(t.db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'jobs_state_created'", v,
              sizeof v);
    ck_assert_msg(!strcmp(v, "1"), "index jobs_state_created missing, expected it");

    s = store_open(t.db); /* reopening migrates nothing and keeps version 1 */
    ck_assert_msg(lgs_schema_version(s) == 1, "schema version after reopen %d, expected 1", lgs_schema_version(s));
    lgs_close(s);
    lgs_close(NULL); /* accepted */

    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.db", t.dir);
    s = (lgs_store *)&v;
    CK_STATUS_E(lgs_open(&s, bad, err, sizeof err), LGS_ERR_DB, err);
    ck_assert_msg(s == NULL && strstr(err, bad) != NULL, "a refused open leaves NULL and names the file, got \"%s\"",
                  err);
    CK_STATUS(lgs_open(&s, NULL, err, sizeof err), LGS_ERR_INVALID);
    tmp_remove(&t);
}
END_TEST

START_TEST(test_sha256_and_names)
{
    char h[65];
    lgs_sha256_hex(h, "abc", 3);
    ck_assert_msg(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
                  "sha256(abc) = %s, expected the FIPS 180-2 vector", h);
    lgs_sha256_hex(h, "", 0);
    ck_assert_msg(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                  "sha256('') = %s, expected e3b0…b855", h);
    for (int i = 0; i <= LGS_ERR_CONFLICT; i++)
        ck_assert_msg(lgs_strerror((lgs_status)i) && *lgs_strerror((lgs_status)i), "lgs_strerror(%d) empty", i);
    ck_assert_msg(!strcmp(lgs_job_state_name(LGS_JOB_QUEUED), "queued") &&
                      !strcmp(lgs_job_state_name(LGS_JOB_CANCELLED), "cancelled"),
                  "job state names, expected queued … cancelled");
}
END_TEST

/* ------------------------------------------------------------ learngenes */

START_TEST(test_gene_put_get)
{
    tmp t;
    char err[512] = "", hex[65];
    size_t len;
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    int64_t t0 = (int64_t)time(NULL);
    uint8_t *b = read_core(TLEG_PATH, &len);

    lgs_gene_row r, again;
    CK_STATUS_E(lgs_gene_put(s, b, len, NULL, &r, err, sizeof err), LGS_OK, err);
    lgs_sha256_hex(hex, b, len);
    ck_assert_msg(!strcmp(r.id, hex), "id %s, expected the file's sha256 %s", r.id, hex);
    ck_assert_msg(!strcmp(r.kind, "tleg") && !strcmp(r.name, "tleg"), "kind/name %s/%s, expected tleg/tleg", r.kind,
                  r.name);
    ck_assert_msg(r.size == (int64_t)len, "size %lld, expected %zu", (long long)r.size, len);
    ck_assert_msg(r.created >= t0 && r.created <= (int64_t)time(NULL), "created %lld, expected now",
                  (long long)r.created);
    ck_assert_msg(r.config && strstr(r.config, "\"dim\":96") && strstr(r.config, "\"pool\":\"avg\""),
                  "config %s, expected the learngene's lg_config JSON (dim 96, pool avg)", r.config);
    ck_assert_msg(r.meta && strstr(r.meta, "\"learngene\":\"tleg\"") && strstr(r.meta, "\"aux_depth\":\"6\""),
                  "meta %s, expected the __metadata__ pairs", r.meta);
    lg_gene g;
    ck_assert_msg(lg_gene_load(&g, TLEG_PATH, err, sizeof err) == LG_OK, "lg_gene_load: %s", err);
    ck_assert_msg(r.params == (int64_t)lg_gene_params(&g), "params %lld, expected lg_gene_params %zu",
                  (long long)r.params, lg_gene_params(&g));
    lg_gene_free(&g);

    CK_STATUS_E(lgs_gene_put(s, b, len, "another name", &again, err, sizeof err), LGS_ERR_EXISTS, err);
    ck_assert_msg(!strcmp(again.id, r.id) && !strcmp(again.name, "tleg") && again.created == r.created,
                  "a duplicate put returns the stored row (id %s name %s), expected %s tleg", again.id, again.name,
                  r.id);
    ck_assert_msg(strstr(err, r.id) != NULL, "EXISTS message \"%s\", expected it to name the id", err);
    lgs_gene_row_free(&again);
    free(b);

    lgs_gene_row p = put_file(s, POOL_PATH, "my pool");
    ck_assert_msg(!strcmp(p.kind, "pool") && !strcmp(p.name, "my pool"), "pool kind/name %s/%s, expected pool/my pool",
                  p.kind, p.name);
    ck_assert_msg(p.config && !strncmp(p.config, "{\"d48\":{\"arch\":\"vit\"", 20) && strstr(p.config, ",\"d96\":{"),
                  "pool config %s, expected {\"d48\":{…},\"d96\":{…}}", p.config);
    lg_genepool gp;
    ck_assert_msg(lg_genepool_load(&gp, POOL_PATH, err, sizeof err) == LG_OK, "lg_genepool_load: %s", err);
    ck_assert_msg(p.params == (int64_t)lg_genepool_params(&gp), "pool params %lld, expected %zu", (long long)p.params,
                  lg_genepool_params(&gp));
    lg_genepool_free(&gp);

    lgs_eval_row *ev;
    int n, found = 0;
    CK_STATUS(lgs_eval_list(s, p.id, &ev, &n), LGS_OK);
    ck_assert_msg(n == 7, "%d evaluations from the pool's eval.* metadata, expected 7", n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(!strcmp(ev[i].dataset, "bundled") && !strcmp(ev[i].source, p.id),
                      "evaluation %d dataset %s source %s, expected bundled and the pool", i, ev[i].dataset,
                      ev[i].source);
        if (strcmp(ev[i].variant, "d48.3.d96")) continue;
        found = 1;
        ck_assert_msg(fabs(ev[i].accuracy - 0.7289) < 1e-12, "d48.3.d96 accuracy %g, expected 0.7289", ev[i].accuracy);
    }
    ck_assert_msg(found, "no evaluation of variant d48.3.d96, expected one");
    free(ev);
    CK_STATUS(lgs_eval_list(s, r.id, &ev, &n), LGS_OK);
    ck_assert_msg(n == 0 && ev == NULL, "the learngene has %d evaluations, expected 0 and a NULL array", n);
    CK_STATUS(lgs_eval_list(s, NULL, &ev, &n), LGS_OK);
    ck_assert_msg(n == 7, "%d evaluations in all, expected 7", n);
    free(ev);

    lgs_gene_row *rows;
    CK_STATUS(lgs_gene_list(s, NULL, &rows, &n), LGS_OK);
    ck_assert_msg(n == 2, "%d rows unfiltered, expected 2", n);
    for (int i = 0; i < n; i++) lgs_gene_row_free(&rows[i]);
    free(rows);
    CK_STATUS(lgs_gene_list(s, "pool", &rows, &n), LGS_OK);
    ck_assert_msg(n == 1 && !strcmp(rows[0].id, p.id), "filter pool: %d rows, expected the pool", n);
    lgs_gene_row_free(&rows[0]);
    free(rows);
    CK_STATUS(lgs_gene_list(s, "!pool", &rows, &n), LGS_OK);
    ck_assert_msg(n == 1 && !strcmp(rows[0].id, r.id), "filter !pool: %d rows, expected the learngene", n);
    lgs_gene_row_free(&rows[0]);
    free(rows);
    lgs_close(s);

    s = store_open(t.db); /* the rows survive a reopen */
    CK_STATUS(lgs_gene_get(s, r.id, &again), LGS_OK);
    ck_assert_msg(!strcmp(again.name, "tleg") && again.created == r.created && !strcmp(again.meta, r.meta),
                  "after reopen: name %s, expected the same row", again.name);
    lgs_gene_row_free(&again);
    CK_STATUS(lgs_gene_get(s, "0000", &again), LGS_ERR_NOTFOUND);
    lgs_gene_row_free(&r);
    lgs_gene_row_free(&p);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

/* A learngene saved with awkward metadata: the meta JSON escapes it and the
 * name comes from it. */
START_TEST(test_gene_meta_escaping)
{
    tmp t;
    char err[512] = "", path[400];
    lg_gene g;
    lg_config c = {.img = 8,
                   .in_chans = 1,
                   .patch = 4,
                   .dim = 8,
                   .depth = 2,
                   .heads = 2,
                   .mlp = 16,
                   .classes = 3,
                   .pool = LG_POOL_AVG};
    tmp_make(&t);
    snprintf(path, sizeof path, "%s/tiny.safetensors", t.dir);
    ck_assert_msg(lg_gene_tleg_new(&g, &c, 1, err, sizeof err) == LG_OK, "lg_gene_tleg_new: %s", err);
    lg_st_kv kv[] = {{"name", "quote \" back \\ nl \n tab \t bell \a é"}, {"note", "x"}};
    ck_assert_msg(lg_gene_save(&g, path, LG_F32, kv, 2, err, sizeof err) == LG_OK, "lg_gene_save: %s", err);
    lg_gene_free(&g);

    lgs_store *s = store_open(t.db);
    lgs_gene_row r = put_file(s, path, NULL);
    ck_assert_msg(!strcmp(r.name, kv[0].value), "name \"%s\", expected the metadata name", r.name);
    ck_assert_msg(strstr(r.meta, "\"name\":\"quote \\\" back \\\\ nl \\n tab \\t bell \\u0007 é\"") != NULL,
                  "meta %s, expected the name JSON-escaped", r.meta);
    ck_assert_msg(strstr(r.meta, "\"note\":\"x\"") != NULL, "meta %s, expected \"note\":\"x\"", r.meta);
    ck_assert_msg(strstr(r.config, "\"depth\":2") != NULL, "config %s, expected the stored depth-2 TLEG model",
                  r.config);
    lgs_gene_row_free(&r);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

START_TEST(test_gene_read_chunks)
{
    tmp t;
    size_t len;
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    uint8_t *want = read_core(POOL_PATH, &len);
    lgs_gene_row r = put_file(s, POOL_PATH, NULL);
    uint8_t *got = malloc(len);
    ck_assert_msg(got != NULL, "out of memory");
    memset(got, 0, len);
    int chunks = 0;
    for (size_t off = 0; off < len; chunks++) {
        int n = len - off < 4097 ? (int)(len - off) : 4097;
        CK_STATUS(lgs_gene_read(s, r.id, (int64_t)off, got + off, n), LGS_OK);
        off += (size_t)n;
    }
    ck_assert_msg(memcmp(got, want, len) == 0, "%d chunks of 4097 bytes reassemble differently, expected the file",
                  chunks);

    int64_t size = (int64_t)len;
    CK_STATUS(lgs_gene_read(s, r.id, size - 10, got, 11), LGS_ERR_INVALID);
    CK_STATUS(lgs_gene_read(s, r.id, size + 1, got, 0), LGS_ERR_INVALID);
    CK_STATUS(lgs_gene_read(s, r.id, -1, got, 1), LGS_ERR_INVALID);
    CK_STATUS(lgs_gene_read(s, r.id, 0, got, -1), LGS_ERR_INVALID);
    CK_STATUS(lgs_gene_read(s, r.id, size, got, 0), LGS_OK);
    CK_STATUS(lgs_gene_read(s, r.id, size - 3, got, 3), LGS_OK);
    ck_assert_msg(!memcmp(got, want + len - 3, 3), "the last 3 bytes differ, expected the file's");
    CK_STATUS(lgs_gene_read(s, "nope", 0, got, 1), LGS_ERR_NOTFOUND);

    uint8_t *all;
    size_t alen;
    CK_STATUS(lgs_gene_bytes(s, r.id, &all, &alen), LGS_OK);
    ck_assert_msg(alen == len && !memcmp(all, want, len), "lgs_gene_bytes gave %zu bytes, expected the file's %zu",
                  alen, len);
    free(all);
    CK_STATUS(lgs_gene_bytes(s, "nope", &all, &alen), LGS_ERR_NOTFOUND);
    ck_assert_msg(all == NULL && alen == 0, "a missing row gives no bytes");
    free(got);
    free(want);
    lgs_gene_row_free(&r);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

static lg_model *tiny_model(int dim, uint64_t seed)
{
    char err[256];
    lg_config c = {.img = 8,
                   .in_chans = 1,
                   .patch = 4,
                   .dim = dim,
                   .depth = 2,
                   .heads = 2,
                   .mlp = 2 * dim,
                   .classes = 3,
                   .pool = LG_POOL_AVG};
    lg_model *m;
    ck_assert_msg(lg_model_new(&m, &c, err, sizeof err) == LG_OK, "lg_model_new: %s", err);
    lg_model_init(m, seed);
    return m;
}

/* A two-instance pool file with one eval.* entry of the given value. */
static void tiny_pool(const char *path, const char *eval_value)
{
    char err[256];
    lg_genepool p;
    lg_model *inst[2] = {tiny_model(8, 1), tiny_model(16, 2)};
    const char *names[2] = {"a", "b"};
    ck_assert_msg(lg_genepool_new(&p, inst, names, 2, err, sizeof err) == LG_OK, "lg_genepool_new: %s", err);
    lg_st_kv kv[] = {{"eval.a.1.b", eval_value}};
    ck_assert_msg(lg_genepool_save(&p, path, LG_F32, kv, 1, err, sizeof err) == LG_OK, "lg_genepool_save: %s", err);
    lg_genepool_free(&p);
}

START_TEST(test_gene_invalid)
{
    tmp t;
    char err[512], path[400];
    size_t len;
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    lgs_gene_row r;

    strcpy(err, "");
    CK_STATUS_E(lgs_gene_put(s, (const uint8_t *)"hello world", 11, NULL, &r, err, sizeof err), LGS_ERR_INVALID, err);
    ck_assert_msg(*err, "garbage refused without a message, expected the core's");
    printf("garbage: %s\n", err);

    uint8_t *b = read_core(TLEG_PATH, &len);
    strcpy(err, "");
    CK_STATUS_E(lgs_gene_put(s, b, len / 2, NULL, &r, err, sizeof err), LGS_ERR_INVALID, err);
    ck_assert_msg(*err, "a truncated file refused without a message");
    printf("truncated: %s\n", err);
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CK_STATUS(lgs_gene_put(s, b, len, longname, &r, err, sizeof err), LGS_ERR_INVALID);
    CK_STATUS(lgs_gene_put(s, NULL, 0, NULL, &r, err, sizeof err), LGS_ERR_INVALID);
    free(b);

    /* Valid safetensors, but no learngene. */
    float w[4] = {1, 2, 3, 4};
    int64_t shape[1] = {4};
    lg_st_in in = {"w", 1, shape, w};
    uint8_t *st;
    ck_assert_msg(lg_st_serialize(&st, &len, &in, 1, NULL, 0, LG_F32, err, sizeof err) == LG_OK, "serialize: %s", err);
    strcpy(err, "");
    CK_STATUS_E(lgs_gene_put(s, st, len, NULL, &r, err, sizeof err), LGS_ERR_INVALID, err);
    ck_assert_msg(strstr(err, "learngene") != NULL, "message \"%s\", expected it to say it is no learngene", err);
    free(st);

    /* A pool whose eval.* value is no accuracy. */
    snprintf(path, sizeof path, "%s/pool.safetensors", t.dir);
    tiny_pool(path, "abc");
    b = read_core(path, &len);
    strcpy(err, "");
    CK_STATUS_E(lgs_gene_put(s, b, len, NULL, &r, err, sizeof err), LGS_ERR_INVALID, err);
    ck_assert_msg(strstr(err, "eval.a.1.b") != NULL, "message \"%s\", expected it to name the key", err);
    free(b);

    lgs_gene_row *rows;
    int n;
    CK_STATUS(lgs_gene_list(s, NULL, &rows, &n), LGS_OK);
    ck_assert_msg(n == 0 && rows == NULL, "%d rows after refused puts, expected none", n);

    tiny_pool(path, "0.5"); /* the same pool with a real accuracy is fine */
    r = put_file(s, path, NULL);
    lgs_eval_row *ev;
    CK_STATUS(lgs_eval_list(s, r.id, &ev, &n), LGS_OK);
    ck_assert_msg(n == 1 && !strcmp(ev[0].variant, "a.1.b") && ev[0].accuracy == 0.5,
                  "%d evaluations, expected a.1.b = 0.5", n);
    free(ev);
    lgs_gene_row_free(&r);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

/* ------------------------------------------------------------ models */

START_TEST(test_models_and_delete)
{
    tmp t;
    char err[512] = "", hex[65];
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    lgs_gene_row g = put_file(s, TLEG_PATH, NULL);

    lgs_eval_row e = {.accuracy = 0.8};
    snprintf(e.source, sizeof e.source, "%s", g.id);
    snprintf(e.variant, sizeof e.variant, "depth=6");
    snprintf(e.dataset, sizeof e.dataset, "bundled");
    CK_STATUS(lgs_eval_put(s, &e), LGS_OK);
    e.accuracy = 0.81; /* replaces */
    CK_STATUS(lgs_eval_put(s, &e), LGS_OK);
    lgs_eval_row *ev;
    int n;
    CK_STATUS(lgs_eval_list(s, g.id, &ev, &n), LGS_OK);
    ck_assert_msg(n == 1 && ev[0].accuracy == 0.81, "%d evaluations, expected 1 replaced with 0.81", n);
    free(ev);
    snprintf(e.source, sizeof e.source, "%s", "f00d");
    CK_STATUS(lgs_eval_put(s, &e), LGS_ERR_NOTFOUND);

    lgs_model_row grown = model_row("m-grown", g.id, "tleg");
    CK_STATUS_E(lgs_model_put(s, &grown, NULL, 0, err, sizeof err), LGS_OK, err);
    ck_assert_msg(!grown.has_weights && !grown.sha256[0] && grown.size == 0 && grown.created > 0,
                  "a weightless model has no weights, sha256 or size, expected has_weights 0");

    size_t wlen = 100003;
    uint8_t *w = pattern(wlen, 3);
    lgs_model_row ft = model_row("m-ft", g.id, "finetune");
    snprintf(ft.parent, sizeof ft.parent, "m-grown");
    ft.accuracy = 0.9;
    ft.steps = 500;
    CK_STATUS_E(lgs_model_put(s, &ft, w, wlen, err, sizeof err), LGS_OK, err);
    lgs_sha256_hex(hex, w, wlen);
    ck_assert_msg(ft.has_weights && !strcmp(ft.sha256, hex) && ft.size == (int64_t)wlen,
                  "fine-tuned: has_weights %d sha256 %s size %lld, expected 1 %s %zu", ft.has_weights, ft.sha256,
                  (long long)ft.size, hex, wlen);

    lgs_model_row dup = model_row("m-ft", "", "scratch");
    CK_STATUS_E(lgs_model_put(s, &dup, w, wlen, err, sizeof err), LGS_ERR_EXISTS, err);
    ck_assert_msg(!dup.sha256[0] && !dup.has_weights, "a refused put leaves the row as given");
    lgs_model_row orphan = model_row("m-orphan", "beef", "tleg");
    CK_STATUS_E(lgs_model_put(s, &orphan, NULL, 0, err, sizeof err), LGS_ERR_NOTFOUND, err);
    lgs_model_row scratch = model_row("m-scratch", "", "scratch");
    CK_STATUS_E(lgs_model_put(s, &scratch, NULL, 0, err, sizeof err), LGS_OK, err);

    lgs_model_row got;
    CK_STATUS(lgs_model_get(s, "m-ft", &got), LGS_OK);
    ck_assert_msg(!strcmp(got.source, g.id) && !strcmp(got.parent, "m-grown") && !strcmp(got.method, "finetune") &&
                      got.accuracy == 0.9 && got.steps == 500 && got.flops == 1.5e7 && got.params == 12345 &&
                      !strcmp(got.spec, ft.spec) && !strcmp(got.config, ft.config) && !strcmp(got.sha256, hex) &&
                      !got.dataset[0] && !got.job[0],
                  "m-ft read back differently, expected the row as put");
    lgs_model_row_free(&got);
    CK_STATUS(lgs_model_get(s, "m-scratch", &got), LGS_OK);
    ck_assert_msg(!got.source[0] && isnan(got.accuracy), "scratch: source \"%s\" accuracy %g, expected \"\" and NaN",
                  got.source, got.accuracy);
    lgs_model_row_free(&got);

    uint8_t *back, chunk[777];
    size_t blen;
    CK_STATUS(lgs_model_bytes(s, "m-ft", &back, &blen), LGS_OK);
    ck_assert_msg(blen == wlen && !memcmp(back, w, wlen), "model bytes differ, expected the weights put");
    free(back);
    CK_STATUS(lgs_model_read(s, "m-ft", 99000, chunk, 777), LGS_OK);
    ck_assert_msg(!memcmp(chunk, w + 99000, 777), "model chunk at 99000 differs, expected the weights'");
    CK_STATUS(lgs_model_read(s, "m-ft", 99999, chunk, 5), LGS_ERR_INVALID);
    CK_STATUS(lgs_model_bytes(s, "m-grown", &back, &blen), LGS_ERR_NOTFOUND);
    CK_STATUS(lgs_model_read(s, "m-grown", 0, chunk, 1), LGS_ERR_NOTFOUND);

    strcpy(err, "");
    CK_STATUS_E(lgs_gene_delete(s, g.id, err, sizeof err), LGS_ERR_CONFLICT, err);
    ck_assert_msg(strstr(err, "m-ft") != NULL, "conflict message \"%s\", expected it to name m-ft", err);
    CK_STATUS_E(lgs_model_delete(s, "m-ft", err, sizeof err), LGS_OK, err);
    CK_STATUS_E(lgs_gene_delete(s, g.id, err, sizeof err), LGS_OK, err);
    CK_STATUS(lgs_model_get(s, "m-grown", &got), LGS_ERR_NOTFOUND);
    lgs_gene_row gone;
    CK_STATUS(lgs_gene_get(s, g.id, &gone), LGS_ERR_NOTFOUND);
    CK_STATUS(lgs_eval_list(s, NULL, &ev, &n), LGS_OK);
    ck_assert_msg(n == 0, "%d evaluations left, expected the delete to cascade", n);
    CK_STATUS(lgs_gene_delete(s, g.id, err, sizeof err), LGS_ERR_NOTFOUND);
    CK_STATUS(lgs_model_delete(s, "m-ft", err, sizeof err), LGS_ERR_NOTFOUND);

    lgs_model_row *rows;
    CK_STATUS(lgs_model_list(s, &rows, &n), LGS_OK);
    ck_assert_msg(n == 1 && !strcmp(rows[0].id, "m-scratch"), "%d models left, expected only m-scratch", n);
    lgs_model_row_free(&rows[0]);
    free(rows);

    /* An unfinished job starting from a model blocks both deletes. */
    lgs_gene_row_free(&g);
    g = put_file(s, TLEG_PATH, NULL);
    lgs_model_row m2 = model_row("m2", g.id, "tleg");
    CK_STATUS(lgs_model_put(s, &m2, NULL, 0, err, sizeof err), LGS_OK);
    job_put(s, "job-1", "m2", 10);
    CK_STATUS_E(lgs_gene_delete(s, g.id, err, sizeof err), LGS_ERR_CONFLICT, err);
    ck_assert_msg(strstr(err, "job-1") != NULL, "message \"%s\", expected it to name job-1", err);
    CK_STATUS_E(lgs_model_delete(s, "m2", err, sizeof err), LGS_ERR_CONFLICT, err);
    CK_STATUS(lgs_job_cancel(s, "job-1"), LGS_OK);
    CK_STATUS_E(lgs_gene_delete(s, g.id, err, sizeof err), LGS_OK, err);

    free(w);
    lgs_gene_row_free(&g);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

/* ------------------------------------------------------------ datasets */

START_TEST(test_datasets)
{
    tmp t;
    char err[512] = "", ip[512], lp[512], trainl[512], hex[65];
    size_t ilen, llen, rilen, rllen, tlen;
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    fmnist_path(ip, sizeof ip, "t10k", "images-idx3");
    fmnist_path(lp, sizeof lp, "t10k", "labels-idx1");
    fmnist_path(trainl, sizeof trainl, "train", "labels-idx1");
    uint8_t *gi = slurp(ip, &ilen), *gl = slurp(lp, &llen);
    ck_assert_msg(gi[0] == 0x1f && gi[1] == 0x8b, "%s is not gzip, expected the .gz the test sends", ip);

    lgs_dataset_row d, again;
    CK_STATUS_E(lgs_dataset_put(s, gi, ilen, gl, llen, "fmnist-test", &d, err, sizeof err), LGS_OK, err);
    ck_assert_msg(d.n == 10000 && d.c == 1 && d.h == 28 && d.w == 28 && d.classes == 10,
                  "shape %d×%d×%d×%d, %d classes, expected 10000×1×28×28, 10", d.n, d.c, d.h, d.w, d.classes);
    ck_assert_msg(!strcmp(d.name, "fmnist-test"), "name %s, expected fmnist-test", d.name);

    uint8_t *ri = read_core(ip, &rilen), *rl = read_core(lp, &rllen);
    ck_assert_msg(d.size == (int64_t)(rilen + rllen), "size %lld, expected the raw %zu bytes", (long long)d.size,
                  rilen + rllen);
    uint8_t *cat = malloc(rilen + rllen);
    ck_assert_msg(cat != NULL, "out of memory");
    memcpy(cat, ri, rilen);
    memcpy(cat + rilen, rl, rllen);
    lgs_sha256_hex(hex, cat, rilen + rllen);
    ck_assert_msg(!strcmp(d.id, hex), "id %s, expected sha256(images ‖ labels) %s", d.id, hex);
    free(cat);

    CK_STATUS_E(lgs_dataset_put(s, ri, rilen, rl, rllen, NULL, &again, err, sizeof err), LGS_ERR_EXISTS, err);
    ck_assert_msg(!strcmp(again.id, d.id) && !strcmp(again.name, "fmnist-test"),
                  "raw upload of the same set: id %s, expected the gzip upload's %s", again.id, d.id);
    CK_STATUS(lgs_dataset_get(s, d.id, &again), LGS_OK);
    ck_assert_msg(again.n == 10000 && again.created == d.created, "get: n %d, expected 10000", again.n);

    lg_dataset ds;
    CK_STATUS_E(lgs_dataset_load(s, d.id, LG_FMNIST_MEAN, LG_FMNIST_STD, &ds, err, sizeof err), LGS_OK, err);
    ck_assert_msg(ds.n == 10000 && ds.c == 1 && ds.h == 28 && ds.w == 28, "loaded %d rows of %d×%d×%d, expected 10000",
                  ds.n, ds.c, ds.h, ds.w);
    float want = ((float)ri[16 + 400] / 255.0f - LG_FMNIST_MEAN) / LG_FMNIST_STD;
    ck_assert_msg(ds.images[400] == want && ds.labels[9999] == rl[8 + 9999],
                  "pixel 400 %g label 9999 %d, expected %g and %d", (double)ds.images[400], ds.labels[9999],
                  (double)want, rl[8 + 9999]);
    lg_dataset_free(&ds);
    CK_STATUS(lgs_dataset_load(s, "nope", 0.5f, 0.5f, &ds, err, sizeof err), LGS_ERR_NOTFOUND);

    uint8_t *tl = slurp(trainl, &tlen);
    strcpy(err, "");
    CK_STATUS_E(lgs_dataset_put(s, gi, ilen, tl, tlen, NULL, &again, err, sizeof err), LGS_ERR_INVALID, err);
    ck_assert_msg(strstr(err, "10000 images but 60000 labels") != NULL, "message \"%s\", expected the counts", err);
    strcpy(err, "");
    CK_STATUS_E(lgs_dataset_put(s, gl, llen, gl, llen, NULL, &again, err, sizeof err), LGS_ERR_INVALID, err);
    ck_assert_msg(*err, "labels given as images refused without a message");
    strcpy(err, "");
    CK_STATUS_E(lgs_dataset_put(s, (const uint8_t *)"junk", 4, gl, llen, NULL, &again, err, sizeof err),
                LGS_ERR_INVALID, err);
    ck_assert_msg(*err, "junk refused without a message");
    printf("junk images: %s\n", err);

    CK_STATUS_E(
        lgs_dataset_put(s, tiny_img, sizeof tiny_img, tiny_lab, sizeof tiny_lab, "tiny", &again, err, sizeof err),
        LGS_OK, err);
    ck_assert_msg(again.n == 2 && again.c == 3 && again.h == 1 && again.w == 2 && again.classes == 5,
                  "4-dim IDX: %d×%d×%d×%d, %d classes, expected 2×3×1×2, 5", again.n, again.c, again.h, again.w,
                  again.classes);
    lgs_dataset_row *rows;
    int n;
    CK_STATUS(lgs_dataset_list(s, &rows, &n), LGS_OK);
    ck_assert_msg(n == 2 && !strcmp(rows[0].id, d.id), "%d datasets, expected 2, the first put first", n);
    free(rows);

    free(gi), free(gl), free(ri), free(rl), free(tl);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

/* ------------------------------------------------------------ jobs */

START_TEST(test_job_lifecycle)
{
    tmp t;
    char err[512] = "", hex[65];
    int64_t counts[LGS_JOB_STATES];
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    job_put(s, "j1", "m-base", 100);
    job_put(s, "j2", "m-base", 100);
    lgs_job_row j;
    memset(&j, 0, sizeof j);
    strcpy(j.id, "j1");
    strcpy(j.kind, "finetune");
    CK_STATUS(lgs_job_put(s, &j), LGS_ERR_EXISTS);
    CK_STATUS(lgs_job_counts(s, counts), LGS_OK);
    ck_assert_msg(counts[LGS_JOB_QUEUED] == 2 && counts[LGS_JOB_RUNNING] == 0, "%lld queued, expected 2",
                  (long long)counts[LGS_JOB_QUEUED]);

    CK_STATUS(lgs_job_claim(s, &j), LGS_OK);
    ck_assert_msg(!strcmp(j.id, "j1") && j.state == LGS_JOB_RUNNING && !strcmp(j.params, "{\"steps\":100}") &&
                      !strcmp(j.model, "m-base") && j.total_steps == 100 && isnan(j.loss) && isnan(j.accuracy),
                  "claimed %s in state %d, expected the oldest (j1) running as put", j.id, j.state);
    lgs_job_row_free(&j);

    CK_STATUS(lgs_job_progress(s, "j1", 10, 0.5), LGS_OK);
    j = job_get(s, "j1");
    ck_assert_msg(j.step == 10 && j.loss == 0.5, "step %lld loss %g, expected 10 and 0.5", (long long)j.step, j.loss);
    lgs_job_row_free(&j);
    CK_STATUS(lgs_job_progress(s, "j2", 1, 1.0), LGS_ERR_CONFLICT);
    CK_STATUS(lgs_job_progress(s, "jx", 1, 1.0), LGS_ERR_NOTFOUND);

    size_t clen = 5001, glen;
    uint8_t *ck = pattern(clen, 9), *got;
    int64_t step;
    CK_STATUS(lgs_job_checkpoint(s, "j1", 10, ck, clen), LGS_OK);
    CK_STATUS(lgs_job_checkpoint_get(s, "j1", &got, &glen, &step), LGS_OK);
    ck_assert_msg(glen == clen && !memcmp(got, ck, clen) && step == 10,
                  "checkpoint back: %zu bytes at step %lld, expected %zu at 10", glen, (long long)step, clen);
    free(got);
    CK_STATUS(lgs_job_checkpoint_get(s, "j2", &got, &glen, &step), LGS_ERR_NOTFOUND);
    ck_assert_msg(got == NULL && glen == 0 && step == 0, "no checkpoint gives NULL, 0, 0");
    CK_STATUS(lgs_job_checkpoint(s, "j2", 1, ck, clen), LGS_ERR_CONFLICT);

    CK_STATUS(lgs_job_cancel(s, "j1"), LGS_OK);
    j = job_get(s, "j1");
    ck_assert_msg(j.state == LGS_JOB_RUNNING && j.cancel_requested == 1 && j.checkpoint_step == 10,
                  "running job after cancel: state %d cancel_requested %d, expected running and 1", j.state,
                  j.cancel_requested);
    lgs_job_row_free(&j);
    CK_STATUS(lgs_job_cancel(s, "j2"), LGS_OK);
    j = job_get(s, "j2");
    ck_assert_msg(j.state == LGS_JOB_CANCELLED && j.error && !strcmp(j.error, "cancelled by request"),
                  "queued job after cancel: state %d error %s, expected cancelled by request", j.state,
                  j.error ? j.error : "(null)");
    lgs_job_row_free(&j);
    CK_STATUS(lgs_job_claim(s, &j), LGS_ERR_NOTFOUND);

    size_t wlen = 70001;
    uint8_t *w = pattern(wlen, 4);
    lgs_model_row res = model_row("m-result", "", "finetune");
    snprintf(res.parent, sizeof res.parent, "m-base");
    CK_STATUS_E(lgs_job_succeed(s, "j1", &res, w, wlen, 0.87, err, sizeof err), LGS_OK, err);
    j = job_get(s, "j1");
    ck_assert_msg(j.state == LGS_JOB_SUCCEEDED && !strcmp(j.result, "m-result") && j.accuracy == 0.87,
                  "succeeded job: state %d result %s accuracy %g, expected succeeded m-result 0.87", j.state, j.result,
                  j.accuracy);
    lgs_job_row_free(&j);
    lgs_model_row m;
    CK_STATUS(lgs_model_get(s, "m-result", &m), LGS_OK);
    lgs_sha256_hex(hex, w, wlen);
    ck_assert_msg(m.has_weights && !strcmp(m.sha256, hex) && !strcmp(m.job, "j1") && m.accuracy == 0.87,
                  "result model: has_weights %d sha256 %s job %s, expected 1 %s j1", m.has_weights, m.sha256, m.job,
                  hex);
    lgs_model_row_free(&m);
    CK_STATUS(lgs_model_bytes(s, "m-result", &got, &glen), LGS_OK);
    ck_assert_msg(glen == wlen && !memcmp(got, w, wlen), "result weights differ, expected the bytes given");
    free(got);

    CK_STATUS(lgs_job_cancel(s, "j1"), LGS_ERR_CONFLICT);
    CK_STATUS(lgs_job_fail(s, "j1", LGS_JOB_FAILED, "late"), LGS_ERR_CONFLICT);
    lgs_model_row res2 = model_row("m-result2", "", "finetune");
    CK_STATUS(lgs_job_succeed(s, "j1", &res2, w, wlen, 0.5, err, sizeof err), LGS_ERR_CONFLICT);
    CK_STATUS(lgs_model_get(s, "m-result2", &m), LGS_ERR_NOTFOUND);

    job_put(s, "j3", "m-base", 5);
    CK_STATUS(lgs_job_claim(s, &j), LGS_OK);
    lgs_job_row_free(&j);
    CK_STATUS(lgs_job_fail(s, "j3", LGS_JOB_RUNNING, "x"), LGS_ERR_INVALID);
    CK_STATUS(lgs_job_fail(s, "j3", LGS_JOB_FAILED, "out of memory"), LGS_OK);
    j = job_get(s, "j3");
    ck_assert_msg(j.state == LGS_JOB_FAILED && !strcmp(j.error, "out of memory"),
                  "failed job: state %d error %s, expected failed / out of memory", j.state, j.error);
    lgs_job_row_free(&j);

    /* A result id already taken: the state change rolls back too. */
    job_put(s, "j4", "m-base", 5);
    CK_STATUS(lgs_job_claim(s, &j), LGS_OK);
    lgs_job_row_free(&j);
    lgs_model_row taken = model_row("m-result", "", "finetune");
    CK_STATUS_E(lgs_job_succeed(s, "j4", &taken, w, wlen, 0.5, err, sizeof err), LGS_ERR_EXISTS, err);
    j = job_get(s, "j4");
    ck_assert_msg(j.state == LGS_JOB_RUNNING && !j.result[0], "j4 state %d after a refused success, expected running",
                  j.state);
    lgs_job_row_free(&j);

    CK_STATUS(lgs_job_counts(s, counts), LGS_OK);
    ck_assert_msg(counts[0] == 0 && counts[1] == 1 && counts[2] == 1 && counts[3] == 1 && counts[4] == 1,
                  "counts %lld %lld %lld %lld %lld, expected 0 1 1 1 1", (long long)counts[0], (long long)counts[1],
                  (long long)counts[2], (long long)counts[3], (long long)counts[4]);
    lgs_job_row *rows;
    int n;
    CK_STATUS(lgs_job_list(s, &rows, &n), LGS_OK);
    ck_assert_msg(n == 4 && !strcmp(rows[0].id, "j1") && !strcmp(rows[3].id, "j4"), "%d jobs listed, expected j1…j4",
                  n);
    for (int i = 0; i < n; i++) lgs_job_row_free(&rows[i]);
    free(rows);
    free(ck);
    free(w);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

/* The daemon dies with jobs running: on restart they go back to the queue
 * and keep their checkpoints; one whose cancellation was asked ends. */
START_TEST(test_job_requeue_after_crash)
{
    tmp t;
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    job_put(s, "a", "m", 100);
    job_put(s, "b", "m", 100);
    lgs_job_row j;
    CK_STATUS(lgs_job_claim(s, &j), LGS_OK);
    lgs_job_row_free(&j);
    CK_STATUS(lgs_job_claim(s, &j), LGS_OK);
    lgs_job_row_free(&j);
    size_t clen = 12345, glen;
    uint8_t *ck = pattern(clen, 5), *got;
    CK_STATUS(lgs_job_checkpoint(s, "a", 15, ck, clen), LGS_OK);
    CK_STATUS(lgs_job_progress(s, "a", 20, 0.25), LGS_OK);
    CK_STATUS(lgs_job_cancel(s, "b"), LGS_OK);
    lgs_close(s); /* the crash: nothing finished */

    s = store_open(t.db);
    int n = -1;
    CK_STATUS(lgs_job_requeue_running(s, &n), LGS_OK);
    ck_assert_msg(n == 1, "%d jobs requeued, expected 1", n);
    j = job_get(s, "a");
    ck_assert_msg(j.state == LGS_JOB_QUEUED && j.checkpoint_step == 15 && j.step == 15,
                  "a: state %d checkpoint_step %lld step %lld, expected queued, 15, 15", j.state,
                  (long long)j.checkpoint_step, (long long)j.step);
    lgs_job_row_free(&j);
    j = job_get(s, "b");
    ck_assert_msg(j.state == LGS_JOB_CANCELLED, "b: state %d, expected cancelled (its cancel was requested)", j.state);
    lgs_job_row_free(&j);
    int64_t step;
    CK_STATUS(lgs_job_checkpoint_get(s, "a", &got, &glen, &step), LGS_OK);
    ck_assert_msg(glen == clen && !memcmp(got, ck, clen) && step == 15, "checkpoint after requeue differs");
    free(got);
    CK_STATUS(lgs_job_claim(s, &j), LGS_OK);
    ck_assert_msg(!strcmp(j.id, "a") && j.checkpoint_step == 15, "claimed %s, expected a with its checkpoint", j.id);
    lgs_job_row_free(&j);
    CK_STATUS(lgs_job_requeue_running(s, &n), LGS_OK);
    ck_assert_msg(n == 1, "%d requeued the second time, expected 1", n);
    free(ck);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

/* Threads claiming from one store never get the same job twice. */
typedef struct {
    lgs_store *s;
    int claimed;
    char ids[64][65];
} claimer;

static void *claim_all(void *arg)
{
    claimer *c = arg;
    lgs_job_row j;
    while (c->claimed < 64 && lgs_job_claim(c->s, &j) == LGS_OK) {
        snprintf(c->ids[c->claimed++], 65, "%s", j.id);
        lgs_job_progress(c->s, j.id, 1, 0.1);
        lgs_job_row_free(&j);
    }
    return NULL;
}

START_TEST(test_job_claim_threads)
{
    tmp t;
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    for (int i = 0; i < 48; i++) {
        char id[16];
        snprintf(id, sizeof id, "job%02d", i);
        job_put(s, id, "m", 1);
    }
    claimer c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i].s = s;
        c[i].claimed = 0;
        ck_assert_msg(pthread_create(&th[i], NULL, claim_all, &c[i]) == 0, "pthread_create failed");
    }
    int total = 0, seen[48] = {0};
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += c[i].claimed;
        for (int k = 0; k < c[i].claimed; k++) seen[atoi(c[i].ids[k] + 3)]++;
    }
    ck_assert_msg(total == 48, "%d claims, expected 48", total);
    for (int i = 0; i < 48; i++) ck_assert_msg(seen[i] == 1, "job%02d claimed %d times, expected once", i, seen[i]);
    lgs_close(s);
    tmp_remove(&t);
}
END_TEST

/* ------------------------------------------------------------ backup */

START_TEST(test_backup)
{
    tmp t;
    char err[512] = "", dest[400], bad[400];
    tmp_make(&t);
    lgs_store *s = store_open(t.db);
    lgs_gene_row g = put_file(s, TLEG_PATH, "backed up");
    lgs_dataset_row d;
    CK_STATUS_E(lgs_dataset_put(s, tiny_img, sizeof tiny_img, tiny_lab, sizeof tiny_lab, "tiny", &d, err, sizeof err),
                LGS_OK, err);
    job_put(s, "jb", "m", 3);
    snprintf(dest, sizeof dest, "%s/backup.db", t.dir);
    CK_STATUS_E(lgs_backup(s, dest, err, sizeof err), LGS_OK, err);
    snprintf(bad, sizeof bad, "%s/missing/backup.db", t.dir);
    strcpy(err, "");
    CK_STATUS_E(lgs_backup(s, bad, err, sizeof err), LGS_ERR_DB, err);
    ck_assert_msg(strstr(err, bad) != NULL, "message \"%s\", expected it to name the destination", err);
    lgs_close(s);

    lgs_store *b = store_open(dest);
    lgs_gene_row bg;
    CK_STATUS(lgs_gene_get(b, g.id, &bg), LGS_OK);
    ck_assert_msg(!strcmp(bg.name, "backed up"), "backup row name %s, expected backed up", bg.name);
    uint8_t *bytes;
    size_t len, flen;
    uint8_t *file = read_core(TLEG_PATH, &flen);
    CK_STATUS(lgs_gene_bytes(b, g.id, &bytes, &len), LGS_OK);
    ck_assert_msg(len == flen && !memcmp(bytes, file, len), "backup bytes differ, expected the file");
    free(bytes);
    free(file);
    lgs_dataset_row bd;
    CK_STATUS(lgs_dataset_get(b, d.id, &bd), LGS_OK);
    lgs_job_row j = job_get(b, "jb");
    ck_assert_msg(j.state == LGS_JOB_QUEUED, "backup job state %d, expected queued", j.state);
    lgs_job_row_free(&j);
    ck_assert_msg(lgs_schema_version(b) == 1, "backup schema %d, expected 1", lgs_schema_version(b));
    lgs_gene_row_free(&bg);
    lgs_gene_row_free(&g);
    lgs_close(b);
    tmp_remove(&t);
}
END_TEST

/* ------------------------------------------------------------ corruption */

/* Removes a database file and what SQLite keeps next to it. */
static void db_remove(const char *path)
{
    char side[400];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

/* A closed database of a few tables and pages. */
static void populated_db(const char *path)
{
    char err[512] = "";
    lgs_store *s = store_open(path);
    lgs_gene_row g = put_file(s, TLEG_PATH, NULL);
    lgs_gene_row_free(&g);
    lgs_dataset_row d;
    CK_STATUS_E(lgs_dataset_put(s, tiny_img, sizeof tiny_img, tiny_lab, sizeof tiny_lab, "tiny", &d, err, sizeof err),
                LGS_OK, err);
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "job%d", i);
        job_put(s, id, "m", 10);
    }
    lgs_close(s);
    char side[400];
    snprintf(side, sizeof side, "%s-wal", path);
    ck_assert_msg(access(side, F_OK) != 0, "%s left after close, expected the WAL checkpointed away", side);
}

static void expect_refused(const char *path, const char *what)
{
    char err[512] = "";
    lgs_store *s = (lgs_store *)err;
    lgs_status st = lgs_open(&s, path, err, sizeof err);
    printf("%s: %s: %s\n", what, lgs_strerror(st), err);
    ck_assert_msg(st == LGS_ERR_CORRUPT || st == LGS_ERR_DB, "%s: got %s, expected CORRUPT or DB", what,
                  lgs_strerror(st));
    ck_assert_msg(s == NULL && *err, "%s: expected no store and a message", what);
}

START_TEST(test_corrupt_files)
{
    tmp t;
    tmp_make(&t);
    populated_db(t.db);
    size_t len;
    uint8_t *b = slurp(t.db, &len);
    ck_assert_msg(len > 16384, "database of %zu bytes, expected several pages", len);

    memset(b + 4096, 0xAB, 4096); /* garbage over page 2 */
    write_file(t.db, b, len);
    expect_refused(t.db, "page 2 overwritten");

    free(b);
    db_remove(t.db);
    populated_db(t.db);
    b = slurp(t.db, &len);
    memset(b + 100, 0xAB, 4096 - 100); /* the schema's b-tree page, header kept */
    write_file(t.db, b, len);
    expect_refused(t.db, "page 1 (the schema) overwritten");

    db_remove(t.db);
    populated_db(t.db);
    ck_assert_msg(truncate(t.db, (off_t)(len / 2 + 100)) == 0, "truncate failed: %s", strerror(errno));
    expect_refused(t.db, "truncated mid-page");

    memset(b, 'x', len);
    write_file(t.db, b, 8192);
    expect_refused(t.db, "not a database");
    free(b);
    tmp_remove(&t);
}
END_TEST

START_TEST(test_integrity_refusal)
{
    tmp t;
    char err[512] = "";
    tmp_make(&t);
    populated_db(t.db);
    /* A row that breaks a CHECK constraint, written behind the store's back. */
    raw_exec(t.db, "PRAGMA ignore_check_constraints = ON; UPDATE jobs SET state = 9 WHERE id = 'job3'");
    lgs_store *s = (lgs_store *)err;
    lgs_status st = lgs_open(&s, t.db, err, sizeof err);
    printf("bad CHECK: %s\n", err);
    ck_assert_msg(st == LGS_ERR_CORRUPT && s == NULL, "got %s, expected CORRUPT from integrity_check",
                  lgs_strerror(st));
    ck_assert_msg(strstr(err, "integrity_check") && strstr(err, "CHECK"),
                  "message \"%s\", expected it to quote integrity_check's complaint", err);

    raw_exec(t.db, "UPDATE jobs SET state = 0 WHERE id = 'job3'");
    lgs_close(store_open(t.db)); /* repaired: opens again */

    raw_exec(t.db, "PRAGMA user_version = 99");
    st = lgs_open(&s, t.db, err, sizeof err);
    printf("newer schema: %s\n", err);
    ck_assert_msg(st == LGS_ERR_CORRUPT && strstr(err, "newer"), "got %s (%s), expected CORRUPT naming a newer writer",
                  lgs_strerror(st), err);
    tmp_remove(&t);
}
END_TEST

static Suite *storage_suite(void)
{
    Suite *s = suite_create("storage");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_open_schema);
    tcase_add_test(tc, test_sha256_and_names);
    tcase_add_test(tc, test_gene_put_get);
    tcase_add_test(tc, test_gene_meta_escaping);
    tcase_add_test(tc, test_gene_read_chunks);
    tcase_add_test(tc, test_gene_invalid);
    tcase_add_test(tc, test_models_and_delete);
    tcase_add_test(tc, test_datasets);
    tcase_add_test(tc, test_job_lifecycle);
    tcase_add_test(tc, test_job_requeue_after_crash);
    tcase_add_test(tc, test_job_claim_threads);
    tcase_add_test(tc, test_backup);
    tcase_add_test(tc, test_corrupt_files);
    tcase_add_test(tc, test_integrity_refusal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return lg_test_run(storage_suite()); }
