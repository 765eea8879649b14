/* solver.c - the budget solver: given sources that grow models (learngenes),
 * their measured accuracies and a FLOPs / params budget with optional depth
 * and width bounds, the best configuration that fits, and why. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int within(int v, int lo, int hi) { return (lo <= 0 || v >= lo) && (hi <= 0 || v <= hi); }

static const lg_solver_eval *find_eval(const lg_solver_eval *ev, int nev, int source, int depth)
{
    const lg_solver_eval *best = NULL;
    for (int i = 0; i < nev; i++)
        if (ev[i].source == source && ev[i].depth == depth && (!best || ev[i].accuracy > best->accuracy)) best = &ev[i];
    return best;
}

lg_status lg_solve(lg_solution *out, const lg_solver_source *src, int nsrc, const lg_solver_eval *ev, int nev,
                   const lg_budget *b, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->source = -1;
    out->accuracy = NAN;
    if (b->max_flops <= 0 && b->max_params <= 0)
        return lg_fail(err, errlen, LG_ERR_INVALID, "the budget needs a FLOPs or a params limit");
    if (nsrc < 1) return lg_fail(err, errlen, LG_ERR_INVALID, "there is no learngene to grow a model from");
    int best_eval = 0;
    double small_flops = INFINITY;
    size_t small_params = 0;
    int small_src = -1, small_depth = 0;
    for (int s = 0; s < nsrc; s++) {
        if (!within(src[s].base.dim, b->min_dim, b->max_dim)) continue;
        for (int d = src[s].min_depth; d <= src[s].max_depth; d++) {
            if (!within(d, b->min_depth, b->max_depth)) continue;
            lg_config c = src[s].base;
            c.depth = d;
            if (lg_config_validate(&c, NULL, 0) != LG_OK) continue;
            double f = lg_config_flops(&c);
            size_t p = lg_config_params(&c);
            if (f < small_flops) small_flops = f, small_params = p, small_src = s, small_depth = d;
            if ((b->max_flops > 0 && f > b->max_flops) || (b->max_params > 0 && (double)p > b->max_params)) continue;
            out->considered++;
            const lg_solver_eval *e = find_eval(ev, nev, s, d);
            int better;
            if (e)
                better = !best_eval || e->accuracy > out->accuracy || (e->accuracy == out->accuracy && f < out->flops);
            else
                better = !best_eval && (out->source < 0 || f > out->flops);
            if (!better) continue;
            best_eval |= e != NULL;
            out->source = s, out->depth = d, out->flops = f, out->params = p;
            out->accuracy = e ? e->accuracy : NAN;
        }
    }
    if (out->source < 0) {
        if (small_src < 0)
            return lg_fail(err, errlen, LG_ERR_RANGE, "no learngene offers a depth and width within the bounds asked");
        return lg_fail(err, errlen, LG_ERR_RANGE,
                       "no configuration fits the budget; the smallest reachable is %.4g FLOPs and %zu params "
                       "(%s at depth %d)",
                       small_flops, small_params, src[small_src].id, small_depth);
    }
    if (best_eval)
        snprintf(out->reason, sizeof out->reason,
                 "highest measured accuracy (%.4f) among the %d configurations that fit the budget", out->accuracy,
                 out->considered);
    else
        snprintf(out->reason, sizeof out->reason,
                 "none of the %d configurations that fit has been evaluated; chose the largest (most FLOPs)",
                 out->considered);
    return LG_OK;
}
