/* cmd_ls.c - learngene ls: what the daemon holds (learngenes, pools,
 * models, datasets, jobs) as tables, or with --json as the daemon gave it.
 * Calls remote.h, jansson and the core (model configs, FLOPs) only. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "remote.h"

static void ls_learngenes(const json_t *arr)
{
    table t = {.ncol = 8};
    table_row(&t, "LEARNGENE", "KIND", "NAME", "DEPTHS", "DIM", "FLOPS", "PARAMS", "ACCURACY");
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        char id[16], depths[32] = "-", dim[16] = "-", flops[48] = "-", params[16], acc[16];
        const json_t *d = json_object_get(g, "depths");
        int lo = (int)json_integer_value(json_array_get(d, 0)), hi = (int)json_integer_value(json_array_get(d, 1));
        lg_config clo, chi;
        if (lo > 0 && hi >= lo) snprintf(depths, sizeof depths, "%d-%d", lo, hi);
        if (lo > 0 && !remote_json_config(&clo, g, lo) && !remote_json_config(&chi, g, hi)) {
            char a[16], b[16];
            fmt_human(a, sizeof a, lg_config_flops(&clo));
            fmt_human(b, sizeof b, lg_config_flops(&chi));
            snprintf(flops, sizeof flops, "%s-%s", a, b);
            snprintf(dim, sizeof dim, "%d", clo.dim);
        }
        double best = NAN;
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(g, "evaluations"), k, e)
        {
            double a = jnum(e, "accuracy");
            if (!isnan(a) && (isnan(best) || a > best)) best = a;
        }
        fmt_id(id, sizeof id, jstr(g, "id"));
        fmt_human(params, sizeof params, jnum(g, "params"));
        fmt_acc(acc, sizeof acc, best);
        table_row(&t, id, jstr(g, "kind"), jstr(g, "name"), depths, dim, flops, params, acc);
    }
    table_print(&t);
    table_free(&t);
}

/* A pool: one row per configuration, the pool's id and name on the first. */
static void ls_pools(const json_t *arr)
{
    table t = {.ncol = 8};
    table_row(&t, "POOL", "KIND", "NAME", "VARIANT", "DEPTH", "FLOPS", "PARAMS", "ACCURACY");
    size_t i, k;
    json_t *p, *c;
    json_array_foreach(arr, i, p)
    {
        char id[16];
        fmt_id(id, sizeof id, jstr(p, "id"));
        if (!json_array_size(json_object_get(p, "configurations")))
            table_row(&t, id, jstr(p, "kind"), jstr(p, "name"), "-", "-", "-", "-", "-");
        json_array_foreach(json_object_get(p, "configurations"), k, c)
        {
            char depth[16], flops[16], params[16], acc[16];
            snprintf(depth, sizeof depth, "%.0f", jnum(c, "depth"));
            fmt_human(flops, sizeof flops, jnum(c, "flops"));
            fmt_human(params, sizeof params, jnum(c, "params"));
            fmt_acc(acc, sizeof acc, jnum(c, "accuracy"));
            table_row(&t, k ? "" : id, k ? "" : jstr(p, "kind"), k ? "" : jstr(p, "name"), jstr(c, "variant"), depth,
                      flops, params, acc);
        }
    }
    table_print(&t);
    table_free(&t);
}

static void ls_models(const json_t *arr)
{
    table t = {.ncol = 10};
    table_row(&t, "MODEL", "METHOD", "SOURCE", "DEPTH", "DIM", "CLASSES", "FLOPS", "PARAMS", "ACCURACY", "STORED");
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        char id[16], src[16], depth[16], dim[16], classes[16], flops[16], params[16], acc[16];
        const json_t *cfg = json_object_get(m, "config");
        fmt_id(id, sizeof id, jstr(m, "id"));
        fmt_id(src, sizeof src, jstr(m, "source"));
        snprintf(depth, sizeof depth, "%.0f", jnum(m, "depth"));
        snprintf(dim, sizeof dim, "%.0f", jnum(cfg, "dim"));
        snprintf(classes, sizeof classes, "%.0f", jnum(m, "classes"));
        fmt_human(flops, sizeof flops, jnum(m, "flops"));
        fmt_human(params, sizeof params, jnum(m, "params"));
        fmt_acc(acc, sizeof acc, jnum(m, "accuracy"));
        table_row(&t, id, jstr(m, "method"), src, depth, dim, classes, flops, params, acc,
                  json_is_true(json_object_get(m, "stored")) ? "yes" : "no");
    }
    table_print(&t);
    table_free(&t);
}

