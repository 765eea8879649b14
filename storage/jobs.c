/* jobs.c - the jobs table: a durable queue of fine-tuning jobs. States go
 * queued → running → succeeded | failed | cancelled; a running job reports
 * progress and checkpoints, and a daemon that died leaves running jobs that
 * lgs_job_requeue_running puts back in the queue. Every state change that
 * reads before it writes runs in one BEGIN IMMEDIATE transaction; a success
 * stores the result model (models.c) in the same transaction.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define JOB_COLS                                                                                                       \
    "id, kind, state, params, model, result, step, total_steps, loss, accuracy, error, cancel_requested,"              \
    " checkpoint_step, created, updated"

static const char *const cancelled_by_request = "cancelled by request";

const char *lgs_job_state_name(lgs_job_state s)
{
    switch (s) {
    case LGS_JOB_QUEUED: return "queued";
    case LGS_JOB_RUNNING: return "running";
    case LGS_JOB_SUCCEEDED: return "succeeded";
    case LGS_JOB_FAILED: return "failed";
    case LGS_JOB_CANCELLED: return "cancelled";
    }
    return "unknown";
}

void lgs_job_row_free(lgs_job_row *r)
{
    if (!r) return;
    free(r->params);
    free(r->error);
    r->params = r->error = NULL;
}

static lgs_status job_fill(void *row, sqlite3_stmt *st)
{
    lgs_job_row *r = row;
    lgs_col_copy(r->id, sizeof r->id, st, 0);
    lgs_col_copy(r->kind, sizeof r->kind, st, 1);
    r->state = (lgs_job_state)sqlite3_column_int(st, 2);
    lgs_col_copy(r->model, sizeof r->model, st, 4);
    lgs_col_copy(r->result, sizeof r->result, st, 5);
    r->step = sqlite3_column_int64(st, 6);
    r->total_steps = sqlite3_column_int64(st, 7);
    r->loss = lgs_col_double(st, 8);
    r->accuracy = lgs_col_double(st, 9);
    r->cancel_requested = sqlite3_column_int(st, 11);
    r->checkpoint_step = sqlite3_column_int64(st, 12);
    r->created = sqlite3_column_int64(st, 13);
    r->updated = sqlite3_column_int64(st, 14);
    if (lgs_col_dup(&r->params, st, 3) || lgs_col_dup(&r->error, st, 10)) return LGS_ERR_NOMEM;
    return LGS_OK;
}

static void job_free_row(void *row) { lgs_job_row_free(row); }

static int finished(int state) { return state >= LGS_JOB_SUCCEEDED; }

/* ---------------------------------------------------------- helpers */

static lgs_status job_get_locked(lgs_store *s, const char *id, lgs_job_row *out)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", NULL, 0);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if ((r = job_fill(out, st)) != LGS_OK) lgs_job_row_free(out);
    } else {
        r = rc == SQLITE_DONE ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "job lookup");
    }
    lgs_finish(s, st);
    return r;
}

static lgs_status job_state_locked(lgs_store *s, const char *id, int *state, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st, "SELECT state FROM jobs WHERE id = ?1", err, errlen);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *state = sqlite3_column_int(st, 0);
    else
        r = rc == SQLITE_DONE ? lgs_fail(err, errlen, LGS_ERR_NOTFOUND, "no job %s", id)
                              : lgs_db_fail(s, err, errlen, "job lookup");
    lgs_finish(s, st);
    return r;
}

/* Sets a job's state, error and updated time (lock held). */
static lgs_status job_set_state(lgs_store *s, const char *id, int state, const char *error, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    lgs_status r =
        lgs_prepare(s, &st, "UPDATE jobs SET state = ?2, error = ?3, updated = ?4 WHERE id = ?1", err, errlen);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, state);
    lgs_bind_text(st, 3, error);
    sqlite3_bind_int64(st, 4, lgs_now());
    if (sqlite3_step(st) != SQLITE_DONE) r = lgs_db_fail(s, err, errlen, "cannot update the job");
    lgs_finish(s, st);
    return r;
}

/* Runs an UPDATE of a running job (?1 = id); NOTFOUND when there is no
 * such job, CONFLICT when it is not running. */
static lgs_status update_running(lgs_store *s, sqlite3_stmt *st, const char *id)
{
    int state;
    if (sqlite3_step(st) != SQLITE_DONE) return lgs_db_fail(s, NULL, 0, "job update");
    if (sqlite3_changes(s->db) > 0) return LGS_OK;
    lgs_status r = job_state_locked(s, id, &state, NULL, 0);
    return r != LGS_OK ? r : LGS_ERR_CONFLICT;
}

