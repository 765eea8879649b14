/* grow.c - growing a model on the daemon, for get and finetune (remote.h):
 * the --depth/--budget/--variant/--init/--seed options, the body of the
 * POST /v1/models they make, and the report of what was grown. Calls
 * remote.h, jansson and cli.h's number parsing only. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

/* 1.2G, 300M, 5e8: a positive amount with an optional K, M, G or T suffix. */
static int parse_amount(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    const char *sfx = "KMGT", *p = *end ? strchr(sfx, toupper((unsigned char)*end)) : NULL;
    if (p) v *= pow(1e3, (double)(p - sfx + 1)), end++;
    if (errno || end == s || *end || !isfinite(v) || v <= 0) {
        fprintf(stderr, "learngene: %s must be a positive number with an optional K/M/G/T suffix, got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* 1 when code was a growing option, 0 when not, -1 on a bad value. */
int grow_option(grow_req *g, int code, const char *arg)
{
    switch (code) {
    case G_BUDGET:
    case G_FLOPS: return parse_amount(code == G_BUDGET ? "--budget" : "--flops", arg, &g->flops) ? -1 : 1;
    case G_PARAMS: return parse_amount("--params", arg, &g->params) ? -1 : 1;
    case G_DEPTH: return cli_long("--depth", arg, 1, LG_MAX_DEPTH, &g->depth) ? -1 : 1;
    case G_VARIANT: g->variant = arg; return 1;
    case G_SEED: g->has_seed = 1; return cli_long("--seed", arg, 0, 0x7fffffff, &g->seed) ? -1 : 1;
    case G_INIT:
        if (strcmp(arg, "tleg") && strcmp(arg, "inherit") && strcmp(arg, "stitch") && strcmp(arg, "scratch")) {
            fprintf(stderr, "learngene: --init must be tleg, inherit, stitch or scratch, got '%s'\n", arg);
            return -1;
        }
        g->init = arg;
        return 1;
    }
    return 0;
}

int grow_wanted(const grow_req *g) { return g->depth || g->flops > 0 || g->params > 0 || g->variant; }

/* Exactly one way of choosing the model; SOURCE needed except for a budget. */
int grow_check(const grow_req *g, const char *who, const char *source)
{
    int ways = (g->depth > 0) + (g->flops > 0 || g->params > 0) + (g->variant != NULL);
    if (ways != 1)
        return remote_usage_error(who, "give exactly one of --depth, --budget (--flops/--params) and --variant");
    if (!source && !(g->flops > 0 || g->params > 0))
        return remote_usage_error(who, "--depth and --variant need a SOURCE (a learngene or pool id or name)");
    return CLI_OK;
}

json_t *grow_body(const grow_req *g, const char *from)
{
    json_t *b = json_object();
    if (from) json_object_set_new(b, "from", json_string(from));
    if (g->depth) json_object_set_new(b, "depth", json_integer(g->depth));
    if (g->variant) json_object_set_new(b, "variant", json_string(g->variant));
    if (g->flops > 0 || g->params > 0) {
        json_t *budget = json_object();
        if (g->flops > 0) json_object_set_new(budget, "flops", json_real(g->flops));
        if (g->params > 0) json_object_set_new(budget, "params", json_real(g->params));
        json_object_set_new(b, "budget", budget);
    }
    if (g->classes) json_object_set_new(b, "classes", json_integer(g->classes));
    if (g->init) json_object_set_new(b, "init", json_string(g->init));
    if (g->has_seed) json_object_set_new(b, "seed", json_integer(g->seed));
    return b;
}

const char *const grow_sources[] = {"learngenes", "pools", NULL};

/* What the daemon grew, and why the solver chose it. */
void grow_print_model(const json_t *m)
{
    char src[16], flops[16], params[16];
    const json_t *spec = json_object_get(m, "spec"), *solver = json_object_get(m, "solver");
    const char *variant = jstr(spec, "variant");
    fmt_id(src, sizeof src, jstr(m, "source"));
    fmt_human(flops, sizeof flops, jnum(m, "flops"));
    fmt_human(params, sizeof params, jnum(m, "params"));
    printf("model     %s\n", jstr(m, "id"));
    printf("from      %s (%s%s%s)\n", src, jstr(m, "method"), *variant ? ", variant " : "", variant);
    printf("shape     depth %.0f, dim %.0f, %.0f classes\n", jnum(m, "depth"),
           jnum(json_object_get(m, "config"), "dim"), jnum(m, "classes"));
    printf("cost      %s FLOPs per image, %s parameters\n", flops, params);
    if (!isnan(jnum(m, "accuracy"))) printf("accuracy  %.4f\n", jnum(m, "accuracy"));
    if (solver) printf("solver    %s\n", jstr(solver, "reason"));
    fflush(stdout);
}
