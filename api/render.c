/* render.c - stored rows as the JSON objects of docs/api.md, and ids from
 * the path resolved to rows (full ids or unique prefixes). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

json_t *lga_json_column(const char *text)
{
    if (!text || !*text) return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static json_t *number_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

json_t *lga_gene_json(lgs_store *st, const lgs_gene_row *g)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "id", g->id, "kind", g->kind, "name", g->name, "params",
                          (json_int_t)g->params, "size", (json_int_t)g->size, "created", (json_int_t)g->created);
    if (!o) return NULL;
    json_t *meta = lga_json_column(g->meta), *config = lga_json_column(g->config);
    if (!strcmp(g->kind, "pool")) {
        json_object_set(o, "instances", config);
        json_t *variants = lga_pool_variants_json(st, g);
        json_object_set_new(o, "configurations", variants ? variants : json_array());
    } else {
        int lo = 0, hi = 0;
        lg_config base;
        lga_gene_depths(g, &base, &lo, &hi);
        json_object_set(o, "config", config);
        json_object_set_new(o, "depths", json_pack("[i,i]", lo, hi));
    }
    json_object_set(o, "meta", meta);
    json_decref(meta);
    json_decref(config);
    lgs_eval_row *ev = NULL;
    int n = 0;
    if (lgs_eval_list(st, g->id, &ev, &n) == LGS_OK) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:f}", "variant", ev[i].variant, "dataset", ev[i].dataset,
                                                 "accuracy", ev[i].accuracy));
        json_object_set_new(o, "evaluations", arr);
    }
    free(ev);
    return o;
}

json_t *lga_model_json(const lgs_model_row *m)
{
    json_t *config = lga_json_column(m->config);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:f,s:I,s:I,s:o,s:s,s:s,s:I,s:o,s:b,s:s,s:I,s:I}", "id", m->id,
                          "source", m->source, "parent", m->parent, "method", m->method, "depth",
                          (json_int_t)json_integer_value(json_object_get(config, "depth")), "config", config, "flops",
                          m->flops, "params", (json_int_t)m->params, "classes",
                          (json_int_t)json_integer_value(json_object_get(config, "classes")), "spec",
                          lga_json_column(m->spec), "dataset", m->dataset, "job", m->job, "steps", (json_int_t)m->steps,
                          "accuracy", number_or_null(m->accuracy), "stored", m->has_weights, "sha256", m->sha256,
                          "size", (json_int_t)m->size, "created", (json_int_t)m->created);
    return o;
}

json_t *lga_dataset_json(const lgs_dataset_row *d)
{
    return json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:I}", "id", d->id, "name", d->name, "n", d->n, "c", d->c, "h",
                     d->h, "w", d->w, "classes", d->classes, "size", (json_int_t)d->size, "created",
                     (json_int_t)d->created);
}

json_t *lga_job_json(const lgs_job_row *j)
{
    double progress = j->total_steps > 0 ? (double)j->step / (double)j->total_steps : 0;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:f,s:o,s:o,s:o,s:b,s:I,s:o,s:I,s:I}", "id", j->id, "kind", j->kind,
                     "state", lgs_job_state_name(j->state), "model", j->model, "result", j->result, "step",
                     (json_int_t)j->step, "total_steps", (json_int_t)j->total_steps, "progress", progress, "loss",
                     number_or_null(j->loss), "accuracy", number_or_null(j->accuracy), "error",
                     j->error ? json_string(j->error) : json_null(), "cancel_requested", j->cancel_requested,
                     "checkpoint_step", (json_int_t)j->checkpoint_step, "params", lga_json_column(j->params), "created",
                     (json_int_t)j->created, "updated", (json_int_t)j->updated);
}

/* ------------------------------------------------------------ id lookup */

int lga_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n < 8 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i])) return 0;
    return 1;
}

/* Finds the one row whose id starts with prefix among n rows of `size`
 * bytes with the id first; NOTFOUND / INVALID (ambiguous). */
static lgs_status pick_prefix(const void *rows, int n, size_t size, const char *prefix, int *which)
{
    size_t len = strlen(prefix);
    *which = -1;
    for (int i = 0; i < n; i++) {
        const char *id = (const char *)rows + (size_t)i * size;
        if (strncmp(id, prefix, len)) continue;
        if (*which >= 0) return LGS_ERR_INVALID;
        *which = i;
    }
    return *which >= 0 ? LGS_OK : LGS_ERR_NOTFOUND;
}

/* Generates lga_resolve_<what>: an exact get, else a prefix scan of the list. */
#define RESOLVE(what, row_t, get, list_call, row_free)                                                                 \
    lgs_status lga_resolve_##what(lga_server *s, const char *id, row_t *out)                                           \
    {                                                                                                                  \
        if (!lga_id_valid(id)) return LGS_ERR_NOTFOUND;                                                                \
        if (strlen(id) == 64) return get(s->store, id, out);                                                           \
        row_t *rows = NULL;                                                                                            \
        int n = 0, which;                                                                                              \
        lgs_status st = list_call;                                                                                     \
        if (st != LGS_OK) return st;                                                                                   \
        st = pick_prefix(rows, n, sizeof *rows, id, &which);                                                           \
        for (int i = 0; i < n; i++)                                                                                    \
            if (i != which || st != LGS_OK) row_free(&rows[i]);                                                        \
        if (st == LGS_OK) *out = rows[which];                                                                          \
        free(rows);                                                                                                    \
        return st;                                                                                                     \
    }

static void dataset_row_free(lgs_dataset_row *r) { (void)r; }

RESOLVE(gene, lgs_gene_row, lgs_gene_get, lgs_gene_list(s->store, NULL, &rows, &n), lgs_gene_row_free)
RESOLVE(model, lgs_model_row, lgs_model_get, lgs_model_list(s->store, &rows, &n), lgs_model_row_free)
RESOLVE(dataset, lgs_dataset_row, lgs_dataset_get, lgs_dataset_list(s->store, &rows, &n), dataset_row_free)
RESOLVE(job, lgs_job_row, lgs_job_get, lgs_job_list(s->store, &rows, &n), lgs_job_row_free)