/* ---------------------------------------------------------- put / get */

lgs_status lgs_job_put(lgs_store *s, const lgs_job_row *r)
{
    sqlite3_stmt *st;
    if (!s || !r || !r->id[0] || !r->kind[0] || r->total_steps < 0) return LGS_ERR_INVALID;
    int64_t now = lgs_now();
    lgs_lock(s);
    lgs_status ret =
        lgs_prepare(s, &st,
                    "INSERT INTO jobs (id, kind, state, params, model, step, total_steps, created, updated)"
                    " VALUES (?1, ?2, 0, ?3, ?4, 0, ?5, ?6, ?6)",
                    NULL, 0);
    if (ret == LGS_OK) {
        lgs_bind_text(st, 1, r->id);
        lgs_bind_text(st, 2, r->kind);
        lgs_bind_text(st, 3, r->params);
        lgs_bind_opt_text(st, 4, r->model);
        sqlite3_bind_int64(st, 5, r->total_steps);
        sqlite3_bind_int64(st, 6, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            ret = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY ? LGS_ERR_EXISTS
                                                                                  : lgs_db_fail(s, NULL, 0, "job put");
        lgs_finish(s, st);
    }
    lgs_unlock(s);
    return ret;
}

lgs_status lgs_job_get(lgs_store *s, const char *id, lgs_job_row *out)
{
    char key[65];
    if (!s || !id || !out) return LGS_ERR_INVALID;
    int toolong = lgs_key(key, id);
    memset(out, 0, sizeof *out);
    if (toolong) return LGS_ERR_NOTFOUND;
    lgs_lock(s);
    lgs_status r = job_get_locked(s, key, out);
    lgs_unlock(s);
    return r;
}

/* Oldest first. No rows: *rows NULL, *n 0. */
lgs_status lgs_job_list(lgs_store *s, lgs_job_row **rows, int *n)
{
    return lgs_list(s, "SELECT " JOB_COLS " FROM jobs ORDER BY created, rowid", NULL, sizeof **rows, job_fill,
                    job_free_row, (void **)rows, n);
}

lgs_status lgs_job_counts(lgs_store *s, int64_t counts[LGS_JOB_STATES])
{
    sqlite3_stmt *st;
    int rc;
    if (!s || !counts) return LGS_ERR_INVALID;
    memset(counts, 0, LGS_JOB_STATES * sizeof counts[0]);
    lgs_lock(s);
    lgs_status r = lgs_prepare(s, &st, "SELECT state, count(*) FROM jobs GROUP BY state", NULL, 0);
    if (r == LGS_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int state = sqlite3_column_int(st, 0);
            if (state >= 0 && state < LGS_JOB_STATES) counts[state] = sqlite3_column_int64(st, 1);
        }
        if (rc != SQLITE_DONE) r = lgs_db_fail(s, NULL, 0, "job counts");
        lgs_finish(s, st);
    }
    lgs_unlock(s);
    return r;
}

/* ---------------------------------------------------------- the runner */

static lgs_status claim_locked(lgs_store *s, lgs_job_row *out)
{
    sqlite3_stmt *st = NULL;
    char id[65];
    lgs_status r = lgs_begin(s, NULL, 0);
    if (r != LGS_OK) return r;
    if ((r = lgs_prepare(s, &st, "SELECT id FROM jobs WHERE state = 0 ORDER BY created, rowid LIMIT 1", NULL, 0)))
        goto out;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "claim");
        goto out;
    }
    lgs_col_copy(id, sizeof id, st, 0);
    if ((r = job_set_state(s, id, LGS_JOB_RUNNING, NULL, NULL, 0)) != LGS_OK) goto out;
    if ((r = job_get_locked(s, id, out)) != LGS_OK) goto out;
    lgs_finish(s, st);
    if ((r = lgs_commit(s, NULL, 0)) != LGS_OK) lgs_job_row_free(out);
    return r;
out:
    lgs_finish(s, st);
    lgs_rollback(s);
    return r;
}

lgs_status lgs_job_claim(lgs_store *s, lgs_job_row *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!s || !out) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = claim_locked(s, out);
    lgs_unlock(s);
    return r;
}

/* CONFLICT when the job is not running. */
lgs_status lgs_job_progress(lgs_store *s, const char *id, int64_t step, double loss)
{
    sqlite3_stmt *st;
    if (!s || !id || step < 0) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r =
        lgs_prepare(s, &st, "UPDATE jobs SET step = ?2, loss = ?3, updated = ?4 WHERE id = ?1 AND state = 1", NULL, 0);
    if (r == LGS_OK) {
        lgs_bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, step);
        lgs_bind_opt_double(st, 3, loss);
        sqlite3_bind_int64(st, 4, lgs_now());
        r = update_running(s, st, id);
        lgs_finish(s, st);
    }
    lgs_unlock(s);
    return r;
}

