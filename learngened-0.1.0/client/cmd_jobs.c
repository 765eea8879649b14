/* cmd_jobs.c - learngene jobs: the daemon's jobs as a table, one job, a job
 * followed through its event stream to its end (finetune --follow too),
 * or a job cancelled. Calls remote.h, http.h (lgc_events) and jansson only. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"

enum { J_FOLLOW = R_OWN, J_CANCEL };

static int job_finished(const json_t *job)
{
    const char *s = jstr(job, "state");
    return !strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled");
}

static void fmt_step(char *buf, size_t n, const json_t *j)
{
    snprintf(buf, n, "%.0f/%.0f", jnum(j, "step"), jnum(j, "total_steps"));
}

void jobs_print_table(const json_t *arr)
{
    table t = {.ncol = 8};
    table_row(&t, "JOB", "KIND", "STATE", "STEP", "LOSS", "ACCURACY", "MODEL", "RESULT");
    size_t i;
    json_t *j;
    json_array_foreach(arr, i, j)
    {
        char id[16], step[48], loss[16], acc[16], model[16], result[16];
        fmt_id(id, sizeof id, jstr(j, "id"));
        fmt_step(step, sizeof step, j);
        fmt_acc(loss, sizeof loss, jnum(j, "loss"));
        fmt_acc(acc, sizeof acc, jnum(j, "accuracy"));
        fmt_id(model, sizeof model, jstr(j, "model"));
        fmt_id(result, sizeof result, jstr(j, "result"));
        table_row(&t, id, jstr(j, "kind"), jstr(j, "state"), step, loss, acc, model, result);
    }
    table_print(&t);
    table_free(&t);
}

/* "running    step 120/400  loss 0.6100" */
static void print_progress(const json_t *job)
{
    char step[48], loss[16], acc[16];
    fmt_step(step, sizeof step, job);
    fmt_acc(loss, sizeof loss, jnum(job, "loss"));
    fmt_acc(acc, sizeof acc, jnum(job, "accuracy"));
    printf("%-10s step %s  loss %s%s%s\n", jstr(job, "state"), step, loss,
           isnan(jnum(job, "accuracy")) ? "" : "  accuracy ", isnan(jnum(job, "accuracy")) ? "" : acc);
    fflush(stdout);
}

/* 0 when the job succeeded, else 1 with its error on stderr. */
static int job_outcome(remote *r, const json_t *job)
{
    const char *state = jstr(job, "state"), *error = jstr(job, "error");
    if (!strcmp(state, "succeeded")) {
        if (!r->json) printf("job %s succeeded: model %s\n", jstr(job, "id"), jstr(job, "result"));
        return CLI_OK;
    }
    fprintf(stderr, "%s: job %s %s%s%s\n", r->who, jstr(job, "id"), state, *error ? ": " : "", error);
    return CLI_FAIL;
}

typedef struct {
    remote *r;
    json_t *last; /* the job as the last event showed it */
    int done;
} follower;

static int on_job_event(void *user, const char *event, const char *data)
{
    follower *f = user;
    if (!strcmp(event, "done")) return f->done = 1;
    json_t *job = strcmp(event, "progress") ? NULL : json_loads(data, JSON_REJECT_DUPLICATES, NULL);
    if (!job) return 0;
    if (f->r->json)
        remote_print_json(job, 1);
    else
        print_progress(job);
    json_decref(f->last);
    f->last = job;
    return 0;
}

/* Streams the job's events (a line each) until it finishes; the exit
 * status says how it ended. A stream that ends or breaks early (a daemon
 * restart: jobs survive those) is reopened, up to FOLLOW_TRIES times. */
enum { FOLLOW_TRIES = 10 };

int jobs_follow(remote *r, const char *id)
{
    follower f = {r, NULL, 0};
    int rc = CLI_OK;
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%.64s/events", id);
    for (int tries = 0; !f.done && !(f.last && job_finished(f.last)); tries++) {
        long status;
        lgc_status s;
        if (tries == FOLLOW_TRIES) {
            fprintf(stderr, "%s: gave up following job %s; it may still run (learngene jobs %s)\n", r->who, id, id);
            rc = CLI_FAIL;
            break;
        }
        if (tries) sleep(2);
        s = lgc_events(&r->conn, path, on_job_event, &f, &status, r->err, sizeof r->err);
        if (s == LGC_ERR_NET)
            fprintf(stderr, "%s: %s; reconnecting\n", r->who, r->err);
        else if (s != LGC_OK) {
            rc = remote_fail(r, s, status);
            break;
        }
    }
    json_decref(f.last);
    json_t *job = NULL;
    if (rc == CLI_OK && !(rc = remote_call_json(r, "GET", NULL, &job, NULL, "/v1/jobs/%.64s", id)))
        rc = job_outcome(r, job);
    json_decref(job);
    return rc;
}