static void ls_datasets(const json_t *arr)
{
    table t = {.ncol = 6};
    table_row(&t, "DATASET", "NAME", "IMAGES", "SHAPE", "CLASSES", "SIZE");
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        char id[16], n[16], shape[48], classes[16], size[16];
        fmt_id(id, sizeof id, jstr(d, "id"));
        snprintf(n, sizeof n, "%.0f", jnum(d, "n"));
        snprintf(shape, sizeof shape, "%.0fx%.0fx%.0f", jnum(d, "c"), jnum(d, "h"), jnum(d, "w"));
        snprintf(classes, sizeof classes, "%.0f", jnum(d, "classes"));
        fmt_human(size, sizeof size, jnum(d, "size"));
        strncat(size, "B", sizeof size - strlen(size) - 1);
        table_row(&t, id, jstr(d, "name"), n, shape, classes, size);
    }
    table_print(&t);
    table_free(&t);
}

static const struct {
    const char *name, *alias;
    void (*print)(const json_t *arr);
} collections[] = {
    {"learngenes", "learngene", ls_learngenes}, {"pools", "pool", ls_pools},       {"models", "model", ls_models},
    {"datasets", "dataset", ls_datasets},       {"jobs", "job", jobs_print_table},
};
enum { NCOLL = sizeof collections / sizeof *collections };

static const char ls_help[] =
    "usage: learngene ls [learngenes|pools|models|datasets|jobs]... [--json] [--url URL] [--token TOKEN]\n"
    "Lists what the daemon holds (default: learngenes, pools and models): ids (12 hex\n"
    "digits; any prefix of 8 or more works wherever an id is taken), kinds and methods,\n"
    "depths, FLOPs per image and parameters (K, M, G), and measured accuracy.\n" REMOTE_HELP;

int cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {REMOTE_OPTIONS, {0, 0, 0, 0}};
    remote r = {.who = "learngene ls"};
    int c, want[NCOLL] = {0}, nwant = 0, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        if (!remote_option(&r, c, optarg)) return remote_help_or_usage(c, ls_help);
    for (int a = optind; a < argc; a++) {
        int k = 0;
        while (k < NCOLL && strcmp(argv[a], collections[k].name) && strcmp(argv[a], collections[k].alias)) k++;
        if (k == NCOLL)
            return remote_usage_error(r.who, "unknown list '%s' (learngenes, pools, models, datasets, jobs)", argv[a]);
        nwant += !want[k];
        want[k] = 1;
    }
    if (!nwant) want[0] = want[1] = want[2] = 1, nwant = 3;
    if ((rc = remote_connect(&r))) return rc;
    json_t *all = json_object();
    for (int k = 0, printed = 0; k < NCOLL && rc == CLI_OK; k++) {
        json_t *j = NULL;
        if (!want[k] || (rc = remote_call_json(&r, "GET", NULL, &j, NULL, "/v1/%s", collections[k].name))) continue;
        json_t *arr = json_object_get(j, collections[k].name);
        if (r.json)
            json_object_set_new(all, collections[k].name, json_is_array(arr) ? json_incref(arr) : json_array());
        else {
            if (printed++) printf("\n");
            collections[k].print(arr);
        }
        json_decref(j);
    }
    if (rc == CLI_OK && r.json) remote_print_json(all, 0);
    json_decref(all);
    lgc_conn_free(&r.conn);
    return rc;
}