/* One UPDATE (atomic) of a running job; bytes must be non-empty, step > 0. */
lgs_status lgs_job_checkpoint(lgs_store *s, const char *id, int64_t step, const uint8_t *bytes, size_t len)
{
    sqlite3_stmt *st;
    if (!s || !id || step <= 0 || !bytes || !len) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_prepare(s, &st,
                               "UPDATE jobs SET checkpoint = ?2, checkpoint_step = ?3, updated = ?4"
                               " WHERE id = ?1 AND state = 1",
                               NULL, 0);
    if (r == LGS_OK) {
        lgs_bind_text(st, 1, id);
        sqlite3_bind_int64(st, 3, step);
        sqlite3_bind_int64(st, 4, lgs_now());
        r = sqlite3_bind_blob64(st, 2, bytes, len, SQLITE_STATIC) == SQLITE_OK ? update_running(s, st, id)
                                                                               : LGS_ERR_INVALID;
        lgs_finish(s, st);
    }
    lgs_unlock(s);
    return r;
}

static lgs_status checkpoint_get_locked(lgs_store *s, const char *id, uint8_t **bytes, size_t *len, int64_t *step)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st, "SELECT checkpoint, checkpoint_step FROM jobs WHERE id = ?1", NULL, 0);
    if (r != LGS_OK) return r;
    lgs_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL) {
        r = rc == SQLITE_ROW || rc == SQLITE_DONE ? LGS_ERR_NOTFOUND : lgs_db_fail(s, NULL, 0, "checkpoint");
        goto out;
    }
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    const void *p = sqlite3_column_blob(st, 0);
    if (!p || !(*bytes = malloc(n))) {
        r = LGS_ERR_NOMEM;
        goto out;
    }
    memcpy(*bytes, p, n);
    *len = n;
    *step = sqlite3_column_int64(st, 1);
out:
    lgs_finish(s, st);
    return r;
}

/* NOTFOUND (with *bytes NULL, *len 0, *step 0) when the job does not exist
 * or has no checkpoint. */
lgs_status lgs_job_checkpoint_get(lgs_store *s, const char *id, uint8_t **bytes, size_t *len, int64_t *step)
{
    if (bytes) *bytes = NULL;
    if (len) *len = 0;
    if (step) *step = 0;
    if (!s || !id || !bytes || !len || !step) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = checkpoint_get_locked(s, id, bytes, len, step);
    lgs_unlock(s);
    return r;
}

/* ---------------------------------------------------------- endings */

static lgs_status succeed_locked(lgs_store *s, const char *id, const lgs_model_row *m, const uint8_t *bytes, size_t len,
                                 double accuracy, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int state;
    lgs_status r = lgs_begin(s, err, errlen);
    if (r != LGS_OK) return r;
    if ((r = job_state_locked(s, id, &state, err, errlen)) != LGS_OK) goto out;
    if (state != LGS_JOB_RUNNING) {
        r = lgs_fail(err, errlen, LGS_ERR_CONFLICT, "job %s is %s, not running", id,
                     lgs_job_state_name((lgs_job_state)state));
        goto out;
    }
    if ((r = lgs_model_insert(s, m, bytes, len, err, errlen)) != LGS_OK) goto out;
    if ((r = lgs_prepare(s, &st,
                         "UPDATE jobs SET state = 2, result = ?2, accuracy = ?3, error = NULL, updated = ?4"
                         " WHERE id = ?1",
                         err, errlen)) != LGS_OK)
        goto out;
    lgs_bind_text(st, 1, id);
    lgs_bind_text(st, 2, m->id);
    lgs_bind_opt_double(st, 3, accuracy);
    sqlite3_bind_int64(st, 4, lgs_now());
    if (sqlite3_step(st) != SQLITE_DONE) {
        r = lgs_db_fail(s, err, errlen, "cannot mark the job succeeded");
        goto out;
    }
    lgs_finish(s, st);
    return lgs_commit(s, err, errlen);
out:
    lgs_finish(s, st);
    lgs_rollback(s);
    return r;
}

/* result->job defaults to id and result->accuracy (when NaN) to accuracy;
 * on success result gets the computed fields like lgs_model_put. */
