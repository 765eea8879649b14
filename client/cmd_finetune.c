/* cmd_finetune.c - learngene finetune: grows a model on the daemon (grow.c)
 * and queues a job fine-tuning it on one of the daemon's datasets; with
 * --follow streams the job to its end (cmd_jobs.c). Calls remote.h,
 * jansson and cli.h's number parsing only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

enum { F_DATASET = G_OWN, F_CLASSES, F_PER_CLASS, F_EPOCHS, F_STEPS, F_LR, F_BATCH, F_EVAL_DATASET, F_FOLLOW };

static const char finetune_help[] =
    "usage: learngene finetune [SOURCE] (--depth N | --budget N | --variant V) --dataset ID [OPTIONS]\n"
    "Grows a model from SOURCE (a learngene or pool id or name; with a budget and no\n"
    "SOURCE, the best of all) and queues a job fine-tuning it on a dataset of the daemon.\n"
    "Prints the job; with --follow streams its progress and exits 0 when it succeeded,\n"
    "1 when it failed or was cancelled. Interrupting --follow leaves the job running.\n" GROW_HELP
    "  --dataset ID       training set: a dataset id or name, e.g. fashion-mnist-train (required)\n"
    "  --classes LIST     train on these classes only, e.g. 5,6,7,8,9 (relabelled 0..n-1)\n"
    "  --per-class N      N training images per class (default: all)\n"
    "  --epochs N         passes over the data (default 1), or --steps N optimizer steps\n"
    "  --lr X             peak learning rate (default 1e-3)\n"
    "  --batch N          images per step (default 64)\n"
    "  --eval-dataset ID  where accuracy is measured (default: the matching test set)\n"
    "  --follow           stream the job's progress until it finishes\n" REMOTE_HELP;

/* The fine-tuning options, as given. */
typedef struct {
    const char *dataset, *classes, *eval_dataset;
    long per_class, epochs, steps, batch;
    double lr;
} finetune_req;

/* 1 when code was a fine-tuning option, 0 when not, -1 on a bad value. */
static int finetune_option(finetune_req *f, int code, const char *arg)
{
    switch (code) {
    case F_DATASET: f->dataset = arg; return 1;
    case F_EVAL_DATASET: f->eval_dataset = arg; return 1;
    case F_CLASSES: f->classes = arg; return 1;
    case F_PER_CLASS: return cli_long("--per-class", arg, 1, 1000000, &f->per_class) ? -1 : 1;
    case F_EPOCHS: return cli_long("--epochs", arg, 1, 1000, &f->epochs) ? -1 : 1;
    case F_STEPS: return cli_long("--steps", arg, 1, 10000000, &f->steps) ? -1 : 1;
    case F_BATCH: return cli_long("--batch", arg, 1, 1024, &f->batch) ? -1 : 1;
    case F_LR: return cli_double("--lr", arg, 1e-8, 1, &f->lr) ? -1 : 1;
    }
    return 0;
}

/* "5,6,7" as a JSON array, or NULL after a message. */
static json_t *class_list(const char *s)
{
    json_t *a = json_array();
    char *copy = strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); a && t; t = strtok_r(NULL, ",", &save)) {
        long v;
        if (cli_long("--classes", t, 0, LG_MAX_CLASSES - 1, &v)) {
            json_decref(a);
            a = NULL;
        } else
            json_array_append_new(a, json_integer(v));
    }
    free(copy);
    if (a && !json_array_size(a)) {
        fprintf(stderr, "learngene: --classes lists no class\n");
        json_decref(a);
        a = NULL;
    }
    return a;
}