static void print_time(const char *label, double t)
{
    char buf[64] = "-";
    time_t tt = (time_t)t;
    struct tm tm;
    if (!isnan(t) && localtime_r(&tt, &tm)) strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%-9s %s\n", label, buf);
}

static void print_job(const json_t *j)
{
    char step[48], loss[16], acc[16];
    fmt_step(step, sizeof step, j);
    fmt_acc(loss, sizeof loss, jnum(j, "loss"));
    fmt_acc(acc, sizeof acc, jnum(j, "accuracy"));
    printf("job       %s\nkind      %s\nstate     %s%s\n", jstr(j, "id"), jstr(j, "kind"), jstr(j, "state"),
           json_is_true(json_object_get(j, "cancel_requested")) && !job_finished(j) ? " (cancel requested)" : "");
    printf("step      %s (%.0f%%)\nloss      %s\naccuracy  %s\n", step, 100 * jnum(j, "progress"), loss, acc);
    printf("model     %s\nresult    %s\nerror     %s\n", jstr(j, "model"), *jstr(j, "result") ? jstr(j, "result") : "-",
           *jstr(j, "error") ? jstr(j, "error") : "-");
    print_time("created", jnum(j, "created"));
    print_time("updated", jnum(j, "updated"));
}

static const char jobs_help[] = "usage: learngene jobs [ID [--follow]] [--cancel ID] [--json]\n"
                                "Lists the daemon's jobs, shows job ID, follows it to its end (a progress line per\n"
                                "change; with --json a JSON object per line; exit status 1 when it fails or is\n"
                                "cancelled), or cancels job ID (a running job stops at its next step).\n"
                                "  --follow           stream the progress of job ID until it finishes\n"
                                "  --cancel ID        cancel job ID\n" REMOTE_HELP;

int cmd_jobs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, 0, J_FOLLOW}, {"cancel", required_argument, 0, J_CANCEL}, REMOTE_OPTIONS, {0, 0, 0, 0}};
    remote r = {.who = "learngene jobs"};
    const char *cancel = NULL, *id;
    int c, follow = 0, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (remote_option(&r, c, optarg)) continue;
        if (c == J_FOLLOW)
            follow = 1;
        else if (c == J_CANCEL)
            cancel = optarg;
        else
            return remote_help_or_usage(c, jobs_help);
    }
    id = optind < argc ? argv[optind] : NULL;
    if (argc - optind > 1 || (cancel && (id || follow)))
        return remote_usage_error(r.who, "give one job ID (optionally with --follow), or --cancel ID alone");
    if (follow && !id) return remote_usage_error(r.who, "--follow needs a job ID");
    if ((id && !remote_is_hex(id, 1)) || (cancel && !remote_is_hex(cancel, 1)))
        return remote_usage_error(r.who, "a job ID is hex, got '%s'", cancel ? cancel : id);
    if ((rc = remote_connect(&r))) return rc;
    json_t *j = NULL;
    if (cancel) {
        if (!(rc = remote_call_json(&r, "DELETE", NULL, &j, NULL, "/v1/jobs/%s", cancel)) && !r.json)
            printf("job %s: %s\n", jstr(j, "id"), job_finished(j) ? jstr(j, "state") : "cancel requested");
    } else if (id) {
        if (!(rc = remote_call_json(&r, "GET", NULL, &j, NULL, "/v1/jobs/%s", id)) && follow)
            rc = jobs_follow(&r, jstr(j, "id"));
        else if (!rc && !r.json)
            print_job(j);
    } else if (!(rc = remote_call_json(&r, "GET", NULL, &j, NULL, "/v1/jobs")) && !r.json)
        jobs_print_table(json_object_get(j, "jobs"));
    if (!rc && r.json && !follow) remote_print_json(j, 0);
    json_decref(j);
    lgc_conn_free(&r.conn);
    return rc;
}