lgs_status lgs_job_succeed(lgs_store *s, const char *id, lgs_model_row *result, const uint8_t *bytes, size_t len,
                           double accuracy, char *err, size_t errlen)
{
    if (!s || !id || !result)
        return lgs_fail(err, errlen, LGS_ERR_INVALID, "lgs_job_succeed: store, id and result are required");
    lgs_model_row m = *result;
    if (!m.job[0]) lgs_copy_str(m.job, sizeof m.job, id);
    if (isnan(m.accuracy)) m.accuracy = accuracy;
    lgs_status r = lgs_model_prepare(&m, bytes, len, err, errlen);
    if (r != LGS_OK) return r;
    lgs_lock(s);
    r = succeed_locked(s, id, &m, bytes, len, accuracy, err, errlen);
    lgs_unlock(s);
    if (r == LGS_OK) *result = m;
    return r;
}

/* From queued or running; CONFLICT when already finished. */
lgs_status lgs_job_fail(lgs_store *s, const char *id, lgs_job_state state, const char *reason)
{
    int cur;
    if (!s || !id || (state != LGS_JOB_FAILED && state != LGS_JOB_CANCELLED)) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_begin(s, NULL, 0);
    if (r == LGS_OK && (r = job_state_locked(s, id, &cur, NULL, 0)) == LGS_OK)
        r = finished(cur) ? LGS_ERR_CONFLICT : job_set_state(s, id, (int)state, reason, NULL, 0);
    if (r == LGS_OK)
        r = lgs_commit(s, NULL, 0);
    else
        lgs_rollback(s);
    lgs_unlock(s);
    return r;
}

static lgs_status cancel_locked(lgs_store *s, const char *id)
{
    int state;
    lgs_status r = job_state_locked(s, id, &state, NULL, 0);
    if (r != LGS_OK) return r;
    if (finished(state)) return LGS_ERR_CONFLICT;
    if (state == LGS_JOB_QUEUED) return job_set_state(s, id, LGS_JOB_CANCELLED, cancelled_by_request, NULL, 0);
    sqlite3_stmt *st;
    if ((r = lgs_prepare(s, &st, "UPDATE jobs SET cancel_requested = 1, updated = ?2 WHERE id = ?1", NULL, 0)))
        return r;
    lgs_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, lgs_now());
    if (sqlite3_step(st) != SQLITE_DONE) r = lgs_db_fail(s, NULL, 0, "cancel");
    lgs_finish(s, st);
    return r;
}

lgs_status lgs_job_cancel(lgs_store *s, const char *id)
{
    if (!s || !id) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_begin(s, NULL, 0);
    if (r == LGS_OK) r = cancel_locked(s, id);
    if (r == LGS_OK)
        r = lgs_commit(s, NULL, 0);
    else
        lgs_rollback(s);
    lgs_unlock(s);
    return r;
}

/* Runs an UPDATE with ?1 = now and (when not NULL) ?2 = text; the number
 * of rows changed in *changed. */
static lgs_status update_now(lgs_store *s, const char *sql, const char *text, int *changed)
{
    sqlite3_stmt *st;
    lgs_status r = lgs_prepare(s, &st, sql, NULL, 0);
    if (r != LGS_OK) return r;
    sqlite3_bind_int64(st, 1, lgs_now());
    if (text) lgs_bind_text(st, 2, text);
    if (sqlite3_step(st) != SQLITE_DONE) r = lgs_db_fail(s, NULL, 0, "job update");
    *changed = sqlite3_changes(s->db);
    lgs_finish(s, st);
    return r;
}

/* Running jobs go back to the queue with step reset to their checkpoint's;
 * those whose cancellation was requested are cancelled instead (not
 * counted in *n). */
lgs_status lgs_job_requeue_running(lgs_store *s, int *n)
{
    int cancelled, requeued = 0;
    if (n) *n = 0;
    if (!s || !n) return LGS_ERR_INVALID;
    lgs_lock(s);
    lgs_status r = lgs_begin(s, NULL, 0);
    if (r == LGS_OK)
        r = update_now(s, "UPDATE jobs SET state = 4, error = ?2, updated = ?1 WHERE state = 1 AND cancel_requested",
                       cancelled_by_request, &cancelled);
    if (r == LGS_OK)
        r = update_now(s, "UPDATE jobs SET state = 0, step = checkpoint_step, updated = ?1 WHERE state = 1", NULL,
                       &requeued);
    if (r == LGS_OK)
        r = lgs_commit(s, NULL, 0);
    else
        lgs_rollback(s);
    if (r == LGS_OK) *n = requeued;
    lgs_unlock(s);
    return r;
}