/* The "finetune" object of the request, datasets resolved to ids. */
static int finetune_body(remote *r, const finetune_req *f, json_t **out)
{
    static const char *const datasets[] = {"datasets", NULL};
    char id[80];
    int rc;
    json_t *ft = json_object();
    *out = ft;
    if ((rc = remote_resolve(r, f->dataset, datasets, "dataset named", id, sizeof id))) return rc;
    json_object_set_new(ft, "dataset", json_string(id));
    if (f->eval_dataset) {
        if ((rc = remote_resolve(r, f->eval_dataset, datasets, "dataset named", id, sizeof id))) return rc;
        json_object_set_new(ft, "eval_dataset", json_string(id));
    }
    if (f->classes) {
        json_t *cls = class_list(f->classes);
        if (!cls) return CLI_USAGE;
        json_object_set_new(ft, "classes", cls);
    }
    if (f->per_class) json_object_set_new(ft, "per_class", json_integer(f->per_class));
    if (f->epochs) json_object_set_new(ft, "epochs", json_integer(f->epochs));
    if (f->steps) json_object_set_new(ft, "steps", json_integer(f->steps));
    if (f->batch) json_object_set_new(ft, "batch", json_integer(f->batch));
    if (f->lr > 0) json_object_set_new(ft, "lr", json_real(f->lr));
    return CLI_OK;
}

static void print_queued(const json_t *ans)
{
    const json_t *job = json_object_get(ans, "job"), *m = json_object_get(ans, "model");
    char id[16];
    fmt_id(id, sizeof id, jstr(m, "id"));
    printf("job       %s\nstate     %s (%.0f steps)\n", jstr(job, "id"), jstr(job, "state"), jnum(job, "total_steps"));
    printf("start     model %s (%s, depth %.0f, %.0f classes)\n", id, jstr(m, "method"), jnum(m, "depth"),
           jnum(m, "classes"));
    fflush(stdout);
}

int cmd_finetune(int argc, char **argv)
{
    static const struct option opts[] = {GROW_OPTIONS,
                                         {"dataset", required_argument, 0, F_DATASET},
                                         {"classes", required_argument, 0, F_CLASSES},
                                         {"per-class", required_argument, 0, F_PER_CLASS},
                                         {"epochs", required_argument, 0, F_EPOCHS},
                                         {"steps", required_argument, 0, F_STEPS},
                                         {"lr", required_argument, 0, F_LR},
                                         {"batch", required_argument, 0, F_BATCH},
                                         {"eval-dataset", required_argument, 0, F_EVAL_DATASET},
                                         {"follow", no_argument, 0, F_FOLLOW},
                                         REMOTE_OPTIONS,
                                         {0, 0, 0, 0}};
    remote r = {.who = "learngene finetune"};
    grow_req g = {0};
    finetune_req f = {0};
    int c, v, follow = 0, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (remote_option(&r, c, optarg)) continue;
        if (c == F_FOLLOW) {
            follow = 1;
            continue;
        }
        if (!(v = grow_option(&g, c, optarg))) v = finetune_option(&f, c, optarg);
        if (v < 0) return CLI_USAGE;
        if (!v) return remote_help_or_usage(c, finetune_help);
    }
    const char *arg = optind < argc ? argv[optind] : NULL;
    if (argc - optind > 1) return remote_usage_error(r.who, "one SOURCE at most");
    if ((rc = grow_check(&g, r.who, arg))) return rc;
    if (!f.dataset) return remote_usage_error(r.who, "--dataset is required");
    if (f.epochs && f.steps) return remote_usage_error(r.who, "give --epochs or --steps, not both");
    if ((rc = remote_connect(&r))) return rc;
    char from[80];
    json_t *body = NULL, *ft = NULL, *ans = NULL;
    if ((!arg || !(rc = remote_resolve(&r, arg, grow_sources, "learngene or pool named", from, sizeof from))) &&
        !(rc = finetune_body(&r, &f, &ft))) {
        body = grow_body(&g, arg ? from : NULL);
        json_object_set(body, "finetune", ft);
        rc = remote_call_json(&r, "POST", body, &ans, NULL, "/v1/models");
    }
    if (!rc && r.json)
        remote_print_json(ans, follow);
    else if (!rc)
        print_queued(ans);
    if (!rc && follow) rc = jobs_follow(&r, jstr(json_object_get(ans, "job"), "id"));
    json_decref(ft);
    json_decref(body);
    json_decref(ans);
    lgc_conn_free(&r.conn);
    return rc;
}
